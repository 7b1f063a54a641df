"""Score any system's predictions the way the XTREME / XTREME-R leaderboard does, and export a
study's predictions in that layout.

- :mod:`.layout` reads the leaderboard files (``<task>/test-<lang>.<ext>``) with errors that
  name the file and line;
- :mod:`.official` is the per-task table: file suffix, reader, metric, benchmark languages;
- :mod:`.score` walks a prediction and a label folder and averages over languages;
- :mod:`.export` writes a study's stored predictions (and gold) in the same layout.
"""

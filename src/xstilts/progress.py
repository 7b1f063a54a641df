"""Progress bars that stay readable when output goes to a file.

On a terminal a bar redraws in place; in a log file (``nohup``, CI, a cluster job) every redraw
is appended, and a training run of a few minutes wrote megabytes of bars. Off a terminal the
bars therefore refresh at most every :data:`FILE_REFRESH_SECONDS` seconds.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

FILE_REFRESH_SECONDS = 30.0


def progress_bar(iterable: Any = None, **kwargs: Any) -> tqdm:
    """``tqdm`` with a slow refresh when stderr is not a terminal (see the module docstring)."""
    if not sys.stderr.isatty():
        kwargs.setdefault("mininterval", FILE_REFRESH_SECONDS)
    return tqdm(iterable, **kwargs)

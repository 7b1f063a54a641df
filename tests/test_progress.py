"""Progress bars written to a file (nohup, CI) refresh rarely instead of at every step."""

from __future__ import annotations

import io

import pytest

from xstilts.progress import progress_bar


def test_bar_off_a_terminal_redraws_rarely(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())  # stderr redirected to a file
    out = io.StringIO()
    bar = progress_bar(total=2000, file=out, desc="phase 3")
    for step in range(2000):
        bar.set_postfix(loss=f"{1 / (step + 1):.3f}", refresh=False)
        bar.update(1)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") <= 3  # first draw + final draw, not one per step
    assert "2000/2000" in text and "loss=" in text

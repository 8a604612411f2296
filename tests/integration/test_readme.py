"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert BLOCKS


#: A block that opens with this comment talks to servers at made-up addresses:
#: it is compiled (so it stays valid Python) but not run.
NEEDS_SERVERS = "# needs servers"


def test_quick_start_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples create files in the working folder
    for block in BLOCKS:
        code = compile(block, str(README), "exec")
        if not block.startswith(NEEDS_SERVERS):
            exec(code, {})  # our own docs
    out = capsys.readouterr().out
    assert "stage! high-roller" in out
    assert "[('high-roller', 1200, 2500)]" in out
    assert "ends 2026-11-24 04:00:00+01:00" in out
    assert "today 1" in out


def test_most_examples_run():
    assert any(not b.startswith(NEEDS_SERVERS) for b in BLOCKS)

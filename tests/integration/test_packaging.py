"""The built wheel ships what users need (py.typed, every package)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_contents(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("dictrack-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "dictrack/py.typed" in names
    for package in ROOT.joinpath("dictrack").rglob("__init__.py"):
        assert package.relative_to(ROOT).as_posix() in names
    assert not any(name.startswith("tests/") for name in names)

"""The ``dictrack`` command line and its demo."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dictrack import __version__
from dictrack.cli import main


def test_demo_tells_the_story(capsys, tmp_path):
    db = tmp_path / "demo.sqlite3"
    assert main(["demo", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert f"SQLite store at {db}" in out
    for line in (
        "event EVENT_TRACKER_ADDED: high-roller: 0/1000 (stage 1 of 3)",
        "event EVENT_TRACKER_RESET: high-roller: 1200/2500 (stage 2 of 3)",
        "event EVENT_TRACKER_STAGE_COMPLETED: high-roller: 1200/1000 (stage 1 of 3)",
        "event EVENT_TRACKER_ALL_COMPLETED: daily-login: 1/1",
        "event EVENT_TRACKER_LIMITED: spin-streak: 2/3",
        "duplicate=True",
        "alice high-roller: 3200/5000 (stage 3 of 3)",
    ):
        assert line in out
    assert db.exists()


def test_demo_output_is_the_same_every_run(capsys, tmp_path):
    main(["demo", "--db", str(tmp_path / "a.db")])
    first = capsys.readouterr().out.replace(str(tmp_path / "a.db"), "DB")
    main(["demo", "--db", str(tmp_path / "b.db")])
    second = capsys.readouterr().out.replace(str(tmp_path / "b.db"), "DB")
    assert first == second


def test_demo_defaults_to_a_temporary_file(capsys):
    assert main(["demo"]) == 0
    assert "dictrack-demo-" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dictrack {__version__}"


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    assert "required" in capsys.readouterr().err


def test_python_dash_m(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dictrack",
            "-v",
            "demo",
            "--db",
            str(tmp_path / "m.db"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "where everyone stands" in done.stdout

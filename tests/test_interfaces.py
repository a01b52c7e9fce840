"""The command line's stable interfaces: the schemas themselves, ``--version``, the progress
count, and ``serve``'s refusals. Real ``ingest``, ``status`` and ``query`` output is validated
against ``docs/schemas/`` in ``tests/test_cli.py`` (one ingest serves both).
"""

from __future__ import annotations

import datetime as dt
import io
import tomllib
import zipfile
from pathlib import Path

import jsonschema
import pytest

from pipelines.cli import main
from tests.clinic_factory import CLIENT
from tests.json_schemas import validate

ROOT = Path(__file__).resolve().parents[1]
SECRET = "interfaces-test-secret-16"


def test_the_schemas_refuse_the_shapes_issue_18_found() -> None:
    """The schemas can fail: the pre-contract shapes do not pass them."""
    old_ingest = {"files_seen": 1, "ingested": 1}  # no schema_version
    with pytest.raises(jsonschema.ValidationError):
        validate(old_ingest, "ingest")
    old_status = {
        "schema_version": 1,
        "files": {"quarantined": 1},
        "reasons": [{"outcome": "quarantined", "reason_code": "x", "reason_message": "", "len": 1}],
        "per_client": [],
        "activities": 0,
        "clients": 0,
        "runs": [],
        "open_problems": None,
        "erasures": [],
    }
    with pytest.raises(jsonschema.ValidationError):
        validate(old_status, "status")
    with pytest.raises(jsonschema.ValidationError):
        validate({"a": 1}, "query")  # an object per line is not the array


def test_version_is_the_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"mindmiles {declared}"


def test_progress_counts_archive_members_from_the_start(tmp_path: Path) -> None:
    from pipelines.run import ParseJob, run_ingest
    from pipelines.settings import Settings

    inbox = tmp_path / "inbox"
    folder = inbox / CLIENT
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "export.zip", "w") as archive:
        archive.writestr("export/", "")  # a folder entry: not a file
        for name in ("a.txt", "b.txt", "c.txt"):
            archive.writestr(f"export/{name}", "not a workout")
    (folder / "loose.txt").write_text("not a workout either")
    settings = Settings.from_options(
        inbox=inbox,
        warehouse=tmp_path / "warehouse",
        environ={"MINDMILES_SECRET": SECRET, "MINDMILES_KEY_FILE": str(tmp_path / "key")},
        settle_seconds=0.0,
    )
    calls: list[tuple[int, int]] = []
    run_ingest(settings, progress=lambda done, total: calls.append((done, total)))
    # three zip members and one loose file: four, known before anything is parsed
    assert calls[0] == (0, 4)
    assert calls[-1] == (4, 4)
    assert all(total == 4 for _, total in calls)

    from pipelines.cli import _ProgressBar

    bar = _ProgressBar(io.StringIO())
    bar.run_progress(0, 4)
    bar.job_done(ParseJob("export.zip", "c", "s", 1, "zip", members=3))
    assert (bar.progress.tasks[0].completed, bar.progress.tasks[0].total) == (3, 4)
    bar.run_progress(4, 4)
    assert bar.progress.tasks[0].completed == 4


def test_serve_refuses_a_bad_timezone_or_cron_in_one_line_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    base = ["serve", "--inbox", str(inbox), "--warehouse", str(tmp_path / "warehouse")]
    started = dt.datetime.now(dt.UTC)
    assert main([*base, "--timezone", "Europe/Londn"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Europe/Londn is not an IANA timezone" in err
    assert main([*base, "--cron", "0 25 * * *"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'0 25 * * *' is not a cron schedule" in err
    assert not (tmp_path / "warehouse").exists()  # nothing started, nothing written
    assert dt.datetime.now(dt.UTC) - started < dt.timedelta(seconds=30)

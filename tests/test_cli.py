"""The command line, in-process (``main(argv) -> int``), on a tiny clinic.

JSON output is checked against the documented schemas in ``docs/schemas/`` (tests/json_schemas.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli import main
from tests.clinic_factory import CLIENT, SENTINEL_NOTE, SERIAL, make_small_clinic
from tests.json_schemas import keys, validate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clinic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    make_small_clinic(inbox)
    monkeypatch.setenv("MINDMILES_SECRET", "test-secret-of-sixteen-bytes")
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(tmp_path / "key"))
    return inbox, warehouse


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_ingest_json_summary(clinic: tuple[Path, Path]) -> None:
    """Also: files copied a moment ago are waited for, not deferred (issue 18), and logged."""
    inbox, warehouse = clinic
    for path in (inbox / CLIENT).iterdir():
        os.utime(path)  # copied just now
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code, out = run(
            "ingest",
            "--inbox",
            str(inbox),
            "--warehouse",
            str(warehouse),
            "--json",
            "--settle-seconds",
            "2",
            "--engine",
            "local",
        )
    assert code == 0
    assert "file(s) still being copied; waiting up to 2 s" in err.getvalue()
    summary = json.loads(out)
    validate(summary, "ingest")
    assert summary["schema_version"] == 1
    # two FIT runs, one journal and one plan: four files, all taken in, two activities.
    assert summary["files_seen"] == 4
    assert summary["ingested"] == 4
    assert summary["quarantined"] == summary["deferred"] == summary["duplicates"] == 0
    assert summary["activities"] == 2
    assert summary["clients_without_roster"] == 0
    assert sorted(p.name for p in (inbox / "_processed" / CLIENT).iterdir()) == [
        "journal.csv",
        "plan.csv",
        "run0.fit",
        "run1.fit",
    ]
    log = warehouse / ".state" / "logs" / "mindmiles.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert "run finished: 4 files seen, 4 ingested" in log.read_text()
    assert CLIENT not in log.read_text()


def test_second_run_changes_nothing(clinic: tuple[Path, Path]) -> None:
    inbox, warehouse = clinic
    args = (
        "ingest",
        "--inbox",
        str(inbox),
        "--warehouse",
        str(warehouse),
        "--settle-seconds",
        "0",
        "--engine",
        "local",
    )
    assert run(*args)[0] == 0
    before = {p.relative_to(warehouse): p.read_bytes() for p in warehouse.rglob("*.parquet")}
    code, out = run(*args, "--json")
    assert code == 0
    assert json.loads(out)["files_seen"] == 0
    after = {p.relative_to(warehouse): p.read_bytes() for p in warehouse.rglob("*.parquet")}
    assert after == before


def test_derived_tables_and_privacy(clinic: tuple[Path, Path]) -> None:
    inbox, warehouse = clinic
    assert (
        run(
            "ingest",
            "--inbox",
            str(inbox),
            "--warehouse",
            str(warehouse),
            "--settle-seconds",
            "0",
            "--engine",
            "local",
        )[0]
        == 0
    )
    week = pl.read_delta(str(warehouse / "weekly_adherence"))
    # plan: 2 sessions / 50 min in the week of 2026-03-02; done: 30 + 20 min -> 100 %, green.
    row = week.filter(pl.col("week_start") == pl.date(2026, 3, 2)).row(0, named=True)
    assert (row["planned_sessions"], row["completed_sessions"]) == (2, 2)
    assert row["band"] == "green"
    run_journal = pl.read_delta(str(warehouse / "run_journal")).sort("activity_id")
    assert run_journal["post_found"].to_list() == [True, True]
    assert sorted(run_journal["mood_change"].to_list()) == [2.0, 2.0]  # 4 -> 6 and 5 -> 7
    # The note, the client code and the watch serial number are in no analyst table.
    for path in warehouse.rglob("*.parquet"):
        if "restricted" in path.resolve().parts or "journal_notes" in str(path.resolve()):
            continue
        raw = path.read_bytes()
        for secret_text in (SENTINEL_NOTE.encode(), CLIENT.encode(), str(SERIAL).encode()):
            assert secret_text not in raw, path
    notes = pl.read_delta(str(warehouse / "restricted" / "journal_notes"))
    assert notes["note"].to_list() == [SENTINEL_NOTE]


def test_status_and_query(clinic: tuple[Path, Path]) -> None:
    inbox, warehouse = clinic
    (inbox / CLIENT / "empty.fit").write_bytes(b"")
    (inbox / CLIENT / "export.fit.part").write_bytes(b"half a file")
    code, out = run(
        "ingest",
        "--inbox",
        str(inbox),
        "--warehouse",
        str(warehouse),
        "--settle-seconds",
        "0",
        "--engine",
        "local",
    )
    assert code == 0
    assert "1 file(s) deferred: still being copied" in out  # says to run again
    code, out = run("status", "--warehouse", str(warehouse))
    assert code == 0
    assert "Activities held: 2 for 1 client(s)." in out
    code, out = run("status", "--warehouse", str(warehouse), "--inbox", str(inbox), "--json")
    assert code == 0
    status = json.loads(out)
    validate(status, "status")
    assert status["open_problems"]["quarantined"] == {CLIENT: 1}  # the empty file, not handled
    assert status["schema_version"] == 1
    assert "len" not in keys(status)  # issue 18: a key literally named "len"
    assert [(r["reason_code"], r["count"]) for r in status["reasons"]] == [("empty_file", 1)]
    code, out = run(
        "query",
        "--warehouse",
        str(warehouse),
        "--format",
        "csv",
        "select count(*) as n from activities",
    )
    assert code == 0
    assert out.splitlines() == ["n", "2"]
    sql = "select sport, local_date, distance_m > 0 as moved from activities order by local_date"
    code, out = run("query", "--warehouse", str(warehouse), "--format", "json", sql)
    assert code == 0
    rows = json.loads(out)
    validate(rows, "query")
    # the two runs of the tiny clinic: 3 and 5 March 2026 (tests/clinic_factory.py)
    assert rows == [
        {"sport": "running", "local_date": "2026-03-03", "moved": True},
        {"sport": "running", "local_date": "2026-03-05", "moved": True},
    ]
    code, out = run("query", "--warehouse", str(warehouse), "--format", "ndjson", sql)
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == rows
    # `mindmiles query ... | head`: the reader goes away (before the first line: a pipe's buffer
    # may hold a whole small result); no BrokenPipeError traceback, exit 141 as after a SIGPIPE
    command = [sys.executable, "-m", "pipelines.cli", "query", "--warehouse", str(warehouse)]
    process = subprocess.Popen(
        [*command, "select * from range(1000)"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141, err
    assert "Traceback" not in err


def test_missing_warehouse_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MINDMILES_WAREHOUSE", raising=False)
    monkeypatch.delenv("MINDMILES_INBOX", raising=False)
    code, _ = run("ingest", "--inbox", "x")
    assert code == 1
    assert "no warehouse given" in capsys.readouterr().err

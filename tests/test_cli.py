"""The command line, in-process (``main(argv) -> int``), on a tiny clinic."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.cli import main
from tests.clinic_factory import CLIENT, SENTINEL_NOTE, SERIAL, make_small_clinic


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
    inbox, warehouse = clinic
    code, out = run(
        "ingest",
        "--inbox",
        str(inbox),
        "--warehouse",
        str(warehouse),
        "--json",
        "--settle-seconds",
        "0",
        "--engine",
        "local",
    )
    assert code == 0
    summary = json.loads(out)
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
    )
    code, out = run("status", "--warehouse", str(warehouse))
    assert code == 0
    assert "Activities held: 2 for 1 client(s)." in out
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


def test_missing_warehouse_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MINDMILES_WAREHOUSE", raising=False)
    monkeypatch.delenv("MINDMILES_INBOX", raising=False)
    code, _ = run("ingest", "--inbox", "x")
    assert code == 1
    assert "no warehouse given" in capsys.readouterr().err

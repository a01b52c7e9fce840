"""Planted sentinels never leave the inbox: not in analyst tables, Parquet metadata, notes, logs
or what Prefect stores.

Sentinels: a client code, a watch serial number, a journal note, and the home location where
every run starts (its coordinates as text, and any position within 200 m of it).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import polars as pl
import pytest

from clinic.journal_csv import CLINIC_TEMPLATE_COLUMNS
from pipelines.flows import ingest_flow
from synthetic.run_model import simulate_run, write_run_fit
from tests.conftest import files_under, meters_apart

pytestmark = pytest.mark.prefect

CODE = "ZQSENTINEL77"
SERIAL = 3_987_654_321
NOTE = "NOTESENTINEL the bridge at dawn"
HOME = (52.0123, 4.3456)
ROSTER = (
    f"client_code,sex,birth_year,hr_rest,hr_max,timezone\n{CODE},x,1988,56,188,Europe/Amsterdam\n"
)
JOURNAL = (
    "timestamp,kind,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe,notes\n"
    f"2026-04-01T07:50:00+02:00,post_run,6,3,3,6,,,4,{NOTE}\n"
)


TYPED = "TYPEDSENTINEL my ex moved back to town"
"""A sentence typed into every journal and plan column in turn (issue 15): it may reach only
``restricted/`` (a journal note), ``_processed`` and ``_quarantine`` (the files themselves)."""
TEMPLATE = CLINIC_TEMPLATE_COLUMNS
"""The clinic journal template's columns, each given the sentence in turn."""
VALID = ("", "post_run", "6", "3", "3", "6", "7", "3", "4", "")
PLAN_COLUMNS = ("week_start", "sessions", "minutes", "session_type", "notes")
PLAN_VALID = ("", "2", "50", "easy", "")


def _typed_journal() -> str:
    """One row per column, the sentence in that column, every other cell valid."""
    rows = [",".join(TEMPLATE)]
    for i, column in enumerate(TEMPLATE):
        cells = list(VALID)
        cells[0] = f"2026-04-{i + 2:02d}T07:50:00+02:00"
        cells[TEMPLATE.index(column)] = TYPED
        rows.append(",".join(cells))
    return "\n".join(rows) + "\n"


def _typed_plan() -> str:
    rows = [",".join(PLAN_COLUMNS)]
    for i, column in enumerate(PLAN_COLUMNS):
        cells = list(PLAN_VALID)
        cells[0] = f"2026-04-{6 + 7 * i:02d}" if i < 4 else "2026-05-11"
        cells[PLAN_COLUMNS.index(column)] = TYPED
        rows.append(",".join(cells))
    return "\n".join(rows) + "\n"


def test_sentinels_stay_out_of_everything_but_the_inbox(
    prefect_harness: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    folder = inbox / CODE
    folder.mkdir(parents=True)
    (inbox / "roster.csv").write_text(ROSTER)
    (folder / "journal.csv").write_text(JOURNAL)
    (folder / "typed journal.csv").write_text(_typed_journal())
    (folder / "typed plan.csv").write_text(_typed_plan())
    run = simulate_run(
        dt.datetime(2026, 4, 1, 5, 0, tzinfo=dt.UTC),
        duration_s=1800,
        intensity="easy",
        hr_rest=56,
        hr_max=188,
        home=HOME,
        seed=11,
    )
    (folder / "morning.fit").write_bytes(write_run_fit(run, serial_number=SERIAL))
    (folder / "broken.fit").write_bytes(b"\x0e\x10" + b"\x00" * 40)  # refused: a note is written
    monkeypatch.setenv("MINDMILES_SECRET", "sentinel-test-secret")
    caplog.set_level(logging.DEBUG)

    summary = ingest_flow(str(inbox), str(warehouse), 0.0)
    assert (summary["ingested"], summary["quarantined"]) == (4, 1)

    texts = [CODE, str(SERIAL), NOTE, TYPED, f"{HOME[0]}", f"{HOME[1]}"]
    notes = [p for p in files_under(inbox) if p.name.endswith((".reason.txt", ".note.txt"))]
    # Everything in the inbox but the files moved as they came (reports and notes included).
    moved = {"morning.fit", "broken.fit", "journal.csv", "typed journal.csv", "typed plan.csv"}
    inbox_written = [
        p for p in files_under(inbox) if p.name not in moved and p.name != "roster.csv"
    ]
    assert any(p.name == "typed journal.csv.note.txt" for p in notes), "rows refused: a note"
    assert notes, "the refused file has its note"
    prefect_home = Path(os.environ["PREFECT_HOME"])
    from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

    database = PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    prefect_files = files_under(prefect_home)
    if database.startswith("sqlite"):
        prefect_files += [Path(database.split("///", 1)[1])]
    analyst = [
        p
        for p in files_under(warehouse)
        if "restricted" not in p.parts and "journal_notes" not in p.parts
    ]
    restricted = [p for p in files_under(warehouse) if p not in analyst]
    assert analyst
    assert prefect_files
    for path in inbox_written:  # the therapist pages name the client: only the sentence is kept out
        assert TYPED.encode() not in path.read_bytes(), path
    for path in analyst + notes + prefect_files:
        raw = path.read_bytes()
        for text in texts:
            assert text.encode() not in raw, (text, path)
    for record in caplog.records:
        message = record.getMessage()
        for text in texts:
            assert text not in message, (text, record.name)
    # The note is kept, but only in the restricted table.
    assert any(NOTE.encode() in p.read_bytes() for p in restricted)
    assert any(TYPED.encode() in p.read_bytes() for p in restricted), "the typed note is kept"
    # No position near home in the analyst samples (the default zone is at least 200 m).
    samples = pl.read_delta(str(warehouse / "samples"))
    positioned = samples.drop_nulls(["lat_deg", "lon_deg"])
    assert positioned.height > 0, "the middle of the run keeps its track"
    nearest = min(
        meters_apart(HOME[0], HOME[1], la, lo)
        for la, lo in positioned.select("lat_deg", "lon_deg").rows()
    )
    assert nearest > 200

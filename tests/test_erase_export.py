"""``mindmiles export`` and ``mindmiles erase`` on the demo clinic with one planted client.

A copy of the demo clinic's built warehouse and inbox takes in one more client, whose code, note
sentence, home location and original file bytes are sentinels (as in test_privacy_sentinels).
The client is exported, then erased: afterwards no file under the warehouse (Delta logs and
checkpoints included) or the inbox's ``_processed``, ``_quarantine`` and ``_reports`` holds any of
their values, the other clients' rows are what they were, and a second erasure changes nothing.
One built clinic for the module (one incremental run on the session's demo clinic).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from pipelines.cli import main
from pipelines.run import run_ingest
from pipelines.settings import Settings
from synthetic.run_model import simulate_run, write_run_fit
from tests.conftest import DEMO_SECRET, files_under, meters_apart
from warehouse.secret import pseudonymize
from warehouse.store import TableStore
from warehouse.tables import TABLES

CODE = "ZQERASE77"
NOTE = "ERASESENTINEL the heron by the lock"
PLAN_NOTE = "PLANSENTINEL hills on thursdays"
HOME = (-33.8731, 151.2065)  # no demo client runs within thousands of km of it
ROSTER_ROW = f"{CODE},f,1990,57,187,Australia/Sydney,\n"
JOURNAL = (
    "timestamp,kind,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe,notes\n"
    f"2026-04-01T07:50:00+11:00,post_run,6,3,3,6,,,4,{NOTE}\n"
    "2026-04-03T21:00:00+11:00,daily,5,4,4,5,7.5,4,,a quiet day\n"
)
PLAN = f'week_start,sessions,minutes,session_type,notes\n2026-03-30,3,90,easy,"{PLAN_NOTE}"\n'
STARTS = (
    dt.datetime(2026, 3, 31, 19, 0, tzinfo=dt.UTC),
    dt.datetime(2026, 4, 2, 19, 0, tzinfo=dt.UTC),
)


@dataclass
class Planted:
    """The clinic copy, the planted client's rows before erasure and what the commands printed."""

    inbox: Path
    warehouse: Path
    client_id: str
    texts: list[bytes]
    """Byte strings of the client that must be gone after erasure."""
    before: dict[str, pl.DataFrame]
    """Every table's rows, read before anything was erased."""
    export: Path
    refused_in_roster: tuple[int, str]
    refused_without_tty: tuple[int, str]
    refused_wrong_answer: tuple[int, str]
    state_before_erase: dict[str, pl.DataFrame]
    erase_output: str
    second: tuple[int, str, list[tuple[str, int]], list[tuple[str, int]]]
    """Second erasure: exit code, output, files (name, mtime) before and after."""


class _Terminal(io.StringIO):
    """Standard input as a terminal with the given typed answer."""

    def isatty(self) -> bool:
        return True


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def _listing(*roots: Path) -> list[tuple[str, int]]:
    """Every file (the lock file aside, which any command opens) with its modification time."""
    return sorted((str(p), p.stat().st_mtime_ns) for p in files_under(*roots) if p.name != ".lock")


@pytest.fixture(scope="module")
def planted(demo_clinic: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Planted:
    template, built = demo_clinic
    root = tmp_path_factory.mktemp("erase")
    inbox, warehouse = root / "inbox", root / "warehouse"
    shutil.copytree(template.parent / "local-inbox", inbox, symlinks=True)
    shutil.copytree(built, warehouse, symlinks=True)
    folder = inbox / CODE
    folder.mkdir()
    roster = inbox / "roster.csv"
    roster.write_text(roster.read_text() + ROSTER_ROW)
    (folder / "journal.csv").write_text(JOURNAL)
    (folder / "plan.csv").write_text(PLAN)
    originals = []
    for seed, start in enumerate(STARTS):
        run = simulate_run(
            start, duration_s=900, intensity="easy", hr_rest=57, hr_max=187, home=HOME, seed=seed
        )
        data = write_run_fit(run)
        originals.append(data)
        (folder / f"run-{seed}.fit").write_bytes(data)
    (folder / "broken.fit").write_bytes(b"<html>REFUSEDSENTINEL session expired</html>\n")
    client_id = pseudonymize(CODE, DEMO_SECRET.encode())
    common = ["--inbox", str(inbox), "--warehouse", str(warehouse)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINDMILES_SECRET", DEMO_SECRET)
        patch.setenv("MINDMILES_KEY_FILE", str(root / "key"))
        # In this process (no parsing workers to start): the run is not what is tested here
        settings = Settings.from_options(inbox=inbox, warehouse=warehouse, settle_seconds=0)
        assert run_ingest(settings).ingested == 4
        store = TableStore(warehouse)
        before = {name: store.read(name) for name in TABLES}
        files = before["files"].filter(pl.col("client_id") == client_id)
        activities = before["activities"].filter(pl.col("client_id") == client_id)
        assert activities.height == 2
        assert (inbox / "_quarantine" / CODE).is_dir()
        texts = [CODE, client_id, NOTE, PLAN_NOTE, "REFUSEDSENTINEL"]
        texts += files["sha256"].to_list() + activities["activity_id"].to_list()
        sentinels = [t.encode() for t in texts] + [
            data[len(data) // 2 :][:64] for data in originals
        ]
        # planted where the search looks: the search can fail
        assert any(NOTE.encode() in p.read_bytes() for p in files_under(inbox / "_processed"))
        assert any(CODE.encode() in p.read_bytes() for p in files_under(inbox / "_reports"))
        assert any(client_id.encode() in p.read_bytes() for p in files_under(warehouse))

        export = root / "export"
        assert _run(["export", "--client", CODE, "--out", str(export), *common])[0] == 0

        erase = ["erase", "--client", CODE, *common]
        refused_in_roster = _run([*erase, "--yes"])
        roster.write_text(roster.read_text().replace(ROSTER_ROW, ""))  # staff take them off
        patch.setattr(sys, "stdin", io.StringIO())  # no terminal to confirm on
        refused_without_tty = _run(erase)
        patch.setattr(sys, "stdin", _Terminal("C001\n"))  # another code typed: not confirmed
        refused_wrong_answer = _run(erase)
        state_before_erase = {name: store.read(name) for name in TABLES}
        code, erase_output = _run([*erase, "--yes"])
        assert code == 0, erase_output
        listing = _listing(warehouse, inbox)
        second_code, second_output = _run([*erase, "--yes"])
        relisted = _listing(warehouse, inbox)
    return Planted(
        inbox=inbox,
        warehouse=warehouse,
        client_id=client_id,
        texts=sentinels,
        before=before,
        export=export,
        refused_in_roster=refused_in_roster,
        refused_without_tty=refused_without_tty,
        refused_wrong_answer=refused_wrong_answer,
        state_before_erase=state_before_erase,
        erase_output=erase_output,
        second=(second_code, second_output, listing, relisted),
    )


def test_export_round_trips_the_clients_rows(planted: Planted) -> None:
    tables = planted.export / "tables"
    for name, frame in planted.before.items():
        mine = frame.filter(pl.col("client_id") == planted.client_id)
        exported = pl.read_parquet(tables / f"{name}.parquet")
        assert_frame_equal(exported, mine, check_row_order=True)
        # The CSV holds the same values (list cells as JSON arrays)
        lists = [c for c, t in mine.schema.items() if isinstance(t, pl.List)]
        text = pl.read_csv(
            tables / f"{name}.csv", schema=mine.drop(lists).schema | {c: pl.String for c in lists}
        ).select(mine.columns)
        decoded = text.with_columns(pl.col(c).str.json_decode(mine.schema[c]) for c in lists)
        assert_frame_equal(decoded, mine, check_row_order=True)
        assert mine.height or name in ("hrv", "daily_wellness"), name  # what the client has
    notes = pl.read_parquet(tables / "journal_notes.parquet")
    assert NOTE in notes["note"].to_list()  # their own restricted notes
    originals = sorted(p.name for p in (planted.export / "originals").iterdir())
    assert originals == ["journal.csv", "plan.csv", "run-0.fit", "run-1.fit"]
    assert sorted(p.name for p in (planted.export / "refused").iterdir()) == [
        "broken.fit",
        "broken.fit.reason.txt",
    ]
    dictionary = (planted.export / "dictionary.md").read_text()
    assert all(f"`{name}`" in dictionary for name in TABLES)
    assert {p.stat().st_mode & 0o077 for p in files_under(planted.export)} == {0}


def test_export_refuses_a_folder_inside_the_warehouse_or_inbox(
    planted: Planted, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--inbox", str(planted.inbox), "--warehouse", str(planted.warehouse)]
    for inside in (planted.warehouse / "out", planted.inbox / "C001" / "out", planted.export):
        code, _ = _run(["export", "--client", "C001", "--out", str(inside), *common])
        assert code == 1
        assert not (inside / "tables").exists() or inside == planted.export
    assert "lies inside the warehouse" in capsys.readouterr().err


def test_erase_asks_and_refuses_a_client_still_on_the_roster(planted: Planted) -> None:
    assert planted.refused_in_roster[0] == 1
    assert planted.refused_without_tty[0] == 1
    code, prompt = planted.refused_wrong_answer
    assert code == 1
    rows = sum(
        frame.filter(pl.col("client_id") == planted.client_id).height
        for frame in planted.before.values()
    )
    assert f"{rows} row(s) in " in prompt
    assert "6 file(s) in 3 inbox folder(s), 1 report page(s)" in prompt
    assert prompt.endswith(f"Type the client code ({CODE}) to go ahead: ")
    # Neither refusal changed anything: the client's rows were all there just before erasure
    held = planted.state_before_erase["activities"]
    assert held.filter(pl.col("client_id") == planted.client_id).height == 2


def test_erase_leaves_no_value_of_the_client_anywhere(planted: Planted) -> None:
    inbox, warehouse = planted.inbox, planted.warehouse
    searched = files_under(
        warehouse, inbox / "_processed", inbox / "_quarantine", inbox / "_reports"
    )
    assert any("_delta_log" in p.parts for p in searched)
    for path in searched:
        raw = path.read_bytes()
        for text in planted.texts:
            assert text not in raw, (text[:40], path)
        assert CODE not in str(path)
        assert planted.client_id not in str(path)
    assert not (inbox / CODE).exists()
    assert any(p.name.endswith(".checkpoint.parquet") for p in searched)  # searched too
    # Decoded, every Parquet file under the warehouse (old versions and checkpoints included)
    parquet = [p for p in files_under(warehouse) if p.suffix == ".parquet"]
    for path in parquet:
        table = pq.read_table(path)
        if "client_id" in table.column_names:
            assert planted.client_id not in set(table.column("client_id").to_pylist()), path
        if {"lat_deg", "lon_deg"} <= set(table.column_names):
            for lat, lon in zip(
                table.column("lat_deg").to_pylist(),
                table.column("lon_deg").to_pylist(),
                strict=True,
            ):
                if lat is not None and lon is not None:
                    assert meters_apart(HOME[0], HOME[1], lat, lon) > 100_000, path
    receipt = json.loads((warehouse / ".state" / "runs.jsonl").read_text().splitlines()[-1])
    assert receipt["kind"] == "erasure"
    assert receipt["rows"]["activities"] == 2
    assert receipt["rows"]["journal_notes"] == 2
    assert (
        receipt["rows"]["samples"]
        == planted.before["samples"].filter(pl.col("client_id") == planted.client_id).height
    )
    assert receipt["files"] == 7  # 4 originals, the refused file and its note, the report page


def test_erase_keeps_every_other_clients_rows(planted: Planted) -> None:
    store = TableStore(planted.warehouse)
    for name, frame in planted.state_before_erase.items():
        others = frame.filter(pl.col("client_id") != planted.client_id)
        assert_frame_equal(store.read(name), others, check_row_order=False)
        assert others.height or not frame.height, name
    assert len(list((planted.inbox / "_reports" / "clients").iterdir())) == 5
    overview = (planted.inbox / "_reports" / "index.html").read_text()
    assert "C001" in overview
    assert CODE not in overview


def test_a_second_erasure_changes_nothing(planted: Planted) -> None:
    code, output, before, after = planted.second
    assert code == 0
    assert "nothing was changed" in output
    assert after == before  # no table version, run-log line, file or page written

"""One ingestion run end to end (``run_ingest``), on a temporary inbox and warehouse.

Inputs are two synthetic GPX runs written here (so the file runs without the corpus), a file of
garbage, a planned route, and, when the corpus is present, two FIT files and a TCX whose device
serial numbers are known (read off the files' ``file_id``/``device_info`` and ``<UnitId>``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.run import RunSummary, run_ingest
from pipelines.settings import Settings
from tests.conftest import CORPUS_FILES, require_corpus
from warehouse.store import TableStore

CLIENT = "CLIENT-Q7ZX"
"""A client code distinctive enough to search for in the warehouse's bytes."""
TABLES = ("files", "activities", "laps", "samples", "hrv")
SECRET = "test-clinic-secret"


def gpx_run(day: int, *, points: int = 5) -> bytes:
    """A timed running track of ``points`` points, 10 s and ~33 m apart, on 2024-03-<day>."""
    rows = "".join(
        f'<trkpt lat="{45.0 + 0.0003 * i:.4f}" lon="7.0"><ele>200</ele>'
        f"<time>2024-03-{day:02d}T07:00:{10 * i:02d}Z</time></trkpt>"
        for i in range(points)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<gpx version="1.1" creator="hand" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><type>running</type><trkseg>{rows}</trkseg></trk></gpx>"
    ).encode()


ROUTE = (
    b'<?xml version="1.0"?><gpx version="1.1" creator="hand" xmlns="http://www.topografix.com/GPX/1/1">'
    b'<rte><rtept lat="45.0" lon="7.0"/><rtept lat="45.001" lon="7.0"/></rte></gpx>'
)

SYNTHETIC = {
    "Tuesday run with Dr Okonkwo.gpx": gpx_run(5),
    "Thursday run at Lakeside.gpx": gpx_run(7),
    "broken upload from phone.fit": b"this is not a watch file at all\n" * 4,
    "planned route Hillcrest.gpx": ROUTE,
}

CORPUS_INPUTS = {
    # name in the inbox -> corpus file, with the serial numbers the file holds
    "fenix run Okonkwo household.fit": "fitparse__garmin-fenix-5-run.fit",  # 3945849289, 3944483460
    "edge commute Lakeside.fit": "fitparse__garmin-edge-820-bike.fit",  # 3932942223, 3945849289
    "connect ride Hillcrest.tcx": "togeojson__garmin_connect.tcx",  # <UnitId>3931533084
}
SERIAL_NUMBERS = ("3945849289", "3944483460", "3932942223", "3931533084")


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    options: dict[str, object] = {
        "inbox": tmp_path / "inbox",
        "warehouse": tmp_path / "warehouse",
        "secret": SECRET,
        "settle_seconds": 0,
        "key_file": tmp_path / "keys" / "secret.key",
    }
    return Settings(**{**options, **overrides})  # type: ignore[arg-type]


def drop(settings: Settings, files: dict[str, bytes]) -> Path:
    folder = settings.inbox / CLIENT
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def corpus_files() -> dict[str, bytes]:
    require_corpus()
    return {name: (CORPUS_FILES / source).read_bytes() for name, source in CORPUS_INPUTS.items()}


def read_tables(settings: Settings) -> dict[str, pl.DataFrame]:
    store = TableStore(settings.warehouse)
    return {name: store.read(name) for name in TABLES}


def assert_tables_equal(before: dict[str, pl.DataFrame], after: dict[str, pl.DataFrame]) -> None:
    for name in TABLES:
        assert_frame_equal(before[name], after[name], check_row_order=False)


@pytest.fixture
def synthetic_run(tmp_path: Path) -> tuple[Settings, RunSummary]:
    settings = settings_for(tmp_path)
    drop(settings, SYNTHETIC)
    return settings, run_ingest(settings)


# -- outcomes and the inbox --------------------------------------------------------------------------


def test_outcomes_are_moved_with_a_plain_note(synthetic_run: tuple[Settings, RunSummary]) -> None:
    settings, summary = synthetic_run
    assert (summary.files_seen, summary.ingested, summary.skipped, summary.quarantined) == (
        4,
        2,
        1,
        1,
    )
    assert (summary.duplicates, summary.deferred, summary.activities) == (0, 0, 2)
    assert summary.reason_codes == {"not_an_activity": 1, "unknown_format": 1}
    inbox = settings.inbox
    assert sorted(p.name for p in (inbox / CLIENT).iterdir()) == []
    processed = inbox / "_processed" / CLIENT
    assert sorted(p.name for p in processed.iterdir()) == sorted(
        [
            "Tuesday run with Dr Okonkwo.gpx",
            "Thursday run at Lakeside.gpx",
            "planned route Hillcrest.gpx",
            "planned route Hillcrest.gpx.note.txt",
        ]
    )
    quarantine = inbox / "_quarantine" / CLIENT
    # The refused file with its note; the skipped route stays processed, with a note saying why.
    assert sorted(p.name for p in quarantine.iterdir()) == [
        "broken upload from phone.fit",
        "broken upload from phone.fit.reason.txt",
    ]
    # Originals untouched.
    for name in ("Tuesday run with Dr Okonkwo.gpx", "planned route Hillcrest.gpx"):
        assert (processed / name).read_bytes() == SYNTHETIC[name]
    assert (quarantine / "broken upload from phone.fit").read_bytes() == SYNTHETIC[
        "broken upload from phone.fit"
    ]
    for note_path, name, code in (
        (
            quarantine / "broken upload from phone.fit.reason.txt",
            "broken upload from phone.fit",
            "unknown_format",
        ),
        (
            processed / "planned route Hillcrest.gpx.note.txt",
            "planned route Hillcrest.gpx",
            "not_an_activity",
        ),
    ):
        note = note_path.read_text(encoding="utf-8")
        assert name in note
        assert code in note
        [reason] = [line for line in note.splitlines() if line.startswith("Reason:")]
        assert len(reason.split()) >= 6  # a sentence, not a code
        for technical in ("Traceback", "Error(", "Exception", "b'", "\\x", "None"):
            assert technical not in note, (name, technical)
    files = TableStore(settings.warehouse).read("files")
    assert sorted(files["outcome"].to_list()) == ["ingested", "ingested", "quarantined", "skipped"]


def test_second_run_over_the_same_inbox_changes_nothing(
    synthetic_run: tuple[Settings, RunSummary],
) -> None:
    settings, _ = synthetic_run
    before = read_tables(settings)
    assert before["activities"].height == 2
    assert before["samples"].height == 10
    summary = run_ingest(settings)
    assert (summary.files_seen, summary.ingested, summary.activities) == (0, 0, 0)
    assert_tables_equal(before, read_tables(settings))


def test_redropped_bytes_are_a_duplicate_and_change_no_table(
    synthetic_run: tuple[Settings, RunSummary],
) -> None:
    settings, _ = synthetic_run
    before = read_tables(settings)
    drop(settings, {"copy of tuesday.gpx": SYNTHETIC["Tuesday run with Dr Okonkwo.gpx"]})
    summary = run_ingest(settings)
    assert (summary.files_seen, summary.duplicates, summary.ingested, summary.activities) == (
        1,
        1,
        0,
        0,
    )
    assert summary.reason_codes == {"same_file_received_again": 1}
    assert_tables_equal(before, read_tables(settings))
    assert (settings.inbox / "_processed" / CLIENT / "copy of tuesday.gpx").exists()
    assert not (settings.inbox / CLIENT / "copy of tuesday.gpx").exists()


def test_redropped_refused_bytes_go_back_to_quarantine(
    synthetic_run: tuple[Settings, RunSummary],
) -> None:
    settings, _ = synthetic_run
    before = read_tables(settings)
    drop(settings, {"again.fit": SYNTHETIC["broken upload from phone.fit"]})
    summary = run_ingest(settings)
    assert summary.duplicates == 1
    assert_tables_equal(before, read_tables(settings))
    assert (settings.inbox / "_quarantine" / CLIENT / "again.fit.reason.txt").read_text().strip()


def test_same_bytes_twice_in_one_run_are_taken_in_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    drop(settings, {"a.gpx": gpx_run(5), "b.gpx": gpx_run(5)})
    summary = run_ingest(settings)
    assert (summary.files_seen, summary.ingested, summary.duplicates, summary.activities) == (
        2,
        1,
        1,
        1,
    )
    assert TableStore(settings.warehouse).read("activities").height == 1


def test_files_still_arriving_are_left_in_place(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    folder = drop(settings, {"watch.fit.part": gpx_run(5), "download.crdownload": gpx_run(6)})
    summary = run_ingest(settings)
    assert (summary.files_seen, summary.deferred, summary.ingested) == (2, 2, 0)
    assert sorted(p.name for p in folder.iterdir()) == ["download.crdownload", "watch.fit.part"]
    assert TableStore(settings.warehouse).read("files").height == 0

    fresh = settings_for(tmp_path, settle_seconds=3600)
    (folder / "just copied.gpx").write_bytes(gpx_run(7))
    now = time.time()
    os.utime(folder / "just copied.gpx", (now, now))
    summary = run_ingest(fresh)
    assert (summary.deferred, summary.ingested) == (3, 0)
    assert (folder / "just copied.gpx").exists()
    assert TableStore(settings.warehouse).read("activities").height == 0

    # Once settled (settle_seconds=0 stands for "long enough ago"), it is taken in.
    summary = run_ingest(settings)
    assert (summary.deferred, summary.ingested) == (2, 1)
    assert not (folder / "just copied.gpx").exists()


# -- privacy -----------------------------------------------------------------------------------------


def warehouse_texts(warehouse: Path) -> list[tuple[Path, str, bytes]]:
    """(file, text of every column of every Parquet file, raw bytes) for every file under it."""
    found = []
    for path in sorted(p for p in warehouse.rglob("*") if p.is_file() and not p.is_symlink()):
        raw = path.read_bytes()
        text = ""
        if path.suffix == ".parquet":
            frame = pl.read_parquet(path)
            columns = []
            for name in frame.columns:
                series = frame[name]
                if isinstance(series.dtype, pl.List):
                    series = series.explode()
                columns.append(series.cast(pl.String).drop_nulls().str.join("\n").item())
            text = "\n".join([*frame.columns, *columns])
        found.append((path, text, raw))
    return found


def assert_absent(warehouse: Path, needles: list[str]) -> None:
    texts = warehouse_texts(warehouse)
    assert any(path.suffix == ".parquet" for path, _, _ in texts)
    for path, text, raw in texts:
        for needle in needles:
            assert needle not in text, (needle, path)
            assert needle.encode() not in raw, (needle, path)


def name_needles(names: list[str]) -> list[str]:
    out = []
    for name in names:
        out += [name, Path(name).stem]
    return out


def test_no_client_code_or_file_name_reaches_the_warehouse(
    synthetic_run: tuple[Settings, RunSummary],
) -> None:
    settings, _ = synthetic_run
    assert_absent(
        settings.warehouse, [CLIENT, *name_needles(list(SYNTHETIC)), "Okonkwo", "Lakeside"]
    )


@pytest.mark.corpus
def test_no_serial_number_reaches_the_warehouse(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    drop(settings, corpus_files())
    summary = run_ingest(settings)
    assert (summary.ingested, summary.activities) == (3, 3)
    devices = TableStore(settings.warehouse).read("activities")["device"].to_list()
    assert all(device for device in devices)  # the device is named, only without its serial
    assert_absent(
        settings.warehouse, [CLIENT, *name_needles(list(CORPUS_INPUTS)), "Okonkwo", *SERIAL_NUMBERS]
    )


@pytest.mark.corpus
def test_same_ride_as_fit_then_gpx_is_a_duplicate(tmp_path: Path) -> None:
    """sweatpy's FIT and GPX of one Edge 1000 ride: the second copy adds no activity."""
    require_corpus()
    settings = settings_for(tmp_path)
    drop(settings, {"ride.fit": (CORPUS_FILES / "sweatpy__2020-06-01-16-52-40.fit").read_bytes()})
    run_ingest(settings)
    before = read_tables(settings)
    drop(settings, {"ride.gpx": (CORPUS_FILES / "sweatpy__activity_5039744860.gpx").read_bytes()})
    summary = run_ingest(settings)
    assert (summary.duplicates, summary.activities) == (1, 0)
    after = read_tables(settings)
    for name in ("laps", "samples", "hrv"):
        assert_frame_equal(before[name], after[name], check_row_order=False)
    # the held FIT stays; only its note of the copy it was kept over is added
    assert_frame_equal(
        before["activities"].drop("kept_reason"), after["activities"].drop("kept_reason")
    )
    assert after["activities"]["kept_reason"].to_list() == [
        "fit/file kept over gpx/file: richer format"
    ]
    files = after["files"].filter(pl.col("outcome") == "duplicate")
    assert files["duplicate_of"].to_list() == [before["activities"]["activity_id"].to_list()]


# -- analysts' access --------------------------------------------------------------------------------


def test_tables_are_readable_by_duckdb_without_project_code(
    synthetic_run: tuple[Settings, RunSummary],
) -> None:
    settings, _ = synthetic_run
    warehouse = settings.warehouse
    rows = duckdb.sql(
        f"select sport, count(*) from '{warehouse}/activities/*.parquet' group by 1 order by 1"
    ).fetchall()
    assert rows == [("running", 2)]
    samples = duckdb.sql(
        f"select count(*), count(distinct client_id), min(year) from "
        f"read_parquet('{warehouse}/samples/*/*/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert samples == [(10, 1, 2024)]
    # Issue 18: the README's polars example dropped client_id and year. Delta keeps partition
    # values in its log and the folder names, not in the Parquet files: scan_delta reads them from
    # the log, a plain glob only with hive_partitioning=True.
    for frame in (
        pl.scan_delta(f"{warehouse}/samples").collect(),
        pl.scan_parquet(f"{warehouse}/samples/*/*/*.parquet", hive_partitioning=True).collect(),
    ):
        assert frame.height == 10
        assert frame["client_id"].n_unique() == 1
        assert frame["year"].unique().to_list() == [2024]


def test_key_file_is_not_needed_when_the_secret_is_given(
    synthetic_run: tuple[Settings, RunSummary],
) -> None:
    settings, _ = synthetic_run
    assert not settings.key_file.exists()
    assert not any(p.name == "secret.key" for p in settings.warehouse.rglob("*"))


def test_parsing_ahead_overlaps_the_writes_and_builds_the_same_tables(
    small_clinic: tuple[Path, Path], tmp_path: Path
) -> None:
    """With ``parse_ahead`` the next wave is parsed before this wave's activities are written."""
    import shutil
    import threading

    from pipelines.run import parse_batch
    from tests.conftest import DEMO_SECRET, warehouse_state

    template, reference = small_clinic
    inbox = tmp_path / "inbox"
    shutil.copytree(template, inbox)
    held_when_called: list[int] = []
    warehouse = tmp_path / "warehouse"
    threads: list[str] = []

    def parse_batches(wave, limits):  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        held = TableStore(warehouse).keys("activities")
        held_when_called.append(0 if held is None else held.height)
        return [parse_batch(batch, limits) for batch in wave]

    settings = Settings(
        inbox=inbox,
        warehouse=warehouse,
        secret=DEMO_SECRET,
        settle_seconds=0.0,
        key_file=tmp_path / "key",
        batch_files=1,
        batches_per_wave=1,
    )
    summary = run_ingest(settings, parse_batches=parse_batches, parse_ahead=True)
    assert summary.ingested == 4
    # One wave per watch file; the second was parsed while the first was still being written.
    assert held_when_called[:2] == [0, 0]  # without parse_ahead: [0, 1]
    # the two watch files' waves on the parsing thread (the journal and plan come after, on the
    # run's own thread)
    assert len(threads) == 3
    assert threading.main_thread().name not in threads[:2]
    assert warehouse_state(settings.warehouse) == warehouse_state(reference)

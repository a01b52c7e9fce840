"""Crash safety: SIGKILL at random points, full disks and I/O errors never lose or mix data.

The oracle is an uninterrupted run over the same files: the inbox is fed in drops; a reference
warehouse takes each drop in one clean in-process run, and every version of a table that run
commits is recorded (a run settles its files wave by wave, so a table passes through several
complete versions: after each wave, after the journals, after the derived tables are rebuilt).
The warehouse under test takes the same drops through :func:`pipelines.run.run_ingest` in a
separate process (forked from the pre-warmed server in :mod:`tests.crash_child`) that is SIGKILLed
at a random moment of its work. After every kill each table must be readable, equal one of the
versions the reference committed for that drop, and never go back to an earlier one; the run that
finally completes must reach the reference state exactly, and every input file must still exist
(in the inbox, ``_processed`` or ``_quarantine``). Small batches and waves make the run settle its
files in several steps, and the kill delays are spread over a whole run, so kills land while
parsing, writing, settling, deriving and publishing (the child reports its stage; the test
checks each was hit).
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from pipelines.run import run_ingest
from pipelines.settings import Settings
from report import default_report_dir
from schemas.errors import WarehouseError
from synthetic.run_model import simulate_run, write_run_fit, write_run_gpx
from tests.conftest import warehouse_state
from tests.crash_child import Aim, ForkServer
from warehouse.sql import DATABASE_NAME
from warehouse.store import TableStore
from warehouse.tables import TABLES as ALL_TABLES

TABLES = tuple(sorted(ALL_TABLES))
"""Every table of the warehouse, derived ones included."""
ROUNDS = 20
"""SIGKILLs that must land mid-run (the issue asks for at least 20)."""
MAX_EXTRA_ATTEMPTS = 40
"""Further attempts allowed for rounds whose run finished before its kill.

All of them aim at a stage (see :func:`_aim`): a delay measured against in-process reference
runs misses whenever the forked runs are quicker than those were (a busy machine while the
references ran; a resumed run with less left to do). On a loaded CI machine 13 of 30 attempts
once finished first, so the allowance is generous; the loop stops at ``ROUNDS`` kills."""
DROPS = 8
"""Drops of new files. Kills land only while a drop has work left: once every drop is in, a run
has nothing to do and no kill can land, so there must be drops enough for ``ROUNDS`` kills even
when runs often finish before their kill (five were once too few on a loaded machine: 19 kills)."""
BATCH_FILES = 1
BATCHES_PER_WAVE = 2
"""Two files per wave: a drop of 4-5 files is settled in three waves."""
SECRET = "crash-test-secret-16b"
ROSTER = (
    "client_code,sex,birth_year,hr_rest,hr_max,timezone\n"
    "C001,f,1990,55,185,Europe/London\nC002,m,1984,58,182,Europe/Paris\n"
)
STAGES = ("start", "parse", "write", "settle", "derive", "publish")
"""Where a run can be killed: ``start`` is taking the lock, cleaning up, hashing the inbox."""
KILL_STAGES = STAGES[1:]
"""Stages every crash test must have killed a run in."""

State = dict[str, list[tuple[str, ...]]]


def _drop_files(index: int) -> dict[str, bytes]:
    """Files of one drop: two clients, a FIT and a GPX run each, a journal entry for one of them,
    the roster in the first drop and one bad file every other drop."""
    files = {}
    if index == 0:
        files["roster.csv"] = ROSTER.encode()
    for client, home in (("C001", (51.5, -0.1)), ("C002", (48.85, 2.35))):
        start = datetime(2026, 3, 2, 7, 0, tzinfo=UTC) + timedelta(days=index, hours=len(files))
        run = simulate_run(
            start, duration_s=150, intensity="easy", hr_rest=55, hr_max=185, home=home, seed=index
        )
        files[f"{client}/w{index}-run.fit"] = write_run_fit(run, with_hrv=True)
        later = simulate_run(
            start + timedelta(hours=6),
            duration_s=120,
            intensity="walk",
            hr_rest=55,
            hr_max=185,
            home=home,
            seed=100 + index,
        )
        files[f"{client}/w{index}-walk.gpx"] = write_run_gpx(later)
        if client == "C001":
            after = (start + timedelta(minutes=10)).isoformat()
            files[f"{client}/journal-w{index}.csv"] = (
                "timestamp,kind,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe,notes\n"
                f"{after},post_run,{4 + index % 3},3,4,6,,,4,\n"
            ).encode()
    if index % 2:
        files[f"C001/w{index}-broken.fit"] = b"this is not a watch file"
    return files


def _drop(inbox: Path, files: dict[str, bytes]) -> set[str]:
    """Write the files as if copied in a minute ago; return their SHA-256 digests."""
    for name, data in files.items():
        path = inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        old = time.time() - 60
        os.utime(path, (old, old))
    return {hashlib.sha256(data).hexdigest() for data in files.values()}


def _readable_without_project_code(warehouse: Path) -> None:
    """Each table opens with plain Polars through its Delta log; the DuckDB views answer."""
    store = TableStore(warehouse)
    for table in TABLES:
        folder = store.table_path(table)
        if (folder / "_delta_log").is_dir():
            pl.read_delta(str(folder))
    database = warehouse / DATABASE_NAME
    if database.exists():
        with duckdb.connect(str(database), read_only=True) as con:
            assert con.execute("select count(*) from files").fetchone() is not None


def _reports(inbox: Path) -> list[str]:
    """The therapist reports' files, relative to their folder."""
    folder = default_report_dir(inbox)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _strays(warehouse: Path) -> list[Path]:
    """What killed writers leave: data files no current table version references, temp files."""
    found = [p for p in warehouse.rglob("*") if ".tmp" in p.name]
    store = TableStore(warehouse)
    for table in TABLES:
        folder = store.table_path(table)
        if not (folder / "_delta_log").is_dir():
            continue
        current = {Path(f) for f in store.files(table)}
        on_disk = {p for p in folder.rglob("*.parquet") if "_delta_log" not in p.parts}
        found += sorted(on_disk - current)
    return found


def _settings(
    inbox: Path,
    warehouse: Path,
    key_file: Path,
    *,
    batch_files: int = BATCH_FILES,
    batches_per_wave: int = BATCHES_PER_WAVE,
) -> Settings:
    return Settings(
        inbox=inbox,
        warehouse=warehouse,
        secret=SECRET,
        settle_seconds=0.0,
        key_file=key_file,
        batch_files=batch_files,
        batches_per_wave=batches_per_wave,
    )


def _request(settings: Settings) -> dict[str, Any]:
    """The same settings, for the fork server."""
    return {
        "inbox": str(settings.inbox),
        "warehouse": str(settings.warehouse),
        "key_file": str(settings.key_file),
        "secret": settings.secret,
        "batch_files": settings.batch_files,
        "batches_per_wave": settings.batches_per_wave,
    }


def _inputs(inbox: Path) -> set[str]:
    """SHA-256 of every file anywhere under the inbox (notes aside)."""
    return {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in inbox.rglob("*")
        if p.is_file() and not p.name.endswith(".reason.txt")
    }


Versions = dict[str, list[list[tuple[Any, ...]]]]
"""Per table: the contents an uninterrupted run commits, in order, starting with the one before it."""


@dataclass(frozen=True)
class Reference:
    """What clean in-process runs, one per drop, did."""

    versions: list[Versions]
    """Per drop: every version of every table its run committed."""
    states: list[State]
    """The state after each drop (index 0: the empty warehouse)."""
    seconds: list[float]
    """How long each run took."""
    views: list[str]
    """The DuckDB views at the end."""
    reports: list[list[str]]
    """The therapist report files after each drop."""


def _views(warehouse: Path) -> list[str]:
    """Names of the views in the warehouse's DuckDB file."""
    with duckdb.connect(str(warehouse / DATABASE_NAME), read_only=True) as con:
        rows = con.execute("select view_name from duckdb_views() where not internal").fetchall()
    return sorted(name for (name,) in rows)


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """Clean in-process runs, one per drop: every version each commits, end states, seconds."""
    root = tmp_path_factory.mktemp("reference")
    settings = _settings(root / "inbox", root / "warehouse", root / "key")
    committed: list[Versions] = []
    states = [warehouse_state(settings.warehouse)]
    seconds, reports = [], []
    real_commit = TableStore._commit
    for drop in range(DROPS):
        _drop(settings.inbox, _drop_files(drop))
        versions: Versions = {table: [rows] for table, rows in states[-1].items()}
        recording = [0.0]

        def commit(
            self: TableStore,
            name: str,
            attempt: Callable[[], Any],
            v: Versions = versions,
            spent: list[float] = recording,
        ) -> Any:
            # A commit is the one atomic step that makes a new version visible: record it.
            done = real_commit(self, name, attempt)
            mark = time.monotonic()
            v[name].append(warehouse_state(self.root, tables=(name,))[name])
            spent[0] += time.monotonic() - mark
            return done

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(TableStore, "_commit", commit)
            started = time.monotonic()
            run_ingest(settings)
        seconds.append(time.monotonic() - started - recording[0])  # the run's own time
        committed.append(versions)
        states.append(warehouse_state(settings.warehouse))
        reports.append(_reports(settings.inbox))
    return Reference(committed, states, seconds, _views(settings.warehouse), reports)


@pytest.fixture(scope="module")
def reference(reference_runs: Reference) -> list[State]:
    """Reference state after each drop (index 0: the empty warehouse)."""
    return reference_runs.states


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    """The pre-warmed server that forks the runs to be killed (it starts importing at once)."""
    server = ForkServer(tmp_path_factory.mktemp("fork-server") / "stderr.txt")
    server.launch()
    try:
        yield server
    finally:
        server.stop()


def _position(sequence: list[list[tuple[Any, ...]]], rows: list[tuple[Any, ...]]) -> int | None:
    """Index of the last version equal to ``rows`` (``None``: equal to none of them)."""
    hits = [i for i, state in enumerate(sequence) if state == rows]
    return hits[-1] if hits else None


def _plans(rng: random.Random, rounds: int) -> list[float | None]:
    """When to kill, round by round, in random order: a delay, or ``None`` to aim at a stage.

    Half the rounds kill after a delay, as a fraction of an uninterrupted run's duration,
    stratified: each its own slice of the run (a run that resumes after a kill has less left to
    do, so some of these complete). The other half aim at a stage (see :func:`_aim`), so that
    the short stages (settling a wave: the ledger and the moves) are hit as surely as the long
    ones.
    """
    half = rounds // 2
    plans: list[float | None] = [(i + rng.random()) / half for i in range(half)]
    plans += [None] * (rounds - half)
    rng.shuffle(plans)
    return plans


def _waiting(inbox: Path) -> list[str]:
    """Names of the files waiting in the client folders."""
    return [p.name for p in inbox.glob("*/*") if p.is_file() and p.parent.name[0] != "_"]


def _aim(rng: random.Random, inbox: Path, killed_in: Counter[str]) -> Aim:
    """Up to 20 ms into the stage hit least so far, among those the next run will go through.

    A kill aimed at writing comes while a table's new files are being written, before their
    commit, so that some kills certainly leave files for the next run to clean up.

    A run parses only when watch files wait in the inbox; it writes and settles when any file
    does (a journal too); it always derives and publishes.
    """
    waiting = _waiting(inbox)
    possible: tuple[str, ...]
    if any(not name.startswith("journal") for name in waiting):
        possible = KILL_STAGES
    elif waiting:
        possible = ("write", "settle", "derive", "publish")
    else:
        possible = ("derive", "publish")
    fewest = min(killed_in[stage] for stage in possible)
    stage = rng.choice([stage for stage in possible if killed_in[stage] == fewest])
    if stage == "write":  # while a version's file is written: it leaves a temporary folder
        return Aim(stage, after_s=rng.uniform(0.0, 0.005), detail="file")
    return Aim(stage, after_s=rng.uniform(0.0, 0.02))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_at_random_points_converges(
    tmp_path: Path,
    fork_server: ForkServer,
    reference_runs: Reference,
) -> None:
    committed, reference = reference_runs.versions, reference_runs.states
    # The first reference run also warms up this process (lazy imports): not a typical run.
    run_seconds = statistics.median(reference_runs.seconds)
    settings = _settings(tmp_path / "inbox", tmp_path / "warehouse", tmp_path / "key")
    inbox, warehouse = settings.inbox, settings.warehouse
    rng = random.Random(6)
    # Attempts continue until ROUNDS of them were really killed (a run may finish first).
    plans = _plans(rng, ROUNDS) + [None] * MAX_EXTRA_ATTEMPTS
    drop = 0
    dropped = _drop(inbox, _drop_files(drop))
    before = warehouse_state(warehouse)
    killed_in: Counter[str] = Counter()
    completions = strays_seen = 0
    finished = False
    started = time.monotonic()
    in_runs = 0.0
    for plan in plans:
        if sum(killed_in.values()) >= ROUNDS or finished:
            break  # enough kills, or the last drop is in: a run has nothing left to do
        if plan is None:
            attempt = fork_server.attempt(_request(settings), aim=_aim(rng, inbox, killed_in))
        else:
            attempt = fork_server.attempt(_request(settings), kill_after_s=plan * run_seconds)
        in_runs += attempt.seconds
        _readable_without_project_code(warehouse)
        after = warehouse_state(warehouse)
        for table in TABLES:
            sequence = committed[drop][table]
            was, now = _position(sequence, before[table]), _position(sequence, after[table])
            assert was is not None, f"{table} did not start from a committed version"
            assert now is not None, f"{table} is half-written (killed in {attempt.stage})"
            assert now >= was, f"{table} went back to an earlier state"
        assert _inputs(inbox) >= dropped, "an input file was lost"
        if attempt.completed:
            completions += 1
            assert after == reference[drop + 1]
            if drop + 1 < DROPS:
                drop += 1
                dropped |= _drop(inbox, _drop_files(drop))
            else:
                finished = True
        else:
            killed_in[attempt.stage] += 1
            strays_seen += bool(_strays(warehouse))
        before = after
    # Whatever is left arrives, and one uninterrupted run converges on the reference.
    for rest in range(drop + 1, DROPS):
        dropped |= _drop(inbox, _drop_files(rest))
    run_ingest(settings)
    assert warehouse_state(warehouse) == reference[DROPS]
    assert _views(warehouse) == reference_runs.views
    assert _inputs(inbox) >= dropped
    assert not [
        p
        for p in inbox.iterdir()
        if p.is_dir() and not p.name.startswith("_") and any(f.is_file() for f in p.rglob("*"))
    ], "files left in the inbox after a complete run"
    kills = sum(killed_in.values())
    summary = ", ".join(f"{stage} {killed_in[stage]}" for stage in STAGES)
    print(
        f"\ncrash test: {kills} kills ({summary}), {completions} completions, "
        f"{strays_seen} kills left strays; {time.monotonic() - started:.1f} s, of which "
        f"{in_runs:.1f} s in runs; uninterrupted runs took {reference_runs.seconds} s"
    )
    assert kills >= ROUNDS, f"only {kills} SIGKILLs landed in {len(plans)} attempts"
    missed = [stage for stage in KILL_STAGES if not killed_in[stage]]
    assert not missed, f"no kill landed in {missed}: {summary}"
    # Files of killed writers that no commit references are gone.
    assert strays_seen, "no kill left anything to clean up: the cleanup check proves nothing"
    assert _strays(warehouse) == [], "a complete run left what killed writers left behind"
    assert not [p for p in default_report_dir(inbox).rglob("*") if ".tmp" in p.name]
    assert _reports(inbox) == reference_runs.reports[-1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("aim", "drop", "leaves"),
    [
        # a second drop, so that a database from the first exists (a missing one is rewritten)
        (Aim("publish", after_s=0.03, detail="write_database"), 1, f".{DATABASE_NAME}.*.tmp*"),
        # the first drop, so that no report exists yet: a run that does not publish shows
        (Aim("publish", after_s=0.0, detail="write_reports"), 0, None),
    ],
    ids=["database", "reports"],
)
def test_a_run_killed_while_publishing_is_finished_by_the_next(
    tmp_path: Path,
    fork_server: ForkServer,
    reference_runs: Reference,
    aim: Aim,
    drop: int,
    leaves: str | None,
) -> None:
    """Killed after its data was in, while writing the DuckDB file or the reports: the next run,
    with nothing new to take in, still publishes and removes what the killed writer left."""
    settings = _settings(tmp_path / "inbox", tmp_path / "warehouse", tmp_path / "key")
    for earlier in range(drop):
        _drop(settings.inbox, _drop_files(earlier))
        run_ingest(settings)
    _drop(settings.inbox, _drop_files(drop))
    attempt = fork_server.attempt(_request(settings), aim=aim)
    assert not attempt.completed, "the run ended before the kill"
    # the views and the reports are built side by side: the aimed one began, the kill came after
    assert ("publish", aim.detail) in attempt.stages
    assert attempt.stages[-1][0] == "publish"
    assert warehouse_state(settings.warehouse) == reference_runs.states[drop + 1]  # the data was in
    if leaves is not None:
        assert list(settings.warehouse.glob(leaves)), f"the kill left no {leaves}"
    run_ingest(settings)
    assert warehouse_state(settings.warehouse) == reference_runs.states[drop + 1]
    assert _views(settings.warehouse) == reference_runs.views
    assert _reports(settings.inbox) == reference_runs.reports[drop]
    assert _strays(settings.warehouse) == []
    assert not [p for p in default_report_dir(settings.inbox).rglob("*") if ".tmp" in p.name]


# -- injected disk-full and I/O errors -----------------------------------------------------------


def _failing_write(
    monkeypatch: pytest.MonkeyPatch, fail_on_call: int, make_error: Callable[[], OSError]
) -> list[int]:
    """Make the ``fail_on_call``-th table file write leave half a file and raise ``make_error()``."""
    calls = [0]
    real = TableStore._write

    def write(self: TableStore, name: str, frame: pl.DataFrame, **options: Any) -> None:
        calls[0] += 1
        if calls[0] == fail_on_call:
            path = self.table_path(name) / "part-00000-half-written.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"PAR1 half a file")
            raise WarehouseError("could not write a table file") from make_error()
        real(self, name, frame, **options)

    monkeypatch.setattr(TableStore, "_write", write)
    return calls


@pytest.mark.parametrize(
    ("fail_on_call", "error"),
    [
        (1, lambda: OSError(errno.ENOSPC, "No space left on device")),
        (3, lambda: OSError(errno.EIO, "Input/output error")),
        (5, lambda: OSError(errno.ENOSPC, "No space left on device")),
    ],
)
def test_failed_write_keeps_previous_version(
    tmp_path: Path,
    reference: list[State],
    monkeypatch: pytest.MonkeyPatch,
    fail_on_call: int,
    error: Callable[[], OSError],
) -> None:
    # One wave per run, so that a failed write leaves the whole drop unsettled.
    settings = _settings(
        tmp_path / "inbox", tmp_path / "warehouse", tmp_path / "key", batch_files=64
    )
    _drop(settings.inbox, _drop_files(0))
    run_ingest(settings)
    before = warehouse_state(settings.warehouse)
    assert before == reference[1]
    dropped = _drop(settings.inbox, _drop_files(1))
    calls = _failing_write(monkeypatch, fail_on_call, error)
    with pytest.raises(WarehouseError):
        run_ingest(settings)
    assert calls[0] == fail_on_call
    _readable_without_project_code(settings.warehouse)
    after = warehouse_state(settings.warehouse)
    for table in TABLES:
        assert after[table] in (before[table], reference[2][table])
    assert after["files"] == before["files"], "the ledger must not claim files whose data failed"
    assert _strays(settings.warehouse), "the failed write left no half-written file"
    assert _inputs(settings.inbox) >= dropped
    monkeypatch.undo()
    run_ingest(settings)
    assert warehouse_state(settings.warehouse) == reference[2]
    assert _strays(settings.warehouse) == [], "the next run did not remove the half-written file"

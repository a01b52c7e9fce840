"""Crash safety: SIGKILL at random points, full disks and I/O errors never lose or mix data.

The oracle is an uninterrupted run over the same files: the inbox is fed in waves; a reference
warehouse takes each wave in one clean in-process run and its tables are snapshotted. The warehouse
under test takes the same waves through ``mindmiles ingest --engine local`` in a subprocess that is
SIGKILLed at a random moment after it took the warehouse lock. After every kill each table must be
readable and equal either its state before that attempt or the reference state after the wave;
the run that finally completes must reach the reference state exactly, and every input file must
still exist (in the inbox, ``_processed`` or ``_quarantine``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ingest.errors import WarehouseError
from pipelines.run import run_ingest
from pipelines.settings import Settings
from pipelines.synthetic.run_model import simulate_run, write_run_fit, write_run_gpx
from warehouse.store import TableStore

TABLES = ("files", "activities", "laps", "hrv", "samples")
VOLATILE = {"files": ("received_utc",)}
"""Columns that hold the wall-clock time of a run: not part of the content compared."""
ROUNDS = 20
WAVES = 4
CLI = "import sys; from pipelines.cli import main; sys.exit(main(sys.argv[1:]))"

State = dict[str, list[tuple[Any, ...]]]


def _wave(index: int) -> dict[str, bytes]:
    """Files of one wave: two clients, a FIT and a GPX run each, one bad file every other wave."""
    files = {}
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


def _state(warehouse: Path) -> State:
    """Every table's content as sorted rows (volatile columns left out)."""
    store = TableStore(warehouse)
    state: State = {}
    for table in TABLES:
        frame = store.read(table).drop(VOLATILE.get(table, ()))
        state[table] = sorted(tuple(str(v) for v in row) for row in frame.rows())
    return state


def _readable_without_project_code(warehouse: Path) -> None:
    for table in TABLES:
        link = warehouse / table
        if link.exists():
            files = sorted(link.rglob("*.parquet"))
            assert files, table
            for file in files:
                pl.read_parquet(file)


def _settings(inbox: Path, warehouse: Path, key_file: Path) -> Settings:
    return Settings(
        inbox=inbox, warehouse=warehouse, secret="crash-test", settle_seconds=0.0, key_file=key_file
    )


def _inputs(inbox: Path) -> set[str]:
    """SHA-256 of every file anywhere under the inbox (notes aside)."""
    return {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in inbox.rglob("*")
        if p.is_file() and not p.name.endswith(".reason.txt")
    }


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[State], list[float]]:
    """Reference state after each wave, from clean in-process runs, and each run's seconds."""
    root = tmp_path_factory.mktemp("reference")
    settings = _settings(root / "inbox", root / "warehouse", root / "key")
    states, seconds = [_state(settings.warehouse)], []
    for wave in range(WAVES):
        _drop(settings.inbox, _wave(wave))
        started = time.monotonic()
        run_ingest(settings)
        seconds.append(time.monotonic() - started)
        states.append(_state(settings.warehouse))
    return states, seconds


@pytest.fixture(scope="module")
def reference(reference_runs: tuple[list[State], list[float]]) -> list[State]:
    """Reference state after each wave."""
    return reference_runs[0]


def _lock_taken(warehouse: Path) -> bool:
    lock = warehouse / ".lock"
    try:
        return lock.stat().st_size > 0
    except FileNotFoundError:
        return False


def _attempt(inbox: Path, warehouse: Path, key_file: Path, delay_s: float) -> tuple[bool, float]:
    """Run the CLI; SIGKILL it ``delay_s`` after it takes the lock. Return (completed, seconds)."""
    env = {**os.environ, "MINDMILES_SECRET": "crash-test", "MINDMILES_KEY_FILE": str(key_file)}
    argv = [sys.executable, "-c", CLI, "ingest", "--engine", "local", "--json"]
    argv += ["--inbox", str(inbox), "--warehouse", str(warehouse), "--settle-seconds", "0"]
    lock = warehouse / ".lock"
    if lock.exists():
        # A killed run leaves its name in the lock file (the flock itself died with it); empty
        # it so that the file filling up again tells us when the new run holds the lock.
        lock.write_text("")
    started = time.monotonic()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = started + 120
    while not _lock_taken(warehouse) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay_s)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    _out, err = process.communicate(timeout=120)
    seconds = time.monotonic() - started
    if process.returncode == -signal.SIGKILL:
        return False, seconds
    assert process.returncode == 0, err.decode()
    return True, seconds


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sigkill_at_random_points_converges(
    tmp_path: Path, reference_runs: tuple[list[State], list[float]]
) -> None:
    reference, run_seconds = reference_runs
    inbox, warehouse, key_file = tmp_path / "inbox", tmp_path / "warehouse", tmp_path / "key"
    dropped: set[str] = set()
    rng = random.Random(6)
    wave = 0
    dropped |= _drop(inbox, _wave(wave))
    kills = completions = 0
    started = time.monotonic()
    for _ in range(ROUNDS):
        before = _state(warehouse)
        completed, _seconds = _attempt(
            inbox, warehouse, key_file, rng.uniform(0.0, 1.2 * run_seconds[wave])
        )
        _readable_without_project_code(warehouse)
        after = _state(warehouse)
        target = reference[wave + 1]
        for table in TABLES:
            assert after[table] in (before[table], target[table]), f"{table} is half-written"
        assert _inputs(inbox) >= dropped, "an input file was lost"
        if completed:
            completions += 1
            assert after == target
            if wave + 1 < WAVES:
                wave += 1
                dropped |= _drop(inbox, _wave(wave))
        else:
            kills += 1
    # Whatever is left arrives, and one uninterrupted run converges on the reference.
    for rest in range(wave + 1, WAVES):
        dropped |= _drop(inbox, _wave(rest))
    run_ingest(_settings(inbox, warehouse, key_file))
    assert _state(warehouse) == reference[WAVES]
    assert _inputs(inbox) >= dropped
    assert not [
        p
        for p in inbox.iterdir()
        if p.is_dir() and not p.name.startswith("_") and any(f.is_file() for f in p.rglob("*"))
    ], "files left in the inbox after a complete run"
    # Temporary versions and links of killed writers are gone: one version per table remains.
    versions = warehouse / ".versions"
    for table in TABLES:
        assert len(list((versions / table).iterdir())) == 1, table
    assert not list(warehouse.glob(".*.link"))
    assert kills >= 5, f"only {kills} of {ROUNDS} attempts were interrupted"
    print(
        f"\ncrash test: {kills} kills, {completions} completions, {time.monotonic() - started:.1f} s"
    )


# -- injected disk-full and I/O errors -----------------------------------------------------------


def _failing_write(
    monkeypatch: pytest.MonkeyPatch, fail_on_call: int, make_error: Callable[[], OSError]
) -> list[int]:
    """Make the ``fail_on_call``-th table file write leave half a file and raise ``make_error()``."""
    calls = [0]
    real = TableStore._write_file

    def write(self: TableStore, frame: pl.DataFrame, path: Path) -> None:
        calls[0] += 1
        if calls[0] == fail_on_call:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"PAR1 half a file")
            raise WarehouseError("could not write a table file") from make_error()
        real(self, frame, path)

    monkeypatch.setattr(TableStore, "_write_file", write)
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
    settings = _settings(tmp_path / "inbox", tmp_path / "warehouse", tmp_path / "key")
    _drop(settings.inbox, _wave(0))
    run_ingest(settings)
    before = _state(settings.warehouse)
    assert before == reference[1]
    dropped = _drop(settings.inbox, _wave(1))
    calls = _failing_write(monkeypatch, fail_on_call, error)
    with pytest.raises(WarehouseError):
        run_ingest(settings)
    assert calls[0] == fail_on_call
    _readable_without_project_code(settings.warehouse)
    after = _state(settings.warehouse)
    for table in TABLES:
        assert after[table] in (before[table], reference[2][table])
    assert after["files"] == before["files"], "the ledger must not claim files whose data failed"
    assert not list((settings.warehouse / ".versions").rglob("*.tmp")), "half-written version left"
    assert _inputs(settings.inbox) >= dropped
    monkeypatch.undo()
    run_ingest(settings)
    assert _state(settings.warehouse) == reference[2]

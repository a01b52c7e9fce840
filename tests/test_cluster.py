"""The Dask engine on loopback: a scheduler and two workers started here, a Prefect server.

The demo clinic ingested through the cluster gives the same tables, row for row, as the local
engine; a worker SIGKILLed while it holds tasks costs a retry, nothing lost or doubled.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.cli import main
from synthetic.clinic import make_clinic
from warehouse.store import TableStore
from warehouse.tables import TABLES

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

SECRET = "cluster-test-secret-of-16-bytes"
VOLATILE = {"files": ("received_utc",)}
"""Columns holding the wall-clock time of a run: not part of the content compared."""
DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A Dask scheduler and its workers, each a process of its own on 127.0.0.1."""

    address: str
    env: dict[str, str]
    log_dir: Path
    scheduler: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{len(self.workers)}.log").open("wb")
        worker = subprocess.Popen(
            [DASK, "worker", self.address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
             "--no-dashboard", "--death-timeout", "60"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def alive_workers(self) -> int:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            return len(client.scheduler_info()["workers"])

    def wait_for_workers(self, n: int, timeout_s: float = 120) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(n, timeout=timeout_s)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in [*self.workers, self.scheduler]:
            if process is not None:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()


@pytest.fixture(scope="module")
def cluster(prefect_harness: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Scheduler and two single-thread workers; the workers report to the session's Prefect."""
    log_dir = tmp_path_factory.mktemp("dask-logs")
    port = free_port()
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_harness,
        "MINDMILES_SECRET": SECRET,
        "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
        "POLARS_MAX_THREADS": "1",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    cluster = Cluster(address=f"tcp://127.0.0.1:{port}", env=env, log_dir=log_dir)
    cluster.scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env=env, stdout=(log_dir / "scheduler.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        cluster.start_worker()
        cluster.start_worker()
        cluster.wait_for_workers(2)
        yield cluster
    finally:
        cluster.stop()


def _state(warehouse: Path) -> dict[str, list[tuple[str, ...]]]:
    store = TableStore(warehouse)
    return {
        name: sorted(
            tuple(str(v) for v in row)
            for row in store.read(name).drop(VOLATILE.get(name, ())).rows()
        )
        for name in TABLES
    }


def _ingest(inbox: Path, warehouse: Path, *engine: str) -> str:
    out = io.StringIO()
    argv = ["ingest", "--inbox", str(inbox), "--warehouse", str(warehouse), "--settle-seconds", "0"]
    assert main([*argv, *engine], out=out) == 0, out.getvalue()
    return out.getvalue()


@pytest.fixture(scope="module")
def demo_inboxes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo clinic (faults included), and the warehouse the local engine builds from it."""
    root = tmp_path_factory.mktemp("demo")
    make_clinic(root / "template", seed=7, with_faults=True)
    shutil.copytree(root / "template", root / "local-inbox")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINDMILES_SECRET", SECRET)
        patch.setenv("MINDMILES_KEY_FILE", str(root / "key"))
        _ingest(root / "local-inbox", root / "local-warehouse", "--engine", "local")
    return root / "template", root / "local-warehouse"


def test_the_cluster_builds_the_tables_the_local_engine_builds(
    cluster: Cluster,
    demo_inboxes: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_harness: str,
) -> None:
    template, local_warehouse = demo_inboxes
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    shutil.copytree(template, inbox)
    monkeypatch.setenv("MINDMILES_SECRET", SECRET)
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    _ingest(inbox, warehouse, "--engine", "dask", "--dask-address", cluster.address)
    assert _state(warehouse) == _state(local_warehouse)
    assert _dask_ran_tasks(cluster, {"parse-batch", "derive-clients"})


def _dask_ran_tasks(cluster: Cluster, names: set[str]) -> bool:
    """Whether the workers' logs show Prefect task runs of each name (they log to stdout)."""
    text = "".join(p.read_text(errors="replace") for p in cluster.log_dir.glob("worker-*.log"))
    return all(name in text for name in names)


def test_a_worker_killed_mid_run_costs_a_retry_not_data(
    cluster: Cluster,
    demo_inboxes: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefect_harness: str,
) -> None:
    from distributed import Client

    template, local_warehouse = demo_inboxes
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    shutil.copytree(template, inbox)
    monkeypatch.setenv("MINDMILES_SECRET", SECRET)
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("PREFECT_API_URL", prefect_harness)
    killed: list[str] = []
    finished = threading.Event()

    def kill_a_busy_worker() -> None:
        with Client(cluster.address, timeout=30) as client:
            pids = client.run(os.getpid)
            while not finished.is_set():
                busy = [address for address, tasks in client.processing().items() if tasks]
                if busy:
                    time.sleep(0.3)  # well into its task
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    killed.append(busy[0])
                    return
                time.sleep(0.01)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    try:
        _ingest(inbox, warehouse, "--engine", "dask", "--dask-address", cluster.address)
    finally:
        finished.set()
        killer.join()
        cluster.start_worker()  # back to two for whatever runs next
    assert killed, "no worker was caught with a batch in hand"
    assert _state(warehouse) == _state(local_warehouse)

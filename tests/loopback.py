"""Servers on 127.0.0.1 for the tests and the benchmarks: a Dask cluster and an S3 API (moto).

Each is a process of its own, started and stopped here; nothing listens beyond loopback.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DaskCluster", "dask_cluster", "free_port", "moto_server"]

DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DaskCluster:
    """A Dask scheduler and single-thread workers, each a process of its own."""

    address: str
    env: dict[str, str]
    log_dir: Path
    scheduler: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[bytes]:
        """Start one more worker (its output goes to ``worker-<n>.log``)."""
        log = (self.log_dir / f"worker-{len(self.workers)}.log").open("wb")
        worker = subprocess.Popen(
            [DASK, "worker", self.address, "--nthreads", "1", "--no-nanny", "--host", "127.0.0.1",
             "--no-dashboard", "--death-timeout", "60"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, n: int, timeout_s: float = 120) -> None:
        """Return once ``n`` workers have joined the scheduler."""
        from distributed import Client

        with Client(self.address, timeout=30) as client:  # type: ignore[no-untyped-call]
            client.wait_for_workers(n, timeout=timeout_s)

    def stop(self) -> None:
        """Kill the workers (their parsing children end with their pipe), stop the scheduler."""
        for process in self.workers:
            if process.poll() is None:
                process.kill()
        if self.scheduler is not None and self.scheduler.poll() is None:
            self.scheduler.terminate()
        for process in [*self.workers, *([self.scheduler] if self.scheduler else [])]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def dask_cluster(workers: int, env: dict[str, str], log_dir: Path) -> Iterator[DaskCluster]:
    """A scheduler and ``workers`` single-thread workers on a free port, stopped on exit."""
    port = free_port()
    cluster = DaskCluster(address=f"tcp://127.0.0.1:{port}", env=env, log_dir=log_dir)
    cluster.scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env=env, stdout=(log_dir / "scheduler.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for _ in range(workers):
            cluster.start_worker()
        cluster.wait_for_workers(workers)
        yield cluster
    finally:
        cluster.stop()


@contextmanager
def moto_server(log: Path) -> Iterator[dict[str, str]]:
    """``python -m moto.server`` on a free port; yields the ``AWS_*`` variables that reach it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.2)
        yield {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "mindmiles-test",
            "AWS_SECRET_ACCESS_KEY": "mindmiles-test",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    finally:
        process.terminate()
        process.wait(timeout=20)

"""A pre-warmed fork server that runs ingestions for the crash-safety and concurrency tests.

Starting a fresh ``python`` for each run costs 2.5-5 s of imports (Polars, pandera, DuckDB)
before the run even begins. Instead a test starts this module once (``python -m
tests.crash_child``); it imports the pipeline, then for each request read on stdin forks a child
that calls :func:`pipelines.run.run_ingest` directly (parsing serially, in that process). A fork
costs a few milliseconds; each child is a real, separate process, several can run at once, and a
test kills them with a real ``SIGKILL``.

Forking a process whose libraries run threads is only safe while those threads hold no lock the
child needs. Importing Polars starts no compute pool, but it does start idle helper threads
(``polars-ooc-cleaner``, jemalloc's background threads; NumPy's OpenBLAS one more); before every
fork the server checks that it has no other kind of thread and that all of them are asleep, and
refuses to fork otherwise.

Protocol, one line each way (a child's lines are shorter than ``PIPE_BUF``, so never torn)::

    test -> server   {"inbox": ..., "warehouse": ..., "key_file": ..., "secret": ..., ...}
    server -> test   ready                          once, after the imports
    server -> test   refused <json reasons>         instead of forking
    child -> test    go <pid>                       just before run_ingest is called
    child -> test    stage <pid> <stage> <detail>   parse, write, settle, derive or publish,
                                                   and the table or function it starts (or
                                                   ``file``: a table version's file)
    child -> test    summary <pid> <json>           run_ingest returned this RunSummary
    child -> test    error <pid> <json traceback>   run_ingest raised
    server -> test   exit <pid> <wait status>       the child is gone (killed or finished)
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.fork_server import unsafe_threads

__all__ = ["Aim", "Attempt", "Child", "ForkServer", "serve"]

ROOT = Path(__file__).resolve().parents[1]
STAGE_OF_CALL = {
    ("pipelines.run", "parse_serially"): "parse",
    ("pipelines.run", "derive_for_clients"): "derive",
    ("pipelines.run", "write_database"): "publish",
    ("pipelines.reports", "write_reports"): "publish",
}
"""Module-level functions wrapped in the child to report which stage it is in."""


def _say(line: str) -> None:
    """Write one line to stdout with a single ``write`` (atomic below ``PIPE_BUF``)."""
    data = (line + "\n").encode()
    while data:
        data = data[os.write(1, data) :]


def _instrument() -> None:
    """In the child: report on stdout each stage of the run, and what it writes, as it starts.

    A table written while deriving or publishing belongs to that stage; otherwise writing the
    ``files`` ledger and moving files is *settling* a wave, and any other table is *writing*.
    """
    import importlib

    from warehouse.inbox import Inbox
    from warehouse.store import TableStore

    phase = ["start"]

    def enter(stage: str, detail: str) -> None:
        phase[0] = stage
        _say(f"stage {os.getpid()} {stage} {detail}")

    def on_table(table: str) -> None:
        if phase[0] in ("derive", "publish"):
            enter(phase[0], table)
        else:
            enter("settle" if table == "files" else "write", table)

    def wrap(before: Callable[..., None], function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            before(*args, **kwargs)
            return function(*args, **kwargs)

        return wrapper

    for (module_name, name), stage in STAGE_OF_CALL.items():
        module = importlib.import_module(module_name)
        hook = wrap(lambda *_a, _s=stage, _n=name, **_k: enter(_s, _n), getattr(module, name))
        setattr(module, name, hook)
    for method in ("upsert", "replace", "replace_clients"):
        hook = wrap(lambda _self, table, *_a, **_k: on_table(table), getattr(TableStore, method))
        setattr(TableStore, method, hook)
    # within a table write, the moment its new files are written (not committed yet: a kill
    # now leaves files that no version references)
    hook = wrap(lambda *_a, **_k: enter(phase[0], "file"), TableStore._write)
    setattr(TableStore, "_write", hook)  # noqa: B010  (a private method, named)
    for method in ("move_processed", "quarantine"):
        hook = wrap(lambda *_a, _m=method, **_k: enter("settle", _m), getattr(Inbox, method))
        setattr(Inbox, method, hook)


def _child(request: dict[str, Any]) -> int:
    from pipelines.run import run_ingest
    from pipelines.settings import Settings

    who = request.pop("who", "forked test run")
    settings = Settings(
        inbox=Path(request.pop("inbox")),
        warehouse=Path(request.pop("warehouse")),
        key_file=Path(request.pop("key_file")),
        **request,
    )
    _instrument()
    _say(f"go {os.getpid()}")
    try:
        summary = run_ingest(settings, who=who)
    except BaseException:
        _say(f"error {os.getpid()} {json.dumps(traceback.format_exc())}")
        return 1
    _say(f"summary {os.getpid()} {summary.to_json()}")
    return 0


def _fork(request: dict[str, Any]) -> int | None:
    """Fork a child for ``request``; ``None`` when forking now would be unsafe (said on stdout)."""
    bad = unsafe_threads()
    if bad:
        _say(f"refused {json.dumps(bad)}")
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the server's loop
        code = 1
        try:
            code = _child(request)
        finally:
            os._exit(code)
    return pid


def serve() -> int:
    """Run the fork server on stdin/stdout until stdin closes and every child is gone."""
    import pipelines.run  # noqa: F401  (the imports every child would otherwise repeat)
    import warehouse.sql  # noqa: F401

    _say("ready")
    pending, reading = b"", True
    children: set[int] = set()
    while reading or children:
        if reading and select.select([0], [], [], 0.005 if children else None)[0]:
            chunk = os.read(0, 65536)
            reading = bool(chunk)
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                pid = _fork(json.loads(line))
                if pid is not None:
                    children.add(pid)
        elif not reading:
            time.sleep(0.005)
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            children.discard(pid)
            _say(f"exit {pid} {status}")
    return 0


@dataclass
class Child:
    """One forked run, as the test sees it."""

    pid: int
    started: float
    """``time.monotonic()`` when it said ``go``."""
    stages: list[tuple[str, str]] = field(default_factory=list)
    """Every (stage, detail) it reported, in order."""
    summary: dict[str, Any] | None = None
    """What ``run_ingest`` returned, when it did."""
    error: str | None = None
    status: int | None = None
    """Its wait status, once it is gone."""

    @property
    def killed(self) -> bool:
        """It died of SIGKILL."""
        return (
            self.status is not None
            and os.WIFSIGNALED(self.status)
            and os.WTERMSIG(self.status) == signal.SIGKILL
        )

    @property
    def succeeded(self) -> bool:
        """It exited with status 0."""
        return (
            self.status is not None
            and os.WIFEXITED(self.status)
            and os.WEXITSTATUS(self.status) == 0
        )


@dataclass
class Attempt:
    """What happened to one forked run."""

    completed: bool
    """It finished before the kill (exit status 0)."""
    stage: str
    """The stage the child last reported: ``start`` when it was killed before any."""
    seconds: float
    """From ``go`` to its end."""
    stages: list[tuple[str, str]] = field(default_factory=list)
    """Every (stage, detail) the child reported, in order."""


@dataclass(frozen=True)
class Aim:
    """Kill ``after_s`` seconds after the run first enters ``stage`` (at ``detail``, if given)."""

    stage: str
    after_s: float
    detail: str | None = None


@dataclass
class ForkServer:
    """The test's side: start the server, fork runs, kill them after a delay."""

    stderr_path: Path
    process: subprocess.Popen[bytes] | None = None
    _buffer: bytes = b""
    _ready: bool = False
    _children: dict[int, Child] = field(default_factory=dict)
    _pidfds: dict[int, int] = field(default_factory=dict)
    _new: list[Child] = field(default_factory=list)

    def launch(self) -> None:
        """Start the server process; it imports the pipeline while the caller goes on."""
        with self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.crash_child"],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )

    def wait_ready(self, *, timeout_s: float = 120.0) -> None:
        """Wait until the server's imports are done (once)."""
        if self._ready:
            return
        first = self._line(timeout_s)
        if first != "ready":
            raise RuntimeError(f"fork server did not start: {first!r}\n{self._stderr()}")
        self._ready = True

    def stop(self) -> None:
        """Close the server's stdin and wait for it (it ends its loop)."""
        if self.process is None:
            return
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    def _stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-4000:]

    def _fd(self) -> int:
        assert self.process is not None
        assert self.process.stdout is not None
        return self.process.stdout.fileno()

    def _line(self, timeout_s: float) -> str:
        fd = self._fd()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"no word from the fork server in {timeout_s} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"the fork server died:\n{self._stderr()}")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode()

    def _pump(self, timeout_s: float) -> bool:
        """Take one line from the server and file it under its child; ``False`` on timeout."""
        if b"\n" not in self._buffer and not select.select([self._fd()], [], [], timeout_s)[0]:
            return False
        word, rest = self._line(timeout_s).split(" ", 1)
        if word == "refused":
            raise RuntimeError(f"the fork server refused to fork: {rest}")
        pid_text, _, data = rest.partition(" ")
        if word == "go":  # a new child (a number of one that has ended may come again)
            self._children[int(pid_text)] = Child(int(pid_text), time.monotonic())
            self._new.append(self._children[int(pid_text)])
            return True
        child = self._children[int(pid_text)]
        if word == "stage":
            stage, detail = data.split(" ", 1)
            child.stages.append((stage, detail))
        elif word == "summary":
            child.summary = json.loads(data)
        elif word == "error":
            child.error = json.loads(data)
        elif word == "exit":
            child.status = int(data)
        return True

    def start(self, request: dict[str, Any], *, timeout_s: float = 120.0) -> Child:
        """Fork a run of :func:`pipelines.run.run_ingest` with these settings; return once it runs.

        ``request`` holds :class:`pipelines.settings.Settings` fields (paths as strings) and
        optionally ``who`` (the name the run leaves in the lock file).
        """
        self.wait_ready()
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout_s
        while not self._new:  # one request at a time: the next child to say go is this one
            if not self._pump(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"the forked run did not start in {timeout_s} s")
        child = self._new.pop()
        # A pidfd names this very process even once it has ended and its number is reused.
        self._pidfds[child.pid] = os.pidfd_open(child.pid)
        return child

    def kill(self, child: Child) -> None:
        """SIGKILL the child (nothing happens when it has ended already)."""
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self._pidfds[child.pid], signal.SIGKILL)

    def wait(self, child: Child, *, timeout_s: float = 120.0) -> Child:
        """Wait until the child is gone."""
        deadline = time.monotonic() + timeout_s
        while child.status is None:
            if not self._pump(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"the forked run {child.pid} did not end in {timeout_s} s")
        os.close(self._pidfds.pop(child.pid))
        return child

    def attempt(
        self,
        request: dict[str, Any],
        *,
        kill_after_s: float | None = None,
        aim: Aim | None = None,
        timeout_s: float = 120.0,
    ) -> Attempt:
        """Fork one run and SIGKILL it, unless it finishes first.

        The kill comes ``kill_after_s`` after the child said ``go``, or as ``aim`` says (the
        test reads the child's stage reports as they come); with neither, the run is not killed.

        Raises
        ------
        RuntimeError
            The server refused to fork, or the run failed on its own.
        """
        child = self.start(request, timeout_s=timeout_s)
        kill_at = None if kill_after_s is None else child.started + kill_after_s
        deadline, seen = time.monotonic() + timeout_s, 0
        while child.status is None:
            now = time.monotonic()
            if kill_at is not None and now >= kill_at:
                self.kill(child)
                kill_at = None
            if now > deadline:
                raise TimeoutError(f"the forked run {child.pid} did not end in {timeout_s} s")
            self._pump(max(0.0, min(deadline, kill_at or deadline) - now))
            for stage, detail in child.stages[seen:]:
                if aim is not None and stage == aim.stage and aim.detail in (None, detail):
                    kill_at, aim = time.monotonic() + aim.after_s, None
            seen = len(child.stages)
        self.wait(child)
        if not (child.killed or child.succeeded):
            raise RuntimeError(
                f"run failed (wait status {child.status}):\n{child.error}\n{self._stderr()}"
            )
        last = child.stages[-1][0] if child.stages else "start"
        return Attempt(child.succeeded, last, time.monotonic() - child.started, list(child.stages))


if __name__ == "__main__":
    sys.exit(serve())

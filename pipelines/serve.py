"""``mindmiles serve``: the nightly run and the folder watch as Prefect deployments.

One process does three things until Ctrl-C (SIGINT) or SIGTERM:

- connects to the Prefect server named by ``PREFECT_API_URL``, or starts one (``prefect server
  start`` in a child process on localhost, its database under ``PREFECT_HOME``) and stops it on exit;
- serves two deployments of the flow ``mindmiles-ingest`` (:func:`pipelines.flows.ingest_flow`):
  ``nightly`` on a cron schedule (default 02:00 in the chosen timezone), run by Prefect's runner in
  a fresh flow-run process, and ``folder-watch``, which has no schedule and is started by the watch;
- runs the folder watch (:class:`pipelines.watch.InboxWatcher`) in a thread: it ``stat``s the inbox
  every ``--poll-seconds`` (default 1 s) and, only when a new file has stopped changing, creates one
  flow run of ``folder-watch``, runs it, and looks again. With nothing new it starts no run at all.
  Files that arrive during a run are taken by the next one (never lost: runs are serialised by the
  warehouse lock and each file is judged once by the run that finds it).

A watch run is *quick*: the flow run is created from the ``folder-watch`` deployment (so the UI
lists it under its deployment, with its logs and its ``ingest-summary`` artifact) in the state
``Pending``, which the runner never picks up, and the watch thread runs it at once in this process,
where Prefect, Polars and the flow are already imported. A fresh flow-run process would first spend
about 8 s importing them. When the new files are large (more than ``--in-process-max-mb`` in all,
e.g. a whole-account export), the watch asks the runner instead (``run_deployment``): that run gets
a fresh process whose memory is returned when it ends, and is serialised with the nightly run by
the runner's limit.

The history is kept short: flow runs of ``mindmiles-ingest`` that ended more than ``--keep-days``
ago are deleted at start and once a day (:func:`prune_flow_runs`).
"""

from __future__ import annotations

import argparse
import contextvars
import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from pipelines.logs import add_verbosity_arguments, configure_logging, console_level
from pipelines.options import existing_inbox, number_in
from pipelines.settings import Settings
from pipelines.watch import InboxWatcher
from schemas.errors import ConfigError, MindmilesError

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.deployments.runner import RunnerDeployment

    from pipelines.isolation import IsolatedParser

__all__ = [
    "FLOW_NAME",
    "NIGHTLY",
    "WATCH",
    "EmbeddedServer",
    "ServeOptions",
    "build_deployments",
    "prune_flow_runs",
    "serve_main",
]

log = logging.getLogger("pipelines.serve")  # also when run as __main__

FLOW_NAME = "mindmiles-ingest"
NIGHTLY = "nightly"
WATCH = "folder-watch"
DEFAULT_CRON = "0 2 * * *"
PROJECT_LOGGERS = ("pipelines", "warehouse", "ingest", "transform")
"""Module loggers whose records also go to the Prefect run logs (they carry counts, never codes)."""
SERVER_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # removes the logs and artifacts of flow runs that pruning deleted
    "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,orphans",
}
"""Settings for an embedded server (the user's own settings win)."""
TERMINAL_STATES = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
PRUNE_EVERY_S = 24 * 3600.0
WARM_WORKERS = 2
"""Parsing workers the serving process keeps started for quick watch runs."""
SETTLE_MARGIN_S = 0.05
"""Looked at this long after a waiting file's settle time ends (clock granularity)."""


@dataclass(frozen=True)
class ServeOptions:
    """What ``mindmiles serve`` was asked to do."""

    settings: Settings
    cron: str = DEFAULT_CRON
    timezone: str = "UTC"
    poll_seconds: float = 1.0
    """How often the watch ``stat``s the inbox; a file is ready after two equal looks."""
    in_process_max_bytes: int = 256 * 1024 * 1024
    """New files of at most this many bytes in all are taken in by a run in this process."""
    host: str = "127.0.0.1"
    port: int = 4200
    """Port of an embedded server (0: any free port)."""
    keep_days: float = 30.0
    """Flow runs that ended longer ago than this are deleted."""
    server_timeout_s: float = 180.0
    dask_address: str | None = None
    """Run the flows' tasks on this Dask scheduler (``--engine dask``)."""
    log_file: Path | None = None
    """Where this process's log is also written (``<warehouse>/.state/logs/mindmiles.log``)."""


# -- the embedded Prefect server -------------------------------------------------------------------
def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class EmbeddedServer:
    """A ``prefect server start`` child process on localhost (started by :meth:`running`).

    Parameters
    ----------
    host, port
        Where it listens; ``port`` 0 picks a free port.
    timeout_s
        How long to wait for ``/api/health`` to answer before giving up.
    """

    def __init__(self, *, host: str, port: int, timeout_s: float) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.timeout_s = timeout_s
        self.start_seconds = 0.0
        """How long the server took to answer its health check."""

    @property
    def api_url(self) -> str:
        """``http://<host>:<port>/api``."""
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        """The UI's address."""
        return f"http://{self.host}:{self.port}"

    @contextmanager
    def running(self) -> Iterator[EmbeddedServer]:
        """Start the server, yield once it answers, stop it (and its children) on exit.

        Raises
        ------
        ConfigError
            The port already serves a Prefect API.
        RuntimeError
            The server exited or did not answer within ``timeout_s``.
        """
        if _healthy(self.api_url):
            raise ConfigError(
                f"port {self.port} already serves a Prefect API: set PREFECT_API_URL to use that "
                "server, or give another --port (0: any free port)"
            )
        env = {**SERVER_ENV, **os.environ}
        env.pop("PREFECT_API_URL", None)
        command = [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        started = time.monotonic()
        # own session: a Ctrl-C on the terminal reaches us, and we stop the server in order
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        try:
            while not _healthy(self.api_url):
                if process.poll() is not None:
                    error = (
                        process.stderr.read().decode(errors="replace")[-2000:]
                        if process.stderr
                        else ""
                    )
                    raise RuntimeError(f"the Prefect server exited ({process.returncode}): {error}")
                if time.monotonic() - started > self.timeout_s:
                    raise RuntimeError(
                        f"the Prefect server did not answer within {self.timeout_s:.0f} s"
                    )
                time.sleep(0.25)
            self.start_seconds = time.monotonic() - started
            if process.stderr is not None:
                # never read again: send its output nowhere so that a full pipe cannot block it
                threading.Thread(target=process.stderr.read, daemon=True).start()
            yield self
        finally:
            _stop_group(process)


def _die_with_parent() -> None:
    """In the server's child process (Linux): get SIGTERM when the serving process dies.

    Without it, a serving process killed with SIGKILL would leave the server running; a stop by
    Ctrl-C or SIGTERM stops it in order anyway (:func:`_stop_group`).
    """
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop_group(process: subprocess.Popen[bytes], grace_s: float = 15.0) -> None:
    """SIGTERM the child's process group (it is its own session), then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace_s)
    except ProcessLookupError:
        return


# -- deployments and history ------------------------------------------------------------------------
def build_deployments(options: ServeOptions) -> tuple[RunnerDeployment, RunnerDeployment]:
    """The ``nightly`` (cron) and ``folder-watch`` (started by the watch) deployments."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from pipelines.flows import ingest_flow

    parameters = {
        "inbox": str(options.settings.inbox),
        "warehouse": str(options.settings.warehouse),
        "settle_seconds": options.settings.settle_seconds,
        "config": str(options.settings.config_file) if options.settings.config_file else None,
        "dask_address": options.dask_address,
    }
    nightly = ingest_flow.to_deployment(
        name=NIGHTLY,
        schedules=[Cron(options.cron, timezone=options.timezone)],
        parameters=parameters,
        description=f"Full run of the inbox at '{options.cron}' ({options.timezone}).",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    watch = ingest_flow.to_deployment(
        name=WATCH,
        parameters=parameters,
        description="Started by the folder watch when new files have stopped changing.",
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    return _sync(nightly), _sync(watch)


def _sync(value: object) -> RunnerDeployment:
    """``to_deployment`` is sync-or-async; called from sync code it returns the deployment."""
    from prefect.deployments.runner import RunnerDeployment

    if not isinstance(value, RunnerDeployment):
        raise TypeError(f"expected a RunnerDeployment, got {type(value).__name__}")
    return value


def prune_flow_runs(
    client: SyncPrefectClient, *, ended_before: dt.datetime, page: int = 200
) -> int:
    """Delete the finished ``mindmiles-ingest`` flow runs that ended before ``ended_before``.

    Task runs go with their flow run; the server's vacuum service removes their logs and artifacts.
    Runs of other flows on a shared server are left alone.

    Returns
    -------
    int
        Flow runs deleted.
    """
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterEndTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    run_filter = FlowRunFilter(
        end_time=FlowRunFilterEndTime.model_validate({"before_": ended_before}),
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType(s) for s in TERMINAL_STATES])
        ),
    )
    flow_filter = FlowFilter(name=FlowFilterName(any_=[FLOW_NAME]))
    deleted = 0
    while True:
        runs = client.read_flow_runs(
            flow_filter=flow_filter, flow_run_filter=run_filter, limit=page
        )
        for run in runs:
            client.delete_flow_run(run.id)
        deleted += len(runs)
        if len(runs) < page:
            return deleted


# -- the folder watch ------------------------------------------------------------------------------
class WatchLoop:
    """The watch thread: poll, start a ``folder-watch`` run for ready files, wait for it, repeat.

    Parameters
    ----------
    watcher
        The inbox poller.
    options
        Poll interval and history to keep.
    """

    def __init__(self, watcher: InboxWatcher, options: ServeOptions) -> None:
        self.watcher = watcher
        self.options = options
        self.stop = threading.Event()
        self._next_prune = 0.0
        self.parser: IsolatedParser | None = None
        """The quick runs' parsing workers (while :meth:`run` runs)."""

    def run(self) -> None:
        """Loop until :attr:`stop` is set (the serving process's main thread sets it)."""
        from prefect.client.orchestration import get_client

        from pipelines.isolation import IsolatedParser

        # parsing workers for the quick runs, started now so that the first drop finds them ready
        with get_client(sync_client=True) as client, IsolatedParser() as self.parser:
            self.parser.warm(WARM_WORKERS)
            while not self.stop.is_set():
                wait = self.options.poll_seconds
                try:
                    wait = self._step(client)
                except Exception:
                    # the watch must outlive a server hiccup; the error is logged in full
                    log.exception("the folder watch failed a step; it tries again")
                self.stop.wait(wait)

    def _step(self, client: SyncPrefectClient) -> float:
        """One look (and a run when files are ready); returns how long to wait before the next."""
        if time.monotonic() >= self._next_prune:
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.options.keep_days)
            deleted = prune_flow_runs(client, ended_before=cutoff)
            log.info(
                "history: %d flow run(s) older than %g days deleted",
                deleted,
                self.options.keep_days,
            )
            self._next_prune = time.monotonic() + PRUNE_EVERY_S
        poll = self.watcher.poll()
        if poll.ready:
            self._start_run(client, poll.ready, poll.waiting)
            return 0.0  # files that arrived during the run: looked at at once
        if poll.settles_in is not None:  # a copy seemingly over: look again as it settles
            return max(
                SETTLE_MARGIN_S, min(self.options.poll_seconds, poll.settles_in + SETTLE_MARGIN_S)
            )
        return self.options.poll_seconds

    def _start_run(self, client: SyncPrefectClient, ready: tuple[Path, ...], waiting: int) -> None:
        size = sum(_size(path) for path in ready)
        in_process = size <= self.options.in_process_max_bytes
        log.info(
            "folder watch: %d new file(s) ready, %.1f MB (%d still arriving); starting a run %s",
            len(ready),
            size / 1e6,
            waiting,
            "in this process" if in_process else "in a flow-run process",
        )
        name = f"watch-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{len(ready)}-files"
        # ready files are handled once a run was started for them, whatever its outcome: a failed
        # run shows in the UI, and the nightly run takes what it left
        if in_process:
            self._run_here(client, name, ready)
        else:
            self._run_in_runner(client, name, ready)

    def _run_here(self, client: SyncPrefectClient, name: str, ready: tuple[Path, ...]) -> None:
        """Create a ``folder-watch`` flow run (``Pending``: not the runner's) and run it here."""
        from prefect.client.schemas.objects import State
        from prefect.flow_engine import run_flow_sync
        from prefect.states import Pending

        from pipelines.flows import WARM_PARSER, ingest_flow

        # not registered yet (the runner starts alongside): this raises, and the next poll retries
        deployment = client.read_deployment_by_name(f"{FLOW_NAME}/{WATCH}")
        flow_run = client.create_flow_run_from_deployment(
            deployment.id, name=name, state=Pending(), parameters=dict(deployment.parameters)
        )
        self.watcher.mark_handled(ready)
        lent = WARM_PARSER.set(self.parser)
        try:
            state = run_flow_sync(
                ingest_flow,
                flow_run=flow_run,
                parameters=dict(flow_run.parameters),
                return_type="state",
            )
        finally:
            WARM_PARSER.reset(lent)
        if isinstance(state, State):
            _log_end(name, state.type.value, state)
        else:  # return_type="state" always gives a state
            _log_end(name, "UNKNOWN", state)

    def _run_in_runner(self, client: SyncPrefectClient, name: str, ready: tuple[Path, ...]) -> None:
        """Ask the runner for a ``folder-watch`` run (a fresh process) and wait for it to end."""
        from prefect.client.schemas.objects import FlowRun
        from prefect.deployments import run_deployment

        flow_run = run_deployment(
            f"{FLOW_NAME}/{WATCH}", timeout=0, as_subflow=False, flow_run_name=name
        )
        if not isinstance(flow_run, FlowRun):
            raise TypeError(f"run_deployment returned {type(flow_run).__name__}, not a FlowRun")
        self.watcher.mark_handled(ready)
        while not self.stop.wait(min(2.0, self.options.poll_seconds)):
            state = client.read_flow_run(flow_run.id).state
            if state is not None and state.type.value in TERMINAL_STATES:
                _log_end(name, state.type.value, state)
                return


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _log_end(name: str, state_type: str, state: object) -> None:
    if state_type == "COMPLETED":
        log.info("folder watch: run %s completed", name)
    else:
        log.error(
            "folder watch: run %s ended %s: %s", name, state_type, getattr(state, "message", "")
        )


# -- entry point -----------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mindmiles serve",
        description="Serve the nightly run and the folder watch as Prefect deployments (Ctrl-C stops).",
    )
    add_serve_arguments(parser)
    add_verbosity_arguments(parser)
    return parser


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser`` (shared with the ``mindmiles serve`` sub-command)."""
    parser.add_argument("--inbox", help="the drop folder (or MINDMILES_INBOX)")
    parser.add_argument("--warehouse", help="the Parquet warehouse (or MINDMILES_WAREHOUSE)")
    parser.add_argument(
        "--config", help="TOML file of thresholds (or MINDMILES_CONFIG; see transform/config.py)"
    )
    parser.add_argument(
        "--cron", default=DEFAULT_CRON, help="schedule of the nightly run (default: 0 2 * * *)"
    )
    parser.add_argument(
        "--timezone",
        default=os.environ.get("MINDMILES_TIMEZONE", "UTC"),
        help="IANA timezone of --cron (or MINDMILES_TIMEZONE; default UTC)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=number_in(0.1, 3600),
        default=1.0,
        help="how often the folder watch looks at the inbox (default 1)",
    )
    parser.add_argument(
        "--in-process-max-mb",
        type=number_in(0, 100_000),
        default=256.0,
        help="new files of at most this many MB in all are taken in by a quick run inside the "
        "serving process; larger drops get a flow-run process of their own (default 256)",
    )
    parser.add_argument(
        "--settle-seconds",
        type=number_in(0, 3600),
        default=2.0,
        help="files modified more recently than this wait for a later look",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address of an embedded Prefect server")
    parser.add_argument(
        "--engine",
        choices=["prefect", "dask"],
        default="prefect",
        help="dask: the deployments' tasks run on a Dask cluster (--dask-address)",
    )
    parser.add_argument(
        "--dask-address", help="the Dask scheduler, tcp://HOST:PORT (or MINDMILES_DASK_ADDRESS)"
    )
    parser.add_argument(
        "--port",
        type=number_in(0, 65535, integer=True),
        default=4200,
        help="port of an embedded Prefect server (0: any free port; default 4200)",
    )
    parser.add_argument(
        "--keep-days",
        type=number_in(0.01, 36500),
        default=30.0,
        help="delete flow runs that ended longer ago than this (default 30)",
    )


def check_schedule(cron: str, timezone: str) -> None:
    """Refuse a cron expression or a timezone that Prefect would refuse, in one line.

    Raises
    ------
    ConfigError
        ``timezone`` is not an IANA name, or ``cron`` is not a five-field cron expression.

    Examples
    --------
    >>> check_schedule("0 2 * * *", "Europe/London")
    >>> check_schedule("0 25 * * *", "UTC")
    Traceback (most recent call last):
    ...
    schemas.errors.ConfigError: --cron '0 25 * * *' is not a cron schedule ...
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"--timezone {timezone} is not an IANA timezone name (e.g. Europe/London, "
            "America/New_York; see `timedatectl list-timezones`)"
        ) from None
    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValidationError:
        raise ConfigError(
            f"--cron {cron!r} is not a cron schedule (five fields: minute 0-59, hour 0-23, "
            "day of month, month, day of week; e.g. '0 2 * * *' for 02:00 every day)"
        ) from None


def next_runs(cron: str, timezone: str, *, count: int = 2) -> list[dt.datetime]:
    """The next ``count`` times of the schedule, in ``timezone``, as Prefect's scheduler sees them."""
    import asyncio
    from zoneinfo import ZoneInfo

    from prefect.server.schemas.schedules import CronSchedule

    dates = asyncio.run(CronSchedule(cron=cron, timezone=timezone).get_dates(n=count))
    return [date.astimezone(ZoneInfo(timezone)) for date in dates]


def options_from_args(args: argparse.Namespace) -> ServeOptions:
    """Typed options from parsed arguments (the inbox and warehouse fall back on the environment).

    Everything is checked here, before a server starts: a bad value is one line (exit 1).
    """
    check_schedule(args.cron, args.timezone)  # an unknown zone fails here, not at 02:00
    settings = Settings.from_options(
        inbox=args.inbox,
        warehouse=args.warehouse,
        config=args.config,
        settle_seconds=args.settle_seconds,
    )
    existing_inbox(
        settings.inbox,
        remote="serve watches a local inbox folder; schedule `mindmiles ingest` for this one "
        "(see docs/operations.md)",
    )
    address = None
    if args.engine == "dask":
        address = args.dask_address or os.environ.get("MINDMILES_DASK_ADDRESS")
        if not address:
            raise ConfigError("--engine dask needs --dask-address tcp://HOST:PORT")
    return ServeOptions(
        settings=settings,
        cron=args.cron,
        timezone=args.timezone,
        poll_seconds=args.poll_seconds,
        in_process_max_bytes=int(args.in_process_max_mb * 1024 * 1024),
        host=args.host,
        port=args.port,
        keep_days=args.keep_days,
        dask_address=address,
    )


def banner(options: ServeOptions, *, ui_url: str, log_file: Path | None) -> str:
    """What ``serve`` prints at start: the UI, the deployments and their schedules, the logs."""
    upcoming = ", ".join(
        f"{t:%a %Y-%m-%d %H:%M %Z}" for t in next_runs(options.cron, options.timezone)
    )
    files = f"; also {log_file}" if log_file is not None else ""
    lines = [
        "mindmiles serve",
        f"  Prefect UI     {ui_url}  (flow runs, their logs and run records)",
        f"  {FLOW_NAME}/{NIGHTLY}       cron '{options.cron}' in {options.timezone}: next {upcoming}",
        f"  {FLOW_NAME}/{WATCH}  when a new file in {options.settings.inbox} has stopped "
        f"changing (looked at every {options.poll_seconds:g} s)",
        f"  logs           this terminal (stderr){files}; each run's log in the UI",
        "  Ctrl-C stops.",
    ]
    return "\n".join(lines) + "\n"


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(options: ServeOptions, *, out: TextIO | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM; return the exit code (0 after a clean stop).

    Once the server answers and the deployments are built, :func:`banner` goes to ``out``
    (stdout).
    """
    out = out or sys.stdout
    from prefect import serve as prefect_serve  # configures Prefect's logging in this process
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # read by the flow-run processes only: this one has its logging set up already, and its own
    # records (outside any flow run) cannot go to the API
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", ",".join(PROJECT_LOGGERS))
    # Ctrl-C stops us even when started with SIGINT ignored (a background job of a script);
    # until the runner installs its own handler, SIGTERM stops us like Ctrl-C does
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    with ExitStack() as stack:
        api_url = os.environ.get("PREFECT_API_URL")
        if api_url:
            log.info("using the Prefect server at %s", api_url)
            ui_url = api_url.removesuffix("/").removesuffix("/api")
        else:
            server = stack.enter_context(
                EmbeddedServer(
                    host=options.host, port=options.port, timeout_s=options.server_timeout_s
                ).running()
            )
            api_url, ui_url = server.api_url, server.ui_url
            os.environ["PREFECT_API_URL"] = api_url  # for the flow-run processes the runner starts
            log.info(
                "Prefect server started in %.1f s; UI at %s", server.start_seconds, server.ui_url
            )
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api_url}))
        nightly, watch = build_deployments(options)
        loop = WatchLoop(
            InboxWatcher(
                Path(options.settings.inbox), settle_seconds=options.settings.settle_seconds
            ),
            options,
        )
        thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(loop.run,),
            name="mindmiles-watch",
            daemon=True,
        )
        thread.start()
        out.write(banner(options, ui_url=ui_url, log_file=options.log_file))
        out.flush()
        log.info(
            "serving: nightly at '%s' (%s), folder watch every %g s; Ctrl-C stops",
            options.cron,
            options.timezone,
            options.poll_seconds,
        )
        try:
            prefect_serve(
                nightly,
                watch,
                limit=1,
                print_starting_message=False,
                query_seconds=max(1.0, min(5.0, options.poll_seconds)),
            )
        except KeyboardInterrupt:
            pass
        finally:
            loop.stop.set()
            thread.join(timeout=30)
    log.info("stopped")
    return 0


def serve_from_args(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Check the options (one line and exit 1 when refused), set up logging, then serve.

    Raises
    ------
    ConfigError
        An option is refused (:func:`options_from_args`).
    """
    options = options_from_args(args)
    log_file = configure_logging(
        console_level(args.verbose, quiet=args.quiet, default=logging.INFO),
        warehouse=options.settings.warehouse,
        own_console=True,
    )
    return serve(replace(options, log_file=log_file), out=out)


def serve_main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipelines.serve``: parse ``argv``, serve until stopped, return the exit code."""
    args = _parser().parse_args(argv)
    try:
        return serve_from_args(args)
    except MindmilesError as exc:
        sys.stderr.write(f"mindmiles serve: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        log.info("stopped during start-up")
        return 0


if __name__ == "__main__":
    raise SystemExit(serve_main())

"""The ``mindmiles`` command line: ``main(argv) -> exit code``, no state in globals.

Commands: ``demo``, ``ingest``, ``serve``, ``rotate-key``, ``erase``, ``export``, ``status``,
``query``, ``report``. Options fall back on ``MINDMILES_INBOX``, ``MINDMILES_WAREHOUSE`` and
``MINDMILES_SECRET``. Every command takes ``-v/--verbose`` and ``-q/--quiet``
(:mod:`pipelines.logs`); the JSON that ``ingest``, ``status`` and ``query`` print follows the
versioned schemas in ``docs/schemas/`` (:mod:`pipelines.interfaces`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TextIO
from urllib.parse import urlsplit

from pipelines.interfaces import INGEST_SCHEMA_VERSION, STATUS_SCHEMA_VERSION, package_version
from pipelines.logs import add_verbosity_arguments, configure_logging, console_level
from pipelines.options import existing_inbox, number_in
from pipelines.settings import Settings
from schemas.errors import ConfigError, MindmilesError, WarehouseError
from warehouse.location import Where, is_remote, normalize
from warehouse.store import TableStore

if TYPE_CHECKING:
    from pipelines.erase import ErasurePlan
    from pipelines.run import ParseJob

__all__ = ["main"]

log = logging.getLogger("mindmiles")


CONFIG_HELP = "TOML file of thresholds (or MINDMILES_CONFIG; see transform/config.py)"


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error exiting as refused input (1) instead of argparse's 2.

    Exit codes: 0 the command did its work (files quarantined included), 1 it refused its input,
    2 the run itself failed (:attr:`schemas.errors.MindmilesError.exit_code`).
    """

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ConfigError.exit_code, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mindmiles",
        description="Watch exports and mood journals to a validated Parquet warehouse.",
    )
    parser.add_argument("--version", action="version", version=f"mindmiles {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="build a synthetic clinic and run the whole pipeline on it")
    demo.add_argument(
        "--dir", default="demo-clinic", help="folder for the demo (default: ./demo-clinic)"
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed of the synthetic clinic")
    demo.add_argument(
        "--engine",
        choices=["auto", "prefect", "local"],
        default="local",
        help="run through a Prefect flow or in-process (default: local)",
    )

    ingest = sub.add_parser(
        "ingest", help="one complete run over the inbox, as the nightly job does"
    )
    ingest.add_argument("--inbox", help="the drop folder (or MINDMILES_INBOX)")
    ingest.add_argument("--warehouse", help="the Parquet warehouse (or MINDMILES_WAREHOUSE)")
    ingest.add_argument("--json", action="store_true", help="print one JSON summary object")
    ingest.add_argument("--config", help=CONFIG_HELP)
    ingest.add_argument(
        "--settle-seconds",
        type=number_in(0, 3600),
        default=2.0,
        help="leave files modified more recently than this for the next run",
    )
    ingest.add_argument(
        "--engine",
        choices=["auto", "prefect", "local", "dask"],
        default="auto",
        help="prefect: run as a Prefect flow; local: in this process without Prefect; "
        "dask: a Prefect flow whose tasks run on a Dask cluster (--dask-address); "
        "auto (default): prefect when PREFECT_API_URL points at a server, else local",
    )
    ingest.add_argument(
        "--dask-address",
        help="the Dask scheduler, tcp://HOST:PORT, for --engine dask (or MINDMILES_DASK_ADDRESS)",
    )

    serve = sub.add_parser(
        "serve", help="nightly schedule and folder watch as Prefect deployments (Ctrl-C stops)"
    )
    from pipelines.serve import add_serve_arguments

    add_serve_arguments(serve)

    rotate = sub.add_parser(
        "rotate-key", help="rotate the clinic secret: rewrite every client_id in the warehouse"
    )
    rotate.add_argument("--inbox", help="the drop folder with roster.csv (or MINDMILES_INBOX)")
    rotate.add_argument("--warehouse", help="the Parquet warehouse (or MINDMILES_WAREHOUSE)")
    rotate.add_argument(
        "--new-secret-file",
        required=True,
        help="file holding the new secret (e.g. made with: openssl rand -hex 32 > new.key)",
    )

    erase = sub.add_parser(
        "erase", help="remove everything held of one client (rows, history, files, report page)"
    )
    erase.add_argument("--client", required=True, help="the client's code (their folder's name)")
    erase.add_argument("--inbox", help="the drop folder with roster.csv (or MINDMILES_INBOX)")
    erase.add_argument("--warehouse", help="the Parquet warehouse (or MINDMILES_WAREHOUSE)")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    export = sub.add_parser(
        "export", help="one client's rows of every table, the data dictionary and their files"
    )
    export.add_argument("--client", required=True, help="the client's code (their folder's name)")
    export.add_argument("--out", required=True, help="a new folder outside warehouse and inbox")
    export.add_argument("--inbox", help="the drop folder (or MINDMILES_INBOX)")
    export.add_argument("--warehouse", help="the Parquet warehouse (or MINDMILES_WAREHOUSE)")

    status = sub.add_parser("status", help="what was taken in, what was refused and why")
    status.add_argument("--warehouse", help="the Parquet warehouse (or MINDMILES_WAREHOUSE)")
    status.add_argument(
        "--inbox", help="the drop folder, to list its open problems (or MINDMILES_INBOX)"
    )
    status.add_argument("--json", action="store_true", help="print JSON")

    query = sub.add_parser("query", help="run SQL over the warehouse tables (DuckDB)")
    query.add_argument("--warehouse", help="the Parquet warehouse (or MINDMILES_WAREHOUSE)")
    query.add_argument(
        "--format",
        choices=["table", "csv", "json", "ndjson"],
        default="table",
        help="table (default), csv, json (one array of row objects) or ndjson (one object a line)",
    )
    query.add_argument(
        "sql", help="the SQL to run; tables are views named after the warehouse tables"
    )

    report = sub.add_parser("report", help="write the therapists' reports (self-contained HTML)")
    report.add_argument("--warehouse", help="the Parquet warehouse (or MINDMILES_WAREHOUSE)")
    report.add_argument("--inbox", help="the drop folder with roster.csv (or MINDMILES_INBOX)")
    report.add_argument("--client", help="only this client code's page (the overview is kept)")
    report.add_argument(
        "--weeks",
        type=number_in(1, 520, integer=True),
        default=12,
        help="ISO weeks shown (1-520, default 12)",
    )
    report.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=None,
        help="last day shown, YYYY-MM-DD (default: the last day with data)",
    )
    report.add_argument("--out", help="output folder (default: <inbox>/_reports)")
    report.add_argument("--config", help=CONFIG_HELP)
    for command in sub.choices.values():
        add_verbosity_arguments(command)
    return parser


def _engine(choice: str) -> str:
    if choice != "auto":
        return choice
    return "prefect" if os.environ.get("PREFECT_API_URL") else "local"


class _ProgressBar:
    """A rich progress bar on a terminal: files (archive members counted) done of all found.

    The run gives the total once it has looked at the inbox (:func:`pipelines.run.run_ingest`'s
    ``progress``), the parsing workers tick each file as it is read (``on_job``).
    """

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.progress = Progress(
            "files",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
            console=Console(file=out),
        )
        # shown once the run knows how many files there are: never "0/?"
        self.task = self.progress.add_task("files", total=None, start=False, visible=False)
        self.done = 0
        # The workers' ticks come from the thread that parses ahead (``parse_ahead``).
        self._lock = threading.Lock()

    def run_progress(self, done: int, total: int) -> None:
        """The run's count (at start, after each wave, at the end)."""
        with self._lock:
            if not self.progress.tasks[0].started:
                self.progress.start_task(self.task)
            self.done = max(self.done, done)
            self.progress.update(self.task, completed=self.done, total=total, visible=True)

    def job_done(self, job: ParseJob) -> None:
        """One file (and its archive members) read by a parsing worker."""
        with self._lock:
            self.done += job.members
            self.progress.update(self.task, completed=self.done)


def dask_address(option: str | None) -> str:
    """The Dask scheduler to run on, checked before anything starts.

    Raises
    ------
    ConfigError
        No address, not a ``tcp://HOST:PORT`` one, or no Prefect server for the workers.
    """
    address = option or os.environ.get("MINDMILES_DASK_ADDRESS")
    if not address:
        raise ConfigError(
            "--engine dask needs the scheduler: use --dask-address tcp://HOST:PORT "
            "or set MINDMILES_DASK_ADDRESS"
        )
    parts = urlsplit(address)
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or not parts.port:
        raise ConfigError(f"--dask-address {address} is not tcp://HOST:PORT")
    if not os.environ.get("PREFECT_API_URL"):
        raise ConfigError(
            "--engine dask needs a Prefect server that the Dask workers can reach: set "
            "PREFECT_API_URL (see docs/operations.md)"
        )
    return address


def _waiting_files(settings: Settings) -> int:
    """How many files wait in the client folders (a listing: nothing is opened)."""
    if is_remote(settings.inbox):
        return 2  # counted once the run has its copy; assume work
    from warehouse.inbox import Inbox

    return sum(1 for _ in Inbox(Path(settings.inbox)).candidates())


def _run_ingest(
    settings: Settings, engine: str, *, show_progress: bool, address: str | None = None
) -> dict[str, object]:
    if engine in ("prefect", "dask"):
        from pipelines.flows import ingest_flow

        config = str(settings.config_file) if settings.config_file else None
        return ingest_flow(
            str(settings.inbox),
            str(settings.warehouse),
            settings.settle_seconds,
            config,
            dask_address=address,
        )
    from pipelines.isolation import IsolatedParser
    from pipelines.run import run_ingest

    if not show_progress:
        with IsolatedParser() as parser:
            parser.warm(_waiting_files(settings))
            return asdict(run_ingest(settings, parse_batches=parser, parse_ahead=True))
    bar = _ProgressBar(sys.stderr)
    with IsolatedParser(on_job=bar.job_done) as parser:
        parser.warm(_waiting_files(settings))  # before the bar's thread: the workers fork at once
        with bar.progress:
            return asdict(
                run_ingest(
                    settings, parse_batches=parser, progress=bar.run_progress, parse_ahead=True
                )
            )


def _print_summary(summary: dict[str, object], out: TextIO) -> None:
    out.write(
        f"files seen {summary['files_seen']}: ingested {summary['ingested']}, "
        f"duplicates {summary['duplicates']}, skipped {summary['skipped']}, "
        f"quarantined {summary['quarantined']}, deferred {summary['deferred']}; "
        f"new activities {summary['activities']} ({summary['duration_s']} s)\n"
        f"  activities found {summary.get('activities_found', 0)}, copies merged "
        f"{summary.get('duplicates_merged', 0)}, non-activity files skipped "
        f"{summary.get('non_activity_files', 0)}\n"
    )
    reasons = summary.get("reason_codes") or {}
    assert isinstance(reasons, dict)
    for code, count in reasons.items():
        out.write(f"  {code}: {count}\n")
    if summary["deferred"]:
        out.write(
            f"  {summary['deferred']} file(s) deferred: still being copied, or named like a "
            "partial download (.part, .crdownload); run `mindmiles ingest` again once the copy "
            "has finished\n"
        )


def _wait_for_settling(settings: Settings, *, quiet: bool) -> None:
    """Wait (up to the settle time) for files still being copied, rather than defer them."""
    if is_remote(settings.inbox) or settings.settle_seconds <= 0:
        return
    from warehouse.inbox import Inbox

    inbox = Inbox(Path(settings.inbox), settle_seconds=settings.settle_seconds)
    settling = inbox.settling()
    if not settling:
        return
    if not quiet:
        sys.stderr.write(
            f"mindmiles: {len(settling)} file(s) still being copied; waiting up to "
            f"{settings.settle_seconds:g} s for them to settle\n"
        )
    left = inbox.wait_until_settled(settling, deadline=time.monotonic() + settings.settle_seconds)
    if left and not quiet:
        sys.stderr.write(
            f"mindmiles: {left} file(s) still changing: left for the next run (deferred)\n"
        )


def _cmd_ingest(args: argparse.Namespace, out: TextIO) -> int:
    settings = Settings.from_options(
        inbox=args.inbox,
        warehouse=args.warehouse,
        config=args.config,
        settle_seconds=args.settle_seconds,
    )
    if not is_remote(settings.inbox):
        existing_inbox(settings.inbox)
    engine = _engine(args.engine)
    address = dask_address(args.dask_address) if engine == "dask" else None
    _wait_for_settling(settings, quiet=args.quiet)
    show_progress = sys.stderr.isatty() and not args.quiet
    summary = _run_ingest(settings, engine, show_progress=show_progress, address=address)
    if args.json:
        document = {"schema_version": INGEST_SCHEMA_VERSION, **summary}
        out.write(json.dumps(document, sort_keys=True) + "\n")
    else:
        _print_summary(summary, out)
    return 0


def _warehouse_path(value: str | None) -> Where:
    """The warehouse of a command that only reads one: it must already be a warehouse."""
    value = value or os.environ.get("MINDMILES_WAREHOUSE")
    if not value:
        raise MindmilesError("no warehouse given: use --warehouse DIR or set MINDMILES_WAREHOUSE")
    return _existing_warehouse(normalize(value))


def _existing_warehouse(path: Where) -> Where:
    try:
        exists = TableStore(path).exists()
    except WarehouseError as exc:
        raise ConfigError(f"{exc}: check --warehouse and the AWS_* settings") from exc
    if not exists:
        raise ConfigError(
            f"{path} is not a mindmiles warehouse (no tables in it): check --warehouse or "
            "MINDMILES_WAREHOUSE; `mindmiles ingest` creates one"
        )
    return path


def _cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from pipelines.serve import serve_from_args

    try:
        return serve_from_args(args, out=out)
    except KeyboardInterrupt:
        return 0


def _cmd_rotate(args: argparse.Namespace, out: TextIO) -> int:
    from pipelines.keys import rotate_key

    settings = Settings.from_options(inbox=args.inbox, warehouse=args.warehouse)
    message = rotate_key(settings, new_secret_file=Path(args.new_secret_file))
    out.write(message + "\n")
    return 0


def _confirm_erasure(code: str, out: TextIO) -> Callable[[ErasurePlan], bool]:
    """Show what would go and ask on the terminal; refuse without one (use ``--yes``)."""

    def confirm(plan: ErasurePlan) -> bool:
        if not sys.stdin.isatty():
            raise ConfigError("erase asks for confirmation on a terminal: add --yes to skip it")
        out.write(
            f"This removes everything held of {code}, for good: "
            f"{sum(plan.rows.values())} row(s) in {len(plan.rows)} table(s) (every stored "
            f"version), {plan.files} file(s) in {len(plan.folders)} inbox folder(s), "
            f"{len(plan.pages)} report page(s).\n"
        )
        out.write(f"Type the client code ({code}) to go ahead: ")
        out.flush()
        return sys.stdin.readline().strip() == code

    return confirm


def _cmd_erase(args: argparse.Namespace, out: TextIO) -> int:
    from pipelines.erase import erase_client

    settings = Settings.from_options(inbox=args.inbox, warehouse=args.warehouse)
    _existing_warehouse(settings.warehouse)
    existing_inbox(settings.inbox)
    confirm = (lambda plan: True) if args.yes else _confirm_erasure(args.client, out)
    receipt = erase_client(settings, args.client, confirm=confirm)
    if receipt is None:
        out.write(f"Nothing of {args.client} is held: nothing was changed.\n")
        return 0
    out.write(
        f"Erased {args.client}: {sum(receipt.rows.values())} row(s) from "
        f"{len(receipt.rows)} table(s) and their history, {receipt.files} file(s). "
        "The receipt (date and counts only) is in the run log.\n"
    )
    return 0


def _cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    from pipelines.export import export_client

    settings = Settings.from_options(inbox=args.inbox, warehouse=args.warehouse)
    _existing_warehouse(settings.warehouse)
    existing_inbox(settings.inbox)
    result = export_client(
        settings,
        args.client,
        out=Path(args.out),
        date=dt.datetime.now(dt.UTC).date().isoformat(),
    )
    out.write(
        f"Exported {sum(result.rows.values())} row(s) of {args.client} from "
        f"{len(result.rows)} table(s) and {result.files} file(s) to {result.out}\n"
    )
    return 0


def _cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    from pipelines.problems import open_problems
    from pipelines.status import render_status, warehouse_status

    warehouse = _warehouse_path(args.warehouse)
    inbox = args.inbox or os.environ.get("MINDMILES_INBOX")
    problems = None
    if inbox and not is_remote(normalize(inbox)):
        problems = open_problems(existing_inbox(normalize(inbox)))
    status = warehouse_status(warehouse, problems=problems)
    out.write(
        json.dumps({"schema_version": STATUS_SCHEMA_VERSION, **status}, sort_keys=True, default=str)
        + "\n"
        if args.json
        else render_status(status)
    )
    return 0


def _cmd_query(args: argparse.Namespace, out: TextIO) -> int:
    from warehouse.sql import run_query

    warehouse = _warehouse_path(args.warehouse)
    if is_remote(warehouse):
        raise ConfigError(
            "mindmiles query reads a local warehouse; on object storage use "
            "polars.scan_delta('<warehouse>/<table>') (see the README)"
        )
    out.write(run_query(Path(warehouse), args.sql, output=args.format))
    return 0


def _cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    from pipelines.problems import open_problems
    from report import default_report_dir, write_reports
    from warehouse.secret import load_secret

    settings = Settings.from_options(inbox=args.inbox, warehouse=args.warehouse, config=args.config)
    _existing_warehouse(settings.warehouse)
    inbox = existing_inbox(settings.inbox)
    secret = load_secret(
        env_value=settings.secret, key_file=settings.key_file, warehouse=settings.warehouse
    )
    result = write_reports(
        warehouse=settings.warehouse,
        inbox=inbox,
        out=Path(args.out) if args.out else default_report_dir(inbox),
        secret=secret,
        client=args.client,
        weeks=args.weeks,
        as_of=args.as_of,
        generated=dt.datetime.now(dt.UTC),
        thresholds=settings.thresholds,
        problems=open_problems(inbox),
    )
    for code, page in result.clients.items():
        out.write(f"{code}: {page}\n")
    if result.overview is not None:
        out.write(f"Clinic overview: {result.overview}\n")
    return 0


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from pipelines.demo import run_demo

    return run_demo(Path(args.dir), seed=args.seed, engine=_engine(args.engine), out=out)


COMMANDS = {
    "ingest": _cmd_ingest,
    "serve": _cmd_serve,
    "rotate-key": _cmd_rotate,
    "erase": _cmd_erase,
    "export": _cmd_export,
    "status": _cmd_status,
    "query": _cmd_query,
    "report": _cmd_report,
    "demo": _cmd_demo,
}


SIGPIPE_EXIT = 141
"""Exit code when the reader of the output went away (``| head``): 128 + SIGPIPE, as a shell says."""


def _configure_logging(args: argparse.Namespace) -> None:
    if args.command == "serve":  # serve sets up its own, once its options are checked
        return
    if args.command == "demo":
        warehouse: str | Path | None = Path(args.dir) / "warehouse"
    else:
        warehouse = getattr(args, "warehouse", None) or os.environ.get("MINDMILES_WAREHOUSE")
    configure_logging(
        console_level(args.verbose, quiet=args.quiet),
        warehouse=normalize(warehouse) if warehouse else None,
    )


def _output_gone(out: TextIO) -> int:
    """The reader closed the pipe: say nothing more, and let nothing flush into it at exit."""
    if out is sys.stdout:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass  # no real descriptor behind sys.stdout (an embedding host): nothing to flush
    return SIGPIPE_EXIT


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line; return the process exit code."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        _configure_logging(args)
        code = COMMANDS[args.command](args, out)
        out.flush()
        return code
    except BrokenPipeError:
        return _output_gone(out)
    except MindmilesError as exc:
        sys.stderr.write(f"mindmiles: {exc}\n")
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())

"""``mindmiles erase --client CODE``: remove everything mindmiles holds of one client.

What goes (see docs/threat-model.md, "Erasure"):

- every row of the client in every table, analyst and restricted, and every stored version of
  those rows (old data files, Delta log entries and checkpoints, partition folders):
  :func:`warehouse.erase.erase_rows`;
- the DuckDB views' sources: ``mindmiles.duckdb`` is rewritten over the remaining files;
- the client's folders in the inbox: the drop folder, ``_processed/<CODE>`` and
  ``_quarantine/<CODE>`` (originals and the notes beside them);
- the client's report page in ``<inbox>/_reports`` (the overview is rewritten without them).

The client must first be taken off ``roster.csv`` (otherwise the next run would take them in
again). The erasure runs under the writer lock, like a run, and ends with a receipt in the run
log: the date and the counts, nothing that identifies the client. Run again, it finds nothing and
changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.reports import refresh_reports
from pipelines.settings import Settings
from report import default_report_dir
from report.build import CLIENT_DIR, roster_codes
from report.html import client_page_name
from schemas.errors import ConfigError
from warehouse.erase import erase_rows, held_rows
from warehouse.inbox import Inbox
from warehouse.location import is_remote
from warehouse.lock import warehouse_lock
from warehouse.runlog import RECEIPT_KIND, append_run
from warehouse.secret import load_secret, pseudonymize
from warehouse.sql import write_database

__all__ = ["ErasurePlan", "ErasureReceipt", "erase_client", "plan_erasure"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasurePlan:
    """What an erasure would remove (shown before asking for confirmation)."""

    rows: dict[str, int]
    """Rows per table."""
    folders: list[Path]
    """The client's folders in the inbox (drop folder, ``_processed``, ``_quarantine``)."""
    files: int
    """Files in those folders."""
    pages: list[Path]
    """The client's report pages."""

    @property
    def empty(self) -> bool:
        """Nothing of the client is held."""
        return not self.rows and not self.folders and not self.pages


@dataclass(frozen=True)
class ErasureReceipt:
    """What an erasure removed: counts only (written to the run log)."""

    finished_utc: str
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0

    def record(self) -> dict[str, object]:
        """The run-log line: date and counts, no code, pseudonym or file name."""
        return {
            "kind": RECEIPT_KIND,
            "finished_utc": self.finished_utc,
            "rows": dict(sorted(self.rows.items())),
            "rows_total": sum(self.rows.values()),
            "files": self.files,
        }


def _report_pages(reports: Path, code: str, client_id: str) -> list[Path]:
    """The client's page, under their code or (when the roster lacked them) their short id."""
    names = {client_page_name(code), client_page_name(f"id {client_id[:8]}")}
    return [p for p in (reports / CLIENT_DIR / n for n in sorted(names)) if p.exists()]


def _secret(settings: Settings) -> bytes:
    return load_secret(
        env_value=settings.secret, key_file=settings.key_file, warehouse=settings.warehouse
    )


def plan_erasure(settings: Settings, code: str, *, secret: bytes | None = None) -> ErasurePlan:
    """Count what :func:`erase_client` would remove (reads only); ``secret`` loaded when not given.

    Raises
    ------
    ConfigError
        The inbox is not a local folder, or ``roster.csv`` still lists the client.
    """
    if is_remote(settings.inbox):
        raise ConfigError("erase removes the client's folders from a local inbox: use one")
    inbox = Inbox(Path(settings.inbox))
    secret = _secret(settings) if secret is None else secret
    client_id = pseudonymize(code, secret)
    if client_id in roster_codes(inbox.roster_path, secret):
        raise ConfigError(
            f"{code} still has a row in roster.csv: remove it first, or the next run would "
            "take the client in again"
        )
    try:
        folders = [f for f in inbox.client_areas(code) if f.exists()]
    except ValueError as exc:
        raise ConfigError(f"--client {exc}") from exc
    return ErasurePlan(
        rows=held_rows(settings.warehouse, client_id),
        folders=folders,
        files=sum(1 for f in folders for p in f.rglob("*") if not p.is_dir()),
        pages=_report_pages(default_report_dir(inbox.root), code, client_id),
    )


def erase_client(
    settings: Settings,
    code: str,
    *,
    confirm: Callable[[ErasurePlan], bool] = lambda plan: True,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> ErasureReceipt | None:
    """Erase the client ``code`` under the writer lock; return the receipt.

    Parameters
    ----------
    settings
        Folders and secret.
    code
        The client's code (their folder's name).
    confirm
        Shown the plan; the erasure goes ahead only when it returns true.
    now
        The receipt's clock.

    Returns
    -------
    ErasureReceipt or None
        ``None`` when nothing of the client was held (nothing is written, not even a receipt).

    Raises
    ------
    ConfigError
        See :func:`plan_erasure`; or the erasure was not confirmed.
    """
    secret = _secret(settings)
    client_id = pseudonymize(code, secret)
    plan = plan_erasure(settings, code, secret=secret)
    if not plan.empty and not confirm(plan):  # asked before the lock: a run is not held up
        raise ConfigError("erasure not confirmed: nothing was changed")
    with warehouse_lock(settings.warehouse, timeout_s=settings.lock_timeout_s, who="erase"):
        plan = plan_erasure(settings, code, secret=secret)  # again: a run may have come in between
        rows = erase_rows(settings.warehouse, client_id)
        if rows is None and not plan.folders and not plan.pages:
            return None
        for folder in plan.folders:
            shutil.rmtree(folder)
        for page in plan.pages:
            page.unlink(missing_ok=True)
        if not is_remote(settings.warehouse):
            write_database(Path(settings.warehouse))
        if (default_report_dir(Path(settings.inbox)) / "index.html").exists():
            refresh_reports(settings, secret, generated=now())  # the overview lists every client
        receipt = ErasureReceipt(
            finished_utc=now().isoformat(), rows=rows or {}, files=plan.files + len(plan.pages)
        )
        append_run(settings.warehouse, receipt.record())
    return receipt

"""Write the therapist reports: read the warehouse, map pseudonyms back to codes, render, write.

Layout of the output folder::

    <out>/index.html               clinic overview, most concerning client first
    <out>/clients/<code>.html      one page per client

The client's code is computed back from the roster and the clinic secret
(``pseudonymize(code, secret)`` for each roster code) and appears only in these pages; the output
folder must therefore lie outside the warehouse. Each page is written to a temporary name and
renamed (a browser never sees half a page).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandera.polars as pa
import polars as pl

from clinic.journal_csv import decode_table_text
from report.html import client_page_name, render_client_page, render_overview
from report.model import (
    ReportInputs,
    ReportRules,
    client_reports,
    default_as_of,
    overview_rows,
)
from schemas.activities import Activities
from schemas.daily_load import DailyLoad
from schemas.errors import ConfigError
from schemas.files import Files
from schemas.indicators import Indicators
from schemas.journal import Journal
from schemas.run_journal import RunJournal
from schemas.weekly_adherence import WeeklyAdherence
from transform.config import DEFAULT_THRESHOLDS, Thresholds
from warehouse.files import write_private
from warehouse.inbox import PROCESSED, QUARANTINE, Inbox, read_regular
from warehouse.location import Where
from warehouse.problems import OpenProblems
from warehouse.secret import pseudonymize
from warehouse.store import TableStore
from warehouse.tables import TABLES

__all__ = [
    "CLIENT_DIR",
    "OVERVIEW_NAME",
    "REPORT_TABLES",
    "ReportResult",
    "default_report_dir",
    "load_inputs",
    "roster_codes",
    "write_reports",
]

log = logging.getLogger(__name__)

OVERVIEW_NAME = "index.html"
CLIENT_DIR = "clients"
REPORTS_DIRNAME = "_reports"

REPORT_TABLES: Mapping[str, type[pa.DataFrameModel]] = {
    "weekly_adherence": WeeklyAdherence,
    "daily_load": DailyLoad,
    "journal": Journal,
    "run_journal": RunJournal,
    "indicators": Indicators,
    "activities": Activities,
    "files": Files,
}
"""Tables the report reads, with the model giving their columns when a table is not there yet."""


@dataclass
class ReportResult:
    """What :func:`write_reports` wrote."""

    overview: Path | None
    clients: dict[str, Path] = field(default_factory=dict)
    """Client code -> page."""
    as_of: dt.date | None = None
    unknown_clients: int = 0
    """Clients in the warehouse whose pseudonym matches no roster code (shown as ``id …``)."""


def default_report_dir(inbox: Path) -> Path:
    """``<inbox>/_reports``: beside the staff's folders, never taken for a client folder."""
    return inbox / REPORTS_DIRNAME


def _empty(model: type[pa.DataFrameModel]) -> pl.DataFrame:
    columns: dict[str, pl.DataType] = {}
    for name, column in model.to_schema().columns.items():
        dtype = column.dtype.type
        columns[name] = dtype() if isinstance(dtype, type) else dtype
    return pl.DataFrame(schema=columns)


def load_inputs(warehouse: Where) -> ReportInputs:
    """Read the tables of :data:`REPORT_TABLES` (empty frames for tables not registered yet)."""
    store = TableStore(warehouse)
    frames = {
        name: store.read(name) if name in TABLES else _empty(model)
        for name, model in REPORT_TABLES.items()
    }
    return ReportInputs(**frames)


def roster_codes(roster_csv: Path, secret: bytes) -> dict[str, str]:
    """``client_id -> client_code`` for each code of the roster file (empty without a roster).

    Raises
    ------
    ConfigError
        The roster has no ``client_code`` column.
    """
    if not os.path.lexists(roster_csv):
        return {}
    try:
        data = read_regular(roster_csv)  # never through a link, a pipe or a device
    except OSError as exc:
        raise ConfigError(f"{roster_csv.name} cannot be read ({exc.strerror})") from None
    # in every encoding and with every delimiter the run reads it in
    decoded = decode_table_text(data, error=ConfigError)
    reader = csv.DictReader(io.StringIO(decoded.text), delimiter=decoded.delimiter)
    if reader.fieldnames is None or "client_code" not in reader.fieldnames:
        raise ConfigError(f"{roster_csv.name} has no client_code column")
    codes = [(row.get("client_code") or "").strip() for row in reader]
    return {pseudonymize(code, secret): code for code in codes if code}


def _folder_names(inbox: Inbox) -> list[str]:
    """Names of the client folders: waiting, processed and quarantined ones."""
    names = [f.name for f in inbox.client_folders()]
    for area in (PROCESSED, QUARANTINE):
        folder = inbox.root / area
        if folder.is_dir():
            names += [p.name for p in folder.iterdir() if p.is_dir()]
    return sorted(set(names))


def _write_atomic(path: Path, text: str) -> None:
    """Write one page atomically (owner-only, like every file mindmiles writes)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, text)


def write_reports(
    *,
    warehouse: Where,
    inbox: Path,
    out: Path,
    secret: bytes,
    client: str | None = None,
    weeks: int = 12,
    as_of: dt.date | None = None,
    generated: dt.datetime | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    problems: OpenProblems | None = None,
) -> ReportResult:
    """Render the overview and the client pages into ``out``.

    Parameters
    ----------
    warehouse
        The Parquet warehouse.
    inbox
        The drop folder (its ``roster.csv`` gives the codes).
    out
        Output folder; created if needed; must not lie inside the warehouse.
    secret
        The clinic secret (:func:`warehouse.secret.load_secret`).
    client
        Only this client's page (the overview is left as it is); ``None``: every client and the
        overview.
    weeks
        ISO weeks shown, ending with the week of ``as_of``.
    as_of
        Last day shown; default the last day with an activity or journal entry.
    generated
        Time shown in the footers (``None``: none).
    thresholds
        The run's thresholds; the pages state the adherence bands and the load-spike ratio of these.
    problems
        The inbox's open problems, listed at the top of the overview (``None``: not shown).

    Raises
    ------
    ConfigError
        ``out`` lies inside the warehouse, ``client`` is not in the roster, or ``weeks < 1``.
    """
    if isinstance(warehouse, Path) and out.resolve().is_relative_to(warehouse.resolve()):
        raise ConfigError(
            "the report folder must lie outside the warehouse (the reports show client codes)"
        )
    if weeks < 1:
        raise ConfigError("--weeks must be at least 1")
    for stale in out.rglob(".*.tmp"):  # left by a writer killed mid-page
        stale.unlink(missing_ok=True)
    box = Inbox(inbox)
    codes = roster_codes(box.roster_path, secret)
    # Clients missing from the roster are named after their folder (staff-facing pages only)
    folder_codes = {pseudonymize(name, secret): name for name in _folder_names(box)}
    named = folder_codes | codes
    inputs = load_inputs(warehouse)
    as_of = as_of or default_as_of(inputs) or dt.datetime.now(dt.UTC).date()
    seen = (
        set(inputs.weekly_adherence["client_id"].to_list())
        | set(inputs.activities["client_id"].to_list())
        | set(inputs.journal["client_id"].to_list())
    )
    if client is not None:
        wanted = [cid for cid, code in codes.items() if code == client]
        if not wanted:
            raise ConfigError(f"client {client!r} is not in the roster")
        ids = wanted
    else:
        # roster clients by code, then clients missing from the roster by pseudonym
        ids = sorted(set(codes) | seen, key=lambda cid: (cid not in codes, named.get(cid, cid)))
    result = ReportResult(overview=None, as_of=as_of)
    rules = ReportRules.from_thresholds(thresholds)
    shown = {
        cid: codes[cid] if cid in codes else folder_codes.get(cid, f"id {cid[:8]}") for cid in ids
    }
    result.unknown_clients = sum(cid not in codes for cid in ids)
    reports = client_reports(inputs, shown, as_of=as_of, weeks=weeks, rules=rules)
    for report in reports:
        page = out / CLIENT_DIR / client_page_name(report.code)
        _write_atomic(page, render_client_page(report, generated=generated))
        result.clients[report.code] = page
    if client is None:
        result.overview = out / OVERVIEW_NAME
        overview = render_overview(
            overview_rows(reports),
            as_of=as_of,
            generated=generated,
            rules=rules,
            problems=problems,
        )
        _write_atomic(result.overview, overview)
    log.info("wrote %d client report(s) up to %s", len(result.clients), as_of)
    return result

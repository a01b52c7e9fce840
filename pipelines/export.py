"""``mindmiles export --client CODE --out DIR``: what a client asking for their data receives.

Layout of ``DIR`` (created owner-only; it must not exist yet or be empty)::

    README.txt                what is here
    dictionary.md             the data dictionary (every table and column explained)
    tables/<table>.parquet    the client's rows of every table, types kept
    tables/<table>.csv        the same rows as CSV (list columns as JSON arrays)
    originals/...             their files as taken in (``_processed/<CODE>``), notes included
    refused/...               their files that were refused (``_quarantine/<CODE>``), with reasons

Every table is exported, the restricted ones (their own journal and plan notes) included, and
tables holding none of their rows as empty files with a header, so that the export shows what
mindmiles could hold. The CSV cells are the values as stored (no spreadsheet-formula escaping:
the text is the client's own).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.settings import Settings
from schemas.errors import ConfigError
from warehouse.dictionary import render_dictionary
from warehouse.files import private_files, write_private
from warehouse.inbox import PROCESSED, QUARANTINE, Inbox
from warehouse.location import is_remote, local_path
from warehouse.lock import warehouse_lock
from warehouse.secret import load_secret, pseudonymize
from warehouse.store import TableStore
from warehouse.tables import TABLES

__all__ = ["ExportResult", "csv_frame", "export_client"]

TABLES_DIR = "tables"
AREAS = {PROCESSED: "originals", QUARANTINE: "refused"}
"""Inbox area -> folder of the export."""

README = """\
Your data, as held by the clinic's mindmiles warehouse (exported {date}).

dictionary.md            what every table and column means (units, allowed values)
tables/<table>.parquet   your rows of each table (Apache Parquet, types kept)
tables/<table>.csv       the same rows as CSV; list cells are JSON arrays
originals/               the files you handed in, as received ({originals} file(s))
refused/                 files that could not be read, each with a note why ({refused} file(s))

client_id is the pseudonym the warehouse files your data under (your code never is).
"""


@dataclass
class ExportResult:
    """What :func:`export_client` wrote."""

    out: Path
    rows: dict[str, int] = field(default_factory=dict)
    """Rows per table (every table, 0 included)."""
    files: int = 0
    """Original and refused files copied (notes included)."""


def csv_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame as CSV can hold it: list columns become JSON arrays (text).

    Examples
    --------
    >>> csv_frame(pl.DataFrame({"a": [["x", "y"], None]}))["a"].to_list()
    ['["x", "y"]', None]
    """
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    return frame.with_columns(
        pl.col(name).map_elements(
            lambda v: json.dumps(v.to_list()), return_dtype=pl.String, skip_nulls=True
        )
        for name in lists
    )


def _refuse_out(out: Path, settings: Settings) -> None:
    """Refuse an ``out`` inside the warehouse or the inbox, or one already holding files."""
    resolved = out.resolve()
    for what, where in (("warehouse", settings.warehouse), ("inbox", settings.inbox)):
        root = local_path(where)
        if root is not None and resolved.is_relative_to(root.resolve()):
            raise ConfigError(
                f"--out {out} lies inside the {what}: choose a folder outside it (an export "
                f"there would be taken for {what} content)"
            )
    if resolved.exists() and (not resolved.is_dir() or any(resolved.iterdir())):
        raise ConfigError(f"--out {out} already holds files: give a new or empty folder")


def _copy_area(source: Path, target: Path) -> int:
    if not source.is_dir():
        return 0
    shutil.copytree(source, target, symlinks=False)
    return sum(1 for p in target.rglob("*") if p.is_file())


def export_client(settings: Settings, code: str, *, out: Path, date: str) -> ExportResult:
    """Write the client ``code``'s rows, the dictionary and their files into ``out``.

    Raises
    ------
    ConfigError
        ``out`` is inside the warehouse or the inbox or holds files; the inbox is not local;
        ``code`` is not a folder name; or nothing of the client is held.
    """
    _refuse_out(out, settings)
    if is_remote(settings.inbox):
        raise ConfigError("export copies the client's files from a local inbox: use one")
    inbox = Path(settings.inbox)
    try:
        Inbox(inbox).client_areas(code)  # a plain folder name, or it would name another folder
    except ValueError as error:
        raise ConfigError(f"--client {code!r} is not a client folder name") from error
    secret = load_secret(
        env_value=settings.secret, key_file=settings.key_file, warehouse=settings.warehouse
    )
    client_id = pseudonymize(code, secret)
    store = TableStore(settings.warehouse)
    result = ExportResult(out=out)
    # Under the writer lock: the tables and the folders are read as of one moment (no run
    # half-way between recording a file and moving it).
    with warehouse_lock(settings.warehouse, timeout_s=settings.lock_timeout_s, who="export"):
        frames = {name: store.read(name, client_id=client_id) for name in TABLES}
        areas = {area: inbox / area / code for area in AREAS}
        if not any(f.height for f in frames.values()) and not any(
            p.is_dir() for p in areas.values()
        ):
            raise ConfigError(f"nothing is held for client {code}: check the code")
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        with private_files():
            (out / TABLES_DIR).mkdir(exist_ok=True)
            for name, frame in frames.items():
                frame.write_parquet(out / TABLES_DIR / f"{name}.parquet")
                csv_frame(frame).write_csv(out / TABLES_DIR / f"{name}.csv")
                result.rows[name] = frame.height
            counts = {area: _copy_area(source, out / AREAS[area]) for area, source in areas.items()}
    result.files = sum(counts.values())
    write_private(out / "dictionary.md", render_dictionary())
    write_private(
        out / "README.txt",
        README.format(date=date, originals=counts[PROCESSED], refused=counts[QUARANTINE]),
    )
    return result

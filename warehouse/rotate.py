"""Rotate the clinic secret: rewrite every ``client_id`` (and the ids derived from it).

``client_id = HMAC(secret, client_code)``: with a new secret every id changes, and so does every
journal ``entry_id`` (a hash that includes the client id). Rotation needs the client codes (from the
roster and the inbox's client folders), the old secret and the new one. Tables are rewritten one by
one, each atomically; an interrupted rotation is finished by running the same command again (ids
already in the new space are left as they are). The new secret replaces the key file only at the
end. Derived tables are rebuilt afterwards by the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from schemas.errors import ConfigError
from schemas.ids import make_entry_id
from warehouse.location import Where
from warehouse.runlog import read_pending, write_pending
from warehouse.secret import pseudonymize
from warehouse.store import TableStore
from warehouse.tables import TABLES

__all__ = ["RotationResult", "rotate_pseudonyms"]

log = logging.getLogger(__name__)

ENTRY_TABLES = ("journal", "journal_notes")
"""Tables keyed by ``entry_id``, which is derived from ``client_id``."""


@dataclass(frozen=True)
class RotationResult:
    """What a rotation rewrote."""

    clients: int
    tables: dict[str, int]


def _entry_id_map(journal: pl.DataFrame, old_of: dict[str, str]) -> dict[str, str]:
    """Old ``entry_id`` -> new, for journal rows whose ``client_id`` is already rotated."""
    out = {}
    for row in journal.iter_rows(named=True):
        args = (row["timestamp_utc"], row["kind"], row["source"])
        new = make_entry_id(row["client_id"], *args)
        out[make_entry_id(old_of.get(row["client_id"], row["client_id"]), *args)] = new
    return out


def rotate_pseudonyms(
    warehouse: Where, codes: Iterable[str], *, old_secret: bytes, new_secret: bytes
) -> RotationResult:
    """Rewrite every table's ``client_id`` from ``old_secret`` to ``new_secret``.

    Raises
    ------
    ConfigError
        A table holds a ``client_id`` that none of ``codes`` gives under either secret: without
        its code that client cannot be rotated (add it to the roster and run again).
    """
    codes = sorted(set(codes))
    mapping = {pseudonymize(code, old_secret): pseudonymize(code, new_secret) for code in codes}
    rotated = set(mapping.values())
    store = TableStore(warehouse)
    counts: dict[str, int] = {}
    names = [n for n in TABLES if store.version(n) is not None]
    old_of = {new: old for old, new in mapping.items()}
    journal = store.read("journal").with_columns(pl.col("client_id").replace(mapping))
    entry_map = _entry_id_map(journal, old_of)
    for name in names:
        frame = store.read(name)
        if "client_id" not in frame.columns:
            continue
        ids = set(frame["client_id"].unique().to_list())
        unknown = ids - set(mapping) - rotated
        if unknown:
            raise ConfigError(
                f"{len(unknown)} client id(s) in {name} match no client code in the roster or the "
                "inbox; add those clients to roster.csv and run the rotation again"
            )
        frame = frame.with_columns(pl.col("client_id").replace(mapping))
        if name in ENTRY_TABLES:
            frame = frame.with_columns(pl.col("entry_id").replace(entry_map))
        counts[name] = frame.height
        store.replace(name, frame)
        store.purge_history(name)  # no old pseudonym left in old files or the Delta log
    pending = read_pending(warehouse)
    if pending:
        write_pending(warehouse, {mapping.get(c, c) for c in pending})
    log.info("rotated the pseudonyms of %d client(s) in %d table(s)", len(mapping), len(counts))
    return RotationResult(clients=len(mapping), tables=counts)

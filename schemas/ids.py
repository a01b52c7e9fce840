"""The journal entry-id rule, shared by the journal readers and key rotation."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Final

__all__ = ["ENTRY_ID_HEX_CHARS", "make_entry_id"]

ENTRY_ID_HEX_CHARS: Final = 16
"""Length of an entry id: a sha256 prefix, in lowercase hex characters."""


def make_entry_id(client_id: str, timestamp_utc: datetime, kind: str, source: str) -> str:
    """Deterministic journal entry id: a sha256 prefix of client, UTC time, kind and source.

    Parameters
    ----------
    client_id : str
        The client's pseudonym.
    timestamp_utc : datetime.datetime
        Aware UTC timestamp of the entry.
    kind : str
        ``pre_run``, ``post_run`` or ``daily``.
    source : str
        ``clinic_template`` or ``daylio``.

    Returns
    -------
    str
        16 lowercase hex characters.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> len(make_entry_id("c1", datetime(2026, 1, 1, tzinfo=timezone.utc), "daily", "daylio"))
    16
    """
    if timestamp_utc.utcoffset() is None:
        raise ValueError("timestamp_utc must be timezone-aware")
    stamp = timestamp_utc.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    key = "\x1f".join((client_id, stamp, kind, source))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:ENTRY_ID_HEX_CHARS]

"""Journal entry point: detect the format from the header and call its reader.

Formats: the clinic template (:mod:`clinic.journal_template`) and Daylio CSV exports
(:mod:`clinic.daylio`). Detection is by header only (after an optional BOM), never by file name.
"""

from __future__ import annotations

from collections.abc import Mapping

from clinic.daylio import read_daylio
from clinic.journal_csv import JournalFormat, JournalReadResult, detect_journal_format
from clinic.journal_template import read_clinic_template

__all__ = ["JournalFormat", "JournalReadResult", "detect_journal_format", "read_journal"]


def read_journal(
    data: bytes,
    *,
    client_id: str,
    timezone: str,
    mood_labels: Mapping[str, int] | None = None,
    kind_activities: Mapping[str, str] | None = None,
) -> JournalReadResult:
    r"""Read a journal CSV of either supported format.

    Parameters
    ----------
    data : bytes
        File content.
    client_id : str
        The client's pseudonym.
    timezone : str
        The client's IANA zone (roster).
    mood_labels, kind_activities : mapping, optional
        Daylio only; see :func:`clinic.daylio.read_daylio`. Ignored for the clinic template.

    Returns
    -------
    JournalReadResult
        Frames, issues and the detected ``source``.

    Raises
    ------
    JournalUnreadable
        Not UTF-8 text, or empty.
    JournalUnrecognisedHeader
        Neither format's header.

    Examples
    --------
    >>> csv = b"year,date,weekday,time,mood,activities,note\n2018,18 May,Friday,11:54 pm,rad,,\n"
    >>> result = read_journal(csv, client_id="c1", timezone="Europe/London")
    >>> result.source, result.journal["timestamp_utc"].dt.hour().item()
    ('daylio', 22)
    """
    if detect_journal_format(data) == "daylio":
        return read_daylio(
            data,
            client_id=client_id,
            timezone=timezone,
            mood_labels=mood_labels,
            kind_activities=kind_activities,
        )
    return read_clinic_template(data, client_id=client_id, timezone=timezone)

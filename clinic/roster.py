"""Reader for the clinic roster, ``<inbox>/roster.csv``.

Columns, any order, no others: ``client_code, sex, birth_year, hr_rest, hr_max, timezone`` and
optionally ``lthr``. One row per client. Each row is checked (sex ``f``/``m``/``x``, a valid IANA
zone, ``hr_rest < hr_max``, ``hr_rest < lthr < hr_max`` when given, plausible ranges from
:class:`RosterLimits`); a bad row is left out and reported with its line number. A client code
that appears on several rows is refused on every one of them (which row is right cannot be told).

The clinic's codes never leave this module in a frame: ``pseudonymize`` (passed in by the caller)
turns each code into the ``client_id``. The result keeps a code -> client_id map for the flow,
which needs it to find client folders; it must not be written to the warehouse.
"""

from __future__ import annotations

import logging
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import polars as pl

from clinic.journal_csv import (
    CellError,
    decode_csv_text,
    header_cells,
    iter_csv_records,
    iter_parsed_rows,
    require_header,
)
from schemas.errors import RosterInvalid, RowIssue

__all__ = [
    "DEFAULT_ROSTER_LIMITS",
    "ROSTER_FRAME_SCHEMA",
    "ROSTER_OPTIONAL_COLUMNS",
    "ROSTER_REQUIRED_COLUMNS",
    "RosterLimits",
    "RosterReadResult",
    "read_roster",
]

logger = logging.getLogger(__name__)

ROSTER_REQUIRED_COLUMNS: Final[tuple[str, ...]] = (
    "client_code",
    "sex",
    "birth_year",
    "hr_rest",
    "hr_max",
    "timezone",
)
ROSTER_OPTIONAL_COLUMNS: Final[tuple[str, ...]] = ("lthr",)

#: Column names and dtypes of the ``roster`` frame (see ``schemas/roster.py``).
ROSTER_FRAME_SCHEMA: Final[dict[str, pl.DataType]] = {
    "client_id": pl.String(),
    "sex": pl.String(),
    "birth_year": pl.Int32(),
    "hr_rest": pl.Float64(),
    "hr_max": pl.Float64(),
    "timezone": pl.String(),
    "lthr": pl.Float64(),
}

#: A client code is also a folder name: letters, digits, ``_ - .``, not starting with ``_`` or
#: ``.`` (``_quarantine`` and ``_processed`` are the inbox's own folders).
_CLIENT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_SEXES: Final[frozenset[str]] = frozenset({"f", "m", "x"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RosterLimits:
    """Plausible ranges (inclusive) for roster values; a value outside is a row issue.

    The birth-year bounds are fixed numbers, not derived from today's date, so reading is
    reproducible; raise ``birth_year_max`` when the clinic takes younger clients.
    """

    birth_year_min: int = 1900
    birth_year_max: int = 2015
    hr_rest_min: float = 25.0
    hr_rest_max: float = 120.0
    hr_max_min: float = 100.0
    hr_max_max: float = 230.0
    lthr_min: float = 80.0
    lthr_max: float = 220.0


DEFAULT_ROSTER_LIMITS: Final = RosterLimits()


@dataclass(frozen=True, slots=True)
class RosterReadResult:
    """What :func:`read_roster` returns.

    Attributes
    ----------
    roster : polars.DataFrame
        The ``roster`` frame, one row per accepted client, sorted by ``client_id``.
    client_ids : mapping of str to str
        Clinic code -> client_id for the accepted clients. For the flow only; never write it.
    issues : tuple of RowIssue
        Refused rows.
    """

    roster: pl.DataFrame
    client_ids: Mapping[str, str]
    issues: tuple[RowIssue, ...]


def read_roster(
    data: bytes,
    *,
    pseudonymize: Callable[[str], str],
    limits: RosterLimits = DEFAULT_ROSTER_LIMITS,
) -> RosterReadResult:
    r"""Read and check ``roster.csv``.

    Parameters
    ----------
    data : bytes
        File content (UTF-8, optional BOM).
    pseudonymize : callable
        Maps a clinic client code to its ``client_id`` (the keyed pseudonym).
    limits : RosterLimits
        Plausible ranges.

    Returns
    -------
    RosterReadResult

    Raises
    ------
    RosterInvalid
        Not UTF-8 text, empty, or a header with a missing, unknown or repeated column.

    Examples
    --------
    >>> csv = (
    ...     b"client_code,sex,birth_year,hr_rest,hr_max,timezone\n"
    ...     b"A01,f,1990,55,185,Europe/London\n"
    ... )
    >>> result = read_roster(csv, pseudonymize=lambda code: "id-" + code)
    >>> result.roster.row(0)
    ('id-A01', 'f', 1990, 55.0, 185.0, 'Europe/London', None)
    """
    text = decode_csv_text(data, error=RosterInvalid)
    records = iter_csv_records(text, error=RosterInvalid)
    first = next(records, None)
    if first is None:
        raise RosterInvalid("the file has no header line")
    header = header_cells(first[1])
    require_header(
        header,
        required=ROSTER_REQUIRED_COLUMNS,
        optional=ROSTER_OPTIONAL_COLUMNS,
        error=RosterInvalid,
        what="roster",
    )
    lines_by_code: dict[str, list[int]] = {}
    issues: list[RowIssue] = []

    def note_code(line: int, row: Mapping[str, str]) -> None:
        lines_by_code.setdefault(row["client_code"], []).append(line)

    parsed_rows = {
        line: (row["client_code"], parsed)
        for line, row, parsed in iter_parsed_rows(
            records, header, lambda row: _parse_row(row, limits), issues, on_row=note_code
        )
    }
    accepted: dict[str, dict[str, Any]] = {}
    for code, lines in lines_by_code.items():
        if len(lines) > 1:
            issues.extend(_duplicate_issue(line, code) for line in lines)
        elif lines[0] in parsed_rows:
            accepted[code] = parsed_rows[lines[0]][1]
    rows = [{"client_id": pseudonymize(code), **parsed} for code, parsed in accepted.items()]
    roster = pl.DataFrame(rows, schema=ROSTER_FRAME_SCHEMA, orient="row").sort("client_id")
    client_ids = {code: row["client_id"] for code, row in zip(accepted, rows, strict=True)}
    issues.sort(key=lambda issue: issue.line)
    logger.info("roster: %d clients, %d rows refused", roster.height, len(issues))
    return RosterReadResult(roster=roster, client_ids=client_ids, issues=tuple(issues))


def _duplicate_issue(line: int, code: str) -> RowIssue:
    return RowIssue(
        line=line,
        message="this client code is on more than one row; all its rows were skipped",
        column="client_code",
    )


@cache
def _known_zones() -> frozenset[str]:
    """Real IANA zones: tzdata's helper entries (``localtime``, ``Factory``, ...) are not."""
    return frozenset(
        zone
        for zone in zoneinfo.available_timezones()
        if zone not in _NOT_ZONES and not zone.startswith(("posix/", "right/", "SystemV/"))
    )


_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules", "leapseconds", "tzdata.zi"})


def _number(row: Mapping[str, str], column: str, low: float, high: float) -> float:
    text = row[column]
    try:
        value = float(text)
    except ValueError:
        raise CellError(column, f"{column} must be a number") from None
    if not low <= value <= high:
        raise CellError(column, f"{column} must be between {low:g} and {high:g}")
    return value


def _parse_row(row: Mapping[str, str], limits: RosterLimits) -> dict[str, Any]:
    code = row["client_code"]
    if not _CLIENT_CODE.match(code):
        raise CellError(
            "client_code",
            "the client code must be 1-64 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit",
        )
    sex = row["sex"].lower()
    if sex not in _SEXES:
        raise CellError("sex", "sex must be f, m or x")
    birth_year_text = row["birth_year"]
    if not birth_year_text.isdigit():
        raise CellError("birth_year", "birth_year must be a year")
    birth_year = int(birth_year_text)
    if not limits.birth_year_min <= birth_year <= limits.birth_year_max:
        raise CellError(
            "birth_year",
            f"birth_year must be between {limits.birth_year_min} and {limits.birth_year_max}, ",
        )
    hr_rest = _number(row, "hr_rest", limits.hr_rest_min, limits.hr_rest_max)
    hr_max = _number(row, "hr_max", limits.hr_max_min, limits.hr_max_max)
    if not hr_rest < hr_max:
        raise CellError("hr_rest", f"hr_rest ({hr_rest:g}) must be below hr_max ({hr_max:g})")
    lthr: float | None = None
    if row.get("lthr"):
        lthr = _number(row, "lthr", limits.lthr_min, limits.lthr_max)
        if not hr_rest < lthr < hr_max:
            raise CellError(
                "lthr", f"lthr ({lthr:g}) must lie between hr_rest ({hr_rest:g}) and hr_max"
            )
    zone = row["timezone"]
    if zone not in _known_zones():
        raise CellError(
            "timezone",
            "timezone must be an IANA zone such as Europe/London (not localtime, Factory, "
            "posix/... or right/...)",
        )
    return {
        "sex": sex,
        "birth_year": birth_year,
        "hr_rest": hr_rest,
        "hr_max": hr_max,
        "timezone": zone,
        "lthr": lthr,
    }

"""CSV plumbing shared by the journal, plan and roster readers, and the journal format detector.

Everything here works on ``bytes`` or ``str`` in memory; nothing opens files.

- :func:`decode_csv_text` turns bytes into text (UTF-8, optional BOM) or raises.
- :func:`iter_csv_records` yields ``(line, cells)`` with the 1-based physical line where each
  record starts, so row issues can name the line even when a quoted note spans several lines.
- :func:`iter_parsed_rows` is the row loop of every reader: it skips and reports rows of the
  wrong width and rows whose parser raises :class:`CellError`, and yields the rest parsed.
- :func:`detect_journal_format` recognises the clinic template and every Daylio export era from
  the header alone.
- :class:`JournalReadResult` and the frame schemas are what both journal readers return; entry ids
  follow :func:`schemas.ids.make_entry_id`.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal, TypeVar

import polars as pl

from schemas.errors import JournalUnreadable, JournalUnrecognisedHeader, RowIssue, TableFileError
from schemas.ids import make_entry_id
from schemas.journal import END_YEAR, FIRST_YEAR, MAX_CELL_CHARS

__all__ = [
    "CLINIC_TEMPLATE_COLUMNS",
    "DAYLIO_HEADERS",
    "JOURNAL_FRAME_SCHEMA",
    "JOURNAL_NOTES_FRAME_SCHEMA",
    "CellError",
    "CsvText",
    "EntryCollector",
    "JournalFormat",
    "JournalReadResult",
    "check_year",
    "decode_csv_text",
    "decode_table_text",
    "detect_header",
    "detect_journal_format",
    "header_cells",
    "iter_csv_records",
    "iter_parsed_rows",
    "parse_number",
]

_Parsed = TypeVar("_Parsed")

JournalFormat = Literal["clinic_template", "daylio"]

#: The clinic template's columns (any order, no others).
CLINIC_TEMPLATE_COLUMNS: Final[tuple[str, ...]] = (
    "timestamp",
    "kind",
    "mood",
    "anxiety",
    "stress",
    "energy",
    "sleep_hours",
    "sleep_quality",
    "rpe",
    "notes",
)

#: Daylio CSV headers by export era (FORMATS.md section 5.1), exact and in order.
DAYLIO_HEADERS: Final[dict[str, tuple[str, ...]]] = {
    "year_2018": ("year", "date", "weekday", "time", "mood", "activities", "note"),
    "full_date_2019": ("full_date", "date", "weekday", "time", "mood", "activities", "note"),
    "note_title_2021": (
        "full_date",
        "date",
        "weekday",
        "time",
        "mood",
        "activities",
        "note_title",
        "note",
    ),
    "scales_2026": (
        "full_date",
        "date",
        "weekday",
        "time",
        "mood",
        "activities",
        "scales",
        "note_title",
        "note",
    ),
}

#: Column names and dtypes of the ``journal`` frame (see ``schemas/journal.py``).
JOURNAL_FRAME_SCHEMA: Final[dict[str, pl.DataType]] = {
    "entry_id": pl.String(),
    "client_id": pl.String(),
    "timestamp_utc": pl.Datetime("us", "UTC"),
    "local_date": pl.Date(),
    "kind": pl.String(),
    "mood": pl.Float64(),
    "mood_scale_max": pl.Int8(),
    "anxiety": pl.Float64(),
    "stress": pl.Float64(),
    "energy": pl.Float64(),
    "sleep_hours": pl.Float64(),
    "sleep_quality": pl.Float64(),
    "rpe": pl.Float64(),
    "source": pl.String(),
}

#: Column names and dtypes of the restricted ``journal_notes`` frame.
JOURNAL_NOTES_FRAME_SCHEMA: Final[dict[str, pl.DataType]] = {
    "entry_id": pl.String(),
    "client_id": pl.String(),
    "note": pl.String(),
}


@dataclass(frozen=True, slots=True)
class JournalReadResult:
    """What a journal reader returns.

    Attributes
    ----------
    source : {"clinic_template", "daylio"}
        The detected format.
    journal : polars.DataFrame
        The analyst ``journal`` frame (no free text), one row per accepted entry.
    notes : polars.DataFrame
        The restricted ``journal_notes`` frame (entry_id, client_id, note), one row per accepted
        entry that has a non-empty note. Write it only under ``<warehouse>/restricted/``.
    issues : tuple of RowIssue
        Refused rows, with line numbers and plain-language messages.
    """

    source: JournalFormat
    journal: pl.DataFrame
    notes: pl.DataFrame
    issues: tuple[RowIssue, ...]


@dataclass(frozen=True, slots=True)
class CsvText:
    """A CSV file decoded: its text, the encoding it was read in and its delimiter."""

    text: str
    encoding: str
    delimiter: str

    def describe(self) -> str:
        """How the file was read, for the note to staff.

        Examples
        --------
        >>> CsvText("a;b", "cp1252", ";").describe()
        'read as cp1252 text, semicolon-separated'
        """
        return f"read as {self.encoding} text, {DELIMITER_NAMES[self.delimiter]}-separated"


DELIMITER_NAMES: Final[dict[str, str]] = {",": "comma", ";": "semicolon", "\t": "tab"}
"""The delimiters a clinic CSV may use, and their names in notes."""

_CSV_FIELD_LIMIT = 64 * 1024 * 1024
"""The csv module's own cell limit, raised so that a long cell refuses its row, not the file."""


def _encoding_of(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    head = data[:4096]
    if len(head) >= 4 and head.count(b"\x00") * 3 >= len(head):  # UTF-16 without a BOM
        return "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            return "latin-1"
        return "cp1252"
    return "utf-8"


def sniff_delimiter(text: str) -> str:
    r"""The delimiter of the header line: the one of ``,`` ``;`` tab that it holds most.

    Examples
    --------
    >>> sniff_delimiter("timestamp;kind;mood\n"), sniff_delimiter("a\tb\n"), sniff_delimiter("a\n")
    (';', '\t', ',')
    """
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in DELIMITER_NAMES}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def decode_table_text(data: bytes, *, error: type[Exception] = JournalUnreadable) -> CsvText:
    r"""Decode a clinic CSV: UTF-8 (with or without BOM), UTF-16, cp1252 or Latin-1.

    Raises ``error`` when the bytes hold no text.

    Examples
    --------
    >>> decode_table_text("a;b\n\u00e9;2\n".encode("cp1252")).describe()
    'read as CP1252 text, semicolon-separated'
    >>> decode_table_text("a,b\n".encode("utf-16")).text
    'a,b\n'
    """
    encoding = _encoding_of(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise error(f"the file is not text (undecodable byte at offset {exc.start})") from exc
    if encoding.startswith("utf-16"):
        text = text.lstrip("\ufeff")
    if not text.strip() or "\x00" in text:
        raise error("the file is empty" if not text.strip() else "the file is not text")
    name = {"utf-8-sig": "UTF-8 (with BOM)", "utf-8": "UTF-8"}.get(encoding, encoding.upper())
    return CsvText(text, name, sniff_delimiter(text))


def decode_csv_text(data: bytes, *, error: type[Exception] = JournalUnreadable) -> str:
    r"""Decode CSV bytes (see :func:`decode_table_text`), dropping a leading byte-order mark.

    Parameters
    ----------
    data : bytes
        The file content.
    error : type of Exception
        Exception class raised (with a message) when the bytes are not text or empty.

    Returns
    -------
    str
        The text, without the BOM.

    Examples
    --------
    >>> decode_csv_text(b"\xef\xbb\xbfa,b\n")
    'a,b\n'
    """
    return decode_table_text(data, error=error).text


def iter_csv_records(
    text: str, *, error: type[Exception] = JournalUnreadable
) -> Iterator[tuple[int, list[str]]]:
    r"""Yield CSV records with the 1-based physical line on which each one starts.

    Quoted cells may contain line breaks (RFC 4180); the line reported is where the record
    begins. Records whose cells are all blank are skipped.

    Parameters
    ----------
    text : str
        Decoded CSV text.
    error : type of Exception
        Raised (from the ``csv.Error``) when the text cannot be split into records at all,
        e.g. a cell over the csv module's size limit.

    Yields
    ------
    tuple of (int, list of str)
        The start line and the raw cells.

    Examples
    --------
    >>> list(iter_csv_records('a,b\n1,"x\ny"\n\n2,z\n'))
    [(1, ['a', 'b']), (2, ['1', 'x\ny']), (5, ['2', 'z'])]
    """
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(
        io.StringIO(text, newline=""), strict=False, delimiter=sniff_delimiter(text)
    )
    previous_end = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise error(
                f"the file is not readable as CSV after line {previous_end}: {exc}"
            ) from exc
        start = previous_end + 1
        previous_end = reader.line_num
        if not cells or all(not cell.strip() for cell in cells):
            continue
        yield start, cells


class CellError(Exception):
    """One cell of a CSV row breaks a rule; the row is skipped and reported.

    Parameters
    ----------
    column : str
        The column of the offending cell, reported as :attr:`RowIssue.column`.
    message : str
        Plain-language description; the reported message adds ``"; row skipped"``.
    """

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def iter_parsed_rows(
    records: Iterable[tuple[int, list[str]]],
    header: Sequence[str],
    parse: Callable[[dict[str, str]], _Parsed],
    issues: list[RowIssue],
    *,
    on_row: Callable[[int, dict[str, str]], None] | None = None,
) -> Iterator[tuple[int, dict[str, str], _Parsed]]:
    r"""Parse the data records of a CSV, reporting and skipping the rows that cannot be read.

    A record with a different number of cells than the header, or whose ``parse`` raises
    :class:`CellError`, is appended to ``issues`` (as it is met, so issues stay in line order
    relative to what the caller adds) and not yielded.

    Parameters
    ----------
    records : iterable of (int, list of str)
        The data records after the header, as from :func:`iter_csv_records`.
    header : sequence of str
        The normalised header cells (see :func:`header_cells`).
    parse : callable
        Turns a row (column name -> cell, spaces stripped) into the parsed value, or raises
        :class:`CellError`.
    issues : list of RowIssue
        Receives the issue of each skipped row.
    on_row : callable, optional
        Called with ``(line, row)`` for every row of the right width, before it is parsed
        (also for rows that ``parse`` then refuses).

    Yields
    ------
    tuple of (int, dict of str to str, object)
        The line, the row and what ``parse`` returned, for each accepted row.

    Examples
    --------
    >>> def parse(row):
    ...     if not row["n"].isdigit():
    ...         raise CellError("n", f"n must be a whole number, got {row['n']!r}")
    ...     return int(row["n"])
    >>> issues = []
    >>> records = iter_csv_records("n,note\n 7 ,a\nx,b\n1\n")
    >>> header = header_cells(next(records)[1])
    >>> [(line, parsed) for line, _, parsed in iter_parsed_rows(records, header, parse, issues)]
    [(2, 7)]
    >>> for issue in issues:
    ...     print(issue.line, issue.column, issue.message)
    3 n n must be a whole number, got 'x'; row skipped
    4 None expected 2 cells, found 1; row skipped
    """
    for line, cells in records:
        if len(cells) != len(header):
            issues.append(
                RowIssue(
                    line=line,
                    message=f"expected {len(header)} cells, found {len(cells)}; row skipped",
                )
            )
            continue
        long = next(
            (n for n, c in zip(header, cells, strict=True) if len(c) > MAX_CELL_CHARS), None
        )
        if long is not None:
            issues.append(
                RowIssue(
                    line=line,
                    message=f"the {long} cell is longer than {MAX_CELL_CHARS} characters; "
                    "row skipped",
                    column=long,
                )
            )
            continue
        row = {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
        if on_row is not None:
            on_row(line, row)
        try:
            parsed = parse(row)
        except CellError as exc:
            issues.append(
                RowIssue(line=line, message=f"{exc.message}; row skipped", column=exc.column)
            )
            continue
        yield line, row, parsed


def header_problems(
    header: Sequence[str], *, required: Sequence[str], optional: Sequence[str] = ()
) -> list[str]:
    """List what is wrong with a header: missing, unknown and repeated columns (empty when fine).

    Examples
    --------
    >>> header_problems(("a", "c", "c"), required=("a", "b"), optional=("d",))
    ['missing column(s) b', 'unknown column(s) c, c', 'repeated column(s) c']
    """
    missing = [name for name in required if name not in header]
    allowed = set(required) | set(optional)
    unknown = [name for name in header if name not in allowed]
    repeated = sorted({name for name in header if list(header).count(name) > 1})
    checks = (("missing", missing), ("unknown", unknown), ("repeated", repeated))
    return [f"{what} column(s) " + ", ".join(names) for what, names in checks if names]


def require_header(
    header: Sequence[str],
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    error: type[TableFileError],
    what: str,
) -> None:
    """Raise ``error`` (line 1, expected and found columns) when the header of a ``what`` is wrong.

    Examples
    --------
    >>> from schemas.errors import PlanInvalid
    >>> try:
    ...     require_header(("week_start",), required=("week_start", "sessions"), error=PlanInvalid,
    ...                    what="plan")
    ... except PlanInvalid as exc:
    ...     print(exc.message, "|", exc.detail)
    the plan header is wrong: missing column(s) sessions | line 1; expected week_start,sessions; got week_start
    """
    problems = header_problems(header, required=required, optional=optional)
    if problems:
        raise error(
            f"the {what} header is wrong: " + "; ".join(problems),
            line=1,
            expected=",".join(required) + "".join(f"[,{name}]" for name in optional),
            got=",".join(header),
        )


def header_cells(cells: Sequence[str]) -> tuple[str, ...]:
    r"""Normalise header cells: strip spaces and a stray BOM; keep case and order.

    Examples
    --------
    >>> header_cells(["\ufefffull_date", " date "])
    ('full_date', 'date')
    """
    return tuple(cell.strip().lstrip("\ufeff").strip() for cell in cells)


def detect_journal_format(data: bytes) -> JournalFormat:
    r"""Tell the clinic template from a Daylio export by the header line.

    Parameters
    ----------
    data : bytes
        The journal file content.

    Returns
    -------
    {"clinic_template", "daylio"}

    Raises
    ------
    JournalUnreadable
        The bytes are not UTF-8 text or the file is empty.
    JournalUnrecognisedHeader
        The header matches neither format.

    Examples
    --------
    >>> detect_journal_format(b"\xef\xbb\xbffull_date,date,weekday,time,mood,activities,note\n")
    'daylio'
    """
    return detect_header(decode_csv_text(data))[0]


def detect_header(text: str) -> tuple[JournalFormat, tuple[str, ...]]:
    r"""Return the journal format and the normalised header of decoded CSV text.

    Parameters
    ----------
    text : str
        Decoded CSV text (see :func:`decode_csv_text`).

    Returns
    -------
    tuple of (str, tuple of str)
        The format and the header cells, stripped.

    Raises
    ------
    JournalUnreadable, JournalUnrecognisedHeader
        As :func:`detect_journal_format`.

    Examples
    --------
    >>> detect_header("year,date,weekday,time,mood,activities,note\n")[0]
    'daylio'
    """
    first = next(iter_csv_records(text), None)
    if first is None:
        raise JournalUnreadable("the file has no header line")
    line, cells = first
    header = header_cells(cells)
    if len(set(header)) == len(header) and set(header) == set(CLINIC_TEMPLATE_COLUMNS):
        return "clinic_template", header
    if header in DAYLIO_HEADERS.values():
        return "daylio", header
    raise JournalUnrecognisedHeader(
        "the journal's header is neither the clinic template nor a Daylio CSV export",
        line=line,
        expected=",".join(CLINIC_TEMPLATE_COLUMNS) + " | a Daylio header",
        got=",".join(header),
    )


class EntryCollector:
    """Accumulate accepted journal rows and notes, refusing duplicate entry ids.

    Used by both journal readers; the first row with a given entry id is kept and later
    ones are reported.
    """

    def __init__(self, *, client_id: str, source: JournalFormat) -> None:
        self.client_id = client_id
        self.source: JournalFormat = source
        self.rows: list[dict[str, Any]] = []
        self.notes: list[dict[str, Any]] = []
        self.issues: list[RowIssue] = []
        self._seen: dict[str, int] = {}

    def add(
        self,
        *,
        line: int,
        timestamp_utc: datetime,
        local_date: date,
        kind: str,
        mood_scale_max: int,
        values: dict[str, float | None],
        note: str,
    ) -> None:
        """Add one parsed row, or an issue when its entry id was already taken."""
        entry_id = make_entry_id(self.client_id, timestamp_utc, kind, self.source)
        if entry_id in self._seen:
            self.issues.append(
                RowIssue(
                    line=line,
                    message=(
                        f"an entry of kind {kind} at the same time is already on line "
                        f"{self._seen[entry_id]}; this row was skipped"
                    ),
                )
            )
            return
        self._seen[entry_id] = line
        row: dict[str, Any] = {
            "entry_id": entry_id,
            "client_id": self.client_id,
            "timestamp_utc": timestamp_utc,
            "local_date": local_date,
            "kind": kind,
            "mood_scale_max": mood_scale_max,
            "source": self.source,
        }
        for column in ("mood", "anxiety", "stress", "energy", "sleep_hours", "sleep_quality"):
            row[column] = values.get(column)
        row["rpe"] = values.get("rpe")
        self.rows.append(row)
        if note:
            self.notes.append({"entry_id": entry_id, "client_id": self.client_id, "note": note})

    def result(self) -> JournalReadResult:
        """Build the frames, sorted by time then entry id."""
        journal = pl.DataFrame(self.rows, schema=JOURNAL_FRAME_SCHEMA, orient="row").sort(
            "timestamp_utc", "entry_id"
        )
        notes = pl.DataFrame(self.notes, schema=JOURNAL_NOTES_FRAME_SCHEMA, orient="row").sort(
            "entry_id"
        )
        issues = tuple(sorted(self.issues, key=lambda issue: issue.line))
        return JournalReadResult(source=self.source, journal=journal, notes=notes, issues=issues)


def parse_number(cell: str, *, column: str, low: float, high: float) -> float | None:
    """Parse an optional finite number and check it lies in ``[low, high]``.

    Parameters
    ----------
    cell : str
        The raw cell; blank means missing.
    column : str
        Column name, used in the error message.
    low, high : float
        Inclusive bounds.

    Returns
    -------
    float or None
        The value, or None for a blank cell.

    Raises
    ------
    ValueError
        With a plain-language message, when the cell is not a number or out of range.

    Examples
    --------
    >>> parse_number(" 7.5 ", column="mood", low=1, high=10)
    7.5
    >>> parse_number("", column="mood", low=1, high=10) is None
    True
    """
    text = cell.strip()
    if not text:
        return None
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")  # a decimal comma (semicolon-separated exports)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} must be a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{column} must be a finite number")
    if not low <= value <= high:
        raise ValueError(f"{column} must be between {low:g} and {high:g}")
    return value


def check_year(year: int, *, column: str) -> None:
    """Refuse (as a :class:`CellError`) a date outside the years mindmiles takes in.

    Examples
    --------
    >>> check_year(2026, column="timestamp")
    >>> try:
    ...     check_year(9999, column="timestamp")
    ... except CellError as exc:
    ...     print(exc.message)
    timestamp must lie in the years 1990 to 2099
    """
    if not FIRST_YEAR <= year < END_YEAR:
        raise CellError(column, f"{column} must lie in the years {FIRST_YEAR} to {END_YEAR - 1}")

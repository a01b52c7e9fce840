"""FIT reader (fitparse): sessions, laps, records and RR intervals as typed frames.

Error policy (after fitdecode's explicit ``ErrorHandling``): decoding never silently stops.

* A file cut short (no trailing CRC) or with a decode error part-way through is *salvaged*: the
  messages decoded before the cut are kept, the activity is flagged ``recovered`` and the reason is
  listed in :attr:`ParsedFile.warnings`. With no record before the cut it is :class:`CorruptFile`.
* A file whose data decodes but whose CRC does not match is kept and flagged ``crc_mismatch``.
* Timestamps below ``0x10000000`` are device-relative (the watch clock was never set): they are used
  for elapsed time only, the activity is flagged ``clock_not_set`` and no date is stored.
* Records whose timestamp lies far outside the session (a decoder reading garbage, e.g. 2085) are
  dropped and the activity is flagged ``implausible_timestamps_dropped``.
* Developer fields are ignored; invalid sentinel values arrive as null from fitparse.
"""

from __future__ import annotations

import io
import logging
import struct
from collections.abc import Iterator
from typing import Any

import fitparse
import numpy as np
from fitparse.records import BASE_TYPES
from fitparse.utils import FitCRCError, FitEOFError, FitParseError

from ingest.fit_common import (
    RECORD_FIELDS,
    FitContent,
    as_time,
    as_values,
    assemble,
    ended_early,
    hr_events_from_raws,
    number,
    pick,
    records_from_rows,
)
from ingest.frames import ParsedFile

__all__ = ["read_fit"]

log = logging.getLogger(__name__)


BYTE_BASE_TYPE = 0x0D
"""Base type ``byte``: how a field whose size is not a multiple of its base type is read."""


class _LenientFitFile(fitparse.FitFile):  # type: ignore[misc]
    """fitparse, reading a field whose size is not a multiple of its base type as bytes.

    fitparse raises on such a field ("Invalid field size") and stops the file there; fitdecode
    reads it as bytes and goes on. This does what fitdecode does, counted in :attr:`bad_sizes`,
    by adjusting the base type in the (field number, size, base type) triples that a definition
    message's header (read as ``"HB"``: message number, number of fields) announces; the
    developer-field triples that may follow are left alone.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.bad_sizes = 0
        self._native_left = 0
        super().__init__(*args, **kwargs)

    def _read_struct(self, fmt: str, *args: Any, **kwargs: Any) -> Any:
        values = super()._read_struct(fmt, *args, **kwargs)
        if fmt == "HB":  # a definition's message number and field count
            self._native_left = values[1]
        elif fmt == "3B" and self._native_left > 0:
            self._native_left -= 1
            number, size, base_num = values
            base = BASE_TYPES.get(base_num)
            if base is not None and size % base.size:
                self.bad_sizes += 1
                return number, size, BYTE_BASE_TYPE
        return values


def _messages(data: bytes, content: FitContent) -> Iterator[Any]:
    fit = _LenientFitFile(io.BytesIO(data), check_crc=True)
    try:
        yield from _wanted(fit)
    finally:
        if fit.bad_sizes:
            content.skipped["bad_field_size"] = fit.bad_sizes


def _wanted(fit: Any) -> Iterator[Any]:
    yield from fit.get_messages(
        ["file_id", "sport", "session", "lap", "length", "record", "hrv", "hr"]
    )


class _Collector:
    """Collects the messages fitparse decodes into a :class:`FitContent`, one message at a time."""

    def __init__(self) -> None:
        self.content = FitContent()
        self.records: list[tuple[float | None, dict[str, Any]]] = []
        self.rr: list[tuple[float | None, float]] = []
        self.last_abs: float | None = None
        self.hr: list[dict[int, Any]] = []

    def add(self, message: Any) -> None:
        """Take one decoded message in (raises on values in a shape no reader expects)."""
        content = self.content
        values = message.get_values()
        name = message.name
        if name == "record":
            when, absolute = as_time(values.get("timestamp"))
            if absolute is not None and when is None:
                content.clock_relative = True
            self.last_abs = absolute if absolute is not None else self.last_abs
            row = pick(values, RECORD_FIELDS)
            fraction = number(values.get("fractional_cadence"))
            if row["cadence_rpm"] is not None and fraction is not None:
                row["cadence_rpm"] += fraction
            row["timestamp"] = when
            self.records.append((absolute, row))
        elif name == "hr":
            self.hr.append(
                {f.field_def.def_num: f.raw_value for f in message.fields if f.field_def}
            )
        elif name == "hrv":
            self.rr.extend(
                (self.last_abs, float(v)) for v in as_values(values.get("time")) if v is not None
            )
        else:
            self.content.add_small(name, values)


def _collect(data: bytes) -> FitContent:
    collector = _Collector()
    content = collector.content
    messages = _messages(data, content)
    try:
        for message in messages:
            try:
                collector.add(message)
            except (ValueError, TypeError, OverflowError, KeyError, IndexError) as exc:
                # one message whose values cannot be taken in is skipped and counted, never the
                # messages after it
                log.debug("skipped a %s message (%s)", message.name, type(exc).__name__)
                content.skipped["message"] = content.skipped.get("message", 0) + 1
    except FitCRCError:
        # fitparse checks the CRC after the last message: everything was decoded.
        content.crc_mismatch = True
    except FitEOFError as exc:
        content.truncated = True
        content.error = ended_early(str(exc))
    except FitParseError as exc:
        content.error = str(exc)
    except (ValueError, TypeError, OverflowError, KeyError, IndexError, struct.error) as exc:
        # fitparse itself trips over some damaged values (an hour of 25, an array where a
        # number belongs): treated like any other decode error, never raised out of the reader.
        content.error = f"decoder error ({type(exc).__name__})"
    content.records = records_from_rows(collector.records)
    if collector.hr:
        content.hr_events = hr_events_from_raws(collector.hr)
    content.rr_abs = np.array(
        [np.nan if t is None else t for t, _ in collector.rr], dtype=np.float64
    )
    content.rr_s = np.array([value for _, value in collector.rr], dtype=np.float64)
    return content


def read_fit(data: bytes) -> ParsedFile:
    """Decode a FIT file (chained and multi-sport files included) into one activity per session.

    Parameters
    ----------
    data
        The file's bytes.

    Returns
    -------
    ParsedFile
        ``source_format="fit"``, ``decoder="fitparse"``; flags and warnings say what was salvaged.

    Raises
    ------
    CorruptFile
        Nothing usable could be decoded (reason ``fit_corrupt`` or ``fit_truncated``).
    NotAnActivity
        A valid FIT file of another kind (settings, monitoring, ...) or with no records.

    Examples
    --------
    >>> parsed = read_fit(Path("run.fit").read_bytes())  # doctest: +SKIP
    >>> parsed.activities[0].samples.columns[:3]  # doctest: +SKIP
    ['timestamp', 'elapsed_s', 'distance_m']
    """
    return assemble(_collect(data), decoder="fitparse")

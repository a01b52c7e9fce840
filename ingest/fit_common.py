"""What both FIT decoders share: field mappings, value rules, and turning decoded data into activities.

``ingest/fit.py`` (fitparse, message by message) and ``ingest/fit_fast.py`` (columnar, numpy) decode
the same messages into the same :class:`FitContent`; :func:`assemble` then applies the one error and
flag policy described in ``ingest/fit.py`` (salvage, ``crc_mismatch``, ``clock_not_set``, outliers
dropped) and splits the records into one :class:`~ingest.frames.ParsedActivity` per session.

The record columns are kept columnar (a Polars frame plus the absolute FIT time of each record) so
that the fast decoder never builds one Python object per record; the fitparse decoder fills the same
frame from its rows with :func:`records_from_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from ingest.columnar import (
    float_series,
    list_frame,
    rearranged,
)
from ingest.frames import (
    LAP_COLUMNS,
    RR_COLUMNS,
    SAMPLE_COLUMNS,
    ParsedActivity,
    ParsedFile,
    frame_from_rows,
)
from schemas.errors import CorruptFile, NotAnActivity
from schemas.motion import MAX_HR_EVENT_AGE_S

__all__ = [
    "ABS_COLUMN",
    "COLUMN_CONVERTERS",
    "COLUMN_MESSAGES",
    "EVENT_12_BITS",
    "FIT_EPOCH",
    "HR_FIELD_NUMBERS",
    "LAP_FIELDS",
    "LENGTH_FIELDS",
    "OUTLIER_SLACK_S",
    "RECORD_COLUMNS",
    "RECORD_FIELDS",
    "RELATIVE_TIME_LIMIT",
    "SEMICIRCLE_TO_DEG",
    "SESSION_FIELDS",
    "SKIPPED_FLAG",
    "FitContent",
    "FitSeconds",
    "HrEvents",
    "as_time",
    "as_values",
    "assemble",
    "device_name",
    "ended_early",
    "hr_events",
    "hr_events_from_raws",
    "mapped_column",
    "number",
    "pick",
    "positive",
    "records_from_rows",
    "semicircles",
]

FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.UTC)
RELATIVE_TIME_LIMIT = 0x10000000
"""FIT date_time values below this are seconds since device power-on, not dates."""

SEMICIRCLE_TO_DEG = 180.0 / 2**31
SKIPPED_FLAG = "fields_skipped"
"""Flag of an activity whose file had messages or fields that could not be decoded (stepped over)."""
OUTLIER_SLACK_S = 6 * 3600
"""Records more than this outside the session's span are treated as garbage."""

Converter = Callable[[Any], Any]
FloatArray = npt.NDArray[np.float64]
ColumnConverter = Callable[[FloatArray], FloatArray]


def semicircles(value: Any) -> float | None:
    """Semicircles to degrees (``None`` stays ``None``)."""
    degrees = number(value)
    return None if degrees is None else degrees * SEMICIRCLE_TO_DEG


def number(value: Any) -> float | None:
    """A decoded FIT value as a float; arrays, strings and invalid values become ``None``."""
    if value is None or isinstance(value, tuple | str):
        return None
    return float(value)


def positive(value: Any) -> float | None:
    """Heart rate 0 is what devices write when no strap reading exists: null."""
    value = number(value)
    return value if value is not None and value > 0 else None


def _column_number(values: FloatArray) -> FloatArray:
    return values


def _column_positive(values: FloatArray) -> FloatArray:
    return np.where(values > 0, values, np.nan)


def _column_semicircles(values: FloatArray) -> FloatArray:
    return values * SEMICIRCLE_TO_DEG


COLUMN_CONVERTERS: Mapping[Converter, ColumnConverter] = {
    number: _column_number,
    positive: _column_positive,
    semicircles: _column_semicircles,
}
"""The columnar twin of each row converter (float64 columns, NaN standing for ``None``).

A converter added to a field mapping without its twin here fails the fast decoder's first use.
"""

RECORD_FIELDS: dict[str, tuple[tuple[str, ...], Converter]] = {
    # column: (FIT fields in order of preference, converter)
    "distance_m": (("distance",), number),
    "speed_mps": (("enhanced_speed", "speed"), number),
    "hr_bpm": (("heart_rate",), positive),
    "cadence_rpm": (("cadence",), number),
    "altitude_m": (("enhanced_altitude", "altitude"), number),
    "power_w": (("power",), number),
    "lat_deg": (("position_lat",), semicircles),
    "lon_deg": (("position_long",), semicircles),
    "temperature_c": (("temperature",), number),
}
"""How FIT ``record`` fields become sample columns."""

LAP_FIELDS: dict[str, tuple[tuple[str, ...], Converter]] = {
    "elapsed_s": (("total_elapsed_time",), number),
    "timer_s": (("total_timer_time",), number),
    "distance_m": (("total_distance",), number),
    "hr_mean_bpm": (("avg_heart_rate",), positive),
    "hr_max_bpm": (("max_heart_rate",), positive),
    "cadence_mean_rpm": (("avg_running_cadence", "avg_cadence"), number),
    "speed_mean_mps": (("enhanced_avg_speed", "avg_speed"), number),
    "ascent_m": (("total_ascent",), number),
}
"""How FIT ``lap`` fields become lap columns."""

SESSION_FIELDS: dict[str, tuple[tuple[str, ...], Converter]] = {
    "total_elapsed_s": (("total_elapsed_time",), number),
    "total_timer_s": (("total_timer_time",), number),
    "total_distance_m": (("total_distance",), number),
    "hr_mean_bpm": (("avg_heart_rate",), positive),
    "hr_max_bpm": (("max_heart_rate",), positive),
    "total_ascent_m": (("total_ascent",), number),
    "pool_length_m": (("pool_length",), number),
}
"""Device-reported session totals kept as fallbacks for the summaries (and the pool length)."""

LENGTH_FIELDS: dict[str, tuple[tuple[str, ...], Converter]] = {
    "timer_s": (("total_timer_time",), number),
    "elapsed_s": (("total_elapsed_time",), number),
}
"""How FIT ``length`` fields (one pool length swum, or a rest) are read; ``length_type`` besides."""

COLUMN_MESSAGES: Mapping[str, Mapping[str, tuple[tuple[str, ...], Converter]]] = {
    "lap": LAP_FIELDS,
    "length": LENGTH_FIELDS,
    "session": SESSION_FIELDS,
}
"""Messages :meth:`FitContent.add_small_columns` takes, each with the field mapping it applies."""

SWIM_SPORT = "swimming"
"""FIT sport whose moving time comes from its lengths and laps, not from a speed threshold."""

HR_FIELD_NUMBERS: Mapping[str, int] = {
    "fractional_timestamp": 0,  # 1/32768 s
    "time256": 1,  # 1/256 s
    "filtered_bpm": 6,  # one heart rate per event
    "event_timestamp": 9,  # 1/1024 s, a free-running clock
    "event_timestamp_12": 10,  # the same clock's low 12 bits, 8 per 12 bytes, accumulated
    "timestamp": 253,
}
"""Field numbers of the FIT ``hr`` message (heart rate a strap stored apart), read raw."""
_HR = HR_FIELD_NUMBERS
EVENT_CLOCK_HZ = 1024
EVENT_12_BITS = 12


def ended_early(detail: str) -> str:
    """:attr:`FitContent.error` of a file that ends before its data and CRC (``detail``: why)."""
    return f"file ends early ({detail})"


def as_values(value: Any) -> tuple[Any, ...]:
    """An array field's values: a 1-value array may come as a scalar, none as ``None``."""
    if value is None:
        return ()
    return tuple(value) if isinstance(value, tuple | list) else (value,)


@dataclass
class HrEvents:
    """The beats of a file's ``hr`` messages, flattened in file order (one entry per event).

    ``message``: index of the event's message; ``full``: the value is a whole 32-bit
    ``event_timestamp`` (else a 12-bit low part from ``event_timestamp_12``); ``value``: that
    value; ``valid``: it is not the invalid sentinel; ``bpm``: the ``filtered_bpm`` at the same
    position in the message (NaN when none or invalid). ``anchor``: per message, its
    ``timestamp`` plus ``fractional_timestamp`` (or ``time256``) in FIT seconds, NaN without one.
    """

    message: npt.NDArray[np.int64]
    full: npt.NDArray[np.bool_]
    value: npt.NDArray[np.int64]
    valid: npt.NDArray[np.bool_]
    bpm: FloatArray
    anchor: FloatArray


def hr_events_from_raws(messages: Sequence[Mapping[int, Any]]) -> HrEvents:
    """:class:`HrEvents` from each ``hr`` message's raw values, one dict per message.

    Field number -> value as fitparse reads it: scalars, tuples for arrays, ``None`` for invalid.
    """
    message, full, value, valid, bpm = [], [], [], [], []
    anchor = []
    for i, raws in enumerate(messages):
        values: list[tuple[bool, Any]] = [
            (True, v) for v in as_values(raws.get(_HR["event_timestamp"]))
        ]
        packed = as_values(raws.get(_HR["event_timestamp_12"]))
        if packed:
            whole = int.from_bytes(bytes(0xFF if b is None else b for b in packed), "little")
            mask = (1 << EVENT_12_BITS) - 1
            values += [
                (False, (whole >> (EVENT_12_BITS * k)) & mask)
                for k in range(len(packed) * 8 // EVENT_12_BITS)
            ]
        rates = as_values(raws.get(_HR["filtered_bpm"]))
        for k, (is_full, v) in enumerate(values):
            rate = rates[k] if k < len(rates) else None
            message.append(i)
            full.append(is_full)
            value.append(v if isinstance(v, int) else 0)
            valid.append(isinstance(v, int))
            bpm.append(float(rate) if isinstance(rate, int) else np.nan)
        timestamp = raws.get(_HR["timestamp"])
        fraction, coarse = raws.get(_HR["fractional_timestamp"]), raws.get(_HR["time256"])
        seconds = (
            fraction / 32768
            if isinstance(fraction, int)
            else (coarse / 256 if isinstance(coarse, int) else 0.0)
        )
        anchor.append(timestamp + seconds if isinstance(timestamp, int) else np.nan)
    return HrEvents(
        np.asarray(message, dtype=np.int64),
        np.asarray(full, dtype=np.bool_),
        np.asarray(value, dtype=np.int64),
        np.asarray(valid, dtype=np.bool_),
        np.asarray(bpm, dtype=np.float64),
        np.asarray(anchor, dtype=np.float64),
    )


def hr_events(events: HrEvents) -> tuple[FloatArray, FloatArray]:
    """(FIT time in s, bpm) of every beat stored in ``hr`` messages.

    The FIT profile's rules: ``event_timestamp`` is a free-running clock (1/1024 s); a whole 32-bit
    value sets it, and ``event_timestamp_12`` carries eight 12-bit low parts of it that are
    accumulated (a part below the clock's current low bits rolls it over by 4096). A message with
    a ``timestamp`` ties the clock to real time: its first event happened at ``timestamp`` plus
    ``fractional_timestamp`` (or ``time256``), until the next such message. ``filtered_bpm`` holds
    one heart rate per event, by position. Events before the first whole value or the first tie,
    invalid values and zero rates are left out.
    """
    keep = events.valid
    message, full = events.message[keep], events.full[keep]
    value, bpm = events.value[keep], events.bpm[keep]
    mask = (1 << EVENT_12_BITS) - 1
    segment = np.cumsum(full)  # which whole value the clock last took
    clocked = segment > 0
    low = np.where(full, value & mask, value)
    previous = np.concatenate([[0], low[:-1]])
    wrapped = ~full & (low < previous)
    wraps = np.cumsum(wrapped)
    full_at = np.flatnonzero(full)
    seg_index = np.maximum(segment - 1, 0)
    base = value[full_at][seg_index] if full_at.size else np.zeros_like(value)
    wraps_before = wraps[full_at][seg_index] if full_at.size else np.zeros_like(wraps)
    clock = np.where(full, value, (base & ~mask) + ((wraps - wraps_before) << EVENT_12_BITS) + low)
    message, clock, bpm = message[clocked], clock[clocked], bpm[clocked]
    # the tie of each message with a timestamp: its first clocked event
    first = np.concatenate([[True], message[1:] != message[:-1]]) if message.size else message
    tie_at = first & ~np.isnan(events.anchor[message])
    tie_message = message[tie_at]
    tie_time = events.anchor[tie_message]
    tie_clock = clock[tie_at]
    which = np.searchsorted(tie_message, message, side="right") - 1
    tied = which >= 0
    rate_ok = ~np.isnan(bpm) & (bpm > 0)
    use = tied & rate_ok
    which = np.maximum(which, 0)
    if not tie_message.size:
        return np.empty(0), np.empty(0)
    times = tie_time[which] + (clock - tie_clock[which]) / EVENT_CLOCK_HZ
    return times[use], bpm[use]


def _merge_hr(content: FitContent) -> int:
    """Fill records without heart rate from the stored beats; return how many were filled.

    Each record takes the rate of the last beat at or before its time, at most
    :data:`~schemas.motion.MAX_HR_EVENT_AGE_S` before it.
    """
    if content.hr_events is None:
        return 0
    beat_times, bpms = hr_events(content.hr_events)
    if not beat_times.size or not content.records.height:
        return 0
    order = np.argsort(beat_times, kind="stable")
    beat_times, bpms = beat_times[order], bpms[order]
    record_abs = _record_times(content)
    last = np.searchsorted(beat_times, record_abs, side="right") - 1
    found = last >= 0
    age = np.where(found, record_abs - beat_times[np.maximum(last, 0)], np.inf)
    fresh = ~np.isnan(record_abs) & (age <= MAX_HR_EVENT_AGE_S)
    current = content.records["hr_bpm"]
    missing = current.is_null().to_numpy()
    fill = fresh & missing
    if not fill.any():
        return 0
    merged = np.where(fill, bpms[np.maximum(last, 0)], current.cast(pl.Float64).to_numpy())
    content.records = content.records.with_columns(
        pl.Series("hr_bpm", merged, nan_to_null=True).cast(current.dtype)
    )
    return int(fill.sum())


ABS_COLUMN = "_abs"
"""Records frame column: the record's FIT time in seconds (absolute or device-relative), or null."""

RECORD_COLUMNS: dict[str, pl.DataType] = {
    ABS_COLUMN: pl.Float64(),
    **{name: dtype for name, dtype in SAMPLE_COLUMNS.items() if name != "elapsed_s"},
}
"""Columns of :attr:`FitContent.records`, in order: the samples without ``elapsed_s``."""
ELAPSED_COLUMN = "elapsed_s"
_SAMPLES_FROM_RECORDS = tuple(
    None if name == ELAPSED_COLUMN else list(RECORD_COLUMNS).index(name) for name in SAMPLE_COLUMNS
)
"""Per sample column, in order: its position among the record columns (``None``: elapsed_s)."""


def pick(
    values: Mapping[str, Any], mapping: Mapping[str, tuple[tuple[str, ...], Converter]]
) -> dict[str, Any]:
    """Apply a field mapping to one message's values: the first source that converts to a value."""
    out: dict[str, Any] = {}
    get = values.get
    for column, (sources, convert) in mapping.items():
        value = None
        for source in sources:
            raw = get(source)
            if raw is not None:  # every converter gives None for None
                value = convert(raw)
                if value is not None:
                    break
        out[column] = value
    return out


class FitSeconds(int):
    """A FIT ``date_time`` of 0x10000000 or more (a date) in seconds since the FIT epoch.

    What fitparse turns into a naive UTC datetime; the columnar decoder keeps the seconds (it
    saves building a datetime only to read the seconds back), and :func:`as_time` reads both.
    """

    __slots__ = ()


def as_time(value: Any) -> tuple[dt.datetime | None, float | None]:
    """Return (UTC datetime, absolute seconds) for a decoded FIT date_time value.

    Device-relative values give ``(None, seconds_since_power_on)``.
    """
    if isinstance(value, FitSeconds):
        return FIT_EPOCH + dt.timedelta(seconds=value), float(value)
    if isinstance(value, dt.datetime):
        aware = value.replace(tzinfo=dt.UTC)
        return aware, (aware - FIT_EPOCH).total_seconds()
    if isinstance(value, int | float) and value < RELATIVE_TIME_LIMIT:
        return None, float(value)
    return None, None


def device_name(values: Mapping[str, Any]) -> str | None:
    """``"<manufacturer> <product>"`` from a ``file_id`` message's values (no serial number)."""
    manufacturer = values.get("manufacturer")
    product = values.get("garmin_product") or values.get("product_name") or values.get("product")
    parts = [str(p) for p in (manufacturer, product) if p is not None]
    return " ".join(parts) or None


_NO_RECORDS = pl.DataFrame(schema=RECORD_COLUMNS)
_NO_LAPS = pl.DataFrame(schema=LAP_COLUMNS)
_NO_RR = pl.DataFrame(schema=RR_COLUMNS)
"""Empty frames built once (a frame from a schema costs tens of microseconds); cloned per use."""


def _empty_records() -> pl.DataFrame:
    return _NO_RECORDS


@dataclass
class FitContent:
    """What a FIT decoder collected from one file, before it is split into activities.

    ``records`` has :data:`RECORD_COLUMNS` in file order; ``laps`` holds (absolute start, lap
    columns) per lap message; ``rr_abs``/``rr_s`` the time of the last record before each RR
    interval (NaN when none) and the interval in seconds; ``sessions`` one dict per session message
    (the :data:`SESSION_FIELDS` columns plus ``sport``, ``sub_sport``, ``start_utc``,
    ``start_abs``).
    """

    records: pl.DataFrame = field(default_factory=_empty_records)
    record_abs: FloatArray | None = None
    """The records' :data:`ABS_COLUMN` as float64, NaN for null, when the decoder has it at hand."""
    laps: list[tuple[float | None, dict[str, Any]]] = field(default_factory=list)
    lengths: list[tuple[float | None, dict[str, Any]]] = field(default_factory=list)
    rr_abs: FloatArray = field(default_factory=lambda: np.empty(0))
    rr_s: FloatArray = field(default_factory=lambda: np.empty(0))
    sessions: list[dict[str, Any]] = field(default_factory=list)
    sport: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    file_type: Any = None
    clock_relative: bool = False
    error: str | None = None
    truncated: bool = False
    crc_mismatch: bool = False
    hr_events: HrEvents | None = None
    """The beats of the ``hr`` messages (heart rate a strap stored apart), if any."""
    skipped: dict[str, int] = field(default_factory=dict)
    """What could not be decoded and was stepped over (a message, a field of a bad size, ...)."""

    SMALL_MESSAGES = ("lap", "length", "session", "sport", "file_id")
    """The messages :meth:`add_small` takes (one of each is a handful of values, never columns)."""

    def add_small(self, name: str, values: Mapping[str, Any]) -> None:
        """Collect one lap, length, session, sport or file_id message: both decoders call this."""
        if name == "lap":
            when, absolute = as_time(values.get("start_time"))
            lap = pick(values, LAP_FIELDS)
            lap["start_utc"] = when
            self.laps.append((absolute, lap))
        elif name == "length":
            _, absolute = as_time(values.get("start_time"))
            length = pick(values, LENGTH_FIELDS)
            self.lengths.append((absolute, {**length, "length_type": values.get("length_type")}))
        elif name == "session":
            when, absolute = as_time(values.get("start_time"))
            self.sessions.append(
                {
                    **pick(values, SESSION_FIELDS),
                    "sport": values.get("sport"),
                    "sub_sport": values.get("sub_sport"),
                    "start_utc": when,
                    "start_abs": absolute,
                }
            )
        elif name == "sport":
            self.sport = {"sport": values.get("sport"), "sub_sport": values.get("sub_sport")}
        elif name == "file_id" and self.file_type is None:
            self.file_type = values.get("type")
            self.device = device_name(values)
            _, created_abs = as_time(values.get("time_created"))
            if created_abs is not None and created_abs < RELATIVE_TIME_LIMIT:
                self.clock_relative = True

    def add_small_columns(self, name: str, columns: Mapping[str, Any], count: int) -> None:
        """Collect ``count`` lap, length or session messages at once: the twin of :meth:`add_small`.

        ``columns`` holds, per field name, each message's value in file order (a name not there is
        ``None`` throughout): a float64 array, NaN for ``None``, for ``start_time`` (FIT seconds)
        and the names the field mappings read (as :func:`number` reads them); a list of the values
        themselves for the others (the enums).
        """
        mapping = COLUMN_MESSAGES[name]
        picked = _picked(columns, mapping, count)
        starts = columns.get("start_time")
        absolute = [None] * count if starts is None else _floats(starts)
        if name == "length":
            types = columns.get("length_type", [None] * count)
            keys = (*mapping, "length_type")
            self.lengths.extend(
                zip(
                    absolute,
                    (dict(zip(keys, row, strict=True)) for row in zip(*picked, types, strict=True)),
                    strict=True,
                )
            )
            return
        when = [
            FIT_EPOCH + dt.timedelta(seconds=a)
            if a is not None and a >= RELATIVE_TIME_LIMIT
            else None
            for a in absolute
        ]
        if name == "lap":
            keys = (*mapping, "start_utc")
            rows = (dict(zip(keys, row, strict=True)) for row in zip(*picked, when, strict=True))
            self.laps.extend(zip(absolute, rows, strict=True))
        else:
            keys = (*mapping, "sport", "sub_sport", "start_utc", "start_abs")
            sports = columns.get("sport", [None] * count)
            sub_sports = columns.get("sub_sport", [None] * count)
            self.sessions.extend(
                dict(zip(keys, row, strict=True))
                for row in zip(*picked, sports, sub_sports, when, absolute, strict=True)
            )


def _floats(values: FloatArray) -> list[float | None]:
    """A float column as a list, ``None`` for NaN."""
    return [None if v != v else v for v in values.tolist()]


def _picked(
    columns: Mapping[str, Any],
    mapping: Mapping[str, tuple[tuple[str, ...], Converter]],
    count: int,
) -> list[list[float | None]]:
    """:func:`pick` over columns of numbers (NaN for ``None``): one list per mapped column."""
    picked: list[list[float | None]] = []
    for sources, convert in mapping.values():
        values = mapped_column(columns, sources, convert)
        picked.append([None] * count if values is None else _floats(values))
    return picked


def mapped_column(
    columns: Mapping[str, FloatArray], sources: Sequence[str], convert: Converter
) -> FloatArray | None:
    """:func:`pick` over columns: the first of ``sources`` that gives a value, per message.

    ``columns`` hold NaN where a message has no value; ``None`` when no source column exists.
    """
    to_column = COLUMN_CONVERTERS[convert]
    values = None
    for source in sources:
        found = columns.get(source)
        if found is not None:
            found = to_column(found)
            values = found if values is None else np.where(np.isnan(values), found, values)
    return values


def records_from_rows(rows: list[tuple[float | None, dict[str, Any]]]) -> pl.DataFrame:
    """Build :attr:`FitContent.records` from (absolute time, sample columns) rows."""
    return frame_from_rows(
        [{ABS_COLUMN: absolute, **row} for absolute, row in rows], RECORD_COLUMNS
    )


@dataclass
class _Session:
    meta: dict[str, Any]
    start_abs: float | None
    end_abs: float | None
    records: pl.DataFrame
    laps: list[dict[str, Any]]
    rr: FloatArray
    absolute: FloatArray  # each record's FIT time (the ABS_COLUMN), NaN for none
    lengths: list[dict[str, Any]] = field(default_factory=list)
    first_abs: float | None = None  # the first known of ``absolute``, once worked out


def _known_span(times: FloatArray) -> tuple[float, float] | None:
    """The first and last time that is not NaN; ``None`` when all are."""
    if not times.size:
        return None
    first = float(np.minimum.reduce(times))  # NaN when any is
    if first == first:
        return first, float(np.maximum.reduce(times))
    first = float(np.fmin.reduce(times))  # fmin and fmax pass over NaN; NaN only when all are
    return None if first != first else (first, float(np.fmax.reduce(times)))


def _session_metas(content: FitContent) -> list[dict[str, Any]]:
    metas = sorted(
        content.sessions,
        key=lambda m: m["start_abs"] if m["start_abs"] is not None else float("inf"),
    )
    return metas or [{**content.sport, "start_utc": None, "start_abs": None}]


def _session_index(starts: list[float | None], absolute: FloatArray) -> npt.NDArray[np.int64]:
    """Per time: the last session (in start order) that started at or before it, else the first.

    Sessions are sorted by start with the unknown starts last, so the sessions that started at or
    before a time are a prefix of the known starts.
    """
    known = np.array([s for s in starts if s is not None], dtype=np.float64)
    count = np.searchsorted(known, absolute, side="right")  # NaN sorts after every start
    count = np.where(np.isnan(absolute), 0, count)
    return np.maximum(count - 1, 0).astype(np.int64)


def _record_times(content: FitContent) -> FloatArray:
    """The records' :data:`ABS_COLUMN` as float64 (NaN for null): the decoder's, or read."""
    given = content.record_abs
    if given is not None and given.size == content.records.height:
        return given
    # nulls as NaN (the column has no NaN)
    return content.records[ABS_COLUMN].to_numpy(allow_copy=True).astype(np.float64)


def _split_sessions(content: FitContent) -> list[_Session]:
    metas = _session_metas(content)
    starts: list[float | None] = [m.get("start_abs") for m in metas]
    record_abs = _record_times(content)
    sessions = []
    for meta, start in zip(metas, starts, strict=True):
        span = meta.get("total_elapsed_s")
        end = start + span if start is not None and span is not None else None
        sessions.append(
            _Session(
                meta=meta,
                start_abs=start,
                end_abs=end,
                records=content.records,
                laps=[],
                rr=content.rr_s,
                absolute=record_abs,
            )
        )
    if len(sessions) == 1:
        sessions[0].laps = [lap for _, lap in content.laps]
        sessions[0].lengths = [length for _, length in content.lengths]
        return sessions
    record_index = _session_index(starts, record_abs)
    lap_abs = np.array([np.nan if a is None else a for a, _ in content.laps], dtype=np.float64)
    lap_index = _session_index(starts, lap_abs).tolist()
    rr_index = _session_index(starts, content.rr_abs)
    length_abs = np.array(
        [np.nan if a is None else a for a, _ in content.lengths], dtype=np.float64
    )
    length_index = _session_index(starts, length_abs).tolist()
    for i, session in enumerate(sessions):
        session.lengths = [
            length for (_, length), j in zip(content.lengths, length_index, strict=True) if j == i
        ]
        mine = record_index == i
        session.records, session.absolute = _rows(content.records, mine), record_abs[mine]
        session.laps = [lap for (_, lap), j in zip(content.laps, lap_index, strict=True) if j == i]
        session.rr = content.rr_s[rr_index == i]
    return sessions


def _rows(frame: pl.DataFrame, mask: npt.NDArray[np.bool_]) -> pl.DataFrame:
    """The rows of ``frame`` where ``mask`` holds: a slice when they follow each other (cheap)."""
    where = np.flatnonzero(mask)
    if where.size and where[-1] - where[0] + 1 == where.size:
        return frame.slice(int(where[0]), where.size)
    return frame.filter(mask)


def _drop_outliers(session: _Session) -> int:
    """Drop records far outside the session span; return how many were dropped."""
    times = session.absolute
    span = _known_span(times)
    if span is None:
        return 0
    first, last = span
    session.first_abs = first
    start, end = session.start_abs, session.end_abs
    if (
        start is not None
        and end is not None
        and start - OUTLIER_SLACK_S <= first
        and last <= end + OUTLIER_SLACK_S
    ):
        return 0  # inside the session's span: the median below cannot widen it
    known = times[~np.isnan(times)]
    median = float(np.partition(known, known.size // 2)[known.size // 2])
    low = start if start is not None else median
    high = end if end is not None else median
    low, high = min(low, median) - OUTLIER_SLACK_S, max(high, median) + OUTLIER_SLACK_S
    if low <= first and last <= high:
        return 0
    with np.errstate(invalid="ignore"):
        keep = np.isnan(times) | ((times >= low) & (times <= high))
    before = session.records.height
    session.records, session.absolute = _rows(session.records, keep), times[keep]
    session.first_abs = None  # the first may have been dropped
    return before - session.records.height


def _swim_moving_time(session: _Session) -> float | None:
    """Moving time of a swim: its active lengths' timer time; else its laps', else the session's.

    Pool swims have a ``length`` message per length, ``length_type`` ``active`` or ``idle`` (a rest
    at the wall); an open-water swim has none, and its laps' timer time is what the watch counted
    between timer start and stop events. Speed is no guide in the water (a length has one speed
    value, or none).
    """
    active = [
        length.get("timer_s") if length.get("timer_s") is not None else length.get("elapsed_s")
        for length in session.lengths
        if length.get("length_type") == "active"
    ]
    if any(value is not None for value in active):
        return float(sum(value for value in active if value is not None))
    lap_timer = [lap["timer_s"] for lap in session.laps if lap.get("timer_s") is not None]
    if lap_timer:
        return float(sum(lap_timer))
    timer = session.meta.get("total_timer_s")
    return None if timer is None else float(timer)


UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_MICROSECOND = dt.timedelta(microseconds=1)


def _laps_frame(laps: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """A session's laps (dicts of the :data:`LAP_FIELDS` columns and ``start_utc``) as a frame.

    :data:`LAP_COLUMNS`, numbered from 0 in order; a column a lap lacks is null.
    """
    if not laps:
        return _NO_LAPS.clone()
    columns: list[Sequence[Any]] = []
    for name in LAP_COLUMNS:
        if name == "lap_index":
            columns.append(range(len(laps)))
        elif name == "start_utc":  # an aware datetime or None, as microseconds since 1970
            starts = [lap.get(name) for lap in laps]
            columns.append(
                [None if t is None else (t - UNIX_EPOCH) // ONE_MICROSECOND for t in starts]
            )
        else:
            columns.append([lap.get(name) for lap in laps])
    return list_frame(LAP_COLUMNS, columns)


def _activity(session: _Session, flags: set[str]) -> ParsedActivity:
    absolute = session.absolute
    first = session.first_abs
    if first is None:
        span = _known_span(absolute)
        first = None if span is None else span[0]
    # elapsed_s counts from the first sample, like start_utc
    elapsed_s = float_series(ELAPSED_COLUMN, absolute if first is None else absolute - first)
    samples = rearranged(
        session.records, [elapsed_s if i is None else i for i in _SAMPLES_FROM_RECORDS]
    )
    laps = _laps_frame(session.laps)
    rr = (
        pl.DataFrame(
            [
                pl.Series("rr_index", np.arange(session.rr.size), dtype=RR_COLUMNS["rr_index"]),
                pl.Series("rr_s", session.rr, dtype=RR_COLUMNS["rr_s"]),
            ]
        )
        if session.rr.size
        else _NO_RR.clone()
    )
    meta = {k: v for k, v in session.meta.items() if k != "start_abs"}
    meta["flags"] = set(flags)
    if meta.get("sport") == SWIM_SPORT:
        meta["moving_time_s"] = _swim_moving_time(session)
        # the swim starts when the session does (the first record can come a length later)
        meta["start_utc_from_session"] = meta.get("start_utc") is not None
    return ParsedActivity(meta=meta, samples=samples, laps=laps, rr=rr)


def assemble(content: FitContent, *, decoder: str) -> ParsedFile:
    """Apply the FIT error and flag policy and split the records into one activity per session.

    Parameters
    ----------
    content
        What the decoder collected.
    decoder
        Name stored in :attr:`ParsedFile.decoder` (``"fitparse"``, ``"fit-columnar"``).

    Returns
    -------
    ParsedFile
        ``source_format="fit"``; flags and warnings say what was salvaged.

    Raises
    ------
    CorruptFile
        Decoding stopped before any record (reason ``fit_corrupt`` or ``fit_truncated``).
    NotAnActivity
        A valid FIT file of another kind (settings, monitoring, ...) or with no records.

    Examples
    --------
    >>> assemble(FitContent(file_type="settings"), decoder="fitparse")
    Traceback (most recent call last):
    ...
    schemas.errors.NotAnActivity: not_an_activity: This is a watch settings file, not a workout; nothing to take in.
    """
    n_records = content.records.height
    warnings: list[str] = []
    merged = _merge_hr(content)
    if merged:
        warnings.append(f"heart rate stored apart (hr messages) merged into {merged} records")
    flags: set[str] = set()
    if content.error is not None:
        if not n_records:
            code = "fit_truncated" if content.truncated else "fit_corrupt"
            raise CorruptFile(
                code,
                "This FIT file is damaged and no workout data could be read from it.",
                detail=content.error,
            )
        flags.add("recovered")
        warnings.append(
            f"decoding stopped early ({content.error}); "
            f"{n_records} records before that point were kept"
        )
    if content.crc_mismatch:
        flags.add("crc_mismatch")
        warnings.append("the file's checksum does not match its contents")
    if content.clock_relative:
        flags.add("clock_not_set")
    if content.skipped:
        flags.add(SKIPPED_FLAG)
        counts = ", ".join(
            f"{n} {what.replace('_', ' ')}" for what, n in sorted(content.skipped.items())
        )
        warnings.append(f"{sum(content.skipped.values())} undecodable values skipped ({counts})")
    if content.file_type not in (None, "activity") and not n_records:
        raise NotAnActivity(
            "not_an_activity",
            f"This is a watch {content.file_type} file, not a workout; nothing to take in.",
        )
    if not n_records:
        raise NotAnActivity("not_an_activity", "This FIT file holds no workout records.")
    activities = []
    for session in _split_sessions(content):
        session_flags = set(flags)
        dropped = _drop_outliers(session)
        if dropped:
            session_flags.add("implausible_timestamps_dropped")
            warnings.append(f"{dropped} records with impossible timestamps were dropped")
        if session.records.height:
            activities.append(_activity(session, session_flags))
    return ParsedFile(
        source_format="fit",
        activities=activities,
        device=content.device,
        decoder=decoder,
        flags=flags,
        warnings=warnings,
    )

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

import datetime as dt
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import fitparse
from fitparse.utils import FitCRCError, FitEOFError, FitParseError

from ingest.errors import CorruptFile, NotAnActivity
from ingest.frames import (
    LAP_COLUMNS,
    RR_COLUMNS,
    SAMPLE_COLUMNS,
    ParsedActivity,
    ParsedFile,
    frame_from_rows,
)

__all__ = ["read_fit"]

FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.UTC)
RELATIVE_TIME_LIMIT = 0x10000000
"""FIT date_time values below this are seconds since device power-on, not dates."""

SEMICIRCLE_TO_DEG = 180.0 / 2**31
OUTLIER_SLACK_S = 6 * 3600
"""Records more than this outside the session's span are treated as garbage."""

Converter = Callable[[Any], Any]


def _semicircles(value: Any) -> float | None:
    return None if value is None else float(value) * SEMICIRCLE_TO_DEG


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, tuple | str):
        return None
    return float(value)


def _positive(value: Any) -> float | None:
    """Heart rate 0 is what devices write when no strap reading exists: null."""
    number = _number(value)
    return number if number is not None and number > 0 else None


RECORD_FIELDS: dict[str, tuple[tuple[str, ...], Converter]] = {
    # column: (FIT fields in order of preference, converter)
    "distance_m": (("distance",), _number),
    "speed_mps": (("enhanced_speed", "speed"), _number),
    "hr_bpm": (("heart_rate",), _positive),
    "cadence_rpm": (("cadence",), _number),
    "altitude_m": (("enhanced_altitude", "altitude"), _number),
    "power_w": (("power",), _number),
    "lat_deg": (("position_lat",), _semicircles),
    "lon_deg": (("position_long",), _semicircles),
    "temperature_c": (("temperature",), _number),
}
"""How FIT ``record`` fields become sample columns."""

LAP_FIELDS: dict[str, tuple[tuple[str, ...], Converter]] = {
    "elapsed_s": (("total_elapsed_time",), _number),
    "timer_s": (("total_timer_time",), _number),
    "distance_m": (("total_distance",), _number),
    "hr_mean_bpm": (("avg_heart_rate",), _positive),
    "hr_max_bpm": (("max_heart_rate",), _positive),
    "cadence_mean_rpm": (("avg_running_cadence", "avg_cadence"), _number),
    "speed_mean_mps": (("enhanced_avg_speed", "avg_speed"), _number),
    "ascent_m": (("total_ascent",), _number),
}
"""How FIT ``lap`` fields become lap columns."""

SESSION_FIELDS: dict[str, tuple[tuple[str, ...], Converter]] = {
    "total_elapsed_s": (("total_elapsed_time",), _number),
    "total_timer_s": (("total_timer_time",), _number),
    "total_distance_m": (("total_distance",), _number),
    "hr_mean_bpm": (("avg_heart_rate",), _positive),
    "hr_max_bpm": (("max_heart_rate",), _positive),
    "total_ascent_m": (("total_ascent",), _number),
}
"""Device-reported session totals kept as fallbacks for the summaries."""


def _pick(
    values: dict[str, Any], mapping: dict[str, tuple[tuple[str, ...], Converter]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, (sources, convert) in mapping.items():
        value = None
        for source in sources:
            value = convert(values.get(source))
            if value is not None:
                break
        out[column] = value
    return out


def _as_time(value: Any) -> tuple[dt.datetime | None, float | None]:
    """Return (UTC datetime, absolute seconds) for a FIT date_time value.

    Device-relative values give ``(None, seconds_since_power_on)``.
    """
    if isinstance(value, dt.datetime):
        aware = value.replace(tzinfo=dt.UTC)
        return aware, (aware - FIT_EPOCH).total_seconds()
    if isinstance(value, int | float) and value < RELATIVE_TIME_LIMIT:
        return None, float(value)
    return None, None


def _device_name(values: dict[str, Any]) -> str | None:
    manufacturer = values.get("manufacturer")
    product = values.get("garmin_product") or values.get("product_name") or values.get("product")
    parts = [str(p) for p in (manufacturer, product) if p is not None]
    return " ".join(parts) or None


@dataclass
class _Session:
    meta: dict[str, Any]
    start_abs: float | None
    end_abs: float | None
    records: list[dict[str, Any]] = field(default_factory=list)
    laps: list[dict[str, Any]] = field(default_factory=list)
    rr: list[float] = field(default_factory=list)


@dataclass
class _Collected:
    records: list[tuple[float | None, dict[str, Any]]] = field(default_factory=list)
    laps: list[tuple[float | None, dict[str, Any]]] = field(default_factory=list)
    rr: list[tuple[float | None, float]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    sport: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    file_type: str | None = None
    clock_relative: bool = False
    error: str | None = None
    truncated: bool = False
    crc_mismatch: bool = False


def _messages(data: bytes) -> Iterator[Any]:
    fit = fitparse.FitFile(io.BytesIO(data), check_crc=True)
    yield from fit.get_messages(["file_id", "sport", "session", "lap", "record", "hrv"])


def _collect(data: bytes) -> _Collected:
    collected = _Collected()
    last_abs: float | None = None
    try:
        for message in _messages(data):
            values = message.get_values()
            name = message.name
            if name == "record":
                when, absolute = _as_time(values.get("timestamp"))
                if absolute is not None and when is None:
                    collected.clock_relative = True
                last_abs = absolute if absolute is not None else last_abs
                row = _pick(values, RECORD_FIELDS)
                fraction = _number(values.get("fractional_cadence"))
                if row["cadence_rpm"] is not None and fraction is not None:
                    row["cadence_rpm"] += fraction
                row["timestamp"] = when
                collected.records.append((absolute, row))
            elif name == "hrv":
                for rr in values.get("time") or ():
                    if rr is not None:
                        collected.rr.append((last_abs, float(rr)))
            elif name == "lap":
                when, absolute = _as_time(values.get("start_time"))
                lap = _pick(values, LAP_FIELDS)
                lap["start_utc"] = when
                collected.laps.append((absolute, lap))
            elif name == "session":
                when, absolute = _as_time(values.get("start_time"))
                meta = _pick(values, SESSION_FIELDS)
                meta.update(
                    sport=values.get("sport"),
                    sub_sport=values.get("sub_sport"),
                    start_utc=when,
                    start_abs=absolute,
                )
                collected.sessions.append(meta)
            elif name == "sport":
                collected.sport = {
                    "sport": values.get("sport"),
                    "sub_sport": values.get("sub_sport"),
                }
            elif name == "file_id" and collected.file_type is None:
                collected.file_type = values.get("type")
                collected.device = _device_name(values)
                _, created_abs = _as_time(values.get("time_created"))
                if created_abs is not None and created_abs < RELATIVE_TIME_LIMIT:
                    collected.clock_relative = True
    except FitCRCError:
        # fitparse checks the CRC after the last message: everything was decoded.
        collected.crc_mismatch = True
    except FitEOFError as exc:
        collected.truncated = True
        collected.error = f"file ends early ({exc})"
    except FitParseError as exc:
        collected.error = str(exc)
    return collected


def _split_sessions(collected: _Collected) -> list[_Session]:
    metas = sorted(
        collected.sessions,
        key=lambda m: m["start_abs"] if m["start_abs"] is not None else float("inf"),
    )
    if not metas:
        metas = [{**collected.sport, "start_utc": None, "start_abs": None}]
    sessions = []
    for meta in metas:
        start = meta.get("start_abs")
        span = meta.get("total_elapsed_s")
        end = start + span if start is not None and span is not None else None
        sessions.append(_Session(meta=meta, start_abs=start, end_abs=end))

    def index_for(absolute: float | None) -> int:
        chosen = 0
        for i, session in enumerate(sessions):
            if (
                absolute is not None
                and session.start_abs is not None
                and session.start_abs <= absolute
            ):
                chosen = i
        return chosen

    for absolute, row in collected.records:
        sessions[index_for(absolute)].records.append({"_abs": absolute, **row})
    for absolute, lap in collected.laps:
        sessions[index_for(absolute)].laps.append(lap)
    for absolute, rr in collected.rr:
        sessions[index_for(absolute)].rr.append(rr)
    return sessions


def _drop_outliers(session: _Session) -> int:
    """Drop records far outside the session span; return how many were dropped."""
    times = sorted(r["_abs"] for r in session.records if r["_abs"] is not None)
    if not times:
        return 0
    median = times[len(times) // 2]
    low = session.start_abs if session.start_abs is not None else median
    high = session.end_abs if session.end_abs is not None else median
    low, high = min(low, median) - OUTLIER_SLACK_S, max(high, median) + OUTLIER_SLACK_S
    kept = [r for r in session.records if r["_abs"] is None or low <= r["_abs"] <= high]
    dropped = len(session.records) - len(kept)
    session.records = kept
    return dropped


def _activity(session: _Session, flags: set[str]) -> ParsedActivity:
    times = [r["_abs"] for r in session.records if r["_abs"] is not None]
    origin = min(times, default=None)  # elapsed_s counts from the first sample, like start_utc
    for row in session.records:
        absolute = row.pop("_abs")
        row["elapsed_s"] = (
            absolute - origin if absolute is not None and origin is not None else None
        )
    samples = frame_from_rows(session.records, SAMPLE_COLUMNS)
    laps = frame_from_rows(
        [{**lap, "lap_index": i} for i, lap in enumerate(session.laps)], LAP_COLUMNS
    )
    rr = frame_from_rows(
        [{"rr_index": i, "rr_s": value} for i, value in enumerate(session.rr)], RR_COLUMNS
    )
    meta = {k: v for k, v in session.meta.items() if k != "start_abs"}
    meta["flags"] = set(flags)
    return ParsedActivity(meta=meta, samples=samples, laps=laps, rr=rr)


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
    collected = _collect(data)
    warnings: list[str] = []
    flags: set[str] = set()
    if collected.error is not None:
        if not collected.records:
            code = "fit_truncated" if collected.truncated else "fit_corrupt"
            raise CorruptFile(
                code,
                "This FIT file is damaged and no workout data could be read from it.",
                detail=collected.error,
            )
        flags.add("recovered")
        warnings.append(
            f"decoding stopped early ({collected.error}); "
            f"{len(collected.records)} records before that point were kept"
        )
    if collected.crc_mismatch:
        flags.add("crc_mismatch")
        warnings.append("the file's checksum does not match its contents")
    if collected.clock_relative:
        flags.add("clock_not_set")
    if collected.file_type not in (None, "activity") and not collected.records:
        raise NotAnActivity(
            "not_an_activity",
            f"This is a watch {collected.file_type} file, not a workout; nothing to take in.",
        )
    if not collected.records:
        raise NotAnActivity("not_an_activity", "This FIT file holds no workout records.")
    activities = []
    for session in _split_sessions(collected):
        session_flags = set(flags)
        dropped = _drop_outliers(session)
        if dropped:
            session_flags.add("implausible_timestamps_dropped")
            warnings.append(f"{dropped} records with impossible timestamps were dropped")
        if session.records:
            activities.append(_activity(session, session_flags))
    return ParsedFile(
        source_format="fit",
        activities=activities,
        device=collected.device,
        decoder="fitparse",
        flags=flags,
        warnings=warnings,
    )

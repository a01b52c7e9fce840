"""A seeded 1 Hz simulator of one running, run-walk or walking session, and its FIT/GPX export.

Everything is a pure function of its arguments (numpy ``default_rng(seed)``, no wall clock):
the same call gives the same arrays and byte-identical files.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt

from synthetic.fit_writer import FitMessage, FitMessageColumns, FitValue, encode_fit
from synthetic.gpx_writer import TrackPoint, encode_gpx

__all__ = [
    "INTENSITIES",
    "Intensity",
    "Lap",
    "SimulatedRun",
    "run_fit_messages",
    "simulate_run",
    "write_run_fit",
    "write_run_gpx",
]

Intensity = Literal["easy", "intervals", "run_walk", "walk"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_M_PER_DEG_LAT = 111_320.0
_LAP_DISTANCE_M = 1000.0
_HRV_PER_MESSAGE = 5


@dataclass(frozen=True, slots=True)
class _Phase:
    """A stretch of constant effort: seconds, speed as a fraction of base speed, gait."""

    seconds: int
    speed_factor: float
    gait: Literal["run", "walk"]


@dataclass(frozen=True, slots=True)
class _Workout:
    """Warm-up, a block repeated until the cool-down is due, cool-down; and the FIT sport."""

    sport: str
    sub_sport: str
    warmup: _Phase
    block: tuple[_Phase, ...]
    cooldown: _Phase


INTENSITIES: Mapping[str, _Workout] = {
    "easy": _Workout(
        "running",
        "street",
        _Phase(300, 0.85, "run"),
        (_Phase(60, 1.0, "run"),),
        _Phase(180, 0.85, "run"),
    ),
    "intervals": _Workout(
        "running",
        "street",
        _Phase(600, 0.85, "run"),
        (_Phase(120, 1.3, "run"), _Phase(120, 0.8, "run")),
        _Phase(300, 0.8, "run"),
    ),
    "run_walk": _Workout(
        "running",
        "street",
        _Phase(240, 0.55, "walk"),
        (_Phase(120, 0.95, "run"), _Phase(60, 0.55, "walk")),
        _Phase(180, 0.5, "walk"),
    ),
    "walk": _Workout(
        "walking",
        "generic",
        _Phase(60, 0.5, "walk"),
        (_Phase(60, 0.55, "walk"),),
        _Phase(60, 0.5, "walk"),
    ),
}
"""Workout shape per intensity (data, not code paths)."""

# cadence (rpm, one leg) = intercept + slope * speed (m/s)
_CADENCE_BY_GAIT: Mapping[str, tuple[float, float]] = {"run": (76.0, 3.5), "walk": (44.0, 8.0)}
# heart-rate reserve fraction = intercept + slope * speed, plus drift per hour
_HRR_INTERCEPT, _HRR_SLOPE, _HRR_DRIFT_PER_H = 0.08, 0.21, 0.04
_HR_TAU_UP_S, _HR_TAU_DOWN_S = 25.0, 40.0


@dataclass(frozen=True, slots=True)
class Lap:
    """A lap as a half-open range of sample indices ``[start, end)``.

    The lap's elapsed time and distance run from sample ``start`` to sample ``end`` (or to the
    last sample for the final lap).
    """

    start: int
    end: int


@dataclass(frozen=True, slots=True, eq=False)
class SimulatedRun:
    """One simulated session at 1 Hz.

    Attributes
    ----------
    start
        UTC start time (timezone-aware).
    intensity, sport, sub_sport
        Workout kind and the FIT sport / sub-sport names.
    hr_rest, hr_max
        The athlete's resting and maximal heart rate used to simulate HR.
    elapsed_s
        Seconds since ``start`` of every sample (0, 1, 2, ...).
    lat, lon, altitude, distance, speed
        Degrees, degrees, metres, cumulative metres, m/s.
    heart_rate, cadence
        Integer bpm and integer rpm (strides per minute of one leg, as FIT stores it).
    laps
        One lap per full kilometre and a final partial lap.
    rr_s
        Beat-to-beat (RR) intervals in seconds covering the session.
    """

    start: datetime
    intensity: str
    sport: str
    sub_sport: str
    hr_rest: float
    hr_max: float
    elapsed_s: IntArray
    lat: FloatArray
    lon: FloatArray
    altitude: FloatArray
    distance: FloatArray
    speed: FloatArray
    heart_rate: IntArray
    cadence: IntArray
    laps: tuple[Lap, ...]
    rr_s: FloatArray

    @property
    def n_samples(self) -> int:
        """Number of 1 Hz samples."""
        return int(self.elapsed_s.size)

    @property
    def end(self) -> datetime:
        """UTC time of the last sample."""
        return self.start + timedelta(seconds=int(self.elapsed_s[-1]))

    @property
    def timestamps(self) -> list[datetime]:
        """UTC time of every sample."""
        return [self.start + timedelta(seconds=int(s)) for s in self.elapsed_s]


def _profile(workout: _Workout, duration_s: int) -> tuple[FloatArray, list[str]]:
    """Per-second speed factor and gait: warm-up, repeated block, cool-down, cut to length."""
    main_s = max(duration_s - workout.cooldown.seconds, 0)
    main = [workout.warmup]
    while sum(p.seconds for p in main) < main_s:
        main.extend(workout.block)
    seconds = [p.seconds for p in main]
    factor = np.repeat([p.speed_factor for p in main], seconds)[:main_s]
    gait = np.repeat([p.gait for p in main], seconds)[:main_s].tolist()
    cool_s = duration_s - factor.size
    factor = np.concatenate([factor, np.full(cool_s, workout.cooldown.speed_factor)])
    return factor.astype(np.float64), [*gait, *([workout.cooldown.gait] * cool_s)]


def _first_order(target: FloatArray, start: float, tau_up: float, tau_down: float) -> FloatArray:
    """Exponential lag towards ``target``, with different time constants up and down."""
    up, down = 1.0 - math.exp(-1.0 / tau_up), 1.0 - math.exp(-1.0 / tau_down)
    out = np.empty_like(target)
    value = start
    for i, goal in enumerate(target.tolist()):
        value += (goal - value) * (up if goal > value else down)
        out[i] = value
    return out


def _ar1(rng: np.random.Generator, n: int, sigma: float, rho: float) -> FloatArray:
    shocks = rng.normal(0.0, sigma * math.sqrt(1.0 - rho * rho), n)
    out = np.empty(n)
    value = 0.0
    for i, shock in enumerate(shocks.tolist()):
        value = rho * value + shock
        out[i] = value
    return out


def _route(
    rng: np.random.Generator,
    distance: FloatArray,
    home: tuple[float, float],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Lay a wobbly closed loop from and back to ``home``; return lat, lon, loop angle.

    The loop's length along the ground equals ``distance`` (what the FIT records say): the loop
    angle of each point is found from the arc length of the wobbly shape, so that a distance
    computed from the positions (less their 1 m of GPS noise) agrees with the device's.
    """
    total = max(float(distance[-1]), 1.0)
    phase0, wobble_phase = rng.uniform(0.0, 2.0 * math.pi, 2)
    grid = np.linspace(0.0, 2.0 * math.pi, 20_001)
    shape = 1.0 + 0.15 * np.sin(3.0 * grid + wobble_phase)
    steps = np.hypot(np.diff(shape * np.cos(grid)), np.diff(shape * np.sin(grid)))
    arc = np.concatenate([[0.0], np.cumsum(steps)])  # loop length for a radius of 1
    radius = total / float(arc[-1])
    theta = np.interp(distance / radius, arc, grid)
    r = radius * (1.0 + 0.15 * np.sin(3.0 * theta + wobble_phase))
    r0 = radius * (1.0 + 0.15 * math.sin(wobble_phase))
    east = r * np.cos(theta + phase0) - r0 * math.cos(phase0) + rng.normal(0.0, 1.0, theta.size)
    north = r * np.sin(theta + phase0) - r0 * math.sin(phase0) + rng.normal(0.0, 1.0, theta.size)
    lat0, lon0 = home
    lat = lat0 + north / _M_PER_DEG_LAT
    lon = lon0 + east / (_M_PER_DEG_LAT * math.cos(math.radians(lat0)))
    return lat, lon, theta


def _rr_intervals(rng: np.random.Generator, heart_rate: IntArray) -> FloatArray:
    """Beat-to-beat intervals following the HR trace, with ~2 % beat-to-beat noise.

    Beats fall where the accumulated heart-rate phase (beats since the start) crosses an
    integer; intervals are rounded to the millisecond, as a chest strap reports them.
    """
    phase = np.concatenate([[0.0], np.cumsum(heart_rate / 60.0)])
    seconds = np.arange(phase.size, dtype=np.float64)
    beat_times = np.interp(np.arange(math.floor(phase[-1]) + 1), phase, seconds)
    rr = np.diff(beat_times)
    return np.round(rr * (1.0 + rng.normal(0.0, 0.02, rr.size)), 3)


def _laps(distance: FloatArray) -> tuple[Lap, ...]:
    km = np.floor(distance / _LAP_DISTANCE_M).astype(np.int64)
    starts = [0, *(np.flatnonzero(np.diff(km)) + 1).tolist()]
    ends = [*starts[1:], int(distance.size)]
    return tuple(Lap(s, e) for s, e in zip(starts, ends, strict=True) if e > s)


def simulate_run(
    start: datetime,
    *,
    duration_s: int,
    intensity: Intensity,
    hr_rest: float,
    hr_max: float,
    home: tuple[float, float],
    seed: int,
    base_speed_mps: float = 2.8,
    home_altitude_m: float = 40.0,
) -> SimulatedRun:
    """Simulate one session at 1 Hz.

    Parameters
    ----------
    start
        Timezone-aware start time (converted to UTC).
    duration_s
        Session length in seconds (number of samples), at least 60.
    intensity
        ``"easy"``, ``"intervals"``, ``"run_walk"`` or ``"walk"`` (see ``INTENSITIES``).
    hr_rest, hr_max
        Resting and maximal heart rate (bpm). HR follows the heart-rate reserve fraction that
        the speed asks for, with a lag (~25 s up, ~40 s down) and a slow cardiac drift.
    home
        (lat, lon) in degrees where the loop starts and ends.
    seed
        Seed of ``numpy.random.default_rng``; same inputs give the same run.
    base_speed_mps
        The athlete's easy running speed.
    home_altitude_m
        Altitude at ``home``.

    Returns
    -------
    SimulatedRun
        Arrays per sample, laps every kilometre and RR intervals.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> run = simulate_run(datetime(2026, 3, 2, 7, 15, tzinfo=UTC), duration_s=1800,
    ...                    intensity="easy", hr_rest=55, hr_max=185, home=(51.5, -0.12), seed=1)
    >>> run.n_samples, 80 <= int(run.cadence[600]) <= 92
    (1800, True)
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if duration_s < 60:
        raise ValueError("duration_s must be at least 60")
    workout = INTENSITIES[intensity]
    rng = np.random.default_rng(seed)
    factor, gait = _profile(workout, duration_s)
    target_speed = base_speed_mps * factor
    speed = _first_order(target_speed, 0.6 * target_speed[0], 5.0, 5.0)
    speed = np.clip(speed + _ar1(rng, duration_s, 0.08, 0.9), 0.3, None)
    distance = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    lat, lon, theta = _route(rng, distance, home)
    hills = 6.0 * np.sin(2.0 * theta + 0.7) + 1.5 * np.sin(5.0 * theta + 1.9)
    altitude = home_altitude_m + hills - hills[0]  # smooth, as a barometric altimeter reports
    elapsed = np.arange(duration_s, dtype=np.int64)
    reserve = hr_max - hr_rest
    hrr = _HRR_INTERCEPT + _HRR_SLOPE * speed + _HRR_DRIFT_PER_H * elapsed / 3600.0
    target_hr = hr_rest + reserve * np.clip(hrr, 0.2, 0.97)
    hr = _first_order(target_hr, hr_rest + 0.15 * reserve, _HR_TAU_UP_S, _HR_TAU_DOWN_S)
    heart_rate = np.clip(np.rint(hr + rng.normal(0.0, 1.2, duration_s)), hr_rest, hr_max)
    intercept = np.array([_CADENCE_BY_GAIT[g][0] for g in gait])
    slope = np.array([_CADENCE_BY_GAIT[g][1] for g in gait])
    cadence = np.rint(intercept + slope * speed + rng.normal(0.0, 1.0, duration_s))
    heart_rate_i = heart_rate.astype(np.int64)
    return SimulatedRun(
        start=start.astimezone(UTC),
        intensity=intensity,
        sport=workout.sport,
        sub_sport=workout.sub_sport,
        hr_rest=float(hr_rest),
        hr_max=float(hr_max),
        elapsed_s=elapsed,
        lat=lat,
        lon=lon,
        altitude=altitude,
        distance=distance,
        speed=speed,
        heart_rate=heart_rate_i,
        cadence=cadence.astype(np.int64),
        laps=_laps(distance),
        rr_s=_rr_intervals(rng, heart_rate_i),
    )


# FIT resolves avg/max cadence to the running sub-fields when the message's sport is running
_CADENCE_FIELDS: Mapping[str, tuple[str, str]] = {
    "running": ("avg_running_cadence", "max_running_cadence"),
}
_DEFAULT_CADENCE_FIELDS = ("avg_cadence", "max_cadence")


def _span_fields(run: SimulatedRun, first: int, last: int) -> dict[str, FitValue]:
    """Summary fields shared by lap and session over samples ``first..last`` (inclusive)."""
    rows = slice(first, last + 1)
    climb = np.diff(run.altitude[rows])
    elapsed = float(run.elapsed_s[last] - run.elapsed_s[first])
    avg_cadence, max_cadence = _CADENCE_FIELDS.get(run.sport, _DEFAULT_CADENCE_FIELDS)
    return {
        "timestamp": run.start + timedelta(seconds=int(run.elapsed_s[last])),
        "start_time": run.start + timedelta(seconds=int(run.elapsed_s[first])),
        "start_position_lat": float(run.lat[first]),
        "start_position_long": float(run.lon[first]),
        "total_elapsed_time": elapsed,
        "total_timer_time": elapsed,
        "total_distance": float(run.distance[last] - run.distance[first]),
        "enhanced_avg_speed": float(run.speed[rows].mean()),
        "enhanced_max_speed": float(run.speed[rows].max()),
        "avg_heart_rate": round(float(run.heart_rate[rows].mean())),
        "max_heart_rate": int(run.heart_rate[rows].max()),
        "sport": run.sport,
        avg_cadence: round(float(run.cadence[rows].mean())),
        max_cadence: int(run.cadence[rows].max()),
        "total_ascent": round(float(climb[climb > 0].sum())),
        "total_descent": round(float(-climb[climb < 0].sum())),
    }


def _records(run: SimulatedRun, rows: slice) -> FitMessageColumns:
    """Record messages for a range of samples, column-wise."""
    start = np.datetime64(run.start.replace(tzinfo=None), "s")
    return FitMessageColumns(
        "record",
        {
            "timestamp": start + run.elapsed_s[rows].astype("timedelta64[s]"),
            "position_lat": run.lat[rows],
            "position_long": run.lon[rows],
            "distance": run.distance[rows],
            "enhanced_speed": run.speed[rows],
            "enhanced_altitude": run.altitude[rows],
            "heart_rate": run.heart_rate[rows],
            "cadence": run.cadence[rows],
        },
    )


def _lap(run: SimulatedRun, index: int, lap: Lap) -> FitMessage:
    last = min(lap.end, run.n_samples - 1)
    is_final = index == len(run.laps) - 1
    return FitMessage(
        "lap",
        {
            **_span_fields(run, lap.start, last),
            "end_position_lat": float(run.lat[last]),
            "end_position_long": float(run.lon[last]),
            "event": "lap",
            "event_type": "stop",
            "lap_trigger": "session_end" if is_final else "distance",
            "message_index": index,
        },
    )


def _hrv_blocks(run: SimulatedRun) -> tuple[FloatArray, IntArray]:
    """RR intervals as rows of 5 (NaN-padded) and the sample index where each row ends."""
    n_rows = math.ceil(run.rr_s.size / _HRV_PER_MESSAGE)
    padded = np.full(n_rows * _HRV_PER_MESSAGE, np.nan)
    padded[: run.rr_s.size] = run.rr_s
    rows = padded.reshape(n_rows, _HRV_PER_MESSAGE)
    last_beat = np.minimum(np.arange(1, n_rows + 1) * _HRV_PER_MESSAGE, run.rr_s.size) - 1
    ends = np.floor(np.cumsum(run.rr_s)[last_beat]).astype(np.int64)
    return rows, np.minimum(ends, run.n_samples - 1)


def _body(run: SimulatedRun, *, with_hrv: bool) -> Iterator[FitMessage | FitMessageColumns]:
    """Per lap: its records, the HRV messages of its beats, then the lap message."""
    hrv_rows, hrv_ends = _hrv_blocks(run) if with_hrv else (np.empty((0, 5)), np.empty(0))
    for index, lap in enumerate(run.laps):
        yield _records(run, slice(lap.start, lap.end))
        in_lap = (hrv_ends >= lap.start) & (hrv_ends < lap.end)
        if in_lap.any():
            yield FitMessageColumns("hrv", {"time": hrv_rows[in_lap]})
        yield _lap(run, index, lap)


def run_fit_messages(
    run: SimulatedRun,
    *,
    product: str = "fenix5",
    serial_number: int = 3_912_345_678,
    with_hrv: bool = False,
    utc_offset: timedelta | None = None,
) -> list[FitMessage | FitMessageColumns]:
    """List the FIT messages of a simulated run's activity file, as a Garmin watch writes them.

    Parameters
    ----------
    run
        The simulated session.
    product
        Garmin product name from the FIT profile (``"fenix5"``, ``"fr935"``, ``"fr235"``, ...).
    serial_number
        Device serial number written in ``file_id`` and ``device_info`` (the pipeline must not
        let it reach the warehouse).
    with_hrv
        Also write ``hrv`` messages (5 RR intervals each) between the records.
    utc_offset
        The watch's UTC offset at the end of the run; when given, ``activity.local_timestamp``
        is written.

    Returns
    -------
    list of FitMessage or FitMessageColumns
        file_id, device_info, event start; per lap its records, its hrv messages and the lap;
        event stop_all, session, activity.
    """
    device: dict[str, FitValue] = {
        "manufacturer": "garmin",
        "garmin_product": product,
        "serial_number": serial_number,
    }
    end = run.end
    session = _span_fields(run, 0, run.n_samples - 1)
    activity: dict[str, FitValue] = {
        "timestamp": end,
        "total_timer_time": session["total_timer_time"],
        "num_sessions": 1,
        "type": "manual",
        "event": "activity",
        "event_type": "stop",
    }
    if utc_offset is not None:
        activity["local_timestamp"] = (end + utc_offset).replace(tzinfo=None)
    return [
        FitMessage("file_id", {"type": "activity", **device, "time_created": run.start}),
        FitMessage(
            "device_info",
            {
                "timestamp": run.start,
                "device_index": "creator",
                **device,
                "software_version": 12.3,
                "source_type": "local",
            },
        ),
        FitMessage(
            "event",
            {
                "timestamp": run.start,
                "event": "timer",
                "event_type": "start",
                "timer_trigger": "manual",
            },
        ),
        *_body(run, with_hrv=with_hrv),
        FitMessage(
            "event",
            {
                "timestamp": end,
                "event": "timer",
                "event_type": "stop_all",
                "timer_trigger": "manual",
            },
        ),
        FitMessage(
            "session",
            {
                **session,
                "sub_sport": run.sub_sport,
                "event": "session",
                "event_type": "stop",
                "trigger": "activity_end",
                "first_lap_index": 0,
                "num_laps": len(run.laps),
                "message_index": 0,
            },
        ),
        FitMessage("activity", activity),
    ]


def write_run_fit(
    run: SimulatedRun,
    *,
    product: str = "fenix5",
    serial_number: int = 3_912_345_678,
    with_hrv: bool = False,
    utc_offset: timedelta | None = None,
    big_endian: bool = False,
    device_clock_origin: datetime | None = None,
    truncate_at: float | None = None,
) -> bytes:
    """Encode a simulated run as a FIT activity file.

    Parameters
    ----------
    run, product, serial_number, with_hrv, utc_offset
        See ``run_fit_messages``.
    big_endian, device_clock_origin, truncate_at
        See ``fit_writer.encode_fit`` (byte order, never-set watch clock, interrupted copy).

    Returns
    -------
    bytes
        The FIT file.
    """
    messages = run_fit_messages(
        run, product=product, serial_number=serial_number, with_hrv=with_hrv, utc_offset=utc_offset
    )
    return encode_fit(
        messages,
        big_endian=big_endian,
        device_clock_origin=device_clock_origin,
        truncate_at=truncate_at,
    )


def write_run_gpx(
    run: SimulatedRun,
    *,
    name: str | None = None,
    creator: str = "mindmiles synthetic",
    with_hr: bool = True,
) -> bytes:
    """Encode a simulated run as GPX 1.1 with TrackPointExtension HR and cadence.

    Parameters
    ----------
    run
        The simulated session.
    name
        Track name, or ``None``.
    creator
        The ``<gpx creator=...>`` attribute (e.g. ``"Apple Watch"``).
    with_hr
        Write ``gpxtpx:hr`` and ``gpxtpx:cad`` (an Apple Health route file has neither).

    Returns
    -------
    bytes
        The GPX document.
    """
    no_values: list[None] = [None] * run.n_samples
    points = [
        TrackPoint(time=time, lat=lat, lon=lon, ele=ele, hr=hr, cad=cad)
        for time, lat, lon, ele, hr, cad in zip(
            run.timestamps,
            run.lat.tolist(),
            run.lon.tolist(),
            run.altitude.tolist(),
            run.heart_rate.tolist() if with_hr else no_values,
            run.cadence.tolist() if with_hr else no_values,
            strict=True,
        )
    ]
    return encode_gpx(points, name=name, activity_type=run.sport, creator=creator)

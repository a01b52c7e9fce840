"""A synthetic clinic inbox: roster, watch exports (FIT, GPX), mood journals and running plans.

Five clients, each with a persona that the pipeline's indicators should recognise (steady,
drop-out, improving, over-reaching, GPX-only). The layout follows DESIGN.md's inbox. Output is
a pure function of the arguments: no wall clock, no network, byte-identical on every call.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np

from synthetic.run_model import (
    Intensity,
    SimulatedRun,
    simulate_run,
    write_run_fit,
    write_run_gpx,
)

__all__ = [
    "CLIENTS",
    "DEFAULT_START",
    "PERSONAS",
    "ClientSpec",
    "ClinicManifest",
    "JournalEntry",
    "Persona",
    "PlanWeek",
    "RunInfo",
    "make_clinic",
]

DEFAULT_START = date(2026, 2, 23)
"""A Monday; 12 weeks from it contain the US (8 March) and EU (29 March) DST changes."""

ROSTER_COLUMNS = ("client_code", "sex", "birth_year", "hr_rest", "hr_max", "timezone", "lthr")
TEMPLATE_COLUMNS = (
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
DAYLIO_COLUMNS = (
    "full_date",
    "date",
    "weekday",
    "time",
    "mood",
    "activities",
    "note_title",
    "note",
)
PLAN_COLUMNS = ("week_start", "sessions", "minutes", "session_type", "notes")

JournalFormat = Literal["template", "daylio"]
Level = Callable[[int, int], float]
"""(week index, number of weeks) -> a weekly level (adherence, mood, sleep...)."""


# --------------------------------------------------------------------------- personas


def _const(value: float) -> Level:
    return lambda week, weeks: value


def _ramp(first: float, last: float) -> Level:
    return lambda week, weeks: first + (last - first) * week / max(weeks - 1, 1)


def _step(before: float, after: float, *, from_week: int, slope: float = 0.0) -> Level:
    return lambda week, weeks: before if week < from_week else after + slope * (week - from_week)


@dataclass(frozen=True, slots=True)
class Persona:
    """How a client behaves week by week.

    Attributes
    ----------
    key, description
        Short name and a sentence a therapist would recognise.
    adherence
        Probability that each planned session is run.
    mood, sleep_hours
        Weekly baseline of journal mood (1-10) and nightly sleep.
    overreach_from
        Week index from which the client ignores the plan: runs every day and adds
        ``OVERREACH_GROWTH`` to the weekly minutes each week; ``None`` when never.
    """

    key: str
    description: str
    adherence: Level
    mood: Level
    sleep_hours: Level
    overreach_from: int | None = None

    def overreaching(self, week: int) -> bool:
        """Whether the client ignores the plan in week ``week`` (0-based)."""
        return self.overreach_from is not None and week >= self.overreach_from


OVERREACH_GROWTH = 0.4
"""Week-on-week growth of running minutes of the over-reaching persona (> 30 %)."""

PERSONAS: Mapping[str, Persona] = {
    p.key: p
    for p in (
        Persona(
            "steady",
            "runs as planned all along; mood stable",
            _const(0.92),
            _const(6.6),
            _const(7.2),
        ),
        Persona(
            "dropout",
            "adheres, then stops running from week 6; mood slips",
            _step(0.9, 0.06, from_week=5),
            _step(6.4, 5.9, from_week=5, slope=-0.25),
            _const(6.9),
        ),
        Persona(
            "improver",
            "adherence low at first and rising; mood rises with it",
            _ramp(0.35, 0.95),
            _ramp(3.8, 7.6),
            _ramp(6.2, 7.3),
        ),
        Persona(
            "overreacher",
            "gentle plan, but from week 8 runs daily with >30 %/week more "
            "load; mood and sleep fall",
            _const(0.95),
            _step(6.7, 6.2, from_week=7, slope=-0.6),
            _step(7.4, 6.8, from_week=7, slope=-0.45),
            overreach_from=7,
        ),
        Persona(
            "gpx_adherent",
            "adherent; exports GPX from a phone app, rarely FIT",
            _const(0.9),
            _const(6.9),
            _const(7.0),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """One synthetic client: roster row, persona, habits and devices."""

    code: str
    persona: str
    sex: str
    birth_year: int
    hr_rest: int
    hr_max: int
    timezone: str
    lthr: int | None
    home: tuple[float, float]
    base_speed_mps: float
    run_time: time
    weekdays: tuple[int, ...]
    product: str
    serial_number: int
    journal: JournalFormat
    first_intensity: Intensity = "easy"
    with_hrv: bool = False
    gpx_creator: str = "Garmin Connect"
    daylio_day_first: bool = True


CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(
        "C001",
        "steady",
        "f",
        1988,
        58,
        186,
        "Europe/London",
        168,
        (51.4613, -0.1156),
        2.75,
        time(7, 15),
        (0, 2, 5, 3, 6, 1, 4),
        "fenix5",
        3_951_220_117,
        "template",
        with_hrv=True,
    ),
    ClientSpec(
        "C002",
        "dropout",
        "m",
        1979,
        62,
        178,
        "Europe/Berlin",
        None,
        (52.4895, 13.4232),
        2.6,
        time(18, 30),
        (1, 3, 6, 5, 0, 2, 4),
        "fr235",
        3_870_004_512,
        "template",
    ),
    ClientSpec(
        "C003",
        "improver",
        "x",
        1995,
        66,
        192,
        "America/New_York",
        None,
        (40.7812, -73.9665),
        2.3,
        time(17, 45),
        (0, 3, 5, 2, 6, 1, 4),
        "fr935",
        3_990_118_034,
        "daylio",
        first_intensity="run_walk",
        daylio_day_first=False,
    ),
    ClientSpec(
        "C004",
        "overreacher",
        "m",
        1984,
        54,
        183,
        "Europe/London",
        165,
        (53.4721, -2.2486),
        2.9,
        time(6, 40),
        (1, 3, 6, 0, 2, 4, 5),
        "fenix5",
        3_944_870_221,
        "template",
        with_hrv=True,
    ),
    ClientSpec(
        "C005",
        "gpx_adherent",
        "f",
        1991,
        60,
        189,
        "Europe/Berlin",
        170,
        (48.1374, 11.5755),
        2.7,
        time(12, 20),
        (0, 2, 4, 6, 1, 3, 5),
        "fr235",
        3_702_551_908,
        "daylio",
        gpx_creator="Apple Watch (HealthFit)",
    ),
)
"""The five clients (data, not code paths)."""


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class PlanWeek:
    """One row of ``plan.csv``."""

    week_start: date
    sessions: int
    minutes: int
    session_type: str
    notes: str


_DELOAD_EVERY = 4


def _plan(client: ClientSpec, start: date, weeks: int) -> list[PlanWeek]:
    """Build a gentle plan: 3 sessions / 90 min rising 5 min a week, a lighter 4th week."""
    rows = []
    for week in range(weeks):
        deload = week % _DELOAD_EVERY == _DELOAD_EVERY - 1
        minutes = 90 + 5 * week
        minutes = 5 * round(minutes * (0.85 if deload else 1.0) / 5)
        early = week < _DELOAD_EVERY
        session_type = client.first_intensity if early else "intervals" if week % 2 == 0 else "easy"
        notes = (
            "start gently, conversational pace" if week == 0 else "lighter week" if deload else ""
        )
        rows.append(
            PlanWeek(
                start + timedelta(weeks=week), 3 if week < 6 else 4, minutes, session_type, notes
            )
        )
    return rows


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One simulated run and the inbox files it was written to (paths relative to the root)."""

    client_code: str
    start_utc: datetime
    duration_s: int
    distance_m: float
    intensity: str
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Session:
    week: int
    start_local: datetime
    duration_s: int
    intensity: Intensity


# plan session type -> intensity of (every other session, the second session) of the week
_SESSION_INTENSITY: Mapping[str, tuple[Intensity, Intensity]] = {
    "easy": ("easy", "easy"),
    "run_walk": ("run_walk", "run_walk"),
    "intervals": ("easy", "intervals"),
}


def _week_sessions(
    persona: Persona,
    plan: PlanWeek,
    week: int,
    prev_minutes: float,
) -> tuple[int, float]:
    """(sessions, weekly minutes) the client actually aims for this week."""
    if persona.overreaching(week):
        extra = week - (persona.overreach_from or 0)
        return min(7, 6 + extra), prev_minutes * (1.0 + OVERREACH_GROWTH)
    return plan.sessions, float(plan.minutes)


def _sessions(
    client: ClientSpec, plan: Sequence[PlanWeek], weeks: int, rng: np.random.Generator
) -> list[_Session]:
    persona = PERSONAS[client.persona]
    tz = ZoneInfo(client.timezone)
    out: list[_Session] = []
    minutes = float(plan[0].minutes)
    for week, row in enumerate(plan):
        n_sessions, minutes = _week_sessions(persona, row, week, minutes)
        overreaching = n_sessions > row.sessions
        days = sorted(client.weekdays[:n_sessions])
        done = rng.random(len(days)) < (1.0 if overreaching else persona.adherence(week, weeks))
        jitter = rng.integers(-6, 7, len(days)) * 5
        spread = 0.03 if overreaching else 0.15  # over-reaching: every run a bit longer
        factor = rng.uniform(1.0 - spread, 1.0 + spread, len(days))
        for k, day in enumerate(days):
            if not done[k]:
                continue
            local = datetime.combine(row.week_start + timedelta(days=day), client.run_time, tz)
            intensity = _SESSION_INTENSITY[row.session_type][int(k == 1)]
            duration = max(15 * 60, round(minutes / n_sessions * float(factor[k]) * 60))
            out.append(
                _Session(week, local + timedelta(minutes=int(jitter[k])), duration, intensity)
            )
    return out


# --------------------------------------------------------------------------- journals


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One mood-journal entry in the client's local time (clinic-template scales)."""

    local_time: datetime
    kind: Literal["pre_run", "post_run", "daily"]
    mood: int
    anxiety: int | None
    stress: int | None
    energy: int | None
    sleep_hours: float | None
    sleep_quality: int | None
    rpe: int | None
    note: str
    activities: tuple[str, ...] = field(default=())


_NOTES: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("pre_run", "low"): (
        "Hard to get going today.",
        "Didn't want to go out, going anyway",
        "Work stress, can't switch off",
        "",
    ),
    ("pre_run", "mid"): ("Bit tired", "Cold and windy out", "", ""),
    ("pre_run", "high"): ("Looking forward to this one", "Slept well, feeling fresh", "", ""),
    ("post_run", "low"): ("Felt flat, legs heavy", 'Stopped twice, "just not my day"', "", ""),
    ("post_run", "mid"): ("Ok run, a bit meh at the start", "Steady, nothing special", "", ""),
    ("post_run", "high"): (
        "Really enjoyed it, clear head afterwards",
        "Felt strong, ran by the river",
        "Good chat with a friend on the way",
        "",
    ),
    ("daily", "low"): ("Long day, low mood", "Couldn't sleep, worrying about work", ""),
    ("daily", "mid"): ("Quiet day.\nRead a bit, early night", "Quiet day", "", ""),
    ("daily", "high"): ("Nice evening with family", "Good day at work", ""),
}
_RPE_BY_INTENSITY: Mapping[str, int] = {"walk": 2, "run_walk": 3, "easy": 4, "intervals": 7}
_RUN_ACTIVITIES: Mapping[str, tuple[str, ...]] = {"pre_run": (), "post_run": ("running",)}
"""Daylio activities of run-related entries, before the good/bad sleep tag."""
_DAILY_ACTIVITIES = ("work", "family", "friends", "reading", "cooking", "tv", "shopping")
# Daylio's five default moods, lowest clinic-template mood that maps to each (first match wins)
_DAYLIO_LEVELS: tuple[tuple[int, str], ...] = (
    (9, "rad"),
    (7, "good"),
    (5, "meh"),
    (3, "bad"),
    (1, "awful"),
)


def _clip_int(value: float, low: int, high: int) -> int:
    return int(min(max(round(value), low), high))


def _mood_band(mood: int) -> str:
    return "low" if mood <= 4 else "mid" if mood <= 6 else "high"


def _maybe(rng: np.random.Generator, value: int, p_missing: float) -> int | None:
    return None if rng.random() < p_missing else value


def _entry(
    rng: np.random.Generator,
    when: datetime,
    kind: Literal["pre_run", "post_run", "daily"],
    mood: float,
    sleep: float,
    rpe: int | None,
) -> JournalEntry:
    mood_i = _clip_int(mood, 1, 10)
    notes = _NOTES[kind, _mood_band(mood_i)]
    sleep_tag = "good sleep" if sleep >= 7.0 else "bad sleep"
    if kind == "daily":
        activities = tuple(sorted(rng.choice(_DAILY_ACTIVITIES, 2, replace=False).tolist()))
    else:
        activities = (*_RUN_ACTIVITIES[kind], sleep_tag)
    has_sleep = kind != "post_run"
    return JournalEntry(
        local_time=when,
        kind=kind,
        mood=mood_i,
        anxiety=_maybe(rng, _clip_int(9.5 - mood + rng.normal(0, 1.0), 0, 10), 0.05),
        stress=_maybe(rng, _clip_int(9.0 - mood + rng.normal(0, 1.2), 0, 10), 0.1),
        energy=_maybe(rng, _clip_int(mood - 0.5 + rng.normal(0, 1.0), 0, 10), 0.05),
        sleep_hours=round(sleep, 1) if has_sleep else None,
        sleep_quality=_clip_int((sleep - 4.0) * 1.2, 1, 5) if has_sleep else None,
        rpe=rpe,
        note=str(notes[int(rng.integers(len(notes)))]),
        activities=activities,
    )


def _journal(
    client: ClientSpec,
    runs: Sequence[tuple[_Session, SimulatedRun]],
    start: date,
    weeks: int,
    rng: np.random.Generator,
) -> list[JournalEntry]:
    """Pre- and post-run entries for every run and evening entries on some other days."""
    persona = PERSONAS[client.persona]
    tz = ZoneInfo(client.timezone)
    run_days = {session.start_local.date() for session, _ in runs}
    entries: list[JournalEntry] = []
    for session, run in runs:
        base = persona.mood(session.week, weeks) + rng.normal(0.0, 0.8)
        sleep = persona.sleep_hours(session.week, weeks) + rng.normal(0.0, 0.5)
        overreaching = persona.overreaching(session.week)
        boost = rng.uniform(0.3, 1.6) * (0.4 if overreaching else 1.0)
        pre_at = session.start_local - timedelta(minutes=int(rng.integers(5, 26)))
        end_local = run.end.astimezone(tz)
        post_at = (end_local + timedelta(minutes=int(rng.integers(10, 51)))).replace(second=0)
        rpe = _RPE_BY_INTENSITY[session.intensity] + int(session.duration_s > 3600)
        rpe += 2 if overreaching else 0
        entries.append(_entry(rng, pre_at, "pre_run", base, sleep, None))
        entries.append(
            _entry(
                rng,
                post_at,
                "post_run",
                base + boost,
                sleep,
                _clip_int(rpe + rng.normal(0, 0.7), 0, 10),
            )
        )
    for day in (start + timedelta(days=d) for d in range(7 * weeks)):
        if day in run_days or rng.random() > 0.45:
            continue
        week = (day - start).days // 7
        at = datetime.combine(day, time(20, 0), tz) + timedelta(minutes=int(rng.integers(0, 150)))
        entries.append(
            _entry(
                rng,
                at,
                "daily",
                persona.mood(week, weeks) + rng.normal(0, 0.9),
                persona.sleep_hours(week, weeks) + rng.normal(0, 0.5),
                None,
            )
        )
    return sorted(entries, key=lambda e: e.local_time)


def _fmt(value: float | int | None) -> str:
    return "" if value is None else str(value)


def _template_csv(entries: Sequence[JournalEntry]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TEMPLATE_COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.local_time.isoformat(timespec="seconds"),
                e.kind,
                e.mood,
                _fmt(e.anxiety),
                _fmt(e.stress),
                _fmt(e.energy),
                _fmt(e.sleep_hours),
                _fmt(e.sleep_quality),
                _fmt(e.rpe),
                e.note,
            ]
        )
    return buffer.getvalue().encode("utf-8")


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _daylio_time(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'}"


def _daylio_mood(mood: int) -> str:
    return next(label for threshold, label in _DAYLIO_LEVELS if mood >= threshold)


def _daylio_csv(entries: Sequence[JournalEntry], *, day_first: bool) -> bytes:
    """Daylio 2021-2025 export: BOM, newest first, unquoted head, quoted text columns."""
    lines = [",".join(DAYLIO_COLUMNS)]
    for e in sorted(entries, key=lambda x: x.local_time, reverse=True):
        moment = e.local_time
        month = moment.strftime("%B")
        day_label = f"{moment.day} {month}" if day_first else f"{month} {moment.day}"
        note = e.note.replace("\n", "<br>")
        lines.append(
            ",".join(
                [
                    moment.date().isoformat(),
                    day_label,
                    moment.strftime("%A"),
                    _daylio_time(moment),
                    _daylio_mood(e.mood),
                    _quoted(" | ".join(e.activities)),
                    _quoted(""),
                    _quoted(note),
                ]
            )
        )
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- files


def _csv_bytes(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _roster_csv(clients: Sequence[ClientSpec]) -> bytes:
    return _csv_bytes(
        ROSTER_COLUMNS,
        [
            (c.code, c.sex, c.birth_year, c.hr_rest, c.hr_max, c.timezone, _fmt(c.lthr))
            for c in clients
        ],
    )


def _plan_csv(plan: Sequence[PlanWeek]) -> bytes:
    return _csv_bytes(
        PLAN_COLUMNS,
        [(p.week_start.isoformat(), p.sessions, p.minutes, p.session_type, p.notes) for p in plan],
    )


# which export format each run is written in: (kind, run number) -> bool, checked in order
_GPX_EVERY, _GPX_AT = 8, 5
_GZ_EVERY, _GZ_AT = 6, 2
_GPX_CLIENT_FIT_RUNS = (3, 11)  # the GPX persona's couple of FIT files
_DUPLICATED_RUN = ("C001", 4)  # this run also arrives as a GPX (same run, second source)


def _export_kinds(client: ClientSpec, run_no: int) -> tuple[str, ...]:
    if client.persona == "gpx_adherent":
        return ("fit",) if run_no in _GPX_CLIENT_FIT_RUNS else ("gpx",)
    if (client.code, run_no) == _DUPLICATED_RUN:
        return ("fit", "gpx")
    if run_no % _GPX_EVERY == _GPX_AT:
        return ("gpx",)
    return ("fit.gz",) if run_no % _GZ_EVERY == _GZ_AT else ("fit",)


def _export(client: ClientSpec, run: SimulatedRun, kind: str) -> bytes:
    tz = ZoneInfo(client.timezone)
    writers: Mapping[str, Callable[[], bytes]] = {
        "fit": lambda: write_run_fit(
            run,
            product=client.product,
            serial_number=client.serial_number,
            with_hrv=client.with_hrv,
            utc_offset=run.end.astimezone(tz).utcoffset(),
        ),
        "gpx": lambda: write_run_gpx(
            run,
            creator=client.gpx_creator,
            name=f"{run.sport.title()} {run.start.date().isoformat()}",
        ),
    }
    if kind == "fit.gz":
        return gzip.compress(writers["fit"](), mtime=0)
    return writers[kind]()


_FaultWriter = Callable[[SimulatedRun], tuple[str, bytes]]
_FAULT_WRITERS: Mapping[str, _FaultWriter] = {
    "truncated": lambda run: (".fit", write_run_fit(run, truncate_at=0.6)),
    "clock_not_set": lambda run: (
        ".fit",
        write_run_fit(run, device_clock_origin=run.start - timedelta(days=41)),
    ),
    "not_fit": lambda run: (".fit", b"<html><body>Session expired, please log in</body></html>\n"),
    "partial_copy": lambda run: (".fit.part", write_run_fit(run)[:4096]),
}
"""Opt-in broken files, one per client in this order (see ``make_clinic(with_faults=True)``)."""


def _write_faults(
    root: Path,
    clients: Sequence[ClientSpec],
    seed: int,
    start: date,
) -> dict[str, str]:
    """Write one faulty file per fault kind into successive client folders."""
    out: dict[str, str] = {}
    for index, (client, fault) in enumerate(zip(clients, _FAULT_WRITERS, strict=False)):
        local = datetime.combine(start + timedelta(days=12), time(5, 55), ZoneInfo(client.timezone))
        run = simulate_run(
            local.astimezone(UTC),
            duration_s=1500,
            intensity="easy",
            hr_rest=client.hr_rest,
            hr_max=client.hr_max,
            home=client.home,
            seed=int(np.random.default_rng([seed, index, 4]).integers(2**32)),
        )
        suffix, data = _FAULT_WRITERS[fault](run)
        name = f"{client.code}/{local.strftime('%Y-%m-%d-%H%M')}{suffix}"
        (root / name).write_bytes(data)
        out[name] = fault
    return out


@dataclass(frozen=True, slots=True)
class ClinicManifest:
    """What ``make_clinic`` wrote.

    Attributes
    ----------
    root
        The inbox folder.
    seed, start, weeks
        The arguments used.
    clients
        Client codes in roster order.
    personas
        Client code -> persona key (see ``PERSONAS``).
    files_by_kind
        Number of files written per kind: ``roster``, ``plan``, ``journal_template``,
        ``journal_daylio``, ``fit``, ``fit.gz``, ``gpx``.
    runs_by_client
        Distinct runs per client (a run exported twice counts once).
    journal_entries_by_client
        Journal entries per client.
    duplicate_files
        Activity files that repeat a run already exported in another file.
    runs
        Every run with its start, duration, distance and files, in client then time order.
    faulty_files
        Path relative to ``root`` -> fault (``truncated``, ``clock_not_set``, ``not_fit``,
        ``partial_copy``); empty unless ``with_faults``. Not counted in the other fields.
    """

    root: Path
    seed: int
    start: date
    weeks: int
    clients: tuple[str, ...]
    personas: Mapping[str, str]
    files_by_kind: Mapping[str, int]
    runs_by_client: Mapping[str, int]
    journal_entries_by_client: Mapping[str, int]
    duplicate_files: int
    runs: tuple[RunInfo, ...]
    faulty_files: Mapping[str, str]

    @property
    def run_count(self) -> int:
        """Distinct runs in the inbox."""
        return sum(self.runs_by_client.values())

    @property
    def activity_files(self) -> int:
        """FIT, FIT.gz and GPX files in the inbox."""
        return sum(self.files_by_kind.get(k, 0) for k in ("fit", "fit.gz", "gpx"))


def _client_runs(
    client: ClientSpec,
    index: int,
    seed: int,
    start: date,
    weeks: int,
) -> Iterator[tuple[_Session, SimulatedRun]]:
    plan = _plan(client, start, weeks)
    sessions = _sessions(client, plan, weeks, np.random.default_rng([seed, index, 1]))
    for run_no, session in enumerate(sessions):
        fitness = 1.0 + 0.004 * session.week
        yield (
            session,
            simulate_run(
                session.start_local.astimezone(UTC),
                duration_s=session.duration_s,
                intensity=session.intensity,
                hr_rest=client.hr_rest,
                hr_max=client.hr_max,
                home=client.home,
                seed=int(np.random.default_rng([seed, index, 2, run_no]).integers(2**32)),
                base_speed_mps=client.base_speed_mps * fitness,
            ),
        )


def make_clinic(
    root: Path,
    *,
    seed: int = 7,
    weeks: int = 12,
    start: date = DEFAULT_START,
    clients: Sequence[ClientSpec] = CLIENTS,
    with_faults: bool = False,
) -> ClinicManifest:
    """Write a synthetic clinic inbox under ``root``.

    Parameters
    ----------
    root
        Inbox folder; created if missing. Existing files of the same names are overwritten,
        other files are left alone.
    seed
        Master seed; the same seed gives byte-identical files.
    weeks
        Number of plan weeks (1 or more); personas are tuned for 12.
    start
        First plan week (a Monday).
    clients
        The clients to write (default: the five ``CLIENTS``).
    with_faults
        Also write one broken file per fault kind (a truncated FIT, a FIT from a watch whose
        clock was never set, an HTML page named ``.fit``, a ``.fit.part`` still being copied)
        into the first clients' folders; listed in ``ClinicManifest.faulty_files``.

    Returns
    -------
    ClinicManifest
        Counts and run details to assert on.

    Examples
    --------
    >>> import tempfile
    >>> manifest = make_clinic(Path(tempfile.mkdtemp()), weeks=1)
    >>> manifest.clients
    ('C001', 'C002', 'C003', 'C004', 'C005')
    """
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    if start.weekday() != 0:
        raise ValueError("start must be a Monday")
    root.mkdir(parents=True, exist_ok=True)
    (root / "roster.csv").write_bytes(_roster_csv(clients))
    kinds: Counter[str] = Counter(roster=1)
    runs_info: list[RunInfo] = []
    entries_by_client: dict[str, int] = {}
    for index, client in enumerate(clients):
        folder = root / client.code
        folder.mkdir(exist_ok=True)
        (folder / "plan.csv").write_bytes(_plan_csv(_plan(client, start, weeks)))
        kinds["plan"] += 1
        runs = list(_client_runs(client, index, seed, start, weeks))
        for run_no, (session, run) in enumerate(runs):
            stem = session.start_local.strftime("%Y-%m-%d-%H%M")
            names = []
            for kind in _export_kinds(client, run_no):
                name = f"{stem}.{kind}"
                (folder / name).write_bytes(_export(client, run, kind))
                kinds[kind] += 1
                names.append(f"{client.code}/{name}")
            runs_info.append(
                RunInfo(
                    client.code,
                    run.start,
                    run.n_samples,
                    float(run.distance[-1]),
                    run.intensity,
                    tuple(names),
                )
            )
        entries = _journal(client, runs, start, weeks, np.random.default_rng([seed, index, 3]))
        entries_by_client[client.code] = len(entries)
        if client.journal == "template":
            (folder / "journal.csv").write_bytes(_template_csv(entries))
        else:
            data = _daylio_csv(entries, day_first=client.daylio_day_first)
            (folder / "journal_daylio.csv").write_bytes(data)
        kinds[f"journal_{client.journal}"] += 1
    faulty = _write_faults(root, clients, seed, start) if with_faults else {}
    runs_by_client = {c.code: sum(r.client_code == c.code for r in runs_info) for c in clients}
    return ClinicManifest(
        root=root,
        seed=seed,
        start=start,
        weeks=weeks,
        clients=tuple(c.code for c in clients),
        personas={c.code: c.persona for c in clients},
        files_by_kind=dict(kinds),
        runs_by_client=runs_by_client,
        journal_entries_by_client=entries_by_client,
        duplicate_files=sum(len(r.files) - 1 for r in runs_info),
        runs=tuple(runs_info),
        faulty_files=faulty,
    )

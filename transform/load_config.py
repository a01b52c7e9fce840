"""One frozen configuration for training load and overtraining indicators.

Every threshold, time constant and literature constant used by
:mod:`transform.trimp`, :mod:`transform.decoupling`, :mod:`transform.hrv_metrics`,
:mod:`transform.daily_load` and :mod:`transform.indicators` lives in :class:`LoadConfig`.
The values used are written with the results (``config_json`` columns and the
``params_json`` column of the indicators table), so a table can always be traced
back to the parameters that produced it.

Examples
--------
>>> from transform.load_config import DEFAULT_LOAD_CONFIG, LoadConfig
>>> DEFAULT_LOAD_CONFIG.atl_tau_days, DEFAULT_LOAD_CONFIG.ctl_tau_days
(7.0, 42.0)
>>> DEFAULT_LOAD_CONFIG.banister_constants("f")
(0.86, 1.67)
>>> LoadConfig(acwr_spike=1.3).acwr_spike
1.3
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from schemas.motion import MAX_SAMPLE_GAP_S, MOVING_SPEED_MPS

__all__ = ["DEFAULT_LOAD_CONFIG", "LoadConfig"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoadConfig:
    """Thresholds, time constants and literature constants (all keyword-only).

    Attributes
    ----------
    banister_sex_constants
        ``(sex, k, b)`` for the Banister TRIMP weighting ``k * exp(b * x)``
        (Morton, Fitz-Clarke & Banister 1990): men k=0.64, b=1.92; women k=0.86,
        b=1.67; sex "x" uses the arithmetic mean of both (k=0.75, b=1.795), a
        neutral choice between the two published curves.
    banister_default_sex
        Row of ``banister_sex_constants`` used when the roster sex is missing.
    max_sample_gap_s
        Each sample counts for the time to the next sample, capped at this many
        seconds so pauses (watch auto-pause, stops) do not count as exercise.
    hr_valid_min_bpm, hr_valid_max_bpm
        Heart-rate samples outside this range (strap off, spikes) are ignored.
    min_hr_coverage
        Share of the activity's sampled time with a valid HR needed for Banister
        TRIMP to be used as ``load`` (it is still reported below this).
    edwards_zone_floor_fractions
        Lower edges of Edwards' five zones as fractions of HRmax; the zone weights
        are 1..5. HR at or above 100 % HRmax counts in zone 5, below 50 % counts 0.
    hrtss_reference_minutes
        hrTSS = TRIMP / TRIMP(``hrtss_reference_minutes`` at LTHR) * 100.
    srpe_to_trimp_factor
        Factor turning session-RPE (CR-10 x minutes, arbitrary units) into
        Banister-TRIMP-like units when no usable HR exists.  0.5: an hour at
        CR-10 4-5 (sRPE 240-300) corresponds to roughly 70-80 % HRR, whose
        Banister TRIMP is about 110-145.
    duration_assumed_hrr_fraction
        When neither HR nor RPE exist, the moving time is assumed to be spent at
        this fraction of heart-rate reserve and scored with the Banister formula
        (0.55: easy running, the bulk of a therapy running plan).
    decoupling_min_duration_s, decoupling_warmup_s, decoupling_stopped_speed_mps,
    decoupling_max_speed_cv
        Steady-run rule for aerobic decoupling: a run (``run_sports``); the first
        ``decoupling_warmup_s`` and the samples slower than
        ``decoupling_stopped_speed_mps`` or without a valid HR are dropped; the
        remainder must last at least ``decoupling_min_duration_s -
        decoupling_warmup_s`` (so the run lasted at least
        ``decoupling_min_duration_s`` of moving time) and its time-weighted speed
        coefficient of variation must be at most ``decoupling_max_speed_cv``.
    hrv_rr_min_s, hrv_rr_max_s, hrv_max_successive_change, hrv_min_beats
        RR artefact filter and the minimum number of kept beats for HRV metrics.
    atl_tau_days, ctl_tau_days
        Time constants of the acute and chronic training loads (Banister model).
    acwr_acute_days, acwr_chronic_days
        Windows (and EWMA N) of the acute:chronic workload ratios.
    acwr_min_history_days
        Ratios are null until the client has this many days of history.
    monotony_days, monotony_ddof
        Foster's monotony window and the SD's delta degrees of freedom
        (1 = sample SD).
    baseline_days, wellbeing_days, baseline_min_entries
        Mood / sleep: ``wellbeing_days`` mean against a ``baseline_days`` baseline
        (mean and SD of daily values, the baseline window includes the recent
        week) needing at least ``baseline_min_entries`` days with a value.
    run_sports
        Sports counted as runs (weekly distance, run streaks).
    acwr_spike, monotony_high, distance_increase_pct, no_rest_days, tsb_low,
    decoupling_high_pct, wellbeing_z_low
        Indicator thresholds.
    min_history_days, min_journal_entries_7d
        Below these, the indicators table says "insufficient_data".
    ewma_seed_days
        ATL, CTL and both EWMA loads start from the mean daily load of the client's first
        ``ewma_seed_days`` days (rest days count as 0), not from 0, so the first weeks of the
        chronic average are not pulled down by an invented zero history; 0 starts from 0.
    monotony_cap
        Monotony is capped at this value (Runalyze caps at 10) in ``monotony`` and in strain;
        the uncapped value is kept in ``monotony_uncapped``.
    acwr_min_chronic_load
        ``load_spike`` is judged only when the chronic EWMA load is at least this (daily load
        units: 15 is about two easy 30-minute runs a week); a ratio over a near-zero chronic
        load says nothing (Gabbett 2016; Impellizzeri et al. 2020).
    return_break_days, return_hold_days
        After ``return_break_days`` or more days without any activity, ``load_spike`` and
        ``distance_jump`` are held back for ``return_hold_days`` days from the first activity
        back: a return from a break always looks like a spike against the faded chronic load.
    distance_min_base_m
        ``distance_jump`` compares calendar weeks (Monday to Sunday, the client's timezone) and
        is judged only when the previous week's running distance was at least this (a
        percentage of a tiny base means nothing).
    disengagement_days, disengagement_low_weeks, disengagement_low_ratio
        ``disengagement``: in a planned week, no run for ``disengagement_days`` days; or each of
        the last ``disengagement_low_weeks`` complete planned weeks under
        ``disengagement_low_ratio`` of the planned minutes and no run yet this week.
    low_mood_days, low_mood_abs
        ``sustained_low_mood``: the 7-day mean mood (0-10 scale) at or below the client's own
        baseline minus one SD (``wellbeing_z_low``), or at or below ``low_mood_abs``, with at
        least ``min_journal_entries_7d`` entries in the 7 days, for ``low_mood_days`` days in
        a row (raised from that day on).
    lthr_estimate_hrmax_fraction, default_threshold_hour_load
        ``low_tsb`` is judged in threshold-hour units (one hour at the lactate threshold = 100,
        as TSS and hrTSS): each client's TSB is scaled by 100 / the Banister TRIMP of 60 minutes
        at their LTHR (roster ``lthr``; estimated as ``lthr_estimate_hrmax_fraction`` of HRmax,
        0.85 (Friel), when missing; ``default_threshold_hour_load`` without a usable roster), so
        ``tsb_low`` (-30) means the same for every client whatever the load's source.
    journal_silence_days, journal_regular_entries
        ``journal_silence``: no journal entry for ``journal_silence_days`` days by a client
        who made at least ``journal_regular_entries`` entries in the 28 days before.
    combined_load_signals
        Indicator codes that count as a load signal for the combined signal.
    """

    banister_sex_constants: tuple[tuple[str, float, float], ...] = (
        ("m", 0.64, 1.92),
        ("f", 0.86, 1.67),
        ("x", 0.75, 1.795),
    )
    banister_default_sex: str = "x"
    max_sample_gap_s: float = MAX_SAMPLE_GAP_S
    hr_valid_min_bpm: float = 30.0
    hr_valid_max_bpm: float = 240.0
    min_hr_coverage: float = 0.8
    edwards_zone_floor_fractions: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)
    hrtss_reference_minutes: float = 60.0
    srpe_to_trimp_factor: float = 0.5
    duration_assumed_hrr_fraction: float = 0.55
    rpe_max: float = 10.0

    decoupling_min_duration_s: float = 2400.0
    decoupling_warmup_s: float = 600.0
    decoupling_stopped_speed_mps: float = MOVING_SPEED_MPS
    decoupling_max_speed_cv: float = 0.25

    hrv_rr_min_s: float = 0.3
    hrv_rr_max_s: float = 2.0
    hrv_max_successive_change: float = 0.2
    hrv_min_beats: int = 20

    atl_tau_days: float = 7.0
    ctl_tau_days: float = 42.0
    acwr_acute_days: int = 7
    acwr_chronic_days: int = 28
    acwr_min_history_days: int = 28
    monotony_days: int = 7
    monotony_ddof: int = 1
    distance_days: int = 7
    baseline_days: int = 28
    wellbeing_days: int = 7
    baseline_min_entries: int = 7
    run_sports: tuple[str, ...] = ("running",)

    acwr_spike: float = 1.5
    monotony_high: float = 2.0
    distance_increase_pct: float = 30.0
    no_rest_days: int = 7
    tsb_low: float = -30.0
    decoupling_high_pct: float = 5.0
    wellbeing_z_low: float = -1.0
    min_history_days: int = 21
    min_journal_entries_7d: int = 3
    combined_load_signals: tuple[str, ...] = (
        "load_spike",
        "high_monotony",
        "distance_jump",
        "no_rest_day",
        "low_tsb",
    )
    ewma_seed_days: int = 7
    monotony_cap: float = 10.0
    acwr_min_chronic_load: float = 15.0
    return_break_days: int = 14
    return_hold_days: int = 14
    distance_min_base_m: float = 10_000.0
    disengagement_days: int = 10
    disengagement_low_weeks: int = 2
    disengagement_low_ratio: float = 0.5
    low_mood_days: int = 10
    low_mood_abs: float = 4.0
    journal_silence_days: int = 7
    journal_regular_entries: int = 12
    lthr_estimate_hrmax_fraction: float = 0.85
    default_threshold_hour_load: float = 150.0

    def __post_init__(self) -> None:
        """Reject values that would make the formulas meaningless."""
        positive = {
            "max_sample_gap_s": self.max_sample_gap_s,
            "atl_tau_days": self.atl_tau_days,
            "ctl_tau_days": self.ctl_tau_days,
            "acwr_acute_days": self.acwr_acute_days,
            "acwr_chronic_days": self.acwr_chronic_days,
            "monotony_days": self.monotony_days,
            "hrtss_reference_minutes": self.hrtss_reference_minutes,
        }
        for name, value in positive.items():
            if not value > 0:
                msg = f"{name} must be > 0, got {value!r}"
                raise ValueError(msg)
        if self.acwr_chronic_days <= self.acwr_acute_days:
            msg = "acwr_chronic_days must exceed acwr_acute_days"
            raise ValueError(msg)
        if len(self.edwards_zone_floor_fractions) != 5:
            msg = "edwards_zone_floor_fractions needs the five zone floors"
            raise ValueError(msg)
        sexes = {row[0] for row in self.banister_sex_constants}
        if self.banister_default_sex not in sexes:
            msg = f"banister_default_sex {self.banister_default_sex!r} not in {sorted(sexes)}"
            raise ValueError(msg)

    def banister_constants(self, sex: str | None) -> tuple[float, float]:
        """Return ``(k, b)`` for a roster sex, falling back to the default row.

        Parameters
        ----------
        sex
            Roster sex code ("f", "m", "x") or None.

        Returns
        -------
        tuple of float
            The Banister weighting constants ``k`` and ``b``.

        Examples
        --------
        >>> DEFAULT_LOAD_CONFIG.banister_constants("m")
        (0.64, 1.92)
        >>> DEFAULT_LOAD_CONFIG.banister_constants(None)
        (0.75, 1.795)
        """
        table = {s: (k, b) for s, k, b in self.banister_sex_constants}
        return table.get(sex or "", table[self.banister_default_sex])

    @property
    def atl_alpha(self) -> float:
        """Daily ATL coefficient ``1 - exp(-1 / atl_tau_days)``."""
        return 1.0 - math.exp(-1.0 / self.atl_tau_days)

    @property
    def ctl_alpha(self) -> float:
        """Daily CTL coefficient ``1 - exp(-1 / ctl_tau_days)``."""
        return 1.0 - math.exp(-1.0 / self.ctl_tau_days)

    @property
    def ewma_acute_lambda(self) -> float:
        """Williams et al. (2017) acute lambda ``2 / (N + 1)``."""
        return 2.0 / (self.acwr_acute_days + 1)

    @property
    def ewma_chronic_lambda(self) -> float:
        """Williams et al. (2017) chronic lambda ``2 / (N + 1)``."""
        return 2.0 / (self.acwr_chronic_days + 1)

    def as_dict(self) -> dict[str, Any]:
        """Return the configuration as a plain, JSON-ready dictionary."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Return the configuration as a compact JSON string with sorted keys.

        Examples
        --------
        >>> '"atl_tau_days":7.0' in DEFAULT_LOAD_CONFIG.to_json()
        True
        """
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))


DEFAULT_LOAD_CONFIG = LoadConfig()

"""Codes that more than one room writes or reads: indicators, load sources, their labels.

Each tuple is the closed list of values a column may hold; the pandera models check the columns
against them (``isin``) and the code that produces or explains the values imports them from here.
"""

from __future__ import annotations

__all__ = ["INDICATOR_CODES", "INDICATOR_LABELS", "INSUFFICIENT_REASONS", "LOAD_SOURCES"]

#: Every code the ``indicator`` column can hold.
INDICATOR_CODES: tuple[str, ...] = (
    "load_spike",
    "high_monotony",
    "distance_jump",
    "no_rest_day",
    "low_tsb",
    "aerobic_decoupling",
    "overload_low_wellbeing",
    "insufficient_data",
)

#: Plain-language names of the indicators, used inside explanations.
INDICATOR_LABELS: dict[str, str] = {
    "load_spike": "sudden load increase",
    "high_monotony": "very monotonous training",
    "distance_jump": "weekly distance jump",
    "no_rest_day": "no rest day",
    "low_tsb": "low training stress balance",
    "aerobic_decoupling": "heart-rate drift on a steady run",
}

#: Every value the ``reason`` column of an ``insufficient_data`` row can hold.
INSUFFICIENT_REASONS: tuple[str, ...] = ("short_history", "short_history_acwr", "sparse_journal")

#: The ``load_source`` values, in the precedence order of ``transform.trimp.with_load``.
LOAD_SOURCES: tuple[str, ...] = ("banister_trimp", "srpe_scaled", "duration_estimate")

"""Every threshold of the derived tables in one object, buildable from a clinic's config file.

:class:`Thresholds` bundles the three configs that hold every rule of ``transform/``:
:class:`~transform.load_config.LoadConfig` (load, ACWR, monotony, indicators),
:class:`~transform.adherence.AdherenceConfig` (sessions and adherence bands) and
:class:`~transform.run_journal.RunJournalConfig` (which journal entry belongs to which run).
The run passes it down from ``Settings``; the report reads the same object, so a threshold is
stated once. The indicator rows carry the values they were judged with.

A clinic overrides values in a TOML file (``mindmiles ingest --config FILE``)::

    [load]
    acwr_spike = 1.3

    [adherence]
    min_session_s = 900
    bands = [
        {name = "green", low_pct = 75, high_pct = 125, low_inclusive = true, high_inclusive = true},
    ]

    [run_journal]
    post_window_s = 14400

Durations are seconds (``post_window_s``, ``pre_window_s``); lists stand for tuples and sets.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final

from schemas.errors import ConfigError
from transform.adherence import DEFAULT_ADHERENCE_CONFIG, AdherenceBand, AdherenceConfig
from transform.load_config import DEFAULT_LOAD_CONFIG, LoadConfig
from transform.run_journal import DEFAULT_RUN_JOURNAL_CONFIG, RunJournalConfig

__all__ = ["DEFAULT_THRESHOLDS", "STALE_DEFERRAL", "Thresholds"]

_WINDOW_SUFFIX: Final = "_s"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Thresholds:
    """The configs of every derived table.

    Examples
    --------
    >>> Thresholds.from_mapping({"load": {"acwr_spike": 1.3}}).load.acwr_spike
    1.3
    >>> Thresholds().load.acwr_spike == DEFAULT_LOAD_CONFIG.acwr_spike
    True
    """

    load: LoadConfig = DEFAULT_LOAD_CONFIG
    adherence: AdherenceConfig = DEFAULT_ADHERENCE_CONFIG
    run_journal: RunJournalConfig = DEFAULT_RUN_JOURNAL_CONFIG

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Thresholds:
        """Build from ``{"load": {...}, "adherence": {...}, "run_journal": {...}}``.

        Keys not given keep their defaults.

        Raises
        ------
        ConfigError
            An unknown section or key, or a value the config refuses; the message names it.
        """
        sections: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(sections))
        if unknown:
            raise ConfigError(f"unknown threshold section(s) {unknown}; known: {sorted(sections)}")
        built: dict[str, Any] = {}
        for name, overrides in data.items():
            if not isinstance(overrides, Mapping):
                raise ConfigError(f"[{name}] must be a table of key = value lines")
            built[name] = _override(name, sections[name], overrides)
        return cls(**built)

    def to_json(self) -> str:
        """Every threshold as one canonical JSON text (sets sorted, durations in seconds).

        What a run records with the derived tables it builds, to tell when a clinic's config
        changed and every client must be derived again.

        Examples
        --------
        >>> Thresholds().to_json() == Thresholds.from_mapping({}).to_json()
        True
        >>> Thresholds().to_json() == Thresholds.from_mapping({"load": {"acwr_spike": 1.6}}).to_json()
        False
        """
        return json.dumps(dataclasses.asdict(self), sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    """A set (sorted) or a duration (seconds) as JSON can hold it."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _override(section: str, default: Any, overrides: Mapping[str, Any]) -> Any:
    """Return ``default`` (a config dataclass) with ``overrides`` applied and checked."""
    fields = {f.name: f for f in dataclasses.fields(default)}
    changes: dict[str, Any] = {}
    windows = {
        f"{name}{_WINDOW_SUFFIX}": name
        for name in fields
        if isinstance(getattr(default, name), dt.timedelta)
    }
    for key, value in overrides.items():
        name = windows.get(key, key)
        if name not in fields or (name in windows.values() and name == key):
            known = sorted(set(fields) - set(windows.values()) | set(windows))
            raise ConfigError(f"[{section}] has no setting {key!r}; known: {', '.join(known)}")
        current = getattr(default, name)
        changes[name] = _convert(section, key, current, value)
    try:
        return dataclasses.replace(default, **changes)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{section}]: {exc}") from exc


def _convert(section: str, key: str, current: Any, value: Any) -> Any:
    """Give ``value`` the type of the default it replaces."""
    try:
        if isinstance(current, dt.timedelta):
            return dt.timedelta(seconds=float(value))
        if isinstance(current, bool):
            if not isinstance(value, bool):
                raise TypeError("expected true or false")
            return value
        if isinstance(current, int | float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError("expected a number")
            return type(current)(value)
        if isinstance(current, str):
            if not isinstance(value, str):
                raise TypeError("expected text")
            return value
        if isinstance(current, frozenset):
            return frozenset(value)
        if isinstance(current, tuple):
            if key == "bands":
                return tuple(AdherenceBand(**band) for band in value)
            return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{section}] {key} = {value!r}: {exc}") from exc
    raise ConfigError(f"[{section}] {key} cannot be set from a config file")


STALE_DEFERRAL: Final = dt.timedelta(hours=1)
"""A file still looking half-copied (a ``.part`` name, a changing size) for longer than this is an
open problem in ``mindmiles status`` and the report overview: a copy takes minutes, so it was
abandoned (an interrupted download) and will be deferred by every run until someone acts."""

DEFAULT_THRESHOLDS: Final = Thresholds()
"""The published defaults of every threshold."""

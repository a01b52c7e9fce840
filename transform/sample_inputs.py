"""What an activity's sample-derived metrics were computed from, and which stored ones still hold.

The ``activity_metrics`` values computed from an activity's samples (time, heart-rate load and
zones from :func:`transform.trimp.hr_load`; decoupling from
:func:`transform.decoupling.decoupling_metrics`) are the costly part of rebuilding a client: they
read the whole sample stream. Each activity's values depend on nothing but

- its own samples, and its sport (decoupling judges runs only): both stand in its ``activities``
  row, which is written whenever its samples are (a first write, a rewrite from the same bytes),
  and changes when another copy's channels are merged into them (``channel_sources``, the
  channel's summary columns, ``kept_reason``);
- the client's roster ``sex``, ``hr_rest``, ``hr_max`` and ``lthr``
  (:data:`~transform.trimp.HR_LOAD_ROSTER_COLUMNS`);
- the :class:`~transform.load_config.LoadConfig`;
- and the code computing them (:data:`SAMPLE_METRICS_REVISION`).

:func:`sample_inputs` hashes these (the whole ``activities`` row) into ``inputs_sha256``, stored
with each row. A rebuild computes the values again only for activities whose hash differs from
their stored row's (a new activity, a changed activity row, a roster or threshold change) and
takes the others' from the stored rows (:func:`reusable_sample_metrics`): since no activity's
values depend on another activity's samples, the table is the same, row for row, as one computed
afresh. The hash is made of values only, so two warehouses holding the same data hold the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Final

import polars as pl

from transform.load_config import DEFAULT_LOAD_CONFIG, LoadConfig
from transform.trimp import DECOUPLING_COLUMNS, HR_LOAD_COLUMNS, HR_LOAD_ROSTER_COLUMNS

__all__ = [
    "SAMPLE_DERIVED_COLUMNS",
    "SAMPLE_METRICS_REVISION",
    "reusable_sample_metrics",
    "sample_inputs",
]

SAMPLE_METRICS_REVISION: Final = 1
"""Raise it when :func:`~transform.trimp.hr_load` or
:func:`~transform.decoupling.decoupling_metrics` compute differently (not for a new
``LoadConfig`` value: the config is hashed whole): every stored value is then computed again."""

SAMPLE_DERIVED_COLUMNS: Final[tuple[str, ...]] = (*HR_LOAD_COLUMNS, *DECOUPLING_COLUMNS)
"""The ``activity_metrics`` columns computed from the samples."""


def _json_row(frame: pl.DataFrame, columns: Sequence[str]) -> pl.Expr:
    """Each row's ``columns`` as one JSON object, names and values.

    Floats are written as text: JSON has no NaN or infinity, which Polars would write as null.

    Examples
    --------
    >>> frame = pl.DataFrame({"a": [0.1 + 0.2, float("nan"), None], "b": ["x", "y", None]})
    >>> frame.select(_json_row(frame, ["a", "b"])).to_series().to_list()
    ['{"a":"0.30000000000000004","b":"x"}', '{"a":"NaN","b":"y"}', '{"a":null,"b":null}']
    """
    return pl.struct(
        pl.col(c).cast(pl.String) if frame.schema[c].is_float() else pl.col(c) for c in columns
    ).struct.json_encode()


def sample_inputs(
    activities: pl.DataFrame,
    roster: pl.DataFrame,
    *,
    config: LoadConfig = DEFAULT_LOAD_CONFIG,
) -> pl.DataFrame:
    """Hash what each activity's sample-derived values are computed from.

    Parameters
    ----------
    activities
        Rows of the ``activities`` table (every column is hashed, ``client_id`` among them).
    roster
        ``client_id`` and :data:`~transform.trimp.HR_LOAD_ROSTER_COLUMNS`; a client without a row
        hashes as nulls.
    config
        The load config (hashed whole, as its JSON).

    Returns
    -------
    pl.DataFrame
        ``activity_id``, ``inputs_sha256`` (64 hex digits), in the order of ``activities``.

    Examples
    --------
    >>> acts = pl.DataFrame({"activity_id": ["a", "b"], "client_id": ["c", "c"],
    ...                      "sport": ["running", "running"], "n_samples": [1800, 1800]})
    >>> roster = pl.DataFrame({"client_id": ["c"], "sex": ["f"], "hr_rest": [55.0],
    ...                        "hr_max": [190.0], "lthr": [None]})
    >>> first = sample_inputs(acts, roster)["inputs_sha256"]
    >>> first.str.len_chars().to_list(), first[0] == first[1]  # another activity, another hash
    ([64, 64], False)
    >>> later = sample_inputs(acts, roster.with_columns(hr_max=pl.lit(188.0)))
    >>> (later["inputs_sha256"] == first).to_list()  # the roster's HRmax changed
    [False, False]
    >>> merged = sample_inputs(acts.with_columns(n_samples=pl.lit(1801)), roster)
    >>> (merged["inputs_sha256"] == first).to_list()  # the activity's row changed
    [False, False]
    >>> (sample_inputs(acts, roster)["inputs_sha256"] == first).to_list()
    [True, True]
    """
    # Each row as one JSON text, encoded by Polars a column at a time; only each text's digest
    # is taken in Python (json.dumps row by row cost ~25 us an activity).
    constant = json.dumps([SAMPLE_METRICS_REVISION, config.to_json()])
    people = roster.select("client_id", person=_json_row(roster, HR_LOAD_ROSTER_COLUMNS))
    texts = (
        activities.select("client_id", row=_json_row(activities, activities.columns))
        .join(people, on="client_id", how="left", maintain_order="left")
        .select(
            pl.concat_str(
                pl.lit(f"[{constant},"),
                "row",
                pl.lit(","),
                pl.col("person").fill_null("null"),
                pl.lit("]"),
            )
        )
        .to_series()
    )
    digests = [hashlib.sha256(text.encode()).hexdigest() for text in texts]
    return activities.select("activity_id", inputs_sha256=pl.Series(digests, dtype=pl.String))


def reusable_sample_metrics(held: pl.DataFrame, inputs: pl.DataFrame) -> pl.DataFrame:
    """Stored sample-derived values still valid: rows whose ``inputs_sha256`` is the current one.

    Parameters
    ----------
    held
        Stored ``activity_metrics`` rows (``activity_id``, ``client_id``, ``inputs_sha256`` and
        :data:`SAMPLE_DERIVED_COLUMNS`).
    inputs
        Output of :func:`sample_inputs` for the activities now held.

    Returns
    -------
    pl.DataFrame
        ``activity_id``, ``client_id`` and :data:`SAMPLE_DERIVED_COLUMNS` of the rows that can
        be reused.

    Examples
    --------
    >>> held = pl.DataFrame({"activity_id": ["a", "b", "gone"], "client_id": "c",
    ...                      "inputs_sha256": ["1", "2", "3"]})
    >>> held = held.with_columns(pl.lit(1.0).alias(c) for c in SAMPLE_DERIVED_COLUMNS)
    >>> now = pl.DataFrame({"activity_id": ["a", "b", "new"], "inputs_sha256": ["1", "9", "4"]})
    >>> reusable_sample_metrics(held, now)["activity_id"].to_list()
    ['a']
    """
    return held.join(
        inputs.select("activity_id", "inputs_sha256"),
        on=["activity_id", "inputs_sha256"],
        how="semi",
    ).select("activity_id", "client_id", *SAMPLE_DERIVED_COLUMNS)

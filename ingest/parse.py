"""Bytes of one dropped file to validated frames and an outcome (no paths, no clock).

:func:`parse_file` expands containers (gzip, zip, nested zips) within :class:`ArchiveLimits`,
dispatches every member on its magic bytes, summarises each activity and validates every frame
against its table's schema. Any :class:`IngestError` becomes that file's outcome; nothing raises out
of here except programming errors.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandera.polars as pa
import polars as pl

from ingest.archive import ArchiveLimits, gunzip, iter_zip
from ingest.detect import detect_format, read_activity_file
from ingest.exports import (
    CheckedZip,
    DecodedSource,
    MemberFile,
    SkippedMember,
    apply_source_meta,
    detect_export,
    iter_export,
    open_checked_zip,
)
from ingest.frames import ParsedFile
from ingest.sports import decide_sport
from ingest.summaries import (
    clean_samples,
    refused_summary_values,
    summarize_activity,
    without_unset_clock,
)
from schemas.activities import Activities
from schemas.base import polars_schema, validate_frame
from schemas.errors import IngestError, NotAnActivity, SchemaViolation, UnsafeInput
from schemas.files import Outcome
from schemas.hrv import Hrv
from schemas.laps import Laps
from schemas.samples import Samples

__all__ = ["FileResult", "parse_file", "sha256_hex", "validate_results"]

ACTIVITY_ID_HEX = 20


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class FileResult:
    """What became of one file (or one archive member).

    ``outcome`` is provisional here (``ingested``, ``skipped`` or ``quarantined``); the run turns
    ``ingested`` into ``duplicate`` when every activity is already held.
    """

    sha256: str
    detected_format: str
    outcome: Outcome
    container_sha256: str | None = None
    reason_code: str | None = None
    reason_message: str | None = None
    decoder: str | None = None
    detail: str = ""
    evidence: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    member_name: str | None = None
    n_records: int = 0
    activities: pl.DataFrame | None = None
    samples: pl.DataFrame | None = None
    laps: pl.DataFrame | None = None
    hrv: pl.DataFrame | None = None
    members: list[FileResult] = field(default_factory=list)
    duplicate_of: list[str] = field(default_factory=list)
    wellness: list[Any] = field(default_factory=list)
    """:class:`ingest.exports.WellnessReading` values read from this file (monitoring FIT)."""
    non_activity_kind: str | None = None
    """A valid non-workout member of an export: its kind (``monitoring_b``, ``settings`` ...)."""
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    """Frames a clinic CSV gave (``journal``, ``journal_notes``, ``plans``, ``plan_notes``)."""

    def walk(self) -> list[FileResult]:
        """Return the result and every archive member below it, depth first (one ``files`` row each)."""
        out = [self]
        for member in self.members:
            out.extend(member.walk())
        return out

    def leaves(self) -> list[FileResult]:
        """The results below this one that are not containers (this one, if it is not)."""
        if not self.members:
            return [self]
        return [leaf for member in self.members for leaf in member.leaves()]

    @property
    def activity_ids(self) -> list[str]:
        """Ids of the activities decoded from this file (not its members)."""
        return [] if self.activities is None else self.activities["activity_id"].to_list()


def _activity_id(client_id: str, sha256: str, index: int) -> str:
    """Return the id of a file's ``index``-th session for one client.

    The client is part of it: the same bytes dropped for two clients are two activities (and
    their samples stay with each).
    """
    key = f"{client_id}:{sha256}:{index}"
    return hashlib.sha256(key.encode()).hexdigest()[:ACTIVITY_ID_HEX]


@dataclass
class Frames:
    """A parsed file's four frames, and the values refused on the way (``{channel: count}``)."""

    tables: dict[str, pl.DataFrame]
    refused: dict[str, int] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    """File-level flags found while building them (``clock_not_set`` for an undated track)."""


def _frames(parsed: ParsedFile, *, sha256: str, client_id: str) -> Frames:
    rows: list[dict[str, Any]] = []
    samples, laps, hrv = [], [], []
    refused: Counter[str] = Counter()
    file_flags: set[str] = set()
    for index, activity in enumerate(parsed.activities):
        activity_id = _activity_id(client_id, sha256, index)
        meta, clock_flags = activity.meta, set()
        undated = without_unset_clock(activity.samples)
        if undated is not None:  # a clock never set: kept without a date, as FIT files are
            meta, clock_flags = {**meta, "start_utc": None}, {"clock_not_set"}
            file_flags.add("clock_not_set")
        cleaned = clean_samples(activity.samples if undated is None else undated)
        summary, summary_refused = refused_summary_values(summarize_activity(cleaned.samples, meta))
        refused.update(cleaned.refused)
        refused.update(summary_refused)
        sport, sport_flags = _sport(activity.meta, cleaned.samples, parsed.device)
        reader_flags = set(activity.meta.get("flags", set())) - {"sport_inferred"}
        flags = sorted(
            reader_flags
            | parsed.flags
            | cleaned.flags
            | clock_flags
            | sport_flags
            | ({"values_refused"} if summary_refused else set())
        )
        rows.append(
            {
                "activity_id": activity_id,
                "client_id": client_id,
                "source_format": parsed.source_format,
                "device": parsed.device,
                "sport": sport,
                "sub_sport": _text(activity.meta.get("sub_sport")),
                "local_date": None,
                **summary,
                "clock_set": "clock_not_set" not in flags,
                "recovered": "recovered" in flags,
                "quality_flags": ",".join(flags),
                "values_refused": cleaned.n_refused + sum(summary_refused.values()),
                "source_sha256": sha256,
                "source_kind": "file",
                "source_type": None,
                "perceived_exertion": None,
                "kept_reason": None,
                "channel_sources": None,
                "pool_length_m": activity.meta.get("pool_length_m"),
            }
        )
        ids = {"activity_id": activity_id, "client_id": client_id}
        samples.append(cleaned.samples.with_columns(**{k: pl.lit(v) for k, v in ids.items()}))
        laps.append(activity.laps.with_columns(**{k: pl.lit(v) for k, v in ids.items()}))
        hrv.append(activity.rr.with_columns(**{k: pl.lit(v) for k, v in ids.items()}))
    activities = pl.DataFrame(rows, infer_schema_length=None)
    # a column no activity of the file has a value in is typed Null: give it the table's type, so
    # that rows built later from these (a merged copy) can hold values (frames are validated later)
    untyped: dict[Any, pl.DataType] = {
        c: ACTIVITY_TYPES[c] for c, t in activities.schema.items() if t == pl.Null
    }
    frames = {
        "activities": activities.cast(untyped),
        "samples": pl.concat(samples),
        "laps": pl.concat(laps),
        "hrv": pl.concat(hrv),
    }
    tables = {name: _select(name, frame) for name, frame in frames.items()}
    return Frames(tables, dict(refused), file_flags)


def _validated_frames(
    frames: dict[str, pl.DataFrame],
) -> tuple[dict[str, pl.DataFrame], list[SchemaViolation], int]:
    """Validate a file's frames; in a multi-activity file, refuse only the activities that fail.

    Returns the validated frames of the activities that pass, the failures of those that do
    not, and the number of activities in the file. Raises the first failure when no activity
    passes (the file holds no workout that can be read).
    """
    try:
        return {name: _validated(name, frame) for name, frame in frames.items()}, [], 1
    except SchemaViolation:
        ids = frames["activities"]["activity_id"].to_list()
        if len(ids) <= 1:
            raise
    kept: list[dict[str, pl.DataFrame]] = []
    errors: list[SchemaViolation] = []
    for aid in ids:
        mine = pl.col("activity_id") == aid
        try:
            kept.append(
                {name: _validated(name, frame.filter(mine)) for name, frame in frames.items()}
            )
        except SchemaViolation as error:
            errors.append(error)
    if not kept:
        raise errors[0]
    return {name: pl.concat([k[name] for k in kept]) for name in frames}, errors, len(ids)


def _remark(result: FileResult, code: str, message: str) -> None:
    """Say ``message`` on an ingested file: as its reason when it has none, else appended."""
    if result.reason_code is None:
        result.reason_code, result.reason_message = code, message
    else:
        result.reason_message = f"{result.reason_message} {message}"


CHANNEL_WORDS: dict[str, str] = {
    "hr_bpm": "heart rate",
    "speed_mps": "speed",
    "distance_m": "distance",
    "cadence_rpm": "cadence",
    "altitude_m": "altitude",
    "power_w": "power",
    "position": "position",
    "temperature_c": "temperature",
    "hr_mean_bpm": "mean heart rate",
    "hr_max_bpm": "maximum heart rate",
    "cadence_mean_rpm": "mean cadence",
    "cadence_max_rpm": "maximum cadence",
    "duration_s": "duration",
    "moving_time_s": "moving time",
    "elevation_gain_m": "elevation gain",
}
"""Plain words for the channels named in a file's note (staff read it)."""


def _note_refused(result: FileResult, refused: dict[str, int]) -> None:
    """Say in the file's note which impossible values were blanked (workouts kept)."""
    if not refused:
        return
    listed = ", ".join(
        f"{CHANNEL_WORDS.get(channel, channel.replace('_', ' '))} {count}"
        for channel, count in sorted(refused.items())
    )
    total = sum(refused.values())
    _remark(
        result,
        "values_refused",
        f"Some physically impossible values were left blank ({total}: {listed}); "
        "the workout itself was kept.",
    )


def _note_partial(result: FileResult, errors: list[SchemaViolation], total: int) -> None:
    """Say in the file's note that some of its workouts were refused, and keep the evidence."""
    if not errors:
        return
    _remark(
        result,
        "some_activities_refused",
        f"{len(errors)} of the {total} workouts in this file could not be taken in "
        "(impossible data); the others were.",
    )
    result.detail = "; ".join(e.detail for e in errors)
    result.evidence = [row for e in errors for row in e.evidence]


ACTIVITY_TYPES = polars_schema(Activities)
"""The ``activities`` table's column types."""

FRAME_MODELS: dict[str, type[pa.DataFrameModel]] = {
    "activities": Activities,
    "samples": Samples,
    "laps": Laps,
    "hrv": Hrv,
}
"""The schema each of a file's frames must pass before it may be written."""


def _select(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(list(FRAME_MODELS[name].to_schema().columns))


def _validated(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    return validate_frame(FRAME_MODELS[name], frame)


def validate_results(results: Sequence[FileResult]) -> None:
    """Validate the frames of many parsed files at once; quarantine only the files that fail.

    pandera's cost is mostly per call, so one call per table for a whole batch replaces four per
    file. When the batch fails, each file is checked on its own to find the culprits, whose
    outcome becomes ``quarantined`` with the failing checks as evidence.
    """
    items = [r for top in results for r in top.leaves() if r.activities is not None]
    if not items:
        return
    try:
        for name in FRAME_MODELS:
            _validated(name, pl.concat([getattr(r, name) for r in items], how="vertical_relaxed"))
    except SchemaViolation:
        for item in items:
            frames = {name: getattr(item, name) for name in FRAME_MODELS}
            try:
                checked, errors, total = _validated_frames(frames)
            except SchemaViolation as error:
                _failed(item, error)
                item.activities = item.samples = item.laps = item.hrv = None
                item.n_records = 0
            else:
                for name, frame in checked.items():
                    setattr(item, name, frame)
                item.n_records = checked["samples"].height
                _note_partial(item, errors, total)
        for top in results:
            _resummarise(top)


def _resummarise(result: FileResult) -> None:
    """Recompute container outcomes bottom-up after members changed."""
    if result.members:
        for member in result.members:
            _resummarise(member)
        _summarise_container(result)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _sport(meta: dict[str, Any], samples: pl.DataFrame, device: str | None) -> tuple[str, set[str]]:
    """The warehouse sport of a session and the flags of how it was found.

    The file's own sport (refined by its sub-sport if generic) when it names one; otherwise
    (the reader found none and guessed, flag ``sport_inferred``) the evidence of the creator
    application and of the data (:func:`ingest.sports.decide_sport`).
    """
    named = meta.get("sport")
    if "sport_inferred" not in meta.get("flags", set()) and named is not None:
        return decide_sport(named, meta.get("sub_sport"), samples=None, creator=None)
    return decide_sport(None, None, samples=samples, creator=device)


MEMBER_SKIP_CODES = frozenset({"unknown_format", "empty_file"})
"""Inside an archive, members of these reasons are the export's other files (CSV, JSON, photos):
skipped, not refused."""


def _failed(result: FileResult, error: IngestError) -> FileResult:
    skip = isinstance(error, NotAnActivity) or (
        result.container_sha256 is not None and error.reason_code in MEMBER_SKIP_CODES
    )
    result.outcome = Outcome.SKIPPED if skip else Outcome.QUARANTINED
    result.reason_code = error.reason_code
    result.reason_message = error.message
    result.detail = error.detail
    result.evidence = list(error.evidence)
    return result


def parse_file(
    data: bytes,
    *,
    client_id: str,
    limits: ArchiveLimits | None = None,
    depth: int = 0,
    container_sha256: str | None = None,
    member_name: str | None = None,
    reader: Callable[[bytes, str], ParsedFile] = read_activity_file,
    validate: bool = True,
    on_member: Callable[[int], None] | None = None,
    detected_format: str | None = None,
) -> FileResult:
    """Turn one file's bytes into frames and an outcome.

    Parameters
    ----------
    data
        The file's bytes.
    client_id
        The client's pseudonym, stamped on every row.
    limits
        Archive limits (defaults of :class:`ArchiveLimits`).
    reader
        The function that decodes one single-activity file (FIT, GPX or TCX).
    validate
        Check the frames against their schemas here; ``False`` leaves it to the caller, which
        must then call :func:`validate_results` (cheaper for a batch).
    on_member
        Called with the number of members read so far while a whole-account export is read.
    detected_format
        The format the caller already judged from these bytes (:func:`ingest.detect.detect_format`);
        ``None`` judges it here.

    Returns
    -------
    FileResult
        With ``members`` for containers; never raises :class:`IngestError`.
    """
    limits = limits or ArchiveLimits()
    sha256 = sha256_hex(data)
    result = FileResult(
        sha256=sha256,
        detected_format="unknown",
        outcome=Outcome.QUARANTINED,
        container_sha256=container_sha256,
        member_name=member_name,
    )
    try:
        fmt = detected_format or detect_format(data)
        result.detected_format = fmt
        if fmt == "zip":
            checked = open_checked_zip(data, limits)
            kind = detect_export(checked)
            if kind is not None:
                return _parse_export(
                    checked,
                    kind,
                    result,
                    client_id=client_id,
                    depth=depth,
                    reader=reader,
                    validate=validate,
                    on_member=on_member,
                )
        if fmt in ("gzip", "zip"):
            return _parse_container(
                data,
                fmt,
                result,
                client_id=client_id,
                limits=limits,
                depth=depth,
                reader=reader,
                validate=validate,
            )
        parsed = reader(data, fmt)
        built = _frames(parsed, sha256=sha256, client_id=client_id)
        frames, total = built.tables, 1
        errors: list[SchemaViolation] = []
        if validate:
            frames, errors, total = _validated_frames(frames)
    except IngestError as error:
        return _failed(result, error)
    result.outcome = Outcome.INGESTED
    result.decoder = parsed.decoder
    result.warnings = parsed.warnings
    if "clock_not_set" in parsed.flags | built.flags and not parsed.flags & {
        "recovered",
        "crc_mismatch",
    }:
        result.reason_code = "clock_not_set"
        result.reason_message = (
            "The watch's clock was never set, so this workout has no date; it was kept without one "
            "(durations and distances are fine)."
        )
    if "fields_skipped" in parsed.flags and not parsed.flags & {"recovered", "crc_mismatch"}:
        result.reason_code = "fields_skipped"
        result.reason_message = (
            "Some values in this file could not be decoded and were skipped; everything else, "
            "every record after them included, was kept."
        )
        result.detail = "; ".join(parsed.warnings)
    if parsed.flags & {"recovered", "crc_mismatch"}:
        result.reason_code = "recovered" if "recovered" in parsed.flags else "crc_mismatch"
        result.reason_message = (
            "This file was damaged; the workout data before the damage was kept."
            if "recovered" in parsed.flags
            else "This file's checksum is wrong, but its data read correctly and was kept."
        )
        result.detail = "; ".join(parsed.warnings)
    _note_refused(result, built.refused)
    _note_partial(result, errors, total)
    result.n_records = frames["samples"].height
    result.activities = frames["activities"]
    result.samples = frames["samples"]
    result.laps = frames["laps"]
    result.hrv = frames["hrv"]
    return result


def _parse_container(
    data: bytes,
    fmt: str,
    result: FileResult,
    *,
    client_id: str,
    limits: ArchiveLimits,
    depth: int,
    reader: Callable[[bytes, str], ParsedFile],
    validate: bool,
) -> FileResult:
    if depth >= limits.max_depth:
        raise UnsafeInput(
            "archive_too_deep",
            "This archive contains archives nested too deeply to be a real export; it was not opened.",
        )
    members = (
        [(None, gunzip(data, limits))]
        if fmt == "gzip"
        else [(m.name, m.data) for m in iter_zip(data, limits)]
    )
    for name, member in members:
        child = parse_file(
            member,
            client_id=client_id,
            limits=limits,
            depth=depth + 1,
            container_sha256=result.sha256,
            member_name=name,
            reader=reader,
            validate=validate,
        )
        result.members.append(child)
    result.decoder = fmt
    return _summarise_container(result)


def _parse_export(
    checked: CheckedZip,
    kind: str,
    result: FileResult,
    *,
    client_id: str,
    depth: int,
    reader: Callable[[bytes, str], ParsedFile],
    validate: bool,
    on_member: Callable[[int], None] | None,
) -> FileResult:
    """Read a whole-account export: each source activity becomes a member with its metadata."""
    result.decoder = kind
    for item in iter_export(checked, kind):
        if isinstance(item, MemberFile):
            child = parse_file(
                item.data,
                client_id=client_id,
                limits=checked.limits,
                depth=depth + 1,
                container_sha256=result.sha256,
                member_name=item.name,
                reader=reader,
                validate=validate,
            )
            for leaf in child.leaves():
                if leaf.activities is not None:
                    leaf.activities = apply_source_meta(leaf.activities, item.meta)
        elif isinstance(item, DecodedSource):
            child = FileResult(
                sha256=item.sha256,
                detected_format=item.parsed.source_format,
                outcome=Outcome.INGESTED,
                container_sha256=result.sha256,
                member_name=item.name,
                decoder=item.parsed.decoder,
            )
            try:
                built = _frames(item.parsed, sha256=item.sha256, client_id=client_id)
                frames = built.tables
                frames["activities"] = apply_source_meta(frames["activities"], item.metas)
                errors: list[SchemaViolation] = []
                total = 1
                if validate:
                    frames, errors, total = _validated_frames(frames)
            except IngestError as error:
                child = _failed(child, error)
            else:
                _note_refused(child, built.refused)
                _note_partial(child, errors, total)
                child.activities, child.samples = frames["activities"], frames["samples"]
                child.laps, child.hrv = frames["laps"], frames["hrv"]
                child.n_records = frames["samples"].height
        else:
            assert isinstance(item, SkippedMember)
            child = FileResult(
                sha256=item.sha256,
                detected_format=item.detected_format,
                outcome=Outcome.SKIPPED,
                container_sha256=result.sha256,
                member_name=item.name,
                reason_code="not_an_activity",
                reason_message=f"This is a watch {item.kind} file, not a workout; nothing to take in.",
                wellness=list(item.wellness),
                non_activity_kind=item.kind,
            )
        result.members.append(child)
        if on_member is not None:
            on_member(len(result.members))
    return _summarise_container(result)


def _summarise_container(result: FileResult) -> FileResult:
    """Set a container's outcome and reason from its members' outcomes."""
    result.reason_code = result.reason_message = None
    outcomes = [m.outcome for m in [leaf for m in result.members for leaf in m.leaves()]]
    refused = [
        m
        for m in [leaf for m in result.members for leaf in m.leaves()]
        if m.outcome == Outcome.QUARANTINED
    ]
    if Outcome.INGESTED in outcomes:
        result.outcome = Outcome.INGESTED
        if refused:
            result.reason_code = "some_members_refused"
            result.reason_message = (
                f"{len(refused)} file(s) inside this archive could not be taken in; the rest were."
            )
    elif refused and len(refused) == len(outcomes):
        first = refused[0]
        result.outcome = Outcome.QUARANTINED
        result.reason_code = first.reason_code
        result.reason_message = first.reason_message
        result.detail = first.detail
    else:
        result.outcome = Outcome.SKIPPED
        result.reason_code = "no_activities"
        result.reason_message = "This archive holds no recorded workout."
    return result

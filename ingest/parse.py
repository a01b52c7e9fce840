"""Bytes of one dropped file to validated frames and an outcome (no paths, no clock).

:func:`parse_file` expands containers (gzip, zip, nested zips) within :class:`ArchiveLimits`,
dispatches every member on its magic bytes, summarises each activity and validates every frame
against its table's schema. Any :class:`IngestError` becomes that file's outcome; nothing raises out
of here except programming errors.
"""

from __future__ import annotations

import hashlib
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
from ingest.sports import normalise_sport
from ingest.summaries import clean_samples, summarize_activity
from schemas.activities import Activities
from schemas.base import validate_frame
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


def _frames(parsed: ParsedFile, *, sha256: str, client_id: str) -> dict[str, pl.DataFrame]:
    rows: list[dict[str, Any]] = []
    samples, laps, hrv = [], [], []
    for index, activity in enumerate(parsed.activities):
        activity_id = _activity_id(client_id, sha256, index)
        cleaned, clean_flags = clean_samples(activity.samples)
        summary = summarize_activity(cleaned, activity.meta)
        flags = sorted(set(activity.meta.get("flags", set())) | parsed.flags | clean_flags)
        rows.append(
            {
                "activity_id": activity_id,
                "client_id": client_id,
                "source_format": parsed.source_format,
                "device": parsed.device,
                "sport": _sport(activity.meta),
                "sub_sport": _text(activity.meta.get("sub_sport")),
                "local_date": None,
                **summary,
                "clock_set": "clock_not_set" not in flags,
                "recovered": "recovered" in flags,
                "quality_flags": ",".join(flags),
                "source_sha256": sha256,
                "source_kind": "file",
                "source_type": None,
                "perceived_exertion": None,
                "kept_reason": None,
            }
        )
        ids = {"activity_id": activity_id, "client_id": client_id}
        samples.append(cleaned.with_columns(**{k: pl.lit(v) for k, v in ids.items()}))
        laps.append(activity.laps.with_columns(**{k: pl.lit(v) for k, v in ids.items()}))
        hrv.append(activity.rr.with_columns(**{k: pl.lit(v) for k, v in ids.items()}))
    activities = pl.DataFrame(rows, infer_schema_length=None)
    frames = {
        "activities": activities,
        "samples": pl.concat(samples),
        "laps": pl.concat(laps),
        "hrv": pl.concat(hrv),
    }
    return {name: _select(name, frame) for name, frame in frames.items()}


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
            try:
                for name in FRAME_MODELS:
                    setattr(item, name, _validated(name, getattr(item, name)))
            except SchemaViolation as error:
                _failed(item, error)
                item.activities = item.samples = item.laps = item.hrv = None
                item.n_records = 0
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


def _sport(meta: dict[str, Any]) -> str:
    """The warehouse sport of a session: the reader's sport, refined by its sub-sport if generic."""
    return normalise_sport(meta.get("sport"), meta.get("sub_sport")) or "other"


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
        frames = _frames(parsed, sha256=sha256, client_id=client_id)
        if validate:
            frames = {name: _validated(name, frame) for name, frame in frames.items()}
    except IngestError as error:
        return _failed(result, error)
    result.outcome = Outcome.INGESTED
    result.decoder = parsed.decoder
    result.warnings = parsed.warnings
    if "clock_not_set" in parsed.flags and not parsed.flags & {"recovered", "crc_mismatch"}:
        result.reason_code = "clock_not_set"
        result.reason_message = (
            "The watch's clock was never set, so this workout has no date; it was kept without one "
            "(durations and distances are fine)."
        )
    if parsed.flags & {"recovered", "crc_mismatch"}:
        result.reason_code = "recovered" if "recovered" in parsed.flags else "crc_mismatch"
        result.reason_message = (
            "This file was damaged; the workout data before the damage was kept."
            if "recovered" in parsed.flags
            else "This file's checksum is wrong, but its data read correctly and was kept."
        )
        result.detail = "; ".join(parsed.warnings)
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
                frames = _frames(item.parsed, sha256=item.sha256, client_id=client_id)
                frames["activities"] = apply_source_meta(frames["activities"], item.metas)
                if validate:
                    frames = {name: _validated(name, frame) for name, frame in frames.items()}
            except IngestError as error:
                child = _failed(child, error)
            else:
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

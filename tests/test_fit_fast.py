"""The columnar FIT decoder against the fitparse reader, its reference.

Expected values: the fitparse reader's own output (an independent decoder of the same bytes), the
per-record CSV of ``fitparse__compressed-speed-distance.fit`` written by a tool other than fitparse,
``fitparse.records.Crc`` for the checksum, and the refusal reasons decided by hand for the corpus
defects listed in ``../shared/corpus/README.md``.
"""

from __future__ import annotations

import csv
import gzip
import struct
import zipfile
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import polars as pl
import pytest
from fitparse.records import Crc
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ingest import fit_fast
from ingest.fit import read_fit
from ingest.fit_fast import (
    DECODER_NAME,
    FastPathRefused,
    fit_crc,
    read_fit_auto,
    read_fit_fast,
)
from ingest.frames import ParsedFile
from schemas.errors import IngestError
from synthetic.run_model import SimulatedRun, simulate_run, write_run_fit
from tests.conftest import CORPUS_REFERENCE, catalog_params, corpus_path

TRUNCATED_CORPUS_FILES: dict[str, int] = {
    # the last message runs past the data size into the CRC, and no CRC follows (Sigma Sport)
    "fitparse__nick.fit": 14391,
    # the header announces 19 bytes more data than the file holds; an undefined local type 11
    # stops decoding well before that (catalog: 473 records, one of them in 2085)
    "fitparse__strava-android-app-201.10-b1218918.fit": 473,
}
"""Corpus files cut short, with their records (catalog.csv), which fitparse decodes in part."""

START = datetime(2026, 3, 2, 7, 15, tzinfo=UTC)


# -- comparing two ParsedFile -------------------------------------------------------------------


def assert_same_parse(fast: ParsedFile, reference: ParsedFile) -> None:
    """Same activities, meta, flags, warnings and frames (floats within 1e-9 relative)."""
    assert fast.decoder == DECODER_NAME
    assert reference.decoder == "fitparse"
    assert (fast.source_format, fast.device, fast.flags, fast.warnings) == (
        reference.source_format,
        reference.device,
        reference.flags,
        reference.warnings,
    )
    assert len(fast.activities) == len(reference.activities)
    for ours, theirs in zip(fast.activities, reference.activities, strict=True):
        assert ours.meta == theirs.meta
        for frame in ("samples", "laps", "rr"):
            assert_frame_equal(
                getattr(ours, frame), getattr(theirs, frame), rel_tol=1e-9, abs_tol=0.0
            )


def outcome(read: Any, data: bytes) -> ParsedFile | IngestError:
    try:
        parsed: ParsedFile = read(data)
    except IngestError as error:
        return error
    return parsed


def assert_same_outcome(data: bytes, *, refusal_allowed: bool = False) -> None:
    """The fast path gives what fitparse gives (a parse or the same error), or may refuse."""
    try:
        fast = outcome(read_fit_fast, data)
    except FastPathRefused:
        if not refusal_allowed:
            raise
        return
    reference = outcome(read_fit, data)
    if isinstance(reference, IngestError):
        assert isinstance(fast, IngestError)
        assert (type(fast), fast.reason_code, fast.message) == (
            type(reference),
            reference.reason_code,
            reference.message,
        )
    else:
        assert isinstance(fast, ParsedFile)
        assert_same_parse(fast, reference)


# -- the corpus ---------------------------------------------------------------------------------


def corpus_fit_files() -> list[Any]:
    """One param per FIT file of the corpus, old and added: plain, .fit.gz, FIT members of zips."""
    params = []
    for added in (False, True):
        for param in catalog_params(lambda row: row["format"] in ("FIT", "GZ", "ZIP"), added=added):
            row = param.values[0]
            if row is None:
                return [param]
            params.append(pytest.param(row["name"], id=row["name"]))
    return params


def fit_bytes(name: str) -> bytes:
    raw = corpus_path(name).read_bytes()
    if name.endswith(".gz"):
        return gzip.decompress(raw)
    if name.endswith(".zip"):
        with zipfile.ZipFile(BytesIO(raw)) as archive:
            (member,) = [n for n in archive.namelist() if n.lower().endswith(".fit")]
            return archive.read(member)
    return raw


_REFERENCE: dict[str, ParsedFile | IngestError] = {}


def reference_outcome(name: str) -> ParsedFile | IngestError:
    """fitparse's outcome for a corpus file, decoded once per test session (it is slow)."""
    if name not in _REFERENCE:
        _REFERENCE[name] = outcome(read_fit, fit_bytes(name))
    return _REFERENCE[name]


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("name", corpus_fit_files())
def test_corpus_file_decodes_as_fitparse_does_or_falls_back_for_the_known_reason(
    name: str | None,
) -> None:
    assert name is not None
    data = fit_bytes(name)
    fast = outcome(read_fit_fast, data)
    reference = reference_outcome(name)
    if isinstance(reference, IngestError):
        assert isinstance(fast, IngestError), "fitparse refused the file, the fast path did not"
        assert (fast.reason_code, fast.message) == (reference.reason_code, reference.message)
    else:
        assert isinstance(fast, ParsedFile)
        assert_same_parse(fast, reference)


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "fitparse__activity-small-fenix2-run.fit",  # 4 running laps (a sub-field), 1 session
        "fitparse__event_timestamp.fit",  # a pool swim: 166 lengths, 99 laps
        "fitparse__elemnt-bolt-no-application-id-inside-developer-data-id.fit",  # 1 lap, 1 session
    ],
)
def test_laps_lengths_and_sessions_decoded_in_bulk_or_one_at_a_time_as_fitparse_does(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways of decoding small messages (``fit_fast.BULK_FROM`` picks one), against fitparse."""
    reference = reference_outcome(name)
    assert isinstance(reference, ParsedFile)
    bulk = fit_fast._small_columns
    in_bulk: list[int] = []

    def counted(*args: Any) -> dict[str, Any]:
        in_bulk.append(1)
        return bulk(*args)

    monkeypatch.setattr(fit_fast, "_small_columns", counted)
    for bulk_from, expect_bulk in ((1, True), (1_000_000, False)):
        monkeypatch.setattr(fit_fast, "BULK_FROM", bulk_from)
        in_bulk.clear()
        assert_same_parse(read_fit_fast(fit_bytes(name)), reference)
        assert bool(in_bulk) == expect_bulk  # the way asked for is the way taken


@pytest.mark.corpus
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TRUNCATED_CORPUS_FILES))
def test_a_truncated_corpus_file_is_read_fast_as_fitparse_reads_it(name: str) -> None:
    data = fit_bytes(name)
    parsed = read_fit_auto(data)
    reference = reference_outcome(name)
    assert isinstance(reference, ParsedFile)
    assert_same_parse(parsed, reference)
    assert parsed.flags == {"recovered"}
    assert parsed.warnings[0].startswith("decoding stopped early")
    records = sum(a.samples.height for a in parsed.activities)
    dropped = 1 if "strava" in name else 0  # the record in 2085
    assert records + dropped == TRUNCATED_CORPUS_FILES[name]


@pytest.mark.corpus
def test_auto_uses_the_fast_path_for_a_valid_file() -> None:
    parsed = read_fit_auto(fit_bytes("fitparse__activity-small-fenix2-run.fit"))
    assert parsed.decoder == DECODER_NAME
    assert not parsed.warnings
    # catalog.csv: 2809 records, 4 laps, running
    assert parsed.activities[0].samples.height == 2809
    assert parsed.activities[0].laps.height == 4
    assert parsed.activities[0].meta["sport"] == "running"


@pytest.mark.corpus
def test_compressed_speed_distance_matches_the_independent_reference_csv() -> None:
    """Distance accumulated from 12-bit compressed values, as written by a tool other than fitparse.

    The CSV omits the file's first record (a timestamp only) and gives device-relative seconds;
    17217864 is that first record's time (catalog first_ts).
    """
    samples = (
        read_fit_fast(fit_bytes("fitparse__compressed-speed-distance.fit")).activities[0].samples
    )
    with (CORPUS_REFERENCE / "fitparse__compressed-speed-distance-records.csv").open() as handle:
        rows = list(csv.DictReader(handle, skipinitialspace=True))
    assert samples.height == len(rows) + 1 == 755
    assert samples["timestamp"].null_count() == samples.height  # clock never set
    for ours, ref in zip(samples.slice(1).to_dicts(), rows, strict=True):
        assert ours["elapsed_s"] == float(int(ref["Timestamp"]) - 17217864)
        assert ours["distance_m"] == pytest.approx(float(ref["Distance [m]"]), abs=1e-9)
        assert ours["speed_mps"] == pytest.approx(float(ref["Speed [m/s]"]), abs=1e-9)
        hr = ref["Heart Rate [bpm]"]
        assert ours["hr_bpm"] == (None if hr == "null" else int(hr))
    assert samples["distance_m"].drop_nulls().to_numpy().max() > 4096 / 16  # 12-bit counter wrapped


# -- synthetic files -----------------------------------------------------------------------------


def short_run(minutes: int = 20, seed: int = 7) -> SimulatedRun:
    return simulate_run(
        START,
        duration_s=minutes * 60,
        intensity="intervals",
        hr_rest=52,
        hr_max=188,
        home=(48.2, 16.37),
        seed=seed,
    )


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="little-endian"),
        pytest.param({"big_endian": True}, id="big-endian"),
        pytest.param({"with_hrv": True}, id="hrv"),
        pytest.param({"with_hrv": True, "big_endian": True}, id="hrv-big-endian"),
        pytest.param({"device_clock_origin": START - timedelta(hours=2)}, id="device-clock"),
        pytest.param({"utc_offset": timedelta(hours=1)}, id="local-timestamp"),
    ],
)
def test_synthetic_file_decodes_as_fitparse_does(options: dict[str, Any]) -> None:
    data = write_run_fit(short_run(), **options)
    fast, reference = read_fit_fast(data), read_fit(data)
    assert_same_parse(fast, reference)
    samples = fast.activities[0].samples
    assert samples.height == 20 * 60
    if "device_clock_origin" in options:
        assert fast.flags == {"clock_not_set"}
        assert samples["timestamp"].null_count() == samples.height
    else:
        assert samples["timestamp"][0] == START
    if options.get("with_hrv"):
        assert fast.activities[0].rr.height > 20 * 60  # more beats than seconds


def test_synthetic_values_are_the_simulated_ones() -> None:
    """Independent oracle: the simulator's own arrays (to the FIT encoding's resolution)."""
    run = short_run(minutes=5)
    samples = read_fit_fast(write_run_fit(run, big_endian=True)).activities[0].samples
    assert samples["hr_bpm"].to_list() == run.heart_rate.tolist()
    assert samples["cadence_rpm"].to_list() == run.cadence.astype(float).tolist()
    assert samples["distance_m"].to_numpy() == pytest.approx(run.distance, abs=0.005)
    assert samples["speed_mps"].to_numpy() == pytest.approx(run.speed, abs=0.0005)
    assert samples["altitude_m"].to_numpy() == pytest.approx(run.altitude, abs=0.1)
    assert samples["lat_deg"].to_numpy() == pytest.approx(run.lat, abs=1e-7)
    assert samples["elapsed_s"].to_list() == [float(s) for s in run.elapsed_s]


@pytest.mark.parametrize("fraction", [0.05, 0.31, 0.6, 0.97])
def test_truncated_synthetic_file_is_read_fast_as_fitparse_reads_it(fraction: float) -> None:
    data = write_run_fit(short_run(), with_hrv=True, truncate_at=fraction)
    parsed = read_fit_auto(data)
    assert parsed.decoder == DECODER_NAME
    assert_same_parse(parsed, read_fit(data))
    assert parsed.flags == {"recovered"}


TRUNCATION_BASE = write_run_fit(short_run(2), with_hrv=True)


@pytest.mark.parametrize(
    "cut",
    [
        *range(0, 40),  # inside the header, the file_id definition and message
        *range(len(TRUNCATION_BASE) // 2 - 60, len(TRUNCATION_BASE) // 2),  # records and hrv
        *range(len(TRUNCATION_BASE) - 80, len(TRUNCATION_BASE)),  # laps, session, the CRC
    ],
)
def test_a_file_cut_at_any_byte_is_read_as_fitparse_reads_it_or_refused(cut: int) -> None:
    # a first header cut short is unreadable: refused, as before
    assert_same_outcome(TRUNCATION_BASE[:cut], refusal_allowed=cut < 14)


def test_a_chained_file_cut_in_its_second_part_is_read_as_fitparse_reads_it() -> None:
    first, second = write_run_fit(short_run(3, seed=1)), write_run_fit(short_run(3, seed=2))
    for cut in (0, 5, 13, 14, 15, 60, len(second) // 2, len(second) - 1):
        assert_same_outcome(first + second[:cut])


def test_a_data_size_beyond_the_file_reads_up_to_the_file_end() -> None:
    data = bytearray(write_run_fit(short_run(3)))
    (data_size,) = struct.unpack_from("<I", data, 4)
    data[4:8] = struct.pack("<I", data_size + 100)  # announces 100 bytes more than there are
    data[12:14] = struct.pack("<H", Crc.calculate(bytes(data[:12])))
    parsed = read_fit_auto(bytes(data))
    assert parsed.decoder == DECODER_NAME
    assert_same_parse(parsed, read_fit(bytes(data)))
    assert parsed.flags == {"recovered"}


def test_chained_files_decode_as_fitparse_does() -> None:
    first, second = write_run_fit(short_run(10, seed=1)), write_run_fit(short_run(10, seed=2))
    assert_same_outcome(first + second)


def test_a_crc_mismatch_falls_back() -> None:
    data = bytearray(write_run_fit(short_run(3)))
    data[-1] ^= 0xFF
    with pytest.raises(FastPathRefused) as refused:
        read_fit_fast(bytes(data))
    assert refused.value.reason == "crc_mismatch"
    assert read_fit_auto(bytes(data)).flags == {"crc_mismatch"}


def test_a_settings_file_is_not_an_activity_for_both_decoders() -> None:
    from synthetic.fit_writer import FitMessage, encode_fit

    data = encode_fit([FitMessage("file_id", {"type": "settings", "manufacturer": "garmin"})])
    assert_same_outcome(data)
    assert isinstance(outcome(read_fit_fast, data), IngestError)


# -- CRC and mutations ----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=3000))
def test_crc_equals_fitparse_crc(data: bytes) -> None:
    assert fit_crc(data) == Crc.calculate(data)


def _with_valid_crcs(data: bytearray) -> bytes:
    """Recompute the header and file CRCs, so a mutation reaches the message decoder."""
    header_size = data[0]
    if header_size == 14:
        data[12:14] = struct.pack("<H", Crc.calculate(bytes(data[:12])))
    data[-2:] = struct.pack("<H", Crc.calculate(bytes(data[:-2])))
    return bytes(data)


MUTATION_BASE = write_run_fit(
    simulate_run(
        START, duration_s=120, intensity="easy", hr_rest=50, hr_max=190, home=(40.4, -3.7), seed=3
    ),
    with_hrv=True,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(MUTATION_BASE) - 3), st.integers(1, 255)),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
# A record field read as bytes after its bad size was counted again per record by the fast path.
@example(flips=[(148, 146)], fix_crc=True)
# A definition the file ends in, whose developer field (read whole) was never described: fitparse
# stops there with an error of its own, the fast path said the file ends.
@example(flips=[(3122, 1)], fix_crc=False)
def test_flipped_bytes_are_refused_or_decoded_exactly_as_fitparse(
    flips: list[tuple[int, int]], fix_crc: bool
) -> None:
    data = bytearray(MUTATION_BASE)
    for position, mask in flips:
        data[position] ^= mask
    mutated = _with_valid_crcs(data) if fix_crc else bytes(data)
    try:
        fast = read_fit_fast(mutated)
    except (FastPathRefused, IngestError):
        return
    reference = read_fit(mutated)  # whatever the fast path accepts, fitparse must read the same
    assert_same_parse(fast, reference)


def test_refusal_reasons_are_known() -> None:
    with pytest.raises(ValueError, match="unknown refusal reason"):
        FastPathRefused("no_such_reason")
    assert str(FastPathRefused("crc_mismatch", "segment at byte 0")) == (
        "crc mismatch (segment at byte 0)"
    )


def test_frames_have_the_reader_columns() -> None:
    parsed = read_fit_fast(write_run_fit(short_run(2), with_hrv=True))
    activity = parsed.activities[0]
    reference = read_fit(write_run_fit(short_run(2), with_hrv=True)).activities[0]
    assert activity.samples.schema == reference.samples.schema
    assert activity.laps.schema == reference.laps.schema
    assert activity.rr.schema == reference.rr.schema
    assert activity.samples["hr_bpm"].dtype == pl.Int16


def test_regression_compressed_timestamp_header_inside_a_run_of_records() -> None:
    """Bug: a compressed-timestamp header in the middle of a run of records was decoded as normal.

    ``MUTATION_BASE[233]`` is the header byte ``0x03`` (normal header, local type 3) of the fourth
    record; ``0x03 ^ 0xE0 = 0xE3`` is a compressed-timestamp header of the same local type with a
    time offset of 3. The run finder kept the message in its run (same local type) but only a run's
    first header marked the file as using compressed timestamps, so the header's time was ignored.
    fitparse first takes the record's own field 253 (07:15:03, 1141370103 s after the FIT epoch
    1989-12-31, whose low five bits are 23) and then applies the offset: 3 < 23 rolls over to the
    next 32 s, 1141370103 - 23 + 32 + 3 = 1141370115, i.e. 07:15:15 (worked out by hand).
    """
    data = bytearray(MUTATION_BASE)
    assert data[233] == 0x03
    data[233] ^= 224
    mutated = _with_valid_crcs(data)
    fast = read_fit_fast(mutated)
    timestamps = fast.activities[0].samples["timestamp"]
    assert timestamps[3] == START + timedelta(seconds=15)
    assert timestamps[2] == START + timedelta(seconds=2)
    assert timestamps[4] == START + timedelta(seconds=4)
    assert_same_parse(fast, read_fit(mutated))


def test_regression_a_record_field_read_as_an_array_is_null_and_not_counted_as_skipped() -> None:
    """Bug: the fast path counted such a field as skipped (flag ``fields_skipped``); fitparse's
    reader takes the array as no value and counts nothing.

    The record definition's ``distance`` (field 5, 4 bytes) is retyped from uint32 (0x86) to
    uint16 (0x84): two values per message, where a number belongs.
    """
    data = bytearray(MUTATION_BASE)
    record_definition = data.index(bytes([0x00, 0x00, 0x14, 0x00]), 14) - 1  # little-endian, 20
    n_fields = data[record_definition + 5]
    triples = range(record_definition + 6, record_definition + 6 + 3 * n_fields, 3)
    [distance] = [q for q in triples if data[q] == 5]
    assert data[distance + 1 : distance + 3] == bytes([4, 0x86])
    data[distance + 2] = 0x84
    mutated = _with_valid_crcs(data)
    fast, reference = read_fit_fast(mutated), read_fit(mutated)
    assert_same_parse(fast, reference)
    assert fast.flags == set()
    assert fast.activities[0].samples["distance_m"].null_count() == 120


def test_every_field_converter_gives_none_for_none() -> None:
    """``fit_common.pick`` skips a missing value without converting it: this must hold."""
    from ingest.fit_common import COLUMN_CONVERTERS, LAP_FIELDS, RECORD_FIELDS, SESSION_FIELDS

    converters = {c for m in (LAP_FIELDS, RECORD_FIELDS, SESSION_FIELDS) for _, c in m.values()}
    assert converters <= set(COLUMN_CONVERTERS)
    assert all(convert(None) is None for convert in COLUMN_CONVERTERS)


def _hand_made_fit(messages: list[tuple[bool, int, bytes]]) -> bytes:
    """A FIT file of (definition?, local type, content) messages, with valid CRCs.

    A local type of 0x80 or more is a whole compressed-timestamp header byte (data messages).
    """
    body = b"".join(
        bytes([local if local >= 0x80 else (0x40 if is_definition else 0) | local]) + content
        for is_definition, local, content in messages
    )
    head = bytearray(struct.pack("<BBHI4sH", 14, 0x20, 2080, len(body), b".FIT", 0))
    return _with_valid_crcs(head + body + b"\0\0")


FILE_ID = struct.pack("<BBHB", 0, 0, 0, 1) + bytes([0, 1, 0x00])  # file_id: type (enum)
RECORD_LAYOUT = struct.pack("<BBHB", 0, 0, 20, 2) + bytes([253, 4, 0x86, 3, 1, 0x02])


def _record(seconds: int, bpm: int) -> bytes:
    """A record message's content: timestamp (uint32) and heart_rate (uint8)."""
    return struct.pack("<IB", int((START - FIT_EPOCH).total_seconds()) + seconds, bpm)


FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)


RECORD_LAYOUT_WITH_CADENCE = struct.pack("<BBHB", 0, 0, 20, 3) + bytes(
    [253, 4, 0x86, 3, 1, 0x02, 4, 1, 0x02]
)


@pytest.mark.parametrize("interleaved", [True, False])
@pytest.mark.parametrize("second_layout", [RECORD_LAYOUT, RECORD_LAYOUT_WITH_CADENCE])
def test_records_under_two_definitions_decode_in_file_order(
    interleaved: bool, second_layout: bytes
) -> None:
    """Two local types defined with record layouts (the same one, or one with cadence too), used
    in turn (merged out of order) or one after the other (joined as they come): the heart rates
    and cadences read back in file order, as fitparse reads them."""
    messages = [(True, 0, FILE_ID), (False, 0, bytes([4])), (True, 1, RECORD_LAYOUT)]
    messages.append((True, 2, second_layout))
    locals_ = [1, 2, 1, 2, 1, 2] if interleaved else [1, 1, 1, 2, 2, 2]
    cadence = second_layout == RECORD_LAYOUT_WITH_CADENCE
    for i, local in enumerate(locals_):
        extra = bytes([80 + i]) if cadence and local == 2 else b""
        messages.append((False, local, _record(i, 100 + i) + extra))
    data = _hand_made_fit(messages)
    fast = read_fit_fast(data)
    assert_same_parse(fast, read_fit(data))
    samples = fast.activities[0].samples
    assert samples["hr_bpm"].to_list() == [100, 101, 102, 103, 104, 105]
    assert samples["timestamp"].to_list() == [START + timedelta(seconds=i) for i in range(6)]
    expected = [80.0 + i if cadence and local == 2 else None for i, local in enumerate(locals_)]
    assert samples["cadence_rpm"].to_list() == expected


@pytest.mark.parametrize("seconds", [0x10000000, 1_000_000_000, 0xFFFFFFFE])
def test_as_time_reads_fit_seconds_as_it_reads_fitparse_datetimes(seconds: int) -> None:
    """The columnar decoder keeps a small message's date_time as FitSeconds where fitparse gives
    a naive UTC datetime (FIT epoch 1989-12-31 plus the seconds): both give the same time. A
    plain int stays what it was (a developer field named like a time is no date)."""
    from ingest.fit_common import FitSeconds, as_time

    naive = datetime(1989, 12, 31) + timedelta(seconds=seconds)
    assert as_time(FitSeconds(seconds)) == as_time(naive)
    assert as_time(FitSeconds(seconds)) == (naive.replace(tzinfo=UTC), float(seconds))
    assert as_time(seconds) == (None, None)
    assert as_time(0x0FFFFFFF) == (None, float(0x0FFFFFFF))  # device-relative


def test_record_columns_are_the_time_columns_then_the_record_fields() -> None:
    """``fit_fast._frame_of_group`` lists the records frame's columns in this order."""
    from ingest.fit_common import ABS_COLUMN, RECORD_COLUMNS, RECORD_FIELDS

    assert tuple(RECORD_COLUMNS) == (ABS_COLUMN, "timestamp", *RECORD_FIELDS)

"""The streaming GPX reader against the gpxpy reader, its reference.

Expected values: :func:`ingest.gpx.read_gpx` (gpxpy, an independent parser of the same bytes), the
simulated run that :func:`write_run_gpx` encoded, gpxpy's own ``parse_time`` for the time texts,
and a few literals worked out by hand (noted where used).
"""

from __future__ import annotations

import datetime as dt
import tracemalloc
from typing import Any

import pytest
from gpxpy.gpxfield import parse_time
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ingest.frames import ParsedFile
from ingest.gpx import read_gpx
from ingest.gpx_fast import (
    DECODER_NAME,
    REFUSAL_REASONS,
    StreamRefused,
    parse_times,
    read_gpx_auto,
    read_gpx_fast,
)
from schemas.errors import CorruptFile, IngestError, NotAnActivity, UnsafeInput
from synthetic.run_model import simulate_run, write_run_gpx
from tests.conftest import CORPUS_FILES, catalog_params, require_corpus
from tests.test_readers import (
    BILLION_LAUGHS,
    ROUTE_GPX,
    TPX_V1,
    TPX_V2,
    XXE_GPX,
    XXE_PARAMETER_ENTITY,
    exception_texts,
    gpx_with_tpx,
)

GPX11 = 'version="1.1" creator="hand" xmlns="http://www.topografix.com/GPX/1/1"'
GPX10 = 'version="1.0" creator="old" xmlns="http://www.topografix.com/GPX/1/0"'
TPX = 'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1"'


def gpx(
    body: str, *, root: str = GPX11, head: str = '<?xml version="1.0" encoding="UTF-8"?>\n'
) -> bytes:
    return f"{head}<gpx {root}>{body}</gpx>".encode()


def point(time: str | None, *, lat: float = 45.0, extra: str = "") -> str:
    when = "" if time is None else f"<time>{time}</time>"
    return f'<trkpt lat="{lat}" lon="7.0"><ele>201.5</ele>{when}{extra}</trkpt>'


def track(*points: str, kind: str | None = None, segments: int = 1) -> str:
    type_element = "" if kind is None else f"<type>{kind}</type>"
    segment = f"<trkseg>{''.join(points)}</trkseg>"
    return f"<trk><name>t</name>{type_element}{segment * segments}</trk>"


def outcome(read: Any, data: bytes) -> ParsedFile | IngestError:
    try:
        parsed: ParsedFile = read(data)
    except IngestError as error:
        return error
    return parsed


def assert_same_parse(fast: ParsedFile, reference: ParsedFile) -> None:
    """Same activities, meta, device, flags, warnings and frames (floats within 1e-9 relative)."""
    assert (fast.decoder, reference.decoder) == (DECODER_NAME, "gpxpy")
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


def assert_same_outcome(data: bytes) -> ParsedFile | IngestError:
    """The stream gives what gpxpy gives: the same parse, or the same error (no refusal)."""
    fast = outcome(read_gpx_fast, data)
    reference = outcome(read_gpx, data)
    if isinstance(reference, IngestError):
        assert isinstance(fast, IngestError)
        assert (type(fast), fast.reason_code, fast.message, fast.detail) == (
            type(reference),
            reference.reason_code,
            reference.message,
            reference.detail,
        )
    else:
        assert isinstance(fast, ParsedFile)
        assert_same_parse(fast, reference)
    return fast


def refusal(data: bytes) -> str:
    with pytest.raises(StreamRefused) as caught:
        read_gpx_fast(data)
    assert caught.value.reason in REFUSAL_REASONS
    return caught.value.reason


# -- the corpus ---------------------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize("row", catalog_params(lambda row: row["format"] == "GPX"))
def test_corpus_gpx_reads_as_gpxpy_reads_it(row: dict[str, str]) -> None:
    require_corpus()
    assert_same_outcome((CORPUS_FILES / row["name"]).read_bytes())


# -- synthetic runs -----------------------------------------------------------------------------


@pytest.mark.parametrize("with_hr", [True, False], ids=["garmin-like", "apple-health-like"])
def test_synthetic_run_reads_as_gpxpy_and_as_simulated(with_hr: bool) -> None:
    start = dt.datetime(2026, 3, 2, 7, 15, tzinfo=dt.UTC)
    run = simulate_run(
        start,
        duration_s=1200,
        intensity="intervals",
        hr_rest=55,
        hr_max=185,
        home=(51.5, -0.12),
        seed=3,
    )
    data = write_run_gpx(run, creator="Apple Watch", with_hr=with_hr)
    parsed = assert_same_outcome(data)
    assert isinstance(parsed, ParsedFile)
    assert parsed.device == "Apple Watch"
    [activity] = parsed.activities
    samples = activity.samples
    assert samples.height == run.n_samples
    assert samples["timestamp"].to_list() == list(run.timestamps)
    assert samples["lat_deg"].to_list() == pytest.approx(run.lat.tolist(), abs=1e-7)  # 7 decimals
    if with_hr:
        assert samples["hr_bpm"].to_list() == run.heart_rate.tolist()
    else:
        assert samples["hr_bpm"].null_count() == run.n_samples


def test_four_hour_track_is_streamed_not_kept() -> None:
    """The stream's peak memory stays well under the tree gpxpy builds for the same file."""
    start = dt.datetime(2026, 3, 2, 7, 15, tzinfo=dt.UTC)
    run = simulate_run(
        start,
        duration_s=4 * 3600,
        intensity="easy",
        hr_rest=55,
        hr_max=185,
        home=(51.5, -0.12),
        seed=4,
    )
    data = write_run_gpx(run)

    def peak(read: Any) -> int:
        tracemalloc.start()
        try:
            read(data)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak(read_gpx_fast) < peak(read_gpx) / 3


# -- hand-made documents ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        gpx_with_tpx(TPX_V1, prefix="gpxtpx", speed=False),
        gpx_with_tpx(TPX_V2, prefix="ns3", speed=True),
        b"\xef\xbb\xbf \r\n\t " + gpx_with_tpx(TPX_V1, prefix="gpxtpx", speed=False),
        gpx(track(point("2024-03-02T07:00:00Z"), point("2024-03-02T07:00:05Z", lat=45.0001))),
        gpx(track(point("2024-03-02T07:00:00Z")), root='version="1.1" creator="no namespace"'),
        gpx(track(point("2024-03-02T07:00:00Z"), kind="Run"), head=""),
        gpx(track(point("2024-03-02T07:00:00Z")), head="<!-- exported -->\n<?pi x?>\n"),
        # several segments, one of them empty
        gpx(track(point("2024-03-02T07:00:00Z"), point("2024-03-02T07:00:09Z"), segments=3)
            .replace("</trkseg>", "</trkseg><trkseg></trkseg>", 1)),
        # first <ele> wins, a second one (not a number) is not read by gpxpy either
        gpx(track(point("2024-03-02T07:00:00Z", extra="<ele>high</ele>"))),
        # empty <ele/> and <time/>, whitespace around numbers, extra point fields gpxpy checks
        gpx(track(
            '<trkpt lat=" 45.0 " lon="7.0"><ele/><time/></trkpt>',
            point("2024-03-02T07:00:00Z", extra="<sat>7</sat><hdop> 1.5</hdop><fix>3d</fix>"),
        )),
        # extensions: first value of a column wins, unreadable values are skipped, other names ignored
        gpx(track(point("2024-03-02T07:00:00Z", extra=(
            "<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>n/a</gpxtpx:hr>"
            "<gpxtpx:hr>150</gpxtpx:hr><gpxtpx:HeartRate>99</gpxtpx:HeartRate>"
            "<gpxtpx:Watts>210</gpxtpx:Watts><gpxtpx:course>12</gpxtpx:course>"
            "</gpxtpx:TrackPointExtension><speed>3.2</speed></extensions>"
        ))), root=f"{GPX11} {TPX}"),
        # GPX 1.0: gpxpy reads no <type> and no <extensions>, but checks <speed> and <course>
        gpx(track(point("2024-03-02T07:00:00Z", extra="<speed>3.1</speed><course>90</course>"
                        "<extensions><hr>150</hr></extensions>"), kind="running"), root=GPX10),
        # no version attribute: gpxpy reads it as GPX 1.0
        gpx(track(point("2024-03-02T07:00:00Z"), kind="running"),
            root='creator="x" xmlns="http://www.topografix.com/GPX/1/1"'),
        # waypoints, a route and metadata next to the track
        gpx('<metadata><name>m</name><bounds minlat="1" minlon="2" maxlat="3" maxlon="4"/></metadata>'
            '<wpt lat="45" lon="7"><ele>3</ele></wpt><rte><rtept lat="1" lon="2"/></rte>'
            + track(point("2024-03-02T07:00:00Z"))),
        # a DOCTYPE naming an external DTD (never fetched): parsed with defusedxml
        b'<?xml version="1.0"?>\n<!DOCTYPE gpx SYSTEM "file:///etc/passwd">\n'
        + gpx(track(point("2024-03-02T07:00:00Z")), head=""),
    ],
    ids=[
        "tpx-v1", "tpx-v2-speed", "bom-and-whitespace", "plain", "no-namespace", "no-declaration",
        "comment-and-pi-before-root", "segments", "second-ele", "empty-fields", "extensions",
        "gpx-1.0", "no-version", "waypoints-route-metadata", "external-dtd",
    ],
)  # fmt: skip
def test_hand_made_documents_read_as_gpxpy_reads_them(data: bytes) -> None:
    assert isinstance(assert_same_outcome(data), ParsedFile)


def test_tracks_join_within_an_hour_of_the_same_type() -> None:
    def two_points(start: str, end: str, kind: str | None = None) -> str:
        return track(point(start), point(end, lat=45.0009), kind=kind)

    data = gpx(
        two_points("2024-03-02T07:00:00Z", "2024-03-02T07:20:00Z")
        + two_points("2024-03-02T07:50:00Z", "2024-03-02T08:10:00Z")  # 30 min later: joined
        + two_points("2024-03-02T08:20:00Z", "2024-03-02T08:30:00Z", kind="cycling")  # new type
        + track(point(None))  # no times: skipped, and said so
        + two_points("2024-03-03T07:00:00Z", "2024-03-03T07:20:00Z")  # next day: a new outing
    )
    parsed = assert_same_outcome(data)
    assert isinstance(parsed, ParsedFile)
    assert [a.samples.height for a in parsed.activities] == [4, 2, 2]
    assert [a.meta["sport"] for a in parsed.activities][1] == "cycling"
    # By hand: 0, 20, 50 and 70 minutes after the first point.
    assert parsed.activities[0].samples["elapsed_s"].to_list() == [0.0, 1200.0, 3000.0, 4200.0]
    assert parsed.warnings == ["1 track(s) without times skipped"]


def test_a_track_whose_points_share_one_instant_is_skipped_by_both_readers() -> None:
    # gpxpy's Mojstrovka.gpx: every point at 1901-12-13T20:45:52 (the signed 32-bit epoch minimum),
    # with 7 fraction digits but one with 3 (343 us apart): one instant, no time axis.
    frozen = track(
        point("1901-12-13T20:45:52.2073430Z"),
        point("1901-12-13T20:45:52.207Z", lat=45.0009),
        point("1901-12-13T20:45:52.2073430Z", lat=45.0018),
    )
    error = assert_same_outcome(gpx(frozen))
    assert isinstance(error, NotAnActivity)
    assert error.reason_code == "not_an_activity"
    assert "same time" in error.message
    # Beside a timed track it is skipped alone, and said so; one second apart is a time axis.
    timed = track(point("2024-03-02T07:00:00Z"), point("2024-03-02T07:00:01Z", lat=45.0009))
    parsed = assert_same_outcome(gpx(frozen + timed))
    assert isinstance(parsed, ParsedFile)
    assert [a.samples.height for a in parsed.activities] == [2]
    assert parsed.warnings == ["1 track(s) whose points all carry one time skipped"]


@pytest.mark.parametrize(
    "data",
    [
        ROUTE_GPX,
        gpx('<wpt lat="45.0" lon="7.0"><name>home</name></wpt>'),
        gpx(track(point(None), point(None))),
        gpx(track(point(None)) + '<rte><rtept lat="1" lon="2"/></rte>'),
        gpx(""),
        gpx("<trk><trkseg/></trk>"),
        b"\xef\xbb\xbf" + gpx('<wpt lat="45.0" lon="7.0"/>', root='creator="x"'),
    ],
    ids=["route", "waypoint", "untimed-track", "untimed-and-route", "empty", "empty-track", "bom-no-version"],
)  # fmt: skip
def test_documents_without_a_workout_give_the_same_reason(data: bytes) -> None:
    error = assert_same_outcome(data)
    assert isinstance(error, NotAnActivity)
    assert error.reason_code == "not_an_activity"


ODD_TIMES = [
    "2024-03-02T07:00:00Z",
    "2024-03-02T07:00:00.123456Z",
    "2024-03-02T07:00:00.1234567Z",  # gpxpy keeps six digits, truncated
    "2024-03-02T07:00:00",  # naive: read as UTC
    "2024-03-02 07:00:00Z",
    "2024-03-02T09:00:00+02:00",
    "2024-03-02T01:30:00-0530",
    "2024-03-02T09:00:00+02",
    "2024-03-02T06:00:00\u221201:00",  # Unicode minus
    "2024-3-2T7:0:0Z",
    "2024-03-02T07:00:00Z\n",  # Python's $ matches before a final newline
    " 2024-03-02T07:00:00Z",  # leading space: gpxpy reads no time
    "2024-02-30T07:00:00Z",  # no such day
    "2024-03-02T24:00:00Z",
    "2024-03-02T07:00:60Z",
    "0000-03-02T07:00:00Z",
    "1850-03-02T07:00:00Z",
    "2024-03-02T07:00:0012",  # gpxpy's sign class is a range: '0' + '12' reads as +01:00
    "2024-03-02",
    "yesterday",
]


def test_odd_time_texts_read_as_gpxpy_reads_them() -> None:
    points = [point(text, lat=45.0 + i / 1e4) for i, text in enumerate(ODD_TIMES)]
    assert isinstance(assert_same_outcome(gpx(track(*points))), ParsedFile)


def test_times_worked_out_by_hand() -> None:
    utc = dt.UTC
    assert parse_times(
        ["2024-03-02T09:00:00+02:00", "2024-03-02T01:30:00-0530", "2024-03-02T07:00:00.1234567Z"]
    ).to_list() == [
        dt.datetime(2024, 3, 2, 7, 0, tzinfo=utc),
        dt.datetime(2024, 3, 2, 7, 0, tzinfo=utc),
        dt.datetime(2024, 3, 2, 7, 0, 0, 123456, tzinfo=utc),
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.from_regex(
            r"\A[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}[T ][0-9]{1,2}:[0-9]{2}:[0-9]{2}"
            r"(\.[0-9]{1,9})?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?\Z"
        )
        | st.text(max_size=12)
        | st.none(),
        max_size=8,
    )
)
def test_parse_times_matches_gpxpy_on_any_text(texts: list[str | None]) -> None:
    def gpxpy_utc(text: str | None) -> dt.datetime | None:
        try:
            when = parse_time(text or "")
        except Exception:  # gpxpy's TimeConverter turns any failure into None
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            return when.replace(tzinfo=dt.UTC)
        return when.astimezone(dt.UTC)

    try:
        expected = [gpxpy_utc(text) for text in texts]
    except (ValueError, OverflowError):  # an offset of a day or more: the stream refuses
        with pytest.raises(StreamRefused):
            parse_times(texts)
        return
    assert parse_times(texts).to_list() == expected


# -- hostile and broken XML ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        XXE_GPX,
        XXE_PARAMETER_ENTITY,
        BILLION_LAUGHS,
        XXE_GPX.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="ISO-8859-1"?>'),
    ],
    ids=["xxe", "xxe-parameter-entity", "billion-laughs", "xxe-latin-1"],
)
def test_entity_attacks_are_refused_by_the_stream_itself(data: bytes) -> None:
    with pytest.raises(UnsafeInput) as caught:
        read_gpx_fast(data)
    assert caught.value.reason_code == "xml_entities"
    assert "root:" not in exception_texts(caught.value)
    assert_same_outcome(data)


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><gpx version="1.1"><trk><trkseg></trk></gpx>',
        b"<gpx version='1.1'><trk>",
        gpx(track(point("2024-03-02T07:00:00Z")))[:-30],
        gpx(track(point("2024-03-02T07:00:00Z"))) + b"<gpx/>",
        gpx(track(point("2024-03-02T07:00:00Z")).replace("<name>t", "<name>&nbsp;")),
        b"<gpx version='1.1'><trk><name>caf\xe9</name></trk></gpx>",  # Latin-1 byte, no declaration
    ],
    ids=["mismatched-tag", "cut-short", "cut-short-long", "junk-after-root", "undefined-entity", "not-utf8"],
)  # fmt: skip
def test_malformed_xml_gives_the_same_error(data: bytes) -> None:
    error = assert_same_outcome(data)
    assert isinstance(error, CorruptFile)
    assert error.reason_code == "gpx_malformed"


# -- what the stream hands to gpxpy, and why ----------------------------------------------------

FALLBACKS: list[tuple[str, bytes, str]] = [
    ("not-a-number", gpx(track(point("2024-03-02T07:00:00Z", lat=45.0).replace('"45.0"', '"north"'))),
     "invalid_field"),
    ("no-lon", gpx(track('<trkpt lat="45.0"><time>2024-03-02T07:00:00Z</time></trkpt>')),
     "invalid_field"),
    ("bad-ele", gpx(track(point("2024-03-02T07:00:00Z").replace("201.5", "high"))), "invalid_field"),
    ("bad-fix", gpx(track(point("2024-03-02T07:00:00Z", extra="<fix>4d</fix>"))), "invalid_field"),
    ("bad-sat", gpx(track(point("2024-03-02T07:00:00Z", extra="<sat>7.5</sat>"))), "invalid_field"),
    ("bad-track-number", gpx(track(point("2024-03-02T07:00:00Z")).replace("<name>", "<number>x</number><name>")),
     "invalid_field"),
    ("bad-waypoint", gpx('<wpt lat="x" lon="7"/>' + track(point("2024-03-02T07:00:00Z"))), "invalid_field"),
    ("latin-1", gpx(track(point("2024-03-02T07:00:00Z")).replace("<name>t", "<name>caf\xe9"),
                    head='<?xml version="1.0" encoding="ISO-8859-1"?>').replace(b"\xc3\xa9", b"\xe9"),
     "not_utf8"),
    ("prefixed-root", b'<g:gpx version="1.1" xmlns:g="http://www.topografix.com/GPX/1/1">'
     b"<g:trk><g:trkseg>" + point("2024-03-02T07:00:00Z").encode() + b"</g:trkseg></g:trk></g:gpx>",
     "not_gpx"),
    ("xmlns-in-comment", gpx(track(point("2024-03-02T07:00:00Z")), head='<!-- xmlns="x" -->'),
     "namespace"),
    ("default-namespace-inside", gpx(track(point("2024-03-02T07:00:00Z")).replace(
        "<trk>", '<trk xmlns="http://www.topografix.com/GPX/1/0">')), "namespace"),
    ("prefix-on-gpx-namespace", gpx(track(point("2024-03-02T07:00:00Z")),
                                    root=f'{GPX11} xmlns:g="http://www.topografix.com/GPX/1/1"'),
     "namespace"),
    ("point-outside-segment", gpx(track(point("2024-03-02T07:00:00Z")).replace(
        "</trkseg>", "</trkseg>" + point("2024-03-02T07:00:01Z"))), "structure"),
    ("point-in-segment-extensions", gpx(track(point("2024-03-02T07:00:00Z")).replace(
        "<trkseg>", f"<trkseg><extensions>{point('2024-03-02T07:00:01Z')}</extensions>")), "structure"),
    ("segment-outside-track", gpx(track(point("2024-03-02T07:00:00Z"))
                                  + f"<trkseg>{point('2024-03-02T07:00:01Z')}</trkseg>"), "structure"),
    ("internal-subset", b'<?xml version="1.0"?><!DOCTYPE gpx [<!ELEMENT gpx ANY>]>'
     + gpx(track(point("2024-03-02T07:00:00Z")), head=""), "prolog"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "reason"),
    [pytest.param(data, reason, id=name) for name, data, reason in FALLBACKS],
)
def test_documents_the_stream_cannot_vouch_for_go_to_gpxpy(data: bytes, reason: str) -> None:
    assert refusal(data) == reason
    reference = outcome(read_gpx, data)
    auto = outcome(read_gpx_auto, data)
    if isinstance(reference, IngestError):
        assert isinstance(auto, IngestError)
        assert (type(auto), auto.reason_code, auto.detail) == (
            type(reference),
            reference.reason_code,
            reference.detail,
        )
    else:
        assert isinstance(auto, ParsedFile)
        assert auto.decoder == "gpxpy"
        assert auto.warnings[0].startswith(f"streaming reader refused: {REFUSAL_REASONS[reason]}")
        assert auto.warnings[1:] == reference.warnings


def test_a_time_offset_of_a_day_is_a_corrupt_file() -> None:
    """Regression: an offset of 24 h or more made gpxpy raise a bare ValueError out of read_gpx."""
    data = gpx(track(point("2024-03-02T07:00:00+99:00")))
    assert refusal(data) == "time_offset"
    for reader in (read_gpx, read_gpx_auto):
        with pytest.raises(CorruptFile) as caught:
            reader(data)
        assert caught.value.reason_code == "gpx_invalid"


def test_auto_reader_uses_the_stream_when_it_can() -> None:
    parsed = read_gpx_auto(gpx_with_tpx(TPX_V2, prefix="ns3", speed=True))
    assert parsed.decoder == DECODER_NAME
    assert parsed.warnings == []

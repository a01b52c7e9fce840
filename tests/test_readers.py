"""GPX/TCX readers and the format dispatcher on small documents written here by hand.

Expected values are read off the documents themselves; distances are worked out by hand: 0.0009
degrees of latitude along a meridian is 0.0009 * pi / 180 * 6 371 km = 100.08 m.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import random
import zipfile

import pytest

from ingest.detect import detect_format, read_activity_file
from ingest.gpx import read_gpx
from ingest.parse import parse_file
from ingest.tcx import read_tcx
from schemas.errors import CorruptFile, IngestError, NotAnActivity, UnsafeInput, UnsupportedFormat

T0 = dt.datetime(2024, 3, 2, 7, 0, 0, tzinfo=dt.UTC)
METRES_PER_0_0009_DEG_LAT = 100.08

TPX_V1 = "http://www.garmin.com/xmlschemas/TrackPointExtension/v1"
TPX_V2 = "http://www.garmin.com/xmlschemas/TrackPointExtension/v2"


def gpx_with_tpx(namespace: str, *, prefix: str, speed: bool) -> bytes:
    """Two points 10 s and 0.0009 deg of latitude apart, HR/cadence/temperature in a TPX extension."""
    points = []
    for i, (lat, hr, cad) in enumerate(((45.0, 140, 85), (45.0009, 142, 86))):
        speed_element = f"<{prefix}:speed>{3.5 + i}</{prefix}:speed>" if speed else ""
        points.append(
            f'<trkpt lat="{lat}" lon="7.0"><ele>{200 + i}.5</ele>'
            f"<time>2024-03-02T07:00:{10 * i:02d}Z</time>"
            f"<extensions><{prefix}:TrackPointExtension>"
            f"<{prefix}:atemp>12.5</{prefix}:atemp><{prefix}:hr>{hr}</{prefix}:hr>"
            f"<{prefix}:cad>{cad}</{prefix}:cad>{speed_element}"
            f"</{prefix}:TrackPointExtension></extensions></trkpt>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<gpx version="1.1" creator="hand" xmlns="http://www.topografix.com/GPX/1/1" '
        f'xmlns:{prefix}="{namespace}">'
        f"<trk><name>Morning run</name><type>running</type><trkseg>{''.join(points)}</trkseg></trk></gpx>"
    ).encode()


ROUTE_GPX = (
    b'<?xml version="1.0"?><gpx version="1.1" creator="hand" xmlns="http://www.topografix.com/GPX/1/1">'
    b'<rte><name>Planned</name><rtept lat="45.0" lon="7.0"/><rtept lat="45.001" lon="7.0"/></rte></gpx>'
)

TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
AX_NS = "http://www.garmin.com/xmlschemas/ActivityExtension/v2"


def trackpoint(seconds: int, *, distance: float, hr: int, extra: str = "") -> str:
    when = (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"<Trackpoint><Time>{when}</Time><DistanceMeters>{distance}</DistanceMeters>"
        f"<HeartRateBpm><Value>{hr}</Value></HeartRateBpm>{extra}</Trackpoint>"
    )


def tcx_activity(sport: str, start_s: int, points: list[str]) -> str:
    start = (T0 + dt.timedelta(seconds=start_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'<Activity Sport="{sport}"><Id>{start}</Id><Lap StartTime="{start}">'
        f"<TotalTimeSeconds>20</TotalTimeSeconds><DistanceMeters>60</DistanceMeters>"
        f"<Track>{''.join(points)}</Track></Lap></Activity>"
    )


MULTISPORT_TCX = (
    f'<?xml version="1.0" encoding="UTF-8"?><TrainingCenterDatabase xmlns="{TCX_NS}" xmlns:ns3="{AX_NS}">'
    "<Activities><MultiSportSession><Id>2024-03-02T07:00:00Z</Id><FirstSport>"
    + tcx_activity(
        "Running",
        0,
        [
            trackpoint(
                0,
                distance=0.0,
                hr=120,
                extra="<Extensions><ns3:TPX><ns3:Speed>2.9</ns3:Speed>"
                "<ns3:RunCadence>80</ns3:RunCadence></ns3:TPX></Extensions>",
            ),
            trackpoint(10, distance=30.0, hr=125),
            trackpoint(20, distance=60.0, hr=130),
        ],
    )
    + "</FirstSport><NextSport>"
    + tcx_activity(
        "Biking",
        100,
        [trackpoint(100, distance=0.0, hr=110), trackpoint(110, distance=80.0, hr=115)],
    )
    + "</NextSport></MultiSportSession></Activities></TrainingCenterDatabase>"
).encode()


# -- GPX ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("namespace", "prefix", "speed"),
    [(TPX_V1, "gpxtpx", False), (TPX_V2, "ns3", True)],
    ids=["TrackPointExtension-v1", "TrackPointExtension-v2"],
)
def test_gpx_trackpoint_extensions(namespace: str, prefix: str, speed: bool) -> None:
    parsed = read_gpx(gpx_with_tpx(namespace, prefix=prefix, speed=speed))
    assert parsed.source_format == "gpx"
    [activity] = parsed.activities
    assert activity.meta["sport"] == "running"
    samples = activity.samples
    assert samples["timestamp"].to_list() == [T0, T0 + dt.timedelta(seconds=10)]
    assert samples["elapsed_s"].to_list() == [0.0, 10.0]
    assert samples["hr_bpm"].to_list() == [140, 142]
    assert samples["cadence_rpm"].to_list() == [85.0, 86.0]
    assert samples["temperature_c"].to_list() == [12.5, 12.5]
    assert samples["altitude_m"].to_list() == [200.5, 201.5]
    assert samples["lat_deg"].to_list() == [45.0, 45.0009]
    assert samples["distance_m"][0] == 0.0
    assert samples["distance_m"][1] == pytest.approx(METRES_PER_0_0009_DEG_LAT, abs=0.05)
    if speed:  # the device's own speed wins over the derived one
        assert samples["speed_mps"].to_list() == [3.5, 4.5]
    else:  # derived: 100.08 m in 10 s; nothing before the first point
        assert samples["speed_mps"][0] is None
        assert samples["speed_mps"][1] == pytest.approx(METRES_PER_0_0009_DEG_LAT / 10, abs=0.005)


def test_gpx_with_bom_and_leading_whitespace() -> None:
    data = b"\xef\xbb\xbf \r\n\t " + gpx_with_tpx(TPX_V1, prefix="gpxtpx", speed=False)
    assert detect_format(data) == "gpx"
    parsed = read_activity_file(data, "gpx")
    assert parsed.activities[0].samples["hr_bpm"].to_list() == [140, 142]


def test_gpx_route_only_is_not_an_activity() -> None:
    with pytest.raises(NotAnActivity) as caught:
        read_gpx(ROUTE_GPX)
    assert caught.value.reason_code == "not_an_activity"
    assert caught.value.message


def test_gpx_tracks_within_an_hour_are_one_outing_and_a_day_apart_are_two() -> None:
    def track(start: str, end: str) -> str:
        return (
            "<trk><trkseg>"
            f'<trkpt lat="45.0" lon="7.0"><time>{start}</time></trkpt>'
            f'<trkpt lat="45.0009" lon="7.0"><time>{end}</time></trkpt>'
            "</trkseg></trk>"
        )

    data = (
        '<gpx version="1.1" creator="hand" xmlns="http://www.topografix.com/GPX/1/1">'
        + track("2024-03-02T07:00:00Z", "2024-03-02T07:20:00Z")
        + track("2024-03-02T07:50:00Z", "2024-03-02T08:10:00Z")  # 30 min later: same outing
        + track("2024-03-03T07:00:00Z", "2024-03-03T07:20:00Z")  # next day: a new one
        + "</gpx>"
    ).encode()
    parsed = read_gpx(data)
    assert [a.samples.height for a in parsed.activities] == [4, 2]
    assert parsed.activities[0].samples["elapsed_s"].to_list() == [0.0, 1200.0, 3000.0, 4200.0]


# -- TCX ---------------------------------------------------------------------------------------------


def test_multisport_tcx_gives_one_activity_per_sport() -> None:
    parsed = read_tcx(MULTISPORT_TCX)
    assert parsed.source_format == "tcx"
    assert [a.meta["sport"] for a in parsed.activities] == ["running", "cycling"]
    run, ride = parsed.activities
    assert run.samples["hr_bpm"].to_list() == [120, 125, 130]
    assert run.samples["distance_m"].to_list() == [0.0, 30.0, 60.0]
    assert run.samples["elapsed_s"].to_list() == [0.0, 10.0, 20.0]
    # The first point's TPX speed wins; the others are derived from distance: 30 m / 10 s.
    assert run.samples["speed_mps"].to_list() == [2.9, 3.0, 3.0]
    assert run.samples["cadence_rpm"].to_list() == [80.0, None, None]
    assert ride.samples["timestamp"].to_list() == [T0 + dt.timedelta(seconds=s) for s in (100, 110)]
    assert ride.samples["speed_mps"].to_list() == [None, 8.0]
    assert run.laps.height == ride.laps.height == 1
    assert run.laps["timer_s"].to_list() == [20.0]
    assert run.laps["distance_m"].to_list() == [60.0]


def test_tcx_detected_with_bom_and_whitespace() -> None:
    data = b"\xef\xbb\xbf\n\n   " + MULTISPORT_TCX
    assert detect_format(data) == "tcx"
    assert len(read_activity_file(data, "tcx").activities) == 2


# -- hostile and broken XML --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b'<?xml version="1.0"?><gpx version="1.1"><trk><trkseg></trk></gpx>', "gpx_malformed"),
        (b"<gpx version='1.1'><trk>", "gpx_malformed"),
        (MULTISPORT_TCX[:-40], "tcx_malformed"),
    ],
    ids=["gpx-mismatched-tag", "gpx-cut-short", "tcx-cut-short"],
)
def test_malformed_xml_is_corrupt(data: bytes, code: str) -> None:
    fmt = detect_format(data)
    with pytest.raises(CorruptFile) as caught:
        read_activity_file(data, fmt)
    assert caught.value.reason_code == code
    assert caught.value.message


XXE_GPX = (
    b'<?xml version="1.0"?>\n<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<gpx version="1.1" creator="&xxe;" xmlns="http://www.topografix.com/GPX/1/1">'
    b'<trk><name>&xxe;</name><trkseg><trkpt lat="45.0" lon="7.0"><time>2024-03-02T07:00:00Z</time>'
    b"</trkpt></trkseg></trk></gpx>"
)
XXE_TCX = (
    b'<?xml version="1.0"?>\n<!DOCTYPE TrainingCenterDatabase [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
    b'<Activities><Activity Sport="Running"><Id>&xxe;</Id></Activity></Activities></TrainingCenterDatabase>'
)
XXE_PARAMETER_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE gpx [<!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote;]>\n'
    b'<gpx version="1.1" creator="x" xmlns="http://www.topografix.com/GPX/1/1"></gpx>'
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE gpx [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "' % i + (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10 + b'">\n'
        for i in range(1, 10)
    )
    + b']>\n<gpx version="1.1" creator="&lol9;" xmlns="http://www.topografix.com/GPX/1/1"></gpx>'
)


def exception_texts(error: BaseException) -> str:
    texts = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current), *(str(a) for a in current.args)]
        if isinstance(current, IngestError):
            texts += [current.message, current.detail, repr(current.evidence)]
        current = current.__cause__ or current.__context__
    return "\n".join(texts)


@pytest.mark.parametrize(
    "data",
    [XXE_GPX, XXE_TCX, XXE_PARAMETER_ENTITY, BILLION_LAUGHS],
    ids=["xxe-gpx", "xxe-tcx", "xxe-parameter-entity", "billion-laughs"],
)
def test_entity_attacks_are_refused_without_leaking(data: bytes) -> None:
    fmt = detect_format(data)
    assert fmt in ("gpx", "tcx")
    with pytest.raises(UnsafeInput) as caught:
        read_activity_file(data, fmt)
    assert caught.value.reason_code == "xml_entities"
    assert "root:" not in exception_texts(caught.value)
    # The same through the pipeline: quarantined, and nothing of /etc/passwd in what is recorded.
    result = parse_file(data, client_id="c")
    assert (result.outcome, result.reason_code) == ("quarantined", "xml_entities")
    assert (
        "root:" not in f"{result.reason_message}{result.detail}{result.evidence}{result.warnings}"
    )


# -- detect_format -----------------------------------------------------------------------------------


def fit_header(size: int) -> bytes:
    """A FIT file header: size byte, protocol, profile (2), data size (4), '.FIT' (+ CRC if 14)."""
    header = (
        bytes([size, 0x10]) + (2093).to_bytes(2, "little") + (0).to_bytes(4, "little") + b".FIT"
    )
    return header + (b"\x00\x00" if size == 14 else b"")


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.gpx", ROUTE_GPX)
    return buffer.getvalue()


def empty_zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (fit_header(14) + b"\x40\x00", "fit"),
        (fit_header(12), "fit"),
        (gzip.compress(b"anything"), "gzip"),
        (zip_bytes(), "zip"),
        (empty_zip_bytes(), "zip"),
        (ROUTE_GPX, "gpx"),
        (b'<?xml version="1.0"?><g:gpx xmlns:g="http://www.topografix.com/GPX/1/1"/>', "gpx"),
        (MULTISPORT_TCX, "tcx"),
        (b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"/>', "xml"),
    ],
    ids=["fit-14", "fit-12", "gzip", "zip", "empty-zip", "gpx", "gpx-prefixed", "tcx", "other-xml"],
)
def test_detect_format_by_magic(data: bytes, fmt: str) -> None:
    assert detect_format(data) == fmt


def test_detect_format_ignores_a_misleading_start() -> None:
    # ".FIT" at the wrong offset, or a header size FIT never uses, is not a FIT file.
    with pytest.raises(UnsupportedFormat):
        detect_format(b".FIT" + bytes(20))
    with pytest.raises(UnsupportedFormat):
        detect_format(bytes([13]) + fit_header(14)[1:])


def test_empty_bytes_are_refused() -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        detect_format(b"")
    assert caught.value.reason_code == "empty_file"
    assert caught.value.message


@pytest.mark.parametrize(
    "data",
    [
        bytes([0x00, 0xFF]) + random.Random(7).randbytes(510),
        b"hello, this is a text file\n",
        b"client_code,sex\nA01,f\n",
    ],
    ids=["random-bytes", "text", "csv"],
)
def test_unknown_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat) as caught:
        detect_format(data)
    assert caught.value.reason_code == "unknown_format"
    assert caught.value.message


def test_other_xml_is_not_read() -> None:
    data = b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"/>'
    with pytest.raises(UnsupportedFormat) as caught:
        read_activity_file(data, detect_format(data))
    assert caught.value.reason_code == "unknown_format"


def test_external_dtd_is_never_fetched() -> None:
    """A DOCTYPE naming an external DTD is harmless as long as it is never loaded (it is not)."""
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE gpx SYSTEM "file:///etc/passwd">\n'
        b'<gpx version="1.1" creator="hand" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
        b'<trkpt lat="45.0" lon="7.0"><time>2024-03-02T07:00:00Z</time></trkpt></trkseg></trk></gpx>'
    )
    parsed = read_activity_file(data, detect_format(data))
    assert parsed.device == "hand"
    assert parsed.activities[0].samples.height == 1
    assert "root:" not in repr(parsed)

"""gzip and zip expansion: normal nesting, and every hostile archive refused with its reason code.

Archives are built here with ``zipfile``/``gzip``; the workout inside is a corpus FIT file when the
corpus is present, else a tiny GPX written here. Bombs use small :class:`ArchiveLimits` (or a
compression ratio no real export reaches) rather than hundreds of MiB of zeros.
"""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from ingest.archive import ArchiveLimits, gunzip, iter_zip
from ingest.parse import parse_file
from schemas.errors import CorruptFile, UnsafeInput
from tests.conftest import CORPUS_FILES, corpus_present

MIB = 1 << 20

TINY_GPX = (
    b'<?xml version="1.0"?><gpx version="1.1" creator="hand" xmlns="http://www.topografix.com/GPX/1/1">'
    b"<trk><type>running</type><trkseg>"
    b'<trkpt lat="45.0" lon="7.0"><time>2024-03-02T07:00:00Z</time></trkpt>'
    b'<trkpt lat="45.0009" lon="7.0"><time>2024-03-02T07:00:30Z</time></trkpt>'
    b"</trkseg></trk></gpx>"
)


def workout() -> tuple[str, bytes, str]:
    """(name, bytes, format) of one single-activity file."""
    if corpus_present():
        # fenix 5 run: one session (catalog), 21 records.
        return "run.fit", (CORPUS_FILES / "fitparse__garmin-fenix-5-run.fit").read_bytes(), "fit"
    return "run.gpx", TINY_GPX, "gpx"


def make_zip(members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def nested_zip(levels: int, inner: tuple[str, bytes]) -> bytes:
    """``levels`` zips, each holding the next, the innermost holding ``inner``."""
    name, data = inner
    for level in range(levels, 0, -1):
        data = make_zip([(name, data)])
        name = f"level{level}.zip"
    return data


# -- normal containers ------------------------------------------------------------------------------


def test_nested_zip_members_are_ingested() -> None:
    name, data, fmt = workout()
    outer = make_zip(
        [
            (
                "export/inner.zip",
                make_zip([(name, data), ("__MACOSX/._" + name, b"\x00\x05\x16\x07")]),
            ),
            ("export/", b""),
        ]
    )
    result = parse_file(outer, client_id="c")
    assert (result.detected_format, result.outcome, result.reason_code) == ("zip", "ingested", None)
    [inner] = result.members  # the directory entry is not a member
    assert (inner.member_name, inner.detected_format, inner.outcome) == (
        "export/inner.zip",
        "zip",
        "ingested",
    )
    [leaf] = inner.members  # __MACOSX/ is skipped
    assert (leaf.member_name, leaf.detected_format, leaf.outcome) == (name, fmt, "ingested")
    assert leaf.container_sha256 == inner.sha256
    assert inner.container_sha256 == result.sha256
    assert leaf.activities.height == 1


def test_gzip_member_is_ingested_and_concatenated_gzip_is_whole() -> None:
    _, data, fmt = workout()
    result = parse_file(gzip.compress(data), client_id="c")
    assert (result.detected_format, result.outcome) == ("gzip", "ingested")
    [leaf] = result.members
    assert (leaf.detected_format, leaf.outcome) == (fmt, "ingested")
    half = len(data) // 2
    assert gunzip(gzip.compress(data[:half]) + gzip.compress(data[half:]), ArchiveLimits()) == data


def test_iter_zip_yields_names_and_bytes() -> None:
    members = list(
        iter_zip(make_zip([("a/b.gpx", TINY_GPX), ("c.txt", b"hello")]), ArchiveLimits())
    )
    assert [(m.name, m.data) for m in members] == [("a/b.gpx", TINY_GPX), ("c.txt", b"hello")]


def test_strava_bulk_export_metadata_files_are_not_refused() -> None:
    _, data, _ = workout()
    export = make_zip(
        [
            (
                "activities.csv",
                b"Activity ID,Activity Date,Activity Name,Activity Type,Filename\n"
                b'1,"Mar 2, 2024",Run,Run,activities/1.fit.gz\n',
            ),
            ("profile.csv", b"Athlete ID,Email Address\n1,someone@example.org\n"),
            ("activities/1.fit.gz", gzip.compress(data)),
        ]
    )
    result = parse_file(export, client_id="c")
    assert result.outcome == "ingested"
    assert [m.outcome for m in result.walk() if m.outcome == "quarantined"] == []
    assert result.reason_code is None


# -- hostile zips ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "member",
    ["../evil.fit", "a/../../evil.fit", "/abs/evil.fit", "C:/evil.fit", "..\\evil.fit"],
)
def test_member_paths_outside_the_archive_are_refused(member: str) -> None:
    data = make_zip([("ok.gpx", TINY_GPX), (member, TINY_GPX)])
    with pytest.raises(UnsafeInput) as caught:
        list(iter_zip(data, ArchiveLimits()))
    assert caught.value.reason_code == "archive_unsafe_path"
    result = parse_file(data, client_id="c")
    assert (result.outcome, result.reason_code) == ("quarantined", "archive_unsafe_path")
    assert result.members == []  # nothing was taken out, not even the harmless member


def test_symlink_member_is_refused() -> None:
    link = zipfile.ZipInfo("run.fit")
    link.external_attr = 0o120777 << 16
    data = make_zip([(link, b"/etc/passwd")])
    with pytest.raises(UnsafeInput) as caught:
        list(iter_zip(data, ArchiveLimits()))
    assert caught.value.reason_code == "archive_symlink"


def test_duplicate_names_are_refused() -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = make_zip([("run.gpx", TINY_GPX), ("run.gpx", b"<gpx/>")])
    with pytest.raises(UnsafeInput) as caught:
        list(iter_zip(data, ArchiveLimits()))
    assert caught.value.reason_code == "archive_duplicate_names"


def encrypted(data: bytes) -> bytes:
    """Set the 'encrypted' general-purpose flag (bit 0) in the local and central headers."""
    patched = bytearray(data)
    local = patched.index(b"PK\x03\x04")
    central = patched.index(b"PK\x01\x02")
    patched[local + 6] |= 0x01
    patched[central + 8] |= 0x01
    return bytes(patched)


def test_encrypted_member_is_refused() -> None:
    data = encrypted(make_zip([("run.gpx", TINY_GPX)]))
    assert zipfile.ZipFile(io.BytesIO(data)).infolist()[0].flag_bits & 0x01
    with pytest.raises(UnsafeInput) as caught:
        list(iter_zip(data, ArchiveLimits()))
    assert caught.value.reason_code == "archive_encrypted"
    assert parse_file(data, client_id="c").reason_code == "archive_encrypted"


def test_zip_bomb_over_the_member_limit_is_refused() -> None:
    data = make_zip([("zeros.fit", bytes(2 * MIB))])
    with pytest.raises(UnsafeInput) as caught:
        list(iter_zip(data, ArchiveLimits(max_member_bytes=MIB, max_ratio=1e9)))
    assert caught.value.reason_code == "archive_too_large"


def test_zip_bomb_over_the_compression_ratio_is_refused_with_default_limits() -> None:
    # 4 MiB of zeros deflate to about 4 KiB: a ratio of ~1000, far above any real export.
    data = make_zip([("zeros.fit", bytes(4 * MIB))])
    with pytest.raises(UnsafeInput) as caught:
        list(iter_zip(data, ArchiveLimits()))
    assert caught.value.reason_code == "archive_too_large"
    result = parse_file(data, client_id="c")
    assert (result.outcome, result.reason_code) == ("quarantined", "archive_too_large")


def test_zip_over_the_total_limit_is_refused() -> None:
    chunk = bytes(range(256)) * 2048  # 512 KiB that barely compresses: no ratio alarm
    data = make_zip([(f"part{i}.bin", chunk) for i in range(3)])
    with pytest.raises(UnsafeInput) as caught:
        list(iter_zip(data, ArchiveLimits(max_total_bytes=MIB)))
    assert caught.value.reason_code == "archive_too_large"


def test_zip_with_too_many_members_is_refused() -> None:
    data = make_zip([(f"{i}.gpx", TINY_GPX) for i in range(3)])
    with pytest.raises(UnsafeInput) as caught:
        list(iter_zip(data, ArchiveLimits(max_members=2)))
    assert caught.value.reason_code == "archive_too_large"


def test_gzip_bomb_is_refused() -> None:
    data = gzip.compress(bytes(2 * MIB))
    with pytest.raises(UnsafeInput) as caught:
        gunzip(data, ArchiveLimits(max_member_bytes=MIB, max_ratio=1e9))
    assert caught.value.reason_code == "archive_too_large"
    with pytest.raises(UnsafeInput) as caught:  # ratio ~1000 with the default limits
        gunzip(gzip.compress(bytes(4 * MIB)), ArchiveLimits())
    assert caught.value.reason_code == "archive_too_large"
    result = parse_file(data, client_id="c", limits=ArchiveLimits(max_member_bytes=MIB))
    assert (result.outcome, result.reason_code) == ("quarantined", "archive_too_large")


def test_nesting_up_to_max_depth_is_read_and_deeper_is_refused() -> None:
    name, data, _ = workout()
    limits = ArchiveLimits(max_depth=3)
    # 3 containers: the outer one at depth 0, the innermost at depth 2; the workout at depth 3.
    ok = parse_file(nested_zip(3, (name, data)), client_id="c", limits=limits)
    assert (ok.outcome, ok.reason_code) == ("ingested", None)
    assert [m.outcome for m in ok.walk()] == ["ingested"] * 4
    deep = parse_file(nested_zip(4, (name, data)), client_id="c", limits=limits)
    assert (deep.outcome, deep.reason_code) == ("quarantined", "archive_too_deep")
    assert all(m.activities is None for m in deep.walk())
    # gzip counts as a level too: a .fit.gz inside 3 zips is one level too deep.
    gz_deep = parse_file(
        nested_zip(3, ("run.fit.gz", gzip.compress(data))), client_id="c", limits=limits
    )
    assert gz_deep.reason_code == "archive_too_deep"


# -- damaged containers ------------------------------------------------------------------------------


def test_truncated_gzip_is_corrupt() -> None:
    _, data, _ = workout()
    whole = gzip.compress(data)
    for cut in (whole[: len(whole) // 2], whole[:-4], whole[:12]):
        with pytest.raises(CorruptFile) as caught:
            gunzip(cut, ArchiveLimits())
        assert caught.value.reason_code == "gzip_corrupt"
    result = parse_file(whole[: len(whole) // 2], client_id="c")
    assert (result.detected_format, result.outcome, result.reason_code) == (
        "gzip",
        "quarantined",
        "gzip_corrupt",
    )


def test_damaged_gzip_is_corrupt() -> None:
    whole = bytearray(gzip.compress(TINY_GPX * 20))
    whole[20:40] = b"\xff" * 20
    with pytest.raises(CorruptFile) as caught:
        gunzip(bytes(whole), ArchiveLimits())
    assert caught.value.reason_code == "gzip_corrupt"


def test_damaged_zip_is_corrupt() -> None:
    data = make_zip([("run.gpx", TINY_GPX * 20)])
    with pytest.raises(CorruptFile) as caught:
        list(iter_zip(data[: len(data) // 2], ArchiveLimits()))
    assert caught.value.reason_code == "zip_corrupt"
    result = parse_file(b"PK\x03\x04" + bytes(100), client_id="c")
    assert (result.outcome, result.reason_code) == ("quarantined", "zip_corrupt")

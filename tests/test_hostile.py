"""Hostile input: every attack file is refused with its own reason code and a plain note.

Every file is built here from scratch (synthetic FIT/GPX, hand-assembled zips). Expected reason
codes are the documented ones (schemas/errors.py, ingest/archive.py); secrets planted in the attacks
("root:" of /etc/passwd, a marker file, a URL served by a local HTTP server that counts requests)
must never reach a note, a log line, an exception or a table.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import pickle
import random
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest
from fitparse.records import Crc

from ingest.archive import ArchiveLimits
from ingest.parse import FileResult, parse_file, sha256_hex
from pipelines.isolation import IsolationLimits, isolated_runner, parse_isolated
from pipelines.run import ParseJob, run_ingest
from pipelines.settings import Settings
from synthetic.gpx_writer import TrackPoint, encode_gpx
from synthetic.run_model import simulate_run, write_run_fit
from tests.isolation_helpers import misbehaving_parse
from warehouse.store import TableStore

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
MARKER = "MARKER-7f3a-do-not-leak"
PLAIN_WORDS = re.compile(r"^[A-Z][^_<>{}\\]{20,400}[.)]$")
"""A note for staff: a sentence, no code identifiers, markup or escapes."""


# -- the attacker's tools ---------------------------------------------------------------------


class _Counter(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Counter.hits.append(self.path)
        body = f"root:x:0:0:{MARKER}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    """A local server that answers anything with a secret and counts every request."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/secret"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("victim") / "secret.txt"
    path.write_text(f"root:x:0:0:{MARKER}\n")
    return path


def _gpx() -> bytes:
    points = [
        TrackPoint(
            time=T0 + timedelta(seconds=i), lat=51.5 + i * 1e-4, lon=-0.1, ele=10.0, hr=120, cad=80
        )
        for i in range(120)
    ]
    return encode_gpx(points, name="run", activity_type="running", creator="test")


def _fit() -> bytes:
    run = simulate_run(
        T0, duration_s=90, intensity="easy", hr_rest=55, hr_max=185, home=(51.5, -0.1), seed=3
    )
    return write_run_fit(run)


def _with_doctype(document: bytes, doctype: bytes, name_value: bytes | None = None) -> bytes:
    body = document.split(b"?>", 1)[1]
    if name_value is not None:
        body = body.replace(b"<name>run</name>", b"<name>" + name_value + b"</name>", 1)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + body


def _tcx() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        b'<Activities><Activity Sport="Running"><Id>2026-03-02T07:00:00Z</Id>'
        b"<Notes>&xxe;</Notes></Activity></Activities></TrainingCenterDatabase>"
    )


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def _raw_zip(
    name: bytes,
    payload_size: int,
    *,
    claimed_compressed: int | None = None,
    claimed_size: int | None = None,
    flags: int = 0,
    chunk: bytes = b"\0",
) -> bytes:
    """One deflated member of ``payload_size`` repeated ``chunk`` bytes, with any sizes claimed."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    block = chunk * ((1 << 20) // len(chunk))
    parts, crc, left = [], 0, payload_size
    while left > 0:
        piece = block[:left]
        parts.append(compressor.compress(piece))
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    parts.append(compressor.flush())
    data = b"".join(parts)
    compressed = len(data) if claimed_compressed is None else claimed_compressed
    size = payload_size if claimed_size is None else claimed_size
    local = (
        struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, flags, 8, 0, 0x21, crc, compressed, size, len(name), 0
        )
        + name
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            flags,
            8,
            0,
            0x21,
            crc,
            compressed,
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        + name
    )
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


def _encrypted_zip(payload: bytes) -> bytes:
    """A zip whose entry has the 'encrypted' flag set (bit 0 of the general-purpose flags)."""
    data = bytearray(_zip([("run.fit", payload)]))
    struct.pack_into("<H", data, 6, struct.unpack_from("<H", data, 6)[0] | 1)
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, struct.unpack_from("<H", data, central + 8)[0] | 1)
    return bytes(data)


def _symlink_zip() -> bytes:
    info = zipfile.ZipInfo("run.fit")
    info.external_attr = 0o120777 << 16
    return _zip([(info, b"/etc/passwd")])


def _fit_claiming_huge_size(data: bytes, tail: bytes) -> bytes:
    header = bytearray(data[:14])
    struct.pack_into("<I", header, 4, 0xFFFFFFF0)
    crc = Crc()
    crc.update(bytes(header[:12]))
    struct.pack_into("<H", header, 12, crc.value)
    return bytes(header) + tail


def _nested(payload: bytes, levels: int) -> bytes:
    for level in range(levels):
        payload = _zip([(f"level{level}.zip" if level else "run.fit", payload)])
    return payload


def _gz_nested(payload: bytes, levels: int) -> bytes:
    for _ in range(levels):
        payload = gzip.compress(payload, mtime=0)
    return payload


Builder = Callable[[str, Path], bytes]

# name -> (builder(url, secret_file), expected outcome, expected reason code, file name in inbox)
CASES: dict[str, tuple[Builder, str, str, str]] = {
    "xxe_file": (
        lambda url, f: _with_doctype(
            _gpx(), b'<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"&xxe;"
        ),
        "quarantined",
        "xml_entities",
        "xxe_file.gpx",
    ),
    "xxe_marker_file": (
        lambda url, f: _with_doctype(
            _gpx(), f'<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "{f.as_uri()}">]>'.encode(), b"&xxe;"
        ),
        "quarantined",
        "xml_entities",
        "xxe_marker.gpx",
    ),
    "xxe_http": (
        lambda url, f: _with_doctype(
            _gpx(), f'<!DOCTYPE gpx [<!ENTITY xxe SYSTEM "{url}">]>'.encode(), b"&xxe;"
        ),
        "quarantined",
        "xml_entities",
        "xxe_http.gpx",
    ),
    "xxe_parameter_entity": (
        lambda url, f: _with_doctype(
            _gpx(), f'<!DOCTYPE gpx [<!ENTITY % p SYSTEM "{url}"> %p;]>'.encode()
        ),
        "quarantined",
        "xml_entities",
        "xxe_param.gpx",
    ),
    "external_dtd_with_reference": (
        lambda url, f: _with_doctype(
            _gpx(), f'<!DOCTYPE gpx SYSTEM "{url}">'.encode(), b"&secret;"
        ),
        "quarantined",
        "gpx_malformed",
        "external_dtd.gpx",
    ),
    "billion_laughs": (
        lambda url, f: _with_doctype(
            _gpx(),
            b'<!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa">'
            + b"".join(b'<!ENTITY %c "%s">' % (98 + i, (b"&%c;" % (97 + i)) * 10) for i in range(9))
            + b"]>",
            b"&j;",
        ),
        "quarantined",
        "xml_entities",
        "laughs.gpx",
    ),
    "quadratic_blowup": (
        lambda url, f: _with_doctype(
            _gpx(), b'<!DOCTYPE gpx [<!ENTITY a "' + b"x" * 5_000 + b'">]>', b"&a;" * 5_000
        ),
        "quarantined",
        "xml_entities",
        "quadratic.gpx",
    ),
    "tcx_xxe": (
        lambda url, f: _tcx().replace(
            b"<TrainingCenterDatabase",
            f'<!DOCTYPE t [<!ENTITY xxe SYSTEM "{url}">]>\n<TrainingCenterDatabase'.encode(),
            1,
        ),
        "quarantined",
        "xml_entities",
        "xxe.tcx",
    ),
    # an XML declaration naming an encoding that does not exist (expat raises LookupError)
    "gpx_unknown_encoding": (
        lambda url, f: _gpx().replace(b'encoding="UTF-8"', b'encoding="utg-8"', 1),
        "quarantined",
        "gpx_malformed",
        "unknown_encoding.gpx",
    ),
    "tcx_unknown_encoding": (
        lambda url, f: _tcx().replace(b"&xxe;", b"").replace(b"UTF-8", b"qtf-8", 1),
        "quarantined",
        "tcx_malformed",
        "unknown_encoding.tcx",
    ),
    "gzip_bomb": (
        lambda url, f: gzip.compress(b"\0" * (64 << 20), compresslevel=1, mtime=0),
        "quarantined",
        "archive_too_large",
        "bomb.fit.gz",
    ),
    "zip_bomb": (
        lambda url, f: _raw_zip(b"run.fit", 64 << 20),
        "quarantined",
        "archive_too_large",
        "bomb.zip",
    ),
    "nested_zip_bomb": (
        lambda url, f: _zip([("inner.zip", _raw_zip(b"run.fit", 64 << 20))]),
        "quarantined",
        "archive_too_large",
        "nested_bomb.zip",
    ),
    "zip_too_deep": (
        lambda url, f: _nested(_fit(), 5),
        "quarantined",
        "archive_too_deep",
        "deep.zip",
    ),
    "gzip_too_deep": (
        lambda url, f: _gz_nested(_fit(), 5),
        "quarantined",
        "archive_too_deep",
        "deep.fit.gz",
    ),
    "zip_claims_tiny_size": (
        lambda url, f: _raw_zip(b"run.fit", 4 << 20, claimed_size=100),
        "quarantined",
        "zip_corrupt",
        "tiny_claim.zip",
    ),
    "zip_traversal": (
        lambda url, f: _zip([("../../escaped-relative.fit", _fit())]),
        "quarantined",
        "archive_unsafe_path",
        "slip.zip",
    ),
    "zip_absolute": (
        lambda url, f: _raw_zip(b"/tmp/escaped-absolute.fit", 1000),
        "quarantined",
        "archive_unsafe_path",
        "absolute.zip",
    ),
    "zip_backslash_traversal": (
        lambda url, f: _raw_zip(b"..\\..\\escaped-windows.fit", 1000),
        "quarantined",
        "archive_unsafe_path",
        "backslash.zip",
    ),
    "zip_drive_letter": (
        lambda url, f: _raw_zip(b"C:/escaped-drive.fit", 1000),
        "quarantined",
        "archive_unsafe_path",
        "drive.zip",
    ),
    "zip_symlink": (lambda url, f: _symlink_zip(), "quarantined", "archive_symlink", "symlink.zip"),
    "zip_duplicate_names": (
        lambda url, f: _zip([("run.fit", _fit()), ("run.fit", b"other")]),
        "quarantined",
        "archive_duplicate_names",
        "duplicate.zip",
    ),
    "zip_encrypted": (
        lambda url, f: _encrypted_zip(_fit()),
        "quarantined",
        "archive_encrypted",
        "encrypted.zip",
    ),
    "png_named_fit": (
        lambda url, f: b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(500),
        "quarantined",
        "unknown_format",
        "photo.fit",
    ),
    "html_named_gpx": (
        lambda url, f: b"<!DOCTYPE html><html><body>Login</body></html>",
        "quarantined",
        "html_page",
        "page.gpx",
    ),
    "pdf_named_tcx": (
        lambda url, f: b"%PDF-1.4\n" + random.Random(2).randbytes(500),
        "quarantined",
        "unknown_format",
        "doc.tcx",
    ),
    "zero_length": (lambda url, f: b"", "quarantined", "empty_file", "empty.fit"),
    "random_bytes": (
        lambda url, f: random.Random(3).randbytes(4096),
        "quarantined",
        "unknown_format",
        "noise.fit",
    ),
    "fit_header_then_garbage": (
        lambda url, f: _fit()[:14] + random.Random(4).randbytes(2000),
        "quarantined",
        "fit_corrupt",
        "garbage.fit",
    ),
    "fit_huge_size_no_data": (
        lambda url, f: _fit_claiming_huge_size(_fit(), b""),
        "quarantined",
        "fit_truncated",
        "huge_empty.fit",
    ),
    "gpx_time_backwards": (
        lambda url, f: _gpx().replace(b"2026-03-02T07:00:05", b"2026-03-01T07:00:05"),
        "quarantined",
        "schema_failed",
        "backwards.gpx",
    ),
}


VALUE_CASES: dict[str, tuple[Callable[[], bytes], int, int, float]] = {
    # One impossible position among the 120 points of _gpx(), one STEP_M apart on a line, 1 s
    # apart: the position is blanked and counted (1 value), the run kept (it used to refuse the
    # whole file as schema_failed). The reader leaves the bad point out of its distance, which
    # smooths each position over the points within 2 s (ingest/geo.py). By hand: the clean track's
    # smoothed ends move in to points 1 and 118 (117 steps); without point 0 they are 2 and 118
    # (116 steps); without point 5, points 3, 4, 6, 7 become 2.5, 3.75, 6.25 and 7.5, so the
    # length stays 117 steps and the fastest second covers 2.5 steps.
    "gpx_latitude_95": (lambda: _gpx().replace(b'lat="51.5005000"', b'lat="95.0"'), 1, 117, 2.5),
    "gpx_longitude_200": (
        lambda: _gpx().replace(b'lon="-0.1000000"', b'lon="200.0"', 1),
        1,
        116,
        1.0,
    ),
    "gpx_latitude_nan": (lambda: _gpx().replace(b'lat="51.5005000"', b'lat="NaN"'), 1, 117, 2.5),
}
"""Files with one impossible value: refused values, not refused workouts."""

STEP_M = 2 * 6_371_008.8 * math.asin(math.sin(math.radians(1e-4) / 2))
"""Haversine distance of 1e-4 degrees of latitude (the spacing of _gpx()'s points), by hand."""


def _leaks(text: str, url: str) -> list[str]:
    return [s for s in ("root:", MARKER, url, "127.0.0.1") if s in text]


def _result_text(result: FileResult) -> str:
    """Everything a result carries, including its frames, as text and as pickled bytes."""
    frames = [
        getattr(r, n) for r in result.walk() for n in ("activities", "samples", "laps", "hrv")
    ]
    shown = [repr(vars(r)) for r in result.walk()] + [
        str(f.rows()) for f in frames if f is not None
    ]
    return "\n".join(shown) + pickle.dumps(result).decode("latin-1")


# -- parse_file -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CASES))
def test_parse_file_refuses_hostile_input(
    case: str, http_url: str, secret_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    builder, outcome, code, _ = CASES[case]
    caplog.set_level(logging.DEBUG)
    hits_before = len(_Counter.hits)
    result = parse_file(builder(http_url, secret_file), client_id="c")
    assert (result.outcome, result.reason_code) == (outcome, code)
    assert result.reason_message is not None
    assert PLAIN_WORDS.match(result.reason_message), result.reason_message
    assert not _leaks(_result_text(result), http_url)
    assert not _leaks(caplog.text, http_url)
    assert len(_Counter.hits) == hits_before, "a reader fetched the attacker's URL"


@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_parse_file_blanks_an_impossible_position_and_keeps_the_run(case: str) -> None:
    build, refused, steps, fastest = VALUE_CASES[case]
    data = build()
    assert data != _gpx()  # the replacement hit
    result = parse_file(data, client_id="c")
    assert (result.outcome, result.reason_code) == ("ingested", "values_refused")
    assert result.reason_message is not None
    assert PLAIN_WORDS.match(result.reason_message), result.reason_message
    assert result.activities is not None
    assert result.samples is not None
    assert result.n_records == 120  # every point of _gpx() kept
    assert "values_refused" in result.activities["quality_flags"][0]
    assert result.samples["lat_deg"].null_count() == result.samples["lon_deg"].null_count() == 1
    assert result.activities["values_refused"].to_list() == [refused]
    assert result.activities["distance_m"][0] == pytest.approx(steps * STEP_M, rel=1e-6)
    speeds = result.samples["speed_mps"].drop_nulls()
    assert speeds.min() >= 0
    assert speeds.max() == pytest.approx(fastest * STEP_M, rel=1e-6)


def test_external_dtd_is_never_fetched(http_url: str) -> None:
    # A DOCTYPE naming an external DTD but using no entity: harmless as long as nothing fetches it.
    data = _with_doctype(_gpx(), f'<!DOCTYPE gpx SYSTEM "{http_url}">'.encode())
    hits_before = len(_Counter.hits)
    result = parse_file(data, client_id="c")
    assert result.outcome == "ingested"
    assert len(_Counter.hits) == hits_before


def test_fit_claiming_huge_size_before_real_data_is_salvaged_not_trusted() -> None:
    # A header that claims 4 GB in front of a real 90 s run reads like a cut-short file: the records
    # are kept and flagged, nothing of the claimed size is allocated.
    result = parse_file(_fit_claiming_huge_size(_fit(), _fit()[14:]), client_id="c")
    assert (result.outcome, result.reason_code) == ("ingested", "recovered")
    assert result.n_records == 90


def test_zip_lying_about_compressed_size_is_a_bomb() -> None:
    data = _raw_zip(b"run.fit", 96 << 20, claimed_compressed=0xFFFFFFF0)
    result = parse_file(data, client_id="c")
    assert result.reason_code == "archive_too_large"


def test_gpx_dated_in_the_far_future_is_refused() -> None:
    result = parse_file(_gpx().replace(b"2026-03-02", b"9999-03-02"), client_id="c")
    assert result.outcome == "quarantined"


def test_gpx_dated_before_any_plausible_date_is_kept_without_its_date() -> None:
    # An unset clock, not an attack on the tables: the timed track is kept, its 1900 date is not.
    result = parse_file(_gpx().replace(b"2026-03-02", b"1900-03-02"), client_id="c")
    assert (result.outcome, result.reason_code) == ("ingested", "clock_not_set")
    assert result.activities is not None
    assert result.samples is not None
    assert result.activities["start_utc"].to_list() == [None]
    assert result.samples["timestamp"].null_count() == result.samples.height == 120


# -- through run_ingest with the isolation runner ------------------------------------------------


def _tree(root: Path, *, skip: Path | None = None) -> set[str]:
    """Every path under ``root`` (relative), leaving out ``skip`` and what is under it."""
    found = set()
    for path in root.rglob("*"):
        if skip is not None and (path == skip or path.is_relative_to(skip)):
            continue
        found.add(str(path.relative_to(root)))
    return found


@pytest.mark.slow
def test_run_ingest_isolated_quarantines_each_attack_and_completes(
    tmp_path: Path,
    http_url: str,
    secret_file: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    folder = inbox / "C001"
    folder.mkdir(parents=True)
    expected: dict[str, tuple[str, str]] = {}
    for _case, (builder, outcome, code, name) in CASES.items():
        data = builder(http_url, secret_file)
        (folder / name).write_bytes(data)
        expected[sha256_hex(data)] = (outcome, code)
    # Files that exhaust the worker's memory or get it killed (as the OOM killer would), through
    # the same runner; their names make the test parser misbehave (tests/isolation_helpers.py).
    fit = _fit()
    for name in ("hog.fit", "oom.fit"):
        (folder / name).write_bytes(fit + name.encode())
        expected[sha256_hex(fit + name.encode())] = ("quarantined", "resource_limit")
    good = _fit()
    (folder / "good.fit").write_bytes(good)
    outside_before = _tree(tmp_path.parent, skip=tmp_path)

    settings = Settings(
        inbox=inbox,
        warehouse=warehouse,
        secret="s" * 16,
        settle_seconds=0.0,
        key_file=tmp_path / "key",
    )
    runner = isolated_runner(IsolationLimits(seconds_per_file=60), parse_one=misbehaving_parse)
    summary = run_ingest(settings, parse_batches=runner)

    assert summary.files_seen == len(CASES) + 3
    assert summary.ingested == 1
    assert summary.quarantined == len(CASES) + 2
    files = TableStore(warehouse).read("files").filter(pl.col("container_sha256").is_null())
    got = {
        row["sha256"]: (row["outcome"], row["reason_code"]) for row in files.iter_rows(named=True)
    }
    for sha, want in expected.items():
        assert got[sha] == want
    assert got[sha256_hex(good)] == ("ingested", None)

    notes = sorted((inbox / "_quarantine" / "C001").glob("*.reason.txt"))
    assert len(notes) == len(CASES) + 2
    everything = [p.read_text() for p in notes]
    for table in ("files", "activities", "samples", "laps", "hrv"):
        everything.append(str(TableStore(warehouse).read(table).rows()))
    out, err = capfd.readouterr()
    everything += [caplog.text, out, err]
    for text in everything:
        assert not _leaks(text, http_url)
    assert not _Counter.hits, "a reader fetched the attacker's URL"
    # Nothing escaped: nothing appeared beside the test's folder, and none of the zip-slip targets
    # exists where a naive extraction would have put it.
    assert _tree(tmp_path.parent, skip=tmp_path) == outside_before
    for place in {
        tmp_path.parent,
        tmp_path.parent.parent,
        Path.cwd(),
        Path.cwd().parent,
        Path("/tmp"),
    }:
        assert not list(place.glob("escaped-*")), place


# -- the isolation layer itself ----------------------------------------------------------------


@pytest.mark.slow
def test_isolation_survives_hang_crash_memory_and_bugs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = _fit()
    names = [
        "a-good.fit",
        "hang.fit",
        "b-good.fit",
        "segv.fit",
        "hog.fit",
        "oom.fit",
        "bug.fit",
        "c-good.fit",
    ]
    jobs = []
    for name in names:
        path = tmp_path / name
        path.write_bytes(good if "good" in name else good + name.encode())
        jobs.append(ParseJob(str(path), "c", sha256_hex(path.read_bytes()), path.stat().st_size))
    limits = IsolationLimits(memory_bytes=int(1.5 * 1024**3), seconds_per_file=8)
    with caplog.at_level(logging.INFO):
        results = parse_isolated(
            [jobs[:4], jobs[4:]], ArchiveLimits(), isolation=limits, parse_one=misbehaving_parse
        )
    assert [len(b) for b in results] == [4, 4]
    flat = {name: r for name, r in zip(names, [r for b in results for r in b], strict=True)}
    for name in ("a-good.fit", "b-good.fit", "c-good.fit"):
        assert flat[name].outcome == "ingested"
        assert flat[name].samples is not None
        assert flat[name].samples.height == 90
    assert (flat["hang.fit"].reason_code, flat["hang.fit"].detail) == (
        "resource_limit",
        "no result within 8 s",
    )
    assert flat["segv.fit"].reason_code == "resource_limit"
    assert flat["segv.fit"].detail == "parser process ended (SIGSEGV)"
    assert flat["oom.fit"].detail == "parser process ended (SIGKILL)"
    assert flat["hog.fit"].reason_code == "resource_limit"
    assert flat["hog.fit"].detail == "MemoryError under a 1.5 GiB limit"
    assert flat["bug.fit"].reason_code == "parser_error"
    assert flat["bug.fit"].detail.startswith("KeyError at isolation_helpers.py:")
    for name in ("hang.fit", "segv.fit", "hog.fit", "oom.fit", "bug.fit"):
        message = flat[name].reason_message
        assert message is not None
        assert PLAIN_WORDS.match(message), message
        assert flat[name].sha256 == sha256_hex((tmp_path / name).read_bytes())
    assert "root:" not in caplog.text


def test_isolation_raise_policy_stops_on_a_reader_bug(tmp_path: Path) -> None:
    path = tmp_path / "bug.fit"
    path.write_bytes(_fit())
    job = ParseJob(str(path), "c", sha256_hex(path.read_bytes()), path.stat().st_size)
    with pytest.raises(RuntimeError, match=r"a reader raised KeyError at isolation_helpers\.py"):
        parse_isolated(
            [[job]],
            ArchiveLimits(),
            isolation=IsolationLimits(workers=1),
            parse_one=misbehaving_parse,
            on_parser_error="raise",
        )


def test_isolation_with_no_jobs_starts_nothing() -> None:
    assert parse_isolated([], ArchiveLimits()) == []

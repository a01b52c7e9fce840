"""The FIT walk in C (``ingest/_fitwalk.c``) against the pure-Python walk it replaces.

The C walk (``segment``, the decoder's default when the extension is built) goes through a whole
segment, definitions included; the Python walk steps over data messages between definitions,
which Python parses. Both must give the same index (every definition's offsets and ordinals, the compressed-timestamp
flag, the skipped counts, where and why decoding stops) or the same refusal, on every corpus FIT
file and on thousands of mutated files (``bench/fuzz.py``'s mutations, fixed seed). The Python walk
is the independent oracle: it steps over runs of messages with numpy, the C walk message by message.
The C numeric-field reader (``numbers``) and the CRC are held against numpy and fitparse below.
"""

from __future__ import annotations

import logging
import random
import struct
from typing import Any

import numpy as np
import pytest
from fitparse.records import Crc
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.fuzz import fix_fit_crc, mutate, seed_files
from ingest import fit_fast
from ingest.fit import read_fit
from ingest.fit_fast import FastPathRefused, read_fit_fast
from synthetic.run_model import simulate_run, write_run_fit
from tests.conftest import require_corpus
from tests.test_fit_fast import (
    FILE_ID,
    FIT_EPOCH,
    RECORD_LAYOUT,
    START,
    TRUNCATION_BASE,
    _hand_made_fit,
    _record,
    assert_same_outcome,
    assert_same_parse,
    corpus_fit_files,
    fit_bytes,
    short_run,
)

needs_c_walk = pytest.mark.skipif(
    fit_fast._fitwalk is None,
    reason="the C extension ingest._fitwalk is not built (no compiler at install time)",
)


def index_of(data: bytes, *, in_c: bool) -> tuple[Any, ...]:
    """Everything the index holds, as plain values; or the refusal (reason and detail)."""
    try:
        index = fit_fast._index(data, in_c=in_c)
    except FastPathRefused as refused:
        return ("refused", refused.reason, str(refused))
    definitions = [
        (
            d.mesg_num,
            d.key,
            d.size,
            d.ordinal,
            d.n_messages,
            d.offsets().tolist(),
            d.ordinals().tolist(),
        )
        for d in index.definitions
    ]
    return (
        definitions,
        index.segment_ordinals,
        index.n_messages,
        index.compressed,
        index.skipped,
        index.error,
        index.truncated,
        {k: sorted(v) for k, v in index.dev_types.items()},
    )


def assert_same_index(data: bytes) -> None:
    """The C walk of whole segments indexes as the Python walk between definitions does."""
    assert index_of(data, in_c=True) == index_of(data, in_c=False)


@needs_c_walk
@pytest.mark.corpus
@pytest.mark.parametrize("name", corpus_fit_files())
def test_c_walk_indexes_every_corpus_file_as_the_python_walk(name: str | None) -> None:
    assert name is not None
    assert_same_index(fit_bytes(name))


def fuzz_seeds() -> list[bytes]:
    """Synthetic files: interleaved record/hrv, big-endian, compressed-free, chained."""
    hrv = write_run_fit(short_run(3), with_hrv=True)
    big = write_run_fit(short_run(2, seed=4), big_endian=True)
    return [hrv, big, hrv + big, TRUNCATION_BASE]


@needs_c_walk
@pytest.mark.parametrize("seed", range(8))
def test_c_walk_indexes_mutated_files_as_the_python_walk(seed: int) -> None:
    """400 mutated files per seed (3200 in all), half with data size and CRCs made consistent."""
    rng = random.Random(seed)
    seeds = fuzz_seeds()
    for case in range(400):
        base = rng.choice(seeds)
        _, mutated = mutate(base, rng, donors=seeds, fix_crc=case % 2 == 0)
        assert_same_index(mutated)


@needs_c_walk
@pytest.mark.corpus
def test_c_walk_indexes_mutated_corpus_files_as_the_python_walk() -> None:
    """1500 mutations of the small real FIT files (``bench/fuzz.py``'s seeds, up to 60 kB)."""
    require_corpus()
    seeds = [data for _, data in seed_files() if data[8:12] == b".FIT"]
    assert len(seeds) >= 5
    rng = random.Random(1616)
    for case in range(1500):
        _, mutated = mutate(rng.choice(seeds), rng, donors=seeds, fix_crc=case % 2 == 0)
        assert_same_index(mutated)


@needs_c_walk
def test_c_walk_indexes_compressed_timestamp_headers_as_the_python_walk() -> None:
    """Headers turned into compressed-timestamp headers of their local type, here and there."""
    rng = random.Random(16)
    base = write_run_fit(short_run(2), with_hrv=True)
    offsets = [int(o) for d in fit_fast._index(base).definitions for o in d.offsets()]
    offsets = [o for o in offsets if base[o] & 0x0F < 4]  # local types a compressed header has
    assert len(offsets) > 100
    for _ in range(200):
        data = bytearray(base)
        for offset in rng.sample(offsets, 5):
            data[offset] = 0x80 | (data[offset] & 0x0F) << 5 | rng.randrange(32)
        mutated = fix_fit_crc(bytes(data))
        assert_same_index(mutated)
        assert index_of(mutated, in_c=True)[3] is True  # compressed seen


@needs_c_walk
def test_c_segment_stops_where_the_buffer_ends() -> None:
    """A worked example: a definition of 3-byte messages (local 0), then a normal, a compressed
    (local 0) and a cut message; the data size (100) runs past the buffer."""
    assert fit_fast._fitwalk is not None
    definition = bytes([0x40, 0, 0, 20, 0, 1, 253, 2, 0x84])  # record: one 2-byte field
    data = definition + bytes([0x00, 1, 2, 0x80, 1, 2, 0x00])
    stop, reason, compressed, found = fit_fast._fitwalk.segment(data, 0, 100, 7)
    assert (stop, reason, compressed) == (len(data) - 1, fit_fast.WALK_CUT, True)
    [(offset, ordinal, local, size, offsets, ordinals)] = found
    assert (offset, ordinal, local, size) == (0, 7, 0, 3)
    assert offsets == (9).to_bytes(8, "little") + (12).to_bytes(8, "little")
    assert ordinals == (7).to_bytes(8, "little") + (8).to_bytes(8, "little")


@needs_c_walk
@settings(max_examples=80, deadline=None)
@given(st.binary(min_size=0, max_size=3000))
def test_c_crc_and_numpy_crc_equal_fitparse_crc(data: bytes) -> None:
    assert fit_fast._fitwalk is not None
    expected = Crc.calculate(data)
    assert fit_fast._fitwalk.crc(data) == fit_fast._fit_crc_numpy(data) == expected
    assert fit_fast._fitwalk.crc(memoryview(data)[1:]) == Crc.calculate(data[1:])


@needs_c_walk
def test_c_walk_gives_the_stop_reasons_the_python_walk_names() -> None:
    assert fit_fast._fitwalk is not None
    c_reasons = (
        fit_fast._fitwalk.WALK_END,
        fit_fast._fitwalk.WALK_DEFINITION,
        fit_fast._fitwalk.WALK_UNDEFINED,
        fit_fast._fitwalk.WALK_CUT,
    )
    python_reasons = (
        fit_fast.WALK_END,
        fit_fast.WALK_DEFINITION,
        fit_fast.WALK_UNDEFINED,
        fit_fast.WALK_CUT,
    )
    assert c_reasons == python_reasons
    assert len(set(c_reasons)) == 4


@needs_c_walk
def test_the_c_segment_walk_is_used_when_built(caplog: pytest.LogCaptureFixture) -> None:
    fit_fast._segments_in_c.cache_clear()
    with caplog.at_level(logging.DEBUG, logger="ingest.fit_fast"):
        assert fit_fast._segments_in_c() is True
        fit_fast._segments_in_c()
    assert [r.getMessage() for r in caplog.records] == [
        "FIT index: C, a segment at a time (ingest._fitwalk)"
    ]


def test_without_the_c_extension_the_python_walk_decodes_the_same(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data = write_run_fit(
        simulate_run(
            START, duration_s=300, intensity="easy", hr_rest=50, hr_max=190, home=(0, 0), seed=9
        ),
        with_hrv=True,
    )
    monkeypatch.setattr(fit_fast, "_fitwalk", None)
    fit_fast._segments_in_c.cache_clear()
    try:
        with caplog.at_level(logging.DEBUG, logger="ingest.fit_fast"):
            parsed = read_fit_fast(data)
        assert fit_fast._segments_in_c() is False
    finally:
        fit_fast._segments_in_c.cache_clear()
    assert "FIT index: Python walk" in caplog.text
    assert_same_parse(parsed, read_fit(data))


# -- _fitwalk.numbers: plain numeric fields of one layout, against numpy's reading ---------------

NUMERIC_BASES = sorted(
    (b for b in fit_fast.BASE.values() if b.kind in ("int", "float")), key=lambda b: b.identifier
)


def definition_of(data: bytes, bases: list[Any], endian: str, offsets: list[int]) -> Any:
    """A record definition of one field per base type, its messages at ``offsets`` of ``data``."""
    fields, start = [], 1
    for number, base in enumerate(bases):
        fields.append(fit_fast._FieldDef(number, base.size, base, start, 1))
        start += base.size
    definition = fit_fast._Definition(20, endian, tuple(fields), (), start, 0)
    definition.add(
        np.asarray(offsets, dtype=np.int64).tobytes(),
        np.arange(len(offsets), dtype=np.int64).tobytes(),
    )
    return definition


def assert_same_numbers(definition: Any, data: bytes, positions: tuple[int, ...]) -> None:
    assert fit_fast._fitwalk is not None
    c = fit_fast._numbers(definition, data, positions)
    python = fit_fast._numbers_python(definition, data, positions)
    assert c.shape == python.shape == (len(positions), definition.n_messages)
    np.testing.assert_array_equal(c, python)  # NaN where NaN, every other value exactly


@needs_c_walk
@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(NUMERIC_BASES), min_size=1, max_size=8),
    st.sampled_from(["<", ">"]),
    st.integers(min_value=0, max_value=6),
    st.randoms(use_true_random=False),
)
def test_c_numbers_read_fields_as_numpy_does(
    bases: list[Any], endian: str, n: int, rng: random.Random
) -> None:
    """Random bytes with invalid values planted, either byte order, messages apart or adjacent."""
    size = 1 + sum(b.size for b in bases)
    gap = rng.choice([0, 3])
    data = bytearray(rng.randbytes((size + gap) * n + 5))
    offsets = [2 + i * (size + gap) for i in range(n)]
    for offset in offsets:
        start = offset + 1
        for base in bases:
            if base.invalid is not None and rng.random() < 0.3:
                data[start : start + base.size] = base.invalid.to_bytes(
                    base.size, "big" if endian == ">" else "little"
                )
            start += base.size
    definition = definition_of(bytes(data), bases, endian, offsets)
    positions = tuple(sorted(rng.sample(range(len(bases)), rng.randint(1, len(bases)))))
    assert_same_numbers(definition, bytes(data), positions)


@needs_c_walk
@pytest.mark.corpus
@pytest.mark.parametrize("name", corpus_fit_files())
def test_c_numbers_read_every_corpus_record_layout_as_numpy_does(name: str | None) -> None:
    assert name is not None
    data = fit_bytes(name)
    try:
        index = fit_fast._index(data)
    except FastPathRefused:
        pytest.skip("the fast path refuses this file (decoded by fitparse)")
    read = 0
    for definition in fit_fast._by_layout(d for d in index.definitions if d.mesg_num == 20):
        try:
            plan = fit_fast._record_plan(definition.key)
        except FastPathRefused:
            continue
        assert_same_numbers(definition, data, plan.numeric)
        read += bool(plan.numeric)
    assert read or not any(d.mesg_num == 20 and d.n_messages for d in index.definitions)


@needs_c_walk
@pytest.mark.parametrize(
    ("offsets", "spec", "error"),
    [
        ([0], b"\x01\x00\x02\x00" + bytes(7), ValueError),  # a spec of 11 bytes
        ([0], b"\x01\x00\x03\x00" + bytes(8), ValueError),  # a 3-byte field
        ([0], b"\x01\x00\x02\x02" + bytes(8), ValueError),  # a 2-byte float
        ([0], b"\x01\x00\x02\x07" + bytes(8), ValueError),  # an unknown kind
        ([3], b"\x01\x00\x02\x00" + bytes(8), ValueError),  # the field runs past the data
        ([-1], b"\x01\x00\x01\x00" + bytes(8), ValueError),  # a negative offset
        ([2**40], b"\x01\x00\x01\x00" + bytes(8), ValueError),  # an offset past the data
    ],
)
def test_c_numbers_rejects_bad_arguments(offsets: list[int], spec: bytes, error: type) -> None:
    assert fit_fast._fitwalk is not None
    with pytest.raises(error):
        fit_fast._fitwalk.numbers(b"\x00" * 5, np.asarray(offsets, dtype=np.int64), spec, False)


@needs_c_walk
def test_c_numbers_of_no_message_and_no_field() -> None:
    assert fit_fast._fitwalk is not None
    empty = np.empty(0, dtype=np.int64)
    assert fit_fast._fitwalk.numbers(b"", empty, b"\x01\x00\x01\x00" + bytes(8), False) == b""
    assert fit_fast._fitwalk.numbers(b"\x00\x01", np.zeros(1, np.int64), b"", True) == b""


@needs_c_walk
@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((b"\x00", -1, 1, 0), ValueError),  # a negative start
        ((b"\x00", 0, 1, -1), ValueError),  # a negative ordinal
        ((b"\x00" * 4, 0, 4, 2**63 - 1), OverflowError),  # ordinals would overflow
        (("text", 0, 1, 0), TypeError),  # no buffer
    ],
)
def test_c_segment_rejects_bad_arguments(args: tuple[Any, ...], error: type[Exception]) -> None:
    assert fit_fast._fitwalk is not None
    with pytest.raises(error):
        fit_fast._fitwalk.segment(*args)


@needs_c_walk
def test_c_segment_walks_through_definitions() -> None:
    """A worked example: a definition (local 0, fields of 2 and 1 bytes), two messages of 4 bytes,
    a redefinition of local 0 with a developer field of 3 bytes, one message of 7 bytes, then a
    definition the buffer ends in."""
    assert fit_fast._fitwalk is not None
    first = bytes([0x40, 0, 0, 20, 0, 2, 0, 2, 0x84, 1, 1, 0x02])  # record: 2 + 1 bytes
    second = bytes([0x60, 0, 0, 20, 0, 1, 0, 3, 0x86, 1, 7, 3, 0])  # 3 bytes + developer 3
    data = (
        first
        + bytes([0x00, 1, 2, 3]) * 2
        + second
        + bytes([0x00, 1, 2, 3, 4, 5, 6])
        + bytes([0x41, 0, 0])  # cut
    )
    stop, reason, compressed, found = fit_fast._fitwalk.segment(data, 0, 10_000, 5)
    assert (stop, reason, compressed) == (len(data) - 3, fit_fast.WALK_DEFINITION, False)
    assert [(offset, ordinal, local, size) for offset, ordinal, local, size, _, _ in found] == [
        (0, 5, 0, 4),
        (len(first) + 8, 7, 0, 7),
    ]
    as_ints = [
        (np.frombuffer(o, np.int64).tolist(), np.frombuffer(n, np.int64).tolist())
        for *_, o, n in found
    ]
    assert as_ints == [([12, 16], [5, 6]), ([len(first) + 8 + len(second)], [7])]


def assert_same_compressed_times(data: bytes) -> bool:
    """The C accumulator gives the compressed headers' times as the numpy one does; whether the
    file has any (a file the fast path refuses has none to compare)."""
    try:
        index = fit_fast._index(data)
    except FastPathRefused:
        return False
    in_c = fit_fast._compressed_times(index, data, in_c=True)
    in_numpy = fit_fast._compressed_times(index, data, in_c=False)
    assert in_c[0].tolist() == in_numpy[0].tolist()
    assert in_c[1].tolist() == in_numpy[1].tolist()
    return bool(in_c[0].size)


@needs_c_walk
def test_compressed_times_of_mutated_files_are_fitparses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Headers turned into compressed-timestamp headers, field 253 values changed, in one or two
    chained segments: 150 files, every one with compressed headers, decoded through the C and the
    numpy accumulator (equal times) and each against fitparse."""
    rng = random.Random(1617)
    one = write_run_fit(short_run(2), with_hrv=True)
    for case in range(150):
        base = one + one if case % 3 == 0 else one
        definitions = fit_fast._index(base).definitions
        offsets = [int(o) for d in definitions for o in d.offsets() if base[o] & 0x0F < 4]
        stamped = [  # records whose first field is the timestamp (4 bytes)
            int(o)
            for d in definitions
            if d.mesg_num == 20 and d.key[2][0] == (253, 4, 0x86)
            for o in d.offsets()
        ]
        data = bytearray(base)
        for offset in rng.sample(stamped, 3):  # a field 253 value changed, any value
            data[offset + 1 : offset + 5] = rng.randrange(2**32).to_bytes(4, "little")
        for offset in rng.sample(offsets, rng.randrange(1, 40)):
            data[offset] = 0x80 | (data[offset] & 0x0F) << 5 | rng.randrange(32)
        cut = len(one)  # each chained file's size and CRCs made consistent on its own
        mutated = fix_fit_crc(bytes(data[:cut])) + (
            fix_fit_crc(bytes(data[cut:])) if data[cut:] else b""
        )
        assert assert_same_compressed_times(mutated)
        for in_c in (True, False):
            monkeypatch.setattr(fit_fast, "_segments_in_c", lambda in_c=in_c: in_c)
            assert_same_outcome(mutated)


@needs_c_walk
@pytest.mark.corpus
def test_c_compressed_times_are_the_numpy_ones_on_corpus_files() -> None:
    """Every corpus FIT file; at least the two known to use compressed timestamps have some."""
    require_corpus()
    names = [param.values[0] for param in corpus_fit_files()]
    compared = [name for name in names if assert_same_compressed_times(fit_bytes(name))]
    assert len(compared) >= 2, compared


@needs_c_walk
def test_c_compressed_times_check_their_arguments() -> None:
    empty = np.empty(0, dtype=np.int64)
    one = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="outside"):  # a message past the data
        fit_fast._fitwalk.compressed(b"\x80", np.array([5]), one, empty, empty, empty)
    with pytest.raises(ValueError, match="outside"):  # an ordinal past the messages
        fit_fast._fitwalk.compressed(b"\x80", one, np.array([3]), empty, empty, empty)
    with pytest.raises(ValueError, match="different lengths"):
        fit_fast._fitwalk.compressed(b"\x80", one, empty, empty, empty, empty)
    with pytest.raises(ValueError, match="partial length"):
        fit_fast._fitwalk.compressed(b"\x80", b"\0" * 7, one, empty, empty, empty)
    # a worked example: a set to 1000 (low bits 8), then offsets 10 and 3 (3 < 10 rolls over):
    # 1000 - 8 + 10 = 1002, then 1002 - 10 + 32 + 3 = 1027
    ordinals, times = fit_fast._fitwalk.compressed(
        bytes([0x00, 0x80 | 10, 0x80 | 3]),
        np.arange(3),
        np.arange(3),
        np.array([0]),
        np.array([1000]),
        np.array([0]),
    )
    assert np.frombuffer(ordinals, dtype=np.int64).tolist() == [1, 2]
    assert np.frombuffer(times, dtype=np.int64).tolist() == [1002, 1027]


HR_ONLY_LAYOUT = struct.pack("<BBHB", 0, 0, 20, 1) + bytes([3, 1, 0x02])  # record: heart_rate


def chained_compressed_file(rng: random.Random) -> bytes:
    """One to three chained files of records: timed (field 253, now and then invalid), compressed
    headers with or without a field 253, and compressed heart-rate-only records, in any order."""
    parts = []
    for _ in range(rng.randrange(1, 4)):
        messages = [
            (True, 0, FILE_ID),
            (False, 0, bytes([4])),
            (True, 1, RECORD_LAYOUT),
            (True, 2, HR_ONLY_LAYOUT),
        ]
        for i in range(rng.randrange(0, 8)):
            stamp = rng.choice([i, i, 0xFFFFFFFF - int((START - FIT_EPOCH).total_seconds())])
            kind = rng.random()
            if kind < 0.3:
                messages.append((False, 1, _record(stamp, 100 + i)))
            elif kind < 0.5:
                header = 0x80 | 1 << 5 | rng.randrange(32)
                messages.append((False, header, _record(stamp, 100 + i)))
            else:
                messages.append((False, 0x80 | 2 << 5 | rng.randrange(32), bytes([100 + i])))
        parts.append(_hand_made_fit(messages))
    return b"".join(parts)


@pytest.mark.parametrize("in_c", [pytest.param(True, marks=needs_c_walk), False])
def test_compressed_times_across_chained_files_are_fitparses(
    in_c: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: the numpy accumulator applied a chained file's restart (at 0) to the last message of
    the file before it, so a compressed record ending a file got a time counted from 0. 300
    random chained files, decoded through the C accumulator and through numpy, against fitparse;
    among them files whose first part ends in a compressed record."""
    monkeypatch.setattr(fit_fast, "_segments_in_c", lambda: in_c)
    rng = random.Random(1618)
    ended_compressed = 0
    for _ in range(300):
        data = chained_compressed_file(rng)
        index = fit_fast._index(data)
        starts = index.segment_ordinals[1:]
        ends = {d.ordinals()[k] for d in index.definitions for k in range(d.n_messages)}
        last = [s - 1 for s in starts if s - 1 in ends]
        offsets = {
            int(o): int(d.offsets()[k])
            for d in index.definitions
            for k, o in enumerate(d.ordinals())
        }
        ended_compressed += any(data[offsets[ordinal]] & 0x80 for ordinal in last)
        assert_same_outcome(data)
    assert ended_compressed >= 20

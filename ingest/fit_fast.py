"""Columnar FIT decoder: the same result as :func:`ingest.fit.read_fit`, hundreds of times faster.

fitparse decodes one message at a time in Python (a few thousand records per second). This module
walks the message headers once to find where each data message starts and which definition it uses
(in C, ``ingest/_fitwalk.c``, a segment at a time, when that optional extension is built; else in
Python, stepping over runs of same-type messages with numpy), then decodes all ``record`` and ``hrv``
messages of one layout at once, in either byte order: their plain numeric fields into one float64
matrix (in C, or with numpy through a structured dtype), the rest through the structured dtype.
The small frames are built with Polars' own constructors (:mod:`ingest.columnar`). ``lap``,
``session``, ``file_id``, ``sport`` and the developer-field messages are few and are decoded one by
one with fitparse's own rules (sub-fields, components, enum names), or a layout at a time when
there are many.

Everything about fields comes from fitparse's profile (``fitparse.profile.MESSAGE_TYPES``) and base
types (``fitparse.records.BASE_TYPES``, their invalid sentinels read off their ``parse`` functions):
no table is copied by hand. The decoded messages go through the same :func:`ingest.fit_common.assemble`
as the fitparse reader.

Error policy: fitparse stays the reference. A file cut short, and a data message of an undefined
local type, stop decoding where fitparse's decoding stops (with its words): the messages before are
kept and the file is flagged as ``ingest.fit`` flags it. Otherwise the fast path only returns what it
can vouch for; a file it cannot (a CRC mismatch in the header or the file, trailing bytes that are no
FIT header, a field size that is not a multiple of its base type, an unknown base type, an undefined
developer field, a field in a shape where fitparse itself would fail or that the fast path does not
decode) raises :class:`FastPathRefused` with a reason code from :data:`REFUSAL_REASONS`.
:func:`read_fit_auto` then decodes the file with fitparse and says why in
:attr:`ParsedFile.warnings`. Valid files that are not activities raise the same
:class:`~schemas.errors.NotAnActivity` as the fitparse reader.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from fitparse.profile import MESSAGE_TYPES
from fitparse.records import BASE_TYPES

from ingest.columnar import float_frame
from ingest.fit import read_fit
from ingest.fit_common import (
    COLUMN_MESSAGES,
    EVENT_12_BITS,
    HR_FIELD_NUMBERS,
    LAP_FIELDS,
    LENGTH_FIELDS,
    RECORD_COLUMNS,
    RECORD_FIELDS,
    RELATIVE_TIME_LIMIT,
    SESSION_FIELDS,
    FitContent,
    FitSeconds,
    HrEvents,
    assemble,
    ended_early,
    mapped_column,
)
from ingest.frames import ParsedFile, read_with_fallback
from schemas.errors import ReaderRefused

try:
    from ingest import _fitwalk
except ImportError:  # built without a C compiler: the Python walk does the same
    _fitwalk = None  # type: ignore[assignment]

__all__ = ["DECODER_NAME", "REFUSAL_REASONS", "FastPathRefused", "read_fit_auto", "read_fit_fast"]


log = logging.getLogger(__name__)

DECODER_NAME = "fit-columnar"
""":attr:`ParsedFile.decoder` of a file the fast path decoded."""

REFUSAL_REASONS: Mapping[str, str] = {
    "bad_header": "no valid FIT header where one was expected",
    "header_crc_mismatch": "header crc mismatch",
    "crc_mismatch": "crc mismatch",
    "truncated": "the file ends in its first header (or in a message fitparse reads otherwise)",
    "unknown_base_type": "a field has an unknown base type",
    "bad_field_size": "a field size is not a positive multiple of its base type",
    "unknown_developer_field": "a developer field is used before it is described",
    "developer_field_clash": "a developer field is named like a field the pipeline reads",
    "unsupported_field": "a field in a shape the fast decoder does not decode",
    "accumulator_mismatch": "accumulated components of different widths",
}
"""Reason code -> plain words, for each way the fast path hands a file to fitparse."""


class FastPathRefused(ReaderRefused):
    """The columnar decoder cannot vouch for this file; decode it with fitparse instead.

    :func:`read_fit_auto` catches it. Reasons: :data:`REFUSAL_REASONS`.
    """

    reasons = REFUSAL_REASONS


# -- base types, read off fitparse --------------------------------------------------------------

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class _BaseType:
    """One FIT base type: how fitparse reads it (struct code, size) and its invalid value."""

    identifier: int
    name: str
    kind: str  # "int", "float", "byte" or "string"
    fmt: str
    size: int
    invalid: int | None
    parse: Callable[[Any], Any]


def _invalid_int(fmt: str, parse: Callable[[Any], Any]) -> int:
    """The one integer that fitparse's ``parse`` turns into ``None`` (probed, not assumed)."""
    bits = 8 * struct.calcsize(fmt)
    candidates = {0, 2 ** (bits - 1) - 1, 2**bits - 1}
    invalid = [c for c in sorted(candidates) if parse(c) is None]
    if len(invalid) != 1:
        raise RuntimeError(f"cannot tell the invalid value of base type {fmt!r}")
    value: int = invalid[0]
    return value


def _base_types() -> dict[int, _BaseType]:
    out = {}
    for identifier, base in BASE_TYPES.items():
        fmt: str = base.fmt
        size = struct.calcsize(fmt)
        if base.name == "byte":
            kind, invalid = "byte", None
        elif fmt == "s":
            kind, invalid = "string", None
        elif fmt in "fd":
            if base.parse(math.nan) is not None:
                raise RuntimeError(f"base type {base.name} does not treat NaN as invalid")
            kind, invalid = "float", None
        else:
            kind, invalid = "int", _invalid_int(fmt, base.parse)
        out[identifier] = _BaseType(identifier, base.name, kind, fmt, size, invalid, base.parse)
    return out


BASE = _base_types()
"""Base type number -> :class:`_BaseType`, from ``fitparse.records.BASE_TYPES``."""

BYTE_BASE_TYPE = 0x0D
"""Base type ``byte``: how a field whose size is not a multiple of its base type is read."""
TIMESTAMP_DEF_NUM = 253
"""Field number of ``timestamp`` in every message (also drives compressed timestamps)."""
PROCESSED_TYPES = frozenset({"date_time", "local_date_time", "localtime_into_day"})
"""Profile types that fitparse's default data processor converts (and can fail on)."""
SECONDS_PER_DAY = 86_400
FIT_EPOCH_UNIX_S = 631_065_600
MESG_NUM = {mesg.name: num for num, mesg in MESSAGE_TYPES.items()}
RECORD, HRV, HR = MESG_NUM["record"], MESG_NUM["hrv"], MESG_NUM["hr"]
DEVELOPER_DATA_ID, FIELD_DESCRIPTION = MESG_NUM["developer_data_id"], MESG_NUM["field_description"]
SMALL_MESSAGES: Mapping[int, frozenset[str]] = {
    MESG_NUM["file_id"]: frozenset(
        {"type", "manufacturer", "garmin_product", "product_name", "product", "time_created"}
    ),
    MESG_NUM["sport"]: frozenset({"sport", "sub_sport"}),
    MESG_NUM["length"]: frozenset(
        {
            "start_time",
            "length_type",
            *(s for sources, _ in LENGTH_FIELDS.values() for s in sources),
        }
    ),
    MESG_NUM["lap"]: frozenset(
        {"start_time", *(s for sources, _ in LAP_FIELDS.values() for s in sources)}
    ),
    MESG_NUM["session"]: frozenset(
        {
            "start_time",
            "sport",
            "sub_sport",
            *(s for sources, _ in SESSION_FIELDS.values() for s in sources),
        }
    ),
    DEVELOPER_DATA_ID: frozenset({"developer_data_index"}),
    FIELD_DESCRIPTION: frozenset(
        {"developer_data_index", "field_definition_number", "fit_base_type_id", "field_name"}
    ),
}
"""Messages decoded one by one, with the field names the readers use from each."""
SMALL_ROWS: Mapping[int, frozenset[str]] = {
    MESG_NUM[name]: SMALL_MESSAGES[MESG_NUM[name]] for name in FitContent.SMALL_MESSAGES
}
"""The small messages :class:`FitContent` collects, with the field names it reads from each."""
_SMALL_ORDER = tuple(
    (name, MESG_NUM[name], SMALL_ROWS[MESG_NUM[name]]) for name in FitContent.SMALL_MESSAGES
)
"""(name, message number, names read) of each small message, in the order they are collected."""
BULK_NUMBERS: Mapping[int, frozenset[str]] = {
    MESG_NUM[name]: frozenset(
        {"start_time", *(s for sources, _ in mapping.values() for s in sources)}
    )
    for name, mapping in COLUMN_MESSAGES.items()
}
"""Messages that can be decoded a layout at a time, with the names read there as numbers."""
BULK_FROM = 4
"""From this many messages of a kind on, decoding them a definition at a time is the cheaper."""
RECORD_NAMES = frozenset(
    {
        "timestamp",
        "fractional_cadence",
        *(s for sources, _ in RECORD_FIELDS.values() for s in sources),
    }
)
HRV_NAMES = frozenset({"time"})
NEEDED: Mapping[int, frozenset[str]] = {**SMALL_MESSAGES, RECORD: RECORD_NAMES, HRV: HRV_NAMES}

HEADER_LOCAL = np.array(
    [((h >> 5) & 0x3) if h & 0x80 else (-1 if h & 0x40 else h & 0x0F) for h in range(256)],
    dtype=np.int8,
)
"""Header byte -> local message type of a data message (-1 for a definition message)."""
_HEADER_LOCAL_LIST: list[int] = HEADER_LOCAL.tolist()
"""The same as a list: indexing it one byte at a time is much cheaper than indexing numpy."""
RUN_PROBE = 32
"""First window (messages) in which a run of same-type messages is looked for with numpy."""


# -- CRC ----------------------------------------------------------------------------------------


def _crc_byte_table() -> npt.NDArray[np.uint16]:
    """Byte-wise table of the FIT CRC-16 (fitparse computes it nibble-wise with the same result)."""
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> 1) ^ 0xA001, crc >> 1)
    return crc.astype(np.uint16)


_CRC8 = _crc_byte_table()
_V = np.arange(1 << 16, dtype=np.uint32)
_T_LOW = _CRC8[_V & 0xFF].astype(np.uint32)
_CRC16: npt.NDArray[np.uint16] = ((_T_LOW >> 8) ^ _CRC8[((_V >> 8) ^ _T_LOW) & 0xFF]).astype(
    np.uint16
)
"""Register after two bytes: ``_CRC16[register ^ (b0 | b1 << 8)]`` (the register is 16 bits)."""
del _V, _T_LOW
_CRC_CHUNK = 16
"""Bytes per chunk whose CRCs are computed side by side."""


@cache
def _zero_run(length: int) -> npt.NDArray[np.uint16]:
    """Register -> register after ``length`` zero bytes (``length`` a power of two, >= 2)."""
    if length == 2:
        return _CRC16
    half = _zero_run(length // 2)
    return half[half]


def fit_crc(data: bytes | memoryview) -> int:
    """FIT CRC-16 of ``data``, equal to ``fitparse.records.Crc.calculate(data)``.

    In C when ``ingest._fitwalk`` is built, else with numpy (:func:`_fit_crc_numpy`).
    """
    if _fitwalk is not None:
        return _fitwalk.crc(data)
    return _fit_crc_numpy(data)


def _fit_crc_numpy(data: bytes | memoryview) -> int:
    """:func:`fit_crc` with numpy.

    Leading zero bytes leave a zero register unchanged, so the data is zero-padded in front to a
    whole number of chunks, a power of two of them; each chunk's CRC is computed side by side (two
    bytes per step), and neighbours are folded pairwise: (left carried through as many zero bytes as
    the right is long) XOR right, the CRC being linear.
    """
    size = len(data)
    if size < 2 * _CRC_CHUNK:
        crc = 0
        table = _CRC8
        for byte in bytes(data):
            crc = int(table[(crc ^ byte) & 0xFF]) ^ (crc >> 8)
        return crc
    n_chunks = 1 << max(0, math.ceil(math.log2(math.ceil(size / _CRC_CHUNK))))
    padded = np.zeros(n_chunks * _CRC_CHUNK, dtype=np.uint8)
    padded[padded.size - size :] = np.frombuffer(data, dtype=np.uint8)
    words = padded.view("<u2").reshape(n_chunks, _CRC_CHUNK // 2)
    registers = np.zeros(n_chunks, dtype=np.uint16)
    for column in words.T:
        registers = _CRC16[registers ^ column]
    length = _CRC_CHUNK
    while registers.size > 1:
        registers = _zero_run(length)[registers[0::2]] ^ registers[1::2]
        length *= 2
    return int(registers[0])


# -- definitions and the index pass --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FieldDef:
    def_num: int
    size: int
    base: _BaseType
    offset: int  # from the start of the message (header byte at 0)
    count: int  # values of the base type


@dataclass(frozen=True, slots=True)
class _DevField:
    dev_index: int
    def_num: int
    size: int
    name: Any


_NO_MESSAGES: IntArray = np.empty(0, dtype=np.int64)
INT64_SIZE = 8


def _int64s(parts: list[bytes]) -> IntArray:
    """The native int64 values in ``parts``, viewed; the parts are joined once into one part."""
    if len(parts) > 1:
        parts[:] = [b"".join(parts)]
    return np.frombuffer(parts[0], dtype=np.int64) if parts else _NO_MESSAGES


@dataclass(slots=True, init=False)
class _Definition:
    """One definition message and the data messages that used it (their offsets and ordinals).

    Its ``__init__`` is written out: a file creates one per definition message, and the one a
    dataclass writes (default factories, ``__post_init__``) costs twice as much.
    """

    mesg_num: int
    endian: str
    fields: tuple[_FieldDef, ...]
    dev_fields: tuple[_DevField, ...]
    size: int  # of each data message, header byte included
    ordinal: int  # data messages read before this definition

    key: tuple[Any, ...]  # (message number, byte order, layout): what the caches key on
    n_messages: int
    _offset_parts: list[bytes] = field(repr=False)
    _ordinal_parts: list[bytes] = field(repr=False)
    _offsets: IntArray | None = field(repr=False)  # the parts, as one
    _ordinals: IntArray | None = field(repr=False)

    def __init__(
        self,
        mesg_num: int,
        endian: str,
        fields: tuple[_FieldDef, ...],
        dev_fields: tuple[_DevField, ...],
        size: int,
        ordinal: int,
        key: tuple[Any, ...] = (),
    ) -> None:
        self.mesg_num, self.endian, self.fields, self.dev_fields = (
            mesg_num,
            endian,
            fields,
            dev_fields,
        )
        self.size, self.ordinal, self.n_messages = size, ordinal, 0
        self._offset_parts, self._ordinal_parts = [], []
        self._offsets = self._ordinals = None
        self.key = key or (
            mesg_num,
            endian,
            tuple((f.def_num, f.size, f.base.identifier) for f in fields),
        )

    def add(self, offsets: bytes, ordinals: bytes) -> None:
        """Take in more of its data messages (in file order, after those taken in before).

        ``offsets`` and ``ordinals`` hold native int64 values (as a walk gives them).
        """
        self._offset_parts.append(offsets)
        self._ordinal_parts.append(ordinals)
        self.n_messages += len(offsets) // INT64_SIZE

    def take(self, offsets: IntArray, ordinals: IntArray) -> None:
        """Take in all its data messages at once (int64 arrays, in file order)."""
        self.add(offsets.tobytes(), ordinals.tobytes())
        self._offsets, self._ordinals = offsets, ordinals

    def offsets(self) -> IntArray:
        """Where each of its data messages starts (its header byte), in file order."""
        if self._offsets is None or self._offsets.size != self.n_messages:
            self._offsets = _int64s(self._offset_parts)
        return self._offsets

    def ordinals(self) -> IntArray:
        """Each of its data messages' position among all data messages of the file."""
        if self._ordinals is None or self._ordinals.size != self.n_messages:
            self._ordinals = _int64s(self._ordinal_parts)
        return self._ordinals

    def offset_list(self) -> list[int]:
        """:meth:`offsets` as a list (cheaper than through an array for a message or two)."""
        return _int64_list(self._offset_parts)

    def ordinal_list(self) -> list[int]:
        """:meth:`ordinals` as a list."""
        return _int64_list(self._ordinal_parts)


def _int64_list(parts: list[bytes]) -> list[int]:
    """The native int64 values in ``parts``, as a list."""
    whole = parts[0] if len(parts) == 1 else b"".join(parts)
    values: list[int] = memoryview(whole).cast("q").tolist()
    return values


@dataclass(slots=True)
class _Index:
    definitions: list[_Definition] = field(default_factory=list)
    segment_ordinals: list[int] = field(default_factory=list)
    n_messages: int = 0
    compressed: bool = False
    dev_types: dict[Any, dict[Any, tuple[_BaseType, Any]]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # what was skipped -> how many times
    error: str | None = None  # fitparse's words for the decode error it stops at, if any
    truncated: bool = False  # that error is the end of the file

    def skip(self, what: str, count: int = 1) -> None:
        """Count something that could not be decoded and was skipped (see :data:`SKIPPED`)."""
        self.skipped[what] = self.skipped.get(what, 0) + count

    def stop(self, error: str, *, truncated: bool) -> None:
        """Decoding stops here, as fitparse's would: the messages read so far are kept."""
        self.error, self.truncated = error, truncated


_LAYOUTS: dict[bytes, tuple[int, str, tuple[_FieldDef, ...], int, tuple[Any, ...], int]] = {}
"""Definition bytes (after the header byte) -> (message number, byte order, fields, message size,
key, fields of a bad size) of the definitions without developer fields decoded so far."""
MAX_LAYOUTS = 4096
""":data:`_LAYOUTS` is emptied when it reaches this many layouts (bounded memory)."""


def _refuse(reason: str, detail: str = "") -> FastPathRefused:
    return FastPathRefused(reason, detail)


FITPARSE_EOF = "Tried to read {wanted} bytes from .FIT file but got {got}"
"""fitparse's ``FitEOFError`` message for a read that the file ends in (``FitFile._read``)."""
FITPARSE_UNDEFINED_LOCAL = "Got data message with invalid local message type {local}"
"""fitparse's ``FitParseError`` message for a data message of an undefined local type."""


def _cut_read(reads: Iterable[int], available: int) -> str:
    """The words of fitparse for the first of ``reads`` (byte counts, in order) the file ends in."""
    for wanted in reads:
        if wanted > available:
            return FITPARSE_EOF.format(wanted=wanted, got=max(available, 0))
        available -= wanted
    raise AssertionError("the reads fit in the bytes available")


def _definition_reads(data: bytes, p: int) -> Iterator[int]:
    """The reads fitparse makes of the definition at ``p`` (lazily: each count byte once read)."""
    yield from (1, 2, 3)  # header; reserved and byte order; message number and field count
    n_fields = data[p + 5]
    yield from (3,) * n_fields
    if data[p] & 0x20:
        yield 1
        yield from (3,) * data[p + 6 + 3 * n_fields]


def _definition_fits(data: bytes, p: int, end: int) -> bool:
    """Whether the definition message at ``p`` ends at or before ``end``."""
    if p + 6 > end:
        return False
    q = p + 6 + 3 * data[p + 5]
    if data[p] & 0x20:
        if q + 1 > end:
            return False
        q += 1 + 3 * data[q]
    return q <= end


def _count_cut_bad_sizes(data: bytes, p: int, end: int, index: _Index) -> None:
    """Count the fields of a bad size among those fitparse read of a definition the file ends in.

    ``ingest.fit`` counts each field as it reads its (number, size, base type) triple.
    """
    if p + 6 > end:
        return
    read = min(data[p + 5], (end - p - 6) // 3)
    for q in range(p + 6, p + 6 + 3 * read, 3):
        base = BASE.get(data[q + 2])
        if base is not None and data[q + 1] % base.size:
            index.skip("bad_field_size")


def _cut_undescribed_developer_field(data: bytes, p: int, end: int, index: _Index) -> bool:
    """Whether the definition at ``p``, cut at ``end``, reads an undescribed developer field whole."""
    if not data[p] & 0x20 or p + 6 > end or p + 7 + 3 * data[p + 5] > end:
        return False
    q = p + 6 + 3 * data[p + 5]  # the developer field count
    read = min(data[q], (end - q - 1) // 3)
    return any(
        index.dev_types.get(data[r + 2], {}).get(data[r]) is None
        for r in range(q + 1, q + 1 + 3 * read, 3)
    )


def _data_reads(definition: _Definition) -> list[int]:
    """The reads fitparse makes of one data message: the header byte, then field by field."""
    if any(d.name is None for d in definition.dev_fields):
        # fitparse reads (or refuses) a developer field the fast path steps over in its own way
        raise _refuse("truncated", "the file ends in a message with an undecoded developer field")
    return [1, *(f.size for f in definition.fields), *(d.size for d in definition.dev_fields)]


def _parse_definition(
    data: bytes, p: int, end: int, ordinal: int, index: _Index
) -> tuple[_Definition | None, int]:
    """Read the definition message at ``p``; return it and the offset after it.

    ``end`` is the end of the file: a definition may run past its segment's data, as fitparse
    reads it. One the file ends in gives ``None`` and stops the index (fitparse's error).
    A definition without developer fields depends on its bytes alone: the layouts seen are kept in
    :data:`_LAYOUTS` (files redefine the same message over and over, e.g. ``hrv`` per length).
    """
    header = data[p]
    if not header & 0x20 and p + 6 <= end:  # a layout seen before: it fits when its fields do
        native_end = p + 6 + 3 * data[p + 5]
        seen = _LAYOUTS.get(data[p + 2 : native_end]) if native_end <= end else None
        if seen is not None:
            if seen[5]:
                index.skip("bad_field_size", seen[5])
            return _Definition(
                seen[0], seen[1], seen[2], (), seen[3], ordinal, key=seen[4]
            ), native_end
    if not _definition_fits(data, p, end):
        if _cut_undescribed_developer_field(data, p, end, index):
            # fitparse stops at that field, with an error of its own (which depends on the
            # developer fields other files described before, in the same process)
            raise _refuse("truncated", "the file ends in a definition with an undescribed field")
        _count_cut_bad_sizes(data, p, end, index)
        index.stop(_cut_read(_definition_reads(data, p), end - p), truncated=True)
        return None, end
    bad_before = index.skipped.get("bad_field_size", 0)
    endian = ">" if data[p + 2] else "<"
    (mesg_num,) = struct.unpack_from(endian + "H", data, p + 3)
    n_fields = data[p + 5]
    q = p + 6
    fields = []
    offset = 1
    for _ in range(n_fields):
        def_num, size, base_num = data[q], data[q + 1], data[q + 2]
        q += 3
        base = BASE.get(base_num)
        if base is None:
            raise _refuse("unknown_base_type", f"base type {base_num:#x}, message {mesg_num}")
        if size == 0:
            raise _refuse("bad_field_size", f"field {def_num} of message {mesg_num}: 0 bytes")
        if size % base.size:
            # as fitdecode: read the field as bytes (no value the readers use), count it
            index.skip("bad_field_size")
            base = BASE[BYTE_BASE_TYPE]
        fields.append(_FieldDef(def_num, size, base, offset, size // base.size))
        offset += size
    dev_fields = []
    if header & 0x20:
        n_dev = data[q]
        q += 1
        for _ in range(n_dev):
            def_num, size, dev_index = data[q], data[q + 1], data[q + 2]
            q += 3
            described = index.dev_types.get(dev_index, {}).get(def_num)
            # developer fields are never read: one that is not described, has a bad size or is
            # numbered like the timestamp is stepped over by its size and counted
            if described is None:
                index.skip("unknown_developer_field")
                name: Any = None
            else:
                base, name = described
                if size == 0 or size % base.size or def_num == TIMESTAMP_DEF_NUM:
                    index.skip("bad_developer_field")
                    name = None
            if name is not None and name in NEEDED.get(mesg_num, ()):
                raise _refuse("developer_field_clash", f"{name!r} in message {mesg_num}")
            dev_fields.append(_DevField(dev_index, def_num, size, name))
            offset += size
    definition = _Definition(mesg_num, endian, tuple(fields), tuple(dev_fields), offset, ordinal)
    if not header & 0x20:
        if len(_LAYOUTS) >= MAX_LAYOUTS:
            _LAYOUTS.clear()
        bad_sizes = index.skipped.get("bad_field_size", 0) - bad_before
        _LAYOUTS[data[p + 2 : q]] = (
            mesg_num,
            endian,
            definition.fields,
            offset,
            definition.key,
            bad_sizes,
        )
    return definition, q


def _index(data: bytes, *, in_c: bool | None = None) -> _Index:
    """One pass over the headers: definitions, where each data message is, segment by segment.

    A segment is walked in C at once (:func:`_index_segment_c`) when the extension is built, else
    with the Python walk between definitions (:func:`_index_messages`); ``in_c`` chooses (tests).

    As fitparse reads a file: messages start while the header's data size is not used up, each
    is read whole (the last may run past the data size), the CRC follows the last one, and a file
    that ends early, or a data message of an undefined local type, stops decoding there
    (:meth:`_Index.stop`: the messages before are kept).
    """
    index = _Index()
    whole_segments = _segments_in_c() if in_c is None else in_c
    total = len(data)
    pos = 0
    while not index.segment_ordinals or pos < total:  # an empty file has one, cut short
        start = _segment_start(data, pos, index)
        if start is None:
            break
        (data_size,) = struct.unpack_from("<I", data, pos + 4)
        index.segment_ordinals.append(index.n_messages)
        if whole_segments:
            p = _index_segment_c(data, start, start + data_size, index)
        else:
            p = _index_messages(data, start, start + data_size, index)
        if index.error is not None:
            break
        if p + 2 > total:
            index.stop(FITPARSE_EOF.format(wanted=2, got=total - p), truncated=True)
            break
        (stored,) = struct.unpack_from("<H", data, p)
        if stored != fit_crc(memoryview(data)[pos:p]):
            raise _refuse("crc_mismatch", f"segment at byte {pos}")
        pos = p + 2
    return index


def _segment_start(data: bytes, pos: int, index: _Index) -> int | None:
    """Check the file header at ``pos``; return where its data starts.

    ``None`` when a chained file's header is cut short (decoding stops there, as fitparse's does);
    a first header cut short, or any header that is not a valid FIT header, is refused.
    """
    available = len(data) - pos
    if pos and available < 12:
        index.stop(FITPARSE_EOF.format(wanted=12, got=available), truncated=True)
        return None
    if available < 12 or data[pos + 8 : pos + 12] != b".FIT":
        raise _refuse("bad_header" if available >= 12 else "truncated", f"at byte {pos}")
    header_size = data[pos]
    if header_size not in (12, 14):
        raise _refuse("bad_header", f"header size {header_size} at byte {pos}")
    if available < header_size:
        if not pos:
            raise _refuse("truncated", f"header at byte {pos}")
        index.stop(FITPARSE_EOF.format(wanted=2, got=available - 12), truncated=True)
        return None
    if header_size == 14:
        (stored,) = struct.unpack_from("<H", data, pos + 12)
        if stored and stored != fit_crc(memoryview(data)[pos : pos + 12]):
            raise _refuse("header_crc_mismatch", f"at byte {pos}")
    return pos + header_size


def _run_length(buf: npt.NDArray[np.uint8], p: int, size: int, limit: int) -> tuple[int, bool]:
    """How many messages of ``size`` bytes with the same local type follow each other from ``p``.

    Same local type and definition means same size, so the run's headers sit ``size`` bytes apart;
    they are compared in growing windows so that a short run costs little. Also says whether any
    header of the run is a compressed-timestamp header: a run's headers may differ from its first
    (a compressed header among normal ones, another time offset) while keeping its local type.
    """
    header = int(buf[p])
    local = HEADER_LOCAL[header]
    compressed = bool(header & 0x80)
    count = 1
    window = RUN_PROBE
    while count < limit:
        stop = min(limit, count + window)
        headers = buf[p + count * size : p + stop * size : size]
        other = np.flatnonzero(headers != header)
        if other.size:
            variants = headers[other]
            ends = np.flatnonzero(HEADER_LOCAL[variants] != local)
            in_run = variants[: ends[0]] if ends.size else variants
            compressed = compressed or bool((in_run & 0x80).any())
            if ends.size:
                return count + int(other[ends[0]]), compressed
        count = stop
        window *= 16
    return count, compressed


WALK_END, WALK_DEFINITION, WALK_UNDEFINED, WALK_CUT = 0, 1, 2, 3
"""Why a walk stopped: the data's end, a definition message, an undefined local type, the file's end
in a message."""


@dataclass(frozen=True, slots=True)
class _Walked:
    """What one walk over data messages found (see :func:`_walk_python`)."""

    stop: int
    reason: int
    compressed: bool
    groups: tuple[tuple[int, bytes, bytes], ...]  # (local type, offsets, ordinals): native int64s


def _walk_python(data: bytes, start: int, end: int, sizes: Sequence[int], ordinal: int) -> _Walked:
    """Walk the data messages from ``start`` while they start before ``end``; stop at a definition.

    ``sizes`` gives each local type's message size (0: no definition). Stops at ``end``, at a
    definition message, at a data message of an undefined local type, or at one the file ends in
    (``reason``); a message that starts before ``end`` is read whole even past it, as fitparse
    reads it. Runs of same-type messages are stepped over with numpy (:func:`_run_length`).
    ``_fitwalk.segment`` (``ingest/_fitwalk.c``) does the same in C, through definitions too.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    header_local = _HEADER_LOCAL_LIST
    total = len(data)
    within = min(end, total)
    runs: dict[int, list[tuple[int, int, int]]] = {}
    compressed = False
    p, reason = start, WALK_END
    while p < end:
        if p >= total:
            reason = WALK_CUT
            break
        header = data[p]
        if header & 0xC0 == 0x40:
            reason = WALK_DEFINITION
            break
        local = header_local[header]
        size = sizes[local]
        if not size:
            reason = WALK_UNDEFINED
            break
        limit = (within - p) // size
        if limit < 1:
            if p + size > total:
                reason = WALK_CUT
                break
            limit = 1  # runs past the data size: fitparse reads it whole all the same
        if limit > 1 and header_local[data[p + size]] == local:
            count, in_run = _run_length(buf, p, size, limit)
        else:
            count, in_run = 1, bool(header & 0x80)
        compressed = compressed or in_run
        runs.setdefault(local, []).append((p, count, ordinal))
        ordinal += count
        p += count * size
    groups = tuple((local, *_expanded(runs[local], sizes[local])) for local in sorted(runs))
    return _Walked(p, reason, compressed, groups)


def _expanded(runs: list[tuple[int, int, int]], size: int) -> tuple[bytes, bytes]:
    """Offsets and ordinals, as native int64s, of every message of ``runs``.

    ``runs`` holds (offset, count, first ordinal) per run of same-type messages.
    """
    table = np.asarray(runs, dtype=np.int64).reshape(-1, 3)
    counts = table[:, 1]
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(counts) - counts, counts
    )
    offsets = np.repeat(table[:, 0], counts) + within * size
    return offsets.tobytes(), (np.repeat(table[:, 2], counts) + within).tobytes()


@cache
def _segments_in_c() -> bool:
    """Whether the index walks segments in C (the extension was built); logged once, at debug."""
    if _fitwalk is None:
        log.debug("FIT index: Python walk (the C extension ingest._fitwalk is not built)")
        return False
    log.debug("FIT index: C, a segment at a time (ingest._fitwalk)")
    return True


def _index_messages(data: bytes, p: int, end: int, index: _Index) -> int:
    """Index the messages that start before ``end`` (the data size's end); return where they end.

    The walk steps over data messages; each definition it stops at is parsed here, and the walk
    goes on with that local type's new message size.
    """
    local_defs: list[_Definition | None] = [None] * 16
    sizes = [0] * 16
    total = len(data)
    while True:
        walked = _walk_python(data, p, end, sizes, index.n_messages)
        _take_in(walked, local_defs, data, index)
        p = walked.stop
        if walked.reason == WALK_END:
            return p
        if walked.reason == WALK_DEFINITION:
            local = data[p] & 0x0F
            definition, p = _parse_definition(data, p, total, index.n_messages, index)
            if definition is None:
                return p
            local_defs[local], sizes[local] = definition, definition.size
            index.definitions.append(definition)
            continue
        _stop_at(data, p, walked.reason, local_defs, index)
        return p


def _stop_at(
    data: bytes, p: int, reason: int, local_defs: Sequence[_Definition | None], index: _Index
) -> None:
    """Stop the index at the data message at ``p`` (undefined, or cut short), in fitparse's words."""
    total = len(data)
    if reason == WALK_UNDEFINED:
        local = _HEADER_LOCAL_LIST[data[p]]
        index.stop(FITPARSE_UNDEFINED_LOCAL.format(local=local), truncated=False)
    elif p >= total:
        index.stop(FITPARSE_EOF.format(wanted=1, got=0), truncated=True)
    else:
        found = local_defs[_HEADER_LOCAL_LIST[data[p]]]
        assert found is not None
        index.stop(_cut_read(_data_reads(found), total - p), truncated=True)


def _index_segment_c(data: bytes, p: int, end: int, index: _Index) -> int:
    """:func:`_index_messages` in one C call that walks through the definitions too.

    ``_fitwalk.segment`` finds every definition and data message of the segment; the definitions
    are then parsed here in file order, and the developer field descriptions taken in between,
    as :func:`_index_messages` does walk by walk.
    """
    assert _fitwalk is not None
    stop, reason, compressed, found = _fitwalk.segment(data, p, end, index.n_messages)
    total = len(data)
    local_defs: list[_Definition | None] = [None] * 16
    developer: list[tuple[int, int, _Definition]] = []
    for offset, ordinal, local, size, offsets, ordinals in found:
        if developer:
            developer = _developer_before(developer, ordinal, data, index)
        definition, _ = _parse_definition(data, offset, total, ordinal, index)
        assert definition is not None  # C read the same bytes as whole
        assert definition.size == size
        local_defs[local] = definition
        index.definitions.append(definition)
        if offsets:
            definition.add(offsets, ordinals)
            index.n_messages += len(offsets) // INT64_SIZE
            if definition.mesg_num in (DEVELOPER_DATA_ID, FIELD_DESCRIPTION):
                positions = definition.offsets().tolist()
                developer.extend(
                    (n, o, definition)
                    for n, o in zip(definition.ordinals().tolist(), positions, strict=True)
                )
    index.compressed = index.compressed or compressed
    _developer_before(developer, index.n_messages, data, index)
    if reason == WALK_END:
        return stop
    if reason == WALK_DEFINITION:  # the file ends in this definition
        definition, stop = _parse_definition(data, stop, total, index.n_messages, index)
        assert definition is None
        return stop
    _stop_at(data, stop, reason, local_defs, index)
    return stop


def _developer_before(
    developer: list[tuple[int, int, _Definition]], ordinal: int, data: bytes, index: _Index
) -> list[tuple[int, int, _Definition]]:
    """Take in the developer messages read before ``ordinal`` (in file order); return the rest."""
    developer.sort(key=lambda message: message[0])
    for n, offset, definition in developer:
        if n >= ordinal:
            break
        _developer_message(definition, data, offset, index)
    return [message for message in developer if message[0] >= ordinal]


def _take_in(
    walked: _Walked, local_defs: Sequence[_Definition | None], data: bytes, index: _Index
) -> None:
    """Hand the walked messages to their definitions; keep the developer field descriptions."""
    developer: list[tuple[int, int, _Definition]] = []
    for local, offsets, ordinals in walked.groups:
        definition = local_defs[local]
        assert definition is not None
        definition.add(offsets, ordinals)
        index.n_messages += len(offsets) // INT64_SIZE
        if definition.mesg_num in (DEVELOPER_DATA_ID, FIELD_DESCRIPTION):
            ordinal_list = np.frombuffer(ordinals, dtype=np.int64).tolist()
            offset_list = np.frombuffer(offsets, dtype=np.int64).tolist()
            developer.extend(
                (n, o, definition) for n, o in zip(ordinal_list, offset_list, strict=True)
            )
    index.compressed = index.compressed or walked.compressed
    for _, offset, definition in sorted(developer, key=lambda message: message[0]):
        _developer_message(definition, data, offset, index)


# -- decoding one message the way fitparse does ---------------------------------------------------


def _row_raws(definition: _Definition, data: bytes, offset: int) -> list[Any]:
    """Raw values of the native fields of one message, as fitparse parses them."""
    return _read_raws(_raw_reader(definition.key, None), data, offset)


def _read_raws(reader: _RawReader, data: bytes, offset: int) -> list[Any]:
    """The raws one :func:`_raw_reader` reads (``None`` at the positions it does not read)."""
    layout, n_fields, plan = reader
    items = layout.unpack_from(data, offset)
    raws: list[Any] = [None] * n_fields
    i = 0
    for position, base, n in plan:
        if base.kind == "string":
            raws[position] = base.parse(items[i])
            i += 1
            continue
        values = items[i : i + n]
        i += n
        if base.kind == "byte":
            raws[position] = base.parse(values)
        elif n == 1:
            raws[position] = base.parse(values[0])
        else:
            raws[position] = tuple(base.parse(v) for v in values)
    return raws


_RawReader = tuple[struct.Struct, int, tuple[tuple[int, "_BaseType", int], ...]]


@cache
def _raw_reader(key: tuple[Any, ...], needed: frozenset[str] | None) -> _RawReader:
    """How to read the raws :func:`_row_values` needs for ``needed`` names (all when ``None``).

    Those are the fields that can give a needed name and every field a sub-field of theirs (or of
    their components' targets) is selected by; the other fields' bytes are stepped over.
    """
    mesg_num, endian, layout = key
    if needed is None:
        positions = set(range(len(layout)))
    else:
        mesg_type = MESSAGE_TYPES[mesg_num]
        plan = _row_plan(key, needed)
        refs: set[int] = set()
        for _, profile_field in plan:
            for variant in _variants(profile_field):
                targets = [mesg_type.fields[c.def_num] for c in variant.components or ()]
                for target in (variant, *targets):
                    for sub in getattr(target, "subfields", None) or ():
                        refs |= {ref.def_num for ref in sub.ref_fields}
        positions = {position for position, _ in plan}
        positions |= {i for i, (def_num, _, _) in enumerate(layout) if def_num in refs}
    parts = []
    reads = []
    for position, (_, size, base_num) in enumerate(layout):
        base = BASE[base_num]
        if position not in positions:
            parts.append(f"{size}x")
        elif base.kind == "string":
            parts.append(f"{size}s")
            reads.append((position, base, 1))
        else:
            parts.append(f"{size // base.size}{base.fmt}")
            reads.append((position, base, size // base.size))
    return struct.Struct(endian + "x" + "".join(parts)), len(layout), tuple(reads)


def _resolve(profile_field: Any, fields: Sequence[_FieldDef], raws: Sequence[Any]) -> Any:
    """The sub-field that the message's reference fields select, else the field (fitparse's rule)."""
    for sub in profile_field.subfields or ():
        for ref in sub.ref_fields:
            for f, raw in zip(fields, raws, strict=False):
                if f.def_num == ref.def_num and ref.raw_value == raw:
                    return sub
    return profile_field


def _scale_offset(profile_field: Any, value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_scale_offset(profile_field, v) for v in value)
    if isinstance(value, int | float):
        if profile_field.scale:
            value = float(value) / profile_field.scale
        if profile_field.offset:
            value = value - profile_field.offset
    return value


def _processed(type_name: str, value: Any) -> Any:
    """Fitparse's default type processor, for the types the readers use.

    Where fitparse makes a naive UTC datetime of a ``date_time`` (from 0x10000000 on), the value
    is kept as :class:`~ingest.fit_common.FitSeconds`, which
    :func:`~ingest.fit_common.as_time` (the reader of the small messages' times) reads as it reads
    fitparse's datetime: no datetime is built only for its seconds to be read back.
    """
    if type_name == "date_time" and value is not None and value >= RELATIVE_TIME_LIMIT:
        return FitSeconds(value)
    return value


def _names_of(mesg_type: Any, profile_field: Any) -> set[str]:
    """Every name a field can appear under: itself, its sub-fields, its components' targets."""
    names = {v.name for v in _variants(profile_field)}
    for variant in _variants(profile_field):
        for component in variant.components or ():
            names |= {v.name for v in _variants(mesg_type.fields[component.def_num])}
    return names


@cache
def _row_plan(key: tuple[Any, ...], needed: frozenset[str]) -> tuple[tuple[int, Any], ...]:
    """(position, profile field) of the fields of a layout that can give one of ``needed``."""
    mesg_num, _, layout = key
    mesg_type = MESSAGE_TYPES[mesg_num]
    plan = []
    for position, (def_num, _, _) in enumerate(layout):
        profile_field = mesg_type.fields.get(def_num)
        if profile_field is not None and _names_of(mesg_type, profile_field) & needed:
            for variant in _variants(profile_field):
                for component in variant.components or ():
                    if component.accumulate and component.name in needed:
                        raise _refuse("unsupported_field", f"accumulated {component.name}")
            plan.append((position, profile_field))
    return tuple(plan)


def _row_values(
    definition: _Definition, raws: Sequence[Any], needed: frozenset[str]
) -> dict[str, Any]:
    """Fitparse's ``message.get_values()``, restricted to ``needed`` names (later fields win).

    The fields without sub-fields or components are read by a step worked out once per layout
    (:func:`_row_program`); the others field by field, as fitparse resolves them. Times are
    kept as :func:`_processed` keeps them.
    """
    fields = definition.fields
    values: dict[str, Any] = {}
    for step in _row_program(definition.key, needed):
        if isinstance(step, _PlainStep):
            raw = raws[step.position]
            if step.names is not None:
                raw = step.names.get(raw, raw)
            if step.scaled:
                raw = _scale_offset(step.profile_field, raw)
            if step.date_time:
                raw = _processed("date_time", raw)
            values[step.name] = raw
        else:
            _field_values_into(values, definition.mesg_num, step, fields, raws, needed)
    return values


def _field_values_into(
    values: dict[str, Any],
    mesg_num: int,
    step: tuple[int, Any],
    fields: Sequence[_FieldDef],
    raws: Sequence[Any],
    needed: frozenset[str],
) -> None:
    """One field's values as fitparse gives them: its sub-field resolved, its components read."""
    position, profile_field = step
    mesg_type = MESSAGE_TYPES[mesg_num]
    raw = raws[position]
    resolved = _resolve(profile_field, fields, raws)
    for component in resolved.components or ():
        target = _resolve(mesg_type.fields[component.def_num], fields, raws)
        if target.name not in needed:
            continue
        try:
            component_raw = component.render(raw)
        except ValueError:
            continue
        value = target.render(_scale_offset(component, component_raw))
        values[target.name] = _processed(target.type.name, value)
    if resolved.name in needed:
        value = _scale_offset(resolved, resolved.render(raw))
        values[resolved.name] = _processed(resolved.type.name, value)


@dataclass(frozen=True, slots=True)
class _PlainStep:
    """A field with neither sub-fields nor components: what fitparse does to its raw value.

    Its type's names (an enum) when it has any, then scale and offset, then the ``date_time`` rule.
    """

    position: int
    name: str
    profile_field: Any
    names: Mapping[Any, Any] | None
    scaled: bool
    date_time: bool


@cache
def _row_program(
    key: tuple[Any, ...], needed: frozenset[str]
) -> tuple[_PlainStep | tuple[int, Any], ...]:
    """The steps of :func:`_row_values` for a layout: a :class:`_PlainStep` where a field allows it.

    A plain field whose name is not needed gives no step.
    """
    steps: list[_PlainStep | tuple[int, Any]] = []
    for position, profile_field in _row_plan(key, needed):
        if profile_field.subfields or profile_field.components:
            steps.append((position, profile_field))
        elif profile_field.name in needed:
            steps.append(
                _PlainStep(
                    position,
                    profile_field.name,
                    profile_field,
                    profile_field.type.values or None,
                    bool(profile_field.scale or profile_field.offset),
                    profile_field.type.name == "date_time",
                )
            )
    return tuple(steps)


def _first_raw(definition: _Definition, raws: Sequence[Any], name: str) -> Any:
    """Fitparse's ``get_raw_value``: the raw value of the first field of that name."""
    position = _first_positions(definition.key).get(name)
    return None if position is None else raws[position]


@cache
def _first_positions(key: tuple[Any, ...]) -> dict[str, int]:
    """Per field name of a layout, the position of its first field of that name."""
    fields = MESSAGE_TYPES[key[0]].fields
    positions: dict[str, int] = {}
    for position, (def_num, _, _) in enumerate(key[2]):
        if def_num in fields:
            positions.setdefault(fields[def_num].name, position)
    return positions


def _developer_message(definition: _Definition, data: bytes, offset: int, index: _Index) -> None:
    """Keep the developer field descriptions fitparse would register (per file, in file order)."""
    _check_definition(definition)
    raws = _row_raws(definition, data, offset)
    dev_index = _first_raw(definition, raws, "developer_data_index")
    if definition.mesg_num == DEVELOPER_DATA_ID:
        index.dev_types[dev_index] = {}
        return
    if dev_index not in index.dev_types or not isinstance(dev_index, int):
        raise _refuse("unknown_developer_field", f"description for developer {dev_index}")
    base = BASE.get(_first_raw(definition, raws, "fit_base_type_id"))
    if base is None:
        raise _refuse("unknown_base_type", "in a developer field description")
    number_ = _first_raw(definition, raws, "field_definition_number")
    name = _first_raw(definition, raws, "field_name") or f"unnamed_dev_field_{number_}"
    index.dev_types[dev_index][number_] = (base, name)


# -- checks: shapes fitparse itself would fail on ------------------------------------------------


def _variants(profile_field: Any) -> list[Any]:
    return [profile_field, *(profile_field.subfields or ())]


@cache
def _check_layout(key: tuple[Any, ...]) -> tuple[int, ...]:
    """Refuse layouts on which fitparse fails part-way; return fields needing a value check.

    Fields with components must be scalar integers or bytes; date/time fields and the timestamp
    (field 253, which drives compressed timestamps in any message) scalar integers of at most 32
    bits. Returns the positions of ``localtime_into_day`` fields (fitparse fails on values of a
    day or more).
    """
    mesg_num, _, layout = key
    mesg_type = MESSAGE_TYPES.get(mesg_num)
    day_fields = []
    for position, (def_num, size, base_num) in enumerate(layout):
        base = BASE[base_num]
        scalar_int = base.kind == "int" and size == base.size
        small_int = scalar_int and size <= 4
        if def_num == TIMESTAMP_DEF_NUM and not small_int:
            raise _refuse("unsupported_field", f"timestamp of message {mesg_num} as {base.name}")
        profile_field = mesg_type.fields.get(def_num) if mesg_type else None
        if profile_field is None:
            continue
        variants = _variants(profile_field)
        has_components = any(v.components for v in variants)
        if has_components and not (scalar_int or base.kind == "byte"):
            raise _refuse(
                "unsupported_field", f"{profile_field.name} as {size} bytes of {base.name}"
            )
        if any(c.accumulate for v in variants[1:] for c in v.components or ()):
            raise _refuse("unsupported_field", f"accumulated sub-field of {profile_field.name}")
        types = {v.type.name for v in variants}
        if types & PROCESSED_TYPES and not small_int:
            raise _refuse(
                "unsupported_field", f"{profile_field.name} as {size} bytes of {base.name}"
            )
        if "localtime_into_day" in types:
            day_fields.append(position)
    return tuple(day_fields)


def _check_definition(definition: _Definition) -> None:
    _check_layout(definition.key)


# -- columnar decoding ----------------------------------------------------------------------------


def _table(definition: _Definition, data: bytes, positions: Sequence[int]) -> npt.NDArray[Any]:
    """All messages of a definition as one structured array with the fields at ``positions``.

    Messages that follow each other in the file are read in place; otherwise they are taken from
    a read-only view that starts a message at every byte of the file (no copy until the take).
    """
    size, n = definition.size, definition.n_messages
    dtype = _table_dtype(definition.key, size, tuple(positions))
    if not n:
        return np.empty(0, dtype=dtype)
    starts = definition.offsets()
    if int(starts[-1]) - int(starts[0]) == (n - 1) * size:  # one after the other: a view
        return np.frombuffer(data, dtype=dtype, count=n, offset=int(starts[0]))
    at_every_byte = np.ndarray((len(data) - size + 1,), dtype=dtype, buffer=data, strides=(1,))
    return at_every_byte[starts]


@cache
def _table_dtype(key: tuple[Any, ...], size: int, positions: tuple[int, ...]) -> np.dtype[Any]:
    """The structured dtype of :func:`_table`: fields ``f<position>`` of a message of ``size`` bytes."""
    _, endian, layout = key
    starts = np.cumsum([1, *(field_size for _, field_size, _ in layout)]).tolist()
    names: list[str] = []
    formats: list[Any] = []
    for position in positions:
        _, field_size, base_num = layout[position]
        base = BASE[base_num]
        names.append(f"f{position}")
        if base.kind in ("byte", "string"):
            formats.append(("u1", (field_size,)))
        else:
            count = field_size // base.size
            code = endian + base.fmt
            formats.append((code, (count,)) if count > 1 else code)
    offsets = [starts[position] for position in positions]
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": size})


def _parsed(f: _FieldDef, column: npt.NDArray[Any]) -> FloatArray:
    """A numeric column as float64, NaN where fitparse gives ``None``."""
    values = column.astype(np.float64)
    if f.base.kind == "int":
        values[column == f.base.invalid] = np.nan
    return values


def _int_parsed(f: _FieldDef, column: npt.NDArray[Any]) -> tuple[IntArray, BoolArray]:
    """An integer (or byte-array, read little-endian) column as int64 and its validity."""
    if f.base.kind == "byte":
        as_bytes = column.astype(np.int64)
        valid = ~(column == 0xFF).all(axis=1)
        weights = np.left_shift(np.int64(1), 8 * np.arange(column.shape[1], dtype=np.int64))
        return (as_bytes * weights).sum(axis=1), valid
    return column.astype(np.int64), column != f.base.invalid


def _numbers(definition: _Definition, data: bytes, positions: tuple[int, ...]) -> FloatArray:
    """The fields at ``positions`` (each one int or float value) of every message, as float64.

    Row ``i`` holds field ``positions[i]`` of each message in order, NaN where the value is the
    base type's invalid value (as :func:`_parsed` reads one column). In C when
    ``ingest._fitwalk`` is built (one call for every field), else :func:`_numbers_python`.
    """
    if _fitwalk is None or not positions:
        return _numbers_python(definition, data, positions)
    spec = _number_spec(definition.key, positions)
    read = _fitwalk.numbers(data, definition.offsets(), spec, definition.endian == ">")
    return np.frombuffer(read, dtype=np.float64).reshape(len(positions), definition.n_messages)


def _numbers_python(definition: _Definition, data: bytes, positions: tuple[int, ...]) -> FloatArray:
    """:func:`_numbers` with numpy, a column at a time."""
    if not positions:
        return np.empty((0, definition.n_messages))
    table = _table(definition, data, positions)
    return np.stack([_parsed(definition.fields[p], table[f"f{p}"]) for p in positions])


@cache
def _number_spec(key: tuple[Any, ...], positions: tuple[int, ...]) -> bytes:
    """The fields at ``positions`` of a layout as ``_fitwalk.numbers`` takes them."""
    assert _fitwalk is not None
    layout = key[2]
    starts = np.cumsum([1, *(size for _, size, _ in layout)]).tolist()
    spec = []
    for position in positions:
        _, size, base_num = layout[position]
        base = BASE[base_num]
        if base.kind == "float":
            kind, invalid = _fitwalk.SPEC_FLOAT, 0
        else:
            signed = base.fmt.islower()
            kind = _fitwalk.SPEC_SIGNED if signed else _fitwalk.SPEC_UNSIGNED
            invalid = (base.invalid or 0) % (1 << (8 * size))
        spec.append(struct.pack("<HBBQ", starts[position], size, kind, invalid))
    return b"".join(spec)


@dataclass(frozen=True, slots=True)
class _Source:
    """Where the last value of a name in a message comes from: a field or one of its components."""

    position: int
    profile_field: Any
    component: Any = None


@cache
def _sources(key: tuple[Any, ...], names: frozenset[str]) -> dict[str, _Source]:
    """For each name, the field or component whose value fitparse's ``get_values`` keeps (the last).

    Only for messages without sub-fields (``record``, ``hrv``), where this does not vary by message.
    """
    mesg_num, _, layout = key
    mesg_type = MESSAGE_TYPES[mesg_num]
    sources: dict[str, _Source] = {}
    for position, (def_num, size, base_num) in enumerate(layout):
        profile_field = mesg_type.fields.get(def_num)
        if profile_field is None:
            continue
        if profile_field.subfields:
            raise _refuse("unsupported_field", f"sub-fields in message {mesg_num}")
        for component in profile_field.components or ():
            target = mesg_type.fields[component.def_num]
            if target.name not in names:
                continue
            if BASE[base_num].kind == "byte" and component.bit_offset >= 8 * size:
                continue  # fitparse skips a component beyond the bytes read
            if size > 7 or target.type.values or target.type.name in PROCESSED_TYPES:
                raise _refuse(
                    "unsupported_field", f"component {target.name} of {profile_field.name}"
                )
            sources[target.name] = _Source(position, target, component)
        if profile_field.name in names:
            sources[profile_field.name] = _Source(position, profile_field)
    return sources


@dataclass(slots=True)
class _Accumulated:
    """Component values accumulated across messages (fitparse's per-message-type accumulators)."""

    bits: int
    ordinals: list[IntArray] = field(default_factory=list)
    raws: list[IntArray] = field(default_factory=list)
    valid: list[BoolArray] = field(default_factory=list)
    targets: list[tuple[int, str | None, Any]] = field(default_factory=list)


def _accumulate(parts: _Accumulated, resets: Sequence[int]) -> list[IntArray]:
    """Accumulated values per part: raw plus 2**bits per wrap since the last reset, in file order.

    fitparse adds ``2**bits`` whenever a value is below the previous one and restarts from zero at
    each definition of the message; invalid values are skipped and leave the accumulator alone.
    """
    ordinals = np.concatenate(parts.ordinals)
    raws = np.concatenate(parts.raws)
    valid = np.concatenate(parts.valid)
    order = np.argsort(ordinals, kind="stable")
    keep = order[valid[order]]  # valid messages, in file order
    accumulated = np.zeros_like(raws)
    if keep.size:
        kept_raw = raws[keep]
        segment = np.searchsorted(
            np.sort(np.asarray(resets, dtype=np.int64)), ordinals[keep], "right"
        )
        first = np.concatenate([[True], segment[1:] != segment[:-1]])
        previous = np.concatenate([[0], kept_raw[:-1]])
        previous[first] = 0
        wrapped = kept_raw < previous
        wraps = np.cumsum(wrapped)
        before_segment = np.maximum.accumulate(np.where(first, wraps - wrapped, 0))
        accumulated[keep] = kept_raw + ((wraps - before_segment) << parts.bits)
    bounds = np.cumsum([0, *(len(x) for x in parts.ordinals)])
    return [accumulated[bounds[i] : bounds[i + 1]] for i in range(len(parts.ordinals))]


@dataclass(slots=True)
class _RecordGroup:
    """Record columns (of one layout, or of several merged in file order) and their timestamps.

    The timestamps as read (ints, with where there is one), or as floats (NaN: none).

    A timestamp read as a plain number (at most 4 bytes) is exact as a float: ``times`` holds
    it, and the ints are worked out from it when asked for.
    """

    ordinals: IntArray
    columns: dict[str, FloatArray]
    times: FloatArray | None = None
    ints: tuple[IntArray, BoolArray] | None = None

    def timestamps(self) -> tuple[IntArray, BoolArray]:
        """The timestamps as ints (0 where none) and where there is one."""
        if self.ints is None:
            assert self.times is not None
            valid = ~np.isnan(self.times)
            self.ints = (np.where(valid, self.times, 0).astype(np.int64), valid)
        return self.ints


def _field_values(source: _Source, f: _FieldDef, column: npt.NDArray[Any]) -> FloatArray:
    """A record field's values; null when it is not one number per message.

    fitparse gives an array or bytes where a number belongs, which the readers take as no value,
    without counting it (a field read as bytes because of its bad size was counted once, with its
    definition): the same here, so that both decoders report the same.
    """
    if source.profile_field.type.values:
        raise _refuse("unsupported_field", f"{source.profile_field.name} as an enum")
    if f.base.kind not in ("int", "float") or f.count != 1:
        return np.full(len(column), np.nan)
    return _scaled(source.profile_field, _parsed(f, column))


def _scaled(profile_field: Any, values: FloatArray) -> FloatArray:
    if profile_field.scale:
        values = values / profile_field.scale
    if profile_field.offset:
        values = values - profile_field.offset
    return values


@cache
def _accumulating(key: tuple[Any, ...], names: frozenset[str]) -> tuple[tuple[int, Any], ...]:
    """(position, component) of every accumulated component rendered into one of ``names``.

    fitparse accumulates each rendered component, whether or not a later field overrides its name.
    """
    mesg_num, _, layout = key
    mesg_type = MESSAGE_TYPES[mesg_num]
    found = []
    for position, (def_num, size, base_num) in enumerate(layout):
        profile_field = mesg_type.fields.get(def_num)
        for component in (profile_field.components or ()) if profile_field else ():
            if not component.accumulate or mesg_type.fields[component.def_num].name not in names:
                continue
            if BASE[base_num].kind == "byte" and component.bit_offset >= 8 * size:
                continue
            found.append((position, component))
    return tuple(found)


@cache
def _accumulators_reset(key: tuple[Any, ...]) -> tuple[int, ...]:
    """The accumulators a definition of this record layout restarts (as fitparse's do)."""
    fields = MESSAGE_TYPES[RECORD].fields
    return tuple(
        component.def_num
        for def_num, _, _ in key[2]
        if def_num in fields
        for component in fields[def_num].components or ()
        if component.accumulate
    )


@dataclass(frozen=True, slots=True)
class _RecordPlan:
    """What :func:`_decode_records` reads of one record layout (worked out once per layout).

    ``numeric``: positions of the fields read as plain numbers (one int or float value each, by
    :func:`_numbers`), ``row``: each one's row in that matrix; ``positions``: the fields read
    from the structured table (components, accumulators, anything else).
    """

    sources: Mapping[str, _Source]
    accumulating: tuple[tuple[int, Any], ...]
    numeric: tuple[int, ...]
    row: Mapping[int, int]
    scaled: tuple[FloatArray, FloatArray] | None  # each row's scale and offset, if any has one
    positions: tuple[int, ...]
    chosen: Mapping[tuple[int, int], str]  # (position, id of component) -> name it renders


def _plain_number(field: tuple[int, int, int], *, timestamp: bool = False) -> bool:
    """Whether a (number, size, base type) field holds one int or float value.

    A timestamp only up to 4 bytes: its integer value must survive the float64 matrix exactly.
    """
    _, size, base_num = field
    base = BASE[base_num]
    if base.kind not in ("int", "float") or size != base.size:
        return False
    return not timestamp or size <= 4


@cache
def _record_plan(key: tuple[Any, ...]) -> _RecordPlan:
    layout = key[2]
    sources = _sources(key, RECORD_NAMES)
    accumulating = _accumulating(key, RECORD_NAMES)
    numeric = sorted(
        {
            s.position
            for name, s in sources.items()
            if s.component is None
            and not s.profile_field.type.values
            and _plain_number(layout[s.position], timestamp=name == "timestamp")
        }
    )
    others = {s.position for s in sources.values() if s.position not in numeric}
    positions = sorted(others | {p for p, _ in accumulating})
    chosen = {(s.position, id(s.component)): name for name, s in sources.items() if s.component}
    row = {position: i for i, position in enumerate(numeric)}
    by_position = {s.position: s.profile_field for s in sources.values() if s.position in row}
    scale = np.array([by_position[p].scale or 1 for p in numeric], dtype=np.float64)
    offset = np.array([by_position[p].offset or 0 for p in numeric], dtype=np.float64)
    # dividing by 1 and subtracting 0 change no float: the rows without either are left as read
    scaled = (scale[:, None], offset[:, None]) if (scale != 1).any() or offset.any() else None
    return _RecordPlan(sources, accumulating, tuple(numeric), row, scaled, tuple(positions), chosen)


def _decode_records(
    definition: _Definition,
    data: bytes,
    accumulated: dict[int, _Accumulated],
    group: int,
) -> _RecordGroup:
    """The record columns of one definition (accumulated components are filled in later)."""
    plan = _record_plan(definition.key)
    ordinals = definition.ordinals()
    n = ordinals.size
    matrix = _numbers(definition, data, plan.numeric)
    if plan.scaled is not None:  # as _scaled does, a row at a time
        matrix = matrix / plan.scaled[0] - plan.scaled[1]
    table = _table(definition, data, plan.positions) if plan.positions else None
    columns: dict[str, FloatArray] = {}
    decoded = _RecordGroup(ordinals, columns)
    for position, component in plan.accumulating:
        assert table is not None
        whole, valid = _int_parsed(definition.fields[position], table[f"f{position}"])
        parts = accumulated.setdefault(component.def_num, _Accumulated(component.bits))
        if parts.bits != component.bits:
            raise _refuse("accumulator_mismatch", f"component {component.name}")
        parts.ordinals.append(ordinals)
        parts.raws.append((whole >> component.bit_offset) & ((1 << component.bits) - 1))
        parts.valid.append(valid)
        parts.targets.append((group, plan.chosen.get((position, id(component))), component))
    for name, source in plan.sources.items():
        row = plan.row.get(source.position)
        if row is not None:  # one plain number (NaN where invalid)
            values = matrix[row]
            if name == "timestamp":
                decoded.times = values
            else:
                columns[name] = values
            continue
        assert table is not None
        f = definition.fields[source.position]
        column = table[f"f{source.position}"]
        if name == "timestamp":
            if source.component is not None:
                raise _refuse("unsupported_field", "timestamp from a component")
            decoded.ints = _int_parsed(f, column)
        elif source.component is None:
            columns[name] = _field_values(source, f, column)
        elif not source.component.accumulate:
            component = source.component
            whole, valid = _int_parsed(f, column)
            raw = (whole >> component.bit_offset) & ((1 << component.bits) - 1)
            values = np.where(valid, raw.astype(np.float64), np.nan)
            columns[name] = _scaled(component, values)
    if decoded.times is None and decoded.ints is None:  # no timestamp field
        decoded.ints = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.bool_))
    return decoded


def _hrv_intervals(definition: _Definition, data: bytes) -> tuple[IntArray, FloatArray, IntArray]:
    """(message ordinals, RR intervals in file order, intervals per message) of one definition."""
    sources = _sources(definition.key, HRV_NAMES)
    ordinals = definition.ordinals()
    source = sources.get("time")
    if source is None:
        return ordinals, np.empty(0), np.zeros(ordinals.size, dtype=np.int64)
    f = definition.fields[source.position]
    if source.component is not None or f.base.kind not in ("int", "float"):
        raise _refuse("unsupported_field", f"hrv time as {f.size} bytes of {f.base.name}")
    column = _table(definition, data, [source.position])[f"f{source.position}"]
    # an array of any length, one included (a 1-value field is a scalar column)
    values = _scaled(source.profile_field, _parsed(f, column)).reshape(ordinals.size, f.count)
    present = ~np.isnan(values)
    return ordinals, values[present], present.sum(axis=1)


@cache
def _timestamp_positions(key: tuple[Any, ...]) -> tuple[tuple[int, ...], bool]:
    """Positions of a layout's fields 253, and whether each is a plain integer of up to 4 bytes."""
    layout = key[2]
    positions = tuple(i for i, (def_num, _, _) in enumerate(layout) if def_num == TIMESTAMP_DEF_NUM)
    plain = all(
        BASE[layout[i][2]].kind == "int" and _plain_number(layout[i], timestamp=True)
        for i in positions
    )
    return positions, plain


def _timestamps_253(definition: _Definition, data: bytes) -> tuple[IntArray, IntArray] | None:
    """(ordinals, value) of the messages with a valid field 253 (the last valid one of each).

    The values the compressed-timestamp accumulator takes; ``None`` when the layout has none.
    """
    positions, plain = _timestamp_positions(definition.key)
    if not positions:
        return None
    ordinals = definition.ordinals()
    if plain and len(positions) == 1:  # one number below 2**32: exact in float64
        row = _numbers(definition, data, positions)[0]
        valid = ~np.isnan(row)
        return ordinals[valid], row[valid].astype(np.int64)
    table = _table(definition, data, positions)
    value = np.zeros(definition.n_messages, dtype=np.int64)
    valid = np.zeros(definition.n_messages, dtype=np.bool_)
    for position in positions:
        raw, ok = _int_parsed(definition.fields[position], table[f"f{position}"])
        value = np.where(ok, raw, value)
        valid |= ok
    return ordinals[valid], value[valid]


def _compressed_times(
    index: _Index, data: bytes, *, in_c: bool | None = None
) -> tuple[IntArray, IntArray]:
    """(ordinals, timestamps) of the compressed-timestamp messages, as fitparse accumulates them.

    The accumulator restarts at 0 with each chained file, takes the value of any valid field 253
    of any message, and each compressed header adds its 5-bit offset (rolling over 32 s). In one C
    call (``_fitwalk.compressed``) when the extension is built, else with numpy
    (:func:`_compressed_numpy`); ``in_c`` chooses (tests).
    """
    used = [d for d in index.definitions if d.n_messages]
    found = [f for f in (_timestamps_253(d, data) for d in used) if f is not None]
    if not (_segments_in_c() if in_c is None else in_c):
        return _compressed_numpy(index, data, used, found)
    assert _fitwalk is not None
    ordinals, times = _fitwalk.compressed(
        data,
        np.concatenate([d.offsets() for d in used]) if used else _NO_MESSAGES,
        np.concatenate([d.ordinals() for d in used]) if used else _NO_MESSAGES,
        np.concatenate([f[0] for f in found]) if found else _NO_MESSAGES,
        np.concatenate([f[1] for f in found]) if found else _NO_MESSAGES,
        np.asarray(index.segment_ordinals, dtype=np.int64),
    )
    return np.frombuffer(ordinals, dtype=np.int64), np.frombuffer(times, dtype=np.int64)


def _compressed_numpy(
    index: _Index,
    data: bytes,
    used: Sequence[_Definition],
    found: Sequence[tuple[IntArray, IntArray]],
) -> tuple[IntArray, IntArray]:
    """:func:`_compressed_times` with numpy: ``used`` definitions, ``found`` their field 253s.

    Keys order what happens at each message: its segment's restart at 0 (``3 * ordinal``), then
    its own field 253 (``3 * ordinal + 1``), then its compressed header (``3 * ordinal + 2``).
    """
    set_keys: list[IntArray] = [np.asarray(index.segment_ordinals, dtype=np.int64) * 3]
    set_values: list[IntArray] = [np.zeros(len(index.segment_ordinals), dtype=np.int64)]
    for set_ordinals, values in found:
        set_keys.append(set_ordinals * 3 + 1)
        set_values.append(values)
    keys, values = np.concatenate(set_keys), np.concatenate(set_values)
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    ordinals = np.concatenate([d.ordinals() for d in used]) if used else _NO_MESSAGES
    offsets = np.concatenate([d.offsets() for d in used]) if used else _NO_MESSAGES
    headers = np.frombuffer(data, dtype=np.uint8)[offsets]
    is_compressed = (headers & 0x80) != 0
    c_ordinals = ordinals[is_compressed]
    c_order = np.argsort(c_ordinals)
    c_ordinals = c_ordinals[c_order]
    c_offsets = (headers[is_compressed] & 0x1F).astype(np.int64)[c_order]
    last_set = np.searchsorted(keys, c_ordinals * 3 + 2, side="right") - 1
    if not c_ordinals.size:
        return c_ordinals, c_offsets
    # each header moves the accumulator to the next time with its 5 low bits: forward by
    # (offset - accumulator) mod 32; it restarts from the value of the last field 253 (or file)
    start = np.concatenate([[True], last_set[1:] != last_set[:-1]])
    restart = values[last_set]
    before = np.where(start, restart, np.concatenate([[0], c_offsets[:-1]]))
    steps = (c_offsets - before) & 0x1F
    walked = np.cumsum(steps)
    walked_before = (walked - steps)[start][np.cumsum(start) - 1]
    return c_ordinals, restart + walked - walked_before


# -- assembling ---------------------------------------------------------------------------------


def _records_frame(
    groups: list[_RecordGroup], compressed: tuple[IntArray, IntArray]
) -> tuple[pl.DataFrame, FloatArray, IntArray, bool]:
    """The records frame in file order.

    Also each record's time (NaN if none) and ordinal, and whether any time is device-relative.
    Each column is built once, in its final type; the columns no record has are copies of one
    column of nulls.
    """
    c_ordinals, c_times = compressed
    merged = _merged_groups(groups)
    if merged.times is not None and not c_ordinals.size:
        return _frame_of_group(merged)
    ordinals = merged.ordinals
    timestamp, valid = merged.timestamps()
    if c_ordinals.size:
        at = np.minimum(np.searchsorted(c_ordinals, ordinals), c_ordinals.size - 1)
        hit = c_ordinals[at] == ordinals
        timestamp = np.where(hit, c_times[at], timestamp)
        valid = valid | hit
    absolute = np.where(valid, timestamp.astype(np.float64), np.nan)
    return _frame_of_group(_RecordGroup(ordinals, merged.columns, times=absolute))


def _frame_of_group(group: _RecordGroup) -> tuple[pl.DataFrame, FloatArray, IntArray, bool]:
    """:func:`_records_frame` of one group of records (in file order) with its ``times``.

    The times are whole FIT seconds (NaN: none). Below 2**53 (any 32-bit FIT timestamp) they and
    the microseconds since 1970 worked out from them are exact as floats.
    """
    absolute = group.times
    assert absolute is not None
    absolute.flags.writeable = False  # the records' times: the frame and the sessions share them
    real = absolute >= RELATIVE_TIME_LIMIT  # NaN compares False
    micros = (absolute + FIT_EPOCH_UNIX_S) * 1_000_000.0
    all_real = bool(np.logical_and.reduce(real))  # real.all() without its Python wrapper
    if not all_real:
        micros = np.where(real, micros, np.nan)
    values: list[FloatArray | None] = [absolute, micros]  # RECORD_COLUMNS' order (a test holds it)
    columns = group.columns
    fraction = columns.get("fractional_cadence")
    for name, (sources, convert) in RECORD_FIELDS.items():
        found = mapped_column(columns, sources, convert)
        if name == "cadence_rpm" and found is not None and fraction is not None:
            found = found + np.nan_to_num(fraction, nan=0.0)  # as ingest.fit: cadence + fraction
        values.append(found)
    frame = float_frame(RECORD_COLUMNS, values, absolute.size)
    relative = not all_real and bool((absolute < RELATIVE_TIME_LIMIT).any())
    return frame, absolute, group.ordinals, relative


def _merged_groups(groups: list[_RecordGroup]) -> _RecordGroup:
    """The groups as one, its records in file order (times as floats when every group has them).

    Groups that follow each other in the file are joined as they are; interleaved ones sorted.
    """
    if len(groups) == 1:  # one layout: its messages are in file order already
        return groups[0]
    ordinals = np.concatenate([g.ordinals for g in groups])
    in_order = _bounds_follow(
        (int(g.ordinals[0]), int(g.ordinals[-1])) for g in groups if g.ordinals.size
    )
    order = None if in_order else np.argsort(ordinals, kind="stable")
    sizes = [g.ordinals.size for g in groups]
    columns = {
        name: _numbers_in_order([g.columns.get(name) for g in groups], sizes, order)
        for name in {name for g in groups for name in g.columns}
    }
    if all(g.times is not None for g in groups):
        times = np.concatenate([g.times for g in groups if g.times is not None])
        return _RecordGroup(
            ordinals if order is None else ordinals[order],
            columns,
            times=times if order is None else times[order],
        )
    stamps = [g.timestamps() for g in groups]
    timestamp = np.concatenate([t for t, _ in stamps])
    valid = np.concatenate([v for _, v in stamps])
    if order is not None:
        ordinals, timestamp, valid = ordinals[order], timestamp[order], valid[order]
    return _RecordGroup(ordinals, columns, ints=(timestamp, valid))


def _numbers_in_order(
    parts: Sequence[FloatArray | None], sizes: Sequence[int], order: IntArray | None
) -> FloatArray:
    """Parts of one column (``None``: a part without it, NaN) joined, then put in ``order``."""
    joined = [np.full(k, np.nan) if p is None else p for p, k in zip(parts, sizes, strict=True)]
    whole = np.concatenate(joined)
    return whole if order is None else whole[order]


def _small_rows(
    definitions: Sequence[_Definition], data: bytes, needed: frozenset[str]
) -> list[dict[str, Any]]:
    """Each message's values, one at a time with fitparse's rules, in file order."""
    if len(definitions) == 1:  # its messages are in file order
        definition = definitions[0]
        reader = _raw_reader(definition.key, needed)
        return [
            _row_values(definition, _read_raws(reader, data, offset), needed)
            for offset in definition.offset_list()
        ]
    if _parts_in_order([part for d in definitions for part in d._ordinal_parts]):
        return [  # one definition after the other (a layout defined again per lap, say)
            _row_values(definition, _read_raws(reader, data, offset), needed)
            for definition in definitions
            for reader in (_raw_reader(definition.key, needed),)
            for offset in definition.offset_list()
        ]
    rows: list[tuple[int, dict[str, Any]]] = []
    for definition in definitions:
        reader = _raw_reader(definition.key, needed)
        offsets, ordinals = definition.offset_list(), definition.ordinal_list()
        for offset, ordinal in zip(offsets, ordinals, strict=True):
            raws = _read_raws(reader, data, offset)
            rows.append((ordinal, _row_values(definition, raws, needed)))
    rows.sort(key=lambda row: row[0])
    return [values for _, values in rows]


@dataclass(frozen=True, slots=True)
class _Write:
    """One value a message may set in its values: ``name``, from the field at ``position``.

    Only in the messages where the field resolves to its variant number ``variant`` (0: the field
    itself, else that sub-field); read as ``kind`` (``"number"``, ``"enum"`` or ``"time"``) through
    ``render`` (the variant, or the component's target) and scaled by ``scaler`` (the variant, or
    the ``component``).
    """

    position: int
    variant: int
    name: str
    kind: str
    render: Any
    scaler: Any
    component: Any = None


@dataclass(frozen=True, slots=True)
class _BulkPlan:
    """How to decode all messages of one layout at once into the values :func:`_row_values` gives.

    Each message's fields are read with :func:`_raw_reader`'s struct into one row of a float64
    matrix (``invalid``: each column's invalid value, NaN for floats). ``selectors``: per field
    with sub-fields (by column), per sub-field, the (column, raw value) pairs that select it;
    ``writes`` in the order fitparse sets them (a later one wins); ``scale`` and ``offset``: of
    each write (1 and 0 when none).
    """

    reader: struct.Struct
    columns: Mapping[int, int]
    invalid: FloatArray
    selectors: Mapping[int, tuple[tuple[tuple[int, int], ...], ...]]
    writes: tuple[_Write, ...]
    scale: FloatArray
    offset: FloatArray


def _write_kind(profile: Any) -> str:
    if profile.type.values:
        return "enum"
    return "time" if profile.type.name == "date_time" else "number"


@cache
def _bulk_plan(
    key: tuple[Any, ...], needed: frozenset[str], numbers: frozenset[str]
) -> _BulkPlan | None:
    """The plan of :func:`_small_columns` for a layout; ``None`` for one it leaves to the rows.

    Decoded in bulk: scalar integer (up to 32 bits) and float fields, their sub-fields, and
    components of integer fields into plain numbers. ``numbers``: the names read as numbers.
    """
    plan = _row_plan(key, needed)  # refuses what the row path refuses, first
    reader, _, reads = _raw_reader(key, needed)
    if any(base.kind not in ("int", "float") or base.size > 4 or n != 1 for _, base, n in reads):
        return None
    columns = {position: column for column, (position, _, _) in enumerate(reads)}
    layout = key[2]
    selectors = {
        columns[position]: tuple(
            tuple(
                (columns[p], ref.raw_value)
                for ref in sub.ref_fields
                for p in columns
                if layout[p][0] == ref.def_num
            )
            for sub in profile_field.subfields
        )
        for position, profile_field in plan
        if profile_field.subfields
    }
    writes = [w for position, field_ in plan for w in _writes(key, position, field_, needed)]
    for write in writes:
        scaled = write.scaler.scale or write.scaler.offset
        if (write.kind != "enum") != (write.name in numbers) or (scaled and write.kind != "number"):
            return None
        if BASE[layout[write.position][2]].kind != "int" and (
            write.component is not None or write.kind != "number"
        ):
            return None
        if write.component is not None and write.render.subfields:
            return None
    return _BulkPlan(
        reader,
        columns,
        np.array([np.nan if base.invalid is None else base.invalid for _, base, _ in reads]),
        selectors,
        tuple(writes),
        np.array([w.scaler.scale or 1.0 for w in writes], dtype=np.float64),
        np.array([w.scaler.offset or 0.0 for w in writes], dtype=np.float64),
    )


def _writes(
    key: tuple[Any, ...], position: int, profile_field: Any, needed: frozenset[str]
) -> list[_Write]:
    """What a field may set, in :func:`_row_values`'s order: per variant, its components, itself."""
    mesg_type = MESSAGE_TYPES[key[0]]
    writes = []
    for number, variant in enumerate(_variants(profile_field)):
        for component in variant.components or ():
            target = mesg_type.fields[component.def_num]
            if target.name in needed:
                kind = _write_kind(target)
                writes.append(
                    _Write(position, number, target.name, kind, target, component, component)
                )
        if variant.name in needed:
            writes.append(
                _Write(position, number, variant.name, _write_kind(variant), variant, variant)
            )
    return writes


def _small_columns(definition: _Definition, data: bytes, plan: _BulkPlan) -> dict[str, Any]:
    """The messages of a definition at once, per name each message's value.

    In the definition's order; names read as numbers come as float64 arrays (NaN for
    ``None``), the others as lists (see :meth:`FitContent.add_small_columns`).
    """
    unpack = plan.reader.unpack_from
    offsets = definition.offsets().tolist()
    n = len(offsets)
    raws = np.array([unpack(data, offset) for offset in offsets], dtype=np.float64)
    raws = raws.reshape(n, plan.invalid.size)
    valid = raws != plan.invalid
    valid &= ~np.isnan(raws)
    values = np.where(valid, raws, np.nan)
    where = [plan.columns[write.position] for write in plan.writes]
    scaled = values[:, where] / plan.scale - plan.offset
    chosen = _chosen_variants(plan, raws, valid)
    numbers: dict[str, FloatArray] = {}
    objects: dict[str, list[Any]] = {}
    for i, (write, column) in enumerate(zip(plan.writes, where, strict=True)):
        variant = chosen.get(column)
        applies = None if variant is None else variant == write.variant
        if write.kind != "enum":  # a number, or a time in FIT seconds
            found = scaled[:, i]
            if write.component is not None:
                found = _component_values(write, raws[:, column], valid[:, column])
            if applies is not None:
                found = np.where(applies, found, numbers.get(write.name, np.nan))
            numbers[write.name] = found
            continue
        rendered = _enum_names(
            write, raws[:, column].astype(np.int64).tolist(), valid[:, column].tolist()
        )
        if applies is not None:
            before = objects.get(write.name, [None] * n)
            rendered = [
                r if a else b for r, a, b in zip(rendered, applies.tolist(), before, strict=True)
            ]
        objects[write.name] = rendered
    return {**numbers, **objects}


def _component_values(write: _Write, raw: FloatArray, valid: BoolArray) -> FloatArray:
    """A component's values out of its field's raw integers (NaN where the field is invalid)."""
    component = write.component
    whole = np.where(valid, raw, 0).astype(np.int64)
    bits = (whole >> component.bit_offset) & ((1 << component.bits) - 1)
    return np.where(valid, _scaled(component, bits.astype(np.float64)), np.nan)


def _chosen_variants(plan: _BulkPlan, raws: FloatArray, valid: BoolArray) -> dict[int, IntArray]:
    """Per field with sub-fields (by column), the variant each message resolves it to (0: itself)."""
    chosen = {}
    for column, subs in plan.selectors.items():
        variant = np.zeros(len(raws), dtype=np.int64)
        for number, pairs in reversed(list(enumerate(subs, start=1))):
            selected = np.zeros(len(raws), dtype=np.bool_)
            for ref_column, raw_value in pairs:
                selected |= valid[:, ref_column] & (raws[:, ref_column] == raw_value)
            variant[selected] = number  # the first sub-field that matches wins: it is set last
        chosen[column] = variant
    return chosen


def _enum_names(write: _Write, raws: list[Any], valid: list[bool]) -> list[Any]:
    """An enum's names of raw values as fitparse renders them (the raw value if unnamed)."""
    names = write.render.type.values
    return [names.get(raw, raw) if ok else None for raw, ok in zip(raws, valid, strict=True)]


def _check_values(index: _Index, data: bytes) -> None:
    """Every definition used by data messages passes :func:`_check_layout` (and day times)."""
    for definition in index.definitions:
        if not definition.n_messages:
            continue
        day_fields = _check_layout(definition.key)
        if day_fields:
            table = _table(definition, data, day_fields)
            for position in day_fields:
                f = definition.fields[position]
                values, valid = _int_parsed(f, table[f"f{position}"])
                if ((values[valid] < 0) | (values[valid] >= SECONDS_PER_DAY)).any():
                    raise _refuse("unsupported_field", "a time of day of a day or more")


def _content(data: bytes) -> FitContent:
    index = _index(data)
    _check_values(index, data)
    content = FitContent(
        skipped=index.skipped,
        error=ended_early(index.error) if index.truncated and index.error else index.error,
        truncated=index.truncated,
    )
    accumulated: dict[int, _Accumulated] = {}
    resets: dict[int, list[int]] = {}
    groups: list[_RecordGroup] = []
    hrv_parts: list[tuple[IntArray, FloatArray, IntArray]] = []
    records: list[_Definition] = []
    for definition in index.definitions:
        if definition.mesg_num == RECORD:
            for def_num in _accumulators_reset(definition.key):
                resets.setdefault(def_num, []).append(definition.ordinal)
            records.append(definition)
        elif definition.mesg_num == HRV and definition.n_messages:
            hrv_parts.append(_hrv_intervals(definition, data))
    for definition in _by_layout(records):  # a layout defined again and again is decoded once
        groups.append(_decode_records(definition, data, accumulated, len(groups)))
    for key, parts in accumulated.items():
        results = _accumulate(parts, resets.get(key, []))
        for (group, name, component), valid, values in zip(
            parts.targets, parts.valid, results, strict=True
        ):
            if name is not None:
                scaled = _scaled(component, values.astype(np.float64))
                groups[group].columns[name] = np.where(valid, scaled, np.nan)
    empty = np.empty(0, dtype=np.int64)
    compressed = _compressed_times(index, data) if index.compressed else (empty, empty)
    record_abs = np.empty(0)
    record_ordinals = np.empty(0, dtype=np.int64)
    if groups:
        content.records, record_abs, record_ordinals, content.clock_relative = _records_frame(
            groups, compressed
        )
        content.record_abs = record_abs
    if hrv_parts:
        content.rr_abs, content.rr_s = _hrv_times(hrv_parts, record_abs, record_ordinals)
    _small_messages(content, index, data)
    content.hr_events = _hr_events(index, data)
    return content


def _hr_column(
    definition: _Definition, table: npt.NDArray[Any], name: str
) -> tuple[_FieldDef, npt.NDArray[Any]] | None:
    """The field of that ``hr`` field name (last one wins, as raw values by number) and its column."""
    number = HR_FIELD_NUMBERS[name]
    found = None
    for position, f in enumerate(definition.fields):
        if f.def_num == number:
            found = (f, table[f"f{position}"].reshape(len(table), -1))
    return found


def _by_layout(definitions: Iterable[_Definition]) -> list[_Definition]:
    """The definitions with messages, those of one layout merged into one (messages in file order).

    Files define a message again and again with the same layout (``hr`` around each ``hrv``): one
    columnar pass per layout instead of one per definition. For readers of the layout only (the
    merged definition's ordinal and developer fields are its first definition's).
    """
    groups: dict[tuple[Any, ...], list[_Definition]] = {}
    for d in definitions:
        if d.n_messages:
            groups.setdefault((d.key, d.size), []).append(d)
    return [_merged(group) for group in groups.values()]


def _merged(group: list[_Definition]) -> _Definition:
    """One definition holding the messages of ``group`` (definitions of one layout), in file order."""
    if len(group) == 1:
        return group[0]
    first = group[0]
    merged = _Definition(
        first.mesg_num,
        first.endian,
        first.fields,
        first.dev_fields,
        first.size,
        first.ordinal,
        key=first.key,
    )
    ordinal_parts = [part for d in group for part in d._ordinal_parts]
    offset_parts = [part for d in group for part in d._offset_parts]
    if _parts_in_order(ordinal_parts):
        merged.add(b"".join(offset_parts), b"".join(ordinal_parts))
        return merged
    ordinals, offsets = _int64s(ordinal_parts), _int64s(offset_parts)
    order = np.argsort(ordinals, kind="stable")  # definitions used in turn (interleaved)
    merged.take(offsets[order], ordinals[order])
    return merged


def _parts_in_order(parts: Sequence[bytes]) -> bool:
    """Whether parts of ordinals, each increasing (as a walk gives them), follow each other."""
    return _bounds_follow(
        (_INT64.unpack_from(part)[0], _INT64.unpack_from(part, len(part) - INT64_SIZE)[0])
        for part in parts
        if part
    )


def _bounds_follow(bounds: Iterable[tuple[int, int]]) -> bool:
    """Whether increasing runs of ordinals, given by (first, last), follow each other."""
    last = -1
    for first, final in bounds:
        if first <= last:
            return False
        last = final
    return True


_INT64 = struct.Struct("=q")
"""One native int64 (the ordinals and offsets a walk gives)."""


def _hr_events(index: _Index, data: bytes) -> HrEvents | None:
    """The beats of every ``hr`` message, columnar; the same as ``hr_events_from_raws`` gives."""
    parts = []
    anchors = []
    message_ordinals = []
    for definition in _by_layout(d for d in index.definitions if d.mesg_num == HR):
        table = _table(definition, data, range(len(definition.fields)))
        ordinals = definition.ordinals()
        n = ordinals.size
        blocks: list[tuple[IntArray, BoolArray, BoolArray]] = []  # (value, full, valid) per event
        full = _hr_column(definition, table, "event_timestamp")
        if full is not None and full[0].base.kind == "int":
            f, column = full
            values = column.astype(np.int64)
            blocks.append((values, np.ones_like(values, bool), column != f.base.invalid))
        packed = _hr_column(definition, table, "event_timestamp_12")
        if packed is not None and packed[0].base.kind == "byte" and packed[1].shape[1] >= 3:
            raw = packed[1].astype(np.int64)
            count = raw.shape[1] * 8 // EVENT_12_BITS
            bit = EVENT_12_BITS * np.arange(count)
            byte, shift = bit // 8, bit % 8
            following = np.minimum(byte + 1, raw.shape[1] - 1)
            lows = ((raw[:, byte] | (raw[:, following] << 8)) >> shift) & 0xFFF
            absent = (raw == 0xFF).all(axis=1)[:, None]
            blocks.append((lows, np.zeros_like(lows, bool), np.broadcast_to(~absent, lows.shape)))
        if not blocks:
            continue
        value = np.concatenate([b[0] for b in blocks], axis=1)
        width = value.shape[1]
        bpm = np.full((n, width), np.nan)
        rates = _hr_column(definition, table, "filtered_bpm")
        if rates is not None and rates[0].base.kind == "int":
            f, column = rates
            k = min(width, column.shape[1])
            bpm[:, :k] = _parsed(f, column[:, :k])
        parts.append(
            (
                np.repeat(ordinals, width),
                np.concatenate([b[1] for b in blocks], axis=1).reshape(-1),
                value.reshape(-1),
                np.concatenate([b[2] for b in blocks], axis=1).reshape(-1),
                bpm.reshape(-1),
            )
        )
        anchors.append(_hr_anchor(definition, table, n))
        message_ordinals.append(ordinals)
    if not parts:
        return None
    ordinals = np.concatenate(message_ordinals)
    order = np.argsort(ordinals, kind="stable")
    event_ordinals = np.concatenate([p[0] for p in parts])
    event_order = np.argsort(event_ordinals, kind="stable")
    return HrEvents(
        message=np.searchsorted(ordinals[order], event_ordinals[event_order]),
        full=np.concatenate([p[1] for p in parts])[event_order],
        value=np.concatenate([p[2] for p in parts])[event_order],
        valid=np.concatenate([p[3] for p in parts])[event_order],
        bpm=np.concatenate([p[4] for p in parts])[event_order],
        anchor=np.concatenate(anchors)[order],
    )


def _hr_anchor(definition: _Definition, table: npt.NDArray[Any], n: int) -> FloatArray:
    """Per ``hr`` message: timestamp plus its fraction in FIT seconds, NaN without a timestamp."""
    anchor = np.full(n, np.nan)
    stamp = _hr_column(definition, table, "timestamp")
    if stamp is None or stamp[0].base.kind != "int" or stamp[1].shape[1] != 1:
        return anchor
    seconds = np.zeros(n)
    coarse = _hr_column(definition, table, "time256")
    fine = _hr_column(definition, table, "fractional_timestamp")
    for found, scale in ((coarse, 256), (fine, 32768)):  # the finer one wins where valid
        if found is not None and found[0].base.kind == "int" and found[1].shape[1] == 1:
            f, column = found
            valid = column[:, 0] != f.base.invalid
            seconds = np.where(valid, column[:, 0].astype(np.float64) / scale, seconds)
    f, column = stamp
    valid = column[:, 0] != f.base.invalid
    return np.where(valid, column[:, 0].astype(np.float64) + seconds, anchor)


def _hrv_times(
    parts: list[tuple[IntArray, FloatArray, IntArray]],
    record_abs: FloatArray,
    record_ordinals: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """RR intervals in file order, each with the time of the last timed record before its message."""
    keys = np.concatenate([np.repeat(ordinals, counts) for ordinals, _, counts in parts])
    intervals = np.concatenate([values for _, values, _ in parts])
    order = np.argsort(keys, kind="stable")
    keys, intervals = keys[order], intervals[order]
    timed = ~np.isnan(record_abs)
    timed_ordinals, timed_abs = record_ordinals[timed], record_abs[timed]
    last = np.searchsorted(timed_ordinals, keys, side="left") - 1
    if not timed_abs.size:
        return np.full(keys.size, np.nan), intervals
    return np.where(last >= 0, timed_abs[np.maximum(last, 0)], np.nan), intervals


def _small_messages(content: FitContent, index: _Index, data: bytes) -> None:
    """Laps, lengths, sessions, sport and file_id into ``content``, as ``ingest.fit`` collects them.

    Laps, lengths and sessions are decoded a layout at a time (:func:`_small_columns`) when there
    are at least :data:`BULK_FROM` of them and every layout of theirs allows it (:func:`_bulk_plan`);
    the others a message at a time.
    """
    used: dict[int, list[_Definition]] = {}
    for definition in index.definitions:
        if definition.n_messages and definition.mesg_num in SMALL_ROWS:
            used.setdefault(definition.mesg_num, []).append(definition)
    for name, mesg_num, needed in _SMALL_ORDER:
        definitions = used.get(mesg_num)
        if definitions is None:
            continue
        columns = _bulk_columns(definitions, data, mesg_num)
        if columns is not None:
            content.add_small_columns(name, columns, sum(d.n_messages for d in definitions))
            continue
        for values in _small_rows(definitions, data, needed):
            content.add_small(name, values)


def _bulk_columns(
    definitions: Sequence[_Definition], data: bytes, mesg_num: int
) -> dict[str, Any] | None:
    """The columns of all these messages in file order; ``None`` to decode them one at a time."""
    numbers = BULK_NUMBERS.get(mesg_num)
    if numbers is None or sum(d.n_messages for d in definitions) < BULK_FROM:
        return None
    layouts = _by_layout(definitions)  # one definition per layout, its messages in file order
    plans = [_bulk_plan(d.key, SMALL_ROWS[mesg_num], numbers) for d in layouts]
    parts = []
    for definition, plan in zip(layouts, plans, strict=True):
        if plan is None:
            return None
        parts.append(_small_columns(definition, data, plan))
    return _merged_columns([d.ordinals() for d in layouts], parts)


def _merged_columns(
    ordinals: Sequence[IntArray], parts: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Columns of several parts (each with its messages' ordinals, in order) as one, in file order."""
    if len(parts) == 1:
        return parts[0]
    sizes = [o.size for o in ordinals]
    order = np.argsort(np.concatenate(ordinals), kind="stable")
    merged: dict[str, Any] = {}
    for name in sorted({name for part in parts for name in part}):
        columns = [part.get(name) for part in parts]
        if all(c is None or isinstance(c, np.ndarray) for c in columns):
            merged[name] = _numbers_in_order(columns, sizes, order)
        else:
            values = [v for c, k in zip(columns, sizes, strict=True) for v in (c or [None] * k)]
            merged[name] = [values[i] for i in order.tolist()]
    return merged


def read_fit_fast(data: bytes) -> ParsedFile:
    """Decode a FIT file with the columnar decoder: the same result as :func:`ingest.fit.read_fit`.

    Parameters
    ----------
    data
        The file's bytes.

    Returns
    -------
    ParsedFile
        As :func:`ingest.fit.read_fit` returns it, with ``decoder="fit-columnar"``.

    Raises
    ------
    FastPathRefused
        The file is damaged or uses something the fast path does not decode (reason in
        ``.reason``, one of :data:`REFUSAL_REASONS`): decode it with fitparse.
    NotAnActivity
        A valid FIT file of another kind (settings, monitoring, ...) or with no records.

    Examples
    --------
    >>> parsed = read_fit_fast(Path("run.fit").read_bytes())  # doctest: +SKIP
    >>> parsed.decoder  # doctest: +SKIP
    'fit-columnar'
    """
    return assemble(_content(data), decoder=DECODER_NAME)


def read_fit_auto(data: bytes) -> ParsedFile:
    """Decode a FIT file with the fast path, or with fitparse when the fast path refuses it.

    Parameters
    ----------
    data
        The file's bytes.

    Returns
    -------
    ParsedFile
        ``decoder`` names the decoder used; after a fallback the first warning says why
        (``"fast decoder refused: crc mismatch (...); decoded with fitparse"``).

    Raises
    ------
    CorruptFile, NotAnActivity
        As :func:`ingest.fit.read_fit`.
    """
    return read_with_fallback(
        data,
        fast=read_fit_fast,
        reference=read_fit,
        refused=FastPathRefused,
        fast_name="fast decoder",
        reference_name="fitparse",
    )

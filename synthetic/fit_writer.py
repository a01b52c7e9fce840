"""A small FIT encoder: messages in physical units to the bytes a Garmin watch would write.

Message numbers, field numbers, base types, scales, offsets and enum values all come from
fitparse's bundled profile (``fitparse.profile.MESSAGE_TYPES``); nothing is copied by hand.
The output reads back with ``fitparse.FitFile(..., check_crc=True)``.

Conventions for field values (the units fitparse reports back):

- ``date_time`` fields take a timezone-aware ``datetime`` (written as seconds since the FIT
  epoch 1989-12-31 00:00:00 UTC) or a raw ``int``; ``local_date_time`` fields take a naive
  wall-clock ``datetime``.
- fields in ``semicircles`` take degrees.
- enum fields take the profile's value name (``sport="running"``) or the raw ``int``.
- scaled fields take the physical value (``enhanced_speed=2.85`` m/s, ``distance=1234.5`` m).
- array fields (``hrv.time``) take a sequence; ``None`` items are written as invalid.
- dynamic sub-fields are addressed by their own name (``garmin_product="fenix5"``).
- a ``None`` field value is written as the base type's invalid value.
"""

from __future__ import annotations

import math
import struct
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from fitparse.profile import MESSAGE_TYPES
from fitparse.records import BaseType, Crc

__all__ = [
    "DEVICE_CLOCK_LIMIT",
    "FIT_EPOCH",
    "FitEncodeError",
    "FitMessage",
    "FitMessageColumns",
    "FitScalar",
    "FitValue",
    "encode_fit",
]

FitScalar = int | float | str | datetime | None
FitValue = FitScalar | Sequence[int | float | None]

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
"""Zero of FIT ``date_time`` values."""
DEVICE_CLOCK_LIMIT = 0x10000000
"""``date_time`` values below this are seconds on a device-relative clock (clock never set)."""

FloatArray = npt.NDArray[np.float64]
_FIT_EPOCH_NAIVE = FIT_EPOCH.replace(tzinfo=None)
_HEADER_SIZE = 14
_PROTOCOL_VERSION = 0x20  # 2.0, high nibble major, low nibble minor
_PROFILE_VERSION = 2080  # 20.80, the SDK fitparse's bundled profile was exported from
_MAX_LOCAL_MESSAGES = 16
_DEFINITION_FLAG = 0x40
_SEMICIRCLES_PER_DEGREE = 2**31 / 180.0
_MESSAGES_BY_NAME: dict[str, Any] = {mt.name: mt for mt in MESSAGE_TYPES.values()}


class FitEncodeError(ValueError):
    """A message or value that the FIT profile cannot represent.

    Parameters
    ----------
    message
        Plain-language description.
    mesg_name, field_name
        Where the problem is, when known.
    """

    def __init__(self, message: str, *, mesg_name: str = "", field_name: str = "") -> None:
        super().__init__(message)
        self.mesg_name = mesg_name
        self.field_name = field_name


@dataclass(frozen=True, slots=True)
class FitMessage:
    """One FIT data message: a profile message name and its fields in physical units.

    Parameters
    ----------
    name
        Profile message name, e.g. ``"record"``, ``"session"``, ``"hrv"``.
    fields
        Field name to value; the insertion order is the order of fields in the file.
    """

    name: str
    fields: Mapping[str, FitValue]


@dataclass(frozen=True, slots=True)
class FitMessageColumns:
    """Many data messages of one kind with the same fields, given column-wise (fast path).

    Encodes to exactly the bytes of the equivalent sequence of ``FitMessage`` objects, in a
    fraction of the time (one numpy structured array instead of one struct call per message).

    Parameters
    ----------
    name
        Profile message name, e.g. ``"record"``.
    columns
        Field name to a 1-D column (one value per message) or, for array fields, a 2-D
        ``(n_messages, width)`` column. Numeric columns use NaN for missing values; ``date_time``
        columns may be ``datetime64`` (UTC) arrays; enum columns may hold profile names.
    """

    name: str
    columns: Mapping[str, npt.ArrayLike]


@dataclass(frozen=True, slots=True)
class _FieldSpec:
    """How one named field of one message is written."""

    def_num: int
    base_type_id: int
    fmt: str
    base_size: int
    kind: str
    scale: float
    offset: float
    enum: Mapping[str, int]
    low: float
    high: float
    invalid: int | float


@dataclass(frozen=True, slots=True)
class _Clock:
    """Where ``date_time`` values count from."""

    origin: datetime
    limit: int


def _invalid_and_range(base: BaseType) -> tuple[int | float, float, float]:
    """Derive the invalid value and the valid range of a numeric base type from its format."""
    fmt: str = base.fmt
    if fmt in "fd":
        return math.nan, -math.inf, math.inf
    bits = 8 * struct.calcsize(fmt)
    if fmt.islower():  # signed: invalid is the largest positive value
        return 2 ** (bits - 1) - 1, -(2 ** (bits - 1)), 2 ** (bits - 1) - 2
    if base.name.endswith("z"):  # unsigned, zero-invalid
        return 0, 1, 2**bits - 1
    return 2**bits - 1, 0, 2**bits - 2


def _field_kind(field: Any) -> str:
    """Classify a profile field by how a physical value becomes a raw value."""
    type_name: str = field.type.name
    if type_name in ("date_time", "local_date_time"):
        return type_name
    if field.units == "semicircles":
        return "semicircles"
    if field.type.values:
        return "enum"
    if field.base_type.name == "string":
        return "string"
    return "number"


def _lookup_field(mesg_type: Any, name: str) -> tuple[int, Any, Any]:
    """Find ``name`` among a message's fields and sub-fields: (def_num, parent, field)."""
    for def_num, field in mesg_type.fields.items():
        if field.name == name:
            return def_num, field, field
    for def_num, field in mesg_type.fields.items():
        for sub in field.subfields or ():
            if sub.name == name:
                return def_num, field, sub
    raise FitEncodeError(
        f"message {mesg_type.name!r} has no field {name!r}",
        mesg_name=mesg_type.name,
        field_name=name,
    )


@cache
def _field_spec(mesg_num: int, name: str) -> _FieldSpec:
    """Build (once) the spec of field ``name`` in global message ``mesg_num``."""
    def_num, parent, field = _lookup_field(MESSAGE_TYPES[mesg_num], name)
    base: BaseType = parent.base_type
    invalid, low, high = _invalid_and_range(base)
    values: Mapping[int, str] = field.type.values or {}
    return _FieldSpec(
        def_num=def_num,
        base_type_id=base.identifier,
        fmt=base.fmt,
        base_size=struct.calcsize(base.fmt) if base.fmt != "s" else 1,
        kind=_field_kind(field),
        scale=float(field.scale or 1),
        offset=float(field.offset or 0),
        enum={label: raw for raw, label in values.items()},
        low=low,
        high=high,
        invalid=invalid,
    )


def _seconds(value: datetime, origin: datetime) -> int:
    return round((value - origin).total_seconds())


def _raw_date_time(spec: _FieldSpec, value: FitScalar, clock: _Clock) -> FitScalar:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise FitEncodeError("date_time values must be timezone-aware (UTC)")
        seconds = _seconds(value, clock.origin)
        if not 0 <= seconds < clock.limit:
            raise FitEncodeError(f"timestamp {value.isoformat()} is outside the FIT clock range")
        return seconds
    return value


def _raw_local_date_time(spec: _FieldSpec, value: FitScalar, clock: _Clock) -> FitScalar:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise FitEncodeError("local_date_time values must be naive wall-clock datetimes")
        return _seconds(value, _FIT_EPOCH_NAIVE)
    return value


def _raw_semicircles(spec: _FieldSpec, value: FitScalar, clock: _Clock) -> FitScalar:
    if isinstance(value, int | float):
        return round(float(value) * _SEMICIRCLES_PER_DEGREE)
    return value


def _raw_enum(spec: _FieldSpec, value: FitScalar, clock: _Clock) -> FitScalar:
    if isinstance(value, str):
        if value not in spec.enum:
            raise FitEncodeError(f"{value!r} is not a value of this enum")
        return spec.enum[value]
    return value


def _raw_string(spec: _FieldSpec, value: FitScalar, clock: _Clock) -> FitScalar:
    return value


def _raw_number(spec: _FieldSpec, value: FitScalar, clock: _Clock) -> FitScalar:
    if isinstance(value, int | float):
        scaled = (float(value) + spec.offset) * spec.scale
        return scaled if spec.fmt in "fd" else round(scaled)
    return value


_RawConverter = Callable[[_FieldSpec, FitScalar, _Clock], FitScalar]
_CONVERTERS: Mapping[str, _RawConverter] = {
    "date_time": _raw_date_time,
    "local_date_time": _raw_local_date_time,
    "semicircles": _raw_semicircles,
    "enum": _raw_enum,
    "string": _raw_string,
    "number": _raw_number,
}


def _checked(spec: _FieldSpec, raw: FitScalar) -> int | float:
    """Check a raw scalar against the base type; ``None`` becomes the invalid value."""
    if raw is None:
        return spec.invalid
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise FitEncodeError(f"cannot encode {raw!r} as {spec.fmt!r}")
    if isinstance(raw, float) and spec.fmt not in "fd":
        raise FitEncodeError(f"raw value {raw} is not an integer")
    if not spec.low <= raw <= spec.high:
        raise FitEncodeError(f"raw value {raw} is outside [{spec.low}, {spec.high}]")
    return raw


def _encode_field(spec: _FieldSpec, value: FitValue, clock: _Clock) -> tuple[int, list[Any]]:
    """Return (size in bytes, struct arguments) for one field value."""
    convert = _CONVERTERS[spec.kind]
    if spec.kind == "string":
        if not isinstance(value, str):
            raise FitEncodeError(f"string field needs a str, got {value!r}")
        data = value.encode("utf-8") + b"\x00"
        return len(data), [data]
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = [_checked(spec, convert(spec, item, clock)) for item in value]
        if not items:
            raise FitEncodeError("array fields need at least one item")
        return len(items) * spec.base_size, items
    return spec.base_size, [_checked(spec, convert(spec, value, clock))]


def _column_raw(spec: _FieldSpec, column: npt.ArrayLike, clock: _Clock) -> FloatArray:
    """Raw values of a column as float64, NaN where the value is missing."""
    values = np.asarray(column)
    if np.issubdtype(values.dtype, np.datetime64) and spec.kind == "date_time":
        origin = np.datetime64(clock.origin.replace(tzinfo=None), "s")
        seconds = (values.astype("datetime64[s]") - origin).astype(np.float64)
        seconds[np.isnat(values)] = np.nan
        if np.any((seconds < 0) | (seconds >= clock.limit)):
            raise FitEncodeError("a timestamp is outside the FIT clock range")
        return seconds
    if values.dtype.kind in "iuf" and spec.kind in ("number", "semicircles"):
        factor = _SEMICIRCLES_PER_DEGREE if spec.kind == "semicircles" else spec.scale
        offset = 0.0 if spec.kind == "semicircles" else spec.offset
        raw = (values.astype(np.float64) + offset) * factor
        return raw if spec.fmt in "fd" else np.rint(raw)
    if values.dtype.kind in "iu":
        return values.astype(np.float64)
    convert = _CONVERTERS[spec.kind]  # enum names, datetimes as objects: element by element
    flat = [convert(spec, item, clock) for item in values.ravel().tolist()]
    return np.array([np.nan if v is None else v for v in flat], dtype=np.float64).reshape(
        values.shape
    )


def _column_checked(spec: _FieldSpec, raw: FloatArray, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    missing = np.isnan(raw)
    present = raw[~missing]
    if present.size and (present.min() < spec.low or present.max() > spec.high):
        raise FitEncodeError(f"raw values outside [{spec.low}, {spec.high}]")
    return np.where(missing, spec.invalid, raw).astype(dtype)


class _LocalMessages:
    """Allocate the 16 local message numbers to definitions, least recently used first out."""

    def __init__(self) -> None:
        self._slots: OrderedDict[tuple[Any, ...], int] = OrderedDict()

    def slot(self, key: tuple[Any, ...]) -> tuple[int, bool]:
        """Return (local number, whether a definition message must be written first)."""
        if key in self._slots:
            self._slots.move_to_end(key)
            return self._slots[key], False
        if len(self._slots) < _MAX_LOCAL_MESSAGES:
            local = len(self._slots)
        else:
            _, local = self._slots.popitem(last=False)
        self._slots[key] = local
        return local, True


def _definition_bytes(
    local: int, mesg_num: int, layout: Sequence[tuple[int, int, int]], endian: str
) -> bytes:
    architecture = 1 if endian == ">" else 0
    head = struct.pack(
        f"{endian}BBBHB", _DEFINITION_FLAG | local, 0, architecture, mesg_num, len(layout)
    )
    return head + b"".join(struct.pack("3B", *field) for field in layout)


@cache
def _data_struct(endian: str, formats: tuple[str, ...]) -> struct.Struct:
    return struct.Struct(endian + "B" + "".join(formats))


def _mesg_type(name: str) -> Any:
    mesg_type = _MESSAGES_BY_NAME.get(name)
    if mesg_type is None:
        raise FitEncodeError(f"unknown FIT message {name!r}", mesg_name=name)
    return mesg_type


def _located(exc: FitEncodeError, mesg_name: str, field_name: str) -> FitEncodeError:
    """Return the same error, prefixed with the message and field it concerns."""
    return FitEncodeError(
        f"{mesg_name}.{field_name}: {exc}", mesg_name=mesg_name, field_name=field_name
    )


def _encode_one(
    message: FitMessage, endian: str, clock: _Clock
) -> tuple[int, list[tuple[int, int, int]], Callable[[int], bytes]]:
    """Definition layout and a packer (local number -> bytes) for one data message."""
    mesg_type = _mesg_type(message.name)
    layout: list[tuple[int, int, int]] = []
    formats: list[str] = []
    args: list[Any] = []
    for name, value in message.fields.items():
        spec = _field_spec(mesg_type.mesg_num, name)
        try:
            size, items = _encode_field(spec, value, clock)
        except FitEncodeError as exc:
            raise _located(exc, message.name, name) from exc
        layout.append((spec.def_num, size, spec.base_type_id))
        formats.append(f"{size}s" if spec.kind == "string" else f"{len(items)}{spec.fmt}")
        args.extend(items)
    packer = _data_struct(endian, tuple(formats))
    return mesg_type.mesg_num, layout, lambda local: packer.pack(local, *args)


def _encode_columns(
    block: FitMessageColumns, endian: str, clock: _Clock
) -> tuple[int, list[tuple[int, int, int]], Callable[[int], bytes]]:
    """Definition layout and a packer for a block of same-layout data messages."""
    mesg_type = _mesg_type(block.name)
    layout: list[tuple[int, int, int]] = []
    dtype_fields: list[tuple[str, str, tuple[int, ...]]] = [("header", "u1", ())]
    arrays: list[npt.NDArray[Any]] = []
    for name, column in block.columns.items():
        spec = _field_spec(mesg_type.mesg_num, name)
        if spec.kind == "string":
            raise FitEncodeError(
                "string fields are not supported in column blocks",
                mesg_name=block.name,
                field_name=name,
            )
        try:
            raw = _column_raw(spec, column, clock)
            width = (int(raw.shape[1]),) if raw.ndim == 2 else ()
            arrays.append(_column_checked(spec, raw, np.dtype(endian + spec.fmt)))
        except FitEncodeError as exc:
            raise _located(exc, block.name, name) from exc
        layout.append(
            (spec.def_num, spec.base_size * (width[0] if width else 1), spec.base_type_id)
        )
        dtype_fields.append((f"f{len(arrays)}", endian + spec.fmt, width))
    n_rows = {len(a) for a in arrays}
    if len(n_rows) > 1:
        raise FitEncodeError("columns differ in length", mesg_name=block.name)
    table = np.zeros(n_rows.pop() if n_rows else 0, dtype=np.dtype(dtype_fields))
    for k, array in enumerate(arrays, start=1):
        table[f"f{k}"] = array

    def pack(local: int) -> bytes:
        table["header"] = local
        return table.tobytes()

    return mesg_type.mesg_num, layout, pack


def _encode_messages(
    messages: Sequence[FitMessage | FitMessageColumns], endian: str, clock: _Clock
) -> bytes:
    locals_ = _LocalMessages()
    out: list[bytes] = []
    for message in messages:
        if isinstance(message, FitMessage):
            mesg_num, layout, pack = _encode_one(message, endian, clock)
        else:
            mesg_num, layout, pack = _encode_columns(message, endian, clock)
        local, needs_definition = locals_.slot((mesg_num, tuple(layout)))
        if needs_definition:
            out.append(_definition_bytes(local, mesg_num, layout, endian))
        out.append(pack(local))
    return b"".join(out)


# Byte-wise table of fitparse's (nibble-wise) FIT CRC: from register 0, byte b gives T[b].
_CRC_TABLE: tuple[int, ...] = tuple(Crc.calculate(bytes([b])) for b in range(256))
_CRC_TABLE_NP = np.array(_CRC_TABLE, dtype=np.int64)
_CRC_MIN_CHUNK_BITS = 6


def _crc_step(crc: int, data: bytes | memoryview) -> int:
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


@cache
def _crc_zero_run(length: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Register after ``length`` zero bytes, as tables over the register's low and high byte."""
    bit_images = [_crc_step(1 << bit, bytes(length)) for bit in range(16)]

    def image(value: int, first_bit: int) -> int:
        out = 0
        for bit in range(8):
            if value >> bit & 1:
                out ^= bit_images[first_bit + bit]
        return out

    return tuple(image(v, 0) for v in range(256)), tuple(image(v, 8) for v in range(256))


def _crc_value(data: bytes) -> int:
    """FIT CRC-16 of ``data``, equal to ``fitparse.records.Crc.calculate(data)``.

    The CRC is linear: the register after a chunk is (register before, carried through as many
    zero bytes) XOR (the chunk's CRC from zero). So the chunks' CRCs are computed side by side
    with numpy, then folded in order; the tail is done byte by byte.
    """
    # about sqrt(len) bytes per chunk, a power of two so few zero-run tables are ever built
    chunk = 1 << max(_CRC_MIN_CHUNK_BITS, math.isqrt(len(data)).bit_length() - 1)
    n_chunks = len(data) // chunk
    crc = 0
    if n_chunks > 1:
        block = np.frombuffer(data, dtype=np.uint8, count=n_chunks * chunk)
        columns = block.reshape(n_chunks, chunk).T.astype(np.int64)
        registers = np.zeros(n_chunks, dtype=np.int64)
        for column in columns:
            registers = (registers >> 8) ^ _CRC_TABLE_NP[(registers ^ column) & 0xFF]
        low, high = _crc_zero_run(chunk)
        for register in registers.tolist():
            crc = low[crc & 0xFF] ^ high[crc >> 8] ^ register
    else:
        n_chunks = 0
    return _crc_step(crc, memoryview(data)[n_chunks * chunk :])


def _crc(data: bytes) -> bytes:
    """FIT CRC-16 of ``data`` as the two little-endian bytes that end a header or file."""
    return struct.pack("<H", _crc_value(data))


def encode_fit(
    messages: Sequence[FitMessage | FitMessageColumns],
    *,
    big_endian: bool = False,
    device_clock_origin: datetime | None = None,
    truncate_at: float | None = None,
) -> bytes:
    """Encode messages as a complete FIT file (14-byte header, records, file CRC).

    Parameters
    ----------
    messages
        Data messages in file order (a ``FitMessageColumns`` stands for its rows). A
        definition message is written whenever a message's layout (message number, field
        numbers, sizes) is not among the 16 current ones.
    big_endian
        Write multi-byte field values big-endian (architecture byte 1). Header and CRCs stay
        little-endian, as the FIT protocol requires.
    device_clock_origin
        Simulate a watch whose clock was never set: every ``date_time`` value is written as
        seconds since this instant, which must stay below ``DEVICE_CLOCK_LIMIT`` (0x10000000).
    truncate_at
        Simulate an interrupted copy: keep only this fraction (0 < f < 1) of the bytes, so the
        file ends mid-record and has no CRC. The header still states the full data size.

    Returns
    -------
    bytes
        The FIT file.

    Raises
    ------
    FitEncodeError
        An unknown message or field, an enum name not in the profile, or a value that does not
        fit its base type.

    Examples
    --------
    >>> data = encode_fit([FitMessage("file_id", {"type": "activity", "manufacturer": "garmin"})])
    >>> data[8:12]
    b'.FIT'
    """
    endian = ">" if big_endian else "<"
    clock = (
        _Clock(FIT_EPOCH, 2**32 - 1)
        if device_clock_origin is None
        else _Clock(device_clock_origin, DEVICE_CLOCK_LIMIT)
    )
    body = _encode_messages(messages, endian, clock)
    head = struct.pack(
        "<BBHI4s", _HEADER_SIZE, _PROTOCOL_VERSION, _PROFILE_VERSION, len(body), b".FIT"
    )
    head += _crc(head)
    data = head + body
    data += _crc(data)
    if truncate_at is None:
        return data
    if not 0.0 < truncate_at < 1.0:
        raise ValueError(f"truncate_at must be in (0, 1), got {truncate_at}")
    return data[: int(len(data) * truncate_at)]

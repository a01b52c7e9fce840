"""Types of the optional C extension ``ingest/_fitwalk.c`` (segment walk, CRC, numbers, times)."""

from typing import Final

import numpy as np
import numpy.typing as npt

WALK_END: Final[int]
WALK_DEFINITION: Final[int]
WALK_UNDEFINED: Final[int]
WALK_CUT: Final[int]

def segment(
    data: bytes, start: int, end: int, ordinal: int, /
) -> tuple[int, int, bool, tuple[tuple[int, int, int, int, bytes, bytes], ...]]: ...
def crc(data: bytes | memoryview, /) -> int: ...

SPEC_SIZE: Final[int]
SPEC_UNSIGNED: Final[int]
SPEC_SIGNED: Final[int]
SPEC_FLOAT: Final[int]

def numbers(
    data: bytes, offsets: npt.NDArray[np.int64] | bytes, spec: bytes, big_endian: bool, /
) -> bytearray: ...
def compressed(
    data: bytes,
    offsets: npt.NDArray[np.int64],
    ordinals: npt.NDArray[np.int64],
    set_ordinals: npt.NDArray[np.int64],
    set_values: npt.NDArray[np.int64],
    resets: npt.NDArray[np.int64],
    /,
) -> tuple[bytes, bytes]: ...

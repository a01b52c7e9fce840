"""Types of the optional C extension ``ingest/_fitwalk.c`` (the FIT header walk)."""

from collections.abc import Sequence
from typing import Final

WALK_END: Final[int]
WALK_DEFINITION: Final[int]
WALK_UNDEFINED: Final[int]
WALK_CUT: Final[int]

def walk(
    data: bytes, start: int, end: int, sizes: Sequence[int], ordinal: int, /
) -> tuple[int, int, bool, tuple[tuple[int, bytes, bytes], ...]]: ...
def crc(data: bytes | memoryview, /) -> int: ...

"""Range-checked numbers for command-line options: a bad value is a one-line usage error."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["number_in"]


def number_in(low: float, high: float, *, integer: bool = False) -> Callable[[str], float | int]:
    """An argparse ``type`` accepting a number in ``[low, high]`` (an ``int`` when ``integer``).

    Examples
    --------
    >>> number_in(1, 520, integer=True)("12")
    12
    >>> number_in(0, 3600)("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: -1 is not a number from 0 to 3600
    """
    kind = "a whole number" if integer else "a number"

    def parse(text: str) -> float | int:
        try:
            value: float | int = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text} is not {kind}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"{text} is not {kind} from {low:g} to {high:g}")
        return value

    return parse

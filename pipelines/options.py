"""Checked command-line options: a bad value is a one-line usage error (numbers, the inbox)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from schemas.errors import ConfigError
from warehouse.location import Where, is_remote

__all__ = ["existing_inbox", "number_in"]

LOCAL_INBOX_NEEDED = "this command needs the inbox as a local folder"


def existing_inbox(path: Where, *, remote: str = LOCAL_INBOX_NEEDED) -> Path:
    """The inbox as an existing local folder; ``remote`` says why an object-store one will not do.

    Raises
    ------
    ConfigError
        The inbox is on object storage, or is not a folder.
    """
    if is_remote(path):
        raise ConfigError(f"{path} is on object storage: {remote}")
    folder = Path(path)
    if not folder.is_dir():
        raise ConfigError(f"the inbox {folder} does not exist or is not a folder: check --inbox")
    return folder


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

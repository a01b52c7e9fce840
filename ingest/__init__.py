"""mindmiles ingest package.

``read_fit_auto(data: bytes)`` (the FIT entry point the pipeline and the benchmarks call) is
importable from here; it is loaded on first use, so importing a sibling module stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["read_fit_auto"]


def __getattr__(name: str) -> Any:
    if name == "read_fit_auto":
        from ingest.fit_fast import read_fit_auto

        return read_fit_auto
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")

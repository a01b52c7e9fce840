"""Every reason code the source can write is listed in ``schemas.codes`` (and nothing else is).

The source is read as text: a code passed to an error class, assigned to ``reason_code`` or counted
in the run summary must be a key of :data:`REASON_CODES` or :data:`RUN_COUNTERS`; a code built
from a template (``f"{kind}_malformed"``) is checked for every ``kind`` the callers pass.
"""

from __future__ import annotations

import re
from pathlib import Path

from schemas.codes import REASON_CODES, RUN_COUNTERS
from schemas.files import Files

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "ingest", "clinic", "transform", "warehouse", "report", "pipelines")
ERRORS = (
    "CorruptFile|UnsupportedFormat|NotAnActivity|UnsafeInput|ResourceLimit|SchemaViolation|"
    "IngestError"
)
PATTERNS = (
    re.compile(rf"\b(?:{ERRORS})\(\s*\"([a-z_0-9]+)\"", re.S),
    re.compile(r"reason_code(?::\s*str)?\s*=\s*(?:pl\.lit\()?\"([a-z_0-9]+)\""),
    re.compile(r"reasons\[\"([a-z_0-9]+)\"\]"),
    re.compile(r"code = \"([a-z_0-9]+)\" if .* else \"([a-z_0-9]+)\""),
)


def source() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8") for p in PACKAGES for path in (ROOT / p).rglob("*.py")
    )


def codes_in_source(text: str) -> set[str]:
    found: set[str] = set()
    for pattern in PATTERNS:
        for match in pattern.finditer(text):
            found.update(group for group in match.groups() if group)
    for kind in re.findall(r"parse_safe\(\s*[a-z_]+,\s*kind=\"([a-z]+)\"\)", text):
        found.add(f"{kind}_malformed")
    return found


def test_the_scan_finds_codes_of_every_shape() -> None:
    text = 'raise CorruptFile(\n "x_bad", "m")\nresult.reason_code = "y_odd"\nreasons["z_n"] += 1\n'
    text += 'parse_safe(data, kind="gpx")\n'
    assert codes_in_source(text) == {"x_bad", "y_odd", "z_n", "gpx_malformed"}


def test_every_code_in_the_source_is_listed() -> None:
    found = codes_in_source(source())
    assert len(found) > 25
    unlisted = found - set(REASON_CODES) - set(RUN_COUNTERS)
    assert not unlisted, f"add these to schemas/codes.py with their meaning: {sorted(unlisted)}"


def test_every_listed_code_is_used() -> None:
    text = source()
    unused = [code for code in [*REASON_CODES, *RUN_COUNTERS] if f'"{code}"' not in text]
    # built from a template or a class attribute, not written out where raised
    built = {c for c in unused if c.endswith("_malformed")} | {"fit_truncated", "fit_corrupt"}
    assert set(unused) <= built, f"listed but never written: {sorted(set(unused) - built)}"


def test_the_files_table_documents_the_codes() -> None:
    description = Files.to_schema().columns["reason_code"].description or ""
    assert "schemas/codes.py" in description

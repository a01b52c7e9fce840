"""The lock file still installs what ``pyproject.toml`` asks for.

``make env`` installs ``requirements.lock`` with no resolution at all, so nothing at install time
would notice a lock that fell behind ``pyproject.toml``. These tests do: every requirement of the
project (its dependencies, every extra, the build backend), and every requirement of those, followed
through the installed packages' own metadata with their extras and markers, must be pinned in the
lock at a version that satisfies it; and the environment must hold exactly those pins.
"""

from __future__ import annotations

import re
import tomllib
from collections import deque
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "run `make lock` and commit requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_pins(lock: Path) -> dict[NormalizedName, Version]:
    """Return the ``name==version`` pins of a hash-pinned requirements file."""
    pins: dict[NormalizedName, Version] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            pins[canonicalize_name(match[1])] = Version(match[2])
    return pins


def project_requirements(pyproject: Path) -> list[Requirement]:
    """Return every requirement ``pyproject.toml`` states: dependencies, extras, build backend."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data["project"]
    texts = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        texts.extend(extra)
    texts.extend(data.get("build-system", {}).get("requires", []))
    return [Requirement(text) for text in texts]


def applies(requirement: Requirement, extra: str) -> bool:
    """Whether a requirement's marker holds on this Python for the given extra ("" for none)."""
    if requirement.marker is None:
        return True
    environment: dict[str, str] = {**default_environment(), "extra": extra}
    return requirement.marker.evaluate(environment)


def lock_problems(pyproject: Path, lock: Path) -> list[str]:
    """Return one line per way the lock fails ``pyproject.toml``; empty when it satisfies it.

    Requirements of locked packages are read from the installed distributions, so the check also
    reports an environment that does not hold the locked version of a package it walks through.
    """
    pins = read_pins(lock)
    problems: list[str] = []
    queue: deque[tuple[Requirement, str]] = deque(
        (requirement, "") for requirement in project_requirements(pyproject)
    )
    walked: set[tuple[NormalizedName, str]] = set()
    while queue:
        requirement, parent_extra = queue.popleft()
        if not applies(requirement, parent_extra):
            continue
        name = canonicalize_name(requirement.name)
        pinned = pins.get(name)
        if pinned is None:
            problems.append(f"{requirement} is required but requirements.lock does not pin {name}")
            continue
        if not requirement.specifier.contains(pinned, prereleases=True):
            problems.append(
                f"{requirement} is required but requirements.lock pins {name}=={pinned}"
            )
            continue
        for extra in ("", *sorted(requirement.extras)):
            if (name, extra) in walked:
                continue
            walked.add((name, extra))
            try:
                installed = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                problems.append(f"{name}=={pinned} is locked but not installed (run `make env`)")
                break
            if Version(installed.version) != pinned:
                problems.append(
                    f"{name} {installed.version} is installed but the lock pins {pinned}"
                    " (run `make env`)"
                )
            for text in installed.requires or []:
                child = Requirement(text)
                if extra or child.marker is None or "extra" not in str(child.marker):
                    queue.append((child, extra))
    return problems


def test_lock_satisfies_pyproject() -> None:
    problems = lock_problems(ROOT / "pyproject.toml", ROOT / "requirements.lock")
    assert not problems, "requirements.lock is stale: " + "; ".join(problems) + f"; {REGENERATE}"


def test_environment_holds_exactly_the_lock() -> None:
    pins = read_pins(ROOT / "requirements.lock")
    assert len(pins) > 100  # the whole closure is pinned, not just the direct requirements
    wrong = {
        name: (str(pinned), metadata.version(name))
        for name, pinned in pins.items()
        if Version(metadata.version(name)) != pinned
    }
    assert not wrong, f"installed versions differ from the lock (run `make env`): {wrong}"


def test_bootstrap_lock_pins_uv_with_hashes() -> None:
    text = (ROOT / "requirements-bootstrap.lock").read_text(encoding="utf-8")
    assert list(read_pins(ROOT / "requirements-bootstrap.lock")) == ["uv"]
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", text)) >= 2


def stale_copy(tmp_path: Path, old: str, new: str) -> Path:
    """Write a copy of the project's pyproject.toml with one requirement changed."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "pyproject.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # a new dependency the lock lacks
        (
            '"rich>=13",',
            '"rich>=13",\n    "leftpad-not-locked>=1",',
            "does not pin leftpad-not-locked",
        ),
        # a raised floor the locked version no longer meets
        ('"polars>=2.1"', '"polars>=99"', "pins polars=="),
        # an extra whose packages the lock lacks (found through pandera's own metadata)
        ('"pandera[polars]>=0.35"', '"pandera[polars,geopandas]>=0.35"', "geopandas"),
    ],
)
def test_a_stale_lock_is_reported(tmp_path: Path, old: str, new: str, expected: str) -> None:
    problems = lock_problems(stale_copy(tmp_path, old, new), ROOT / "requirements.lock")
    assert any(expected in problem for problem in problems), problems

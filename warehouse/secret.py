"""The clinic secret behind ``client_id`` pseudonyms.

``client_id = HMAC-SHA256(secret, client_code)`` (first :data:`ID_HEX_CHARS` hex digits). The secret
comes from ``MINDMILES_SECRET`` or from a key file outside the warehouse, created on first use with
mode 0600 (default ``$XDG_CONFIG_HOME/mindmiles/secret.key``, i.e. ``~/.config/mindmiles/``).
Whoever holds the secret and the roster can map ids back to codes; the warehouse alone cannot.

A secret shorter than :data:`MIN_SECRET_BYTES` is refused (with the roster's codes, a short
secret is guessed and every pseudonym reversed at once). The warehouse records a fingerprint of
the secret it was built with (``.state/secret.fingerprint``, never the secret); a command run with
another secret stops before writing anything and names the fingerprint it expects.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from schemas.errors import ConfigError
from warehouse.files import write_private
from warehouse.location import Where
from warehouse.state import read_state, write_state

__all__ = [
    "FINGERPRINT_FILE",
    "ID_HEX_CHARS",
    "MIN_SECRET_BYTES",
    "default_key_file",
    "fingerprint",
    "load_secret",
    "pseudonymize",
    "record_fingerprint",
    "recorded_fingerprint",
]

MIN_SECRET_BYTES = 16
"""The shortest clinic secret accepted."""

FINGERPRINT_FILE = Path(".state") / "secret.fingerprint"
"""Where, under the warehouse, the fingerprint of its secret is kept."""

ID_HEX_CHARS = 24
"""Length of a client_id (96 bits): collisions are negligible for any clinic's roster."""


def default_key_file() -> Path:
    """Where the key file lives when none is configured."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mindmiles" / "secret.key"


def fingerprint(secret: bytes) -> str:
    """A short public fingerprint of the secret (an HMAC of a fixed label; not the secret).

    Examples
    --------
    >>> len(fingerprint(b"0123456789abcdef")), fingerprint(b"a" * 16) == fingerprint(b"b" * 16)
    (16, False)
    """
    return hmac.new(secret, b"mindmiles secret fingerprint", hashlib.sha256).hexdigest()[:16]


def recorded_fingerprint(warehouse: Where) -> str | None:
    """The fingerprint the warehouse was built with, or ``None`` before its first run."""
    return (read_state(warehouse, FINGERPRINT_FILE.name) or "").strip() or None


def record_fingerprint(warehouse: Where, secret: bytes) -> None:
    """Record the fingerprint of ``secret`` as the warehouse's (at creation, and on rotation)."""
    write_state(warehouse, FINGERPRINT_FILE.name, fingerprint(secret) + "\n")


def _check_fingerprint(warehouse: Where, secret: bytes, also: bytes | None = None) -> None:
    expected = recorded_fingerprint(warehouse)
    if expected is None or fingerprint(secret) == expected:
        return
    if also is not None and fingerprint(also) == expected:
        return
    raise ConfigError(
        f"this warehouse was built with another clinic secret (fingerprint {expected}; the one "
        f"given has {fingerprint(secret)}): set MINDMILES_SECRET or the key file "
        "(MINDMILES_KEY_FILE) to the warehouse's secret; nothing was written"
    )


def load_secret(
    *,
    env_value: str | None,
    key_file: Path,
    warehouse: Where,
    or_fingerprint_of: bytes | None = None,
) -> bytes:
    """Return the clinic secret, creating the key file on first use.

    Parameters
    ----------
    env_value
        The value of ``MINDMILES_SECRET`` if set; it wins over the key file.
    key_file
        Path of the key file.
    warehouse
        The warehouse root; the key file must not lie inside it, and the secret must be the one
        whose fingerprint it records (if any).
    or_fingerprint_of
        A second secret whose fingerprint is also accepted (key rotation, half done).

    Raises
    ------
    ConfigError
        The key file lies inside the warehouse, is readable by others, or is empty; the secret
        is shorter than :data:`MIN_SECRET_BYTES`; or the warehouse records another secret.
    """
    secret = _read_secret(env_value=env_value, key_file=key_file, warehouse=warehouse)
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"the clinic secret is {len(secret)} bytes long; it must be at least "
            f"{MIN_SECRET_BYTES} (a short secret can be guessed from the roster's codes)"
        )
    _check_fingerprint(warehouse, secret, or_fingerprint_of)
    return secret


def _read_secret(*, env_value: str | None, key_file: Path, warehouse: Where) -> bytes:
    if env_value:
        return env_value.encode("utf-8")
    key_file = key_file.expanduser().absolute()
    if isinstance(warehouse, Path) and key_file.is_relative_to(warehouse.absolute()):
        raise ConfigError("the key file must be kept outside the warehouse")
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(key_file, secrets.token_hex(32) + "\n", exclusive=True)
    if key_file.stat().st_mode & 0o077:
        raise ConfigError(f"the key file {key_file} is readable by others; run chmod 600 on it")
    value = key_file.read_text().strip()
    if not value:
        raise ConfigError(f"the key file {key_file} is empty")
    return value.encode("utf-8")


def pseudonymize(client_code: str, secret: bytes) -> str:
    """Keyed pseudonym of a client code.

    Examples
    --------
    >>> pseudonymize("C001", b"k") == pseudonymize("C001", b"k") != pseudonymize("C001", b"j")
    True
    """
    digest = hmac.new(secret, client_code.strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:ID_HEX_CHARS]

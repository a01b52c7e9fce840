"""The clinic secret behind ``client_id`` pseudonyms.

``client_id = HMAC-SHA256(secret, client_code)`` (first :data:`ID_HEX_CHARS` hex digits). The secret
comes from ``MINDMILES_SECRET`` or from a key file outside the warehouse, created on first use with
mode 0600 (default ``$XDG_CONFIG_HOME/mindmiles/secret.key``, i.e. ``~/.config/mindmiles/``).
Whoever holds the secret and the roster can map ids back to codes; the warehouse alone cannot.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from schemas.errors import ConfigError
from warehouse.files import write_private

__all__ = ["ID_HEX_CHARS", "default_key_file", "load_secret", "pseudonymize"]

ID_HEX_CHARS = 24
"""Length of a client_id (96 bits): collisions are negligible for any clinic's roster."""


def default_key_file() -> Path:
    """Where the key file lives when none is configured."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mindmiles" / "secret.key"


def load_secret(*, env_value: str | None, key_file: Path, warehouse: Path) -> bytes:
    """Return the clinic secret, creating the key file on first use.

    Parameters
    ----------
    env_value
        The value of ``MINDMILES_SECRET`` if set; it wins over the key file.
    key_file
        Path of the key file.
    warehouse
        The warehouse root; the key file must not lie inside it.

    Raises
    ------
    ConfigError
        The key file lies inside the warehouse, is readable by others, or is empty.
    """
    if env_value:
        return env_value.encode("utf-8")
    key_file = key_file.expanduser().absolute()
    if key_file.is_relative_to(warehouse.absolute()):
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

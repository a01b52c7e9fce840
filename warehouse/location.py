"""Where a warehouse or an inbox lives: a local folder or an object-store prefix.

A location is given as a path (``/srv/clinic/warehouse``) or a URI (``s3://bucket/prefix``).
Object stores are reached with the standard ``AWS_*`` environment variables (``AWS_ENDPOINT_URL``
and ``AWS_ALLOW_HTTP`` included), so that any S3-compatible store works; Delta Lake, Polars and
:mod:`obstore` all read them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from schemas.errors import ConfigError

__all__ = ["OBJECT_SCHEMES", "Where", "is_remote", "join", "local_path", "normalize"]

OBJECT_SCHEMES = ("s3", "s3a", "gs", "az", "abfs", "abfss")
"""URI schemes taken as object storage (only ``s3`` is tested here)."""

Where = Path | str
"""A local folder (a path, or a string without a scheme) or an object-store URI."""


def is_remote(where: Where) -> bool:
    """Whether ``where`` is an object-store URI rather than a local folder.

    Examples
    --------
    >>> is_remote("s3://clinic/warehouse"), is_remote("/srv/warehouse"), is_remote(Path("w"))
    (True, False, False)
    """
    return isinstance(where, str) and urlsplit(where).scheme.lower() in OBJECT_SCHEMES


def normalize(where: Where) -> Where:
    """Return an absolute :class:`~pathlib.Path` for a folder, or the URI without a trailing slash.

    Raises
    ------
    ConfigError
        A URI with a scheme that is neither a local file nor a supported object store.

    Examples
    --------
    >>> normalize("s3://clinic/warehouse/")
    's3://clinic/warehouse'
    >>> normalize("ftp://host/x")
    Traceback (most recent call last):
    ...
    schemas.errors.ConfigError: unsupported location ftp://host/x: use a folder or an s3:// URI
    """
    if is_remote(where):
        assert isinstance(where, str)
        if not urlsplit(where).netloc:
            raise ConfigError(f"the location {where} names no bucket")
        return where.rstrip("/")
    text = str(where)
    scheme = urlsplit(text).scheme
    if scheme == "file":
        return Path(urlsplit(text).path).absolute()
    if len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise ConfigError(f"unsupported location {text}: use a folder or an s3:// URI")
    return Path(text).absolute()


def join(where: Where, *parts: str) -> Where:
    """``where / part / ...`` for a folder or a URI.

    Examples
    --------
    >>> join("s3://clinic/wh", "restricted", "journal_notes")
    's3://clinic/wh/restricted/journal_notes'
    """
    if isinstance(where, Path):
        return where.joinpath(*parts)
    return "/".join([where.rstrip("/"), *parts])


def local_path(where: Where) -> Path | None:
    """The folder of a local location; ``None`` for object storage."""
    return None if is_remote(where) else Path(where)

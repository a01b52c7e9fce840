"""``mindmiles rotate-key``: replace the clinic secret and rewrite every pseudonym with it."""

from __future__ import annotations

from pathlib import Path

from clinic.roster import read_roster
from pipelines.derive import derive_for_clients
from pipelines.settings import Settings
from schemas.errors import ConfigError
from warehouse.files import remove_stale_temps, write_private
from warehouse.inbox import PROCESSED, QUARANTINE, Inbox
from warehouse.location import is_remote
from warehouse.lock import warehouse_lock
from warehouse.rotate import rotate_pseudonyms
from warehouse.runlog import write_derived_with
from warehouse.secret import load_secret, record_fingerprint
from warehouse.sql import write_database
from warehouse.store import TableStore

__all__ = ["MIN_SECRET_CHARS", "client_codes", "rotate_key"]

MIN_SECRET_CHARS = 32
"""A new secret shorter than this is refused (``openssl rand -hex 32`` gives 64)."""


def client_codes(inbox: Inbox) -> set[str]:
    """Every client code the inbox knows: roster rows and client folders (processed ones too)."""
    codes = {folder.name for folder in inbox.client_folders()}
    for area in (PROCESSED, QUARANTINE):
        folder = inbox.root / area
        if folder.is_dir():
            codes |= {p.name for p in folder.iterdir() if p.is_dir()}
    try:
        data = inbox.read_roster()  # never through a link, a pipe or a device
    except OSError as exc:
        raise ConfigError(
            f"roster.csv cannot be read ({exc.strerror}): replace it with the file"
        ) from None
    if data is not None:
        roster = read_roster(data, pseudonymize=lambda code: code)
        codes |= set(roster.client_ids)
    return codes


def rotate_key(settings: Settings, *, new_secret_file: Path) -> str:
    """Rewrite the warehouse under a new secret, rebuild derived tables, then install the secret.

    Returns a plain-language message of what was done and what is left to do.

    Raises
    ------
    ConfigError
        The new secret is too short or equals the old one, or a client cannot be rotated.
    """
    new_secret = new_secret_file.read_text(encoding="utf-8").strip().encode("utf-8")
    if len(new_secret) < MIN_SECRET_CHARS:
        raise ConfigError(f"the new secret must have at least {MIN_SECRET_CHARS} characters")
    with warehouse_lock(settings.warehouse, timeout_s=settings.lock_timeout_s, who="rotate-key"):
        # an interrupted rotation may already have recorded the new secret's fingerprint
        old_secret = load_secret(
            env_value=settings.secret,
            key_file=settings.key_file,
            warehouse=settings.warehouse,
            or_fingerprint_of=new_secret,
        )
        if new_secret == old_secret:
            raise ConfigError("the new secret is the same as the current one")
        if is_remote(settings.inbox):
            raise ConfigError("rotate-key reads roster.csv from a local inbox folder: use one")
        inbox = Inbox(Path(settings.inbox))
        result = rotate_pseudonyms(
            settings.warehouse,
            client_codes(inbox),
            old_secret=old_secret,
            new_secret=new_secret,
        )
        store = TableStore(settings.warehouse)
        clients = set(store.read("activities")["client_id"].to_list())
        clients |= set(store.read("journal")["client_id"].to_list())
        derive_for_clients(store, clients, thresholds=settings.thresholds)
        write_derived_with(settings.warehouse, settings.thresholds.to_json())
        if not is_remote(settings.warehouse):
            write_database(Path(settings.warehouse))
        record_fingerprint(settings.warehouse, new_secret)
        if settings.secret:
            tail = "Now set MINDMILES_SECRET to the new secret everywhere mindmiles runs."
        else:
            key_file = settings.key_file.expanduser()
            remove_stale_temps(key_file)
            write_private(key_file, new_secret.decode("utf-8") + "\n")
            tail = f"The key file {key_file} now holds the new secret; delete {new_secret_file}."
    return (
        f"Rotated the pseudonyms of {result.clients} client(s) in {len(result.tables)} table(s). "
        f"{tail} Reports are refreshed by the next run."
    )

"""The only code that knows paths: tables on disk, the inbox, the ledger, the key."""

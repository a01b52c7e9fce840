"""mindmiles ingest package."""

"""mindmiles pipelines package."""

"""mindmiles transform package."""

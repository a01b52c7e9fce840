"""Pandera models, one per warehouse table."""

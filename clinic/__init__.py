"""The clinic's own files: the roster, mood journals (clinic template or Daylio) and running plans."""

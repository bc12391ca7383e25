class DataError(Exception):
    """A data file is missing or malformed."""

"""Errors a user can act on: the CLI prints them as one line and exits 1."""


class QualitylibError(Exception):
    """A problem with the user's data or store, with a message that says what to do."""


class ValidationError(QualitylibError):
    """An input file failed validation; nothing was written."""

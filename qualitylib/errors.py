"""Errors a user can act on: the CLI prints them as one line and exits 1."""


class QualitylibError(Exception):
    """A problem with the user's data or store, with a message that says what to do."""


class ValidationError(QualitylibError):
    """An input file failed validation; nothing was written.

    ``errors``: one message per bad file of the import (the first is the message itself), so
    a screen can show every file's problem, not only the first.
    """

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or [message]

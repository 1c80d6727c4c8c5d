"""Errors the repository raises. Each carries a one-line message meant for a person.

The CLI prints the message and exits with the error's ``exit_code``; the HTTP layer maps
``http_status``. Nothing is written when one of these is raised.
"""

from __future__ import annotations


class LantaiError(Exception):
    exit_code = 1
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(LantaiError):
    exit_code = 3
    http_status = 404


class Forbidden(LantaiError):
    exit_code = 4
    http_status = 403


class Invalid(LantaiError):
    """A value or a description the profile refuses. ``problems`` lists every finding (the
    message names the first): a form shows each next to the field it concerns."""

    exit_code = 5
    http_status = 422

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class Unsupported(Invalid):
    """A file that is not of a kind accepted here, or not what its name says it is (a
    ``.jpg`` that is a PDF, an executable): checked by content, before anything is stored."""

    http_status = 415


class TooLarge(Invalid):
    """More bytes than a setting allows (an upload, a request body)."""

    http_status = 413


class Conflict(LantaiError):
    exit_code = 6
    http_status = 409


class WorkflowError(LantaiError):
    exit_code = 7
    http_status = 409


class Busy(LantaiError):
    """Another process holds the store for writing."""

    exit_code = 8
    http_status = 503

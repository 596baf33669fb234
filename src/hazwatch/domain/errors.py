"""Errors the services raise and the edges translate (HTTP status, CLI exit code). Out-of-scope
objects raise NotFound, never Forbidden, so a user cannot learn what exists outside their scope."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class Invalid(ServiceError):
    status = 422


class TooMany(ServiceError):
    """Throttled; retry_after in seconds."""

    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ServiceError):
    """Nobody can do it right now (a partition between two workers); worth retrying shortly."""

    status = 503


def by_status(status: int, message: str) -> ServiceError:
    """The service error of an HTTP-like status (an alarm command's refusal carries its status
    across processes as a number)."""
    kinds: dict[int, type[ServiceError]] = {404: NotFound, 403: Forbidden, 409: Conflict, 422: Invalid,
                                            503: Unavailable}
    return kinds[status](message) if status in kinds else ServiceError(message)

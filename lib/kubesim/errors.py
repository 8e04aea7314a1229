"""Errors kubesim returns, rendered on the wire as Kubernetes ``Status`` objects.

Every failure the API can report is an :class:`ApiError`; the HTTP layer turns
it into ``{"kind": "Status", ...}`` with the upstream reason, code and message
text (apimachinery ``pkg/api/errors/errors.go``), because clients compare them
to the letter (kubectl prints the message, client-go switches on the reason).

Hierarchy::

    ApiError                      (code, reason, message, details)
    ├── BadRequest          400   BadRequest
    ├── Unauthorized        401   Unauthorized
    ├── Forbidden           403   Forbidden
    ├── NotFound            404   NotFound
    ├── MethodNotAllowed    405   MethodNotAllowed
    ├── AlreadyExists       409   AlreadyExists
    ├── Conflict            409   Conflict
    ├── Gone                410   Expired / Gone
    ├── TooLarge            413   RequestEntityTooLarge
    ├── UnsupportedMedia    415   UnsupportedMediaType
    ├── Invalid             422   Invalid (with field causes)
    ├── TooManyRequests     429   TooManyRequests
    └── InternalError       500   InternalError (a kubesim bug, never bad input)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One field-level problem, as ``field.Error`` in apimachinery's validation package.

    ``kind`` is the cause reason: FieldValueRequired, FieldValueInvalid,
    FieldValueNotSupported, FieldValueForbidden, FieldValueDuplicate,
    FieldValueTooLong, FieldValueTypeInvalid, FieldValueNotFound.
    """

    kind: str
    field: str
    detail: str = ""
    value: Any = None
    supported: tuple[str, ...] = ()

    _PREFIX = {
        "FieldValueRequired": "Required value",
        "FieldValueInvalid": "Invalid value",
        "FieldValueNotSupported": "Unsupported value",
        "FieldValueForbidden": "Forbidden",
        "FieldValueDuplicate": "Duplicate value",
        "FieldValueTooLong": "Too long",
        "FieldValueTooMany": "Too many",
        "FieldValueTypeInvalid": "Invalid value",
        "FieldValueNotFound": "Not found",
    }

    def message(self) -> str:
        """Render as ``field.Error.ErrorBody`` does (without the field path)."""
        prefix = self._PREFIX.get(self.kind, self.kind)
        if self.kind in ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "FieldValueTooMany"):
            body = prefix
        elif self.kind == "FieldValueNotSupported":
            body = f"{prefix}: {_go_quote(self.value)}"
            if self.supported:
                body += ": supported values: " + ", ".join(f'"{s}"' for s in self.supported)
            return body
        else:
            body = f"{prefix}: {_go_quote(self.value)}"
        if self.detail:
            body += ": " + self.detail
        return body

    def full(self) -> str:
        return f"{self.field}: {self.message()}" if self.field else self.message()

    def cause(self) -> dict[str, str]:
        return {"reason": self.kind, "message": self.message(), "field": self.field}


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", path, detail)


def invalid(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError("FieldValueInvalid", path, detail, value)


def not_supported(path: str, value: Any, supported: list[str] | tuple[str, ...]) -> FieldError:
    return FieldError("FieldValueNotSupported", path, "", value, tuple(supported))


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", path, detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", path, "", value)


def _go_quote(value: Any) -> str:
    """Format a value the way field.Error does (%q for strings, %v otherwise)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_plain(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_plain(v) for v in value) + "]"
    return str(value)


def _go_plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    return _go_quote(value)


@dataclass
class ApiError(Exception):
    """Base of every API failure; ``status()`` is the wire form."""

    message: str
    code: int = 500
    reason: str = "InternalError"
    details: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(name: str | None, group: str, resource: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name is not None:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = resource
    d.update(extra)
    return d


def qualified(resource: str, group: str) -> str:
    """``statefulsets.apps`` / ``pods``: the resource as errors name it."""
    return f"{resource}.{group}" if group else resource


class BadRequest(ApiError):
    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, 400, "BadRequest", details or {})


class Unauthorized(ApiError):
    def __init__(self, message: str = "Unauthorized") -> None:
        super().__init__(message, 401, "Unauthorized")


class Forbidden(ApiError):
    def __init__(self, resource: str, group: str, name: str | None, why: str) -> None:
        target = f'{qualified(resource, group)} "{name}"' if name else qualified(resource, group)
        super().__init__(f"{target} is forbidden: {why}", 403, "Forbidden", _details(name, group, resource))


class NotFound(ApiError):
    def __init__(self, resource: str, group: str, name: str) -> None:
        super().__init__(
            f'{qualified(resource, group)} "{name}" not found', 404, "NotFound", _details(name, group, resource)
        )


class PathNotFound(ApiError):
    """A URL that names no resource at all (upstream answers a bare 404 Status)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"the server could not find the requested resource", 404, "NotFound", {})


class MethodNotAllowed(ApiError):
    def __init__(self, method: str, what: str) -> None:
        super().__init__(
            f"the server does not allow this method on the requested resource", 405, "MethodNotAllowed", {}
        )
        self.headers = {}


class AlreadyExists(ApiError):
    def __init__(self, resource: str, group: str, name: str) -> None:
        super().__init__(
            f'{qualified(resource, group)} "{name}" already exists', 409, "AlreadyExists", _details(name, group, resource)
        )


OPTIMISTIC_LOCK_MSG = "the object has been modified; please apply your changes to the latest version and try again"


class Conflict(ApiError):
    def __init__(self, resource: str, group: str, name: str, why: str = OPTIMISTIC_LOCK_MSG,
                 causes: list[dict[str, str]] | None = None) -> None:
        extra = {"causes": causes} if causes else {}
        super().__init__(
            f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
            409,
            "Conflict",
            _details(name, group, resource, **extra),
        )


class ApplyConflict(ApiError):
    """Server-side apply found fields owned by another manager (409, reason Conflict)."""

    def __init__(self, message: str, causes: list[dict[str, str]]) -> None:
        super().__init__(message, 409, "Conflict", {"causes": causes})


class Gone(ApiError):
    def __init__(self, message: str, reason: str = "Expired") -> None:
        super().__init__(message, 410, reason)


class TooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"Request entity too large: limit is {limit}", 413, "RequestEntityTooLarge")


class UnsupportedMedia(ApiError):
    def __init__(self, content_type: str, accepted: list[str]) -> None:
        super().__init__(
            f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
            415,
            "UnsupportedMediaType",
            {},
        )


class Invalid(ApiError):
    """422 with field causes; message as ``NewInvalid``: ``Kind.group "name" is invalid: <errs>``."""

    def __init__(self, kind: str, group: str, name: str, errors: list[FieldError]) -> None:
        self.field_errors = errors
        qualified_kind = f"{kind}.{group}" if group else kind
        if len(errors) == 1:
            summary = errors[0].full()
        else:
            summary = "[" + ", ".join(e.full() for e in errors) + "]"
        super().__init__(
            f'{qualified_kind} "{name}" is invalid: {summary}',
            422,
            "Invalid",
            {**_details(name, group, kind), "causes": [e.cause() for e in errors]},
        )


class TooManyRequests(ApiError):
    def __init__(self, message: str, causes: list[dict[str, str]] | None = None, retry_after: int = 0) -> None:
        details: dict[str, Any] = {}
        if causes:
            details["causes"] = causes
        if retry_after:
            details["retryAfterSeconds"] = retry_after
        super().__init__(message, 429, "TooManyRequests", details)


class InternalError(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(f"Internal error occurred: {message}", 500, "InternalError", {"causes": [{"message": message}]})

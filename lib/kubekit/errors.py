"""kubekit's errors: one hierarchy, messages that say what is wrong and how to fix it.

::

    KitError
    ├── InvalidParameter      a parameter, region, zone, CIDR, name ... is not acceptable (nothing was done)
    │   └── InvalidWorkload   a federation object the controller cannot act on (reason = its condition's reason)
    ├── SafetyGateRefused     real AWS without the right confirm_account (nothing was done)
    ├── AwsError              AWS answered with an error (wraps botocore's ClientError)
    ├── KubeError             the Kubernetes API answered with an error (wraps ApiException)
    │   └── KubeNotFound      ... with 404: the object (or the API for a kind) does not exist
    ├── MemberUnreachable     a federation member's API server did not answer in time
    ├── NotReady              something did not become ready in time (Timeout)
    └── CheckFailed           a runbook/drill verification failed

Library functions raise these (``raise ... from exc`` keeps the cause); notebooks
show the message, runbooks turn them into a failed status.
"""

from __future__ import annotations

from typing import Any


class KitError(Exception):
    """Base class: ``str(err)`` is the whole user-facing message."""


class InvalidParameter(KitError, ValueError):
    def __init__(self, name: str, value: Any, why: str, fix: str = "") -> None:
        self.name = name
        self.value = value
        msg = f"invalid {name} {value!r}: {why}"
        if fix:
            msg += f". {fix}"
        super().__init__(msg)


class InvalidWorkload(InvalidParameter):
    """A FederatedWorkload or MemberCluster spec that cannot be acted on; ``reason`` is a CamelCase condition reason."""

    def __init__(self, reason: str, field: str, value: Any, why: str, fix: str = "") -> None:
        self.reason = reason
        super().__init__(field, value, why, fix)


class SafetyGateRefused(KitError, PermissionError):
    pass


class AwsError(KitError):
    def __init__(self, action: str, exc: Exception) -> None:
        self.action = action
        self.code = ""
        detail = str(exc)
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            err = response.get("Error") or {}
            self.code = err.get("Code", "")
            detail = f"{self.code}: {err.get('Message', '')}".strip(": ")
        super().__init__(f"{action} failed: {detail}")


class KubeError(KitError):
    def __init__(self, action: str, exc: Exception) -> None:
        self.action = action
        self.status = getattr(exc, "status", None)
        reason = getattr(exc, "reason", "")
        body = getattr(exc, "body", "") or ""
        message = ""
        try:
            import json

            message = json.loads(body).get("message", "")
        except (ValueError, TypeError, AttributeError):
            message = str(body)[:300]
        super().__init__(f"{action} failed: {self.status} {reason}: {message}".rstrip(": "))


class KubeNotFound(KubeError):
    """404 from the Kubernetes API."""


class MemberUnreachable(KitError, ConnectionError):
    def __init__(self, member: str, detail: str) -> None:
        self.member = member
        super().__init__(f"member cluster {member!r} did not answer: {detail}")


class NotReady(KitError, TimeoutError):
    pass


class CheckFailed(KitError, AssertionError):
    pass

"""Wall-clock helpers: kubesim uses real time so kubectl's AGE column stays right."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(dt: datetime | None = None) -> str:
    """``metav1.Time`` wire form: second precision, UTC, ``Z`` suffix."""
    return (dt or now()).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(dt: datetime | None = None) -> str:
    """``metav1.MicroTime`` wire form (events, leases)."""
    return (dt or now()).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def new_uid() -> str:
    return str(uuid.uuid4())

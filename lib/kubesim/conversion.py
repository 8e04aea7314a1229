"""The events.k8s.io/v1 view of core/v1 Events (one storage, two shapes).

Upstream stores one Event type and converts between the versions
(``pkg/apis/events/v1/conversion.go``); the field renames below are that table.
"""

from __future__ import annotations

from typing import Any

# events.k8s.io/v1 field -> core/v1 field
_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}


def event_to_core(obj: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in obj.items() if k not in _RENAMES}
    for new, old in _RENAMES.items():
        if new in obj:
            out[old] = obj[new]
    out["apiVersion"] = "v1"
    out["kind"] = "Event"
    return out


def event_from_core(obj: dict[str, Any]) -> dict[str, Any]:
    back = {v: k for k, v in _RENAMES.items()}
    out = {k: v for k, v in obj.items() if k not in back}
    for old, new in back.items():
        if old in obj:
            out[new] = obj[old]
    out["apiVersion"] = "events.k8s.io/v1"
    out["kind"] = "Event"
    return out


def to_storage(group: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    if group == "events.k8s.io" and kind == "Event":
        return event_to_core(obj)
    return obj


def from_storage(group: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    if group == "events.k8s.io" and kind == "Event":
        return event_from_core(obj)
    return obj

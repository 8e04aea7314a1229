"""Failure drills: inject a real fault, watch every controller react, measure what users lost, grade it.

Modules (import what you need; this package file stays light):

- :mod:`kubekit.drills.base`     the Drill shape, DrillContext, ``run()`` and the catalogue
- :mod:`kubekit.drills.ledger`   the write ledger (RPO, RTO per shard, throughput)
- :mod:`kubekit.drills.expect`   the expected timeline for a cluster's own timing profile and version
- :mod:`kubekit.drills.grading`  observed vs expected: on time / early / late / missing
- :mod:`kubekit.drills.report`   timeline plot, tables, Chaos Toolkit-shaped journal
- :mod:`kubekit.drills.nodestop` the ``node-stop`` drill (D5 without the ledger)

The timeline itself is :mod:`kubekit.timeline`.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Drill": "base", "DrillContext": "base", "DrillResult": "base", "Param": "base", "Check": "base",
    "Wait": "base", "run": "base", "catalogue": "base", "register": "base", "get": "base",
    "Ledger": "ledger", "Profile": "expect", "read_profile": "expect", "expected": "expect", "Fault": "expect",
    "grade": "grading", "Grade": "grading",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)


__all__ = sorted(_EXPORTS)

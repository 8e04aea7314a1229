"""Failure drills: inject a real fault, watch every controller react, measure what users lost, grade it.

Modules (import what you need; this package file stays light):

- :mod:`kubekit.drills.base`     the Drill shape, DrillContext, ``run()`` and the catalogue
- :mod:`kubekit.drills.ledger`   the write ledger (RPO, RTO per shard, throughput)
- :mod:`kubekit.drills.expect`   the expected timeline for a cluster's own timing profile and version
- :mod:`kubekit.drills.grading`  observed vs expected: on time / early / late / missing
- :mod:`kubekit.drills.report`   timeline plot, tables, Chaos Toolkit-shaped journal
- :mod:`kubekit.drills.nodestop` the ``node-stop`` drill (D5 without the ledger)
- :mod:`kubekit.drills.session`  run a drill by name into ``runs/<time>-drill-<name>/`` (CLI, runbook, bench)
- :mod:`kubekit.drills.cli`      ``kubekit drill list`` / ``kubekit drill run``
- :mod:`kubekit.drills.progress` one progress line per phase
- :mod:`kubekit.drills.remedy`   guarded force delete / out-of-service for a stuck pet
- :mod:`kubekit.drills.evacuate` cordon and drain a zone (PDBs respected)
- :mod:`kubekit.drills.advice`   what to change in production, from the same knobs
- :mod:`kubekit.drills.petbase`  what the pet drills share: their own petkv set, the ledger, identity checks
- :mod:`kubekit.drills.petkill`  the ``pet-kill`` drill (D1: delete a pet's pod)
- :mod:`kubekit.drills.badrollout` the ``bad-rollout`` drill (D2: partition canary to a missing image, rollback)
- :mod:`kubekit.drills.drain`    the ``node-drain`` drill (D3: kubectl drain under a PodDisruptionBudget)
- :mod:`kubekit.drills.nodeterminate` the ``node-terminate`` drill (D4: EC2 terminate, node group replacement)
- :mod:`kubekit.drills.zoneoutage` the ``zone-outage`` drill (D7: every instance of a zone stopped)
- :mod:`kubekit.drills.fedworld` what the federation drills share: members, controller, federated pets, ledger
- :mod:`kubekit.drills.identity` the cross-cluster identity auditor (never two pods for one pet identity)
- :mod:`kubekit.drills.memberloss` the ``member-cluster-loss`` drill (D9: a member's API server unreachable)
- :mod:`kubekit.drills.controllerloss` the ``federation-controller-loss`` drill (D10: the controller dies)
- :mod:`kubekit.drills.migration` the ``pet-migration`` drill (D12: the fenced ordinals.start migration)

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

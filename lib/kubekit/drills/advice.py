"""What to change in production, computed from the same knobs the grading uses (kubekit.drills.expect).

:func:`eviction_table` answers "how long until a lost node's pods are replaced" for a few
``tolerationSeconds`` values: NotReady after the node-monitor grace period (50 s on 1.32+,
40 s before), the NoExecute taint at the next node-monitor pass, eviction after the pod's
tolerationSeconds (300 s by default, added by the DefaultTolerationSeconds admission plugin),
then the replacement's start. A pet on a *stopped* node is never replaced without a human
(the out-of-service taint); on a *terminated* node it follows the Node's deletion and PodGC.
"""

from __future__ import annotations

from collections.abc import Sequence

from .expect import Profile


def eviction_table(tolerations: Sequence[int] = (300, 60, 30), *, version: tuple[int, int] = (1, 33),
                   startup: float = 10.0) -> str:
    """Upstream seconds from losing a node to a stateless replacement Ready, per tolerationSeconds."""
    p = Profile(name="upstream", version=version)
    grace, period = p.up("node_monitor_grace"), p.up("node_monitor_period")
    rows = [("tolerationSeconds", "NotReady", "evicted", "replacement Ready", "pet on a stopped node")]
    for tol in tolerations:
        evicted = grace + period + tol
        rows.append((f"{tol} s" + (" (default)" if tol == 300 else ""), f"~{grace:g} s", f"~{evicted:g} s",
                     f"~{evicted + startup:g} s", "Terminating until a human acts"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


__all__ = ["eviction_table"]

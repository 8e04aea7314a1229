"""Member health: a pure state machine over probe results, with KubeFed's thresholds.

A probe is Fed v1's cluster probe: GET ``/healthz`` (here ``/readyz``, its successor)
with the configured timeout. A body of ``ok`` is a success; any other answer means
the member is up but unhealthy (NotReady); no answer in time is a failure (Offline).
``failureThreshold`` consecutive bad probes change a Ready member's state,
``successThreshold`` consecutive good ones make it Ready again (KubeFed's
``clusterHealthCheck``: period 10 s, timeout 3 s, failure 3, success 1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .model import NOT_READY, OFFLINE, READY, UNKNOWN, HealthCheck

OK, UNHEALTHY, NO_ANSWER = "ok", "unhealthy", "no-answer"


@dataclass(frozen=True)
class Probe:
    outcome: str  # OK | UNHEALTHY | NO_ANSWER
    message: str = ""
    at: float = 0.0
    version: str = ""
    zones: tuple[tuple[str, int], ...] = ()  # (zone, nodes)


@dataclass(frozen=True)
class Health:
    state: str = UNKNOWN
    successes: int = 0
    failures: int = 0
    since: float = 0.0  # when the state last changed
    last_probe: float = 0.0
    message: str = ""

    def next(self, probe: Probe, hc: HealthCheck) -> "Health":
        """The state after one more probe result."""
        if probe.outcome == OK:
            successes, failures = self.successes + 1, 0
            state = self.state
            if self.state != READY and (successes >= hc.success_threshold or self.state == UNKNOWN):
                state = READY
        else:
            successes, failures = 0, self.failures + 1
            bad = OFFLINE if probe.outcome == NO_ANSWER else NOT_READY
            state = self.state
            if failures >= hc.failure_threshold:
                state = bad
            elif self.state == UNKNOWN and failures >= 1 and hc.failure_threshold <= 1:
                state = bad
        since = probe.at if state != self.state else self.since
        return replace(self, state=state, successes=successes, failures=failures, since=since,
                       last_probe=probe.at, message=probe.message)

    @property
    def changed_at(self) -> float:
        return self.since


def transition(before: Health, after: Health) -> str | None:
    """``Ready -> Offline`` style text when the state changed, else None."""
    if before.state == after.state:
        return None
    return f"{before.state} -> {after.state}"

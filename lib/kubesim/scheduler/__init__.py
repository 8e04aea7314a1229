"""kube-scheduler's decisions as pure functions (the controller is ``kubesim.controllers.scheduler``).

- :func:`filter_nodes` / :func:`find_feasible`: PreFilter and Filter plugins in upstream order;
- :func:`score` / :func:`select_host` / :func:`schedule`: the default profile's scoring;
- :func:`failure_message`: the exact ``FailedScheduling`` text (SC-02);
- :func:`bind_pod` (``kubesim.scheduler.binding``): the pods/binding semantics, without HTTP.
"""

from .binding import bind_pod
from .framework import (Decision, FilterResult, Snapshot, failure_message, filter_nodes, find_feasible, schedule,
                        score, select_host)
from .messages import Diagnosis, Status

__all__ = ["Decision", "Diagnosis", "FilterResult", "Snapshot", "Status", "bind_pod", "failure_message",
           "filter_nodes", "find_feasible", "schedule", "score", "select_host"]

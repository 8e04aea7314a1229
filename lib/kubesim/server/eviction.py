"""``POST /api/v1/namespaces/{ns}/pods/{name}/eviction``: API-initiated eviction under PodDisruptionBudgets.

Upstream: pkg/registry/core/pod/storage/eviction.go (``EvictionREST.Create``,
``checkAndDecrement``, ``addConditionAndDeletePod``, ``canIgnorePDB``,
``shouldEnforceResourceVersion``, ``createTooManyRequestsError``,
``getPodDisruptionBudgets``), apiserver endpoints/handlers/create.go + finisher.go (a
returned failure Status becomes the HTTP error) and
endpoints/handlers/responsewriters (``Retry-After`` from ``details.retryAfterSeconds``).

Behaviour, in the order upstream checks it:

1. Body: ``policy/v1`` (or ``v1beta1``) Eviction, JSON, YAML or protobuf (kubectl drain's
   typed client). The name must match the URL (400 ``name in URL does not match name in
   Eviction object``); ``deleteOptions`` are honoured (grace period, preconditions,
   propagation, dryRun); ``ignoreStoreReadErrorWithClusterBreakingPotential`` is refused (422).
2. Missing pod: 404. A pod that is Succeeded, Failed, Pending or already terminating is
   deleted right away without looking at budgets (a Pending one with a resourceVersion
   precondition so a pod turning Ready in between is not lost).
3. Budgets: PDBs in the namespace whose selector matches the pod (nil matches nothing).
   More than one: HTTP 500 ``This pod has more than one PodDisruptionBudget, which the
   eviction subresource does not support.``
4. An unready pod is deleted without spending the budget when the PDB says
   ``unhealthyPodEvictionPolicy: AlwaysAllow``, or (default IfHealthyBudget) when
   currentHealthy >= desiredHealthy > 0; again with a resourceVersion precondition, and a
   conflict answers 429 "still being processed".
5. Otherwise the budget is checked and spent in one optimistic-concurrency status update
   (retried on conflict with a fresh PDB, 20 times): status older than the spec (observed
   generation) -> 429 with ``Retry-After: 10`` and cause ``The disruption budget <name> is
   still being processed by the server.``; negative allowance -> 403; more than 2000
   pending evictions -> 403; disruptionsAllowed 0 -> **429** ``Cannot evict pod as it would
   violate the pod's disruption budget.`` with a ``DisruptionBudget`` cause ``The disruption
   budget <name> needs <desired> healthy pods and has <current> currently`` and no
   Retry-After (kubectl drain retries every 5 s on its own). Spending records the pod in
   ``status.disruptedPods`` and flips the ``DisruptionAllowed`` condition when it reaches 0.
6. The pod gets ``DisruptionTarget=True`` (reason ``EvictionByEvictionAPI``, message
   ``Eviction API: evicting``) and is deleted with the Eviction's DeleteOptions.
   Answer: 201 ``Status`` Success.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Mapping

from aiohttp import web

from .. import clock
from ..api import Api, DeleteOptions, Request
from ..errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    MethodNotAllowed,
    NotFound,
    TooManyRequests,
    invalid,
)
from ..selectors import selector_from_label_selector

if TYPE_CHECKING:
    from .app import ApiServer
    from .routing import Target

Obj = dict[str, Any]

VIOLATION_MSG = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_PDBS_MSG = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"  # policyv1.DisruptionBudgetCause
MAX_DISRUPTED_POD_SIZE = 2000
EVICTION_RETRIES = 20  # EvictionsRetry.Steps
CONDITION_REASON = "EvictionByEvictionAPI"
CONDITION_MESSAGE = "Eviction API: evicting"
SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


class FailureStatus(ApiError):
    """A bare failure ``Status`` (no reason), as a Status returned by a REST storage or a plain Go error."""

    def __init__(self, message: str, code: int = 500) -> None:
        super().__init__(message, code, "")

    def status(self) -> dict[str, Any]:
        body = super().status()
        body.pop("reason", None)
        return body


def budget_cause(message: str) -> dict[str, str]:
    return {"reason": DISRUPTION_BUDGET_CAUSE, "message": message}


def still_processing(pdb_name: str) -> TooManyRequests:
    """``createTooManyRequestsError``: 429 with Retry-After 10 (client-go retries it by itself)."""
    err = TooManyRequests(VIOLATION_MSG, [budget_cause(f"The disruption budget {pdb_name} is still being processed "
                                                       f"by the server.")], retry_after=10)
    err.headers = {"Retry-After": "10"}
    return err


# -- pure decisions ------------------------------------------------------------------------
def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def is_ready(pod: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def can_ignore_pdb(pod: Mapping[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(_meta(pod).get("deletionTimestamp"))


def should_enforce_resource_version(pod: Mapping[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return not (phase in ("Succeeded", "Failed") or _meta(pod).get("deletionTimestamp"))


def matching_pdbs(pod: Mapping[str, Any], pdbs: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``getPodDisruptionBudgets``."""
    out = []
    labels = _meta(pod).get("labels") or {}
    for pdb in pdbs:
        if _meta(pdb).get("namespace") != _meta(pod).get("namespace"):
            continue
        sel = selector_from_label_selector((pdb.get("spec") or {}).get("selector"))
        if sel.matches(labels):
            out.append(pdb)
    return out


def check_and_decrement(pdb: Mapping[str, Any], pod_name: str, now: str, dry_run: bool = False) -> Obj:
    """``checkAndDecrement``: the PDB's new status, or raise the refusal."""
    name = _meta(pdb).get("name", "")
    status = copy.deepcopy(pdb.get("status") or {})
    if int(status.get("observedGeneration") or 0) < int(_meta(pdb).get("generation") or 0):
        raise still_processing(name)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        err = Forbidden("poddisruptionbudget", "policy", name, "pdb disruptions allowed is negative")
        err.details["causes"] = [budget_cause(f"The disruption budget {name} does not allow evicting pods currently: "
                                              "pdb disruptions allowed is negative")]
        raise err
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
        err = Forbidden("poddisruptionbudget", "policy", name,
                        "DisruptedPods map too big - too many evictions not confirmed by PDB controller")
        err.details["causes"] = [budget_cause(f"The disruption budget {name} does not allow evicting pods currently: "
                                              "too many pending evictions not confirmed by PDB controller")]
        raise err
    if allowed == 0:
        raise TooManyRequests(VIOLATION_MSG, [budget_cause(violation_detail(pdb))])
    status["disruptionsAllowed"] = allowed - 1
    if status["disruptionsAllowed"] == 0:
        from ..controllers.disruption import update_disruption_allowed_condition

        update_disruption_allowed_condition(status, now)
    if dry_run:
        return status
    disrupted = dict(status.get("disruptedPods") or {})
    disrupted[pod_name] = now
    status["disruptedPods"] = disrupted
    return status


def violation_detail(pdb: Mapping[str, Any]) -> str:
    """The cause message of a 429 when disruptionsAllowed is 0 (checkAndDecrement's switch)."""
    name = _meta(pdb).get("name", "")
    status = pdb.get("status") or {}
    cond = next((c for c in status.get("conditions") or [] if c.get("type") == "DisruptionAllowed"), None)
    current = int(status.get("currentHealthy") or 0)
    desired = int(status.get("desiredHealthy") or 0)
    failed = cond is not None and cond.get("status") == "False" and bool(cond.get("message"))
    if failed and cond.get("reason") == "SyncFailed":
        return (f"The disruption budget {name} does not allow evicting pods currently because it failed sync: "
                f"{cond['message']}")
    if current <= desired:
        return f"The disruption budget {name} needs {desired} healthy pods and has {current} currently"
    if failed:
        return (f"The disruption budget {name} does not allow evicting pods currently ({cond.get('reason')}): "
                f"{cond['message']}")
    return f"The disruption budget {name} does not allow evicting pods currently"


@dataclass
class Plan:
    """How to evict a pod that cannot skip the budget check.

    ``action``: ``delete`` (no budget applies), ``delete-unhealthy`` (unready pod, budget not
    spent, delete pinned to the pod's resourceVersion) or ``decrement`` (spend ``pdb``).
    """

    action: str
    pdb: Mapping[str, Any] | None = None


def plan(pod: Mapping[str, Any], pdbs: list[Mapping[str, Any]]) -> Plan:
    """The budget part of ``EvictionREST.Create``; raises for more than one PDB."""
    found = matching_pdbs(pod, pdbs)
    if len(found) > 1:
        raise FailureStatus(MULTIPLE_PDBS_MSG, 500)
    if not found:
        return Plan("delete")
    pdb = found[0]
    if not is_ready(pod):
        if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
            return Plan("delete-unhealthy", pdb)
        status = pdb.get("status") or {}
        current = int(status.get("currentHealthy") or 0)
        desired = int(status.get("desiredHealthy") or 0)
        if current >= desired and desired > 0:
            return Plan("delete-unhealthy", pdb)
    return Plan("decrement", pdb)


def disruption_target(pod: Obj, now: str) -> bool:
    """``UpdatePodCondition`` with DisruptionTarget=True; returns whether the pod changed."""
    status = pod.setdefault("status", {})
    conds = list(status.get("conditions") or [])
    new = {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None, "lastTransitionTime": now,
           "reason": CONDITION_REASON, "message": CONDITION_MESSAGE}
    for i, c in enumerate(conds):
        if c.get("type") == "DisruptionTarget":
            if c.get("status") == "True":
                new["lastTransitionTime"] = c.get("lastTransitionTime") or now
            if all(c.get(k) == new.get(k) for k in ("status", "reason", "message", "lastTransitionTime")):
                return False
            conds[i] = new
            break
    else:
        conds.append(new)
    status["conditions"] = conds
    return True


# -- the storage side ----------------------------------------------------------------------
def delete_options(body: Mapping[str, Any], query_dry_run: bool) -> DeleteOptions:
    """``propagateDryRun`` + the Eviction's DeleteOptions as kubesim's."""
    raw = body.get("deleteOptions")
    opts = DeleteOptions()
    if raw is None:
        opts.dry_run = query_dry_run
        return opts
    if not isinstance(raw, dict):
        raise BadRequest("deleteOptions must be an object")
    if raw.get("ignoreStoreReadErrorWithClusterBreakingPotential"):
        raise Invalid("Eviction", "policy", _meta(body).get("name", ""), [invalid(
            "deleteOptions.ignoreStoreReadErrorWithClusterBreakingPotential", True,
            "can not be set for pod eviction, try after removing the option")])
    body_dry = list(raw.get("dryRun") or [])
    query = ["All"] if query_dry_run else []
    if body_dry and query and body_dry != query:
        raise FailureStatus(f"Non-matching dry-run options in request and content: [{' '.join(query)}] and "
                            f"[{' '.join(body_dry)}]")
    grace = raw.get("gracePeriodSeconds")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        raise BadRequest("gracePeriodSeconds: must be an integer")
    opts.grace_period = grace
    opts.propagation = raw.get("propagationPolicy")
    opts.orphan_dependents = raw.get("orphanDependents")
    pre = raw.get("preconditions") or {}
    opts.precondition_uid = pre.get("uid") or None
    opts.precondition_rv = pre.get("resourceVersion") or None
    opts.dry_run = bool(body_dry or query)
    if opts.propagation not in (None, "Orphan", "Background", "Foreground"):
        raise BadRequest(f"propagationPolicy: Unsupported value: \"{opts.propagation}\": supported values: "
                         "\"Foreground\", \"Background\", \"Orphan\", \"nil\"")
    return opts


class Evictor:
    """Runs one eviction against an :class:`Api` (the HTTP handler is a thin wrapper)."""

    def __init__(self, api: Api, manager: str = "kube-apiserver") -> None:
        self.api = api
        self.manager = manager

    def evict(self, namespace: str, name: str, opts: DeleteOptions) -> Obj:
        api = self.api
        pods_rt = api.rt("pods")
        pod: Obj | None = None
        for _ in range(EVICTION_RETRIES):
            pod = api.get(pods_rt, namespace, name)
            if not can_ignore_pdb(pod):
                break
            o = opts
            if should_enforce_resource_version(pod) and opts.precondition_rv is None:
                o = replace(opts, precondition_rv=pod["metadata"].get("resourceVersion"))
            try:
                self._condition_and_delete(namespace, name, o)
                return dict(SUCCESS)
            except Conflict:
                if opts.precondition_rv is not None:
                    raise
                continue
        else:
            raise Conflict("pods", "", name)
        assert pod is not None
        pdb_rt = api.rt("policy/poddisruptionbudgets")
        pdbs = [e.obj() for e in api.store.list(pdb_rt.key, namespace)[0]]
        p = plan(pod, pdbs)
        if p.action == "delete-unhealthy":
            o = replace(opts, precondition_rv=pod["metadata"].get("resourceVersion"))
            try:
                self._condition_and_delete(namespace, name, o)
            except Conflict:
                if opts.precondition_rv is None:
                    raise still_processing(_meta(p.pdb or {}).get("name", ""))
                raise
            return dict(SUCCESS)
        if p.action == "decrement":
            self._spend(namespace, name, p.pdb or {}, opts.dry_run)
        self._condition_and_delete(namespace, name, opts)
        return dict(SUCCESS)

    def _spend(self, namespace: str, pod_name: str, pdb: Mapping[str, Any], dry_run: bool) -> None:
        """Verify-and-decrement with optimistic concurrency (``RetryOnConflict``)."""
        api = self.api
        rt = api.rt("policy/poddisruptionbudgets")
        pdb_name = _meta(pdb).get("name", "")
        cur: Mapping[str, Any] = pdb
        for attempt in range(EVICTION_RETRIES):
            if attempt:
                try:
                    cur = api.get(rt, namespace, pdb_name)
                except NotFound:
                    raise
            status = check_and_decrement(cur, pod_name, clock.rfc3339(), dry_run)
            if dry_run:
                return
            body = copy.deepcopy(dict(cur))
            body["status"] = status
            try:
                api.update(rt, namespace, pdb_name, body, Request(field_manager=self.manager), subresource="status")
                return
            except Conflict:
                continue
        raise ApiError(f"Timeout: couldn't update PodDisruptionBudget \"{pdb_name}\" due to conflicts", 504,
                       "Timeout", {"retryAfterSeconds": 10}, {"Retry-After": "10"})

    def _condition_and_delete(self, namespace: str, name: str, opts: DeleteOptions) -> None:
        """``addConditionAndDeletePod``: DisruptionTarget first (preconditions checked), then delete."""
        api = self.api
        pods_rt = api.rt("pods")
        if not opts.dry_run:
            def mutate(cur: Obj) -> Obj | None:
                md = cur.get("metadata") or {}
                if opts.precondition_uid and opts.precondition_uid != md.get("uid"):
                    raise Conflict("Pod", "", name,
                                   f"the UID in the precondition ({opts.precondition_uid}) does not match the UID in "
                                   f"record ({md.get('uid')}). The object might have been deleted and then recreated")
                if opts.precondition_rv and opts.precondition_rv != md.get("resourceVersion"):
                    raise Conflict("Pod", "", name,
                                   f"the ResourceVersion in the precondition ({opts.precondition_rv}) does not match "
                                   f"the ResourceVersion in record ({md.get('resourceVersion')}). The object might "
                                   f"have been modified")
                return cur if disruption_target(cur, clock.rfc3339()) else None

            updated = api.update_status(pods_rt, namespace, name, mutate, manager=self.manager)
            if opts.precondition_rv is not None:
                opts = replace(opts, precondition_rv=(updated.get("metadata") or {}).get("resourceVersion"))
        api.delete(pods_rt, namespace, name, opts)


# -- HTTP ----------------------------------------------------------------------------------
def handler() -> Any:
    async def handle(request: web.Request, t: "Target", server: "ApiServer") -> web.StreamResponse:
        if request.method != "POST":
            raise MethodNotAllowed(request.method, "eviction")
        req = server._request_options(request)
        body = server._decode_body(request, await server._body(request), ("policy/v1", "Eviction"))
        if not isinstance(body, dict):
            raise BadRequest("Object 'Kind' is missing in the request body")
        api_version = body.get("apiVersion") or "policy/v1"
        kind = body.get("kind") or "Eviction"
        if api_version not in ("policy/v1", "policy/v1beta1"):
            raise BadRequest(f"the API version in the data ({api_version}) does not match the expected API version "
                             f"(policy/v1)")
        if kind != "Eviction":
            raise BadRequest(f"{kind} in version \"{api_version.split('/')[-1]}\" cannot be handled as a Eviction: "
                             f"no kind \"{kind}\" is registered for version \"{api_version}\"")
        md = body.get("metadata") or {}
        if md.get("namespace") and t.namespace and md["namespace"] != t.namespace:
            raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")
        if (md.get("name") or "") != (t.name or ""):
            raise BadRequest("name in URL does not match name in Eviction object")
        opts = delete_options(body, req.dry_run)
        manager = req.field_manager or req.manager()
        out = Evictor(server.api, manager).evict(t.namespace or "default", t.name or "", opts)
        return server._json(out, 201)

    return handle


def register(cluster: Any) -> None:
    cluster.server.subresource_handlers["pods/eviction"] = handler()

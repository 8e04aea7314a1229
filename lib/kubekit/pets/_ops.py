"""Changing a set: deploy and wait, scale, update (canary), delete a pet, delete the set, teardown, zone pinning."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from kubernetes import client

from ..errors import InvalidParameter, NotReady
from ..views import table
from ._live import (PetIdentity, PetState, _call, _missing, _ordinal, api_client, apply, claims, ensure_namespace,
                    ensure_storage_class, identity, pets_now, phase_of, warnings)
from ._spec import ZONE_LABEL, PetSet

# -- deploy and wait ------------------------------------------------------------------------
@dataclass
class Rollout:
    """What a deploy, scale or update did: the pets in the order they came (or went), and the outcome."""

    petset: PetSet
    applied: dict[str, str] = field(default_factory=dict)  # "Kind/name" -> created|configured|unchanged
    created: list[str] = field(default_factory=list)  # pets in the order they first appeared
    ready: list[str] = field(default_factory=list)  # pets in the order they became Ready
    removed: list[str] = field(default_factory=list)  # pets in the order they disappeared
    updated: list[str] = field(default_factory=list)  # pets in the order they moved to the update revision
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [f"{k}: {v}" for k, v in self.applied.items()]
        for what in ("created", "ready", "updated", "removed"):
            names = getattr(self, what)
            if names:
                lines.append(f"{what} in order: {' -> '.join(names)}")
        return "\n".join(lines) or "nothing changed"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def deploy(target: Any, ps: PetSet, *, wait: bool = True, timeout: float = 300.0,
           progress: bool | str = "auto") -> Rollout:
    """Create or update everything for ``ps`` and (by default) wait until every pet is Ready.

    The namespace and the StorageClass are created when missing. The progress bar
    counts Ready pets and names the one coming up, so OrderedReady's one-at-a-time
    creation is visible.
    """
    ensure_namespace(target, ps.namespace)
    created_class = ensure_storage_class(target, ps.storage_class)
    rollout = Rollout(ps)
    if created_class:
        rollout.applied[f"StorageClass/{ps.storage_class}"] = "created"
    order = PodOrder(target, ps) if wait else None
    try:
        for obj in ps.manifests():
            rollout.applied[f"{obj['kind']}/{obj['metadata']['name']}"] = apply(target, obj)
        if order is not None:
            wait_ready(target, ps, timeout=timeout, progress=progress, rollout=rollout, order=order)
    finally:
        if order is not None:
            order.close()
    return rollout


def _bar(total: int, desc: str, progress: bool | str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="pet", disable=progress is False, leave=True)


class PodOrder:
    """The set's pods in the order the API server reports them added and deleted (a watch, from now on).

    Polling can see two changes at once; the watch cannot: its events come in the
    order the API server made them. Start it before a change, read it after.
    """

    def __init__(self, target: Any, ps: PetSet) -> None:
        # A client of its own: exec (kubernetes.stream) patches the caller's client while it runs.
        self._core = client.CoreV1Api(client.ApiClient(configuration=api_client(target).configuration))
        self._ps = ps
        self._selector = ",".join(f"{k}={v}" for k, v in ps.selector.items())
        self.added: list[str] = []
        self.deleted: list[str] = []
        self._stop = threading.Event()
        listing = _call("list pods", self._core.list_namespaced_pod, ps.namespace, label_selector=self._selector)
        self.initial = {o: p.metadata.uid for p in listing.items
                        if (o := _ordinal(p.metadata.name, ps.name)) is not None}  # ordinal -> uid at the start
        self._rv = str(listing.metadata.resource_version)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"kubekit-watch-{ps.name}")
        self._thread.start()

    def _list_rv(self) -> str:
        return str(self._core.list_namespaced_pod(self._ps.namespace, label_selector=self._selector)
                   .metadata.resource_version)

    def _run(self) -> None:
        from kubernetes.watch.watch import iter_resp_lines

        while not self._stop.is_set():
            try:
                resp = self._core.list_namespaced_pod(
                    self._ps.namespace, label_selector=self._selector, watch=True, resource_version=self._rv,
                    timeout_seconds=2, allow_watch_bookmarks=True, _preload_content=False)
                try:
                    for line in iter_resp_lines(resp):
                        event = json.loads(line)
                        meta = (event.get("object") or {}).get("metadata") or {}
                        if event.get("type") == "ERROR":  # 410 Gone: start again from a fresh list
                            self._rv = self._list_rv()
                            break
                        self._rv = meta.get("resourceVersion") or self._rv
                        if event.get("type") == "ADDED":
                            self.added.append(meta.get("name", ""))
                        elif event.get("type") == "DELETED":
                            self.deleted.append(meta.get("name", ""))
                        if self._stop.is_set():
                            break
                finally:
                    resp.release_conn()
            except Exception:  # a transient API error: watch again shortly
                if self._stop.wait(0.2):
                    return

    def settle(self, added: Iterable[str], deleted: Iterable[str], timeout: float = 3.0) -> None:
        """Wait (briefly) until the watch has reported what polling already saw."""
        want_added, want_deleted = set(added), set(deleted)
        deadline = time.monotonic() + timeout
        while (not want_added <= set(self.added) or not want_deleted <= set(self.deleted)) \
                and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        self._stop.set()


def _in_order(observed: list[str], order: list[str]) -> list[str]:
    """``observed`` sorted by the watch's ``order`` (names the watch missed keep their polled place, at the end)."""
    ranked = {}
    for name in order:
        ranked.setdefault(name, len(ranked))
    return sorted(observed, key=lambda n: (ranked.get(n, len(ranked)), observed.index(n)))


def wait_ready(target: Any, ps: PetSet, *, timeout: float = 300.0, progress: bool | str = "auto",
               rollout: Rollout | None = None, interval: float = 0.1,
               done: Callable[[dict[int, PetState]], bool] | None = None,
               order: PodOrder | None = None) -> Rollout:
    """Wait until the pets of ``ps.ordinals`` (and no others) exist and are Ready, recording the order.

    ``rollout.created`` and ``rollout.removed`` are the pets created and removed
    while waiting (in the API server's order when ``order``, a :class:`PodOrder`
    started before the change, is given); ``rollout.ready`` the order they became
    Ready. ``done`` replaces the default condition (used by update and scale).
    Raises NotReady with each pet's state and the newest warning events on timeout.
    """
    rollout = rollout or Rollout(ps)
    own_order = order is None
    order = order or PodOrder(target, ps)
    wanted = set(ps.ordinals)
    start = time.monotonic()
    seen = dict(order.initial)
    created: list[str] = []
    removed: list[str] = []
    try:
        with _bar(len(wanted), f"{ps.name}: pets Ready", progress) as bar:
            while True:
                now = pets_now(target, ps)
                for ordinal, pet in now.items():
                    if seen.get(ordinal) != pet.uid:
                        seen[ordinal] = pet.uid
                        created.append(pet.name)
                newly = [p.name for o, p in sorted(now.items()) if p.ready and not p.terminating and o in wanted
                         and p.name not in rollout.ready]
                rollout.ready.extend(newly)
                for ordinal in sorted(seen, reverse=True):
                    if ordinal not in now:
                        seen.pop(ordinal)
                        if ordinal not in wanted:
                            removed.append(ps.pet(ordinal))
                ready = [o for o in wanted if o in now and now[o].ready and not now[o].terminating]
                bar.n = len(ready)
                pending = [now[o] for o in sorted(now) if o in wanted and not (now[o].ready and not now[o].terminating)]
                extra = [now[o] for o in sorted(now) if o not in wanted]
                bar.set_postfix_str(", ".join(f"{p.name} {phase_of(p)}" for p in (pending + extra)[:3]), refresh=False)
                bar.refresh()
                finished = done(now) if done is not None else (len(ready) == len(wanted) and not extra)
                if finished:
                    break
                if time.monotonic() - start > timeout:
                    raise NotReady(_not_ready_message(target, ps, now, timeout))
                time.sleep(interval)
        order.settle(created, removed)
        rollout.created = _in_order(list(dict.fromkeys(created)), order.added)
        rollout.removed = _in_order(list(dict.fromkeys(removed)), order.deleted)
    finally:
        if own_order:
            order.close()
    rollout.seconds = time.monotonic() - start
    return rollout


def _not_ready_message(target: Any, ps: PetSet, now: dict[int, PetState], timeout: float) -> str:
    states = ", ".join(f"{p.name} {phase_of(p)}" for p in now.values()) or "no pets"
    events = warnings(target, ps)[-3:]
    hint = "; ".join(events) if events else "no warning events"
    return (f"{ps.name} in {ps.namespace} was not ready within {timeout:g} s ({states}); recent warnings: {hint}. "
            f"Look with: kubectl -n {ps.namespace} describe pod {ps.name}-<ordinal>")


# -- changes ------------------------------------------------------------------------------
def scale(target: Any, ps: PetSet, replicas: int, *, wait: bool = True, timeout: float = 300.0,
          progress: bool | str = "auto") -> tuple[PetSet, Rollout]:
    """Scale to ``replicas``; returns the new description (same petkv key space) and the order pets came or went."""
    new = dataclasses.replace(ps, replicas=replicas, shards=ps.shard_count)
    apps = client.AppsV1Api(api_client(target))
    order = PodOrder(target, ps) if wait else None
    rollout = Rollout(new)
    try:
        _call(f"scale {ps.name}", apps.patch_namespaced_stateful_set_scale, ps.name, ps.namespace,
              {"spec": {"replicas": replicas}})
        if order is not None:
            wait_ready(target, new, timeout=timeout, progress=progress, rollout=rollout, order=order)
    finally:
        if order is not None:
            order.close()
    if wait:
        old = set(ps.ordinals)  # report only the pets this scale added
        rollout.ready = [n for n in rollout.ready if _ordinal(n, ps.name) not in old]
        if ps.when_scaled == "Delete":  # the garbage collector deletes the removed pets' claims
            condemned = {ps.claim(o) for o in old - set(new.ordinals)}
            deadline = time.monotonic() + timeout
            while condemned & set(claims(target, ps)):
                if time.monotonic() > deadline:
                    raise NotReady(f"claims {sorted(condemned & set(claims(target, ps)))} of removed pets were not "
                                   f"deleted within {timeout:g} s (whenScaled=Delete)")
                time.sleep(0.1)
    return new, rollout


def update(target: Any, ps: PetSet, *, wait: bool = True, timeout: float = 300.0, progress: bool | str = "auto",
           **changes: Any) -> tuple[PetSet, Rollout]:
    """Change the pod template and/or partition (``version=``, ``image=``, ``partition=`` ...) and roll it out.

    With RollingUpdate, the pets with ordinal >= ordinals_start + partition are
    replaced from the highest ordinal down, one at a time, each only after the
    previous is Ready again; the others keep the current revision (a canary).
    Waits until that is done and returns the new description and the update order.
    """
    new = dataclasses.replace(ps, **{"shards": ps.shard_count, **changes})
    before = {o: p.revision for o, p in pets_now(target, ps).items()}
    rollout = Rollout(new)
    order = PodOrder(target, ps) if wait else None
    try:
        for obj in new.manifests():
            rollout.applied[f"{obj['kind']}/{obj['metadata']['name']}"] = apply(target, obj)
        if order is not None:
            _wait_updated(target, ps, new, before, rollout, order, timeout, progress)
    finally:
        if order is not None:
            order.close()
    return new, rollout


def _wait_updated(target: Any, ps: PetSet, new: PetSet, before: dict[int, str], rollout: Rollout, order: PodOrder,
                  timeout: float, progress: bool | str) -> None:
    apps = client.AppsV1Api(api_client(target))
    sts = _call("read set", apps.read_namespaced_stateful_set, ps.name, ps.namespace)
    generation = sts.metadata.generation
    moved: list[str] = []

    def done(now: dict[int, PetState]) -> bool:
        s = apps.read_namespaced_stateful_set_status(ps.name, ps.namespace)
        if (s.status.observed_generation or 0) < generation or not s.status.update_revision:
            return False
        target_rev = s.status.update_revision
        for o, p in now.items():
            if p.revision == target_rev and before.get(o) != target_rev and p.name not in moved and p.ready:
                moved.append(p.name)
        first = new.ordinals_start + (new.partition if new.update_strategy == "RollingUpdate" else len(new.ordinals))
        for o in new.ordinals:
            p = now.get(o)
            if p is None or not p.ready or p.terminating:
                return False
            if o >= first and p.revision != target_rev:
                return False
        return True

    wait_ready(target, new, timeout=timeout, progress=progress, rollout=rollout, done=done, order=order)
    # pets are replaced by delete + create: the watch's creations give the exact order
    rollout.updated = _in_order(moved, rollout.created)
    rollout.created, rollout.ready = [], []


@dataclass(frozen=True)
class Replacement:
    """A pet before and after it was deleted and re-created by the StatefulSet controller."""

    before: PetIdentity
    after: PetIdentity
    seconds: float

    FIELDS = ("pet", "dns", "pvc", "pv", "volume_zone", "zone", "uid", "ip", "node", "keys", "checksum", "starts")

    def same(self, name: str) -> bool:
        return bool(getattr(self.before, name) == getattr(self.after, name))

    def compare(self, *fields: str) -> str:
        """A table: field, same or changed (values are not shown: uids and IPs differ every run)."""
        rows = [{"field": f, "after deletion": "same" if self.same(f) else "changed"} for f in fields or self.FIELDS]
        return table(rows)

    def __str__(self) -> str:
        return self.compare()


def delete_pet(target: Any, ps: PetSet, ordinal: int, *, timeout: float = 300.0, grace_seconds: int | None = None,
               progress: bool | str = "auto") -> Replacement:
    """Delete one pet's pod and wait for the controller to bring it back Ready; compare before and after."""
    name = ps.pet(ordinal)
    before = identity(target, ps)[name]
    core = client.CoreV1Api(api_client(target))
    body = client.V1DeleteOptions(grace_period_seconds=grace_seconds) if grace_seconds is not None else None
    started = time.monotonic()
    order = PodOrder(target, ps)
    try:
        _call(f"delete pod {name}", core.delete_namespaced_pod, name, ps.namespace, body=body)
        wait_ready(target, ps, timeout=timeout, progress=progress, order=order,
                   done=lambda now: ordinal in now and now[ordinal].uid != before.uid and now[ordinal].ready
                   and not now[ordinal].terminating and all(o in now and now[o].ready for o in ps.ordinals))
    finally:
        order.close()
    after = identity(target, ps)[name]
    return Replacement(before, after, time.monotonic() - started)


@dataclass
class Deletion:
    """What deleting a set left behind."""

    petset: PetSet
    pets_left: list[str]
    claims_left: list[str]
    volumes_left: list[str]

    def __str__(self) -> str:
        return (f"{self.petset.name} deleted (whenDeleted={self.petset.when_deleted}): pets left: "
                f"{', '.join(self.pets_left) or 'none'}; claims left: {', '.join(self.claims_left) or 'none'}")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def _volumes_of(target: Any, claim_names: Iterable[str], namespace: str) -> list[str]:
    core = client.CoreV1Api(api_client(target))
    wanted = set(claim_names)
    return sorted(pv.metadata.name for pv in _call("list volumes", core.list_persistent_volume).items
                  if pv.spec.claim_ref and pv.spec.claim_ref.namespace == namespace
                  and pv.spec.claim_ref.name in wanted)


def delete_set(target: Any, ps: PetSet, *, wait: bool = True, timeout: float = 120.0) -> Deletion:
    """Delete the StatefulSet (background cascade) and wait until its pets are gone.

    With ``when_deleted=Delete`` also wait until the garbage collector has deleted
    the claims (and the provisioner their volumes); with ``Retain`` the claims stay.
    """
    apps = client.AppsV1Api(api_client(target))
    owned = list(claims(target, ps))
    vols = _volumes_of(target, owned, ps.namespace)
    _missing(apps.delete_namespaced_stateful_set, ps.name, ps.namespace,
             body=client.V1DeleteOptions(propagation_policy="Background"))
    deadline = time.monotonic() + timeout
    while True:
        pets = [p.name for p in pets_now(target, ps).values()]
        left = list(claims(target, ps))
        vols_left = [v for v in _volumes_of(target, owned, ps.namespace) if v in vols]
        if not wait:
            break
        if not pets and (ps.when_deleted == "Retain" or (not left and not vols_left)):
            break
        if time.monotonic() > deadline:
            raise NotReady(f"{ps.name}: after {timeout:g} s pets {pets or 'none'} and claims {left or 'none'} remain; "
                           f"check finalizers with kubectl -n {ps.namespace} get pods,pvc -o yaml")
        time.sleep(0.1)
    vols_left = sorted(pv.metadata.name for pv in _call("list volumes", client.CoreV1Api(api_client(target))
                                                         .list_persistent_volume).items if pv.metadata.name in vols)
    return Deletion(ps, pets, left, vols_left)


def delete_claims(target: Any, ps: PetSet, *, wait: bool = True, timeout: float = 120.0) -> list[str]:
    """Delete the set's claims (data is gone for good with the usual Delete reclaim policy); returns their names."""
    core = client.CoreV1Api(api_client(target))
    names = list(claims(target, ps))
    for name in names:
        _missing(core.delete_namespaced_persistent_volume_claim, name, ps.namespace)
    deadline = time.monotonic() + timeout
    while wait and claims(target, ps):
        if time.monotonic() > deadline:
            raise NotReady(f"claims {', '.join(claims(target, ps))} still exist after {timeout:g} s: a pod still "
                           f"uses them (kubernetes.io/pvc-protection); delete the pets first")
        time.sleep(0.1)
    return names


def teardown(target: Any, ps: PetSet, *, claims: bool = True, timeout: float = 120.0) -> None:
    """Remove the set, its Service, PDB and ConfigMap, and (``claims=True``) its claims. Safe to repeat."""
    api = api_client(target)
    core, policy = client.CoreV1Api(api), client.PolicyV1Api(api)
    delete_set(target, dataclasses.replace(ps, when_deleted="Retain"), timeout=timeout)
    _missing(core.delete_namespaced_service, ps.service, ps.namespace)
    _missing(policy.delete_namespaced_pod_disruption_budget, ps.name, ps.namespace)
    _missing(core.delete_namespaced_config_map, ps.config_map, ps.namespace)
    if claims:
        delete_claims(target, ps, timeout=timeout)


@dataclass(frozen=True)
class Pinning:
    """What happened when a pet's volume zone had no schedulable node."""

    pet: str
    zone: str
    cordoned: tuple[str, ...]
    message: str  # the scheduler's FailedScheduling message while the pet was Pending
    came_back: bool

    def __str__(self) -> str:
        return (f"{self.pet} (volume in {self.zone}, {len(self.cordoned)} nodes there cordoned) stayed Pending:\n"
                f"  {self.message}\nafter uncordoning: {self.pet} " + ("Ready again" if self.came_back else "still down"))


def cordon(target: Any, nodes: Iterable[str], unschedulable: bool = True) -> None:
    """Mark nodes (un)schedulable, as ``kubectl cordon``/``uncordon`` do."""
    core = client.CoreV1Api(api_client(target))
    for node in nodes:
        _call(f"cordon {node}", core.patch_node, node, {"spec": {"unschedulable": unschedulable}})


def pinned_by_volume(target: Any, ps: PetSet, ordinal: int, *, timeout: float = 120.0) -> Pinning:
    """Show that a pet cannot leave its volume's zone: cordon that zone, delete the pet, read the scheduler.

    Every node in the zone of the pet's volume is cordoned, the pet deleted, and
    the scheduler's FailedScheduling message for its replacement read; then the
    nodes are uncordoned (also on error) and the pet comes back in its zone.
    """
    api = api_client(target)
    core = client.CoreV1Api(api)
    name = ps.pet(ordinal)
    zone = identity(target, ps, data=False)[name].volume_zone
    if not zone:
        raise InvalidParameter("ordinal", ordinal, f"{name} has no zonal volume (its PV has no zone affinity)")
    nodes = sorted(n.metadata.name for n in _call("list nodes", core.list_node,
                                                   label_selector=f"{ZONE_LABEL}={zone}").items)
    old_uid = pets_now(target, ps)[ordinal].uid
    message = ""
    cordon(target, nodes)
    try:
        _call(f"delete pod {name}", core.delete_namespaced_pod, name, ps.namespace)
        deadline = time.monotonic() + timeout
        while not message:
            now = pets_now(target, ps).get(ordinal)
            if now is not None and now.uid != old_uid:
                events = _call("list events", core.list_namespaced_event, ps.namespace,
                               field_selector=f"involvedObject.name={name}").items
                failed = [e for e in events if e.reason == "FailedScheduling"
                          and e.involved_object.uid == now.uid]
                if failed:
                    message = str(failed[-1].message)
                    break
            if time.monotonic() > deadline:
                raise NotReady(f"{name} was not reported unschedulable within {timeout:g} s")
            time.sleep(0.1)
    finally:
        cordon(target, nodes, unschedulable=False)
    wait_ready(target, ps, timeout=timeout, progress=False)
    return Pinning(name, zone, tuple(nodes), message, True)

"""``verify()``: the identity and data invariants of a settled set."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from ..errors import CheckFailed
from ._live import _missing, _ordinal, api_client, identity, pets_now
from ._spec import CLUSTER_DOMAIN, PetSet

# -- verification ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""

    def __str__(self) -> str:
        return f"{'PASS' if self.ok else 'FAIL'} {self.name}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Verification:
    """The outcome of :func:`verify`: one check per invariant."""

    petset: PetSet
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, bool(ok), detail))

    def record(self, prefix: str = "") -> None:
        """Record every check with :func:`kubekit.runbook.record_check` (printed, and in a run's result.json)."""
        from ..runbook import record_check

        for c in self.checks:
            record_check(prefix + c.name, c.ok, c.detail)

    def __str__(self) -> str:
        return "\n".join(str(c) for c in self.checks)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def verify(target: Any, ps: PetSet, *, ledger: Any = None, markers: dict[str, str] | None = None,
           strict: bool = True) -> Verification:
    """Check the identity and data invariants of a settled set; raise CheckFailed (``strict``) if any fails.

    Identity: exactly the pets ``ps.ordinals``, each Running and Ready, its hostname
    its own name and its subdomain the headless Service, in that Service's
    endpoints under its own hostname (its DNS name), using its own claim
    ``data-<pet>``, Bound, whose volume is in the pet's zone. Data: with a petkv
    ``ledger`` (:class:`kubekit.petdata.Ledger`), every acknowledged write is on
    its owner with its value and no pet holds a key it does not own; with
    ``markers`` (:func:`kubekit.petdata.write_markers`), each marker file reads back.
    """
    v = Verification(ps)
    table_ = identity(target, ps)
    by_pet = {r.pet: r for r in table_}
    pets = pets_now(target, ps)
    names = [ps.pet(o) for o in ps.ordinals]
    v.add("pets", sorted(pets) == list(ps.ordinals), f"want {', '.join(names) or 'none'}, have "
          f"{', '.join(p.name for p in pets.values()) or 'none'}")
    not_ready = [p.name for p in pets.values() if not p.ready or p.terminating]
    v.add("ready", not not_ready, "all Ready" if not not_ready else f"not Ready: {', '.join(not_ready)}")
    bad_host = [p.name for p in pets.values() if p.hostname != p.name or p.subdomain != ps.service]
    v.add("hostnames", not bad_host, "hostname = pet name, subdomain = service" if not bad_host
          else f"wrong hostname or subdomain: {', '.join(bad_host)}")
    dns = _dns_names(target, ps)
    missing_dns = [n for n in names if ps.dns_name(_ordinal(n, ps.name) or 0) not in dns]
    v.add("dns", not missing_dns, f"{len(names) - len(missing_dns)} of {len(names)} pets in the headless service"
          + (f"; missing {', '.join(missing_dns)}" if missing_dns else ""))
    bad_claim = [r.pet for r in table_ if r.pvc != ps.claim(r.ordinal) or not r.pv]
    v.add("claims", not bad_claim, "each pet on its own bound claim data-<pet>" if not bad_claim
          else f"wrong or unbound claim: {', '.join(bad_claim)}")
    bad_zone = [r.pet for r in table_ if r.volume_zone and r.zone != r.volume_zone]
    v.add("volume-zone", not bad_zone, "every pet runs in its volume's zone" if not bad_zone
          else f"pet and volume in different zones: {', '.join(bad_zone)}")
    if ledger is not None:
        from ._data import kv

        report = kv(target, ps).check(ledger)
        v.add("data", report.ok, report.summary())
        wrong_sum = [r.pet for r in table_ if r.pet in report.expected_checksums
                     and r.checksum != report.expected_checksums[r.pet]]
        v.add("checksums", not wrong_sum, "each pet's checksum matches the acknowledged writes" if not wrong_sum
              else f"checksum differs on {', '.join(wrong_sum)}")
    if markers is not None:
        from ._data import read_markers

        got = read_markers(target, ps, list(markers))
        bad = sorted(p for p, m in markers.items() if got.get(p) != m)
        v.add("markers", not bad, f"{len(markers) - len(bad)} of {len(markers)} marker files read back"
              + (f"; lost on {', '.join(bad)}" if bad else ""))
    del by_pet
    if strict and not v.ok:
        raise CheckFailed(f"{ps.name}: " + "; ".join(str(c) for c in v.failed))
    return v


def _dns_names(target: Any, ps: PetSet) -> set[str]:
    """The DNS names the headless Service publishes: ``<hostname>.<service>.<ns>.svc.cluster.local`` per address."""
    discovery = client.DiscoveryV1Api(api_client(target))
    slices = _missing(discovery.list_namespaced_endpoint_slice, ps.namespace,
                      label_selector=f"kubernetes.io/service-name={ps.service}")
    out = set()
    for s in slices.items if slices else []:
        for e in s.endpoints or []:
            if e.hostname and (e.conditions is None or e.conditions.ready is not False):
                out.add(f"{e.hostname}.{ps.service}.{ps.namespace}.svc.{CLUSTER_DOMAIN}")
    return out

"""The sandbox's clusterset DNS (kubekit.sandbox.mcs) over stand-in clusters: names, exports, lost members."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from kubekit.sandbox.mcs import ClusterSetDNS

EXPORT_KEY = "multicluster.x-k8s.io/serviceexports"


@dataclass
class FakeCluster:
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    crd: bool = True
    available: bool = True

    def __post_init__(self) -> None:
        self.store = SimpleNamespace(get=self._get)
        self.registry = SimpleNamespace(for_kind=self._for_kind)
        self.server = SimpleNamespace(available=self.available)

    def _get(self, key: str, ns: str, name: str) -> Any:
        obj = self.objects.get((key, ns, name))
        return None if obj is None else SimpleNamespace(obj=lambda: obj)

    def _for_kind(self, group: str, version: str, kind: str) -> Any:
        if self.crd and (group, version, kind) == ("multicluster.x-k8s.io", "v1alpha1", "ServiceExport"):
            return SimpleNamespace(key=EXPORT_KEY)
        return None

    def web(self, ready: list[tuple[str, str]], not_ready: list[tuple[str, str]] = ()) -> "FakeCluster":
        self.objects[("endpoints", "default", "web")] = {"subsets": [{
            "addresses": [{"ip": ip, "hostname": host} for host, ip in ready],
            "notReadyAddresses": [{"ip": ip, "hostname": host} for host, ip in not_ready]}]}
        return self

    def export(self) -> "FakeCluster":
        self.objects[(EXPORT_KEY, "default", "web")] = {"kind": "ServiceExport"}
        return self


def dns(**clusters: FakeCluster) -> ClusterSetDNS:
    return ClusterSetDNS(lambda: list(clusters.items()))


def test_a_pet_resolves_in_its_cluster_only():
    a = FakeCluster().web([("web-0", "10.1.16.2"), ("web-1", "10.1.16.3")])
    b = FakeCluster().web([("web-0", "10.2.16.2")])
    r = dns(**{"member-a": a, "member-b": b})
    assert r("web-1.member-a.web.default.svc.clusterset.local") == ["10.1.16.3"]
    assert r("WEB-0.member-b.web.default.svc.clusterset.local.") == ["10.2.16.2"]
    assert r("web-9.member-a.web.default.svc.clusterset.local") is None
    assert r("web-0.member-z.web.default.svc.clusterset.local") is None
    assert r("web-0.member-a.other.default.svc.clusterset.local") is None


@pytest.mark.parametrize("name", ["web.default.svc.cluster.local", "web-0.web.default.svc.cluster.local",
                                  "default.svc.clusterset.local", "a.b.web.default.svc.clusterset.local",
                                  "web.default.pod.clusterset.local"])
def test_other_names_are_left_to_other_resolvers(name):
    assert dns(a=FakeCluster().web([("web-0", "10.1.16.2")]).export())(name) is None


def test_the_service_name_gathers_ready_endpoints_of_exporting_clusters():
    a = FakeCluster().web([("web-0", "10.1.16.2"), ("web-1", "10.1.16.10")], not_ready=[("web-2", "10.1.16.4")])
    b = FakeCluster().web([("web-0", "10.2.16.2")])
    c = FakeCluster(crd=False).web([("web-0", "10.3.16.2")])  # no CRD: nothing is exported
    r = dns(a=a, b=b, c=c)
    assert r("web.default.svc.clusterset.local") is None
    a.export()
    assert r("web.default.svc.clusterset.local") == ["10.1.16.2", "10.1.16.10"]
    b.export()
    assert r("web.default.svc.clusterset.local") == ["10.1.16.2", "10.1.16.10", "10.2.16.2"]


def test_a_lost_cluster_resolves_nothing():
    a = FakeCluster(available=False).web([("web-0", "10.1.16.2")]).export()
    b = FakeCluster().web([("web-0", "10.2.16.2")]).export()
    r = dns(**{"member-a": a, "member-b": b})
    assert r("web.default.svc.clusterset.local") == ["10.2.16.2"]
    assert r("web-0.member-a.web.default.svc.clusterset.local") is None

"""kubekit.pets: a PetSet's manifests are valid upstream objects and say what the lesson claims they say.

Every rendered object is validated against the Kubernetes 1.33 OpenAPI schemas
(``kubernetes-validate``, strict: unknown fields fail) for each shape of
PetSet the kit makes: petkv and a plain image, ordinal slices, both retention
policies, both pod management and update strategies, no PDB, the default class.
"""

from __future__ import annotations

import dataclasses

import kubernetes_validate
import pytest

from kubekit import pets
from kubekit.errors import InvalidParameter
from kubekit.workloads import petkv

K8S_VERSION = "1.33"

SHAPES = {
    "default": pets.PetSet(),
    "image": pets.PetSet("db", workload="postgres:16", mount_path="/var/lib/postgresql/data"),
    "slice": pets.PetSet("web", replicas=2, ordinals_start=3),
    "delete-policies": pets.PetSet(when_deleted="Delete", when_scaled="Delete"),
    "parallel-ondelete": pets.PetSet(pod_management="Parallel", update_strategy="OnDelete"),
    "canary": pets.PetSet(partition=2, version="v2"),
    "no-pdb-default-class-no-spread": pets.PetSet(max_unavailable=0, storage_class="", zone_spread=""),
    "soft-spread": pets.PetSet(zone_spread="ScheduleAnyway"),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_manifests_validate_against_upstream_schemas(shape: str) -> None:
    for obj in SHAPES[shape].manifests(storage_class=True):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_an_invalid_manifest_is_caught_by_the_validator() -> None:
    """Guards the test above: the validator really checks (a string replica count fails)."""
    sts = pets.PetSet().statefulset_manifest()
    sts["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sts, K8S_VERSION, strict=True)


def test_apply_order_and_kinds() -> None:
    kinds = [o["kind"] for o in pets.PetSet().manifests(storage_class=True)]
    assert kinds == ["StorageClass", "ConfigMap", "Service", "PodDisruptionBudget", "StatefulSet"]
    assert [o["kind"] for o in SHAPES["image"].manifests()] == ["Service", "PodDisruptionBudget", "StatefulSet"]
    assert "PodDisruptionBudget" not in [o["kind"] for o in SHAPES["no-pdb-default-class-no-spread"].manifests()]


def test_statefulset_identity_and_storage() -> None:
    ps = pets.PetSet("web", namespace="pets", replicas=3)
    svc, sts = ps.service_manifest(), ps.statefulset_manifest()
    spec = sts["spec"]
    assert svc["spec"]["clusterIP"] == "None" and spec["serviceName"] == svc["metadata"]["name"] == "web"
    assert svc["spec"]["selector"] == spec["selector"]["matchLabels"]
    labels = spec["template"]["metadata"]["labels"]
    assert all(labels[k] == v for k, v in spec["selector"]["matchLabels"].items())
    [claim] = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                             "storageClassName": "gp3"}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert "ordinals" not in spec
    assert SHAPES["slice"].statefulset_manifest()["spec"]["ordinals"] == {"start": 3}
    [spread] = spec["template"]["spec"]["topologySpreadConstraints"]
    assert (spread["topologyKey"], spread["whenUnsatisfiable"], spread["maxSkew"]) == \
        ("topology.kubernetes.io/zone", "DoNotSchedule", 1)
    assert (ps.pet(2), ps.claim(2), ps.dns_name(2)) == ("web-2", "data-web-2", "web-2.web.pets.svc.cluster.local")


def test_petkv_runs_in_a_stock_image_from_a_config_map() -> None:
    ps = pets.PetSet(replicas=3, ordinals_start=3, version="v7")
    cm, sts = ps.config_map_manifest(), ps.statefulset_manifest()
    assert cm["data"]["petkv.py"] == pets.petkv_script()
    tpl = sts["spec"]["template"]
    [c] = tpl["spec"]["containers"]
    assert c["image"] == "python:3.12-slim"
    assert c["command"] == ["python", "/opt/petkv/petkv.py"]
    assert c["args"] == ["--data", "/data", "--port", "8080", "--shards", "3", "--first-ordinal", "3"]
    assert {"name": "PETKV_VERSION", "value": "v7"} in c["env"]
    assert {"name": "data", "mountPath": "/data"} in c["volumeMounts"]
    assert {"name": "petkv", "mountPath": "/opt/petkv", "readOnly": True} in c["volumeMounts"]
    assert tpl["spec"]["volumes"] == [{"name": "petkv", "configMap": {"name": "web-petkv"}}]
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    notes = tpl["metadata"]["annotations"]
    assert notes["kubesim.io/workload"] == "petkv"  # kubesim runs the script; real clusters ignore it
    assert notes["kubekit.io/petkv-script"] == pets.script_hash()
    assert notes["kubekit.io/version"] == "v7"


def test_any_image_gets_no_petkv_parts() -> None:
    sts = SHAPES["image"].statefulset_manifest()
    [c] = sts["spec"]["template"]["spec"]["containers"]
    assert (c["name"], c["image"]) == ("app", "postgres:16")
    assert "command" not in c and "volumes" not in sts["spec"]["template"]["spec"]
    assert "kubesim.io/workload" not in sts["spec"]["template"]["metadata"]["annotations"]
    assert c["volumeMounts"] == [{"name": "data", "mountPath": "/var/lib/postgresql/data"}]


def test_gp3_storage_class_for_the_ebs_csi_driver() -> None:
    sc = pets.storage_class_manifest("gp3")
    assert (sc["provisioner"], sc["volumeBindingMode"], sc["parameters"]["type"]) == \
        ("ebs.csi.aws.com", "WaitForFirstConsumer", "gp3")
    assert not [o for o in pets.PetSet(storage_class="").manifests(storage_class=True) if o["kind"] == "StorageClass"]


@pytest.mark.parametrize("kwargs, field", [
    ({"name": "Web"}, "name"),
    ({"name": "w" * 53}, "name"),
    ({"namespace": "a_b"}, "namespace"),
    ({"replicas": -1}, "replicas"),
    ({"when_deleted": "Keep"}, "when_deleted"),
    ({"pod_management": "Ordered"}, "pod_management"),
    ({"zone_spread": "Maybe"}, "zone_spread"),
    ({"shards": 0}, "shards"),
    ({"workload": ""}, "workload"),
])
def test_bad_descriptions_say_what_to_do(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        pets.PetSet(**kwargs)
    assert err.value.name == field
    assert str(err.value).startswith(f"invalid {field} ")


def test_key_space_is_fixed_and_follows_the_slice() -> None:
    ps = pets.PetSet(replicas=3)
    assert ps.shard_count == 3 and ps.first_shard_ordinal == 0
    keys = [f"key-{i:04d}" for i in range(300)]
    assert {ps.owner(k) for k in keys} == {"web-0", "web-1", "web-2"}
    assert all(ps.owner(k) == f"web-{petkv.owner_ordinal(k, 3, 0)}" for k in keys)
    # scaling keeps the key space: the added pets own nothing
    bigger = dataclasses.replace(ps, replicas=5, shards=ps.shard_count)
    assert {bigger.owner(k) for k in keys} == {"web-0", "web-1", "web-2"}
    # an ordinal slice is its own key space by default ...
    west = pets.PetSet(replicas=3, ordinals_start=3)
    assert {west.owner(k) for k in keys} == {"web-3", "web-4", "web-5"}
    assert all(west.owner(k) == f"web-{3 + petkv.shard_of(k, 3)}" for k in keys)
    # ... or shares one with the other slices
    shared = pets.PetSet(replicas=3, ordinals_start=3, shards=6, shard_start=0)
    assert {shared.owner(k) for k in keys} == {f"web-{i}" for i in range(6)}
    west = pets.PetSet(replicas=6).slice(3, 3)
    assert west == shared
    sts = west.statefulset_manifest()["spec"]
    assert sts["ordinals"] == {"start": 3} and sts["replicas"] == 3
    assert sts["template"]["spec"]["containers"][0]["args"][-4:] == ["--shards", "6", "--first-ordinal", "0"]


def test_the_kv_client_fits_the_drills_ledger() -> None:
    """kubekit.drills.Ledger takes write=kv.put, read=kv.get, shard_of=kv.shard_of (pet names as shards)."""
    from kubernetes import client

    kv = pets.PetKV(client.ApiClient(), pets.PetSet(replicas=3))
    assert kv.shard_of("key-0000") == kv.owner("key-0000") == pets.PetSet(replicas=3).owner("key-0000")
    assert kv.path("web-1", "/kv/a") == "/api/v1/namespaces/pets/pods/web-1:8080/proxy/kv/a"
    with pytest.raises(pets.PetKVError, match="not in this slice"):
        pets.PetKV(client.ApiClient(), pets.PetSet(replicas=6).slice(0, 3)).put(
            next(k for k in (f"k{i}" for i in range(100)) if petkv.owner_ordinal(k, 6) >= 3), "x")


def test_public_surface_is_sorted_and_importable() -> None:
    assert pets.__all__ == sorted(pets.__all__)
    assert all(hasattr(pets, name) for name in pets.__all__)

"""The official kubernetes Python client against kubesim, unchanged."""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import client as k8s
from kubernetes import utils, watch
from kubernetes.client.rest import ApiException

MINIMAL = {
    ("CoreV1Api", "namespaced_config_map"): {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"},
                                             "data": {"k": "v"}},
    ("CoreV1Api", "namespaced_secret"): {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"},
                                         "stringData": {"k": "v"}},
    ("CoreV1Api", "namespaced_service"): {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc1"},
                                          "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}},
    ("CoreV1Api", "namespaced_service_account"): {"apiVersion": "v1", "kind": "ServiceAccount",
                                                  "metadata": {"name": "sa1"}},
    ("CoreV1Api", "namespaced_pod"): {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod1"},
                                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    ("CoreV1Api", "namespaced_persistent_volume_claim"): {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pvc1"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    ("CoreV1Api", "namespaced_endpoints"): {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ep1"}},
    ("CoreV1Api", "namespaced_replication_controller"): {
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc1"},
        "spec": {"selector": {"app": "rc"}, "template": {"metadata": {"labels": {"app": "rc"}},
                 "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
    ("AppsV1Api", "namespaced_stateful_set"): {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "sts1"},
        "spec": {"serviceName": "sts1", "selector": {"matchLabels": {"app": "s"}},
                 "template": {"metadata": {"labels": {"app": "s"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
    ("AppsV1Api", "namespaced_deployment"): {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d1"},
        "spec": {"selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
    ("AppsV1Api", "namespaced_daemon_set"): {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds1"},
        "spec": {"selector": {"matchLabels": {"app": "ds"}},
                 "template": {"metadata": {"labels": {"app": "ds"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
    ("BatchV1Api", "namespaced_job"): {
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j1"},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                                       "containers": [{"name": "c", "image": "busybox"}]}}}},
    ("BatchV1Api", "namespaced_cron_job"): {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj1"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}},
    ("PolicyV1Api", "namespaced_pod_disruption_budget"): {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb1"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
    ("CoordinationV1Api", "namespaced_lease"): {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                                "metadata": {"name": "l1"}, "spec": {"holderIdentity": "me"}},
    ("DiscoveryV1Api", "namespaced_endpoint_slice"): {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "es1"},
        "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}]},
    ("RbacAuthorizationV1Api", "namespaced_role"): {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r1"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    ("RbacAuthorizationV1Api", "namespaced_role_binding"): {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb1"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r1"},
        "subjects": [{"kind": "ServiceAccount", "name": "default"}]},
}

CLUSTER_SCOPED = {
    ("StorageV1Api", "storage_class"): {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                        "metadata": {"name": "gp3-test"}, "provisioner": "ebs.csi.aws.com"},
    ("CoreV1Api", "persistent_volume"): {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv-test"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                 "hostPath": {"path": "/tmp/pv-test"}}},
    ("RbacAuthorizationV1Api", "cluster_role"): {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cr-test"},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]},
}


def gone(read, timeout: float = 15.0) -> bool:
    """True once ``read`` answers 404 (objects with finalizers or a grace period go a moment later)."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            read()
        except ApiException as exc:
            if exc.status == 404:
                return True
            raise
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("api_name,suffix", list(MINIMAL))
def test_crud_namespaced(client, namespace, api_name, suffix):
    api = getattr(k8s, api_name)(client)
    body = MINIMAL[(api_name, suffix)]
    name = body["metadata"]["name"]
    created = getattr(api, f"create_{suffix}")(namespace, body)
    assert created.metadata.name == name and created.metadata.uid
    got = getattr(api, f"read_{suffix}")(name, namespace)
    # Controllers may already have written it (status, finalizers): same object, same or later revision.
    assert got.metadata.uid == created.metadata.uid
    assert int(got.metadata.resource_version) >= int(created.metadata.resource_version)
    listed = getattr(api, f"list_{suffix}")(namespace)
    assert [i.metadata.name for i in listed.items if i.metadata.name == name] == [name]
    patched = getattr(api, f"patch_{suffix}")(name, namespace, {"metadata": {"labels": {"patched": "yes"}}})
    assert patched.metadata.labels["patched"] == "yes"
    # Controllers may write the object meanwhile (status, finalizers): replace the latest version,
    # retrying on the 409 a real client would also get.
    for _ in range(10):
        current = getattr(api, f"read_{suffix}")(name, namespace)
        current.metadata.annotations = {"replaced": "yes"}
        try:
            replaced = getattr(api, f"replace_{suffix}")(name, namespace, current)
            break
        except ApiException as exc:
            assert exc.status == 409
    assert replaced.metadata.annotations["replaced"] == "yes"
    # A replace with a resourceVersion that is no longer current is a 409 Conflict.
    with pytest.raises(ApiException) as err:
        getattr(api, f"replace_{suffix}")(name, namespace, current)
    assert err.value.status == 409
    getattr(api, f"delete_{suffix}")(name, namespace)
    assert gone(lambda: getattr(api, f"read_{suffix}")(name, namespace))


@pytest.mark.parametrize("api_name,suffix", list(CLUSTER_SCOPED))
def test_crud_cluster_scoped(client, api_name, suffix):
    api = getattr(k8s, api_name)(client)
    body = CLUSTER_SCOPED[(api_name, suffix)]
    name = body["metadata"]["name"]
    created = getattr(api, f"create_{suffix}")(body)
    assert created.metadata.name == name
    assert getattr(api, f"read_{suffix}")(name).metadata.uid == created.metadata.uid
    getattr(api, f"patch_{suffix}")(name, {"metadata": {"labels": {"x": "y"}}})
    getattr(api, f"delete_{suffix}")(name)
    assert gone(lambda: getattr(api, f"read_{suffix}")(name))


def test_defaults_seen_by_the_client(client, namespace):
    apps = k8s.AppsV1Api(client)
    sts = apps.create_namespaced_stateful_set(namespace, MINIMAL[("AppsV1Api", "namespaced_stateful_set")])
    assert sts.spec.replicas == 1
    assert sts.spec.pod_management_policy == "OrderedReady"
    assert sts.spec.revision_history_limit == 10
    assert sts.spec.update_strategy.rolling_update.partition == 0
    assert sts.spec.persistent_volume_claim_retention_policy.when_deleted == "Retain"
    assert sts.metadata.generation == 1
    svc = k8s.CoreV1Api(client).create_namespaced_service(namespace, MINIMAL[("CoreV1Api", "namespaced_service")])
    assert svc.spec.cluster_ip.startswith("10.100.") and svc.spec.type == "ClusterIP"
    assert svc.spec.ports[0].target_port == 80 and svc.spec.ports[0].protocol == "TCP"


def test_create_from_yaml_with_a_list(client, namespace, tmp_path):
    doc = tmp_path / "objs.yaml"
    doc.write_text("""
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: one}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: two}
---
apiVersion: v1
kind: ConfigMapList
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: three}
""")
    utils.create_from_yaml(client, str(doc), namespace=namespace)
    names = {c.metadata.name for c in k8s.CoreV1Api(client).list_namespaced_config_map(namespace).items}
    assert {"one", "two", "three"} <= names


def test_watch_streams_and_resumes_after_close(client, namespace):
    core = k8s.CoreV1Api(client)
    start_rv = core.list_namespaced_config_map(namespace).metadata.resource_version
    seen: list[tuple[str, str]] = []

    def produce():
        for i in range(5):
            core.create_namespaced_config_map(namespace, {"metadata": {"name": f"w{i}"}})
            time.sleep(0.05)

    t = threading.Thread(target=produce)
    t.start()
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_config_map, namespace, resource_version=start_rv, timeout_seconds=5):
        if ev["object"].metadata.name.startswith("w"):
            seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 5:
            w.stop()
    t.join()
    assert seen == [("ADDED", f"w{i}") for i in range(5)]
    # Resume from the last seen resourceVersion: only later events arrive.
    last_rv = core.read_namespaced_config_map("w4", namespace).metadata.resource_version
    core.patch_namespaced_config_map("w2", namespace, {"data": {"x": "1"}})
    w2 = watch.Watch()
    later = []
    for ev in w2.stream(core.list_namespaced_config_map, namespace, resource_version=last_rv, timeout_seconds=2):
        later.append((ev["type"], ev["object"].metadata.name))
        w2.stop()
    assert later == [("MODIFIED", "w2")]



def test_label_and_field_selectors_and_paging(client, namespace):
    core = k8s.CoreV1Api(client)
    for i in range(7):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"cm-{i}",
                                                                   "labels": {"parity": "even" if i % 2 == 0 else "odd"}}})
    evens = core.list_namespaced_config_map(namespace, label_selector="parity=even")
    assert sorted(c.metadata.name for c in evens.items) == ["cm-0", "cm-2", "cm-4", "cm-6"]
    one = core.list_namespaced_config_map(namespace, field_selector="metadata.name=cm-3")
    assert [c.metadata.name for c in one.items] == ["cm-3"]
    names, cont = [], None
    while True:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=cont, label_selector="parity")
        names += [c.metadata.name for c in page.items]
        cont = page.metadata._continue
        if not cont:
            break
    assert names == [f"cm-{i}" for i in range(7)]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_pod(namespace, field_selector="spec.bogus=1")
    assert err.value.status == 400


def test_custom_resources_with_schema_status_and_scale(client, namespace):
    ext = k8s.ApiextensionsV1Api(client)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                                        "statusReplicasPath": ".status.replicas"}},
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {
                                       "replicas": {"type": "integer", "minimum": 0},
                                       "color": {"type": "string", "enum": ["red", "blue"], "default": "red"}}},
                                   "status": {"type": "object", "properties": {
                                       "replicas": {"type": "integer"}}}}}}}]}}
    ext.create_custom_resource_definition(crd)
    deadline = time.time() + 5
    while time.time() < deadline:
        got = ext.read_custom_resource_definition("widgets.example.com")
        if any(c.type == "Established" and c.status == "True" for c in (got.status.conditions or [])):
            break
        time.sleep(0.05)
    else:
        pytest.fail("CRD never established")
    co = k8s.CustomObjectsApi(client)
    w = co.create_namespaced_custom_object("example.com", "v1", namespace, "widgets",
                                           {"apiVersion": "example.com/v1", "kind": "Widget",
                                            "metadata": {"name": "w1"}, "spec": {"replicas": 2}})
    assert w["spec"]["color"] == "red"  # schema default applied
    with pytest.raises(ApiException) as err:
        co.create_namespaced_custom_object("example.com", "v1", namespace, "widgets",
                                           {"apiVersion": "example.com/v1", "kind": "Widget",
                                            "metadata": {"name": "w2"}, "spec": {"color": "green"}})
    assert err.value.status == 422 and "spec.color" in err.value.body
    co.patch_namespaced_custom_object_status("example.com", "v1", namespace, "widgets", "w1",
                                             {"status": {"replicas": 2}})
    scale = co.get_namespaced_custom_object_scale("example.com", "v1", namespace, "widgets", "w1")
    assert scale["spec"]["replicas"] == 2 and scale["status"]["replicas"] == 2
    co.patch_namespaced_custom_object_scale("example.com", "v1", namespace, "widgets", "w1",
                                            {"spec": {"replicas": 5}})
    assert co.get_namespaced_custom_object("example.com", "v1", namespace, "widgets", "w1")["spec"]["replicas"] == 5
    ext.delete_custom_resource_definition("widgets.example.com")
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            ext.read_custom_resource_definition("widgets.example.com")
        except ApiException as exc:
            assert exc.status == 404
            break
        time.sleep(0.05)
    with pytest.raises(ApiException) as err:
        co.get_namespaced_custom_object("example.com", "v1", namespace, "widgets", "w1")
    assert err.value.status == 404


def test_garbage_collection_background_foreground_orphan(client, namespace):
    core = k8s.CoreV1Api(client)

    def owner_and_child(suffix):
        owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": f"owner-{suffix}"}})
        core.create_namespaced_config_map(namespace, {"metadata": {
            "name": f"child-{suffix}",
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name,
                                 "uid": owner.metadata.uid, "blockOwnerDeletion": True}]}})

    def exists(name):
        try:
            core.read_namespaced_config_map(name, namespace)
            return True
        except ApiException:
            return False

    def eventually(cond, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if cond():
                return True
            time.sleep(0.05)
        return False

    owner_and_child("bg")
    core.delete_namespaced_config_map("owner-bg", namespace)
    assert eventually(lambda: not exists("child-bg"))

    owner_and_child("fg")
    core.delete_namespaced_config_map("owner-fg", namespace, propagation_policy="Foreground")
    assert eventually(lambda: not exists("child-fg") and not exists("owner-fg"))

    owner_and_child("or")
    core.delete_namespaced_config_map("owner-or", namespace, propagation_policy="Orphan")
    assert eventually(lambda: not exists("owner-or"))
    child = core.read_namespaced_config_map("child-or", namespace)
    assert not child.metadata.owner_references


def test_finalizers_hold_deletion(client, namespace):
    core = k8s.CoreV1Api(client)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    core.delete_namespaced_config_map("held", namespace)
    held = core.read_namespaced_config_map("held", namespace)
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", namespace, {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("held", namespace)
    assert err.value.status == 404

"""API defaulting and registry-strategy resets, against what a real 1.33 server stores.

The expected objects are written out from upstream's defaulting code
(pkg/apis/{core,apps,batch,storage,rbac}/v1/defaults.go, zz_generated.defaults.go),
the pod admission plugins (serviceaccount, defaulttolerationseconds, priority) and the
registry strategies (pkg/registry/*/strategy.go).
"""

from __future__ import annotations

import copy
import random
import re

import pytest

from kubesim import defaults
from kubesim.defaults import quantity
from kubesim.defaults.podspec import image_tag
from kubesim.resources import BUILTIN

RT = {rt.key: rt for rt in BUILTIN if rt.group != "events.k8s.io"}
V133 = (1, 33)


def created(key: str, obj: dict, *, version: tuple[int, int] = V133, **kw) -> dict:
    """What the server would store and return for a POST of ``obj``."""
    obj = copy.deepcopy(obj)
    rt = RT[key]
    defaults.prepare_for_create(rt, obj, k8s_version=version)
    defaults.apply_defaults(rt, obj, k8s_version=version, rng=random.Random(7), **kw)
    return obj


def _meta(name: str, **extra) -> dict:
    return {"name": name, "namespace": "default", **extra}


MINIMAL_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": _meta("web"),
               "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}


def test_minimal_pod_matches_upstream_whole_object() -> None:
    got = created("pods", MINIMAL_POD)
    vol = got["spec"]["volumes"][0]["name"]
    assert re.fullmatch(r"kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}", vol)
    expected = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "generation": 1},
        "spec": {
            "containers": [{
                "name": "nginx", "image": "nginx", "imagePullPolicy": "Always", "resources": {},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                "volumeMounts": [{"name": vol, "readOnly": True,
                                  "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
            }],
            "dnsPolicy": "ClusterFirst", "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0, "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {},
            "serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
            "tolerations": [
                {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
                 "tolerationSeconds": 300},
                {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists",
                 "tolerationSeconds": 300},
            ],
            "volumes": [{"name": vol, "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}},
                {"downwardAPI": {"items": [{"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                            "path": "namespace"}]}},
            ]}}],
        },
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }
    assert got == expected


MINIMAL_STS = {
    "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": _meta("web"),
    "spec": {
        "serviceName": "web",
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "nginx", "image": "registry.k8s.io/nginx-slim:0.8",
                                              "ports": [{"containerPort": 80, "name": "web"}],
                                              "volumeMounts": [{"name": "www", "mountPath": "/usr/share/nginx/html"}]}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "www"},
                                  "spec": {"accessModes": ["ReadWriteOnce"],
                                           "resources": {"requests": {"storage": "1024Mi"}}}}],
    },
}


def test_minimal_statefulset_matches_upstream_whole_object() -> None:
    got = created("apps/statefulsets", MINIMAL_STS)
    expected = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default", "generation": 1},
        "spec": {
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "podManagementPolicy": "OrderedReady",
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"}},
            "serviceName": "web",
            "template": {
                "metadata": {"creationTimestamp": None, "labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "image": "registry.k8s.io/nginx-slim:0.8", "imagePullPolicy": "IfNotPresent",
                        "name": "nginx", "ports": [{"containerPort": 80, "name": "web", "protocol": "TCP"}],
                        "resources": {}, "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "volumeMounts": [{"mountPath": "/usr/share/nginx/html", "name": "www"}],
                    }],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30,
                },
            },
            "updateStrategy": {"rollingUpdate": {"partition": 0}, "type": "RollingUpdate"},
            "volumeClaimTemplates": [{
                "metadata": {"creationTimestamp": None, "name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                         "volumeMode": "Filesystem"},
                "status": {"phase": "Pending"},
            }],
        },
        "status": {"availableReplicas": 0, "replicas": 0},
    }
    assert got == expected


@pytest.mark.parametrize("version, max_unavailable, null_ts", [
    ((1, 29), None, True), ((1, 33), None, True), ((1, 34), None, False), ((1, 35), 1, False),
])
def test_statefulset_version_differences(version, max_unavailable, null_ts) -> None:
    got = created("apps/statefulsets", MINIMAL_STS, version=version)
    assert got["spec"]["updateStrategy"]["rollingUpdate"].get("maxUnavailable") == max_unavailable
    assert ("creationTimestamp" in got["spec"]["template"]["metadata"]) is null_ts


@pytest.mark.parametrize("version, kept", [((1, 33), False), ((1, 35), True)])
def test_statefulset_max_unavailable_dropped_while_gate_off(version, kept) -> None:
    body = copy.deepcopy(MINIMAL_STS)
    body["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 2}}
    got = created("apps/statefulsets", body, version=version)
    assert ("maxUnavailable" in got["spec"]["updateStrategy"]["rollingUpdate"]) is kept


def test_pod_generation_only_from_133() -> None:
    assert "generation" not in created("pods", MINIMAL_POD, version=(1, 32))["metadata"]
    assert created("pods", MINIMAL_POD, version=(1, 33))["metadata"]["generation"] == 1


def test_deployment_defaults() -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta("web"),
           "spec": {"selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}}
    got = created("apps/deployments", dep)
    spec = got["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert got["status"] == {}
    assert got["metadata"]["generation"] == 1
    # Pod-only and admission defaults never reach templates.
    tspec = spec["template"]["spec"]
    for absent in ("enableServiceLinks", "tolerations", "priority", "serviceAccountName", "volumes"):
        assert absent not in tspec


def test_recreate_deployment_gets_no_rolling_update() -> None:
    dep = {"spec": {"strategy": {"type": "Recreate"}, "template": {"spec": {"containers": []}}}}
    assert created("apps/deployments", dep)["spec"]["strategy"] == {"type": "Recreate"}


def test_daemonset_and_replicaset_defaults() -> None:
    ds = created("apps/daemonsets", {"spec": {"template": {"spec": {"containers": []}}}})
    assert ds["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                            "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert ds["spec"]["revisionHistoryLimit"] == 10
    assert ds["status"] == {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                            "numberReady": 0}
    rs = created("apps/replicasets", {"spec": {"template": {"spec": {"containers": []}}}})
    assert rs["spec"]["replicas"] == 1 and rs["status"] == {"replicas": 0}


def test_replication_controller_selector_and_labels_from_template() -> None:
    rc = created("replicationcontrollers", {"metadata": _meta("rc"), "spec": {
        "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}}}})
    assert rc["spec"]["selector"] == {"app": "x"}
    assert rc["metadata"]["labels"] == {"app": "x"}
    assert rc["spec"]["replicas"] == 1


def test_job_defaults_and_generated_selector() -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {**_meta("pi"), "uid": "u-1"},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "pi", "image": "perl:5.34"}]}}}}
    got = created("batch/jobs", job)
    spec = got["spec"]
    assert {k: spec[k] for k in ("completions", "parallelism", "backoffLimit", "completionMode", "suspend",
                                 "manualSelector", "podReplacementPolicy")} == {
        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": False,
        "manualSelector": False, "podReplacementPolicy": "TerminatingOrFailed"}
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "u-1", "job-name": "pi"}
    assert got["status"] == {}


@pytest.mark.parametrize("spec, completions, parallelism, backoff", [
    ({"parallelism": 3}, None, 3, 6),
    ({"completions": 5}, 5, 1, 6),
    ({"completions": 4, "completionMode": "Indexed", "backoffLimitPerIndex": 1}, 4, 1, 2147483647),
])
def test_job_counts(spec, completions, parallelism, backoff) -> None:
    body = {"metadata": {**_meta("j"), "uid": "u"}, "spec": {**spec, "template": {"spec": {"containers": []}}}}
    got = created("batch/jobs", body)["spec"]
    assert (got.get("completions"), got["parallelism"], got["backoffLimit"]) == (completions, parallelism, backoff)


def test_job_with_pod_failure_policy_replaces_only_failed() -> None:
    body = {"metadata": {**_meta("j"), "uid": "u"}, "spec": {
        "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
        "template": {"spec": {"containers": []}}}}
    spec = created("batch/jobs", body)["spec"]
    assert spec["podReplacementPolicy"] == "Failed"
    assert spec["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"] == "True"


def test_cronjob_defaults() -> None:
    cj = created("batch/cronjobs", {"metadata": _meta("cj"), "spec": {"schedule": "*/5 * * * *", "jobTemplate": {
        "spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}})
    spec = cj["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"],
            spec["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)
    assert cj["spec"]["jobTemplate"]["metadata"] == {"creationTimestamp": None}
    jspec = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in jspec  # SetDefaults_Job applies to Jobs only
    assert jspec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_service_defaults() -> None:
    svc = created("services", {"metadata": _meta("web"), "spec": {"selector": {"app": "web"},
                                                                  "ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}})
    assert svc["spec"] == {
        "selector": {"app": "web"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80},
                  {"port": 443, "protocol": "TCP", "targetPort": "https"}],
        "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"],
    }
    assert svc["status"] == {"loadBalancer": {}}
    assert "generation" not in svc["metadata"]


def test_loadbalancer_and_headless_services() -> None:
    lb = created("services", {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})["spec"]
    assert lb["externalTrafficPolicy"] == "Cluster" and lb["allocateLoadBalancerNodePorts"] is True
    headless = created("services", {"spec": {"clusterIP": "None", "selector": {"a": "b"}, "ports": [{"port": 80}]}})
    assert headless["spec"]["clusterIPs"] == ["None"] and headless["spec"]["ipFamilyPolicy"] == "SingleStack"
    ext = created("services", {"spec": {"type": "ExternalName", "externalName": "example.com"}})["spec"]
    assert "ipFamilies" not in ext and "internalTrafficPolicy" not in ext
    aff = created("services", {"spec": {"sessionAffinity": "ClientIP", "ports": [{"port": 1}]}})["spec"]
    assert aff["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_storage_defaults() -> None:
    pvc = created("persistentvolumeclaims", {"metadata": _meta("d"), "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1073741824"}}}})
    assert pvc["spec"]["volumeMode"] == "Filesystem" and pvc["status"] == {"phase": "Pending"}
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1073741824"  # DecimalSI stays decimal
    pv = created("persistentvolumes", {"metadata": {"name": "pv1"}, "spec": {
        "capacity": {"storage": "5Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/d"}}})
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert pv["spec"]["volumeMode"] == "Filesystem" and pv["spec"]["hostPath"]["type"] == ""
    assert pv["status"]["phase"] == "Pending" and "lastPhaseTransitionTime" in pv["status"]
    sc = created("storage.k8s.io/storageclasses", {"metadata": {"name": "gp3"}, "provisioner": "ebs.csi.aws.com"})
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")


def test_namespace_secret_and_misc() -> None:
    ns = created("namespaces", {"metadata": {"name": "team-a"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]} and ns["status"] == {"phase": "Active"}
    assert created("secrets", {"metadata": _meta("s")})["type"] == "Opaque"
    rb = created("rbac.authorization.k8s.io/rolebindings", {
        "metadata": _meta("rb"), "roleRef": {"kind": "Role", "name": "r"},
        "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "d"}]})
    assert rb["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
    assert rb["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io" and "apiGroup" not in rb["subjects"][1]
    eps = created("discovery.k8s.io/endpointslices", {"addressType": "IPv4", "ports": [{"port": 80}]})
    assert eps["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert eps["metadata"]["generation"] == 1
    ep = created("endpoints", {"subsets": [{"ports": [{"port": 80}]}]})
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"
    node = created("nodes", {"metadata": {"name": "n1"}, "status": {"capacity": {"cpu": "2", "memory": "4096Mi"}}})
    assert node["status"]["allocatable"] == {"cpu": "2", "memory": "4Gi"}
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 0}}
    assert node["status"]["nodeInfo"]["kubeletVersion"] == ""
    pdb = created("policy/poddisruptionbudgets", {"spec": {"minAvailable": 1}})
    assert pdb["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}


@pytest.mark.parametrize("image, tag, policy", [
    ("nginx", "latest", "Always"),
    ("nginx:latest", "latest", "Always"),
    ("nginx:1.27", "1.27", "IfNotPresent"),
    ("localhost:5000/team/app", "latest", "Always"),
    ("registry:5000/app:v1", "v1", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "", "IfNotPresent"),
    ("Not A Valid Image", "", "IfNotPresent"),
])
def test_image_pull_policy_by_tag(image, tag, policy) -> None:
    assert image_tag(image) == tag
    pod = created("pods", {"spec": {"containers": [{"name": "c", "image": image}]}})
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_container_detail_defaults() -> None:
    pod = created("pods", {"spec": {"containers": [{
        "name": "c", "image": "x:1",
        "livenessProbe": {"httpGet": {"port": 8080}},
        "readinessProbe": {"grpc": {"port": 9000}, "periodSeconds": 5},
        "env": [{"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}],
        "resources": {"limits": {"cpu": "500m", "memory": "1024Mi"}},
    }], "volumes": [{"name": "a"}, {"name": "b", "configMap": {"name": "cm"}}, {"name": "c", "secret": {"secretName": "s"}},
                    {"name": "d", "hostPath": {"path": "/x"}}]}})
    c = pod["spec"]["containers"][0]
    assert c["livenessProbe"] == {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                  "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert c["readinessProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert c["readinessProbe"]["periodSeconds"] == 5
    assert c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert c["resources"] == {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}
    vols = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert vols["a"]["emptyDir"] == {}
    assert vols["b"]["configMap"]["defaultMode"] == 420 and vols["c"]["secret"]["defaultMode"] == 420
    assert vols["d"]["hostPath"]["type"] == ""
    assert pod["status"]["qosClass"] == "Guaranteed"


def test_admission_respects_existing_tolerations_and_automount() -> None:
    pod = created("pods", {"spec": {"automountServiceAccountToken": False, "serviceAccountName": "builder",
                                    "tolerations": [{"operator": "Exists"}], "containers": [{"name": "c", "image": "x"}]}},
                  toleration_seconds=30)
    assert pod["spec"]["tolerations"] == [{"operator": "Exists"}]
    assert "volumes" not in pod["spec"] and "volumeMounts" not in pod["spec"]["containers"][0]
    assert pod["spec"]["serviceAccount"] == "builder"
    pod = created("pods", {"spec": {"containers": [{"name": "c", "image": "x"}]}}, toleration_seconds=30)
    assert [t["tolerationSeconds"] for t in pod["spec"]["tolerations"]] == [30, 30]
    pod = created("pods", {"spec": {"containers": [{"name": "c", "image": "x"}]}}, service_account_automount=False)
    assert "volumes" not in pod["spec"]


def test_update_does_not_run_create_only_admission() -> None:
    pod = {"metadata": {"name": "p", "uid": "x"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    defaults.apply_defaults(RT["pods"], pod)
    assert "priority" not in pod["spec"] and "volumes" not in pod["spec"]
    assert len(pod["spec"]["tolerations"]) == 2


@pytest.mark.parametrize("text, canon", [
    ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"), ("0.5Gi", "512Mi"), ("0.5", "500m"), ("2000m", "2"),
    ("1000", "1k"), ("1500", "1500"), ("100m", "100m"), ("0.0001", "1m"), ("1e3", "1e3"), ("512", "512"),
    ("1000Mi", "1000Mi"), ("0", "0"), ("128974848", "128974848"), (2, "2"),
])
def test_quantity_canonical_form(text, canon) -> None:
    assert quantity.canonical(text) == canon


@pytest.mark.parametrize("containers, qos", [
    ([{"resources": {}}], "BestEffort"),
    ([{"resources": {"requests": {"cpu": "100m"}}}], "Burstable"),
    ([{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}], "Guaranteed"),
    ([{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}}}],
     "Burstable"),
    ([{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, {"resources": {}}], "Burstable"),
    ([{"resources": {"requests": {"ephemeral-storage": "1Gi"}}}], "BestEffort"),
])
def test_pod_qos(containers, qos) -> None:
    assert defaults.pod_qos({"containers": containers}) == qos


def _stored(key: str, obj: dict) -> dict:
    out = created(key, obj)
    out["metadata"]["uid"] = out["metadata"].get("uid", "uid-1")
    return out


def test_update_keeps_status_and_bumps_generation_on_spec_change_only() -> None:
    old = _stored("apps/statefulsets", MINIMAL_STS)
    old["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "observedGeneration": 1}
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 9}
    new["metadata"]["labels"] = {"tier": "db"}
    new["metadata"]["generation"] = 7
    defaults.prepare_for_update(RT["apps/statefulsets"], new, old)
    assert new["status"] == old["status"] and new["metadata"]["generation"] == 1
    new["spec"]["replicas"] = 3
    defaults.prepare_for_update(RT["apps/statefulsets"], new, old)
    assert new["metadata"]["generation"] == 2


def test_deployment_annotations_bump_generation() -> None:
    old = _stored("apps/deployments", {"spec": {"template": {"spec": {"containers": []}}}})
    new = copy.deepcopy(old)
    new["metadata"]["annotations"] = {"kubernetes.io/change-cause": "x"}
    defaults.prepare_for_update(RT["apps/deployments"], new, old)
    assert new["metadata"]["generation"] == 2


def test_status_update_keeps_spec_and_server_metadata() -> None:
    old = _stored("apps/statefulsets", MINIMAL_STS)
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    new["metadata"]["labels"] = {"changed": "yes"}
    new["metadata"]["generation"] = 9
    new["status"] = {"replicas": 1, "availableReplicas": 0, "observedGeneration": 1}
    defaults.prepare_for_status_update(RT["apps/statefulsets"], new, old)
    assert new["spec"] == old["spec"]
    assert new["metadata"]["generation"] == 1 and new["metadata"]["labels"] == {"changed": "yes"}
    assert new["status"]["replicas"] == 1


def test_pod_status_update_backfills_qos_and_keeps_owner_refs() -> None:
    old = _stored("pods", {**MINIMAL_POD, "metadata": _meta("p", ownerReferences=[{"uid": "a"}])})
    new = copy.deepcopy(old)
    new["status"] = {"phase": "Running"}
    new["metadata"]["ownerReferences"] = []
    defaults.prepare_for_status_update(RT["pods"], new, old)
    assert new["status"] == {"phase": "Running", "qosClass": "BestEffort"}
    assert new["metadata"]["ownerReferences"] == [{"uid": "a"}]


def test_service_update_keeps_allocated_cluster_ip_and_node_ports() -> None:
    old = _stored("services", {"metadata": _meta("s"), "spec": {"type": "NodePort", "clusterIP": "10.100.0.10",
                                                                "ports": [{"port": 80, "nodePort": 30080}]}})
    new = {"metadata": copy.deepcopy(old["metadata"]), "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    defaults.prepare_for_update(RT["services"], new, old)
    assert new["spec"]["clusterIP"] == "10.100.0.10" and new["spec"]["clusterIPs"] == ["10.100.0.10"]
    assert new["spec"]["ports"][0]["nodePort"] == 30080


def test_namespace_finalizers_are_kept_on_update() -> None:
    old = _stored("namespaces", {"metadata": {"name": "n"}})
    new = copy.deepcopy(old)
    new["spec"] = {}
    defaults.prepare_for_update(RT["namespaces"], new, old)
    assert new["spec"]["finalizers"] == ["kubernetes"]

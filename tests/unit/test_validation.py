"""Validation errors with upstream field paths and message texts (table-driven).

Expected texts come from apimachinery util/validation (name/label formats),
api/validation/objectmeta.go, pkg/apis/{core,apps,batch,storage,policy,rbac}/validation
and robfig/cron's parser (CronJob schedules).
"""

from __future__ import annotations

import copy
import random

import pytest

from kubesim import defaults, validation
from kubesim.errors import Invalid
from kubesim.resources import BUILTIN

RT = {rt.key: rt for rt in BUILTIN if rt.group != "events.k8s.io"}

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def prepared(key: str, obj: dict, version=(1, 33)) -> dict:
    obj = copy.deepcopy(obj)
    rt = RT[key]
    defaults.prepare_for_create(rt, obj, k8s_version=version)
    defaults.apply_defaults(rt, obj, k8s_version=version, rng=random.Random(1))
    return obj


def errors(key: str, obj: dict, old: dict | None = None, version=(1, 33), *, raw: bool = False) -> list[str]:
    body = obj if raw else prepared(key, obj, version)
    return [e.full() for e in validation.validate(RT[key], body, old, k8s_version=version)]


def pod(name: str = "web", **spec) -> dict:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


def sts(labels: dict | None = None, **spec) -> dict:
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": {
        "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": labels if labels is not None else {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec}}


def deploy(**spec) -> dict:
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec}}


def stored(key: str, obj: dict) -> dict:
    out = prepared(key, obj)
    out["metadata"].setdefault("uid", "uid-1")
    return out


def updated(key: str, old: dict, mutate) -> list[str]:
    new = copy.deepcopy(old)
    mutate(new)
    rt = RT[key]
    defaults.prepare_for_update(rt, new, old)
    defaults.apply_defaults(rt, new)
    return [e.full() for e in validation.validate(rt, new, old)]


@pytest.mark.parametrize("key, name, expected", [
    ("pods", "Web_1", [f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}']),
    ("pods", "a" * 254, [f'metadata.name: Invalid value: "{"a" * 254}": must be no more than 253 characters']),
    ("pods", "web.v1", []),
    ("namespaces", "team.a", ['metadata.name: Invalid value: "team.a": must not contain dots']),
    ("namespaces", "Team", [f'metadata.name: Invalid value: "Team": {LABEL_MSG}']),
    ("services", "1web", [f'metadata.name: Invalid value: "1web": {DNS1035_MSG}']),
    ("apps/statefulsets", "web.v1", ['metadata.name: Invalid value: "web.v1": must not contain dots']),
    ("rbac.authorization.k8s.io/clusterroles", "system:x/y", ['metadata.name: Invalid value: "system:x/y": '
                                                              "may not contain '/'"]),
    ("rbac.authorization.k8s.io/clusterroles", "system:controller", []),
    ("configmaps", "", ["metadata.name: Required value: name or generateName is required"]),
])
def test_name_rules(key, name, expected) -> None:
    meta = {"name": name} if RT[key].namespaced is False else {"name": name, "namespace": "default"}
    body = {"metadata": meta}
    got = [e for e in errors(key, body) if e.startswith("metadata.name")]
    assert got == expected


@pytest.mark.parametrize("meta, expected", [
    ({"labels": {"app": "a b"}}, ['metadata.labels: Invalid value: "a b": a valid label must be an empty string or '
                                  "consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
                                  "an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
                                  "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]),
    ({"labels": {"-x": "1"}}, ['metadata.labels: Invalid value: "-x": name part must consist of alphanumeric '
                               "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
                               "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                               "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
    ({"annotations": {"a/b/c": "x"}}, ['metadata.annotations: Invalid value: "a/b/c": a qualified name must consist '
                                       "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                                       "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                                       "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an "
                                       "optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]),
    ({"annotations": {"big": "x" * (256 * 1024)}}, ["metadata.annotations: Too long: may not be more than 262144 bytes"]),
    ({"labels": {"app": "x" * 64}}, [f'metadata.labels: Invalid value: "{"x" * 64}": must be no more than 63 characters']),
    ({"finalizers": ["example.com/a", "orphan", "foregroundDeletion"]},
     ['metadata.finalizers: Invalid value: []string{"example.com/a", "orphan", "foregroundDeletion"}: finalizer orphan '
      "and foregroundDeletion cannot be both set"]),
    ({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web"}]},
     ['metadata.ownerReferences.uid: Invalid value: "": must not be empty']),
    ({"namespace": ""}, ["metadata.namespace: Required value"]),
])
def test_object_meta(meta, expected) -> None:
    body = {"metadata": {"name": "cm", "namespace": "default", **meta}}
    assert errors("configmaps", body) == expected


def test_statefulset_selector_mismatch_is_a_422_on_template_labels() -> None:
    body = prepared("apps/statefulsets", sts({"app": "db"}))
    errs = validation.validate(RT["apps/statefulsets"], body, None)
    assert [e.full() for e in errs] == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"db"}: `selector` does not match '
        "template `labels`"]
    status = Invalid("StatefulSet", "apps", "web", errs).status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.template.metadata.labels",
        "message": 'Invalid value: map[string]string{"app":"db"}: `selector` does not match template `labels`'}]
    assert status["message"].startswith('StatefulSet.apps "web" is invalid: spec.template.metadata.labels: ')


@pytest.mark.parametrize("mutate, expected", [
    # A nil selector is labels.Nothing(): required, and it matches no template labels either.
    (lambda o: o["spec"].pop("selector"), ["spec.selector: Required value",
                                           'spec.template.metadata.labels: Invalid value: map[string]string{"app":'
                                           '"web"}: `selector` does not match template `labels`']),
    (lambda o: o["spec"].update(selector={}), ["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:"
                                               "map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement"
                                               "(nil)}: empty selector is invalid for statefulset"]),
    (lambda o: o["spec"].update(replicas=-1), ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]),
    (lambda o: o["spec"].update(podManagementPolicy="Random"),
     ['spec.podManagementPolicy: Invalid value: "Random": must be \'OrderedReady\' or \'Parallel\'']),
    (lambda o: o["spec"].update(ordinals={"start": -2}),
     ["spec.ordinals.start: Invalid value: -2: must be greater than or equal to 0"]),
    (lambda o: o["spec"]["template"]["spec"].update(restartPolicy="Never"),
     ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']),
    (lambda o: o["spec"].update(persistentVolumeClaimRetentionPolicy={"whenDeleted": "Keep"}),
     ['spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": supported values: '
      '"Retain", "Delete"']),
    (lambda o: o["spec"].update(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}),
     ["spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0"]),
    # The pod template's spec is not validated for StatefulSets (pods fail at creation instead).
    (lambda o: o["spec"]["template"]["spec"]["containers"][0].pop("image"), []),
])
def test_statefulset_spec(mutate, expected) -> None:
    body = sts()
    mutate(body)
    assert errors("apps/statefulsets", body) == expected


STS_FORBIDDEN = ("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                 "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                 "forbidden")


@pytest.mark.parametrize("mutate, expected", [
    (lambda n: n["spec"].update(replicas=5), []),
    (lambda n: n["spec"]["template"]["spec"]["containers"][0].update(image="nginx:2"), []),
    (lambda n: n["spec"].update(ordinals={"start": 3}, minReadySeconds=10), []),
    (lambda n: n["spec"].update(serviceName="other"), [STS_FORBIDDEN]),
    (lambda n: n["spec"].update(volumeClaimTemplates=[{"metadata": {"name": "d"}}]), [STS_FORBIDDEN]),
    (lambda n: n["spec"].update(revisionHistoryLimit=3), [STS_FORBIDDEN]),
    (lambda n: n["spec"].update(selector={"matchLabels": {"app": "web", "x": "y"}}),
     ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match '
      "template `labels`", STS_FORBIDDEN]),
])
def test_statefulset_update(mutate, expected) -> None:
    assert updated("apps/statefulsets", stored("apps/statefulsets", sts()), mutate) == expected


def test_statefulset_update_message_in_135_allows_revision_history() -> None:
    old = prepared("apps/statefulsets", sts(), (1, 35))
    new = copy.deepcopy(old)
    new["spec"]["revisionHistoryLimit"] = 3
    assert validation.validate(RT["apps/statefulsets"], new, old, k8s_version=(1, 35)) == []
    new["spec"]["serviceName"] = "x"
    msgs = [e.full() for e in validation.validate(RT["apps/statefulsets"], new, old, k8s_version=(1, 35))]
    assert msgs == ["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                    "'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' "
                    "and 'minReadySeconds' are forbidden"]


@pytest.mark.parametrize("spec, expected", [
    ({"containers": []}, ["spec.containers: Required value"]),
    ({"containers": [{"name": "Web", "image": "x"}]},
     [f'spec.containers[0].name: Invalid value: "Web": {LABEL_MSG}']),
    ({"containers": [{"name": "c"}]}, ["spec.containers[0].image: Required value"]),
    ({"containers": [{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]},
     ['spec.containers[1].name: Duplicate value: "c"']),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 70000}]}]},
     ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}]},
     ['spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']),
    ({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "name": "http"},
                                                           {"containerPort": 81, "name": "http"}]}]},
     ['spec.containers[0].ports[1].name: Duplicate value: "http"']),
    ({"restartPolicy": "Sometimes"},
     ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']),
    ({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]},
     ['spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1']),
    ({"containers": [{"name": "c", "image": "x", "resources": {"requests": {"gpu": "1"}}}]},
     ['spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers']),
    ({"containers": [{"name": "c", "image": "x", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]},
     ['spec.containers[0].volumeMounts[0].name: Not found: "data"']),
    ({"volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}]},
     ['spec.volumes[1].name: Duplicate value: "v"']),
    ({"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]},
     ["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"]),
    ({"volumes": [{"name": "v", "persistentVolumeClaim": {}}]},
     ["spec.volumes[0].persistentVolumeClaim.claimName: Required value"]),
    ({"containers": [{"name": "c", "image": "x", "livenessProbe": {"exec": {"command": ["true"]},
                                                                    "successThreshold": 2}}]},
     ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"]),
    ({"containers": [{"name": "c", "image": "x", "readinessProbe": {"periodSeconds": 5}}]},
     ["spec.containers[0].readinessProbe: Required value: must specify a handler type"]),
    ({"activeDeadlineSeconds": 0},
     ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]),
    ({"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]},
     ['spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be \'NoExecute\' when '
      "`tolerationSeconds` is set"]),
    ({"containers": [{"name": "c", "image": "x", "env": [{"name": "A=B", "value": "1"}]}]},
     ['spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only '
      "of printable ASCII characters other than '='"]),
])
def test_pod_spec(spec, expected) -> None:
    assert errors("pods", pod(**spec)) == expected


POD_FORBIDDEN_PREFIX = ("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
                        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
                        "to 1 if it was previously negative)\n")


@pytest.mark.parametrize("mutate, ok", [
    (lambda p: p["spec"]["containers"][0].update(image="nginx:2"), True),
    (lambda p: p["spec"].update(activeDeadlineSeconds=30), True),
    (lambda p: p["spec"]["tolerations"].append({"key": "k", "operator": "Exists"}), True),
    (lambda p: p["metadata"].update(labels={"a": "b"}), True),
    (lambda p: p["spec"]["containers"][0].update(env=[{"name": "A", "value": "1"}]), False),
    (lambda p: p["spec"].update(nodeSelector={"zone": "a"}), False),
    (lambda p: p["spec"]["tolerations"][0].update(tolerationSeconds=600), False),
    (lambda p: p["spec"]["tolerations"][0].update(tolerationSeconds=60), True),
])
def test_pod_update(mutate, ok) -> None:
    msgs = updated("pods", stored("pods", pod()), mutate)
    if ok:
        assert msgs == []
    else:
        assert len(msgs) == 1 and msgs[0].startswith(POD_FORBIDDEN_PREFIX)


def test_pod_update_cannot_add_containers() -> None:
    msgs = updated("pods", stored("pods", pod()),
                   lambda p: p["spec"]["containers"].append({"name": "d", "image": "x"}))
    assert msgs == ["spec.containers: Forbidden: pod updates may not add or remove containers"]


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["spec"]["template"]["metadata"].update(labels={"app": "x"}),
     ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match '
      "template `labels`"]),
    (lambda d: d["spec"]["template"]["spec"].update(restartPolicy="OnFailure"),
     ['spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"']),
    (lambda d: d["spec"].update(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0,
                                                                                     "maxUnavailable": 0}}),
     ["spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"]),
    (lambda d: d["spec"].update(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "150%"}}),
     ['spec.strategy.rollingUpdate.maxSurge: Invalid value: "150%": must not be greater than 100%']),
    (lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("image"),
     ["spec.template.spec.containers[0].image: Required value"]),
])
def test_deployment_spec(mutate, expected) -> None:
    body = deploy()
    mutate(body)
    assert errors("apps/deployments", body) == expected


def test_deployment_selector_is_immutable() -> None:
    def mutate(d: dict) -> None:
        d["spec"]["selector"] = {"matchLabels": {"app": "web2"}}
        d["spec"]["template"]["metadata"]["labels"] = {"app": "web2"}
    msgs = updated("apps/deployments", stored("apps/deployments", deploy()), mutate)
    assert msgs == ['spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, '
                    "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]


def job(**spec) -> dict:
    return {"metadata": {"name": "pi", "namespace": "default", "uid": "u-1"}, "spec": {
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}, **spec}}


@pytest.mark.parametrize("mutate, expected", [
    (lambda j: None, []),
    (lambda j: j["spec"]["template"]["spec"].pop("restartPolicy"),
     ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']),
    (lambda j: j["spec"].update(backoffLimit=-1), ["spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"]),
    (lambda j: j["spec"].update(completionMode="Indexed"), ["spec.completions: Required value: when completion mode is Indexed"]),
])
def test_job(mutate, expected) -> None:
    body = job()
    mutate(body)
    body = prepared("batch/jobs", body)
    if body["spec"].get("completionMode") == "Indexed":
        body["spec"].pop("completions", None)
    assert [e.full() for e in validation.validate(RT["batch/jobs"], body, None)] == expected


def test_job_manual_selector_must_match() -> None:
    body = job(manualSelector=True, selector={"matchLabels": {"app": "x"}})
    assert errors("batch/jobs", body) == [
        'spec.template.metadata.labels: Invalid value: map[string]string(nil): `selector` does not match template '
        "`labels`"]


def test_job_template_is_immutable() -> None:
    old = stored("batch/jobs", job())
    msgs = updated("batch/jobs", old, lambda j: j["spec"]["template"]["spec"]["containers"][0].update(image="x"))
    assert msgs == ["spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"]


@pytest.mark.parametrize("schedule, message", [
    ("*/5 * * * *", None),
    ("@hourly", None),
    ("@every 5m", None),
    ("0 0 * * MON-FRI", None),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
])
def test_cron_schedule(schedule, message) -> None:
    assert validation.cron_error(schedule) == message
    body = {"metadata": {"name": "cj", "namespace": "default"}, "spec": {"schedule": schedule, "jobTemplate": {
        "spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "x"}]}}}}}}
    expected = [] if message is None else [f'spec.schedule: Invalid value: "{schedule}": {message}']
    assert errors("batch/cronjobs", body) == expected


def test_cronjob_rules() -> None:
    body = {"metadata": {"name": "c" * 53, "namespace": "default"}, "spec": {
        "schedule": "TZ=UTC 0 * * * *", "timeZone": "Mars/Olympus", "concurrencyPolicy": "Sometimes",
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}}}}}
    assert errors("batch/cronjobs", body) == [
        f'metadata.name: Invalid value: "{"c" * 53}": must be no more than 52 characters',
        'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field '
        "instead",
        'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
        'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"',
    ]


def svc(**spec) -> dict:
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}, **spec}}


@pytest.mark.parametrize("spec, expected", [
    ({"ports": [{"port": 80}]}, []),
    ({}, ["spec.ports: Required value"]),
    ({"clusterIP": "None"}, []),
    # targetPort defaults to port, so both are reported.
    ({"ports": [{"port": 0}]}, ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive"]),
    ({"ports": [{"port": 80}, {"port": 81}]}, ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]),
    ({"ports": [{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]}, ['spec.ports[1].name: Duplicate value: "a"']),
    ({"type": "Internal", "ports": [{"port": 80}]},
     ['spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
      '"NodePort"']),
    ({"type": "ExternalName"}, ["spec.externalName: Required value"]),
    ({"ports": [{"port": 80, "nodePort": 30001}]},
     ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
    ({"ports": [{"port": 80, "targetPort": "http_port"}]},
     ['spec.ports[0].targetPort: Invalid value: "http_port": must contain only alpha-numeric characters (a-z, 0-9), '
      "and hyphens (-)"]),
])
def test_service(spec, expected) -> None:
    assert errors("services", svc(**spec)) == expected


def test_service_cluster_ip_is_immutable() -> None:
    old = stored("services", svc(ports=[{"port": 80}], clusterIP="10.100.0.5"))
    msgs = updated("services", old, lambda s: s["spec"].update(clusterIP="10.100.0.6", clusterIPs=["10.100.0.6"]))
    assert msgs == ['spec.clusterIPs[0]: Invalid value: []string{"10.100.0.6"}: may not change once set']
    assert updated("services", old, lambda s: s["spec"].pop("clusterIP") and s["spec"].pop("clusterIPs")) == []


def pvc(**spec) -> dict:
    return {"metadata": {"name": "data", "namespace": "default"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, **spec}}


@pytest.mark.parametrize("spec, expected", [
    ({}, []),
    ({"accessModes": []}, ["spec.accessModes: Required value: at least 1 access mode is required"]),
    ({"accessModes": ["ReadWriteSometimes"]},
     ['spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", '
      '"ReadWriteOnce", "ReadWriteOncePod"']),
    ({"resources": {}}, ["spec.resources[storage]: Required value"]),
    ({"resources": {"requests": {"storage": "0"}}}, ['spec.resources[storage]: Invalid value: "0": must be greater than zero']),
])
def test_pvc(spec, expected) -> None:
    assert errors("persistentvolumeclaims", pvc(**spec)) == expected


def test_pvc_update_rules() -> None:
    old = stored("persistentvolumeclaims", pvc())
    msgs = updated("persistentvolumeclaims", old, lambda p: p["spec"].update(accessModes=["ReadWriteMany"]))
    assert len(msgs) == 1 and msgs[0].startswith(
        "spec: Forbidden: spec is immutable after creation except resources.requests for bound claims\n")
    assert updated("persistentvolumeclaims", old, lambda p: p["spec"].update(volumeName="pv-1")) == []
    bound = copy.deepcopy(old)
    bound["status"] = {"phase": "Bound", "capacity": {"storage": "1Gi"}}
    assert updated("persistentvolumeclaims", bound,
                   lambda p: p["spec"]["resources"]["requests"].update(storage="2Gi")) == []
    assert updated("persistentvolumeclaims", bound,
                   lambda p: p["spec"]["resources"]["requests"].update(storage="512Mi")) == [
        "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity"]


@pytest.mark.parametrize("key, body, expected", [
    ("configmaps", {"data": {"a b": "x"}},
     ['data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, \'-\', \'_\' or '
      "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]),
    ("secrets", {"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}}, ["data[tls.key]: Required value"]),
    ("storage.k8s.io/storageclasses", {}, ["provisioner: Required value"]),
    ("storage.k8s.io/storageclasses", {"provisioner": "x", "volumeBindingMode": "Later"},
     ['volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"']),
    ("policy/poddisruptionbudgets", {"spec": {"minAvailable": 1, "maxUnavailable": "10%"}},
     ["spec: Invalid value: policy.PodDisruptionBudgetSpec{...}: minAvailable and maxUnavailable cannot be both set"]),
    ("coordination.k8s.io/leases", {"spec": {"leaseDurationSeconds": 0}},
     ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]),
    ("events", {"involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"}},
     ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']),
    ("nodes", {"spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}},
     ['metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", '
      '"PreferNoSchedule", "NoExecute"']),
    ("rbac.authorization.k8s.io/roles", {"rules": [{"resources": ["pods"]}]},
     ["rules[0].verbs: Required value: verbs must contain at least one value",
      "rules[0].apiGroups: Required value: resource rules must supply at least one api group"]),
    ("rbac.authorization.k8s.io/rolebindings", {"roleRef": {"kind": "Thing", "name": "r"}},
     ['roleRef.kind: Unsupported value: "Thing": supported values: "Role", "ClusterRole"']),
    ("namespaces", {"spec": {"finalizers": ["custom"]}},
     ['spec.finalizers: Unsupported value: "custom": supported values: "kubernetes"']),
])
def test_other_kinds(key, body, expected) -> None:
    meta = {"name": "x"} if not RT[key].namespaced else {"name": "x", "namespace": "default"}
    assert errors(key, {"metadata": meta, **body}) == expected


@pytest.mark.parametrize("key, body, mutate, expected", [
    ("storage.k8s.io/storageclasses", {"provisioner": "a.io", "parameters": {"type": "gp3"}},
     lambda s: s.update(provisioner="b.io", parameters={"type": "io2"}),
     ["parameters: Forbidden: updates to parameters are forbidden.",
      "provisioner: Forbidden: updates to provisioner are forbidden."]),
    ("rbac.authorization.k8s.io/rolebindings", {"roleRef": {"kind": "Role", "name": "a"}},
     lambda b: b["roleRef"].update(name="b"),
     ['roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"b"}: cannot '
      "change roleRef"]),
    ("secrets", {"type": "Opaque", "immutable": True, "data": {"a": "eA=="}},
     lambda s: s.update(data={"a": "eQ=="}), ["data: Forbidden: field is immutable when `immutable` is set"]),
    ("secrets", {"type": "Opaque"}, lambda s: s.update(type="kubernetes.io/basic-auth", data={"username": "eA=="}),
     ['type: Invalid value: "kubernetes.io/basic-auth": field is immutable']),
    ("nodes", {"spec": {"providerID": "aws:///us-east-1a/i-1"}},
     lambda n: n["spec"].update(providerID="aws:///us-east-1a/i-2"),
     ['spec.providerID: Forbidden: node updates may not change providerID except from "" to valid']),
])
def test_immutability(key, body, mutate, expected) -> None:
    meta = {"name": "x"} if not RT[key].namespaced else {"name": "x", "namespace": "default"}
    old = stored(key, {"metadata": meta, **body})
    assert updated(key, old, mutate) == expected


def test_status_update_checks_counters() -> None:
    old = stored("apps/statefulsets", sts())
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 1, "readyReplicas": 2, "availableReplicas": 0}
    msgs = [e.full() for e in validation.validate_status_update(RT["apps/statefulsets"], new, old)]
    assert msgs == ["status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas"]

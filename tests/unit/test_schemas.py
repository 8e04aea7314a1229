"""kubesim.schemas: upstream definitions and Go-decoder-faithful decoding of request bodies."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from kubesim.schemas import (
    SchemaSet,
    decode_error_message,
    parse_go_time,
    parse_quantity_error,
)

S = SchemaSet("1.33")
POD = "io.k8s.api.core.v1.Pod"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"


def _pod(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]},
    }
    base["spec"].update(spec)
    return base


DEPLOY_BODY: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                 "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{
                    "name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                    "args": ["--port", "8080"],
                    "env": [{"name": "A", "value": "1"},
                            {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }],
                "volumes": [{"name": "data", "emptyDir": {}}],
                "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
            },
        },
    },
}


@pytest.mark.parametrize(("group", "version", "kind", "expected"), [
    ("", "v1", "Pod", "io.k8s.api.core.v1.Pod"),
    ("apps", "v1", "StatefulSet", "io.k8s.api.apps.v1.StatefulSet"),
    ("autoscaling", "v1", "Scale", "io.k8s.api.autoscaling.v1.Scale"),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
     "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"),
    ("apps", "v1", "Nope", None),
])
def test_definition_for(group: str, version: str, kind: str, expected: str | None) -> None:
    assert S.definition_for(group, version, kind) == expected


def test_versions_accept_several_spellings_and_share_the_load() -> None:
    assert SchemaSet("v1.33.2").defs is S.defs
    assert SchemaSet("1.30").version == "1.30"
    with pytest.raises(ValueError):
        SchemaSet("1.2")


def test_node_walks_statefulset_fields() -> None:
    node = S.node_for_kind("apps", "v1", "StatefulSet")
    assert node is not None
    spec = node.field("spec")
    assert spec is not None and "persistentVolumeClaimRetentionPolicy" in spec.field_names()
    containers = S.node("io.k8s.api.core.v1.PodSpec").field("containers")
    assert containers is not None and containers.patch_merge_key == "name" and containers.list_type == "map"


@pytest.mark.parametrize(("body", "unknown"), [
    (_pod(), []),
    ({**_pod(), "extra": 1}, ["extra"]),
    ({**_pod(), "metadata": {"name": "x", "lables": {}}}, ["metadata.lables"]),
    (_pod(foo=1), ["spec.foo"]),
    (_pod(containers=[{"name": "c", "image": "x"}, {"name": "d", "imagee": "y"}]), ["spec.containers[1].imagee"]),
    (_pod(containers=[{"name": "c", "ports": [{"containerPort": 1, "hostport": 2}]}]),
     ["spec.containers[0].ports[0].hostport"]),
    (_pod(Containers=[]), ["spec.Containers"]),  # matching is case-sensitive
    (_pod(nodeSelector={"zone": "a"}), []),
])
def test_unknown_field_paths(body: dict[str, Any], unknown: list[str]) -> None:
    res = S.decode(body, POD, kind_label="Pod")
    assert res.unknown == unknown
    assert res.type_errors == []
    for path in unknown:
        assert path.rsplit(".", 1)[-1].split("[")[0] not in str(res.obj.get("spec", {}).get("containers", ""))


def test_pruned_copy_leaves_input_alone() -> None:
    body = _pod(foo=1)
    before = copy.deepcopy(body)
    res = S.decode(body, POD)
    assert body == before
    assert "foo" not in res.obj["spec"]
    assert res.obj["spec"]["containers"][0]["ports"] == [{"containerPort": 80}]


def test_strict_and_warning_texts() -> None:
    # paths come in document order, as the Go decoder meets them
    res = S.decode({"bar": 2, **_pod(foo=1)}, POD, kind_label="Pod")
    assert res.strict_error() == 'strict decoding error: unknown field "bar", unknown field "spec.foo"'
    assert res.warnings() == ['unknown field "bar"', 'unknown field "spec.foo"']
    assert res.bad_request_message("v1", strict=True) == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "bar", '
        'unknown field "spec.foo"')
    assert res.bad_request_message("v1", strict=False) is None


E = "json: cannot unmarshal"


@pytest.mark.parametrize(("body", "message"), [
    ({"metadata": {"name": 1}}, f"{E} number into Go struct field ObjectMeta.metadata.name of type string"),
    ({"metadata": {"labels": {"a": 1}}}, f"{E} number into Go struct field ObjectMeta.metadata.labels of type string"),
    ({"metadata": {"labels": []}}, f"{E} array into Go struct field ObjectMeta.metadata.labels of type map[string]string"),
    ({"metadata": {"uid": 5}}, f"{E} number into Go struct field ObjectMeta.metadata.uid of type types.UID"),
    ({"spec": "x"}, f"{E} string into Go struct field Pod.spec of type v1.PodSpec"),
    ({"spec": {"containers": "x"}}, f"{E} string into Go struct field PodSpec.spec.containers of type []v1.Container"),
    ({"spec": {"containers": ["x"]}}, f"{E} string into Go struct field PodSpec.spec.containers of type v1.Container"),
    ({"spec": {"containers": [{"args": [1]}]}}, f"{E} number into Go struct field Container.spec.containers.args of type string"),
    ({"spec": {"containers": [{"ports": [{"containerPort": "80"}]}]}},
     f"{E} string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"),
    ({"spec": {"containers": [{"ports": [{"containerPort": 3000000000}]}]}},
     f"{E} number 3000000000 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32"),
    ({"spec": {"activeDeadlineSeconds": 1.5}},
     f"{E} number 1.5 into Go struct field PodSpec.spec.activeDeadlineSeconds of type int64"),
    ({"spec": {"hostNetwork": "true"}}, f"{E} string into Go struct field PodSpec.spec.hostNetwork of type bool"),
    ({"spec": {"restartPolicy": 1}}, f"{E} number into Go struct field PodSpec.spec.restartPolicy of type v1.RestartPolicy"),
    ({"spec": {"containers": [{"resources": {"limits": "1"}}]}},
     f"{E} string into Go struct field ResourceRequirements.spec.containers.resources.limits of type v1.ResourceList"),
    # custom unmarshalers
    ({"spec": {"containers": [{"resources": {"limits": {"cpu": "1x"}}}]}},
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    ({"spec": {"containers": [{"resources": {"limits": {"cpu": True}}}]}},
     "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    ({"spec": {"containers": [{"resources": {"limits": {"memory": "1mi"}}}]}}, "unable to parse quantity's suffix"),
    ({"metadata": {"creationTimestamp": 5}},
     f"{E} number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"),
    ({"metadata": {"creationTimestamp": "yesterday"}},
     'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"'),
    ({"spec": {"containers": [{"readinessProbe": {"httpGet": {"port": True}}}]}},
     f"{E} bool into Go struct field HTTPGetAction.spec.containers.readinessProbe.httpGet.port of type int32"),
    ({"spec": {"containers": [{"readinessProbe": {"httpGet": {"port": 1.5}}}]}},
     f"{E} number 1.5 into Go struct field HTTPGetAction.spec.containers.readinessProbe.httpGet.port of type int32"),
])
def test_type_errors(body: dict[str, Any], message: str) -> None:
    res = S.decode(body, POD, kind_label="Pod")
    assert res.type_errors[0] == message
    assert res.bad_request_message("v1", strict=False) == f'Pod in version "v1" cannot be handled as a Pod: {message}'


def test_unmarshaler_error_wins_over_earlier_type_error() -> None:
    # Go keeps decoding after an UnmarshalTypeError but aborts on an unmarshaler's error.
    body = {"metadata": {"name": 1, "creationTimestamp": "x"}}
    res = S.decode(body, POD)
    assert res.type_errors[0].startswith('parsing time "x"')


@pytest.mark.parametrize(("value", "ok"), [
    ("80", True), (80, True), ("http", True), (True, False), ({"a": 1}, False), (2 ** 31, False),
])
def test_int_or_string(value: Any, ok: bool) -> None:
    body = {"spec": {"ports": [{"port": 80, "targetPort": value}]}}
    res = S.decode(body, "io.k8s.api.core.v1.Service", kind_label="Service")
    assert (res.type_errors == []) is ok
    if ok:
        assert res.obj["spec"]["ports"][0]["targetPort"] == value


@pytest.mark.parametrize(("value", "stored"), [
    ("500m", "500m"), ("1Gi", "1Gi"), (2, "2"), (0.5, "500m"), (1.5e9, "1500M"), ("1e3", "1e3"),
])
def test_quantity_accepts_strings_and_numbers(value: Any, stored: str) -> None:
    body = {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": value}}}]}}
    res = S.decode(body, POD)
    assert res.type_errors == []
    assert res.obj["spec"]["containers"][0]["resources"]["requests"]["cpu"] == stored


@pytest.mark.parametrize(("text", "err"), [
    ("1", None), ("1.5", None), ("-1", None), ("1e3", None), ("1E-3", None), ("100Mi", None), ("0", None),
    ("", "quantities must match"), ("abc", "quantities must match"), ("1Gb", "quantities must match"),
    ("1mi", "unable to parse quantity's suffix"), ("1Ki1", "unable to parse quantity's suffix"),
])
def test_parse_quantity(text: str, err: str | None) -> None:
    got = parse_quantity_error(text)
    assert (got is None) if err is None else (got is not None and got.startswith(err))


@pytest.mark.parametrize(("value", "result"), [
    ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
    ("2024-01-02T03:04:05+02:00", "2024-01-02T01:04:05Z"),
    ("2024-01-02T03:04:05.123Z", "2024-01-02T03:04:05Z"),
    ("2024-13-02T03:04:05Z", 'parsing time "2024-13-02T03:04:05Z": month out of range'),
    ("2024-02-30T03:04:05Z", 'parsing time "2024-02-30T03:04:05Z": day out of range'),
    ("2024-01-02", 'parsing time "2024-01-02" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"'),
    ("2024-01-02T03:04:05", 'parsing time "2024-01-02T03:04:05" as "2006-01-02T15:04:05Z07:00": '
                            'cannot parse "" as "Z07:00"'),
    ("2024-01-02T03:04:05Zjunk", 'parsing time "2024-01-02T03:04:05Zjunk": extra text: "junk"'),
])
def test_go_time_parse(value: str, result: str) -> None:
    parsed, err = parse_go_time(value)
    assert (err or parsed) == result


def test_raw_extension_and_json_accept_anything() -> None:
    rev = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "revision": 1,
           "data": {"anything": [1, {"goes": True}]}}
    res = S.decode(rev, "io.k8s.api.apps.v1.ControllerRevision")
    assert res.unknown == [] and res.type_errors == []
    assert res.obj["data"] == rev["data"]


def test_secret_data_must_be_base64() -> None:
    res = S.decode({"data": {"a": "aGVsbG8=", "b": "not base64!"}}, "io.k8s.api.core.v1.Secret")
    assert res.type_errors == ["illegal base64 data at input byte 3"]


def test_decode_error_message_format() -> None:
    assert decode_error_message("StatefulSet", "v1", "boom") == \
        'StatefulSet in version "v1" cannot be handled as a StatefulSet: boom'


def test_deployment_round_trip_keeps_everything_declared() -> None:
    res = S.decode(DEPLOY_BODY, DEPLOYMENT, kind_label="Deployment")
    assert res.unknown == [] and res.type_errors == []
    assert res.obj == DEPLOY_BODY


def test_decode_speed() -> None:
    S.decode(DEPLOY_BODY, DEPLOYMENT)  # compile tables once
    n = 300
    t0 = time.perf_counter()
    for _ in range(n):
        S.decode(DEPLOY_BODY, DEPLOYMENT)
    per_deploy = (time.perf_counter() - t0) / n
    pod = _pod()
    t0 = time.perf_counter()
    for _ in range(n):
        S.decode(pod, POD)
    per_pod = (time.perf_counter() - t0) / n
    print(f"\ndecode: Deployment {per_deploy * 1e6:.0f} us, Pod {per_pod * 1e6:.0f} us")
    assert per_deploy < 1e-3 and per_pod < 1e-3

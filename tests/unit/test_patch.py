"""kubesim.patch: JSON patch, merge patch and strategic merge patch against real schemas."""

from __future__ import annotations

import copy
import functools
import json
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from kubesim import patch as P
from kubesim.errors import ApiError
from kubesim.schemanode import SchemaNode


@functools.cache
def _defs() -> dict[str, Any]:
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.33.0-local"
    return json.loads((root / "_definitions.json").read_text())["$defs"]


def node(name: str) -> SchemaNode:
    return SchemaNode({"$ref": f"#/$defs/{name}"}, _defs())


DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                     "finalizers": ["a", "b"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25",
                         "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP"}],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "args": ["--x", "--y"]},
                        {"name": "sidecar", "image": "busybox:1.36"},
                    ],
                    "tolerations": [{"key": "k1", "operator": "Exists", "effect": "NoSchedule"}],
                    "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}],
                },
            },
        },
    }


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def _names(items: list[dict[str, Any]], key: str = "name") -> list[Any]:
    return [i[key] for i in items]


# -- strategic merge patch: (description, patch, check(result)) ---------------------------------

SMP_CASES: list[tuple[str, dict[str, Any], Any]] = [
    ("container merged by name keeps other fields and containers",
     {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}},
     lambda r: (_pod_spec(r)["containers"][0]["image"] == "nginx:1.26"
                and _pod_spec(r)["containers"][0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
                and _names(_pod_spec(r)["containers"]) == ["web", "sidecar"])),
    ("new container is added, patch items come first (mergeSortedSlice)",
     {"spec": {"template": {"spec": {"containers": [{"name": "log", "image": "fluentd"}]}}}},
     lambda r: _names(_pod_spec(r)["containers"]) == ["log", "web", "sidecar"]),
    ("env merged by name: changed value, new var, others kept",
     {"spec": {"template": {"spec": {"containers": [
         {"name": "web", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}}}},
     lambda r: _pod_spec(r)["containers"][0]["env"] == [
         {"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}]),
    ("ports merged by containerPort",
     {"spec": {"template": {"spec": {"containers": [
         {"name": "web", "ports": [{"containerPort": 443, "name": "https"}]}]}}}},
     lambda r: _pod_spec(r)["containers"][0]["ports"] == [
         {"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443, "protocol": "TCP", "name": "https"}]),
    ("tolerations (no merge strategy) are replaced",
     {"spec": {"template": {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}}},
     lambda r: _pod_spec(r)["tolerations"] == [{"key": "k2", "operator": "Exists"}]),
    ("args (atomic list) replaced",
     {"spec": {"template": {"spec": {"containers": [{"name": "web", "args": ["--z"]}]}}}},
     lambda r: _pod_spec(r)["containers"][0]["args"] == ["--z"]),
    ("$patch: delete removes a container",
     {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}},
     lambda r: _names(_pod_spec(r)["containers"]) == ["web"]),
    ("$patch: delete of a missing element is a no-op",
     {"spec": {"template": {"spec": {"containers": [{"name": "nope", "$patch": "delete"}]}}}},
     lambda r: _names(_pod_spec(r)["containers"]) == ["web", "sidecar"]),
    ("$patch: delete on an env var inside a merged container",
     {"spec": {"template": {"spec": {"containers": [
         {"name": "web", "env": [{"name": "A", "$patch": "delete"}]}]}}}},
     lambda r: _pod_spec(r)["containers"][0]["env"] == [{"name": "B", "value": "2"}]),
    ("$patch: replace in a list replaces it with the other items",
     {"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}}},
     lambda r: _pod_spec(r)["containers"] == [{"name": "only", "image": "x"}]),
    ("$patch: replace on a map replaces the map",
     {"metadata": {"labels": {"$patch": "replace", "new": "1"}}},
     lambda r: r["metadata"]["labels"] == {"new": "1"}),
    ("$patch: delete on a map empties it",
     {"spec": {"template": {"metadata": {"$patch": "delete"}}}},
     lambda r: r["spec"]["template"]["metadata"] == {}),
    ("$setElementOrder reorders containers",
     {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
                                     "containers": [{"name": "web", "image": "nginx:1.27"}]}}}},
     lambda r: (_names(_pod_spec(r)["containers"]) == ["sidecar", "web"]
                and _pod_spec(r)["containers"][1]["image"] == "nginx:1.27")),
    ("$setElementOrder alone reorders without changing items",
     {"spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"name": "C", "value": "3"}]}],
                                     "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}]}}}},
     lambda r: _names(_pod_spec(r)["containers"]) == ["web", "sidecar"]),
    ("$setElementOrder positions a new env var (kubectl apply three-way patch)",
     {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                                     "containers": [{"name": "web",
                                                     "$setElementOrder/env": [{"name": "A"}, {"name": "N"},
                                                                              {"name": "B"}],
                                                     "env": [{"name": "N", "value": "n"}]}]}}}},
     lambda r: _names(_pod_spec(r)["containers"][0]["env"]) == ["A", "N", "B"]),
    ("$retainKeys on strategy drops rollingUpdate when switching to Recreate",
     {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}},
     lambda r: r["spec"]["strategy"] == {"type": "Recreate"}),
    ("$retainKeys on a volume switches its source",
     {"spec": {"template": {"spec": {"volumes": [
         {"name": "data", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}]}}}},
     lambda r: _pod_spec(r)["volumes"] == [{"name": "data", "configMap": {"name": "cm"}}]),
    ("null deletes a label; unmatched null is ignored",
     {"metadata": {"labels": {"tier": None, "ghost": None}}},
     lambda r: r["metadata"]["labels"] == {"app": "web"}),
    ("null deletes a nested struct",
     {"spec": {"strategy": {"rollingUpdate": None}}},
     lambda r: r["spec"]["strategy"] == {"type": "RollingUpdate"}),
    ("nulls inside a newly added value are discarded",
     {"spec": {"minReadySeconds": 5, "paused": None, "template": {"spec": {"securityContext":
                                                                          {"runAsUser": 1, "fsGroup": None}}}}},
     lambda r: r["spec"]["minReadySeconds"] == 5 and "paused" not in r["spec"]
     and _pod_spec(r)["securityContext"] == {"runAsUser": 1}),
    ("primitive list with merge strategy (finalizers) is a union, patch items first",
     {"metadata": {"finalizers": ["c", "a"]}},
     lambda r: r["metadata"]["finalizers"] == ["c", "a", "b"]),
    ("$deleteFromPrimitiveList removes from finalizers",
     {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
     lambda r: r["metadata"]["finalizers"] == ["b"]),
    ("$deleteFromPrimitiveList on a missing list adds nothing",
     {"spec": {"template": {"spec": {"containers": [{"name": "web",
                                                     "$deleteFromPrimitiveList/command": ["x"]}]}}}},
     lambda r: "command" not in _pod_spec(r)["containers"][0]),
    ("unknown fields: maps merge, lists replace",
     {"spec": {"extra": {"b": 2}, "extraList": [3]}},
     lambda r: r["spec"]["extra"] == {"a": 1, "b": 2} and r["spec"]["extraList"] == [3]),
    ("a directive map for a missing key is dropped",
     {"spec": {"template": {"spec": {"nodeSelector": {"$patch": "delete"}}}}},
     lambda r: "nodeSelector" not in _pod_spec(r)),
    ("type change replaces the value",
     {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1}}}},
     lambda r: r["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": "25%"}),
]


@pytest.mark.parametrize("desc,body,check", SMP_CASES, ids=[c[0] for c in SMP_CASES])
def test_strategic_merge_patch(desc: str, body: dict[str, Any], check: Any) -> None:
    doc = deployment()
    doc["spec"]["extra"] = {"a": 1}
    doc["spec"]["extraList"] = [1, 2]
    before = copy.deepcopy(doc)
    body_before = copy.deepcopy(body)
    result = P.strategic_merge_patch(doc, body, node(DEPLOYMENT))
    assert check(result), json.dumps(result, indent=1)
    assert doc == before, "the original document must not be modified"
    assert body == body_before, "the patch must not be modified"


SMP_ERRORS: list[tuple[str, Any, int, str]] = [
    ("missing merge key", {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, 400,
     "map: map[image:x] does not contain declared merge key: name"),
    ("unknown $patch value in a map", {"metadata": {"labels": {"$patch": "bogus"}}}, 400,
     "unknown patch type: bogus in map: map[$patch:bogus]"),
    ("$patch: merge in a list", {"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}}, 400,
     "merging lists cannot yet be specified in the patch"),
    ("retainKeys not a list", {"spec": {"strategy": {"$retainKeys": "type", "type": "Recreate"}}}, 400,
     "invalid patch format of retainKeys"),
    ("patch key missing from retainKeys", {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate",
                                                                 "rollingUpdate": {"maxSurge": 1}}}}, 400,
     "invalid patch format of retainKeys"),
    ("bad $deleteFromPrimitiveList key", {"metadata": {"$deleteFromPrimitiveList": ["a"]}}, 400,
     "invalid patch format of primitive list"),
    ("bad $setElementOrder key", {"spec": {"template": {"spec": {"$setElementOrderX/containers": []}}}}, 400,
     "invalid patch format of setElementOrder list"),
    ("$setElementOrder order mismatch",
     {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                                     "containers": [{"name": "sidecar"}, {"name": "web"}]}}}}, 400,
     "doesn't match $setElementOrder list"),
    ("lists of lists", {"metadata": {"finalizers": [["x"]]}}, 422,
     "the server rejected our request due to an error in our request"),
    ("mixed element types in a merge list", {"metadata": {"finalizers": [1]}}, 400,
     "list element types are not identical"),
    ("not an object", ["x"], 400, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
]


@pytest.mark.parametrize("desc,body,code,text", SMP_ERRORS, ids=[c[0] for c in SMP_ERRORS])
def test_strategic_merge_patch_errors(desc: str, body: Any, code: int, text: str) -> None:
    with pytest.raises(ApiError) as ei:
        P.strategic_merge_patch(deployment(), body, node(DEPLOYMENT))
    assert ei.value.code == code
    assert text in ei.value.message
    assert ei.value.status()["reason"] == ("Invalid" if code == 422 else "BadRequest")


def test_smp_lists_of_lists_keeps_cause_in_detail() -> None:
    with pytest.raises(P.PatchError) as ei:
        P.strategic_merge_patch(deployment(), {"metadata": {"finalizers": [["x"]]}}, node(DEPLOYMENT))
    assert ei.value.detail == "lists of lists are not supported"
    assert ei.value.status()["details"] == {}


def test_smp_pdb_selector_has_replace_strategy() -> None:
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "a", "x": "y"}}}}
    out = P.strategic_merge_patch(pdb, {"spec": {"selector": {"matchLabels": {"app": "b"}}}},
                                  node("io.k8s.api.policy.v1.PodDisruptionBudget"))
    assert out["spec"]["selector"] == {"matchLabels": {"app": "b"}}


def test_smp_statefulset_volume_claim_templates_and_pod_conditions() -> None:
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"serviceName": "db", "replicas": 3, "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}},
                                 "spec": {"containers": [{"name": "db", "image": "pg:15",
                                                          "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}},
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}}}
    out = P.strategic_merge_patch(sts, {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}},
                                                 "template": {"spec": {"containers": [
                                                     {"name": "db", "volumeMounts": [
                                                         {"mountPath": "/logs", "name": "logs"}]}]}}}},
                                  node("io.k8s.api.apps.v1.StatefulSet"))
    assert out["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    mounts = out["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert [m["mountPath"] for m in mounts] == ["/logs", "/d"]  # merge key mountPath
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []},
           "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]}}
    out = P.strategic_merge_patch(pod, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                                  node("io.k8s.api.core.v1.Pod"))
    assert out["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                           {"type": "PodScheduled", "status": "True"}]


# Ported from apimachinery strategicpatch patch_test.go ("set elements order in a list with
# server-only items"), with a hand-written schema equivalent to its test struct.
_TEST_SCHEMA = SchemaNode({"type": "object", "properties": {
    "mergingList": {"type": "array", "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name",
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
    "mergingIntList": {"type": "array", "x-kubernetes-patch-strategy": "merge", "items": {"type": "integer"}},
}})


@pytest.mark.parametrize("current,patch,result", [
    ({"mergingList": [{"name": 1, "other": "a"}, {"name": 3, "value": 3}, {"name": 4, "value": 4},
                      {"name": 2, "value": 2}, {"name": 9}]},
     {"$setElementOrder/mergingList": [{"name": 4}, {"name": 2}, {"name": 3}, {"name": 1}]},
     {"mergingList": [{"name": 4, "value": 4}, {"name": 2, "value": 2}, {"name": 3, "value": 3},
                      {"name": 1, "other": "a"}, {"name": 9}]}),
    ({"mergingList": [{"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]},
     {"$setElementOrder/mergingList": [{"name": 3}, {"name": 1}, {"name": 2}],
      "mergingList": [{"name": 3, "value": 3}]},
     {"mergingList": [{"name": 3, "value": 3}, {"name": 1, "other": "a"}, {"name": 2, "value": 2, "other": "b"}]}),
    ({"mergingIntList": [1, 2, 3]},
     {"$setElementOrder/mergingIntList": [3, 1], "$deleteFromPrimitiveList/mergingIntList": [2]},
     {"mergingIntList": [3, 1]}),
])
def test_smp_upstream_ordering_cases(current: dict[str, Any], patch: dict[str, Any], result: dict[str, Any]) -> None:
    assert P.strategic_merge_patch(current, patch, _TEST_SCHEMA) == result


def test_smp_deployment_is_fast() -> None:
    doc, n = deployment(), node(DEPLOYMENT)
    body = {"spec": {"replicas": 3, "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                     "template": {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                                           "containers": [{"name": "web", "image": "nginx:2",
                                                           "env": [{"name": "C", "value": "3"}]}]}}}}
    P.strategic_merge_patch(doc, body, n)
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        P.strategic_merge_patch(doc, body, n)
    assert (time.perf_counter() - start) / runs < 0.001


# -- JSON patch --------------------------------------------------------------------------------

def test_json_patch_ops() -> None:
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 2},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "add", "path": "/metadata/labels/new", "value": "x"},
        {"op": "remove", "path": "/metadata/labels/tier"},
        {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "c", "image": "i"}},
        {"op": "move", "from": "/metadata/labels/new", "path": "/metadata/labels/moved"},
        {"op": "copy", "from": "/spec/replicas", "path": "/spec/minReadySeconds"},
    ]
    doc = deployment()
    out = P.json_patch(doc, ops)
    assert out["spec"]["replicas"] == 5 and out["spec"]["minReadySeconds"] == 5
    assert out["metadata"]["labels"] == {"app": "web", "moved": "x"}
    assert _names(_pod_spec(out)["containers"]) == ["web", "sidecar", "c"]
    assert doc == deployment()


JSON_PATCH_FAILURES: list[tuple[str, Any, int, str]] = [
    ("failed test op", [{"op": "test", "path": "/spec/replicas", "value": 9}], 422,
     "testing value /spec/replicas failed: test failed"),
    ("remove of a missing key", [{"op": "remove", "path": "/spec/nope"}], 422, "remove"),
    ("replace of a missing path", [{"op": "replace", "path": "/spec/a/b", "value": 1}], 422, "replace"),
    ("add under a missing parent", [{"op": "add", "path": "/spec/a/b", "value": 1}], 422, "add"),
    ("index out of range", [{"op": "add", "path": "/spec/template/spec/containers/9", "value": {}}], 422, "add"),
    ("unknown op", [{"op": "frob", "path": "/x"}], 422, "Unexpected kind: frob"),
    ("missing op", [{"path": "/x"}], 422, "Unexpected kind: unknown"),
]


@pytest.mark.parametrize("desc,ops,code,detail", JSON_PATCH_FAILURES, ids=[c[0] for c in JSON_PATCH_FAILURES])
def test_json_patch_failures_are_422_with_upstream_message(desc: str, ops: Any, code: int, detail: str) -> None:
    with pytest.raises(P.PatchError) as ei:
        P.json_patch(deployment(), ops)
    err = ei.value
    assert err.code == code
    assert err.message == "the server rejected our request due to an error in our request"
    assert err.status()["reason"] == "Invalid" and err.status()["details"] == {}
    assert detail in err.detail


@pytest.mark.parametrize("ops,text", [
    ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
    ("x", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
    (["x"], "json: cannot unmarshal string into Go value of type jsonpatch.Operation"),
])
def test_json_patch_body_not_a_list_is_400(ops: Any, text: str) -> None:
    with pytest.raises(ApiError) as ei:
        P.json_patch(deployment(), ops)
    assert ei.value.code == 400 and ei.value.message == text


def test_json_patch_limits_and_results() -> None:
    with pytest.raises(ApiError) as ei:
        P.json_patch({}, [{"op": "test", "path": "", "value": {}}] * 10001)
    assert ei.value.code == 413 and "The allowed maximum operations in a JSON patch is 10000, got 10001" \
        in ei.value.message
    with pytest.raises(ApiError) as ei:
        P.json_patch({"a": 1}, [{"op": "replace", "path": "", "value": [1]}])
    assert ei.value.code == 422 and ei.value.message.startswith(' "" is invalid: patch: Invalid value: "[1]"')
    assert P.json_patch({"a": 1}, None) == {"a": 1}


# -- merge patch ---------------------------------------------------------------------------------

def test_merge_patch_rfc7386() -> None:
    doc = deployment()
    out = P.merge_patch(doc, {"metadata": {"labels": {"tier": None, "x": "y"}},
                              "spec": {"replicas": 3, "strategy": None,
                                       "template": {"spec": {"containers": [{"name": "only", "env": None}]}}}})
    assert out["metadata"]["labels"] == {"app": "web", "x": "y"}
    assert out["spec"]["replicas"] == 3 and "strategy" not in out["spec"]
    assert _pod_spec(out)["containers"] == [{"name": "only"}]  # lists replaced, nulls pruned
    assert _pod_spec(out)["tolerations"] == _pod_spec(doc)["tolerations"]
    assert doc == deployment()


@pytest.mark.parametrize("body,code", [(None, 400), ([1], 422), ("s", 422)])
def test_merge_patch_bad_bodies(body: Any, code: int) -> None:
    with pytest.raises(ApiError) as ei:
        P.merge_patch(deployment(), body)
    assert ei.value.code == code
    if code == 400:
        assert ei.value.message == "Invalid JSON Patch"


# -- dispatcher --------------------------------------------------------------------------------

def test_apply_patch_dispatch() -> None:
    n = node(DEPLOYMENT)
    doc = deployment()
    smp = P.apply_patch("application/strategic-merge-patch+json; charset=utf-8", doc,
                        b'{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"v2"}]}}}}', n,
                        is_custom=False)
    assert _names(_pod_spec(smp)["containers"]) == ["web", "sidecar"]
    mp = P.apply_patch("application/merge-patch+json", doc,
                       b'{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"v2"}]}}}}', n,
                       is_custom=False)
    assert _names(_pod_spec(mp)["containers"]) == ["web"]
    jp = P.apply_patch("application/json-patch+json", doc, b'[{"op":"replace","path":"/spec/replicas","value":7}]',
                       n, is_custom=True)
    assert jp["spec"]["replicas"] == 7
    assert doc == deployment()


def test_apply_patch_smp_on_custom_resource_is_415() -> None:
    with pytest.raises(ApiError) as ei:
        P.apply_patch("application/strategic-merge-patch+json", {"a": 1}, b"{}", None, is_custom=True)
    assert ei.value.code == 415
    assert ei.value.reason == "UnsupportedMediaType"
    assert ei.value.message == ("the body of the request was in an unknown format - accepted media types include: "
                                "application/json-patch+json, application/merge-patch+json, "
                                "application/apply-patch+yaml")


@pytest.mark.parametrize("ctype,body,code,text", [
    ("application/merge-patch+json", b"{not json", 400, "invalid JSON patch"),
    ("application/json-patch+json", b"[", 400, "invalid JSON patch"),
    ("application/strategic-merge-patch+json", b"\xff\xfe", 400, "invalid JSON patch"),
    ("application/merge-patch+json", b'{"a": NaN}', 400, "invalid JSON patch"),
    ("text/plain", b"{}", 415, "accepted media types include: application/json-patch+json, "
                               "application/merge-patch+json, application/strategic-merge-patch+json, "
                               "application/apply-patch+yaml"),
])
def test_apply_patch_rejections(ctype: str, body: bytes, code: int, text: str) -> None:
    with pytest.raises(ApiError) as ei:
        P.apply_patch(ctype, deployment(), body, node(DEPLOYMENT), is_custom=False)
    assert ei.value.code == code and text in ei.value.message


@pytest.mark.parametrize("body", [b"null", b"1", b'"x"', b"[]", b'{"spec": []}', b'{"$patch": 5}',
                                  b'{"spec":{"template":{"spec":{"containers":"x"}}}}',
                                  b'{"spec":{"template":{"spec":{"containers":[1,{"name":"a"}]}}}}',
                                  b'{"metadata":{"$retainKeys":[{}]}}', b'{"metadata":{"finalizers":[{}]}}',
                                  b'{"spec":{"template":{"spec":{"$setElementOrder/containers":[1],'
                                  b'"containers":[{"name":"web"}]}}}}'])
@pytest.mark.parametrize("ctype", [P.JSON_PATCH, P.MERGE_PATCH, P.STRATEGIC_MERGE_PATCH])
def test_garbage_bodies_only_raise_api_errors(ctype: str, body: bytes) -> None:
    try:
        out = P.apply_patch(ctype, deployment(), body, node(DEPLOYMENT), is_custom=False)
    except ApiError as exc:
        assert exc.code in (400, 413, 422)
    else:
        assert isinstance(out, dict)

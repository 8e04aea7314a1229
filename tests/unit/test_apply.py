"""kubesim.apply: field sets, server-side apply and managedFields bookkeeping."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from kubesim import apply as A
from kubesim.errors import ApiError, ApplyConflict
from kubesim.schemanode import SchemaNode

T0, T1, T2, T3 = ("2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z", "2024-05-01T10:02:00Z", "2024-05-01T10:03:00Z")


@functools.cache
def _defs() -> dict[str, Any]:
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.33.0-local"
    return json.loads((root / "_definitions.json").read_text())["$defs"]


def node(name: str = "io.k8s.api.apps.v1.Deployment") -> SchemaNode:
    return SchemaNode({"$ref": f"#/$defs/{name}"}, _defs())


def config(image: str = "nginx:1.25", replicas: int | None = 2, env: bool = True) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "web", "image": image, "ports": [{"containerPort": 80}]}
    if env:
        c["env"] = [{"name": "A", "value": "1"}]
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [c]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": spec}


def created(cfg: dict[str, Any], manager: str = "kubectl") -> dict[str, Any]:
    """An apply-created object as the API layer stores it (with server-set metadata)."""
    obj = A.server_side_apply(None, cfg, manager=manager, force=False, node=node(), now=T0)
    obj["metadata"].update(uid="u-1", resourceVersion="10", creationTimestamp=T0, generation=1)
    return obj


def entry(obj: dict[str, Any], manager: str, operation: str | None = None) -> dict[str, Any]:
    found = [e for e in obj["metadata"].get("managedFields", [])
             if e["manager"] == manager and (operation is None or e["operation"] == operation)]
    assert len(found) == 1, obj["metadata"].get("managedFields")
    return found[0]


def owned(obj: dict[str, Any], manager: str) -> set[str]:
    return set(A.iter_paths(entry(obj, manager)["fieldsV1"]))


def managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def container(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]["containers"][0]


# -- field sets ------------------------------------------------------------------------------

def test_fieldset_matches_upstream_shape() -> None:
    assert A.fieldset(config(), node()) == {
        "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
        "f:apiVersion": {}, "f:kind": {},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},  # LabelSelector is x-kubernetes-map-type: atomic
            "f:template": {"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:containers": {
                'k:{"name":"web"}': {
                    ".": {}, "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}}},
                    "f:image": {}, "f:name": {},
                    "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
                }}}},
        },
    }


@pytest.mark.parametrize("obj,name,expected", [
    ({"metadata": {"finalizers": ["a", "b"]}}, "io.k8s.api.core.v1.ConfigMap",
     {'.metadata.finalizers[="a"]', '.metadata.finalizers[="b"]'}),  # set list
    ({"spec": {"tolerations": [{"key": "k"}], "containers": [{"name": "c", "args": ["x"]}]}},
     "io.k8s.api.core.v1.Pod",
     {".spec.tolerations", '.spec.containers[name="c"]', '.spec.containers[name="c"].name',
      '.spec.containers[name="c"].args'}),  # atomic lists are one field
    ({"data": {"k": "v"}, "metadata": {"annotations": {}}}, "io.k8s.api.core.v1.ConfigMap",
     {".data.k", ".metadata.annotations"}),  # empty map is itself a field
    ({"spec": {"x": {"y": [1, 2], "z": {}}}}, "io.k8s.api.core.v1.ConfigMap",
     {".spec", ".spec.x", ".spec.x.y", ".spec.x.z"}),  # undeclared: deduced, every key a member
])
def test_field_paths(obj: dict[str, Any], name: str, expected: set[str]) -> None:
    assert set(A.iter_paths(A.fieldset(obj, node(name)))) == expected


def test_fields_round_trip_and_display() -> None:
    fields = A.fieldset(config(), node())
    assert A.paths_to_fields(A.fields_to_paths(fields)) == fields
    assert A.path_display(("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"web"}', "f:image")) == \
        '.spec.template.spec.containers[name="web"].image'
    assert A.pe_display('k:{"containerPort":80,"protocol":"TCP"}') == '[containerPort=80,protocol="TCP"]'
    assert A.pe_display('v:"x"') == '[="x"]' and A.pe_display("i:3") == "[3]"
    with pytest.raises(ValueError):
        A.fields_to_paths({"x:bad": {}})


# -- server-side apply -------------------------------------------------------------------------

def test_apply_create_records_apply_entry() -> None:
    obj = A.server_side_apply(None, config(), manager="kubectl", force=False, node=node(), now=T0)
    assert obj["spec"]["replicas"] == 2 and container(obj)["image"] == "nginx:1.25"
    e = entry(obj, "kubectl")
    assert e == {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
                 "fieldsType": "FieldsV1", "fieldsV1": e["fieldsV1"]}
    assert "f:name" not in e["fieldsV1"]["f:metadata"] and "f:apiVersion" not in e["fieldsV1"]  # stripmeta


def test_reapply_changes_and_removes_fields() -> None:
    live = created(config())
    new = A.server_side_apply(live, config(image="nginx:1.26", env=False), manager="kubectl", force=False,
                              node=node(), now=T1)
    assert container(new)["image"] == "nginx:1.26"
    assert "env" not in container(new)  # applied before, no longer applied, owned by nobody else
    assert new["spec"]["replicas"] == 2
    assert entry(new, "kubectl")["time"] == T1
    assert '.spec.template.spec.containers[name="web"].env[name="A"]' not in owned(new, "kubectl")
    assert new["metadata"]["uid"] == "u-1" and live["metadata"].get("managedFields")  # live untouched


def test_reapply_without_change_keeps_time() -> None:
    live = created(config())
    again = A.server_side_apply(live, config(), manager="kubectl", force=False, node=node(), now=T1)
    assert entry(again, "kubectl")["time"] == T0
    assert {k: v for k, v in again.items() if k != "metadata"} == {k: v for k, v in live.items() if k != "metadata"}


def test_conflict_with_other_apply_manager() -> None:
    live = created(config())
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}}
    with pytest.raises(ApplyConflict) as ei:
        A.server_side_apply(live, other, manager="hpa", force=False, node=node(), now=T1)
    st = ei.value.status()
    assert st["code"] == 409 and st["reason"] == "Conflict"
    assert st["message"] == 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
    assert st["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"',
                                        "field": ".spec.replicas"}]


def test_force_takes_ownership_and_removal_keeps_shared_field() -> None:
    live = created(config())
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 5}}
    forced = A.server_side_apply(live, other, manager="hpa", force=True, node=node(), now=T1)
    assert forced["spec"]["replicas"] == 5
    assert owned(forced, "hpa") == {".spec.replicas"}
    assert ".spec.replicas" not in owned(forced, "kubectl")
    # kubectl now applies without replicas: the field stays, hpa owns it.
    after = A.server_side_apply(forced, config(replicas=None), manager="kubectl", force=False, node=node(), now=T2)
    assert after["spec"]["replicas"] == 5


def test_same_value_is_shared_and_survives_one_managers_removal() -> None:
    live = created(config())
    same = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}}}
    shared = A.server_side_apply(live, same, manager="labeler", force=False, node=node(), now=T1)
    assert ".metadata.labels.app" in owned(shared, "labeler") and ".metadata.labels.app" in owned(shared, "kubectl")
    assert entry(shared, "labeler").get("time") is None  # nothing changed: upstream stamps no time
    cfg = config()
    del cfg["metadata"]["labels"]
    after = A.server_side_apply(shared, cfg, manager="kubectl", force=False, node=node(), now=T2)
    assert after["metadata"]["labels"] == {"app": "web"}


def test_multiple_conflicts_message() -> None:
    live = created(config())
    live2 = copy.deepcopy(live)
    container(live2)["image"] = "edited"
    A.record_update(live, live2, manager="kubectl-edit", node=node(), now=T1)
    cfg = config(image="nginx:9", replicas=7)
    with pytest.raises(ApplyConflict) as ei:
        A.server_side_apply(live2, cfg, manager="ci", force=False, node=node(), now=T2)
    assert ei.value.message == (
        "Apply failed with 2 conflicts: conflicts with \"kubectl\":\n- .spec.replicas\n"
        "conflicts with \"kubectl-edit\" using apps/v1:\n"
        "- .spec.template.spec.containers[name=\"web\"].image")
    assert len(ei.value.details["causes"]) == 2


def test_list_semantics_in_apply() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a"]},
           "spec": {"containers": [{"name": "c", "image": "i", "args": ["1", "2"]}],
                    "tolerations": [{"key": "x", "operator": "Exists"}]}}
    n = node("io.k8s.api.core.v1.Pod")
    live = A.server_side_apply(None, pod, manager="one", force=False, node=n, now=T0)
    live["metadata"]["uid"] = "u"
    cfg = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["b"]},
           "spec": {"containers": [{"name": "d", "image": "j"}]}}
    out = A.server_side_apply(live, cfg, manager="two", force=False, node=n, now=T1)
    assert out["metadata"]["finalizers"] == ["a", "b"]  # set: union
    assert [c["name"] for c in out["spec"]["containers"]] == ["c", "d"]  # map: merged by key
    assert out["spec"]["containers"][0]["args"] == ["1", "2"]
    atomic = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
              "spec": {"containers": [{"name": "c", "image": "i", "args": ["3"]}],
                       "tolerations": [{"key": "y", "operator": "Exists"}]}}
    out2 = A.server_side_apply(out, atomic, manager="one", force=False, node=n, now=T2)
    assert out2["spec"]["containers"][0]["args"] == ["3"]  # atomic: replaced
    assert out2["spec"]["tolerations"] == [{"key": "y", "operator": "Exists"}]
    assert out2["metadata"]["finalizers"] == ["b"]  # "one" stopped applying "a"


def test_apply_list_order_follows_config() -> None:
    live = created(config())
    cfg = config()
    cfg["spec"]["template"]["spec"]["containers"].insert(0, {"name": "first", "image": "x"})
    out = A.server_side_apply(live, cfg, manager="kubectl", force=False, node=node(), now=T1)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["first", "web"]


@pytest.mark.parametrize("cfg,text", [
    ({**config(), "metadata": {"name": "web", "managedFields": []}}, "metadata.managedFields must be nil"),
    ({**config(), "kind": "StatefulSet"}, "invalid object type: apps/v1, Kind=StatefulSet"),
    ({**config(), "apiVersion": "apps/v1beta1"},
     "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1"),
])
def test_bad_apply_configurations(cfg: dict[str, Any], text: str) -> None:
    with pytest.raises(ApiError) as ei:
        A.server_side_apply(created(config()), cfg, manager="kubectl", force=False, node=node(), now=T1)
    assert ei.value.code == 400 and ei.value.message == text


def test_apply_to_object_without_managed_fields_conflicts_with_before_first_apply() -> None:
    live = copy.deepcopy(config())
    live["metadata"]["uid"] = "u"
    with pytest.raises(ApplyConflict) as ei:
        A.server_side_apply(live, config(replicas=9), manager="ci", force=False, node=node(), now=T1)
    assert ei.value.message == ('Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: '
                                ".spec.replicas")
    out = A.server_side_apply(live, config(replicas=9), manager="ci", force=True, node=node(), now=T1)
    assert managers(out) == [("ci", "Apply"), ("before-first-apply", "Update")]


def test_client_side_then_server_side_apply_migrates() -> None:
    """kubectl apply, then kubectl apply --server-side with a changed field (lastappliedmanager.go)."""
    cfg = config()
    obj = copy.deepcopy(cfg)
    obj["metadata"]["annotations"] = {A.LAST_APPLIED: json.dumps(cfg)}
    A.record_update(None, obj, manager="kubectl-client-side-apply", node=node(), now=T0)
    obj["metadata"]["uid"] = "u"
    out = A.server_side_apply(obj, config(replicas=3), manager="kubectl", force=False, node=node(), now=T1)
    assert out["spec"]["replicas"] == 3
    assert ".spec.replicas" in owned(out, "kubectl")
    assert ".spec.replicas" not in owned(out, "kubectl-client-side-apply")
    assert json.loads(out["metadata"]["annotations"][A.LAST_APPLIED])["spec"]["replicas"] == 3
    assert out["metadata"]["annotations"][A.LAST_APPLIED].endswith("}\n")
    # A manager other than "kubectl" gets no such allowance.
    with pytest.raises(ApplyConflict):
        A.server_side_apply(obj, config(replicas=3), manager="ci", force=False, node=node(), now=T1)


def test_client_side_migration_still_conflicts_on_drifted_fields() -> None:
    cfg = config()
    obj = copy.deepcopy(cfg)
    obj["metadata"]["annotations"] = {A.LAST_APPLIED: json.dumps(cfg)}
    A.record_update(None, obj, manager="kubectl-client-side-apply", node=node(), now=T0)
    obj["metadata"]["uid"] = "u"
    edited = copy.deepcopy(obj)
    edited["spec"]["replicas"] = 4
    A.record_update(obj, edited, manager="kubectl-client-side-apply", node=node(), now=T1)
    with pytest.raises(ApplyConflict) as ei:
        A.server_side_apply(edited, config(replicas=6), manager="kubectl", force=False, node=node(), now=T2)
    assert ei.value.details["causes"][0]["field"] == ".spec.replicas"


# -- record_update ------------------------------------------------------------------------------

def test_record_update_on_create_looks_like_upstream() -> None:
    obj = config()
    obj["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}
    obj["status"] = {"replicas": 0}
    A.record_update(None, obj, manager="kubectl-create", node=node(), now=T0)
    e = entry(obj, "kubectl-create", "Update")
    assert e["apiVersion"] == "apps/v1" and e["time"] == T0
    f = e["fieldsV1"]
    assert "." not in f["f:spec"] and "." not in f["f:spec"]["f:strategy"]  # non-pointer structs
    assert "." in f["f:spec"]["f:strategy"]["f:rollingUpdate"] and "." in f["f:metadata"]["f:labels"]
    assert "f:status" not in f  # status is the status subresource's
    assert "f:name" not in f["f:metadata"]


def test_record_update_moves_ownership() -> None:
    live = created(config())
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 4
    new["metadata"].setdefault("annotations", {})["note"] = "x"
    A.record_update(live, new, manager="kubectl-edit", node=node(), now=T1)
    assert owned(new, "kubectl-edit") == {".spec.replicas", ".metadata.annotations", ".metadata.annotations.note"}
    assert ".spec.replicas" not in owned(new, "kubectl")
    assert managers(new) == [("kubectl", "Apply"), ("kubectl-edit", "Update")]
    # The same manager changing nothing keeps its time; removing a field drops it from everyone.
    newer = copy.deepcopy(new)
    del newer["metadata"]["labels"]
    A.record_update(new, newer, manager="kubectl-edit", node=node(), now=T2)
    assert entry(newer, "kubectl-edit")["time"] == T1
    assert ".metadata.labels.app" not in owned(newer, "kubectl")


def test_record_update_subresource_and_untracked_objects() -> None:
    live = created(config())
    new = copy.deepcopy(live)
    new["status"] = {"replicas": 2, "readyReplicas": 2}
    A.record_update(live, new, manager="kube-controller-manager", node=node(), now=T1, subresource="status")
    e = entry(new, "kube-controller-manager")
    assert e["subresource"] == "status" and set(A.iter_paths(e["fieldsV1"])) == {
        ".status.replicas", ".status.readyReplicas"}
    untracked = config()
    untracked["metadata"]["uid"] = "u"
    changed = copy.deepcopy(untracked)
    changed["spec"]["replicas"] = 3
    A.record_update(untracked, changed, manager="x", node=node(), now=T1)
    assert "managedFields" not in changed["metadata"]  # skipnonapplied.go


def test_record_update_honours_client_sent_managed_fields() -> None:
    live = created(config())
    new = copy.deepcopy(live)
    new["metadata"]["managedFields"] = []  # reset
    A.record_update(live, new, manager="x", node=node(), now=T1)
    assert "managedFields" not in new["metadata"]
    rewritten = copy.deepcopy(live)
    rewritten["metadata"]["managedFields"][0]["manager"] = "renamed"
    A.record_update(live, rewritten, manager="x", node=node(), now=T1)
    assert managers(rewritten) == [("renamed", "Apply")]


def test_update_managers_are_capped() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
    n = node("io.k8s.api.core.v1.ConfigMap")
    A.record_update(None, obj, manager="m0", node=n, now="2024-05-01T10:00:00Z")
    obj["metadata"]["uid"] = "u"
    for i in range(1, 13):
        new = copy.deepcopy(obj)
        new["data"][f"k{i}"] = "v"
        A.record_update(obj, new, manager=f"m{i}", node=n, now=f"2024-05-01T10:{i:02d}:00Z")
        obj = new
    names = [m for m, _ in managers(obj)]
    assert len(names) == 10 and "ancient-changes" in names and "m12" in names and "m1" not in names


@pytest.mark.parametrize("ua,expected", [
    ("kubectl/v1.37.0 (linux/amd64) kubernetes/abc", "kubectl"),
    ("OpenAPI-Generator/33.1.0/python", "OpenAPI-Generator"),
    ("", ""),
    ("a\x00b/1", "ab"),
    ("x" * 200, "x" * 128),
])
def test_manager_from_user_agent(ua: str, expected: str) -> None:
    assert A.manager_from_user_agent(ua) == expected

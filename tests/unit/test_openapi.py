"""kubesim.openapi: the /openapi/v3 documents kubectl apply validation and kubectl explain read."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from kubesim.openapi import (
    crd_definition_name,
    document_hash,
    v3_document,
    v3_root,
)
from kubesim.resources import BUILTIN, ResourceType
from kubesim.schemas import SchemaSet

S = SchemaSet("1.33")

MC_VERSION = {
    "name": "v1alpha1", "served": True, "storage": True,
    "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                             "statusReplicasPath": ".status.replicas"}},
    "schema": {"openAPIV3Schema": {
        "type": "object", "description": "MemberCluster is a cluster in the federation.",
        "properties": {
            "spec": {"type": "object", "description": "Desired member state.", "properties": {
                "region": {"type": "string", "description": "Region of the member."},
                "weight": {"x-kubernetes-int-or-string": True},
            }},
            "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
        },
    }},
}
MC = ResourceType("kubekit.io", "v1alpha1", "MemberCluster", "memberclusters", True,
                  subresources=("scale", "status"), crd=MC_VERSION)


@functools.cache
def _doc(group: str, version: str) -> dict[str, Any]:
    types = [rt for rt in BUILTIN if rt.group == group and rt.version == version]
    if group == MC.group:
        types = [MC]
    return v3_document(S, types, group, version)


def _patch_ops(doc: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [(p, item["patch"]) for p, item in doc["paths"].items()
            if "patch" in item and item["patch"]["x-kubernetes-group-version-kind"]["kind"] == kind]


def test_root_lists_group_versions_with_hash() -> None:
    root = v3_root([("", "v1"), ("apps", "v1")], lambda g, v: f"H{g}{v}")
    assert root == {"paths": {
        "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=Hv1"},
        "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=Happsv1"},
    }}


def test_document_hash_is_stable_upper_hex_sha512() -> None:
    h = document_hash(_doc("apps", "v1"))
    assert len(h) == 128 and h == h.upper()
    assert h == document_hash(json.loads(json.dumps(_doc("apps", "v1"))))
    assert h != document_hash(_doc("", "v1"))


@pytest.mark.parametrize(("group", "version", "kind", "path"), [
    ("", "v1", "Pod", "/api/v1/namespaces/{namespace}/pods/{name}"),
    ("", "v1", "Namespace", "/api/v1/namespaces/{name}"),
    ("apps", "v1", "StatefulSet", "/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"),
    ("kubekit.io", "v1alpha1", "MemberCluster", "/apis/kubekit.io/v1alpha1/namespaces/{namespace}/memberclusters/{name}"),
])
def test_patch_operations_carry_gvk_and_field_validation(group: str, version: str, kind: str, path: str) -> None:
    # What cli-runtime's queryParamVerifierV3 looks for: every PATCH of the kind has fieldValidation.
    doc = _doc(group, version)
    ops = _patch_ops(doc, kind)
    assert path in dict(ops)
    for _, op in ops:
        names = {p["name"] for p in op["parameters"] if p["in"] == "query"}
        assert {"fieldValidation", "dryRun", "fieldManager", "force"} <= names
    op = doc["paths"][path]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": group, "kind": kind, "version": version}
    assert op["x-kubernetes-action"] == "patch"


@pytest.mark.parametrize(("path", "verb", "action", "params"), [
    ("/apis/apps/v1/namespaces/{namespace}/statefulsets", "post", "post", {"dryRun", "fieldManager", "fieldValidation"}),
    ("/apis/apps/v1/namespaces/{namespace}/statefulsets", "get", "list", {"watch", "labelSelector", "limit"}),
    ("/apis/apps/v1/namespaces/{namespace}/statefulsets", "delete", "deletecollection", {"propagationPolicy"}),
    ("/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}", "put", "put", {"fieldValidation"}),
    ("/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}", "delete", "delete", {"gracePeriodSeconds"}),
    ("/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/status", "patch", "patch", {"fieldValidation"}),
    ("/apis/apps/v1/statefulsets", "get", "list", {"watch"}),
])
def test_operations(path: str, verb: str, action: str, params: set[str]) -> None:
    item = _doc("apps", "v1")["paths"][path]
    op = item[verb]
    assert op["x-kubernetes-action"] == action
    # parameters live on the operation or, shared by all verbs, on the path (as upstream)
    assert params <= {p["name"] for p in op.get("parameters", []) + item.get("parameters", [])}


def test_scale_subresource_is_autoscaling_scale() -> None:
    doc = _doc("apps", "v1")
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "autoscaling", "kind": "Scale", "version": "v1"}
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]


def test_components_are_closed_under_refs() -> None:
    doc = _doc("apps", "v1")
    schemas = doc["components"]["schemas"]
    refs: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            if isinstance(x.get("$ref"), str):
                refs.add(x["$ref"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(doc)
    assert refs, "no references at all"
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[-1] in schemas, ref
    for name in ("io.k8s.api.core.v1.PodSpec", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"):
        assert name in schemas


def test_schema_shape_is_openapi_v3_as_the_apiserver_emits() -> None:
    schemas = _doc("apps", "v1")["components"]["schemas"]
    sts = schemas["io.k8s.api.apps.v1.StatefulSet"]
    assert sts["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "StatefulSet", "version": "v1"}]
    assert sts["type"] == "object"
    assert sts["properties"]["apiVersion"] == {"description": sts["properties"]["apiVersion"]["description"],
                                               "type": "string"}  # no enum, plain type
    spec = sts["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.StatefulSetSpec"}]
    assert spec["description"].startswith("Spec defines the desired identities")
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["type"] == "array"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["oneOf"] == [{"type": "integer"},
                                                                                   {"type": "string"}]
    text = json.dumps(schemas)
    assert '"null"' not in text and "#/$defs/" not in text


@pytest.mark.parametrize(("defname", "field", "snippet"), [
    ("io.k8s.api.apps.v1.StatefulSetSpec", "persistentVolumeClaimRetentionPolicy", "lifecycle of persistent volume"),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "ordinals", "ordinals controls the numbering"),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "podManagementPolicy", "podManagementPolicy controls how pods"),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "serviceName", "serviceName is the name of the service"),
])
def test_explain_descriptions_present(defname: str, field: str, snippet: str) -> None:
    prop = _doc("apps", "v1")["components"]["schemas"][defname]["properties"][field]
    assert snippet.lower() in prop["description"].lower()


def test_custom_resource_schema() -> None:
    doc = _doc("kubekit.io", "v1alpha1")
    name = crd_definition_name("kubekit.io", "v1alpha1", "MemberCluster")
    assert name == "io.kubekit.v1alpha1.MemberCluster"
    schemas = doc["components"]["schemas"]
    mc = schemas[name]
    assert mc["x-kubernetes-group-version-kind"] == [{"group": "kubekit.io", "kind": "MemberCluster",
                                                      "version": "v1alpha1"}]
    assert mc["properties"]["metadata"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]
    assert mc["properties"]["kind"]["type"] == "string"
    assert mc["properties"]["spec"]["properties"]["region"]["description"] == "Region of the member."
    assert mc["properties"]["spec"]["properties"]["weight"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    assert schemas[name + "List"]["x-kubernetes-group-version-kind"][0]["kind"] == "MemberClusterList"
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    patch = doc["paths"]["/apis/kubekit.io/v1alpha1/namespaces/{namespace}/memberclusters/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    assert "/apis/kubekit.io/v1alpha1/namespaces/{namespace}/memberclusters/{name}/scale" in doc["paths"]


def test_document_top_level() -> None:
    doc = _doc("", "v1")
    assert doc["openapi"] == "3.0.0"
    assert doc["info"]["title"] == "Kubernetes"
    assert "/api/v1/" in doc["paths"]
    assert doc["components"]["securitySchemes"]["BearerToken"]["type"] == "apiKey"
    # only kinds of this group-version are described by operations
    kinds = {op["x-kubernetes-group-version-kind"]["kind"] for item in doc["paths"].values()
             for verb, op in item.items() if verb in ("get", "post", "put", "patch", "delete")
             and "x-kubernetes-group-version-kind" in op}
    assert "Pod" in kinds and "StatefulSet" not in kinds

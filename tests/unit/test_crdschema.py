"""kubesim.crdschema: CRD validation/defaulting and custom object pruning, defaulting, validation."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from kubesim.crdschema import crd_defaults, process_custom_object, scale_paths, validate_crd
from kubesim.errors import Invalid

SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["region"],
    "properties": {
        "region": {"type": "string", "enum": ["eu-west-1", "us-east-1"]},
        "replicas": {"type": "integer", "minimum": 0, "maximum": 10, "default": 1},
        "ratio": {"type": "number", "maximum": 1.5},
        "weight": {"x-kubernetes-int-or-string": True},
        "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
        "uid": {"type": "string", "format": "uuid"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "zones": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set",
                  "minItems": 1, "maxItems": 3},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                  "items": {"type": "object", "required": ["name"],
                            "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
        "endpoint": {"type": "object", "default": {},
                     "properties": {"port": {"type": "integer", "default": 443}, "host": {"type": "string"}}},
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "note": {"type": "string", "nullable": True},
        "mode": {"type": "string"},
    },
}
SCHEMA: dict[str, Any] = {"type": "object", "properties": {
    "spec": SPEC_SCHEMA, "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}


def _crd(**changes: Any) -> dict[str, Any]:
    crd: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "memberclusters.kubekit.io"},
        "spec": {
            "group": "kubekit.io", "scope": "Namespaced",
            "names": {"plural": "memberclusters", "kind": "MemberCluster", "shortNames": ["mc"]},
            "versions": [{
                "name": "v1alpha1", "served": True, "storage": True,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                         "statusReplicasPath": ".status.replicas"}},
                "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
            }],
        },
    }
    for path, value in changes.items():
        cur = crd
        parts = path.split("__")
        for p in parts[:-1]:
            cur = cur[int(p)] if p.isdigit() else cur[p]
        last = parts[-1]
        if value is _DELETE:
            del cur[int(last) if last.isdigit() else last]
        elif last.isdigit():
            cur[int(last)] = value
        else:
            cur[last] = value
    crd_defaults(crd)
    return crd


_DELETE = object()


def _obj(spec: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"apiVersion": "kubekit.io/v1alpha1", "kind": "MemberCluster",
            "metadata": {"name": "m1", "namespace": "default"}, "spec": spec, **top}


def _process(obj: dict[str, Any]) -> Any:
    return process_custom_object(obj, SCHEMA, kind="MemberCluster", group="kubekit.io", strict=True)


# -- CRD defaulting and validation ------------------------------------------------------


def test_crd_defaults() -> None:
    crd = _crd()
    names = crd["spec"]["names"]
    assert names["singular"] == "membercluster" and names["listKind"] == "MemberClusterList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["status"]["storedVersions"] == ["v1alpha1"]


def test_valid_crd_has_no_errors() -> None:
    assert validate_crd(_crd(), None) == []


V = "spec.validation.openAPIV3Schema"  # a schema identical in every version is checked here, as upstream


@pytest.mark.parametrize(("changes", "expected"), [
    ({"metadata__name": "clusters.kubekit.io"},
     'metadata.name: Invalid value: "clusters.kubekit.io": must be spec.names.plural+"."+spec.group'),
    ({"spec__group": "kubekit"}, 'spec.group: Invalid value: "kubekit": should be a domain with at least one dot'),
    ({"spec__scope": "Global"}, 'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'),
    ({"spec__scope": ""}, "spec.scope: Required value"),
    ({"spec__names__plural": "MemberClusters", "metadata__name": "MemberClusters.kubekit.io"},
     "spec.names.plural: Invalid value: \"MemberClusters\": a DNS-1035 label must consist of lower case alphanumeric "
     "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
     "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"),
    ({"spec__names__listKind": "MemberCluster"},
     'spec.names.listKind: Invalid value: "MemberCluster": kind and listKind may not be the same'),
    ({"spec__versions": []}, "spec.versions: Invalid value: []: must have exactly one version marked as storage version"),
    ({"spec__versions__0__storage": False}, "must have exactly one version marked as storage version"),
    ({"spec__versions__0__schema": _DELETE}, "spec.versions[0].schema.openAPIV3Schema: Required value"),
    ({"spec__versions__0__schema__openAPIV3Schema__properties__spec__properties__x": {"properties": {}}},
     f"{V}.properties[spec].properties[x].type: Required value: must not be empty for specified object fields"),
    ({"spec__versions__0__schema__openAPIV3Schema__properties__spec__properties__zones__items": {}},
     f"{V}.properties[spec].properties[zones].items.type: Required value: must not be empty for specified array items"),
    ({"spec__versions__0__schema__openAPIV3Schema__type": "array"},
     f'{V}.type: Invalid value: "array": only "object" is allowed as the type at the root of the schema if the '
     "status subresource is enabled"),
    ({"spec__versions__0__schema__openAPIV3Schema__properties__spec__properties__x": {"type": "date"}},
     f'{V}.properties[spec].properties[x].type: Unsupported value: "date": supported values: "array", "boolean", '
     '"integer", "number", "object", "string"'),
    ({"spec__versions__0__subresources__scale__specReplicasPath": ".status.replicas"},
     'spec.subresources.scale.specReplicasPath: Invalid value: ".status.replicas": should be a json path under .spec'),
    ({"spec__versions__0__subresources__scale__statusReplicasPath": ""},
     "spec.subresources.scale.statusReplicasPath: Required value"),
    ({"spec__group": "apps.k8s.io", "metadata__name": "memberclusters.apps.k8s.io"},
     'metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval '
     'annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111'),
    ({"spec__preserveUnknownFields": True}, "spec.preserveUnknownFields: Invalid value: true: cannot set to true"),
])
def test_crd_validation_errors(changes: dict[str, Any], expected: str) -> None:
    errs = validate_crd(_crd(**changes), None)
    texts = [e.full() for e in errs]
    assert any(t.startswith(expected) or expected in t for t in texts), texts


def test_per_version_schemas_are_checked_per_version() -> None:
    crd = _crd()
    v2 = copy.deepcopy(crd["spec"]["versions"][0])
    v2.update(name="v1beta1", storage=False)
    v2["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["x"] = {"properties": {}}
    crd["spec"]["versions"].append(v2)
    texts = [e.full() for e in validate_crd(crd, None)]
    assert ("spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[x].type: Required value: must not "
            "be empty for specified object fields") in texts


def test_crd_update_immutables() -> None:
    old = _crd()
    old["status"]["conditions"] = [{"type": "Established", "status": "True"}]
    new = _crd(spec__group="other.io", metadata__name="memberclusters.other.io", spec__scope="Cluster")
    texts = [e.full() for e in validate_crd(new, old)]
    assert 'spec.group: Invalid value: "other.io": field is immutable' in texts
    assert 'spec.scope: Invalid value: "Cluster": field is immutable' in texts


def test_crd_errors_render_as_invalid_status() -> None:
    errs = validate_crd(_crd(spec__scope="Global"), None)
    err = Invalid("CustomResourceDefinition", "apiextensions.k8s.io", "memberclusters.kubekit.io", errs)
    assert err.message == ('CustomResourceDefinition.apiextensions.k8s.io "memberclusters.kubekit.io" is invalid: '
                           'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"')


def test_scale_paths() -> None:
    v = _crd()["spec"]["versions"][0]
    assert scale_paths(v) == {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
    assert scale_paths({"name": "v1"}) is None


# -- custom objects ---------------------------------------------------------------------


def test_valid_object_is_defaulted() -> None:
    res = _process(_obj({"region": "eu-west-1", "endpoint": {"host": "h"}}))
    assert res.errors == [] and res.unknown == [] and res.decode_errors == []
    spec = res.obj["spec"]
    assert spec["replicas"] == 1                                   # absent field gets its default
    assert spec["endpoint"] == {"host": "h", "port": 443}          # nested default inside an existing object


def test_defaults_fill_absent_objects_then_their_fields() -> None:
    res = _process(_obj({"region": "eu-west-1"}))
    assert res.obj["spec"]["endpoint"] == {"port": 443}


def test_pruning_reports_sorted_paths_and_keeps_preserved_fields() -> None:
    obj = _obj({"region": "eu-west-1", "zzz": 1, "ports": [{"name": "a", "bogus": 1}],
                "extra": {"anything": {"goes": 1}}}, bogus=True)
    obj["metadata"]["foo"] = "x"
    res = _process(obj)
    assert res.unknown == ["metadata.foo", "bogus", "spec.ports[0].bogus", "spec.zzz"]
    assert "zzz" not in res.obj["spec"] and "bogus" not in res.obj
    assert res.obj["spec"]["extra"] == {"anything": {"goes": 1}}
    assert res.obj["apiVersion"] == "kubekit.io/v1alpha1" and res.obj["kind"] == "MemberCluster"


def test_non_strict_prunes_silently() -> None:
    res = process_custom_object(_obj({"region": "eu-west-1", "zzz": 1}), SCHEMA, kind="MemberCluster",
                                group="kubekit.io", strict=False)
    assert res.unknown == [] and "zzz" not in res.obj["spec"]


def test_input_is_not_mutated() -> None:
    obj = _obj({"region": "eu-west-1", "zzz": 1})
    before = copy.deepcopy(obj)
    _process(obj)
    assert obj == before


Check = Callable[[list[str]], bool]


@pytest.mark.parametrize(("spec", "expected"), [
    ({"region": "eu-west-1", "replicas": "3"},
     'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'),
    ({"region": "mars"}, 'spec.region: Unsupported value: "mars": supported values: "eu-west-1", "us-east-1"'),
    ({}, "spec.region: Required value"),
    ({"region": "eu-west-1", "replicas": 11},
     "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"),
    ({"region": "eu-west-1", "replicas": -1},
     "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"),
    ({"region": "eu-west-1", "ratio": 2.5},
     "spec.ratio: Invalid value: 2.5: spec.ratio in body should be less than or equal to 1.5"),
    ({"region": "eu-west-1", "weight": True},
     'spec.weight: Invalid value: "boolean": spec.weight in body must be of type integer,string: "boolean"'),
    ({"region": "eu-west-1", "name": "a"}, 'spec.name: Invalid value: "a": spec.name in body should be at least 2 '
                                           "chars long"),
    ({"region": "eu-west-1", "name": "abcdefg"}, "spec.name: Too long: may not be more than 5 bytes"),
    ({"region": "eu-west-1", "name": "AB"}, "spec.name: Invalid value: \"AB\": spec.name in body should match "
                                            "'^[a-z]+$'"),
    ({"region": "eu-west-1", "uid": "nope"},
     'spec.uid: Invalid value: "nope": spec.uid in body must be of type uuid: "nope"'),
    ({"region": "eu-west-1", "zones": []},
     "spec.zones: Invalid value: 0: spec.zones in body should have at least 1 items"),
    ({"region": "eu-west-1", "zones": ["a", "b", "c", "d"]}, "spec.zones: Too many: 4: must have at most 3 items"),
    ({"region": "eu-west-1", "zones": ["a", "b", "a"]}, 'spec.zones[2]: Duplicate value: "a"'),
    ({"region": "eu-west-1", "ports": [{"name": "x"}, {"name": "x", "port": 2}]},
     'spec.ports[1]: Duplicate value: {"name":"x"}'),
    ({"region": "eu-west-1", "ports": [{"port": 1}]}, "spec.ports[0].name: Required value"),
    ({"region": "eu-west-1", "labels": {"a": 1}},
     'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"'),
    ({"region": "eu-west-1", "endpoint": "x"},
     'spec.endpoint: Invalid value: "string": spec.endpoint in body must be of type object: "string"'),
])
def test_custom_object_validation_messages(spec: dict[str, Any], expected: str) -> None:
    res = _process(_obj(spec))
    texts = [e.full() for e in res.errors]
    assert expected in texts, texts


@pytest.mark.parametrize(("spec", "ok"), [
    ({"region": "eu-west-1", "weight": 3}, True),
    ({"region": "eu-west-1", "weight": "30%"}, True),
    ({"region": "eu-west-1", "ratio": 1}, True),           # integer where number is declared
    ({"region": "eu-west-1", "replicas": 2.0}, True),      # integral float where integer is declared
    ({"region": "eu-west-1", "note": None}, True),         # nullable
])
def test_accepted_values(spec: dict[str, Any], ok: bool) -> None:
    assert (_process(_obj(spec)).errors == []) is ok


def test_non_nullable_null_is_dropped_or_defaulted() -> None:
    res = _process(_obj({"region": "eu-west-1", "mode": None, "replicas": None}))
    assert "mode" not in res.obj["spec"]              # no default: pruned
    assert res.obj["spec"]["replicas"] == 1           # default replaces the null
    assert res.errors == []


def test_metadata_type_error_is_a_decode_error() -> None:
    obj = _obj({"region": "eu-west-1"})
    obj["metadata"]["name"] = 5
    res = _process(obj)
    # metadata is unmarshalled on its own upstream, so the path starts at ObjectMeta
    assert res.decode_errors == ["json: cannot unmarshal number into Go struct field ObjectMeta.name of type string"]


def test_other_kinds_are_not_pruned() -> None:
    obj = {"apiVersion": "kubekit.io/v1alpha1", "kind": "Other", "metadata": {"name": "x"}, "spec": {"zzz": 1}}
    res = process_custom_object(obj, SCHEMA, kind="MemberCluster", group="kubekit.io")
    assert res.obj["spec"] == {"zzz": 1} and res.unknown == []


def test_preserve_unknown_fields_at_root() -> None:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
              "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}
    res = process_custom_object(_obj({"a": "x", "b": 1}, top=1), schema, kind="MemberCluster", group="kubekit.io")
    assert res.obj["top"] == 1
    assert res.unknown == ["spec.b"]  # preserve applies to its own level only

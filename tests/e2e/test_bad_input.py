"""Bad requests get the right Status (code, reason, message), never a 5xx, and leave nothing behind."""

from __future__ import annotations

import base64
import json
import ssl
import string

import pytest
import urllib3
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


class Raw:
    """Plain HTTPS requests with the cluster's CA and token, to send what no client library would."""

    def __init__(self, kubeconfig: str) -> None:
        cfg = yaml.safe_load(open(kubeconfig))
        self.url = cfg["clusters"][0]["cluster"]["server"]
        ca = base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        self.token = cfg["users"][0]["user"]["token"]
        self.http = urllib3.PoolManager(ssl_context=ssl.create_default_context(cadata=ca), maxsize=4,
                                        retries=False)

    def __call__(self, method: str, path: str, body: bytes | str | None = None,
                 content_type: str = "application/json", token: str | None = "default",
                 accept: str = "application/json") -> tuple[int, dict]:
        headers = {"Content-Type": content_type, "Accept": accept}
        tok = self.token if token == "default" else token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        if isinstance(body, str):
            body = body.encode()
        r = self.http.request(method, self.url + path, body=body, headers=headers, timeout=10)
        try:
            data = json.loads(r.data) if r.data else {}
        except ValueError:
            data = {"_raw": r.data.decode(errors="replace")}
        return r.status, data


@pytest.fixture(scope="module")
def raw(cluster):
    return Raw(cluster.kubeconfig_path)


def is_status(body: dict, code: int, reason: str) -> bool:
    return body.get("kind") == "Status" and body.get("code") == code and body.get("reason") == reason


def cm(name: str, **extra) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra})


def test_no_or_wrong_token_is_401(raw):
    code, body = raw("GET", "/api/v1/pods", token=None)
    assert code == 401 and is_status(body, 401, "Unauthorized")
    code, body = raw("GET", "/api/v1/pods", token="nope")
    assert code == 401
    code, _ = raw("GET", "/healthz", token=None)
    assert code == 200


def test_malformed_json_and_yaml_are_400(raw, namespace):
    code, body = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", "{not json")
    assert code == 400 and is_status(body, 400, "BadRequest")
    code, body = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", "a: [b", content_type="application/yaml")
    assert code == 400
    code, body = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", "[1, 2]")
    assert code == 400
    code, body = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", cm("x"), content_type="text/csv")
    assert code == 415 and is_status(body, 415, "UnsupportedMediaType")


def test_wrong_api_version_or_kind_is_400(raw, namespace):
    body = json.dumps({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", body)
    assert code == 400 and "does not match the expected API version" in out["message"]
    body = json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}})
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", body)
    assert code == 400


def test_invalid_names_are_422_with_causes(raw, namespace):
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", cm("Bad_Name"))
    assert code == 422 and is_status(out, 422, "Invalid")
    assert out["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"')
    assert out["details"]["causes"][0]["field"] == "metadata.name"
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps",
                    json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}))
    assert code == 422 and "name or generateName is required" in out["message"]


def test_statefulset_selector_mismatch_is_422(raw, namespace):
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
           "spec": {"serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "other"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    code, out = raw("POST", f"/apis/apps/v1/namespaces/{namespace}/statefulsets", json.dumps(sts))
    assert code == 422
    fields = [c["field"] for c in out["details"]["causes"]]
    assert "spec.template.metadata.labels" in fields
    assert out["message"].startswith('StatefulSet.apps "web" is invalid')
    assert raw("GET", f"/apis/apps/v1/namespaces/{namespace}/statefulsets/web")[0] == 404


def test_oversize_body_is_413(raw, namespace):
    big = cm("big", data={"k": "x" * (3 * 1024 * 1024 + 10)})
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", big)
    assert code == 413 and is_status(out, 413, "RequestEntityTooLarge")


def test_large_body_in_many_pieces_is_read_whole(raw, namespace):
    """A body that arrives in several reads (here: chunked, 4 KiB a piece) is read to its end, not cut short."""
    value = "".join(string.ascii_letters[i % 52] for i in range(200_000))
    body = cm("pieces", data={"k": value}).encode()
    pieces = (body[i:i + 4096] for i in range(0, len(body), 4096))
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", pieces)
    assert code == 201, out
    code, out = raw("GET", f"/api/v1/namespaces/{namespace}/configmaps/pieces")
    assert code == 200 and out["data"]["k"] == value


def test_unknown_fields_strict_warn_ignore(raw, namespace, cluster):
    body = cm("strict", data={"a": "b"}, bogus=1)
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps?fieldValidation=Strict", body)
    assert code == 400 and 'unknown field "bogus"' in out["message"]
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps?fieldValidation=Warn", body)
    assert code == 201 and "bogus" not in out
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps?fieldValidation=Bogus",
                    cm("x2"))
    assert code == 400


def test_conflicting_update_is_409(raw, namespace):
    code, created = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", cm("c"))
    assert code == 201
    created["data"] = {"v": "1"}
    assert raw("PUT", f"/api/v1/namespaces/{namespace}/configmaps/c", json.dumps(created))[0] == 200
    created["data"] = {"v": "2"}
    code, out = raw("PUT", f"/api/v1/namespaces/{namespace}/configmaps/c", json.dumps(created))
    assert code == 409 and is_status(out, 409, "Conflict")
    assert out["message"] == ('Operation cannot be fulfilled on configmaps "c": the object has been modified; '
                              "please apply your changes to the latest version and try again")
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps", cm("c"))
    assert code == 409 and out["reason"] == "AlreadyExists" and out["message"] == 'configmaps "c" already exists'


def test_not_found_method_not_allowed_and_gone(raw, namespace):
    code, out = raw("GET", f"/apis/apps/v1/namespaces/{namespace}/statefulsets/nope")
    assert code == 404 and out["message"] == 'statefulsets.apps "nope" not found'
    assert out["details"] == {"name": "nope", "group": "apps", "kind": "statefulsets"}
    assert raw("GET", "/api/v1/nonsense")[0] == 404
    assert raw("GET", "/apis/nogroup/v1")[0] == 404
    code, out = raw("POST", f"/api/v1/namespaces/{namespace}/configmaps/c", cm("c"))
    assert code == 405 and out["reason"] == "MethodNotAllowed"
    code, out = raw("POST", "/api/v1/namespaces/no-such-ns/configmaps", cm("x"))
    assert code == 404 and out["message"] == 'namespaces "no-such-ns" not found'
    code, out = raw("GET", f"/api/v1/namespaces/{namespace}/configmaps?continue=notatoken")
    assert code == 400


def test_immutable_fields_are_422(raw, namespace):
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}}
    code, created = raw("POST", f"/api/v1/namespaces/{namespace}/services", json.dumps(svc))
    assert code == 201
    created["spec"]["clusterIP"] = "10.100.99.99"
    created["spec"]["clusterIPs"] = ["10.100.99.99"]
    code, out = raw("PUT", f"/api/v1/namespaces/{namespace}/services/s", json.dumps(created))
    # Since dual-stack Services upstream words it "may not change once set" on spec.clusterIPs[0].
    assert code == 422 and "may not change once set" in out["message"]


# -- property-based: random bodies and paths never produce a 5xx and the server keeps serving --------------

_segment = st.text(alphabet=string.ascii_lowercase + string.digits + "-._~%", min_size=0, max_size=12)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_k8s_like = st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["v1", "apps/v1", "bogus/v9", 3]),
    "kind": st.sampled_from(["ConfigMap", "Pod", "StatefulSet", "Service", "Nope", None]),
    "metadata": st.one_of(st.dictionaries(st.sampled_from(["name", "labels", "namespace", "finalizers",
                                                           "ownerReferences", "generateName"]), _json_values,
                                          max_size=4), _json_values),
}, optional={"spec": _json_values, "data": _json_values, "status": _json_values})


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
       base=st.sampled_from(["/api/v1/namespaces/fuzz/configmaps", "/api/v1/namespaces/fuzz/pods",
                             "/apis/apps/v1/namespaces/fuzz/statefulsets", "/api/v1/nodes",
                             "/api/v1/namespaces/fuzz/services", "/api", "/apis/apps/v1"]),
       extra=st.lists(_segment, max_size=3),
       body=st.one_of(_k8s_like.map(json.dumps), _json_values.map(json.dumps), st.binary(max_size=64)),
       ctype=st.sampled_from(["application/json", "application/merge-patch+json",
                              "application/strategic-merge-patch+json", "application/json-patch+json",
                              "application/apply-patch+yaml", "application/yaml", "text/plain"]))
def test_fuzz_never_5xx(raw, method, base, extra, body, ctype):
    path = "/".join([base] + extra)
    code, out = raw(method, path + ("?fieldManager=fuzz" if ctype.startswith("application/apply") else ""),
                    body if method in ("POST", "PUT", "PATCH") else None, content_type=ctype)
    assert code < 500, (method, path, body, out)
    if code >= 400:
        assert out.get("kind") == "Status" and out.get("code") == code, out
    assert raw("GET", "/healthz")[0] == 200


@pytest.fixture(scope="module", autouse=True)
def fuzz_namespace(cluster):
    from kubesim.api import Request

    api = cluster.api
    if api.store.get("namespaces", "", "fuzz") is None:
        api.create(api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": "fuzz"}}, Request(field_manager="tests"))

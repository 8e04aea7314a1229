"""Watch protocol details: 410 Expired past the history, bookmarks, initial-events-end, selector moves."""

from __future__ import annotations

import base64
import json
import ssl

import pytest
import urllib3
import yaml

from kubesim.api import DeleteOptions, Request
from kubesim.testing import running_cluster


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    with running_cluster(str(tmp_path_factory.mktemp("w")), watch_history=30) as c:
        c.server.bookmark_interval = 0.2
        yield c


def http(c):
    cfg = yaml.safe_load(open(c.kubeconfig_path))
    ca = base64.b64decode(cfg["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    pool = urllib3.PoolManager(ssl_context=ssl.create_default_context(cadata=ca))
    headers = {"Authorization": "Bearer " + cfg["users"][0]["user"]["token"]}
    return lambda path: [json.loads(line) for line in pool.request("GET", c.url + path, headers=headers,
                                                                   timeout=10).data.splitlines() if line]


def cm(c, name, **labels):
    api = c.api
    return api.create(api.rt("configmaps"), "default", {"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": name, "labels": labels}},
                      Request(field_manager="t"))


def test_expired_resource_version_is_410_error_event(small):
    first = cm(small, "old")["metadata"]["resourceVersion"]
    for i in range(40):
        cm(small, f"filler-{i}")
    events = http(small)(f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={first}&timeoutSeconds=2")
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith(f"too old resource version: {first} (")


def test_bookmarks_and_initial_events_end(small):
    events = http(small)("/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true"
                         "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")
    types = [e["type"] for e in events]
    first_bookmark = types.index("BOOKMARK")
    assert all(t == "ADDED" for t in types[:first_bookmark]) and first_bookmark > 0
    assert events[first_bookmark]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert types.count("BOOKMARK") >= 2  # periodic ones follow
    assert set(events[-1]["object"]) == {"kind", "apiVersion", "metadata"}


def test_objects_leaving_a_selector_are_deleted_events(small):
    cm(small, "mover", tier="a")
    rv = small.store.resource_version
    api = small.api
    api.mutate(api.rt("configmaps"), "default", "mover",
               lambda o: {**o, "metadata": {**o["metadata"], "labels": {"tier": "b"}}}, manager="t")
    events = http(small)(f"/api/v1/namespaces/default/configmaps?watch=1&labelSelector=tier%3Da"
                         f"&resourceVersion={rv}&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("DELETED", "mover")]


def test_create_in_terminating_namespace_is_403(small):
    api = small.api
    api.create(api.rt("namespaces"), None, {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "closing", "finalizers": ["example.com/hold"]}},
               Request(field_manager="t"))
    api.delete(api.rt("namespaces"), None, "closing", DeleteOptions())
    from kubesim.errors import Forbidden

    with pytest.raises(Forbidden) as err:
        api.create(api.rt("configmaps"), "closing", {"apiVersion": "v1", "kind": "ConfigMap",
                                                     "metadata": {"name": "late"}}, Request(field_manager="t"))
    assert err.value.code == 403
    assert err.value.message == ('configmaps "late" is forbidden: unable to create new content in namespace '
                                 'closing because it is being terminated')

"""Cloud node controller decisions (AWS-02, AWS-03), table-driven."""

import pytest

from kubesim.controllers.cloudnode import (SHUTDOWN, UNINITIALIZED, InstanceMetadata, addresses, initialized,
                                           lifecycle_action)


def node(ready: str, *taints: str) -> dict:
    return {"metadata": {"name": "n"},
            "spec": {"taints": [{"key": t, "effect": "NoSchedule"} for t in taints]},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}


@pytest.mark.parametrize("n,state,want", [
    (node("True"), "running", None),
    (node("True", SHUTDOWN), "running", "untaint-shutdown"),
    (node("True", SHUTDOWN), "stopped", None),
    (node("True"), "terminated", None),  # Ready nodes are never deleted, even if the instance is gone
    (node("Unknown"), "terminated", "delete"),
    (node("False"), "missing", "delete"),
    (node("Unknown"), "stopped", "taint-shutdown"),
    (node("Unknown", SHUTDOWN), "stopped", None),
    (node("Unknown"), "running", None),
    (node("Unknown"), "pending", None),
])
def test_lifecycle_action(n, state, want):
    assert lifecycle_action(n, state) == want


def test_initialisation_sets_labels_provider_id_and_drops_the_taint():
    meta = InstanceMetadata("aws:///us-east-1b/i-0abc", "m5.large", "us-east-1", "us-east-1b", "use1-az2",
                            "10.0.2.15", "", "ip-10-0-2-15.ec2.internal")
    out = initialized(node("True", UNINITIALIZED), meta)
    labels = out["metadata"]["labels"]
    assert labels["topology.kubernetes.io/zone"] == "us-east-1b"
    assert labels["failure-domain.beta.kubernetes.io/region"] == "us-east-1"
    assert labels["node.kubernetes.io/instance-type"] == "m5.large"
    assert labels["topology.k8s.aws/zone-id"] == "use1-az2"
    assert out["spec"]["providerID"] == "aws:///us-east-1b/i-0abc"
    assert "taints" not in out["spec"]
    assert addresses(meta) == [{"type": "InternalIP", "address": "10.0.2.15"},
                               {"type": "InternalDNS", "address": "ip-10-0-2-15.ec2.internal"},
                               {"type": "Hostname", "address": "ip-10-0-2-15.ec2.internal"}]

"""kubekit.aws against the sandbox: plan, apply, kubeconfig, destroy, resume, the safety gate."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from kubekit import aws, sandbox
from kubekit.aws import pricing
from kubekit.aws.plans import STACK_TAG, subnet_cidrs
from kubekit.aws.target import Target
from kubekit.errors import AwsError, InvalidParameter, SafetyGateRefused


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """An empty sandbox (AWS only) of this module's own."""
    home = tmp_path_factory.mktemp("aws-home")
    info = sandbox.up(home=home, empty=True, profile="instant")
    try:
        yield Target("sandbox", home=str(home)), info
    finally:
        sandbox.down(home=home)


def ec2(target: Target):
    return target.client("ec2", "us-east-1")


def tagged_vpcs(target: Target, stack: str) -> list:
    return ec2(target).describe_vpcs(Filters=[{"Name": f"tag:{STACK_TAG}", "Values": [stack]}])["Vpcs"]


def test_plan_lists_every_resource_with_costs(world):
    target, _ = world
    p = aws.plan("alpha", zones=3, nodes_per_zone=2, nat="single", target=target)
    kinds = [s.kind for s in p.steps]
    assert p.zones == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert kinds.count("subnet") == 6 and kinds.count("nat-gateway") == 1 and kinds.count("nodegroup") == 3
    assert kinds.count("route-table") == 4 and kinds.count("iam-role") == 2 and "eks-addon" in kinds
    by_kind = {s.kind: s for s in p.steps}
    assert by_kind["eks-cluster"].hourly == pytest.approx(0.10)
    nodes = sum(s.hourly for s in p.steps if s.kind == "nodegroup")
    assert nodes == pytest.approx(6 * (pricing.ec2("m5.large", "us-east-1").hourly
                                       + pricing.gp3(20, "us-east-1").hourly))
    assert p.monthly == pytest.approx(p.hourly * 730)
    text = str(p)
    assert text.splitlines()[0].split()[:3] == ["RESOURCE", "NAME", "ZONE"] and "TOTAL about $" in text
    assert "<table>" in p._repr_html_()
    assert tagged_vpcs(target, "alpha") == []  # a plan creates nothing
    per_zone = aws.plan("alpha", zones=2, nat="per-zone", nodegroups="spanning", target=target)
    assert [s.kind for s in per_zone.steps].count("nat-gateway") == 2
    assert [s.logical for s in per_zone.steps if s.kind == "nodegroup"] == ["ng"]
    eu = aws.plan("alpha", region="eu-west-1", zones=1, target=target)
    assert next(s for s in eu.steps if s.kind == "nodegroup").hourly > \
        next(s for s in aws.plan("alpha", zones=1, target=target).steps if s.kind == "nodegroup").hourly


@pytest.mark.parametrize("kwargs,field", [
    ({"region": "us-nowhere-1"}, "region"),
    ({"zones": ["us-east-1a", "eu-west-1a"]}, "zones"),
    ({"zones": 99}, "zones"),
    ({"vpc_cidr": "10.0.0.1/16"}, "vpc_cidr"),
    ({"vpc_cidr": "10.0.0.0/8"}, "vpc_cidr"),
    ({"instance_type": "m5.gigantic"}, "instance_type"),
    ({"version": "1.12"}, "version"),
    ({"nat": "two"}, "nat"),
    ({"nodes_per_zone": -1}, "nodes_per_zone"),
    ({"flavor": "kops"}, "flavor"),
])
def test_bad_input_is_refused_before_anything_is_created(world, kwargs, field):
    target, _ = world
    with pytest.raises(InvalidParameter) as err:
        aws.plan("beta", target=target, **kwargs)
    assert err.value.name == field and str(err.value).startswith(f"invalid {field}")
    with pytest.raises(InvalidParameter, match="cluster name"):
        aws.plan("bad name!", target=target)
    assert tagged_vpcs(target, "beta") == []


def test_subnets_are_carved_from_the_vpc():
    import ipaddress

    public, private = subnet_cidrs(ipaddress.ip_network("10.0.0.0/16"), 3)
    assert private == ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
    assert public == ["10.0.224.0/22", "10.0.228.0/22", "10.0.232.0/22"]


def test_full_cycle_apply_is_idempotent_kubeconfig_works_destroy_leaves_nothing(world, tmp_path):
    target, _ = world
    p = aws.plan("gamma", zones=2, nodes_per_zone=1, nat="single", target=target)
    first = aws.apply(p, progress=False)
    assert len(first["created"]) >= len(p.steps) - 1 and Path(first["inventory"]).exists()
    again = aws.apply(p, progress=False)
    assert again["created"] == [] and len(again["reused"]) == len(p.steps)
    entry = aws.kubeconfig("gamma", target=target, path=str(tmp_path / "kc"), context="gamma", expect_nodes=2,
                           zones=p.zones, progress=False)
    assert entry.endpoint.startswith("https://127.0.0.1:")
    assert (tmp_path / "kc").stat().st_mode & 0o777 == 0o600
    from kubernetes import client as k8s
    from kubernetes import config

    api = config.new_client_from_config(config_file=entry.path, context="gamma")
    nodes = k8s.CoreV1Api(api).list_node().items
    api.close()
    assert sorted(n.metadata.labels["topology.kubernetes.io/zone"] for n in nodes) == ["us-east-1a", "us-east-1b"]
    assert all(n.spec.provider_id.startswith("aws:///us-east-1") for n in nodes)
    out = aws.destroy("gamma", target=target, progress=False)
    assert out["left"] == [] and not Path(first["inventory"]).exists()
    assert tagged_vpcs(target, "gamma") == []
    assert "gamma" not in target.client("eks", "us-east-1").list_clusters()["clusters"]


class FailingOnce(Target):
    """A sandbox target whose clients fail one chosen AWS call once, as a flaky API would."""

    fail: dict = {}

    def session(self, region=None):  # type: ignore[override]
        s = super().session(region)

        def boom(**kw):
            if FailingOnce.fail.pop("armed", False):
                raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "injected"}},
                                  FailingOnce.fail["op"])

        s.events.register(f"before-call.{FailingOnce.fail['event']}", boom)
        return s


def test_an_interrupted_apply_resumes_and_destroy_cleans_a_partial_stack(world):
    target, _ = world
    flaky = FailingOnce("sandbox", home=target.home)
    FailingOnce.fail.update({"event": "eks.CreateCluster", "op": "CreateCluster", "armed": True})
    p = aws.plan("delta", zones=1, nodes_per_zone=1, nat="none", target=flaky)
    with pytest.raises(AwsError, match="injected"):
        aws.apply(p, progress=False)
    assert len(tagged_vpcs(target, "delta")) == 1  # half made, and tagged
    # destroy after a partial apply leaves nothing
    aws.destroy("delta", target=target, progress=False)
    assert tagged_vpcs(target, "delta") == []
    # and an interrupted apply completes when run again, without duplicates
    FailingOnce.fail.update({"event": "eks.CreateNodegroup", "op": "CreateNodegroup", "armed": True})
    with pytest.raises(AwsError):
        aws.apply(p, progress=False)
    done = aws.apply(p, progress=False)
    assert done["created"] == ["ng-us-east-1a"] and len(tagged_vpcs(target, "delta")) == 1
    aws.destroy("delta", target=target, progress=False)


def test_the_gate_refuses_the_wrong_account_on_real_aws(world, monkeypatch):
    target, info = world
    # A "real AWS" target whose endpoint is the sandbox (loopback only): the gate logic is what is tested.
    monkeypatch.setenv("AWS_ENDPOINT_URL", info.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "kubekit-sandbox")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "kubekit-sandbox")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    real = aws.resolve("aws")
    assert not real.is_sandbox
    p = aws.plan("epsilon", zones=1, nodes_per_zone=0, nat="none", target=real)
    with pytest.raises(SafetyGateRefused, match="confirm_account"):
        aws.apply(p, progress=False)
    with pytest.raises(SafetyGateRefused, match="does not match"):
        aws.apply(p, confirm_account="111111111111", progress=False)
    assert tagged_vpcs(target, "epsilon") == []
    caller = aws.whoami(real)
    assert caller.masked_account.endswith("9012") and "123456789012" not in str(caller)


def test_kube_up_flavor_becomes_a_live_single_zone_cluster(world):
    target, _ = world
    p = aws.plan("kubeup", flavor="kube-up", zones=["us-east-1b"], nodes_per_zone=2, target=target,
                 vpc_cidr="172.20.0.0/16", instance_type="t3.medium")
    assert [s.kind for s in p.steps].count("instance") == 1 and "autoscaling-group" in [s.kind for s in p.steps]
    aws.apply(p, progress=False)
    instances = [i for r in ec2(target).describe_instances(Filters=[
        {"Name": "tag:KubernetesCluster", "Values": ["kubeup"]}])["Reservations"] for i in r["Instances"]]
    assert len(instances) == 3  # master + 2 minions, all in one zone
    assert {i["Placement"]["AvailabilityZone"] for i in instances} == {"us-east-1b"}
    aws.destroy("kubeup", target=target, progress=False)
    assert tagged_vpcs(target, "kubeup") == []

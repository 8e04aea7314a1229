"""``plan(...)``: every resource a bootstrap would create, with a cost estimate; nothing is created.

Two layouts:

- ``flavor="eks"``: a VPC with one public and one private subnet per zone (with
  the Kubernetes load-balancer role tags), an internet gateway, NAT gateways
  (``nat="none" | "single" | "per-zone"``), route tables, security groups, the
  cluster and node IAM roles, the EKS control plane, managed node groups (one
  per zone, or one spanning all zones) and the EBS CSI driver add-on.
- ``flavor="kube-up"``: what ``cluster/kube-up.sh`` built on AWS in Kubernetes
  1.2/1.3 — one zone, a master instance with an Elastic IP and a volume for
  etcd, minions in an Auto Scaling group, all tagged ``KubernetesCluster``.

Inputs are checked before anything else (names, region, zones, CIDR, instance
type, version): a bad one raises :class:`kubekit.errors.InvalidParameter`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import AwsError, InvalidParameter
from . import pricing
from .regions import check_region, choose_zones
from .target import Target, resolve

EKS_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35")
EXTENDED_SUPPORT = ("1.29", "1.30", "1.31")  # past standard support on 2026-11 (EKS version calendar)
NAT_MODES = ("none", "single", "per-zone")
NODEGROUP_LAYOUTS = ("per-zone", "spanning")
FLAVORS = ("eks", "kube-up")
_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9\-_]*$")
STACK_TAG = "kubekit.io/stack"
RESOURCE_TAG = "kubekit.io/resource"


@dataclass(frozen=True)
class Step:
    """One resource to create: its kind (what apply does), logical name, zone and cost."""

    kind: str
    logical: str
    detail: str = ""
    zone: str = ""
    hourly: float = 0.0
    cost_basis: str = ""
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, key: str, default: Any = None) -> Any:
        return dict(self.params).get(key, default)


@dataclass(repr=False)
class Plan:
    stack: str
    region: str
    zones: list[str]
    flavor: str
    version: str
    instance_type: str
    nodes_per_zone: int
    nat: str
    nodegroups: str
    vpc_cidr: str
    target: Target
    tags: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    @property
    def hourly(self) -> float:
        return sum(s.hourly for s in self.steps)

    @property
    def monthly(self) -> float:
        return self.hourly * pricing.table()["hours_per_month"]

    @property
    def nodes(self) -> int:
        return self.nodes_per_zone * len(self.zones)

    def resource_tags(self, logical: str) -> dict[str, str]:
        return {STACK_TAG: self.stack, RESOURCE_TAG: logical, "kubekit.io/managed-by": "kubekit", **self.tags}

    def rows(self) -> list[dict[str, Any]]:
        return [{"resource": s.kind, "name": s.logical, "zone": s.zone or "-", "detail": s.detail,
                 "$/hour": round(s.hourly, 4), "$/month": round(s.hourly * pricing.table()["hours_per_month"], 2)}
                for s in self.steps]

    def __repr__(self) -> str:
        return f"<Plan {self.summary()}>"

    def summary(self) -> str:
        return (f"{self.flavor} stack {self.stack!r} in {self.region} ({', '.join(self.zones)}), "
                f"{self.nodes} x {self.instance_type}, Kubernetes {self.version}, NAT {self.nat}: "
                f"{len(self.steps)} resources, about ${self.hourly:.2f}/hour (${self.monthly:,.0f}/month) "
                f"on {self.target.describe()}")

    def __str__(self) -> str:
        rows = self.rows()
        cols = ["resource", "name", "zone", "detail", "$/hour", "$/month"]
        widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
        line = lambda r: "  ".join(str(r[c]).ljust(widths[c]) for c in cols).rstrip()  # noqa: E731
        out = [line({c: c.upper() for c in cols})] + [line(r) for r in rows]
        out.append(f"TOTAL about ${self.hourly:.2f}/hour, ${self.monthly:,.0f}/month "
                   f"(prices: {pricing.table()['as_of']}, see pricing.source())")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.rows()[0]) if self.steps else ""
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>"
                       for r in self.rows())
        return (f"<p>{html.escape(self.summary())}</p><table><thead><tr>{head}</tr></thead><tbody>{body}"
                f"</tbody></table><p><small>{html.escape(pricing.source())}</small></p>")


def _check_name(stack: str) -> str:
    if not isinstance(stack, str) or not 1 <= len(stack) <= 100 or not _NAME.match(stack):
        raise InvalidParameter("cluster name", stack, "EKS cluster names are 1-100 characters: letters, digits, "
                                                      "'-' and '_', starting with a letter or digit")
    return stack


def _check_cidr(cidr: str, zones: int) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as exc:
        raise InvalidParameter("vpc_cidr", cidr, str(exc), "Use a network address such as 10.0.0.0/16") from exc
    if not isinstance(net, ipaddress.IPv4Network) or not 16 <= net.prefixlen <= 20:
        raise InvalidParameter("vpc_cidr", cidr, "a VPC needs an IPv4 block between /16 and /20")
    if net.prefixlen + 3 > 28 or 2 * zones > 2 ** 3:
        raise InvalidParameter("vpc_cidr", cidr, f"too small for {zones} zones")
    return net


def subnet_cidrs(net: ipaddress.IPv4Network, zones: int) -> tuple[list[str], list[str]]:
    """Private subnets get the big blocks (VPC CNI gives pods VPC addresses), public ones the small."""
    blocks = list(net.subnets(new_prefix=net.prefixlen + 3))  # 8 blocks
    private = [str(b) for b in blocks[:zones]]
    public_pool = list(blocks[-1].subnets(new_prefix=min(28, blocks[-1].prefixlen + 3)))
    public = [str(b) for b in public_pool[:zones]]
    return public, private


def _check_instance_type(target: Target, region: str, itype: str) -> None:
    try:
        target.client("ec2", region).describe_instance_types(InstanceTypes=[itype])
    except ClientError as exc:
        if "InvalidInstanceType" in str(exc):
            raise InvalidParameter("instance_type", itype, f"no such instance type in {region}",
                                   "Use one such as m5.large or t3.medium") from exc
        raise AwsError("ec2:DescribeInstanceTypes", exc) from exc
    except BotoCoreError as exc:
        raise AwsError("ec2:DescribeInstanceTypes", exc) from exc


def plan(stack: str, *, region: str = "us-east-1", zones: "int | list[str]" = 3, flavor: str = "eks",
         version: str = "1.33", instance_type: str = "m5.large", nodes_per_zone: int = 2, nat: str = "single",
         nodegroups: str = "per-zone", vpc_cidr: str = "10.0.0.0/16", target: "str | Target | None" = None,
         tags: dict[str, str] | None = None) -> Plan:
    """What a bootstrap would create and cost. Read-only: only lookups are made."""
    t = resolve(target)
    _check_name(stack)
    check_region(region)
    if flavor not in FLAVORS:
        raise InvalidParameter("flavor", flavor, f"choose one of {', '.join(FLAVORS)}")
    if flavor == "eks" and version not in EKS_VERSIONS:
        raise InvalidParameter("version", version, f"EKS offers {', '.join(EKS_VERSIONS)}")
    if nat not in NAT_MODES:
        raise InvalidParameter("nat", nat, f"choose one of {', '.join(NAT_MODES)}")
    if nodegroups not in NODEGROUP_LAYOUTS:
        raise InvalidParameter("nodegroups", nodegroups, f"choose one of {', '.join(NODEGROUP_LAYOUTS)}")
    if isinstance(nodes_per_zone, bool) or not isinstance(nodes_per_zone, int) or not 0 <= nodes_per_zone <= 100:
        raise InvalidParameter("nodes_per_zone", nodes_per_zone, "a whole number from 0 to 100")
    for k, v in (tags or {}).items():
        if not isinstance(k, str) or not isinstance(v, str) or k.startswith("aws:") or len(k) > 128 or len(v) > 256:
            raise InvalidParameter("tags", {k: v}, "tag keys up to 128 and values up to 256 characters, "
                                                   "keys may not start with 'aws:'")
    chosen = choose_zones(t, region, zones if flavor == "eks" else (zones if isinstance(zones, list) else 1))
    if flavor == "kube-up" and len(chosen) != 1:
        raise InvalidParameter("zones", zones, "kube-up.sh built a cluster in one zone (KUBE_AWS_ZONE)")
    net = _check_cidr(vpc_cidr, len(chosen))
    _check_instance_type(t, region, instance_type)
    p = Plan(stack, region, chosen, flavor, version, instance_type, nodes_per_zone, nat, nodegroups, vpc_cidr, t,
             dict(tags or {}))
    p.steps = _eks_steps(p, net) if flavor == "eks" else _kubeup_steps(p, net)
    return p


def _eks_steps(p: Plan, net: ipaddress.IPv4Network) -> list[Step]:
    public, private = subnet_cidrs(net, len(p.zones))
    steps = [Step("vpc", "vpc", f"{p.vpc_cidr}, DNS hostnames on", params=(("cidr", p.vpc_cidr),)),
             Step("internet-gateway", "igw", "attached to the VPC")]
    for z, cidr in zip(p.zones, public):
        steps.append(Step("subnet", f"public-{z}", f"{cidr}, public (kubernetes.io/role/elb)", z,
                          params=(("cidr", cidr), ("public", True))))
    for z, cidr in zip(p.zones, private):
        steps.append(Step("subnet", f"private-{z}", f"{cidr}, private (kubernetes.io/role/internal-elb)", z,
                          params=(("cidr", cidr), ("public", False))))
    nat_zones = [] if p.nat == "none" else (p.zones[:1] if p.nat == "single" else list(p.zones))
    for z in nat_zones:
        price = pricing.nat_gateway(p.region)
        steps.append(Step("nat-gateway", f"nat-{z}", "with an Elastic IP, in the public subnet", z, price.hourly,
                          price.basis))
    steps.append(Step("route-table", "rt-public", "0.0.0.0/0 -> internet gateway; public subnets"))
    if p.nat != "none":
        for z in p.zones:
            via = z if p.nat == "per-zone" else nat_zones[0]
            steps.append(Step("route-table", f"rt-private-{z}", f"0.0.0.0/0 -> nat-{via}", z, params=(("nat", via),)))
    steps.append(Step("security-group", "sg-cluster", "control plane <-> nodes"))
    steps.append(Step("iam-role", "cluster-role", "eks.amazonaws.com: AmazonEKSClusterPolicy",
                      params=(("service", "eks.amazonaws.com"), ("policies", ("AmazonEKSClusterPolicy",)))))
    steps.append(Step("iam-role", "node-role", "ec2.amazonaws.com: worker, CNI, ECR read, EBS CSI policies",
                      params=(("service", "ec2.amazonaws.com"),
                              ("policies", ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy",
                                            "AmazonEC2ContainerRegistryReadOnly", "service-role/AmazonEBSCSIDriverPolicy")))))
    cp = pricing.eks_control_plane(p.version in EXTENDED_SUPPORT)
    steps.append(Step("eks-cluster", "cluster", f"Kubernetes {p.version}, private + public endpoint",
                      hourly=cp.hourly, cost_basis=cp.basis))
    ec2 = pricing.ec2(p.instance_type, p.region)
    disk = pricing.gp3(pricing.ROOT_VOLUME_GB, p.region)
    subnet_mode = "private" if p.nat != "none" else "public"
    if p.nodegroups == "per-zone":
        for z in p.zones:
            n = p.nodes_per_zone
            steps.append(Step("nodegroup", f"ng-{z}", f"{n} x {p.instance_type} in {subnet_mode}-{z}", z,
                              n * (ec2.hourly + disk.hourly), ec2.basis,
                              params=(("zones", (z,)), ("size", n), ("subnets", subnet_mode))))
    else:
        n = p.nodes
        steps.append(Step("nodegroup", "ng", f"{n} x {p.instance_type} over {len(p.zones)} {subnet_mode} subnets",
                          "", n * (ec2.hourly + disk.hourly), ec2.basis,
                          params=(("zones", tuple(p.zones)), ("size", n), ("subnets", subnet_mode))))
    steps.append(Step("eks-addon", "aws-ebs-csi-driver", "EBS CSI driver (gp3 volumes, zonal)"))
    return steps


def _kubeup_steps(p: Plan, net: ipaddress.IPv4Network) -> list[Step]:
    z = p.zones[0]
    public, _ = subnet_cidrs(net, 1)
    ec2 = pricing.ec2(p.instance_type, p.region)
    master_ec2 = pricing.ec2("m3.medium" if p.instance_type == "m3.medium" else p.instance_type, p.region)
    steps = [Step("vpc", "vpc", f"{p.vpc_cidr} (kube-up: 172.20.0.0/16 by default)", params=(("cidr", p.vpc_cidr),)),
             Step("internet-gateway", "igw", "attached to the VPC"),
             Step("subnet", f"public-{z}", f"{public[0]}: master and minions share it", z,
                  params=(("cidr", public[0]), ("public", True))),
             Step("route-table", "rt-public", "0.0.0.0/0 -> internet gateway"),
             Step("security-group", "sg-master", "kubernetes-master: 443 from anywhere, all from minions"),
             Step("security-group", "sg-minion", "kubernetes-minion: all from master and minions"),
             Step("iam-role", "master-role", "kubernetes-master instance profile",
                  params=(("service", "ec2.amazonaws.com"), ("policies", ()), ("instance_profile", True))),
             Step("iam-role", "minion-role", "kubernetes-minion instance profile",
                  params=(("service", "ec2.amazonaws.com"), ("policies", ()), ("instance_profile", True))),
             Step("key-pair", "ssh", "kubernetes-<fingerprint> key pair"),
             Step("instance", "master", f"{p.instance_type}, the single master (apiserver, etcd on master-pd)", z,
                  master_ec2.hourly + pricing.public_ip().hourly, master_ec2.basis),
             Step("volume", "master-pd", "20 GB for etcd", z, pricing.gp3(20, p.region).hourly, "gp3 20 GB"),
             Step("launch-template", "lt-minion", f"{p.instance_type} minions"),
             Step("autoscaling-group", "minion-group", f"{p.nodes_per_zone} minions in {z}", z,
                  p.nodes_per_zone * (ec2.hourly + pricing.gp3(pricing.ROOT_VOLUME_GB, p.region).hourly),
                  ec2.basis, params=(("size", p.nodes_per_zone),))]
    return steps

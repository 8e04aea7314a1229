"""Regions and zones are looked up, never assumed (an unknown region is refused before any call)."""

from __future__ import annotations

from functools import lru_cache

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ..errors import AwsError, InvalidParameter
from .target import Target


@lru_cache(maxsize=1)
def known_regions() -> tuple[str, ...]:
    """Every commercial region botocore knows (no network call)."""
    return tuple(sorted(boto3.session.Session().get_available_regions("ec2")))


def check_region(region: str) -> str:
    if not isinstance(region, str) or region not in known_regions():
        close = [r for r in known_regions() if isinstance(region, str) and r.split("-")[0] == region.split("-")[0]]
        hint = f" Did you mean one of: {', '.join(close[:6])}?" if close else ""
        raise InvalidParameter("region", region, "AWS has no such region",
                               f"Use a region name such as us-east-1 or eu-west-1.{hint}")
    return region


def zones(target: Target, region: str) -> list[str]:
    """Available zones of the region, sorted."""
    check_region(region)
    try:
        resp = target.client("ec2", region).describe_availability_zones(
            Filters=[{"Name": "state", "Values": ["available"]}])
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(f"ec2:DescribeAvailabilityZones in {region}", exc) from exc
    return sorted(z["ZoneName"] for z in resp["AvailabilityZones"]
                  if z.get("ZoneType", "availability-zone") == "availability-zone")


def choose_zones(target: Target, region: str, wanted: "int | list[str] | tuple[str, ...]") -> list[str]:
    """``3`` -> the first three zones; a list -> checked to be zones of the region."""
    available = zones(target, region)
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        if wanted < 1:
            raise InvalidParameter("zones", wanted, "need at least one zone")
        if wanted > len(available):
            raise InvalidParameter("zones", wanted, f"{region} has only {len(available)} zones: "
                                                    f"{', '.join(available)}")
        return available[:wanted]
    names = list(wanted)
    if not names:
        raise InvalidParameter("zones", wanted, "need at least one zone")
    bad = [z for z in names if z not in available]
    if bad:
        raise InvalidParameter("zones", bad, f"not zones of {region}", f"Zones there: {', '.join(available)}")
    if len(set(names)) != len(names):
        raise InvalidParameter("zones", names, "a zone is listed twice")
    return sorted(names)

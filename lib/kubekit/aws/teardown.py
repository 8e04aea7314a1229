"""``destroy(stack)``: delete everything of a stack, found by its tag and its inventory, and prove it.

Order follows the dependencies AWS enforces: node groups and add-ons, the EKS
cluster, instances and Auto Scaling groups, NAT gateways, Elastic IPs, route
tables, the internet gateway, security groups, subnets, volumes, the VPC, key
pairs and launch templates, IAM instance profiles and roles. Steps that AWS
refuses because something still depends on them (``DependencyViolation``) are
retried with back-off. At the end a tag search must find nothing and the
inventory must be empty; otherwise :class:`NotReady` lists what is left.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import AwsError, NotReady
from .gate import check_account
from .inventory import Inventory
from .plans import STACK_TAG
from .target import Target, resolve

RETRYABLE = ("DependencyViolation", "ResourceInUse", "ResourceInUseException", "DeleteConflict",
             "InvalidParameterException", "IncorrectState")
GONE = ("NotFound", "NoSuchEntity", "ResourceNotFoundException", "InvalidVpcID.NotFound",
        "InvalidSubnetID.NotFound", "InvalidGroup.NotFound", "InvalidInternetGatewayID.NotFound",
        "InvalidRouteTableID.NotFound", "InvalidAllocationID.NotFound", "NatGatewayNotFound",
        "InvalidVolume.NotFound", "InvalidKeyPair.NotFound", "InvalidLaunchTemplateName.NotFoundException",
        "InvalidLaunchTemplateId.NotFound", "InvalidInstanceID.NotFound", "ValidationError")


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


class Destroyer:
    def __init__(self, target: Target, region: str, stack: str, progress: bool | str, sandbox: bool) -> None:
        self.t = target
        self.region = region
        self.stack = stack
        self.ec2 = target.client("ec2", region)
        self.eks = target.client("eks", region)
        self.iam = target.client("iam", region)
        self.asg = target.client("autoscaling", region)
        self.inv = Inventory.load(target, region, stack)
        self.progress = progress
        self.interval = 0.2 if sandbox else 10.0
        self.deleted: list[str] = []

    def _tagged(self) -> list[dict[str, Any]]:
        return [{"Name": f"tag:{STACK_TAG}", "Values": [self.stack]}]

    def _retry(self, what: str, fn: Callable[[], Any], attempts: int = 60) -> None:
        for i in range(attempts):
            try:
                fn()
                self.deleted.append(what)
                return
            except ClientError as exc:
                code = _code(exc)
                if any(code.startswith(g) or code == g for g in GONE):
                    return
                if code in RETRYABLE and i < attempts - 1:
                    time.sleep(min(self.interval * (1.5 ** min(i, 6)), 30))
                    continue
                raise AwsError(f"deleting {what} of stack {self.stack}", exc) from exc

    def _forget_kind(self, kind: str) -> None:
        for logical, entry in list(self.inv.resources.items()):
            if entry.get("kind") == kind:
                self.inv.forget(logical)

    def _wait_until(self, what: str, done: Callable[[], bool], timeout: float) -> None:
        end = time.monotonic() + timeout
        while not done():
            if time.monotonic() > end:
                raise NotReady(f"{what} still exists after {timeout:.0f} s")
            time.sleep(self.interval)

    # -- steps ---------------------------------------------------------------------------------
    def cluster(self) -> None:
        try:
            self.eks.describe_cluster(name=self.stack)
        except ClientError:
            self._forget_kind("nodegroup")
            self._forget_kind("eks-addon")
            self._forget_kind("eks-cluster")
            return
        for ng in self.eks.list_nodegroups(clusterName=self.stack).get("nodegroups", []):
            self._retry(f"node group {ng}", lambda ng=ng: self.eks.delete_nodegroup(clusterName=self.stack,
                                                                                    nodegroupName=ng))
        self._wait_until("node groups", lambda: not self.eks.list_nodegroups(clusterName=self.stack).get(
            "nodegroups"), 1800)
        self._forget_kind("nodegroup")
        try:
            for addon in self.eks.list_addons(clusterName=self.stack).get("addons", []):
                self._retry(f"add-on {addon}", lambda a=addon: self.eks.delete_addon(clusterName=self.stack,
                                                                                      addonName=a))
        except (ClientError, BotoCoreError):
            pass  # moto has no add-ons
        self._forget_kind("eks-addon")
        self._retry("EKS cluster", lambda: self.eks.delete_cluster(name=self.stack))

        def gone() -> bool:
            try:
                self.eks.describe_cluster(name=self.stack)
                return False
            except ClientError:
                return True

        self._wait_until("EKS cluster", gone, 1800)
        self._forget_kind("eks-cluster")

    def instances(self) -> None:
        groups = self.asg.describe_auto_scaling_groups()["AutoScalingGroups"]
        for g in groups:
            if any(t["Key"] == STACK_TAG and t["Value"] == self.stack for t in g.get("Tags") or []):
                self._retry(f"auto scaling group {g['AutoScalingGroupName']}",
                            lambda n=g["AutoScalingGroupName"]: self.asg.delete_auto_scaling_group(
                                AutoScalingGroupName=n, ForceDelete=True))
        self._forget_kind("autoscaling-group")
        ids = [i["InstanceId"] for r in self.ec2.describe_instances(Filters=self._tagged() + [
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])["Reservations"]
               for i in r["Instances"]]
        # Node-group instances carry the EKS cluster tag instead of ours when launched by a node group.
        ids += [i["InstanceId"] for r in self.ec2.describe_instances(Filters=[
            {"Name": f"tag:kubernetes.io/cluster/{self.stack}", "Values": ["owned"]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])["Reservations"]
            for i in r["Instances"]]
        if ids:
            self._retry("instances", lambda: self.ec2.terminate_instances(InstanceIds=sorted(set(ids))))
            self._wait_until("instances", lambda: not [i for r in self.ec2.describe_instances(
                InstanceIds=sorted(set(ids)))["Reservations"] for i in r["Instances"]
                if i["State"]["Name"] != "terminated"], 900)
        self._forget_kind("instance")

    def network(self) -> None:
        ec2 = self.ec2
        for nat in ec2.describe_nat_gateways(Filters=self._tagged())["NatGateways"]:
            if nat["State"] not in ("deleted", "deleting"):
                self._retry(f"NAT gateway {nat['NatGatewayId']}",
                            lambda n=nat["NatGatewayId"]: ec2.delete_nat_gateway(NatGatewayId=n))
        self._wait_until("NAT gateways", lambda: all(n["State"] in ("deleted",) for n in ec2.describe_nat_gateways(
            Filters=self._tagged())["NatGateways"]), 900)
        self._forget_kind("nat-gateway")
        for addr in ec2.describe_addresses(Filters=self._tagged())["Addresses"]:
            if addr.get("AssociationId"):
                self._retry("EIP association", lambda a=addr["AssociationId"]: ec2.disassociate_address(
                    AssociationId=a))
            self._retry(f"Elastic IP {addr['AllocationId']}",
                        lambda a=addr["AllocationId"]: ec2.release_address(AllocationId=a))
        self._forget_kind("elastic-ip")
        for rtb in ec2.describe_route_tables(Filters=self._tagged())["RouteTables"]:
            for assoc in rtb.get("Associations") or []:
                if not assoc.get("Main"):
                    self._retry("route table association", lambda a=assoc["RouteTableAssociationId"]:
                                ec2.disassociate_route_table(AssociationId=a))
            self._retry(f"route table {rtb['RouteTableId']}",
                        lambda r=rtb["RouteTableId"]: ec2.delete_route_table(RouteTableId=r))
        self._forget_kind("route-table")
        for igw in ec2.describe_internet_gateways(Filters=self._tagged())["InternetGateways"]:
            for att in igw.get("Attachments") or []:
                self._retry("internet gateway attachment", lambda i=igw["InternetGatewayId"], v=att["VpcId"]:
                            ec2.detach_internet_gateway(InternetGatewayId=i, VpcId=v))
            self._retry(f"internet gateway {igw['InternetGatewayId']}",
                        lambda i=igw["InternetGatewayId"]: ec2.delete_internet_gateway(InternetGatewayId=i))
        self._forget_kind("internet-gateway")
        groups = ec2.describe_security_groups(Filters=self._tagged())["SecurityGroups"]
        for sg in groups:  # revoke cross references first (AWS refuses to delete a referenced group)
            if sg.get("IpPermissions"):
                self._retry("security group rules", lambda g=sg: ec2.revoke_security_group_ingress(
                    GroupId=g["GroupId"], IpPermissions=g["IpPermissions"]))
        for sg in groups:
            self._retry(f"security group {sg['GroupId']}", lambda g=sg["GroupId"]: ec2.delete_security_group(
                GroupId=g))
        self._forget_kind("security-group")
        for sn in ec2.describe_subnets(Filters=self._tagged())["Subnets"]:
            self._retry(f"subnet {sn['SubnetId']}", lambda s=sn["SubnetId"]: ec2.delete_subnet(SubnetId=s))
        self._forget_kind("subnet")
        for vol in ec2.describe_volumes(Filters=self._tagged())["Volumes"]:
            for att in vol.get("Attachments") or []:
                self._retry("volume attachment", lambda v=vol["VolumeId"], i=att["InstanceId"]: ec2.detach_volume(
                    VolumeId=v, InstanceId=i, Force=True))
            self._retry(f"volume {vol['VolumeId']}", lambda v=vol["VolumeId"]: ec2.delete_volume(VolumeId=v))
        self._forget_kind("volume")
        for vpc in ec2.describe_vpcs(Filters=self._tagged())["Vpcs"]:
            self._retry(f"VPC {vpc['VpcId']}", lambda v=vpc["VpcId"]: ec2.delete_vpc(VpcId=v))
        self._forget_kind("vpc")
        for kp in ec2.describe_key_pairs(Filters=self._tagged())["KeyPairs"]:
            self._retry(f"key pair {kp['KeyName']}", lambda k=kp["KeyName"]: ec2.delete_key_pair(KeyName=k))
        self._forget_kind("key-pair")
        for lt in ec2.describe_launch_templates(Filters=self._tagged())["LaunchTemplates"]:
            self._retry(f"launch template {lt['LaunchTemplateName']}",
                        lambda i=lt["LaunchTemplateId"]: ec2.delete_launch_template(LaunchTemplateId=i))
        self._forget_kind("launch-template")

    def iam_roles(self) -> None:
        iam = self.iam
        names = {e.get("name") for e in self.inv.resources.values() if e.get("kind") in ("iam-role", "instance-profile")}
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if role["RoleName"].startswith(f"{self.stack}-"):
                    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
                    if tags.get(STACK_TAG) == self.stack:
                        names.add(role["RoleName"])
        for name in sorted(n for n in names if n):
            try:
                for prof in iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]:
                    self._retry("instance profile role", lambda p=prof["InstanceProfileName"]:
                                iam.remove_role_from_instance_profile(InstanceProfileName=p, RoleName=name))
                    self._retry(f"instance profile {prof['InstanceProfileName']}", lambda p=prof["InstanceProfileName"]:
                                iam.delete_instance_profile(InstanceProfileName=p))
                for pol in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                    self._retry("policy attachment", lambda a=pol["PolicyArn"]: iam.detach_role_policy(
                        RoleName=name, PolicyArn=a))
            except ClientError as exc:
                if _code(exc) != "NoSuchEntity":
                    raise AwsError(f"cleaning up IAM role {name}", exc) from exc
            self._retry(f"IAM role {name}", lambda: iam.delete_role(RoleName=name))
        self._forget_kind("iam-role")
        self._forget_kind("instance-profile")

    # -- proof ---------------------------------------------------------------------------------
    def leftovers(self) -> list[str]:
        left = []
        ec2 = self.ec2
        checks = [("vpc", lambda: ec2.describe_vpcs(Filters=self._tagged())["Vpcs"]),
                  ("subnet", lambda: ec2.describe_subnets(Filters=self._tagged())["Subnets"]),
                  ("security group", lambda: ec2.describe_security_groups(Filters=self._tagged())["SecurityGroups"]),
                  ("route table", lambda: ec2.describe_route_tables(Filters=self._tagged())["RouteTables"]),
                  ("internet gateway", lambda: ec2.describe_internet_gateways(
                      Filters=self._tagged())["InternetGateways"]),
                  ("elastic ip", lambda: ec2.describe_addresses(Filters=self._tagged())["Addresses"]),
                  ("nat gateway", lambda: [n for n in ec2.describe_nat_gateways(Filters=self._tagged())["NatGateways"]
                                           if n["State"] != "deleted"]),
                  ("instance", lambda: [i for r in ec2.describe_instances(Filters=self._tagged())["Reservations"]
                                        for i in r["Instances"] if i["State"]["Name"] != "terminated"]),
                  ("volume", lambda: ec2.describe_volumes(Filters=self._tagged())["Volumes"])]
        for what, fn in checks:
            n = len(fn())
            if n:
                left.append(f"{n} {what}(s)")
        if self.stack in self.eks.list_clusters().get("clusters", []):
            left.append("the EKS cluster")
        if self.inv.resources:
            left.append(f"inventory entries: {', '.join(sorted(self.inv.resources))}")
        return left


def destroy(stack: str, *, region: str = "us-east-1", target: "str | Target | None" = None,
            confirm_account: str | None = None, progress: bool | str = "auto") -> dict[str, Any]:
    """Delete every resource of ``stack`` and prove none is left (raises NotReady otherwise)."""
    from .plans import _check_name
    from .regions import check_region

    t = resolve(target)
    _check_name(stack)
    check_region(region)
    check_account(t, confirm_account, region)
    d = Destroyer(t, region, stack, progress, t.is_sandbox)
    try:
        d.cluster()
        d.instances()
        d.network()
        d.iam_roles()
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(f"destroying stack {stack}", exc) from exc
    left = d.leftovers()
    if left:
        raise NotReady(f"stack {stack} is not fully deleted; still there: {'; '.join(left)}. Run destroy again.")
    d.inv.remove_file_if_empty()
    return {"stack": stack, "region": region, "deleted": d.deleted, "left": []}

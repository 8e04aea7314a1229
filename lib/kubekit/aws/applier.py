"""``apply(plan)``: create a plan's resources in order, idempotently, recording each in the inventory.

Every step first looks for its resource by the stack's tags (``kubekit.io/stack``,
``kubekit.io/resource``) and reuses it, so running ``apply`` twice creates
nothing new, and an apply interrupted halfway (a botocore error, a killed kernel)
completes when run again. Every EC2 resource is tagged in the call that creates
it, so nothing can exist untagged. Waits show a progress bar.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from ..errors import AwsError, KitError, NotReady
from .gate import check_account
from .inventory import Inventory
from .plans import RESOURCE_TAG, STACK_TAG, Plan, Step

ASSUME = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": ""},
                                                   "Action": "sts:AssumeRole"}]}


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def _filters(plan: Plan, logical: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{STACK_TAG}", "Values": [plan.stack]}, {"Name": f"tag:{RESOURCE_TAG}", "Values": [logical]}]


def _ignore(codes: tuple[str, ...], fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in codes:
            return None
        raise


class Applier:
    def __init__(self, plan: Plan, progress: bool | str = "auto") -> None:
        self.plan = plan
        t = plan.target
        self.ec2 = t.client("ec2", plan.region)
        self.iam = t.client("iam", plan.region)
        self.eks = t.client("eks", plan.region)
        self.asg = t.client("autoscaling", plan.region)
        self.ssm = t.client("ssm", plan.region)
        self.inv = Inventory.load(t, plan.region, plan.stack)
        self.progress = progress
        self.created: list[str] = []
        self.reused: list[str] = []

    # -- bookkeeping ---------------------------------------------------------------------------
    def _done(self, step: Step, ident: str, created: bool, **extra: Any) -> str:
        self.inv.record(step.logical, step.kind, ident, **extra)
        (self.created if created else self.reused).append(step.logical)
        return ident

    def _ec2_tags(self, step: Step, resource_type: str, extra: dict[str, str] | None = None) -> list[dict[str, Any]]:
        tags = {**self.plan.resource_tags(step.logical), "Name": f"{self.plan.stack}-{step.logical}", **(extra or {})}
        return [{"ResourceType": resource_type, "Tags": _tag_list(tags)}]

    def id_of(self, logical: str) -> str:
        ident = self.inv.get(logical)
        if not ident:
            raise KitError(f"internal: {logical} must be created before it is used")
        return ident

    # -- run -----------------------------------------------------------------------------------
    def run(self) -> None:
        from tqdm.auto import tqdm

        bar = tqdm(self.plan.steps, desc=f"apply {self.plan.stack}", unit="resource",
                   disable=self.progress is False, leave=True)
        for step in bar:
            bar.set_postfix_str(step.logical)
            fn = getattr(self, "_" + step.kind.replace("-", "_"))
            try:
                fn(step)
            except (ClientError, BotoCoreError, WaiterError) as exc:
                raise AwsError(f"creating {step.kind} {step.logical} of stack {self.plan.stack} (run apply again "
                               f"to resume, or destroy() to remove what was made)", exc) from exc
        bar.close()

    # -- network -------------------------------------------------------------------------------
    def _vpc(self, step: Step) -> None:
        found = self.ec2.describe_vpcs(Filters=_filters(self.plan, step.logical))["Vpcs"]
        if found:
            self._done(step, found[0]["VpcId"], False)
            return
        vpc = self.ec2.create_vpc(CidrBlock=step.param("cidr"), TagSpecifications=self._ec2_tags(step, "vpc"))["Vpc"]
        self._done(step, vpc["VpcId"], True)
        self.ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsSupport={"Value": True})
        self.ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsHostnames={"Value": True})

    def _internet_gateway(self, step: Step) -> None:
        vpc = self.id_of("vpc")
        found = self.ec2.describe_internet_gateways(Filters=_filters(self.plan, step.logical))["InternetGateways"]
        if found:
            igw = found[0]
            created = False
        else:
            igw = self.ec2.create_internet_gateway(
                TagSpecifications=self._ec2_tags(step, "internet-gateway"))["InternetGateway"]
            created = True
        self._done(step, igw["InternetGatewayId"], created)
        if not any(a.get("VpcId") == vpc for a in igw.get("Attachments") or []):
            self.ec2.attach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc)

    def _subnet(self, step: Step) -> None:
        public = bool(step.param("public"))
        found = self.ec2.describe_subnets(Filters=_filters(self.plan, step.logical))["Subnets"]
        if found:
            self._done(step, found[0]["SubnetId"], False)
            return
        role = {"kubernetes.io/role/elb": "1"} if public else {"kubernetes.io/role/internal-elb": "1"}
        extra = {**role, f"kubernetes.io/cluster/{self.plan.stack}": "shared"}
        if self.plan.flavor == "kube-up":
            extra = {"KubernetesCluster": self.plan.stack}
        sn = self.ec2.create_subnet(VpcId=self.id_of("vpc"), CidrBlock=step.param("cidr"), AvailabilityZone=step.zone,
                                    TagSpecifications=self._ec2_tags(step, "subnet", extra))["Subnet"]
        self._done(step, sn["SubnetId"], True)
        if public:
            self.ec2.modify_subnet_attribute(SubnetId=sn["SubnetId"], MapPublicIpOnLaunch={"Value": True})

    def _nat_gateway(self, step: Step) -> None:
        live = [n for n in self.ec2.describe_nat_gateways(Filters=_filters(self.plan, step.logical))["NatGateways"]
                if n["State"] in ("pending", "available")]
        if live:
            self._done(step, live[0]["NatGatewayId"], False)
            return
        eip_name = f"eip-{step.zone}"
        eips = self.ec2.describe_addresses(Filters=_filters(self.plan, eip_name))["Addresses"]
        if eips:
            alloc = eips[0]["AllocationId"]
        else:
            eip_step = Step("elastic-ip", eip_name, zone=step.zone)
            alloc = self.ec2.allocate_address(Domain="vpc",
                                              TagSpecifications=self._ec2_tags(eip_step, "elastic-ip"))["AllocationId"]
        self.inv.record(eip_name, "elastic-ip", alloc)
        nat = self.ec2.create_nat_gateway(SubnetId=self.id_of(f"public-{step.zone}"), AllocationId=alloc,
                                          TagSpecifications=self._ec2_tags(step, "natgateway"))["NatGateway"]
        self._done(step, nat["NatGatewayId"], True)
        self._wait("nat_gateway_available", f"NAT gateway {step.logical}", NatGatewayIds=[nat["NatGatewayId"]])

    def _route_table(self, step: Step) -> None:
        found = self.ec2.describe_route_tables(Filters=_filters(self.plan, step.logical))["RouteTables"]
        if found:
            table = found[0]
            created = False
        else:
            table = self.ec2.create_route_table(VpcId=self.id_of("vpc"),
                                                TagSpecifications=self._ec2_tags(step, "route-table"))["RouteTable"]
            created = True
        rtb = table["RouteTableId"]
        self._done(step, rtb, created)
        if step.logical == "rt-public":
            target = {"GatewayId": self.id_of("igw")}
            subnets = [self.id_of(f"public-{z}") for z in self.plan.zones]
        else:
            target = {"NatGatewayId": self.id_of(f"nat-{step.param('nat')}")}
            subnets = [self.id_of(f"private-{step.zone}")]
        routes = table.get("Routes") or []
        if not any(r.get("DestinationCidrBlock") == "0.0.0.0/0" for r in routes):
            _ignore(("RouteAlreadyExists",), lambda: self.ec2.create_route(
                RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", **target))
        associated = {a.get("SubnetId") for a in table.get("Associations") or []}
        for sn in subnets:
            if sn not in associated:
                self.ec2.associate_route_table(RouteTableId=rtb, SubnetId=sn)

    def _security_group(self, step: Step) -> None:
        found = self.ec2.describe_security_groups(Filters=_filters(self.plan, step.logical))["SecurityGroups"]
        if found:
            sg = found[0]["GroupId"]
            created = False
        else:
            name = f"{self.plan.stack}-{step.logical}"
            if self.plan.flavor == "kube-up":
                name = f"kubernetes-{step.logical.removeprefix('sg-')}-{self.plan.stack}"
            sg = self.ec2.create_security_group(
                GroupName=name, Description=f"kubekit {self.plan.stack} {step.logical}", VpcId=self.id_of("vpc"),
                TagSpecifications=self._ec2_tags(step, "security-group",
                                                 {"KubernetesCluster": self.plan.stack}
                                                 if self.plan.flavor == "kube-up" else None))["GroupId"]
            created = True
        self._done(step, sg, created)
        rules: list[dict[str, Any]] = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}]
        if step.logical == "sg-master":
            rules.append({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                          "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "kube-apiserver"}]})
        for rule in rules:
            _ignore(("InvalidPermission.Duplicate",), lambda r=rule: self.ec2.authorize_security_group_ingress(
                GroupId=sg, IpPermissions=[r]))
        if step.logical == "sg-minion":
            master = self.inv.get("sg-master")
            if master:
                for a, b in ((sg, master), (master, sg)):
                    _ignore(("InvalidPermission.Duplicate",), lambda a=a, b=b: self.ec2.authorize_security_group_ingress(
                        GroupId=a, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": b}]}]))

    # -- IAM -----------------------------------------------------------------------------------
    def _iam_role(self, step: Step) -> None:
        name = f"{self.plan.stack}-{step.logical}"[:64]
        try:
            role = self.iam.get_role(RoleName=name)["Role"]
            created = False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            doc = json.loads(json.dumps(ASSUME))
            doc["Statement"][0]["Principal"]["Service"] = step.param("service")
            role = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc),
                                        Description=f"kubekit {self.plan.stack} {step.logical}",
                                        Tags=_tag_list(self.plan.resource_tags(step.logical)))["Role"]
            created = True
        self._done(step, role["Arn"], created, name=name)
        attached = {p["PolicyName"] for p in self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]}
        for policy in step.param("policies", ()):
            if policy.rsplit("/", 1)[-1] not in attached:
                self.iam.attach_role_policy(RoleName=name, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
        if step.param("instance_profile"):
            try:
                profile = self.iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
            except ClientError:
                profile = self.iam.create_instance_profile(
                    InstanceProfileName=name, Tags=_tag_list(self.plan.resource_tags(step.logical)))["InstanceProfile"]
            if not any(r["RoleName"] == name for r in profile.get("Roles") or []):
                self.iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
            self.inv.record(f"{step.logical}-profile", "instance-profile", profile["Arn"], name=name)

    # -- EKS -----------------------------------------------------------------------------------
    def _eks_cluster(self, step: Step) -> None:
        p = self.plan
        try:
            cluster = self.eks.describe_cluster(name=p.stack)["cluster"]
            created = False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            subnets = [self.id_of(f"private-{z}") for z in p.zones] + [self.id_of(f"public-{z}") for z in p.zones]
            cluster = self.eks.create_cluster(
                name=p.stack, version=p.version, roleArn=self.id_of("cluster-role"),
                resourcesVpcConfig={"subnetIds": subnets, "securityGroupIds": [self.id_of("sg-cluster")],
                                    "endpointPublicAccess": True, "endpointPrivateAccess": True},
                tags=p.resource_tags(step.logical))["cluster"]
            created = True
        self._done(step, cluster["arn"], created)
        self._wait_eks(lambda: self.eks.describe_cluster(name=p.stack)["cluster"]["status"], "ACTIVE",
                       f"EKS cluster {p.stack}", 1800)

    def _nodegroup(self, step: Step) -> None:
        p = self.plan
        try:
            ng = self.eks.describe_nodegroup(clusterName=p.stack, nodegroupName=step.logical)["nodegroup"]
            created = False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            size = int(step.param("size"))
            kind = step.param("subnets")
            subnets = [self.id_of(f"{kind}-{z}") for z in step.param("zones")]
            ng = self.eks.create_nodegroup(
                clusterName=p.stack, nodegroupName=step.logical, nodeRole=self.id_of("node-role"), subnets=subnets,
                scalingConfig={"minSize": size, "maxSize": max(size, 1) * 2, "desiredSize": size},
                instanceTypes=[p.instance_type], amiType="AL2023_x86_64_STANDARD", capacityType="ON_DEMAND",
                diskSize=20, labels={STACK_TAG: p.stack}, tags=p.resource_tags(step.logical))["nodegroup"]
            created = True
        self._done(step, ng["nodegroupArn"], created)
        self._wait_eks(lambda: self.eks.describe_nodegroup(clusterName=p.stack,
                                                           nodegroupName=step.logical)["nodegroup"]["status"],
                       "ACTIVE", f"node group {step.logical}", 1800)

    def _eks_addon(self, step: Step) -> None:
        p = self.plan
        try:
            addon = self.eks.describe_addon(clusterName=p.stack, addonName=step.logical)["addon"]
            self._done(step, addon.get("addonArn", step.logical), False)
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException" and not p.target.is_sandbox:
                raise
        except BotoCoreError:
            if not p.target.is_sandbox:
                raise
        try:
            addon = self.eks.create_addon(clusterName=p.stack, addonName=step.logical,
                                          tags=p.resource_tags(step.logical))["addon"]
        except (ClientError, BotoCoreError):
            if not p.target.is_sandbox:
                raise
            # moto has no EKS add-ons; the sandbox's kubesim serves ebs.csi.aws.com itself (gp3 class, zonal PVs).
            self._done(step, "built-in", False, note="sandbox: kubesim's EBS provisioner plays the add-on")
            return
        self._done(step, addon.get("addonArn", step.logical), True)
        self._wait_eks(lambda: self.eks.describe_addon(clusterName=p.stack, addonName=step.logical)["addon"]["status"],
                       "ACTIVE", f"add-on {step.logical}", 900)

    # -- kube-up -------------------------------------------------------------------------------
    def _key_pair(self, step: Step) -> None:
        name = f"kubernetes-{self.plan.stack}"
        found = self.ec2.describe_key_pairs(Filters=_filters(self.plan, step.logical))["KeyPairs"]
        if found:
            self._done(step, found[0]["KeyName"], False)
            return
        # A public-key import would need a local key; creating one leaves the private half in the response only.
        self.ec2.create_key_pair(KeyName=name, TagSpecifications=self._ec2_tags(step, "key-pair"))
        self._done(step, name, True)

    def _ami(self) -> str:
        return self.ssm.get_parameter(
            Name="/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")["Parameter"]["Value"]

    def _instance(self, step: Step) -> None:
        p = self.plan
        live = [i for r in self.ec2.describe_instances(Filters=_filters(p, step.logical) + [
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])["Reservations"]
                for i in r["Instances"]]
        if live:
            self._done(step, live[0]["InstanceId"], False)
            return
        inst = self.ec2.run_instances(
            ImageId=self._ami(), InstanceType=p.instance_type, MinCount=1, MaxCount=1,
            SubnetId=self.id_of(f"public-{step.zone}"), SecurityGroupIds=[self.id_of("sg-master")],
            KeyName=self.id_of("ssh"), IamInstanceProfile={"Name": f"{p.stack}-master-role"[:64]},
            TagSpecifications=self._ec2_tags(step, "instance", {"KubernetesCluster": p.stack,
                                                                "kubekit.io/role": "master",
                                                                "Role": f"{p.stack}-master"}))["Instances"][0]
        self._done(step, inst["InstanceId"], True)
        self._wait("instance_running", "master instance", InstanceIds=[inst["InstanceId"]])
        eip = self.ec2.allocate_address(Domain="vpc", TagSpecifications=self._ec2_tags(
            Step("elastic-ip", "master-eip"), "elastic-ip"))["AllocationId"]
        self.inv.record("master-eip", "elastic-ip", eip)
        self.ec2.associate_address(AllocationId=eip, InstanceId=inst["InstanceId"])

    def _volume(self, step: Step) -> None:
        found = self.ec2.describe_volumes(Filters=_filters(self.plan, step.logical))["Volumes"]
        if found:
            self._done(step, found[0]["VolumeId"], False)
            return
        vol = self.ec2.create_volume(AvailabilityZone=step.zone, Size=20, VolumeType="gp3",
                                     TagSpecifications=self._ec2_tags(step, "volume",
                                                                       {"KubernetesCluster": self.plan.stack}))
        self._done(step, vol["VolumeId"], True)
        self._wait("volume_available", "master-pd volume", VolumeIds=[vol["VolumeId"]])
        self.ec2.attach_volume(VolumeId=vol["VolumeId"], InstanceId=self.id_of("master"), Device="/dev/sdb")

    def _launch_template(self, step: Step) -> None:
        p = self.plan
        name = f"{p.stack}-minion"
        found = self.ec2.describe_launch_templates(Filters=_filters(p, step.logical))["LaunchTemplates"]
        if found:
            self._done(step, found[0]["LaunchTemplateId"], False, name=name)
            return
        lt = self.ec2.create_launch_template(
            LaunchTemplateName=name,
            LaunchTemplateData={"ImageId": self._ami(), "InstanceType": p.instance_type, "KeyName": self.id_of("ssh"),
                                "SecurityGroupIds": [self.id_of("sg-minion")],
                                "IamInstanceProfile": {"Name": f"{p.stack}-minion-role"[:64]},
                                "TagSpecifications": [{"ResourceType": "instance", "Tags": _tag_list({
                                    "KubernetesCluster": p.stack, "Role": f"{p.stack}-minion",
                                    STACK_TAG: p.stack, RESOURCE_TAG: "minion-instance"})}]},
            TagSpecifications=self._ec2_tags(step, "launch-template"))["LaunchTemplate"]
        self._done(step, lt["LaunchTemplateId"], True, name=name)

    def _autoscaling_group(self, step: Step) -> None:
        p = self.plan
        name = f"{p.stack}-minion-group"
        groups = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        size = int(step.param("size"))
        if groups:
            self._done(step, name, False)
            return
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateId": self.id_of("lt-minion")},
            MinSize=size, MaxSize=max(size, 1), DesiredCapacity=size,
            VPCZoneIdentifier=self.id_of(f"public-{p.zones[0]}"),
            Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name,
                   "ResourceType": "auto-scaling-group"}
                  for k, v in {**p.resource_tags(step.logical), "KubernetesCluster": p.stack}.items()])
        self._done(step, name, True)

    # -- waiting -------------------------------------------------------------------------------
    def _wait(self, waiter: str, what: str, **kw: Any) -> None:
        try:
            self.ec2.get_waiter(waiter).wait(WaiterConfig={"Delay": 2 if self.plan.target.is_sandbox else 10,
                                                           "MaxAttempts": 120}, **kw)
        except WaiterError as exc:
            raise NotReady(f"{what} did not become ready: {exc}") from exc

    def _wait_eks(self, status: Callable[[], str], want: str, what: str, timeout: float) -> None:
        from tqdm.auto import tqdm

        start = time.monotonic()
        interval = 0.2 if self.plan.target.is_sandbox else 15.0
        with tqdm(total=None, desc=f"waiting for {what}", disable=self.progress is False, leave=False,
                  bar_format="{desc}: {elapsed}") as bar:
            while True:
                state = status()
                if state == want:
                    return
                if state in ("FAILED", "CREATE_FAILED", "DEGRADED", "DELETING"):
                    raise NotReady(f"{what} is {state}; see the AWS console or describe calls for the reason")
                if time.monotonic() - start > timeout:
                    raise NotReady(f"{what} is still {state} after {timeout:.0f} s")
                bar.update(0)
                time.sleep(interval)


def apply(plan: Plan, *, confirm_account: str | None = None, progress: bool | str = "auto") -> dict[str, Any]:
    """Create everything in ``plan`` (only what is missing). Returns what was created and reused.

    On real AWS the caller's account must equal ``confirm_account`` (see :func:`check_account`).
    """
    check_account(plan.target, confirm_account, plan.region)
    applier = Applier(plan, progress)
    applier.run()
    return {"stack": plan.stack, "region": plan.region, "created": applier.created, "reused": applier.reused,
            "inventory": str(applier.inv.path)}

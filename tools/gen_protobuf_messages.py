"""Regenerate ``lib/kubesim/server/protobuf_messages.py`` from upstream sources.

Not run by the build or the tests; a maintenance tool. It reads two git
checkouts (``kubernetes/api`` and ``kubernetes/apimachinery``; by default the
mirrors under /work/.mirror) and writes kubesim's own compact description of
the protobuf messages reachable from the kinds in ``ROOTS``:

* field numbers and proto types come from each package's ``generated.proto``;
* the JSON side (json name, ``omitempty``/``omitzero``, ``,inline``, whether the
  Go field is a pointer) comes from the ``json:`` and ``protobuf:`` struct tags
  in the package's Go type definitions (``types.go`` …), matched by field number.

Usage::

    python tools/gen_protobuf_messages.py [API_GIT_DIR APIMACHINERY_GIT_DIR] > lib/kubesim/server/protobuf_messages.py
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass

API = "/work/.mirror/kubernetes+api/repo"
APIMACHINERY = "/work/.mirror/kubernetes+apimachinery/repo"

# proto package -> (short prefix used in the table, repo key, directory)
PACKAGES = {
    "k8s.io.apimachinery.pkg.apis.meta.v1": ("meta.v1", "am", "pkg/apis/meta/v1"),
    "k8s.io.apimachinery.pkg.runtime": ("runtime", "am", "pkg/runtime"),
    "k8s.io.apimachinery.pkg.util.intstr": ("intstr", "am", "pkg/util/intstr"),
    "k8s.io.apimachinery.pkg.api.resource": ("resource", "am", "pkg/api/resource"),
}
for _d in ("core/v1", "apps/v1", "batch/v1", "policy/v1", "rbac/v1", "authentication/v1",
           "authorization/v1", "autoscaling/v1", "storage/v1", "coordination/v1", "discovery/v1",
           "events/v1",
           # referenced from batch/v1 JobSpec (workload scheduling, alpha)
           "scheduling/v1alpha3"):
    PACKAGES["k8s.io.api." + _d.replace("/", ".")] = (_d.replace("/", "."), "api", _d)

# Messages with a custom JSON form, decoded by code in protobuf.py; not described field by field.
SPECIAL = {"meta.v1.Time", "meta.v1.MicroTime", "meta.v1.Duration", "meta.v1.FieldsV1",
           "resource.Quantity", "intstr.IntOrString", "runtime.RawExtension"}

# (apiVersion, kind) -> message.  Every kind kubesim serves, plus request-only kinds.
ROOTS = {
    "v1": ("core.v1", ["Namespace", "Pod", "Service", "Endpoints", "ConfigMap", "Secret", "ServiceAccount",
                       "Node", "PersistentVolume", "PersistentVolumeClaim", "Event", "ReplicationController",
                       "LimitRange", "ResourceQuota", "PodTemplate", "Binding"]),
    "apps/v1": ("apps.v1", ["StatefulSet", "Deployment", "ReplicaSet", "DaemonSet", "ControllerRevision"]),
    "batch/v1": ("batch.v1", ["Job", "CronJob"]),
    "policy/v1": ("policy.v1", ["PodDisruptionBudget", "Eviction"]),
    "storage.k8s.io/v1": ("storage.v1", ["StorageClass", "CSIDriver", "CSINode", "VolumeAttachment"]),
    "coordination.k8s.io/v1": ("coordination.v1", ["Lease"]),
    "discovery.k8s.io/v1": ("discovery.v1", ["EndpointSlice"]),
    "events.k8s.io/v1": ("events.v1", ["Event"]),
    "rbac.authorization.k8s.io/v1": ("rbac.v1", ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]),
    "authentication.k8s.io/v1": ("authentication.v1", ["TokenRequest", "TokenReview", "SelfSubjectReview"]),
    "authorization.k8s.io/v1": ("authorization.v1", ["SelfSubjectAccessReview", "SelfSubjectRulesReview",
                                                     "SubjectAccessReview", "LocalSubjectAccessReview"]),
    "autoscaling/v1": ("autoscaling.v1", ["Scale"]),
}

SCALARS = {"string": "str", "bytes": "bytes", "bool": "bool", "int32": "i32", "int64": "i64",
           "uint32": "u32", "uint64": "u64", "double": "f64", "float": "f32"}


def git_show(repo: str, path: str) -> str:
    return subprocess.run(["git", "-C", repo, "show", f"HEAD:{path}"], check=True, capture_output=True,
                          text=True).stdout


def git_ls(repo: str, path: str) -> list[str]:
    out = subprocess.run(["git", "-C", repo, "ls-tree", "--name-only", f"HEAD:{path}"], check=True,
                         capture_output=True, text=True).stdout
    return out.split()


@dataclass
class ProtoField:
    num: int
    name: str
    type: str          # table type: scalar code, message name, or "map:K:V"
    repeated: bool


def qualify(t: str, pkg: str) -> str:
    if t in SCALARS:
        return SCALARS[t]
    t = t.lstrip(".")
    if "." in t:
        p, _, n = t.rpartition(".")
        return f"{PACKAGES[p][0]}.{n}"
    return f"{PACKAGES[pkg][0]}.{t}"


def parse_proto(text: str, pkg: str) -> dict[str, list[ProtoField]]:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    msgs: dict[str, list[ProtoField]] = {}
    for m in re.finditer(r"message\s+(\w+)\s*\{(.*?)\n\}", text, re.S):
        fields = []
        for line in m.group(2).split(";"):
            line = " ".join(line.split())
            if not line:
                continue
            mm = re.fullmatch(r"map<\s*([\w.]+)\s*,\s*([\w.]+)\s*> (\w+) = (\d+)", line)
            if mm:
                k, v = qualify(mm.group(1), pkg), qualify(mm.group(2), pkg)
                fields.append(ProtoField(int(mm.group(4)), mm.group(3), f"map:{k}:{v}", False))
                continue
            mm = re.fullmatch(r"(optional|repeated) ([\w.]+) (\w+) = (\d+)", line)
            if not mm:
                raise SystemExit(f"cannot parse proto line in {pkg}.{m.group(1)}: {line!r}")
            fields.append(ProtoField(int(mm.group(4)), mm.group(3), qualify(mm.group(2), pkg),
                                     mm.group(1) == "repeated"))
        msgs[f"{PACKAGES[pkg][0]}.{m.group(1)}"] = fields
    return msgs


@dataclass
class GoField:
    name: str
    gotype: str
    json: str
    opts: set[str]
    num: int


def parse_go(texts: list[str], prefix: str) -> tuple[dict[str, list[GoField]], set[str]]:
    """Struct fields carrying protobuf tags, in declaration order; and named slice types."""
    structs: dict[str, list[GoField]] = {}
    slices: set[str] = set()
    for text in texts:
        for m in re.finditer(r"^type (\w+) \[\]", text, re.M):
            slices.add(f"{prefix}.{m.group(1)}")
        for m in re.finditer(r"^type (\w+) struct \{\n(.*?)^\}", text, re.S | re.M):
            fields = []
            for line in m.group(2).split("\n"):
                line = line.strip()
                if not line or line.startswith("//") or "`" not in line:
                    continue
                before, tag = line.split("`")[0].split(), line.split("`")[1]
                pt = re.search(r'protobuf:"(\w+),(\d+),', tag)
                if not pt:
                    continue
                jt = re.search(r'json:"([^"]*)"', tag)
                jparts = (jt.group(1) if jt else "").split(",")
                gotype = before[-1]
                name = before[0] if len(before) == 2 else gotype.lstrip("*").rpartition(".")[2]
                fields.append(GoField(name, gotype, jparts[0], set(jparts[1:]), int(pt.group(2))))
            structs[f"{prefix}.{m.group(1)}"] = fields
    return structs, slices


def main() -> None:
    api = sys.argv[1] if len(sys.argv) > 2 else API
    am = sys.argv[2] if len(sys.argv) > 2 else APIMACHINERY
    repos = {"api": api, "am": am}
    proto: dict[str, list[ProtoField]] = {}
    go: dict[str, list[GoField]] = {}
    slices: set[str] = set()
    source: dict[str, str] = {}
    for pkg, (prefix, rk, d) in PACKAGES.items():
        msgs = parse_proto(git_show(repos[rk], f"{d}/generated.proto"), pkg)
        proto.update(msgs)
        where = ("k8s.io/api/" if rk == "api" else "k8s.io/apimachinery/") + d + "/generated.proto"
        source.update({k: where for k in msgs})
        texts = [git_show(repos[rk], f"{d}/{f}") for f in git_ls(repos[rk], d)
                 if f.endswith(".go") and not f.endswith("_test.go") and not f.startswith("zz_")
                 and f != "generated.pb.go"]
        s, sl = parse_go(texts, prefix)
        go.update(s)
        slices |= sl

    roots: dict[tuple[str, str], str] = {}
    for av, (prefix, kinds) in ROOTS.items():
        for k in kinds:
            roots[(av, k)] = f"{prefix}.{k}"
            if f"{prefix}.{k}List" in proto:
                roots[(av, f"{k}List")] = f"{prefix}.{k}List"
        # Typed deletes send the DeleteOptions body encoded in the client's group version.
        roots[(av, "DeleteOptions")] = "meta.v1.DeleteOptions"
    roots[("meta.k8s.io/v1", "DeleteOptions")] = "meta.v1.DeleteOptions"

    # Walk the message graph from the roots.
    order: list[str] = []
    seen: set[str] = set()
    todo = sorted(set(roots.values()))
    while todo:
        name = todo.pop(0)
        if name in seen or name in SPECIAL:
            continue
        seen.add(name)
        order.append(name)
        for f in proto[name]:
            for t in (f.type.split(":")[1:] if f.type.startswith("map:") else [f.type]):
                if t not in SCALARS.values() and t not in seen:
                    todo.append(t)

    out = [HEADER]
    wrappers = []
    for name in sorted(order):
        pf = {f.num: f for f in proto[name]}
        if name in slices and [(f.num, f.name, f.repeated) for f in pf.values()] == [(1, "items", True)]:
            wrappers.append(name)
        gf = go.get(name)
        if gf is None and name not in wrappers:
            raise SystemExit(f"no Go struct for {name}")
        out.append(f"    # {source[name]}: message {name.rpartition('.')[2]}")
        if name in wrappers:
            out.append(f'    {name!r}: ((1, "items", {pf[1].type!r}, "r"),),')
            continue
        out.append(f"    {name!r}: (")
        gonums = {g.num for g in gf}
        missing = set(pf) - gonums
        if missing:
            raise SystemExit(f"{name}: proto fields without Go field: {missing}")
        for g in gf:
            f = pf[g.num]
            if g.json == "-" and "inline" not in g.opts:
                continue
            flags = ""
            if f.repeated:
                flags += "r"
            if g.gotype.startswith("*"):
                flags += "p"
            if "omitempty" in g.opts:
                flags += "o"
            if "omitzero" in g.opts:
                flags += "z"
            if "inline" in g.opts or (not g.json and "inline" not in g.opts and g.json != "-"):
                flags += "i"
            out.append(f"        ({f.num}, {g.json!r}, {f.type!r}, {flags!r}),")
        out.append("    ),")
    out.append("}")
    out.append("")
    out.append("# Messages whose Go type is a named slice ([]string): their JSON is the bare list.")
    out.append(f"LIST_WRAPPERS = frozenset({sorted(wrappers)!r})")
    out.append("")
    out.append("# (apiVersion, kind) of the top-level objects kubesim decodes -> message.")
    out.append("KINDS = {")
    for (av, k), m in sorted(roots.items()):
        out.append(f"    ({av!r}, {k!r}): {m!r},")
    out.append("}")
    print("\n".join(out))


HEADER = '''"""Protobuf message descriptions for the Kubernetes kinds kubesim decodes.

Generated by ``tools/gen_protobuf_messages.py`` from the ``generated.proto`` files
of k8s.io/api and k8s.io/apimachinery (field numbers, wire types) and the Go
struct tags of the same packages (JSON names and omission rules). Each message
maps to its fields in Go declaration order (the order Go's JSON encoder uses)::

    (field number, JSON name, type, flags)

type
    ``str``, ``bytes`` (base64 in JSON), ``bool``, ``i32``, ``i64``, ``u32``, ``u64``,
    ``f32``, ``f64``; another message's name; or ``map:K:V`` (protobuf map entries
    with key = 1, value = 2).
flags
    ``r`` repeated, ``p`` the Go field is a pointer (absent when nil), ``o``
    ``omitempty``, ``z`` ``omitzero``, ``i`` inlined into the parent JSON object
    (``json:",inline"``).

Messages with a custom JSON form (meta.v1.Time, MicroTime, Duration, FieldsV1,
resource.Quantity, intstr.IntOrString, runtime.RawExtension) are decoded by code
in ``protobuf.py`` and not listed.
"""

# fmt: off
MESSAGES: dict[str, tuple[tuple[int, str, str, str], ...]] = {'''

if __name__ == "__main__":
    main()

"""Pod and pod template validation (``pkg/apis/core/validation/validation.go``).

Covers ValidatePodSpec's common rules in upstream order: volumes, containers (name,
image, ports, env, mounts, pull policy, resources, probes), init containers,
restartPolicy, dnsPolicy, nodeSelector, serviceAccountName, nodeName,
activeDeadlineSeconds, hostname/subdomain, tolerations; ValidatePodUpdate's
"only these fields may change" rule with its upstream message.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ..defaults.quantity import QuantityError, canonical, value
from .common import (Errs, GoValue, Obj, annotations_errs, duplicate, forbidden, inclusive_range_error, invalid,
                     is_config_map_key, is_dns1123_label, is_dns1123_subdomain, is_env_var_name, is_label_value,
                     is_qualified_name, is_valid_port_name, is_valid_port_num, labels_errs, nonnegative,
                     not_supported, required)
from ..errors import FieldError

PROTOCOLS = ("SCTP", "TCP", "UDP")  # sets.List(supportedPortProtocols)
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_MAX_INT32 = 2147483647


def _dns_label(v: str, path: str) -> Errs:
    return [invalid(path, v, m) for m in is_dns1123_label(v)]


# validateVolumeSource's check order (the second source found is the one reported).
_SOURCE_ORDER = ("emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
                 "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
                 "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume",
                 "photonPersistentDisk", "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi",
                 "ephemeral", "image")


def _volume_source(vol: Obj, path: str) -> Errs:
    present = [k for k in _SOURCE_ORDER if k in vol and vol[k] is not None]
    if not present:
        return [required(path, "must specify a volume type")]
    errs: Errs = []
    if len(present) > 1:
        errs.append(forbidden(f"{path}.{present[1]}", "may not specify more than 1 volume type"))
        return errs
    kind = present[0]
    src = vol[kind] if isinstance(vol[kind], dict) else {}
    p = f"{path}.{kind}"
    if kind == "hostPath" and not src.get("path"):
        errs.append(required(p + ".path", ""))
    elif kind == "persistentVolumeClaim" and not src.get("claimName"):
        errs.append(required(p + ".claimName", ""))
    elif kind == "configMap":
        if not src.get("name"):
            errs.append(required(p + ".name", ""))
        errs += _key_to_paths(src.get("items"), p + ".items")
    elif kind == "secret":
        if not src.get("secretName"):
            errs.append(required(p + ".secretName", ""))
        errs += _key_to_paths(src.get("items"), p + ".items")
    elif kind == "nfs":
        if not src.get("server"):
            errs.append(required(p + ".server", ""))
        if not src.get("path"):
            errs.append(required(p + ".path", ""))
    elif kind == "csi" and not src.get("driver"):
        errs.append(required(p + ".driver", ""))
    return errs


def _key_to_paths(items: Any, path: str) -> Errs:
    errs: Errs = []
    for i, it in enumerate(items or []):
        if not isinstance(it, dict):
            continue
        if not it.get("key"):
            errs.append(required(f"{path}[{i}].key", ""))
        if not it.get("path"):
            errs.append(required(f"{path}[{i}].path", ""))
    return errs


def volumes(vols: Any, path: str) -> tuple[Errs, set[str]]:
    """ValidateVolumes: returns errors and the names of the volumes that validated."""
    errs: Errs = []
    names: set[str] = set()
    for i, vol in enumerate(vols or []):
        if not isinstance(vol, dict):
            continue
        p = f"{path}[{i}]"
        el = _volume_source(vol, p)
        name = vol.get("name") or ""
        if not name:
            el.append(required(p + ".name", ""))
        else:
            el += _dns_label(name, p + ".name")
        if name in names:
            el.append(duplicate(p + ".name", name))
        if el:
            errs += el
        else:
            names.add(name)
    return errs, names


def _ports(ports: Any, path: str) -> Errs:
    errs: Errs = []
    seen: set[str] = set()
    for i, port in enumerate(ports or []):
        if not isinstance(port, dict):
            continue
        p = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                errs += [invalid(p + ".name", name, m) for m in msgs]
            elif name in seen:
                errs.append(duplicate(p + ".name", name))
            else:
                seen.add(name)
        cp = port.get("containerPort") or 0
        if cp == 0:
            errs.append(required(p + ".containerPort", ""))
        else:
            errs += [invalid(p + ".containerPort", cp, m) for m in is_valid_port_num(cp)]
        hp = port.get("hostPort") or 0
        if hp:
            errs += [invalid(p + ".hostPort", hp, m) for m in is_valid_port_num(hp)]
        proto = port.get("protocol") or ""
        if not proto:
            errs.append(required(p + ".protocol", ""))
        elif proto not in PROTOCOLS:
            errs.append(not_supported(p + ".protocol", proto, PROTOCOLS))
    return errs


def _env(env: Any, path: str, relaxed: bool) -> Errs:
    errs: Errs = []
    for i, ev in enumerate(env or []):
        if not isinstance(ev, dict):
            continue
        p = f"{path}[{i}]"
        name = ev.get("name") or ""
        if not name:
            errs.append(required(p + ".name", ""))
        errs += [invalid(p + ".name", name, m) for m in is_env_var_name(name, relaxed)]
        vf = ev.get("valueFrom")
        if isinstance(vf, dict):
            n = sum(1 for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
                    if vf.get(k) is not None)
            if n == 0:
                errs.append(invalid(p + ".valueFrom", "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                                          "`configMapKeyRef` or `secretKeyRef`"))
            if ev.get("value"):
                errs.append(invalid(p + ".valueFrom", "",
                                    "may not be specified when `value` is not empty"))
            for ref in ("configMapKeyRef", "secretKeyRef"):
                r = vf.get(ref)
                if isinstance(r, dict):
                    key = r.get("key") or ""
                    if not key:
                        errs.append(required(f"{p}.valueFrom.{ref}.key", ""))
                    else:
                        errs += [invalid(f"{p}.valueFrom.{ref}.key", key, m) for m in is_config_map_key(key)]
    return errs


def _mounts(mounts: Any, vols: set[str], path: str) -> Errs:
    errs: Errs = []
    points: set[str] = set()
    for i, m in enumerate(mounts or []):
        if not isinstance(m, dict):
            continue
        p = f"{path}[{i}]"
        name = m.get("name") or ""
        if not name:
            errs.append(required(p + ".name", ""))
        if name not in vols:
            errs.append(FieldError("FieldValueNotFound", p + ".name", "", name))
        mp = m.get("mountPath") or ""
        if not mp:
            errs.append(required(p + ".mountPath", ""))
        if mp in points:
            errs.append(invalid(p + ".mountPath", mp, "must be unique"))
        points.add(mp)
    return errs


def _resource_name_errs(name: str, path: str) -> Errs:
    errs = [invalid(path, name, m) for m in is_qualified_name(name)]
    if errs:
        return errs
    if "/" not in name:
        if name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            return [invalid(path, name, "must be a standard resource for containers")]
    return []


def _overcommit(name: str) -> bool:
    native = "/" not in name or name.startswith("kubernetes.io/")
    return native and not name.startswith("hugepages-")


def resources(res: Any, path: str) -> Errs:
    """ValidateResourceRequirements: names, non-negative values, requests <= limits."""
    errs: Errs = []
    if not isinstance(res, dict):
        return errs
    limits = res.get("limits") if isinstance(res.get("limits"), dict) else {}
    requests = res.get("requests") if isinstance(res.get("requests"), dict) else {}
    lim_vals: dict[str, Any] = {}
    for name in sorted(limits):
        p = f"{path}.limits[{name}]"
        errs += _resource_name_errs(name, p)
        try:
            lim_vals[name] = value(limits[name])
            if lim_vals[name] < 0:
                errs.append(invalid(p, str(limits[name]), "must be greater than or equal to 0"))
        except (QuantityError, ValueError):
            errs.append(invalid(p, str(limits[name]), "quantities must match the regular expression "
                                                      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
    for name in sorted(requests):
        p = f"{path}.requests[{name}]"
        errs += _resource_name_errs(name, p)
        try:
            q = value(requests[name])
        except (QuantityError, ValueError):
            errs.append(invalid(p, str(requests[name]), "quantities must match the regular expression "
                                                        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
            continue
        if q < 0:
            errs.append(invalid(p, str(requests[name]), "must be greater than or equal to 0"))
        shown = _canon(requests[name])
        if name in lim_vals:
            lim = _canon(limits[name])
            if q != lim_vals[name] and not _overcommit(name):
                errs.append(invalid(path + ".requests", shown, f"must be equal to {name} limit of {lim}"))
            elif q > lim_vals[name]:
                errs.append(invalid(path + ".requests", shown,
                                    f"must be less than or equal to {name} limit of {lim}"))
        elif not _overcommit(name):
            errs.append(required(path + ".limits", "Limit must be set for non overcommitable resources"))
    return errs


def _canon(q: Any) -> str:
    try:
        return canonical(q)
    except (QuantityError, ValueError):
        return str(q)


def _handler(h: Any, path: str, kinds: tuple[str, ...]) -> Errs:
    if not isinstance(h, dict):
        return []
    present = [k for k in kinds if h.get(k) is not None]
    if not present:
        return [required(path, "must specify a handler type")]
    if len(present) > 1:
        return [forbidden(f"{path}.{present[1]}", "may not specify more than 1 handler type")]
    kind, errs = present[0], []
    src = h[kind] if isinstance(h[kind], dict) else {}
    p = f"{path}.{kind}"
    if kind == "exec" and not src.get("command"):
        errs.append(required(p + ".command", ""))
    elif kind in ("httpGet", "tcpSocket"):
        if kind == "httpGet":
            if not src.get("path"):
                errs.append(required(p + ".path", ""))
            sch = src.get("scheme") or ""
            if sch not in ("HTTP", "HTTPS"):
                errs.append(not_supported(p + ".scheme", sch, ("HTTP", "HTTPS")))
        port = src.get("port")
        if isinstance(port, str):
            errs += [invalid(p + ".port", port, m) for m in is_valid_port_name(port)]
        else:
            errs += [invalid(p + ".port", port, m) for m in is_valid_port_num(port)]
    elif kind == "grpc":
        errs += [invalid(p + ".port", src.get("port"), m) for m in is_valid_port_num(src.get("port"))]
    return errs


_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def _probe(pr: Any, path: str, must_be_one: bool) -> Errs:
    if not isinstance(pr, dict):
        return []
    errs = _handler(pr, path, _PROBE_HANDLERS)
    for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += nonnegative(pr.get(f), f"{path}.{f}")
    tg = pr.get("terminationGracePeriodSeconds")
    if tg is not None and tg <= 0:
        errs.append(invalid(path + ".terminationGracePeriodSeconds", tg, "must be greater than 0"))
    if must_be_one and pr.get("successThreshold") not in (None, 1):
        errs.append(invalid(path + ".successThreshold", pr.get("successThreshold"), "must be 1"))
    return errs


def _container_common(c: Obj, vols: set[str], path: str, relaxed_env: bool) -> Errs:
    errs: Errs = []
    name = c.get("name") or ""
    if not name:
        errs.append(required(path + ".name", ""))
    else:
        errs += _dns_label(name, path + ".name")
    if not c.get("image"):
        errs.append(required(path + ".image", ""))
    tmp = c.get("terminationMessagePolicy") or ""
    if not tmp:
        errs.append(required(path + ".terminationMessagePolicy", ""))
    elif tmp not in ("File", "FallbackToLogsOnError"):
        errs.append(not_supported(path + ".terminationMessagePolicy", tmp, ("File", "FallbackToLogsOnError")))
    errs += _ports(c.get("ports"), path + ".ports")
    errs += _env(c.get("env"), path + ".env", relaxed_env)
    errs += _mounts(c.get("volumeMounts"), vols, path + ".volumeMounts")
    pp = c.get("imagePullPolicy") or ""
    if not pp:
        errs.append(required(path + ".imagePullPolicy", ""))
    elif pp not in PULL_POLICIES:
        errs.append(not_supported(path + ".imagePullPolicy", pp, PULL_POLICIES))
    errs += resources(c.get("resources"), path + ".resources")
    return errs


def containers(ctrs: Any, vols: set[str], path: str, relaxed_env: bool) -> Errs:
    if not ctrs:
        return [required(path, "")]
    errs: Errs = []
    names: set[str] = set()
    for i, c in enumerate(ctrs):
        if not isinstance(c, dict):
            continue
        p = f"{path}[{i}]"
        errs += _container_common(c, vols, p, relaxed_env)
        name = c.get("name") or ""
        if name in names:
            errs.append(duplicate(p + ".name", name))
        else:
            names.add(name)
        lc = c.get("lifecycle")
        if isinstance(lc, dict):
            for hook in ("postStart", "preStop"):
                errs += _handler(lc.get(hook), f"{p}.lifecycle.{hook}", ("exec", "httpGet", "tcpSocket", "sleep"))
        errs += _probe(c.get("livenessProbe"), p + ".livenessProbe", True)
        errs += _probe(c.get("readinessProbe"), p + ".readinessProbe", False)
        errs += _probe(c.get("startupProbe"), p + ".startupProbe", True)
        if c.get("restartPolicy") is not None:
            errs.append(forbidden(p + ".restartPolicy", "may not be set for non-init containers"))
    return errs


def init_containers(ctrs: Any, regular: Any, vols: set[str], path: str, relaxed_env: bool) -> Errs:
    errs: Errs = []
    names = {c.get("name") for c in regular or [] if isinstance(c, dict)}
    for i, c in enumerate(ctrs or []):
        if not isinstance(c, dict):
            continue
        p = f"{path}[{i}]"
        errs += _container_common(c, vols, p, relaxed_env)
        name = c.get("name") or ""
        if name in names:
            errs.append(duplicate(p + ".name", name))
        else:
            names.add(name)
        rp = c.get("restartPolicy")
        sidecar = rp == "Always"
        if rp is not None and rp != "Always":
            errs.append(not_supported(p + ".restartPolicy", rp, ("Always",)))
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            if c.get(probe) is not None:
                if sidecar:
                    errs += _probe(c[probe], f"{p}.{probe}", probe != "readinessProbe")
                else:
                    errs.append(forbidden(f"{p}.{probe}", "may not be set for init containers without restartPolicy=Always"))
    return errs


def tolerations(tols: Any, path: str) -> Errs:
    errs: Errs = []
    for i, t in enumerate(tols or []):
        if not isinstance(t, dict):
            continue
        p = f"{path}[{i}]"
        key = t.get("key") or ""
        op = t.get("operator") or ""
        if key:
            errs += [invalid(p + ".key", key, m) for m in is_qualified_name(key)]
        if not key and op != "Exists":
            errs.append(invalid(p + ".operator", op, "operator must be Exists when `key` is empty, which means "
                                                     "\"match all values and all keys\""))
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            errs.append(invalid(p + ".effect", t.get("effect") or "",
                                "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            msgs = is_label_value(str(t.get("value") or ""))
            if msgs:
                errs.append(invalid(p + ".operator", t.get("value") or "", ";".join(msgs)))
        elif op == "Exists":
            if t.get("value"):
                errs.append(invalid(p + ".operator", GoValue("core.Toleration{...}"),
                                    "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(p + ".operator", op, ("Equal", "Exists")))
        eff = t.get("effect") or ""
        if eff and eff not in TAINT_EFFECTS:
            errs.append(not_supported(p + ".effect", eff, TAINT_EFFECTS))
    return errs


def pod_spec(spec: Any, path: str, k8s_version: tuple[int, int]) -> Errs:
    """ValidatePodSpec (the rules kubesim enforces, in upstream order)."""
    if not isinstance(spec, dict):
        return [required(path, "")]
    relaxed = k8s_version >= (1, 32)  # RelaxedEnvironmentVariableValidation beta (on) in 1.32
    errs, vols = volumes(spec.get("volumes"), path + ".volumes")
    errs += containers(spec.get("containers"), vols, path + ".containers", relaxed)
    errs += init_containers(spec.get("initContainers"), spec.get("containers"), vols, path + ".initContainers",
                            relaxed)
    rp = spec.get("restartPolicy") or ""
    if not rp:
        errs.append(required(path + ".restartPolicy", ""))
    elif rp not in RESTART_POLICIES:
        errs.append(not_supported(path + ".restartPolicy", rp, RESTART_POLICIES))
    dp = spec.get("dnsPolicy") or ""
    if not dp:
        errs.append(required(path + ".dnsPolicy", ""))
    elif dp not in DNS_POLICIES:
        errs.append(not_supported(path + ".dnsPolicy", dp, DNS_POLICIES))
    errs += labels_errs(spec.get("nodeSelector"), path + ".nodeSelector")
    san = spec.get("serviceAccountName") or ""
    if san:
        errs += [invalid(path + ".serviceAccountName", san, m) for m in is_dns1123_subdomain(san)]
    nn = spec.get("nodeName") or ""
    if nn:
        errs += [invalid(path + ".nodeName", nn, m) for m in is_dns1123_subdomain(nn)]
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and not (1 <= ads <= _MAX_INT32):
        errs.append(invalid(path + ".activeDeadlineSeconds", ads, inclusive_range_error(1, _MAX_INT32)))
    for f in ("hostname", "subdomain"):
        if spec.get(f):
            errs += _dns_label(spec[f], f"{path}.{f}")
    errs += tolerations(spec.get("tolerations"), path + ".tolerations")
    pp = spec.get("preemptionPolicy")
    if pp is not None and pp not in ("PreemptLowerPriority", "Never"):
        errs.append(not_supported(path + ".preemptionPolicy", pp, ("Never", "PreemptLowerPriority")))
    return errs


def pod_template(tmpl: Any, path: str, k8s_version: tuple[int, int]) -> Errs:
    """ValidatePodTemplateSpec: labels, annotations, spec."""
    if not isinstance(tmpl, dict):
        return [required(path, "")]
    meta = tmpl.get("metadata") or {}
    errs = labels_errs(meta.get("labels"), path + ".labels")
    errs += annotations_errs(meta.get("annotations"), path + ".annotations")
    errs += pod_spec(tmpl.get("spec"), path + ".spec", k8s_version)
    return errs


UPDATABLE_POD_FIELDS = ("`spec.containers[*].image`", "`spec.initContainers[*].image`",
                        "`spec.activeDeadlineSeconds`", "`spec.tolerations` (only additions to existing tolerations)",
                        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")


def _go_name(key: str) -> str:
    special = {"dnsPolicy": "DNSPolicy", "dnsConfig": "DNSConfig", "hostIPC": "HostIPC", "hostPID": "HostPID"}
    return special.get(key, key[:1].upper() + key[1:])


def spec_diff(old: Obj, new: Obj, type_name: str) -> str:
    """A cmp.Diff-shaped summary of changed top-level fields (upstream prints the full diff)."""
    lines = [f"  {type_name}{{"]
    for k in sorted(set(old) | set(new)):
        if old.get(k) != new.get(k):
            if k in old:
                lines.append(f"- \t{_go_name(k)}: {json.dumps(old[k], sort_keys=True)},")
            if k in new:
                lines.append(f"+ \t{_go_name(k)}: {json.dumps(new[k], sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def pod_update(new: Obj, old: Obj, k8s_version: tuple[int, int]) -> Errs:
    """ValidatePodUpdate's spec rule: only images, deadlines, toleration additions, gates removal."""
    nspec = new.get("spec") or {}
    ospec = old.get("spec") or {}
    munged = copy.deepcopy(nspec)
    errs: Errs = []
    for key in ("containers", "initContainers"):
        nc, oc = munged.get(key) or [], ospec.get(key) or []
        if len(nc) != len(oc):
            return [forbidden(f"spec.{key}", "pod updates may not add or remove containers")]
        for i, c in enumerate(nc):
            if isinstance(c, dict) and isinstance(oc[i], dict):
                img = c.get("image") or ""
                if not img:
                    errs.append(required(f"spec.{key}[{i}].image", ""))
                elif img.strip() != img:
                    errs.append(invalid(f"spec.{key}[{i}].image", img, "must not have leading or trailing whitespace"))
                if "image" in oc[i]:
                    c["image"] = oc[i]["image"]
    ads_new, ads_old = nspec.get("activeDeadlineSeconds"), ospec.get("activeDeadlineSeconds")
    if ads_new is not None:
        if not 0 <= ads_new <= _MAX_INT32:
            return errs + [invalid("spec.activeDeadlineSeconds", ads_new, inclusive_range_error(0, _MAX_INT32))]
        if ads_old is not None and ads_old < ads_new:
            return errs + [invalid("spec.activeDeadlineSeconds", ads_new, "must be less than or equal to previous value")]
    elif ads_old is not None:
        errs.append(invalid("spec.activeDeadlineSeconds", GoValue('"null"'),
                            "must not update from a positive integer to nil value"))
    if "activeDeadlineSeconds" in ospec:
        munged["activeDeadlineSeconds"] = ospec["activeDeadlineSeconds"]
    else:
        munged.pop("activeDeadlineSeconds", None)
    # Tolerations: existing ones must be kept (NoExecute seconds may only shrink); additions are fine.
    otols = ospec.get("tolerations") or []
    ntols = nspec.get("tolerations") or []
    if all(_tol_kept(t, ntols) for t in otols):
        if "tolerations" in ospec:
            munged["tolerations"] = ospec["tolerations"]
        else:
            munged.pop("tolerations", None)
    og, ng = ospec.get("terminationGracePeriodSeconds"), munged.get("terminationGracePeriodSeconds")
    if og is not None and og < 0 and ng == 1:
        munged["terminationGracePeriodSeconds"] = og
    # Scheduling gates may only be removed.
    ogates = ospec.get("schedulingGates") or []
    ngates = nspec.get("schedulingGates") or []
    if all(g in ogates for g in ngates):
        if "schedulingGates" in ospec:
            munged["schedulingGates"] = ospec["schedulingGates"]
        else:
            munged.pop("schedulingGates", None)
    if ogates:  # gated pods may gain node selectors / affinity (checked loosely here)
        for k in ("nodeSelector", "affinity"):
            if k in ospec:
                munged[k] = ospec[k]
            else:
                munged.pop(k, None)
    if munged != ospec:
        errs.append(forbidden("spec", "pod updates may not change fields other than " + ",".join(UPDATABLE_POD_FIELDS)
                              + "\n" + spec_diff(ospec, munged, "core.PodSpec")))
    return errs


def _tol_kept(old: Any, new_list: list) -> bool:
    for t in new_list:
        if not isinstance(t, dict) or not isinstance(old, dict):
            continue
        a = {k: v for k, v in old.items() if k != "tolerationSeconds"}
        b = {k: v for k, v in t.items() if k != "tolerationSeconds"}
        if a != b:
            continue
        os_, ns_ = old.get("tolerationSeconds"), t.get("tolerationSeconds")
        if os_ == ns_ or (os_ is not None and ns_ is not None and ns_ <= os_ and old.get("effect") == "NoExecute"):
            return True
    return False

"""Pod volumes on disk, as the kubelet's volume plugins set them up.

``setup_volumes(ctx, pod, pod_dir)`` returns ``{volume name: (host path,
read_only)}``; it raises :class:`~kubesim.runtime.VolumeError` (reason
``FailedMount``) with the kubelet's wording when a volume cannot be set up
yet, and the kubelet keeps the pod in ContainerCreating and retries.

- emptyDir: ``<pod dir>/volumes/<name>`` (survives container restarts, not the pod).
- configMap / secret / downwardAPI / projected: files materialized from the API
  objects (``items`` with ``key``/``path``/``mode``, ``defaultMode``,
  ``optional``), rewritten on every setup so an update reaches the pod. They
  are read-only in the container, as upstream mounts them.
- persistentVolumeClaim (and generic ``ephemeral`` volumes, whose claim is
  ``<pod>-<volume>``): the claim must be Bound; the data is the PV's directory
  (``kubesim.storage.volume_dir``), created if missing.
- hostPath: ``kubesim.storage.host_path`` inside the cluster's sandbox tree.

Messages: kubelet ``pkg/volume/configmap/configmap.go`` and ``secret/secret.go``
(``SetUpAt`` -> ``MountVolume.SetUp failed for volume "<v>" : configmap "<n>" not
found``) and ``pkg/kubelet/volumemanager/populator`` (unbound claims).
"""

from __future__ import annotations

import base64
import os
import shutil
from typing import Any

from .. import storage
from . import VolumeError

DEFAULT_MODE = 0o644


def _get(api: Any, key: str, ns: str, name: str) -> dict[str, Any] | None:
    entry = api.store.get(key, ns, name)
    return None if entry is None else entry.obj()


def setup_volumes(ctx: Any, pod: dict[str, Any], pod_dir: str) -> dict[str, tuple[str, bool]]:
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace", "default")
    out: dict[str, tuple[str, bool]] = {}
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = vol.get("name", "")
        out[name] = _setup_one(ctx, pod, ns, vol, os.path.join(pod_dir, "volumes", storage._safe(name)))
    return out


def _setup_one(ctx: Any, pod: dict[str, Any], ns: str, vol: dict[str, Any], local: str) -> tuple[str, bool]:
    name = vol.get("name", "")
    if "persistentVolumeClaim" in vol or "ephemeral" in vol:
        if "ephemeral" in vol:
            claim = f"{(pod.get('metadata') or {}).get('name', '')}-{name}"
            read_only = False
        else:
            claim = (vol["persistentVolumeClaim"] or {}).get("claimName", "")
            read_only = bool((vol["persistentVolumeClaim"] or {}).get("readOnly"))
        return _pvc_dir(ctx, ns, name, claim, (pod.get("spec") or {}).get("nodeName", "")), read_only
    if "hostPath" in vol:
        hp = vol.get("hostPath") or {}
        path = storage.host_path(ctx.state_root, hp.get("path", "/"))
        kind = hp.get("type") or ""
        if kind in ("File", "FileOrCreate", "Socket", "CharDevice", "BlockDevice"):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if not os.path.exists(path):
                if kind != "FileOrCreate":
                    raise VolumeError("FailedMount", f'MountVolume.SetUp failed for volume "{name}" : '
                                                     f'hostPath type check failed: {hp.get("path")} is not a file')
                open(path, "ab").close()
        else:
            if not os.path.exists(path) and kind == "Directory":
                raise VolumeError("FailedMount", f'MountVolume.SetUp failed for volume "{name}" : '
                                                 f'hostPath type check failed: {hp.get("path")} is not a directory')
            os.makedirs(path, exist_ok=True)
        return path, False
    if "configMap" in vol or "secret" in vol or "downwardAPI" in vol or "projected" in vol:
        files = _projected_files(ctx, pod, ns, vol)
        _write_files(local, files)
        return local, True
    # emptyDir and every source kubesim has no special model for (nfs, csi inline ...): a directory.
    os.makedirs(local, exist_ok=True)
    return local, False


def _pvc_dir(ctx: Any, ns: str, vol_name: str, claim: str, node: str) -> str:
    api = ctx.api
    pvc = _get(api, "persistentvolumeclaims", ns, claim)
    if pvc is None:
        raise VolumeError("FailedMount", f"Unable to attach or mount volumes: unmounted volumes=[{vol_name}], "
                                         f"unattached volumes=[], failed to process volumes=[{vol_name}]: "
                                         f'persistentvolumeclaim "{claim}" not found')
    phase = (pvc.get("status") or {}).get("phase") or "Pending"
    pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
    if phase != "Bound" or not pv_name:
        raise VolumeError("FailedMount", f"Unable to attach or mount volumes: unmounted volumes=[{vol_name}], "
                                         f"unattached volumes=[], failed to process volumes=[{vol_name}]: "
                                         f"error processing PVC {ns}/{claim}: PVC {ns}/{claim} has non-bound phase "
                                         f'("{phase}") or empty pvc.Spec.VolumeName ("{pv_name}")')
    pv = _get(api, "persistentvolumes", "", pv_name)
    if pv is None:
        raise VolumeError("FailedMount", f"Unable to attach or mount volumes: unmounted volumes=[{vol_name}], "
                                         f"unattached volumes=[], failed to process volumes=[{vol_name}]: "
                                         f'persistentvolume "{pv_name}" not found')
    # The attach/detach controller must have attached an EBS volume to this node first (a RWO
    # volume still attached elsewhere is the Multi-Attach case): kubelet's volume manager waits.
    from ..controllers.attachdetach import volume_attached

    if node and not volume_attached(api, pv, node):
        raise VolumeError("FailedMount", f"Unable to attach or mount volumes: unmounted volumes=[{vol_name}], "
                                         f"unattached volumes=[{vol_name}], failed to process volumes=[]: "
                                         "timed out waiting for the condition")
    path = storage.volume_dir(ctx.state_root, pv)
    os.makedirs(path, exist_ok=True)
    return path


# -- configMap, secret, downwardAPI, projected ---------------------------------------------
def _projected_files(ctx: Any, pod: dict[str, Any], ns: str, vol: dict[str, Any]) -> dict[str, tuple[bytes, int]]:
    name = vol.get("name", "")
    if "configMap" in vol:
        src = vol["configMap"] or {}
        return _object_files(ctx, ns, name, "configmap", src.get("name", ""), src, src.get("defaultMode"))
    if "secret" in vol:
        src = vol["secret"] or {}
        return _object_files(ctx, ns, name, "secret", src.get("secretName", ""), src, src.get("defaultMode"))
    if "downwardAPI" in vol:
        src = vol["downwardAPI"] or {}
        return _downward_files(pod, src.get("items") or [], src.get("defaultMode"))
    src = vol.get("projected") or {}
    default_mode = src.get("defaultMode")
    files: dict[str, tuple[bytes, int]] = {}
    for source in src.get("sources") or []:
        if "configMap" in source:
            s = source["configMap"] or {}
            files.update(_object_files(ctx, ns, name, "configmap", s.get("name", ""), s, default_mode))
        elif "secret" in source:
            s = source["secret"] or {}
            files.update(_object_files(ctx, ns, name, "secret", s.get("name", ""), s, default_mode))
        elif "downwardAPI" in source:
            files.update(_downward_files(pod, (source["downwardAPI"] or {}).get("items") or [], default_mode))
        elif "serviceAccountToken" in source:
            s = source["serviceAccountToken"] or {}
            issue = ctx.extra.get("issue_token") if hasattr(ctx, "extra") else None
            token = ""
            if callable(issue):
                try:
                    token = issue(pod, s.get("audience"), s.get("expirationSeconds") or 3600)
                except Exception:
                    token = ""
            files[s.get("path", "token")] = (token.encode(), default_mode or DEFAULT_MODE)
        elif "clusterTrustBundle" in source:
            s = source["clusterTrustBundle"] or {}
            files[s.get("path", "ca.crt")] = (getattr(ctx, "ca_pem", "").encode(), default_mode or DEFAULT_MODE)
    return files


def _object_files(ctx: Any, ns: str, vol_name: str, kind: str, obj_name: str, src: dict[str, Any],
                  default_mode: int | None) -> dict[str, tuple[bytes, int]]:
    key = "configmaps" if kind == "configmap" else "secrets"
    obj = _get(ctx.api, key, ns, obj_name)
    optional = bool(src.get("optional"))
    mode = default_mode if default_mode is not None else DEFAULT_MODE
    if obj is None:
        if optional:
            return {}
        raise VolumeError("FailedMount", f'MountVolume.SetUp failed for volume "{vol_name}" : '
                                         f'{kind} "{obj_name}" not found')
    data: dict[str, bytes] = {}
    if kind == "configmap":
        for k, v in (obj.get("data") or {}).items():
            data[k] = str(v).encode()
        for k, v in (obj.get("binaryData") or {}).items():
            data[k] = base64.b64decode(v)
    else:
        for k, v in (obj.get("data") or {}).items():
            data[k] = base64.b64decode(v)
        for k, v in (obj.get("stringData") or {}).items():
            data[k] = str(v).encode()
    items = src.get("items")
    if not items:
        return {k: (v, mode) for k, v in data.items()}
    out = {}
    for it in items:
        k = it.get("key", "")
        if k not in data:
            if optional:
                continue
            what = "configmap" if kind == "configmap" else "secret"
            raise VolumeError("FailedMount", f'MountVolume.SetUp failed for volume "{vol_name}" : '
                                             f"{what} references non-existent config key: {k}")
        out[it.get("path") or k] = (data[k], it.get("mode") if it.get("mode") is not None else mode)
    return out


def _downward_files(pod: dict[str, Any], items: list[dict[str, Any]],
                    default_mode: int | None) -> dict[str, tuple[bytes, int]]:
    from .env import field_value, resource_value

    out = {}
    mode = default_mode if default_mode is not None else DEFAULT_MODE
    for it in items:
        path = it.get("path", "")
        if it.get("fieldRef"):
            text = field_value(pod, (it["fieldRef"] or {}).get("fieldPath", ""), volume=True)
        elif it.get("resourceFieldRef"):
            text = resource_value(pod, it["resourceFieldRef"] or {})
        else:
            continue
        out[path] = (text.encode(), it.get("mode") if it.get("mode") is not None else mode)
    return out


def _write_files(directory: str, files: dict[str, tuple[bytes, int]]) -> None:
    """Replace the directory's content with ``files`` (relative paths; ``..`` is dropped)."""
    os.makedirs(directory, exist_ok=True)
    wanted = set()
    for rel, (data, mode) in files.items():
        parts = [p for p in rel.split("/") if p and p not in (".", "..")]
        if not parts:
            continue
        wanted.add(parts[0])
        path = os.path.join(directory, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".kubesim-tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.chmod(tmp, (mode if mode is not None else DEFAULT_MODE) & 0o777 | 0o400)
        os.replace(tmp, path)
    for name in os.listdir(directory):
        if name not in wanted:
            p = os.path.join(directory, name)
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.remove(p)

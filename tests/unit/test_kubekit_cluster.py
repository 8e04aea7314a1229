"""kubekit.cluster: kubeconfig resolution, the zone table, and a live sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubekit import cluster


def write_kubeconfig(path: Path, *contexts: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
        "clusters": [{"name": c, "cluster": {"server": "https://127.0.0.1:1"}} for c in contexts],
        "users": [{"name": c, "user": {"token": "t"}} for c in contexts],
        "contexts": [{"name": c, "context": {"cluster": c, "user": c}} for c in contexts],
    }))  # fmt: skip
    return path


def test_kubeconfig_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write_kubeconfig(tmp_path / "explicit", "a")
    env = write_kubeconfig(tmp_path / "env", "b")
    sandbox_home = tmp_path / "home"
    sandbox_cfg = write_kubeconfig(sandbox_home / "kubeconfig", "sandbox")
    monkeypatch.setenv("KUBEKIT_HOME", str(sandbox_home))

    monkeypatch.setenv("KUBECONFIG", f"{env}:{explicit}")
    assert cluster.resolve_kubeconfig(explicit) == explicit
    assert cluster.resolve_kubeconfig() == env
    monkeypatch.delenv("KUBECONFIG")
    assert cluster.resolve_kubeconfig() == sandbox_cfg

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(cluster.KubeconfigError, match="kubekit sandbox up"):
        cluster.resolve_kubeconfig()


def test_an_unknown_context_is_named_with_the_ones_that_exist(tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "kubeconfig", "sandbox", "prod")
    with pytest.raises(cluster.KubeconfigError, match=r"context 'nope' not in .* \(it has: prod, sandbox\)"):
        cluster.connect(context="nope", kubeconfig=path)
    assert cluster.connect(kubeconfig=path).context == "sandbox"  # the current context


def test_zone_table_is_sorted_and_plain() -> None:
    table = cluster.ZoneTable((
        cluster.ZoneRow("us-east-1a", ("n1", "n2")),
        cluster.ZoneRow("us-east-1b", ("n3",)),
        cluster.ZoneRow(cluster.NO_ZONE, ("n4",)),
    ))  # fmt: skip
    assert table.zones == ["us-east-1a", "us-east-1b"]
    assert (table.total, table.count("us-east-1a"), table.count("elsewhere")) == (4, 2, 0)
    assert str(table) == "ZONE        NODES\nus-east-1a  2\nus-east-1b  1\n<none>      1"


def test_the_bundled_kubectl_is_used() -> None:
    assert Path(cluster.kubectl_path()).name == "kubectl"
    assert cluster.kubectl_version().startswith("v1.")


def test_nodes_by_zone_against_the_sandbox(sandbox_env) -> None:
    kc = cluster.connect("sandbox")
    table = kc.nodes_by_zone()
    assert table.zones == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert all(table.count(zone) == 2 for zone in table.zones)
    names = kc.kubectl("get", "nodes", "-o", "name").split()
    assert len(names) == table.total == 6
    assert kc.server_version().startswith("v1.")

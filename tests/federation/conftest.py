"""A federation world for tests: a host and three single-zone member clusters (kubesim, profile fast).

The clusters are real API servers on 127.0.0.1 reached through one kubeconfig, exactly as the
sandbox's ``--clusters 3`` world is; kubekit itself only ever sees contexts. Losing a member is
what ``kubekit.sandbox.set_reachable`` does: its API server stops answering (``server.available``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubesim.testing import running_cluster

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fedhelpers import FAST, ZONES, World  # noqa: E402

from kubekit.federation import Federation, install_crds, register_member  # noqa: E402


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    work = tmp_path_factory.mktemp("federation")
    kubeconfig = str(work / "kubeconfig")
    w = World(kubeconfig, str(work))
    with contextlib.ExitStack() as stack:
        host = stack.enter_context(running_cluster(str(work / "host"), name="host", zones=["us-east-1a"],
                                                   profile="fast"))
        host.write_kubeconfig(kubeconfig, "host")
        w.clusters["host"] = host
        for zone in ZONES:
            name = f"member-{zone}"
            c = stack.enter_context(running_cluster(str(work / name), name=name, zones=[zone], nodes_per_zone=2,
                                                    profile="fast"))
            c.write_kubeconfig(kubeconfig, name)
            w.clusters[name] = c
        install_crds("host", kubeconfig)
        for name in w.members:
            register_member("host", name, kubeconfig=kubeconfig, health_check=FAST)
        yield w


@pytest.fixture
def fed(world: World) -> Iterator[Federation]:
    f = world.controller().start()
    try:
        yield f
    finally:
        f.stop()
        for name in world.members:
            world.set_reachable(name, True)



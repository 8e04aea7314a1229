"""kubesim fixtures (see kubesim.pytest_plugin)."""

from kubesim.pytest_plugin import client, cluster, kubectl, namespace  # noqa: F401

"""kubekit: Jupyter runbooks and training kit for stateful workloads on Kubernetes.

Notebooks import the public modules directly (``kubekit.cluster``,
``kubekit.runbook``, ``kubekit.sandbox``); this package file stays light so a
notebook's first import is fast.
"""

__version__ = "0.1.0"

from kubekit._deferred import defer_rfc3987_syntax as _defer

_defer()

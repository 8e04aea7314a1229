"""A file per stack listing every resource kubekit created, outside the kernel.

Written after each creation and deletion (atomically), so a teardown works even
when the kernel that ran ``apply`` died halfway. Lives under
``$KUBEKIT_HOME/inventory/<target>/<region>/<stack>.json``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .target import Target, kubekit_home


def _target_key(target: Target) -> str:
    if target.is_sandbox:
        return "sandbox"
    return "aws-" + (target.profile or "default")


def path_for(target: Target, region: str, stack: str) -> Path:
    home = kubekit_home(target.home)
    return home / "inventory" / _target_key(target) / region / f"{stack}.json"


@dataclass
class Inventory:
    path: Path
    stack: str
    region: str
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, target: Target, region: str, stack: str) -> "Inventory":
        path = path_for(target, region, stack)
        inv = cls(path, stack, region)
        if path.exists():
            data = json.loads(path.read_text())
            inv.resources = dict(data.get("resources") or {})
        return inv

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"stack": self.stack, "region": self.region, "updated": time.time(),
                                   "resources": self.resources}, indent=2, sort_keys=True))
        os.replace(tmp, self.path)

    def record(self, logical: str, kind: str, ident: str, **extra: Any) -> None:
        self.resources[logical] = {"kind": kind, "id": ident, **extra}
        self.save()

    def forget(self, logical: str) -> None:
        if self.resources.pop(logical, None) is not None:
            self.save()

    def get(self, logical: str) -> str | None:
        entry = self.resources.get(logical)
        return entry["id"] if entry else None

    def remove_file_if_empty(self) -> None:
        if not self.resources and self.path.exists():
            self.path.unlink()

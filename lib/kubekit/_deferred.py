"""A deferred import that keeps ``import kubernetes`` fast.

``kubernetes`` imports its dynamic client, which imports kubernetes-validate, which
imports jsonschema, whose format checkers import rfc3987-syntax when it is installed
(JupyterLab's jupyter-events installs it). That package compiles an Earley grammar
for IRIs at import: about 0.9 s of every kubekit process's start (a CLI command, a
notebook kernel, a runbook), for the ``iri`` format check nothing in kubekit makes.

The stand-in put in ``sys.modules`` has the one name jsonschema imports from it,
``is_valid_syntax``, and loads the real package into itself the first time anything
of it is used, so the check behaves exactly as before when somebody makes it.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import Any

NAME = "rfc3987_syntax"


def defer_rfc3987_syntax() -> None:
    if NAME in sys.modules:
        return
    spec = importlib.util.find_spec(NAME)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader
    state = {"loaded": False}

    def load() -> ModuleType:
        if not state["loaded"]:
            state["loaded"] = True
            loader.exec_module(module)  # replaces is_valid_syntax below with the real one
        return module

    def is_valid_syntax(term: str, value: str) -> bool:
        return bool(load().is_valid_syntax(term, value))

    def __getattr__(name: str) -> Any:  # PEP 562: any other name loads the package
        if state["loaded"] or name.startswith("__"):
            raise AttributeError(f"module {NAME!r} has no attribute {name!r}")
        return getattr(load(), name)

    module.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[NAME] = module

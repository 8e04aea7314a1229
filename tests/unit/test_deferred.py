"""kubekit defers rfc3987-syntax's grammar until an IRI is checked, and the check still works."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import kubekit, kubernetes.client, jsonschema
print("lark loaded after import:", "lark" in sys.modules)
v = jsonschema.Draft7Validator({"format": "iri"}, format_checker=jsonschema.FormatChecker())
print("bad:", len(list(v.iter_errors("http://ex ample.com/"))), "good:", len(list(v.iter_errors("http://b\\u00fccher.example/"))))
print("lark loaded after check:", "lark" in sys.modules)
import rfc3987_syntax
print("real:", rfc3987_syntax.is_valid_syntax.__module__, rfc3987_syntax.is_valid_syntax("iri", "urn:x"))
"""


def test_import_kubernetes_does_not_compile_the_iri_grammar_but_the_iri_check_works() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["lark loaded after import: False", "bad: 1 good: 0",
                                "lark loaded after check: True", "real: rfc3987_syntax.syntax_helpers True"]

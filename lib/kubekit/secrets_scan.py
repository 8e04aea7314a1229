"""Find and redact credentials, tokens and AWS account ids in what kubekit writes for others to read.

Run records (``runs/…``: ``result.json``, the executed notebook, its HTML), the
documentation site (``site/``) and committed notebooks are published; none of them
may carry a credential, a token or an account id, whether the sandbox's (moto's
``123456789012``) or a real one. Detectors (``DETECTORS``, kind -> pattern):

- ``aws-access-key-id``   ``AKIA…`` / ``ASIA…`` (20 characters)
- ``aws-secret-key``      a 40-character secret after ``aws_secret_access_key``/``SecretAccessKey``
- ``eks-token``           ``k8s-aws-v1.…`` (a presigned STS URL, base64url)
- ``jwt``                 ``eyJ….eyJ….…``: service-account and OIDC tokens
- ``bearer-token``        ``Authorization: Bearer …``
- ``private-key``         ``-----BEGIN … PRIVATE KEY-----`` blocks
- ``kubeconfig-secret``   ``client-key-data``/``token``/``password`` fields of a kubeconfig (YAML or JSON)
- ``aws-account-id``      a 12-digit number standing alone (ARNs, ``Account`` fields, moto's default)

Matching is on word boundaries (a 12-digit run inside a hex id or a longer number is
not an account id). Redaction replaces the secret part with ``<redacted:KIND>``;
notebooks and JSON files are redacted value by value (lines of a multi-line string
together), so they stay valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# kind -> pattern; the group named "s" (or the whole match) is the secret part.
DETECTORS: dict[str, re.Pattern[str]] = {
    "private-key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?s:.*?)-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----"
                              r"|-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "aws-access-key-id": re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])"),
    "aws-secret-key": re.compile(r"(?i)(?:aws_secret_access_key|secret_?access_?key|aws_secret)[\"']?\s*[:=]\s*[\"']?"
                                 r"(?P<s>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"),
    "eks-token": re.compile(r"k8s-aws-v1\.[A-Za-z0-9_=-]{8,}"),
    "jwt": re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    "bearer-token": re.compile(r"(?i)\bbearer\s+(?P<s>[A-Za-z0-9._~+/-]{12,}=*)"),
    "kubeconfig-secret": re.compile(r"(?m)(?<![A-Za-z0-9_-])[\"']?(?:client-key-data|token|password)[\"']?\s*:\s*[\"']?"
                                    r"(?P<s>[A-Za-z0-9._~+/=-]{8,})(?![A-Za-z0-9._~+/=(\[-])"),
    "aws-account-id": re.compile(r"(?<![A-Za-z0-9.+-])(?P<s>\d{12})(?![A-Za-z0-9]|\.\d)"),
}


@dataclass(frozen=True)
class Finding:
    """One secret found: what kind, where (file and notebook cell when known), and a masked excerpt."""

    kind: str
    where: str
    excerpt: str  # the secret masked to its first 4 characters

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}: {self.excerpt}"


def _span(m: re.Match[str]) -> tuple[int, int]:
    return m.span("s") if "s" in m.re.groupindex else m.span()


def scan_text(text: str, where: str = "") -> list[Finding]:
    """Every secret in ``text``."""
    found = []
    for kind, pattern in DETECTORS.items():
        for m in pattern.finditer(text):
            a, b = _span(m)
            secret = text[a:b]
            found.append(Finding(kind, where, secret[:4] + "…" if len(secret) > 4 else "…"))
    return found


def redact_text(text: str) -> tuple[str, int]:
    """``text`` with every secret replaced by ``<redacted:KIND>``, and how many were replaced."""
    count = 0
    for kind, pattern in DETECTORS.items():
        def sub(m: re.Match[str], kind: str = kind) -> str:
            nonlocal count
            count += 1
            a, b = _span(m)
            s, e = m.span()
            return m.string[s:a] + f"<redacted:{kind}>" + m.string[b:e]

        text = pattern.sub(sub, text)
    return text, count


def redact_data(value: Any) -> tuple[Any, int]:
    """A JSON-like value with every string redacted; a list of strings is redacted as one text (its lines)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            joined, n = redact_text("".join(value))
            if not n:
                return value, 0
            return joined.splitlines(keepends=True), n
        total = 0
        out = []
        for v in value:
            r, n = redact_data(v)
            out.append(r)
            total += n
        return out, total
    if isinstance(value, dict):
        total = 0
        res = {}
        for k, v in value.items():
            res[k], n = redact_data(v)
            total += n
        return res, total
    return value, 0


def scan_notebook(path: str | Path) -> list[Finding]:
    """Secrets in a notebook, each located by cell (source, outputs, attachments) or the notebook's metadata."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    found = []
    for i, cell in enumerate(data.get("cells") or []):
        found += scan_text(json.dumps(_joined(cell)), f"{path} cell {i}")
    meta = json.dumps(_joined(data.get("metadata") or {}))
    found += scan_text(meta, f"{path} metadata")
    return found


def _joined(value: Any) -> Any:
    """Lists of lines joined back into strings, so a secret split over lines is seen whole."""
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            return "".join(value)
        return [_joined(v) for v in value]
    if isinstance(value, dict):
        return {k: _joined(v) for k, v in value.items()}
    return value


def scan_path(path: str | Path) -> list[Finding]:
    """Secrets in a file or in every file under a directory (notebooks by cell, the rest as text)."""
    p = Path(path)
    files: Iterable[Path] = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    found = []
    for f in files:
        if f.suffix == ".ipynb":
            found += scan_notebook(f)
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary (images): outputs are text or base64 PNGs, which these patterns do not target
        if f.suffix == ".json":  # JSON escapes newlines: scan the values (a PEM block whole)
            try:
                text = json.dumps(_joined(json.loads(text)), indent=1)
            except ValueError:
                pass
        found += scan_text(text, str(f))
    return found


def redact_file(path: str | Path) -> int:
    """Redact a file in place (JSON and notebooks value by value, other text as a whole); returns how many."""
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    if p.suffix in (".ipynb", ".json"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if data is not None:
            redacted, n = redact_data(data)
            if n:
                indent = 1 if p.suffix == ".ipynb" else 2
                p.write_text(json.dumps(redacted, indent=indent, ensure_ascii=False) + "\n", encoding="utf-8")
            return n
    redacted_text, n = redact_text(text)
    if n:
        p.write_text(redacted_text, encoding="utf-8")
    return n

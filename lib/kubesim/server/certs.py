"""A per-cluster CA and serving certificate, so clients verify TLS instead of skipping it.

An ``insecure-skip-tls-verify`` kubeconfig would make urllib3 print
InsecureRequestWarning into every notebook output (feasibility.md §3), and
kubectl only sends the bearer token over TLS (§4), so kubesim always serves
HTTPS with a CA the kubeconfig carries.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Credentials:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    token: str


def _key() -> ec.EllipticCurvePrivateKey:
    # P-256: fast to generate (milliseconds, unlike RSA), accepted by Go's TLS and OpenSSL.
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def generate(cluster_name: str = "kubesim") -> Credentials:
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{cluster_name}-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = _key()
    sans = [
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes"),
        x509.DNSName("kubernetes.default"),
        x509.DNSName("kubernetes.default.svc"),
        x509.DNSName("kubernetes.default.svc.cluster.local"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Credentials(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=_pem_key(key),
        token=secrets.token_urlsafe(32),
    )


def load_or_create(state_dir: str | None, cluster_name: str = "kubesim") -> Credentials:
    """Keep credentials with the cluster state so a restarted cluster keeps its kubeconfig valid."""
    if not state_dir:
        return generate(cluster_name)
    d = os.path.join(state_dir, "pki")
    paths = {n: os.path.join(d, n) for n in ("ca.crt", "apiserver.crt", "apiserver.key", "token")}
    if all(os.path.exists(p) for p in paths.values()):
        with open(paths["ca.crt"], "rb") as f1, open(paths["apiserver.crt"], "rb") as f2, \
                open(paths["apiserver.key"], "rb") as f3, open(paths["token"]) as f4:
            return Credentials(f1.read(), f2.read(), f3.read(), f4.read().strip())
    creds = generate(cluster_name)
    os.makedirs(d, mode=0o700, exist_ok=True)
    for name, data in (("ca.crt", creds.ca_pem), ("apiserver.crt", creds.cert_pem),
                       ("apiserver.key", creds.key_pem), ("token", creds.token.encode())):
        fd = os.open(paths[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return creds

"""`hazwatch serve` over HTTPS with the certificate and key named in settings; answers carry HSTS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = pytest.mark.slow


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_serve_over_tls(tmp_path):
    cert, key = self_signed(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hazwatch = shutil.which("hazwatch", path=str(Path(sys.executable).parent)) or "hazwatch"
    env = {**os.environ, "HAZWATCH_DATA_DIR": str(tmp_path / "data"), "HAZWATCH_ADMIN_TOKEN": "tls-token",
           "HAZWATCH_TLS_CERTFILE": str(cert), "HAZWATCH_TLS_KEYFILE": str(key)}
    env.pop("HAZWATCH_DATABASE_URL", None)
    server = subprocess.Popen([hazwatch, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        with httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as c:
            for _ in range(100):
                try:
                    r = c.get(f"https://127.0.0.1:{port}/api/v1/auth/me",
                              headers={"Authorization": "Bearer tls-token"})
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert r.status_code == 200 and r.json()["name"] == "admin"
            assert r.headers["strict-transport-security"].startswith("max-age=")
        with pytest.raises(httpx.TransportError):  # plain HTTP is not served on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        server.terminate()
        server.wait(10)

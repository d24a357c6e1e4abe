"""TLS towards the broker: a CA to trust, a client certificate for mutual TLS, all checked early."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import ValidationFailed


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsFiles:
    """PEM files for a TLS connection; all optional (no CA = the system's trust store)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    # Skip the host name check only; the certificate chain is still verified.
    insecure: bool = False

    @property
    def configured(self) -> bool:
        return any((self.ca_file, self.cert_file, self.key_file, self.insecure))


def client_context(files: TlsFiles) -> ssl.SSLContext:
    """An SSL context for an MQTT client; ValidationFailed names the file and what is wrong."""
    if files.key_file is not None and files.cert_file is None:
        raise ValidationFailed("MQTT TLS: a client key file needs its certificate file too")
    for label, path in (
        ("CA file", files.ca_file),
        ("client certificate", files.cert_file),
        ("client key", files.key_file),
    ):
        if path is not None:
            _readable(label, path)
    try:
        context = ssl.create_default_context(
            cafile=str(files.ca_file) if files.ca_file is not None else None
        )
    except ssl.SSLError as err:
        raise ValidationFailed(f"MQTT TLS CA file {files.ca_file}: not a PEM CA ({err})") from err
    if files.cert_file is not None:
        try:
            context.load_cert_chain(
                files.cert_file, files.key_file if files.key_file is not None else None
            )
        except ssl.SSLError as err:
            raise ValidationFailed(
                f"MQTT TLS client certificate {files.cert_file} / key "
                f"{files.key_file or '(in the same file)'}: cannot be loaded ({err})"
            ) from err
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if files.insecure:
        context.check_hostname = False
    return context


def _readable(label: str, path: Path) -> None:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as err:
        raise ValidationFailed(f"MQTT TLS {label} {path}: {err.strerror or err}") from err

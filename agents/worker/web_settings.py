"""Where a worker's HTTP API is reached (advertised URL) and how it is encrypted (TLS).

Faust routes ``/customers/{id}`` to the owner worker's *canonical URL*, which every worker
publishes to the group. It must be an address other workers can reach: the bind address
``0.0.0.0`` is not, so a worker bound to all interfaces advertises its host name unless told
otherwise with ``--advertised-url`` / ``CX_ADVERTISED_URL``.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from yarl import URL

from streams.errors import ConfigError

WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})


def advertised_url(explicit: str | None, host: str, port: int, tls: bool) -> str:
    """The URL peers use to reach this worker: ``explicit``, or derived from host and port."""
    if explicit:
        url = URL(explicit)
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(
                f"--advertised-url / CX_ADVERTISED_URL {explicit!r}: expected "
                "http(s)://HOST:PORT reachable by the other workers, e.g. http://worker-1:6066"
            )
        if url.scheme == "http" and tls:
            raise ConfigError(
                f"--advertised-url {explicit!r} says http://, but the worker serves HTTPS "
                "(--web-tls-cert): use https://"
            )
        return str(url.with_path("").with_query(None).with_fragment(None))
    routable = socket.gethostname() if host in WILDCARD_HOSTS else host.strip("[]")
    if ":" in routable:  # an IPv6 address
        routable = f"[{routable}]"
    return f"{'https' if tls else 'http'}://{routable}:{port}"


def server_ssl_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The HTTPS context for ``--web-tls-cert`` / ``--web-tls-key``, or None for plain HTTP."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError("HTTPS needs both --web-tls-cert and --web-tls-key (PEM files)")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"--web-tls-cert {cert} / --web-tls-key {key}: cannot load them "
            f"({type(exc).__name__}: {exc.strerror or exc.args[-1]}); expected PEM files, "
            "the key unencrypted and matching the certificate"
        ) from None
    return context


def peer_ssl_context(cert: Path | None, ca: Path | None) -> ssl.SSLContext | None:
    """How a worker checks its peers' HTTPS when routing: ``ca``, else system CAs + own cert.

    Trusting its own certificate lets workers sharing one self-signed certificate (valid for
    all their host names) route to each other without a private CA.
    """
    if cert is None:
        return None
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=ca or cert)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--web-tls-ca {ca or cert}: cannot load it as PEM ({exc})") from None
    return context

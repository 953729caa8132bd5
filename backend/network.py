"""The client's address: from the proxy chain only as far as the proxies are trusted (TRUSTED_PROXIES).

Behind the TLS proxy, REMOTE_ADDR is the proxy's address and the client's is in X-Forwarded-For, which
anybody can also send. The header is read from the right: each hop added by a trusted proxy is skipped, and
the first address a trusted proxy did not add is the client. With no trusted proxies (the default) the header
is ignored. Throttles, lockout and the audit trail all use this one address.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(entries):
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _parse(value):
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address, networks):
    return any(address in net for net in networks)


def client_address(request):
    """The client's IP address as a string, or None when the request has none."""
    if request is None:
        return None
    meta = getattr(request, "META", None) or {}
    return _resolve(
        meta.get("REMOTE_ADDR") or "", meta.get("HTTP_X_FORWARDED_FOR") or "", tuple(settings.TRUSTED_PROXIES)
    )


@lru_cache(maxsize=1024)
def _resolve(remote_addr, forwarded_for, proxies):
    """client_address from the request's two headers and the trusted proxies: a pure function, so a push that
    audits five hundred writes parses its addresses once."""
    remote = _parse(remote_addr)
    if remote is None:
        return None
    networks = _networks(proxies)
    if not networks or not _trusted(remote, networks):
        return str(remote)
    hops = [h for h in forwarded_for.split(",") if h.strip()]
    client = remote
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:  # a hop no trusted proxy could have written: stop at the last trusted one
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)

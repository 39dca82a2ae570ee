"""Fetching a URL someone typed in, safely: public addresses only, within a time and size limit.

Used where omo reads a file from a URL a user gave it (a product image hosted elsewhere). Only
http(s); the host must resolve to public addresses (private, loopback and link-local ones are
refused, unless `allow_local` says otherwise: development and tests); redirects are followed a few
times, each hop checked the same way; the body is read in chunks and refused once it passes
`max_bytes`. A refusal is a `FetchRefused` whose `code` says why (`FETCH_CODES`).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3

from omo.core.errors import DomainError

USER_AGENT = "omo/1 (+image fetch)"
MAX_REDIRECTS = 3
CHUNK = 64 * 1024

# Why a fetch was refused: "scheme" (not http/https), "address" (a private address), "connect",
# "timeout", "status" (an answer other than 2xx), "redirects" (too many), "too_large".
FETCH_CODES = ("scheme", "address", "connect", "timeout", "status", "redirects", "too_large")

_pool = urllib3.PoolManager(num_pools=20, maxsize=2, retries=False, headers={"User-Agent": USER_AGENT})


class FetchRefused(DomainError):
    """A URL that could not be fetched; `code` is one of FETCH_CODES, `detail` a technical note."""

    status = 502
    code = "fetch_failed"

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code, code=code)
        self.detail = detail


@dataclass(frozen=True)
class Fetched:
    body: bytes
    content_type: str
    url: str  # after redirects


def address_is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


def _check_host(url: str, *, allow_local: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchRefused("scheme", url[:200])
    if allow_local:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise FetchRefused("connect", str(exc)[:200]) from exc
    if not infos or any(not address_is_public(str(info[4][0])) for info in infos):
        raise FetchRefused("address", parts.hostname)


def fetch(url: str, *, max_bytes: int, timeout: float, allow_local: bool = False) -> Fetched:
    """GET `url`: its body (at most `max_bytes`) and content type, or FetchRefused naming why."""
    for _hop in range(MAX_REDIRECTS + 1):
        _check_host(url, allow_local=allow_local)
        try:
            response = _pool.request(
                "GET",
                url,
                preload_content=False,
                redirect=False,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
            )
        except urllib3.exceptions.TimeoutError as exc:
            raise FetchRefused("timeout", f"{timeout:g} s") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise FetchRefused("connect", str(exc)[:200]) from exc
        try:
            if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                url = urljoin(url, response.headers["Location"])
                continue
            if not 200 <= response.status < 300:
                raise FetchRefused("status", str(response.status))
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchRefused("too_large", declared)
            body = bytearray()
            deadline = time.monotonic() + timeout * 3  # a slow trickle is cut too, not only a silence
            try:
                for chunk in response.stream(CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchRefused("too_large", f">{max_bytes}")
                    if time.monotonic() > deadline:
                        raise FetchRefused("timeout", f"{timeout * 3:g} s")
            except urllib3.exceptions.TimeoutError as exc:
                raise FetchRefused("timeout", f"{timeout:g} s") from exc
            except urllib3.exceptions.HTTPError as exc:
                raise FetchRefused("connect", str(exc)[:200]) from exc
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            return Fetched(bytes(body), content_type, url)
        finally:
            response.release_conn()
    raise FetchRefused("redirects", str(MAX_REDIRECTS))

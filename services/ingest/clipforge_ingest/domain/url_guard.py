"""SSRF protection for URL imports.

A user-supplied URL must not make ClipForge fetch from its own network: loopback, private ranges,
link-local (cloud metadata), CGNAT, multicast and other non-global addresses are refused. Every
redirect hop is re-checked, and the connection goes to the exact address that was checked (the host
name only travels in the Host header and TLS SNI), so DNS rebinding between check and connect does
not help an attacker.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

__all__ = [
    "DownloadResult",
    "IPAddress",
    "IPNetwork",
    "ResolvedMedia",
    "Resolver",
    "UrlRefused",
    "check_url",
    "download_with_ytdlp",
    "forbidden_reason",
    "resolve_with_ytdlp",
    "safe_download",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# host, port -> the IP address strings it resolves to.
Resolver = Callable[[str, int], Sequence[str]]

MAX_REDIRECTS = 5
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 1 << 16

_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
    )
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Ranges the allow_private switch opens (tests serving media from 127.0.0.1, on-prem sources).
_PRIVATE_OK = tuple(
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "100.64.0.0/10")
)


class UrlRefused(Exception):
    """The URL may not be fetched (or the fetch failed); ``reason_code`` is stable."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` returns for ``host`` (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def forbidden_reason(ip: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why fetching from ``ip`` is refused, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is just the IPv4 address a.b.c.d
            return forbidden_reason(ip.ipv4_mapped, allow_private=allow_private)
        # 6to4, Teredo and NAT64 addresses lead to an embedded IPv4 address: judge that one too.
        embedded: list[ipaddress.IPv4Address] = []
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.append(ip.teredo[1])
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for inner in embedded:
            reason = forbidden_reason(inner, allow_private=allow_private)
            if reason is not None:
                return f"{reason} (embedded in {ip})"
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_link_local:
        return "a link-local address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        # fec0::/10: deprecated (RFC 3879) but still routed inside some networks; Python counts it global.
        return "a site-local address"
    if allow_private and any(ip in net for net in _PRIVATE_OK):
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip in _CGNAT:
        return "a carrier-grade NAT address"
    if ip.is_private:
        return "a private network address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


def _parse(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("bad_url", f"The URL is not valid ({exc}). Check it and try again.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("bad_scheme", f"Only http and https links can be imported, not {scheme or 'this'}:// links.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("bad_url", "The URL has no host name. Check it and try again.")
    return scheme, host, port or (443 if scheme == "https" else 80)


def check_url(
    url: str,
    *,
    resolver: Resolver = system_resolver,
    allow_private: bool = False,
    allowed_networks: Iterable[IPNetwork | str] = (),
) -> list[IPAddress]:
    """Refuse ``url`` unless it is http(s) and EVERY address its host resolves to is public.

    ``allow_private`` opens loopback and private ranges (never metadata, link-local, multicast);
    ``allowed_networks`` opens specific networks (tests). Returns the checked addresses.
    """
    _, host, port = _parse(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        raw = [str(literal)]
    else:
        try:
            raw = list(resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise UrlRefused("unresolvable", f"The host {host!r} could not be found. Check the link.") from exc
    if not raw:
        raise UrlRefused("unresolvable", f"The host {host!r} could not be found. Check the link.")
    allowed = [ipaddress.ip_network(n, strict=False) if isinstance(n, str) else n for n in allowed_networks]
    addresses: list[IPAddress] = []
    for text in raw:
        try:
            ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        except ValueError as exc:
            raise UrlRefused("unresolvable", f"The host {host!r} resolved to an invalid address.") from exc
        if any(ip.version == net.version and ip in net for net in allowed):
            addresses.append(ip)
            continue
        reason = forbidden_reason(ip, allow_private=allow_private)
        if reason is not None:
            raise UrlRefused(
                "forbidden_address",
                f"The link points to {reason} ({host}), which cannot be imported. Use a public URL.",
            )
        addresses.append(ip)
    return addresses


class DownloadResult(BaseModel):
    path: Path
    size: int
    sha256: str
    final_url: str
    content_type: str | None = None


def safe_download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    max_bytes: int,
    resolver: Resolver = system_resolver,
    allow_private: bool = False,
    allowed_networks: Iterable[IPNetwork | str] = (),
    on_progress: Callable[[int, int | None], None] | None = None,
    headers: dict[str, str] | None = None,
    max_redirects: int = MAX_REDIRECTS,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
) -> DownloadResult:
    """Download ``url`` to ``dest`` with every hop checked by :func:`check_url`.

    Redirects are followed by hand (at most ``max_redirects``); the body streams to disk and stops at
    ``max_bytes`` (reason ``too_large``). ``on_progress(bytes_done, total_or_None)``. A failed
    download leaves nothing at ``dest``.
    """
    allowed = list(allowed_networks)
    out = Path(dest)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    current = url
    client = httpx.Client(
        timeout=timeout, follow_redirects=False, trust_env=False, transport=transport, headers=headers
    )
    try:
        for _hop in range(max_redirects + 1):
            addresses = check_url(current, resolver=resolver, allow_private=allow_private, allowed_networks=allowed)
            request = _pinned_request(client, current, addresses[0])
            try:
                response = client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise UrlRefused("download_failed", f"The link could not be downloaded ({exc}). Try again.") from exc
            try:
                if response.status_code in _REDIRECT_CODES:
                    location = response.headers.get("location")
                    if not location:
                        raise UrlRefused("download_failed", "The server sent a redirect without a location.")
                    current = str(httpx.URL(current).join(location))
                    continue
                if response.status_code >= 400:
                    raise UrlRefused(
                        "http_error",
                        f"The server answered {response.status_code}; check that the link is public and correct.",
                    )
                result = _stream_to(response, tmp, max_bytes, on_progress)
                os.replace(tmp, out)
                return DownloadResult(
                    path=out,
                    size=result[0],
                    sha256=result[1],
                    final_url=current,
                    content_type=response.headers.get("content-type"),
                )
            finally:
                response.close()
        raise UrlRefused("too_many_redirects", f"The link redirected more than {max_redirects} times.")
    finally:
        client.close()
        tmp.unlink(missing_ok=True)


def _pinned_request(client: httpx.Client, url: str, ip: IPAddress) -> httpx.Request:
    """A request that connects to ``ip`` while presenting the original host (Host header, SNI)."""
    original = httpx.URL(url)
    host = original.host
    request = client.build_request("GET", original.copy_with(host=str(ip)))
    default_port = {"http": 80, "https": 443}[original.scheme]
    netloc = f"[{host}]" if ":" in host else host
    request.headers["Host"] = netloc if original.port in (None, default_port) else f"{netloc}:{original.port}"
    request.extensions["sni_hostname"] = host
    return request


def _stream_to(
    response: httpx.Response,
    tmp: Path,
    max_bytes: int,
    on_progress: Callable[[int, int | None], None] | None,
) -> tuple[int, str]:
    length = response.headers.get("content-length")
    total = int(length) if length and length.isdigit() else None
    if total is not None and total > max_bytes:
        raise UrlRefused("too_large", f"The file is larger than the {max_bytes}-byte import limit.")
    digest = hashlib.sha256()
    done = 0
    try:
        with tmp.open("wb") as f:
            for chunk in response.iter_bytes(_CHUNK):
                done += len(chunk)
                # Content-Length can lie (or be absent); the byte count is what is enforced.
                if done > max_bytes:
                    raise UrlRefused("too_large", f"The file is larger than the {max_bytes}-byte import limit.")
                f.write(chunk)
                digest.update(chunk)
                if on_progress is not None:
                    on_progress(done, total)
    except httpx.HTTPError as exc:
        raise UrlRefused("download_failed", f"The download was interrupted ({exc}). Try again.") from exc
    return done, digest.hexdigest()


class ResolvedMedia(BaseModel):
    url: str
    ext: str | None = None
    title: str | None = None
    duration: float | None = None
    http_headers: dict[str, str] = {}


def resolve_with_ytdlp(
    url: str,
    *,
    resolver: Resolver = system_resolver,
    allow_private: bool = False,
    allowed_networks: Iterable[IPNetwork | str] = (),
    ydl_options: dict[str, Any] | None = None,
) -> ResolvedMedia:
    """Ask yt-dlp (as a library, no download) for a direct media URL of a page such as a video site.

    The page URL is checked first; the media URL is checked again by :func:`safe_download`. The
    generic extractor is disabled so yt-dlp will not crawl arbitrary pages for embedded media.
    """
    allowed = list(allowed_networks)
    check_url(url, resolver=resolver, allow_private=allow_private, allowed_networks=allowed)
    import yt_dlp

    options: dict[str, Any] = {
        "quiet": True,
        "no_warnings": True,
        "noplaylist": True,
        "skip_download": True,
        "socket_timeout": 20,
        # One plain HTTP(S) file with both audio and video (no merging, no HLS/DASH), else audio only.
        "format": "/".join(
            f"{sel}[protocol^=http][protocol!*=dash]{extra}"
            for sel, extra in (("best", "[acodec!=none][vcodec!=none]"), ("bestaudio", ""), ("best", ""))
        ),
        "allowed_extractors": ["default", "-generic"],
        **(ydl_options or {}),
    }
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=False)
    except yt_dlp.utils.DownloadError as exc:
        raise UrlRefused(
            "unsupported_url", "No video could be found at this link. Use a direct media link or a supported site."
        ) from exc
    if not isinstance(info, dict):
        raise UrlRefused("unsupported_url", "No video could be found at this link.")
    if info.get("_type") == "playlist":
        raise UrlRefused("unsupported_url", "The link is a playlist; import one video at a time.")
    media_url = info.get("url")
    if not media_url:
        raise UrlRefused("unsupported_url", "The site did not offer a single downloadable file for this video.")
    check_url(media_url, resolver=resolver, allow_private=allow_private, allowed_networks=allowed)
    duration = info.get("duration")
    return ResolvedMedia(
        url=media_url,
        ext=info.get("ext"),
        title=info.get("title"),
        duration=float(duration) if isinstance(duration, int | float) else None,
        http_headers={str(k): str(v) for k, v in (info.get("http_headers") or {}).items()},
    )


def download_with_ytdlp(
    url: str,
    dest: str | os.PathLike[str],
    *,
    max_bytes: int,
    resolver: Resolver = system_resolver,
    allow_private: bool = False,
    allowed_networks: Iterable[IPNetwork | str] = (),
    on_progress: Callable[[int, int | None], None] | None = None,
) -> tuple[ResolvedMedia, DownloadResult]:
    """:func:`resolve_with_ytdlp` then :func:`safe_download` of the media URL it found."""
    allowed = list(allowed_networks)
    media = resolve_with_ytdlp(url, resolver=resolver, allow_private=allow_private, allowed_networks=allowed)
    result = safe_download(
        media.url,
        dest,
        max_bytes=max_bytes,
        resolver=resolver,
        allow_private=allow_private,
        allowed_networks=allowed,
        on_progress=on_progress,
        headers=media.http_headers,
    )
    return media, result

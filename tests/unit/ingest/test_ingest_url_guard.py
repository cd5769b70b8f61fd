"""SSRF guard: address policy with an injected resolver, and guarded downloads from a local server."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import pytest
from clipforge_ingest.domain import UrlRefused, check_url, resolve_with_ytdlp, safe_download, system_resolver

BODY = bytes(range(256)) * 400  # 100 KiB


def resolver_for(table: dict[str, Sequence[str]]):
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


PUBLIC = resolver_for(
    {
        "example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
        "localhost.evil": ["127.0.0.1"],
        "mixed.evil": ["93.184.216.34", "10.0.0.7"],
        "v6loop.evil": ["::1"],
        "mapped.evil": ["::ffff:127.0.0.1"],
        "zoned.evil": ["fe80::1%eth0"],
    }
)


def refused(url: str, **kwargs) -> UrlRefused:
    with pytest.raises(UrlRefused) as info:
        check_url(url, resolver=kwargs.pop("resolver", PUBLIC), **kwargs)
    assert info.value.message
    return info.value


def test_public_host_is_allowed() -> None:
    addresses = check_url("https://example.com/talk.mp4", resolver=PUBLIC)
    assert [str(a) for a in addresses] == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/video.mp4",
        "http://127.1.2.3:8080/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://100.100.100.200/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[fec0::1]/",  # site-local (deprecated, still routed in places)
        "http://[ff02::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 wrapping 169.254.169.254
        "http://localhost.evil/",
        "http://mixed.evil/",  # one private answer is enough to refuse
        "http://v6loop.evil/",
        "http://mapped.evil/",
        "http://zoned.evil/",
    ],
)
def test_internal_addresses_are_refused(url: str) -> None:
    assert refused(url).reason_code == "forbidden_address"


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/a.mp4", "gopher://example.com/", "javascript:alert(1)", "example.com/a"],
)
def test_only_http_and_https(url: str) -> None:
    assert refused(url).reason_code == "bad_scheme"


@pytest.mark.parametrize("url", ["http:///nohost", "http://example.com:99999/", "https://"])
def test_malformed_urls(url: str) -> None:
    assert refused(url).reason_code == "bad_url"


def test_unresolvable_host() -> None:
    assert refused("http://nowhere.invalid/").reason_code == "unresolvable"
    assert refused("http://empty.test/", resolver=lambda h, p: []).reason_code == "unresolvable"


@pytest.mark.parametrize("url", ["http://2130706433/", "http://0x7f.1/", "http://017700000001/", "http://localhost/"])
def test_system_resolver_sees_through_numeric_and_local_names(url: str) -> None:
    # getaddrinfo parses these forms locally (inet_aton, /etc/hosts): no network needed.
    assert refused(url, resolver=system_resolver).reason_code == "forbidden_address"


def test_allow_private_opens_loopback_but_never_metadata() -> None:
    assert [str(a) for a in check_url("http://127.0.0.1:8000/x", allow_private=True)] == ["127.0.0.1"]
    assert check_url("http://10.1.2.3/", allow_private=True)
    assert refused("http://169.254.169.254/", allow_private=True).reason_code == "forbidden_address"
    assert refused("http://[fd00:ec2::254]/", allow_private=True).reason_code == "forbidden_address"
    assert refused("http://0.0.0.0/", allow_private=True).reason_code == "forbidden_address"


def test_allowed_networks_open_exactly_those() -> None:
    assert check_url("http://127.0.0.1/", allowed_networks=["127.0.0.1/32"])
    assert refused("http://127.0.0.2/", allowed_networks=["127.0.0.1/32"]).reason_code == "forbidden_address"


# --------------------------------------------------------------------------------------------------
# Downloads against a local HTTP server
# --------------------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    hosts: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        type(self).hosts.append(self.headers.get("Host", ""))
        routes = {
            "/to-file": f"http://media.test:{port}/file",
            "/relative": "/file",
            "/to-loopback": f"http://127.0.0.2:{port}/file",
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/to-localhost-name": f"http://localhost.evil:{port}/file",
            "/to-file-scheme": "file:///etc/passwd",
            "/loop": "/loop",
        }
        if self.path in routes:
            self._redirect(routes[self.path])
        elif self.path == "/file":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/no-length":
            # No Content-Length: the size limit must be enforced while streaming.
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(BODY)
            self.close_connection = True
        elif self.path == "/page":
            page = b"<html><body><p>no video here</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


# media.test is the "public" name of the local server; only 127.0.0.1 itself is allowed.
LOCAL = resolver_for({"media.test": ["127.0.0.1"], "localhost.evil": ["127.0.0.1", "::1"]})
ALLOW_FIRST_HOP = {"resolver": LOCAL, "allowed_networks": ["127.0.0.1/32"]}


def test_download_streams_to_disk_with_hash_and_progress(server: int, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    _Handler.hosts.clear()
    result = safe_download(
        f"http://media.test:{server}/file",
        tmp_path / "in.mp4",
        max_bytes=1 << 20,
        on_progress=lambda d, t: seen.append((d, t)),
        **ALLOW_FIRST_HOP,
    )
    assert result.path.read_bytes() == BODY
    assert result.size == len(BODY)
    assert result.sha256 == hashlib.sha256(BODY).hexdigest()
    assert result.content_type == "video/mp4"
    assert seen[-1] == (len(BODY), len(BODY))
    # Connected to the checked address but presented the original host name.
    assert _Handler.hosts == [f"media.test:{server}"]


def test_default_refuses_loopback_download(server: int, tmp_path: Path) -> None:
    with pytest.raises(UrlRefused) as info:
        safe_download(f"http://127.0.0.1:{server}/file", tmp_path / "x", max_bytes=1 << 20)
    assert info.value.reason_code == "forbidden_address"
    assert not (tmp_path / "x").exists()


def test_allow_private_downloads_from_loopback(server: int, tmp_path: Path) -> None:
    result = safe_download(f"http://127.0.0.1:{server}/file", tmp_path / "x", max_bytes=1 << 20, allow_private=True)
    assert result.size == len(BODY)


@pytest.mark.parametrize("path", ["/to-file", "/relative"])
def test_allowed_redirects_are_followed(server: int, tmp_path: Path, path: str) -> None:
    result = safe_download(f"http://media.test:{server}{path}", tmp_path / "x", max_bytes=1 << 20, **ALLOW_FIRST_HOP)
    assert result.path.read_bytes() == BODY
    assert result.final_url.endswith("/file")


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/to-loopback", "forbidden_address"),
        ("/to-metadata", "forbidden_address"),
        ("/to-localhost-name", "forbidden_address"),
        ("/to-file-scheme", "bad_scheme"),
        ("/loop", "too_many_redirects"),
        ("/missing", "http_error"),
    ],
)
def test_bad_redirects_and_errors_are_refused(server: int, tmp_path: Path, path: str, reason: str) -> None:
    dest = tmp_path / "x.mp4"
    with pytest.raises(UrlRefused) as info:
        safe_download(f"http://media.test:{server}{path}", dest, max_bytes=1 << 20, **ALLOW_FIRST_HOP)
    assert info.value.reason_code == reason
    assert list(tmp_path.iterdir()) == []  # nothing partial left behind


@pytest.mark.parametrize("path", ["/file", "/no-length"])
def test_size_limit(server: int, tmp_path: Path, path: str) -> None:
    with pytest.raises(UrlRefused) as info:
        safe_download(f"http://media.test:{server}{path}", tmp_path / "x", max_bytes=50_000, **ALLOW_FIRST_HOP)
    assert info.value.reason_code == "too_large"
    assert list(tmp_path.iterdir()) == []


def test_no_length_download_within_limit(server: int, tmp_path: Path) -> None:
    result = safe_download(
        f"http://media.test:{server}/no-length", tmp_path / "x", max_bytes=1 << 20, **ALLOW_FIRST_HOP
    )
    assert result.size == len(BODY)


def test_ytdlp_checks_the_page_url_first() -> None:
    with pytest.raises(UrlRefused) as info:
        resolve_with_ytdlp("http://169.254.169.254/latest/meta-data/")
    assert info.value.reason_code == "forbidden_address"


def test_ytdlp_without_generic_extractor_refuses_unknown_pages(server: int) -> None:
    with pytest.raises(UrlRefused) as info:
        resolve_with_ytdlp(f"http://media.test:{server}/page", **ALLOW_FIRST_HOP)
    assert info.value.reason_code == "unsupported_url"

"""Network for a sandbox that may reach only some hosts: the package registries during setup.

A sandbox has no network of its own (bubblewrap's new namespace, Docker's `none`). For the setup phase Paid
runs, on the host, an HTTP proxy listening on a Unix socket that it mounts into the sandbox; the proxy opens a
connection only to a host on the allowlist (CONNECT for HTTPS, absolute-URI requests for plain HTTP) and
answers 403 to everything else. Inside the sandbox, a few lines of Python relay 127.0.0.1:PORT to that socket,
so that pip, npm and the rest use it through the ordinary `HTTPS_PROXY` variables. Names are resolved on the
host, by the proxy, only for allowed hosts; the sandbox has no DNS.

The default allowlist is read from the package managers' own configuration (pip's index and file hosts, npm's
registry), not written here; `paid.yaml` adds hosts (`setup.allow_hosts`).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import socketserver
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

SOCKET_IN_SANDBOX = "/run/paid-egress.sock"
PORT_IN_SANDBOX = 3128
MAX_HEADER_BYTES = 64 * 1024


def registry_hosts() -> frozenset[str]:
    """The hosts the package managers on this machine are configured to install from."""
    hosts: set[str] = set()
    try:
        from pip._internal.models.index import PyPI

        hosts |= {PyPI.netloc, PyPI.file_storage_domain}
    except ImportError:  # pip is not importable here: its registry is then whatever pip.conf names
        pass
    for key in ("index-url", "extra-index-url"):
        for url in _pip_config(key):
            hosts.add(urlsplit(url).hostname or "")
    for url in _npm_config("registry"):
        hosts.add(urlsplit(url).hostname or "")
    return frozenset(h for h in hosts if h)


def _pip_config(key: str) -> list[str]:
    out = _quiet(["python3", "-m", "pip", "config", "get", f"global.{key}"])
    return out.split() if out else []


def _npm_config(key: str) -> list[str]:
    out = _quiet(["npm", "config", "get", key])
    return [out] if out.startswith("http") else []


def _quiet(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def allowed(host: str, allowlist: frozenset[str]) -> bool:
    """Exact hosts, or `.suffix` entries for a domain's subdomains."""
    host = host.lower().rstrip(".")
    return host in allowlist or any(entry.startswith(".") and host.endswith(entry) for entry in allowlist)


@dataclass
class EgressLog:
    """Every destination asked for, allowed or not: what setup reached, and what it was refused."""

    allowed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, host: str, ok: bool) -> None:
        with self.lock:
            (self.allowed if ok else self.refused).append(host)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        head = self._read_head()
        if head is None:
            return
        request_line, rest = head.split(b"\r\n", 1)
        parts = request_line.decode("latin-1").split(" ")
        if len(parts) != 3:
            self._refuse(400, "not an HTTP request")
            return
        method, target, version = parts
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            self._tunnel(host.strip("[]"), int(port or 443), b"")
            return
        url = urlsplit(target)
        if not url.hostname or url.scheme != "http":
            self._refuse(400, "only CONNECT and absolute http:// requests go through Paid's egress proxy")
            return
        origin_form = (url.path or "/") + (f"?{url.query}" if url.query else "")
        first = f"{method} {origin_form} {version}\r\n".encode("latin-1")
        self._tunnel(url.hostname, url.port or 80, first + rest)

    def _read_head(self) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(4096)
            if not chunk or len(data) > MAX_HEADER_BYTES:
                return None
            data += chunk
        return data

    def _refuse(self, status: int, why: str) -> None:
        body = f"Paid: {why}\n".encode()
        self.request.sendall(
            f"HTTP/1.1 {status} Refused\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
        )

    def _tunnel(self, host: str, port: int, first: bytes) -> None:
        ok = allowed(host, self.server.allowlist) and port in (80, 443)
        self.server.log.note(f"{host}:{port}", ok)
        if not ok:
            self._refuse(403, f"{host}:{port} is not a package registry this sandbox may reach")
            return
        try:
            upstream = socket.create_connection((host, port), timeout=30)
        except OSError as exc:
            self._refuse(502, f"{host}:{port} could not be reached ({type(exc).__name__})")
            return
        with upstream:
            if first:
                upstream.sendall(first)
            else:
                self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _relay(self.request, upstream)


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Bytes both ways until either side closes; a side that hangs up mid-transfer ends the tunnel quietly (uv
    and npm drop connections they no longer need: a BrokenPipeError there is no error of the proxy's)."""
    sockets = [a, b]
    try:
        while True:
            readable, _, failed = select.select(sockets, [], sockets, 300)
            if failed or not readable:
                return
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return
                (b if source is a else a).sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allowlist: frozenset[str]
    log: EgressLog


class EgressProxy:
    """The host side: `with EgressProxy(path, hosts) as proxy:` then mount `proxy.socket` into a sandbox."""

    def __init__(self, socket_path: Path, allowlist: frozenset[str]) -> None:
        self.socket = socket_path
        self.allowlist = allowlist
        self.log = EgressLog()
        self._server: _Server | None = None

    def __enter__(self) -> EgressProxy:
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        server = _Server(str(self.socket), _Handler)
        server.allowlist, server.log = self.allowlist, self.log
        os.chmod(self.socket, 0o777)  # the sandbox's user (uid 1000 in Docker) connects to it
        threading.Thread(target=server.serve_forever, name="paid-egress", daemon=True).start()
        self._server = server
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()


# Runs inside the sandbox: 127.0.0.1:PORT → the proxy's socket. Kept to the standard library.
RELAY = f"""
import socket, threading, select
def pump(a, b):
    try:
        while True:
            r, _, _ = select.select([a, b], [], [], 300)
            if not r: return
            for s in r:
                d = s.recv(65536)
                if not d: return
                (b if s is a else a).sendall(d)
    finally:
        a.close(); b.close()
def serve(c):
    u = socket.socket(socket.AF_UNIX); u.connect({SOCKET_IN_SANDBOX!r}); pump(c, u)
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", {PORT_IN_SANDBOX})); l.listen(64)
while True:
    c, _ = l.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def through_relay(command: str) -> str:
    """`command`, run while the in-sandbox relay listens; the relay ends with it."""
    return (
        f"python3 -c {_quote(RELAY)} & relay=$!\n"
        f"for _ in $(seq 100); do (: </dev/tcp/127.0.0.1/{PORT_IN_SANDBOX}) 2>/dev/null && break; sleep 0.05; done\n"
        f"( {command}\n)\nstatus=$?\nkill $relay 2>/dev/null\nexit $status"
    )


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def proxy_environment() -> dict[str, str]:
    """What makes pip, npm, git, curl and the rest use the relay, and trust the machine's CA bundle."""
    proxy = f"http://127.0.0.1:{PORT_IN_SANDBOX}"
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    return {
        "HTTP_PROXY": proxy,
        "HTTPS_PROXY": proxy,
        "http_proxy": proxy,
        "https_proxy": proxy,
        "NO_PROXY": "127.0.0.1,localhost",
        "npm_config_proxy": proxy,
        "npm_config_https_proxy": proxy,
        "npm_config_cafile": bundle,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "PIP_CERT": bundle,
        "SSL_CERT_FILE": bundle,
        "REQUESTS_CA_BUNDLE": bundle,
        "NODE_EXTRA_CA_CERTS": bundle,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }

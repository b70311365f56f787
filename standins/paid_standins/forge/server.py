"""The forge's HTTP plumbing: reading requests, credentials, faults, rate limits, ETags and error shapes.

What each address does is elsewhere: the REST routes in `routes/`, git smart HTTP in `routes/git_http.py`,
the HTML pages in `routes/pages.py` and the admin endpoints in `routes/admin.py`.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .gitrepo import GitError
from .routes import ROUTES, Api, Request, dispatch
from .routes.admin import admin_route
from .routes.git_http import serve_git
from .routes.pages import page
from .service import ApiError, Service
from .shapes import error, etag_of
from .store import Row
from .traffic import LoggedRequest, Traffic

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8", "X-GitHub-Media-Type": "github.v3"}
CACHE_HEADERS = {
    "Cache-Control": "private, max-age=60, s-maxage=60",
    "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
}
RATE_LIMIT_PATH = "/rate_limit"  # free to ask, and never answered 304, as on GitHub
MAX_ETAGS = 50_000  # remembered ETags; past this the memory is simply cleared
GIT_PATH = re.compile(r"^/[^/]+/[^/]+\.git/")
PAGE_PATH = re.compile(r"^/([^/]+)/([^/]+)/(pull|issues)/(\d+)$")


def _has_lone_surrogate(value: Any) -> bool:
    """GitHub rejects text that is not valid Unicode; so does the forge (SQLite could not store it either)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def parse_json(raw: bytes) -> Any:
    """The request's JSON body (None if empty); ValueError if it is not JSON or not valid Unicode."""
    body = json.loads(raw) if raw.strip() else None
    if body is not None and _has_lone_surrogate(body):
        raise ValueError("lone surrogate")
    return body


@dataclass
class ApiCall:
    """What handling one REST request carries from step to step."""

    path: str
    query: str
    user: Row | None
    who: str  # whose rate limit the request spends: the user's, else the client address's
    if_none_match: str | None
    cache_key: tuple[str, str, str, int | None]
    limit_headers: dict[str, str] = field(default_factory=dict)
    version: int = 0  # the store's version before serving: an ETag is remembered for it

    @property
    def spend(self) -> bool:
        return self.path != RATE_LIMIT_PATH

    def headers(self) -> dict[str, str]:
        return {**JSON_HEADERS, **self.limit_headers}

    def matches(self, etag: str) -> bool:
        return bool(self.if_none_match) and etag in [t.strip() for t in (self.if_none_match or "").split(",")]


class ForgeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: Service, traffic: Traffic) -> None:
        super().__init__(address, ForgeRequestHandler)
        self.service = service
        self.traffic = traffic
        # (base, path, query, user) → (store version, ETag) of the last body rendered for it
        self.etags: dict[tuple[str, str, str, int | None], tuple[int, str]] = {}


class ForgeRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    server: ForgeHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- reading and answering -------------------------------------------------------------------

    def do_GET(self) -> None:
        self.handle_any()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    @property
    def base(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def credentials(self) -> str | None:
        """The token sent (as `token`, `Bearer` or a Basic password, as git sends it); None if none was."""
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() in ("token", "bearer"):
            return value.strip()
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return ""
            return password
        return None

    def user_of(self, token: str | None) -> Row | None:
        return self.server.service.store.user_for_token(token) if token else None

    def send(self, status: int, body: bytes, headers: dict[str, str], counted: bool = False) -> None:
        # Logged before the answer leaves, so that a client that has its answer also finds it in the log.
        if self.log_this:
            self.server.traffic.record(
                LoggedRequest(
                    self.command,
                    self.path,
                    status,
                    counted,
                    self.login,
                    time.time(),
                    (time.monotonic() - self.started) * 1000,
                )
            )
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def reply_error(
        self,
        status: int,
        message: str,
        headers: dict[str, str],
        errors: list[dict[str, Any]] | None = None,
        counted: bool = False,
    ) -> int:
        doc = "rest/overview/rate-limits-for-the-rest-api" if "rate limit" in message else "rest"
        self.send(status, json.dumps(error(message, status, errors, doc)).encode(), headers, counted)
        return status

    def handle_any(self) -> None:
        self.started = time.monotonic()
        self.login: str | None = None
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        # The admin endpoints stay out of the request log, except acting as a user (that is API traffic).
        self.log_this = not path.startswith("/_forge/") or path.startswith("/_forge/as/")
        raw = self.read_body()
        if path.startswith("/_forge/"):
            self.handle_admin(path, split.query, raw)
        elif GIT_PATH.match(path):
            self.handle_git(path, split.query, raw)
        elif (m := PAGE_PATH.match(path)) and m[1] not in ("repos", "repositories"):
            self.handle_page(m)
        else:
            self.handle_api(path, split.query, raw)

    # --- REST ---------------------------------------------------------------------------------------

    def handle_api(self, path: str, query: str, raw: bytes, as_user: Row | None = None) -> int:
        token = self.credentials()
        user = as_user or self.user_of(token)
        self.login = user["login"] if user else None
        if token is not None and user is None and as_user is None:
            return self.reply_error(401, "Bad credentials", dict(JSON_HEADERS))
        call = ApiCall(
            path,
            query,
            user,
            self.login or f"ip:{self.client_address[0]}",
            self.headers.get("If-None-Match"),
            (self.base, path, query, user["id"] if user else None),
        )
        refused = self.refuse_by_traffic(call)
        if refused is not None:
            return refused
        try:
            body = parse_json(raw)
        except ValueError:  # also UnicodeDecodeError and json.JSONDecodeError
            return self.reply_error(400, "Problems parsing JSON", call.headers(), counted=call.spend)
        call.version = self.server.service.store.version
        unchanged = self.answer_unchanged(call)
        if unchanged is not None:
            return unchanged
        return self.serve(call, body)

    def refuse_by_traffic(self, call: ApiCall) -> int | None:
        """Answers an injected fault or an exhausted rate limit; otherwise spends the request's point."""
        traffic, authenticated = self.server.traffic, call.user is not None
        fault = traffic.fault_for(call.path, self.command)
        if fault is not None and fault.status is not None:
            _, limits = traffic.limit_headers(call.who, authenticated, spend=False)
            return self.reply_error(fault.status, fault.message, {**JSON_HEADERS, **limits, **fault.headers})
        # A conditional GET spends a point only when it is not answered 304, so decide after serving.
        conditional = self.command == "GET" and bool(call.if_none_match)
        allowed, call.limit_headers = traffic.limit_headers(
            call.who, authenticated, spend=call.spend and not conditional
        )
        if not allowed:
            message = f"API rate limit exceeded for user ID {call.user['id'] if call.user else 0}."
            return self.reply_error(403, message, call.headers())
        return None

    def answer_unchanged(self, call: ApiCall) -> int | None:
        """Nothing was written since this ETag was computed: answer 304 without rendering the body again."""
        if self.command != "GET" or not call.if_none_match or call.path == RATE_LIMIT_PATH:
            return None
        known = self.server.etags.get(call.cache_key)
        if known and known[0] == call.version and call.matches(known[1]):
            self.send(304, b"", {**call.headers(), "ETag": known[1]})
            return 304
        return None

    def serve(self, call: ApiCall, body: Any) -> int:
        method = self.command if self.command != "HEAD" else "GET"
        query = {k: v[-1] for k, v in parse_qs(call.query, keep_blank_values=True).items()}
        req = Request(method, call.path, query, body, call.user, self.base)
        try:
            reply = dispatch(Api(self.server.service, self.server.traffic, self.base), req)
        except ApiError as exc:
            return self.reply_error(exc.status, exc.message, call.headers(), exc.errors, call.spend)
        except GitError as exc:
            return self.reply_error(422, str(exc), call.headers(), counted=call.spend)
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = {**call.headers(), **reply.headers}
        delay = self.server.traffic.answer_delay(call.path, self.command)
        if delay:
            time.sleep(delay)  # applied already: a client that gives up first does not know it was
        if req.method == "GET" and reply.status == 200:
            return self.send_cacheable(call, payload, headers)
        self.send(reply.status, payload, headers, call.spend)
        return reply.status

    def send_cacheable(self, call: ApiCall, payload: bytes, headers: dict[str, str]) -> int:
        """A 200 to a GET, with its ETag; 304 instead if the client already has this body."""
        etag = etag_of(payload)
        if call.path != RATE_LIMIT_PATH:
            self.remember_etag(call, etag)
        headers.update({"ETag": etag, **CACHE_HEADERS})
        if call.matches(etag):
            self.send(304, b"", headers)
            return 304
        counted = call.spend
        if call.if_none_match and call.spend:
            # The conditional request was not answered 304 after all: now it spends its point.
            _, limits = self.server.traffic.limit_headers(call.who, call.user is not None, spend=True)
            headers.update(limits)
            counted = True
        self.send(200, payload, headers, counted)
        return 200

    def remember_etag(self, call: ApiCall, etag: str) -> None:
        if len(self.server.etags) > MAX_ETAGS:
            self.server.etags.clear()
        self.server.etags[call.cache_key] = (call.version, etag)

    # --- git smart HTTP, HTML pages and admin ----------------------------------------------------------

    def handle_git(self, path: str, query: str, body: bytes) -> int:
        user = self.user_of(self.credentials())
        self.login = user["login"] if user else None
        status, headers, payload = serve_git(
            self.server.service, user, self.command, path, query, body, self.headers, self.client_address[0]
        )
        self.send(status, payload, headers)
        return status

    def handle_page(self, match: re.Match[str]) -> int:
        html = page(self.server.service, match[1], match[2], match[3], int(match[4]))
        if html is None:
            self.send(404, b"Not Found", {"Content-Type": "text/plain"})
            return 404
        self.send(200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})
        return 200

    def handle_admin(self, path: str, query: str, raw: bytes) -> int:
        if path.startswith("/_forge/as/"):
            # Act as any user: the REST call after the login runs with that user's identity.
            login, _, api_path = path.removeprefix("/_forge/as/").partition("/")
            user = self.server.service.store.user(login)
            if user is None:
                return self.reply_error(404, f"no forge user {login}", {"Content-Type": "application/json"})
            return self.handle_api("/" + api_path, query, raw, as_user=user)
        status, payload = admin_route(self.server.service, self.server.traffic, self.command, path, query, raw)
        self.send(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        return status


# ROUTES lives in `routes`; importing it from here still works for code written before the split.
__all__ = ["ROUTES", "ForgeHTTPServer", "ForgeRequestHandler"]

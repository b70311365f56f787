"""Git's smart HTTP protocol (clone, fetch, push) served by `git http-backend`, with GitHub's permissions."""

from __future__ import annotations

import os
import subprocess
from email.message import Message
from urllib.parse import parse_qs

from ..service import Service
from ..store import PERMISSION_RANK, Row

GitReply = tuple[int, dict[str, str], bytes]


def serve_git(
    service: Service, user: Row | None, method: str, path: str, query: str, body: bytes, headers: Message, client: str
) -> GitReply:
    """Answers one request under `/{owner}/{repo}.git/`; `user` is whoever the credentials name, if anyone."""
    owner, repo_git, rest = path.lstrip("/").split("/", 2)
    repo = service.store.repo(owner, repo_git.removesuffix(".git"))
    if repo is None:
        return 404, {"Content-Type": "text/plain"}, b"Repository not found.\n"
    pushing = "git-receive-pack" in (rest, parse_qs(query).get("service", [""])[0])
    refused = refusal(service, repo, user, "write" if pushing else "read")
    if refused is not None:
        return refused
    env = backend_env(service, repo, user, method, rest, query, len(body), headers, client)
    status, reply_headers, payload = run_backend(body, env)
    if pushing and method == "POST" and status == 200:
        service.after_push(repo)  # before answering: the pusher then sees the PR already moved
    return status, reply_headers, payload


def refusal(service: Service, repo: Row, user: Row | None, needed: str) -> GitReply | None:
    """GitHub asks anonymous clients to authenticate (401) and refuses users without the permission (403)."""
    if PERMISSION_RANK[service.store.permission(repo, user)] >= PERMISSION_RANK[needed]:
        return None
    status = 401 if user is None else 403
    message = b"Authentication required.\n" if status == 401 else b"Permission denied.\n"
    return status, {"WWW-Authenticate": 'Basic realm="GitHub"', "Content-Type": "text/plain"}, message


def backend_env(
    service: Service,
    repo: Row,
    user: Row | None,
    method: str,
    rest: str,
    query: str,
    length: int,
    headers: Message,
    client: str,
) -> dict[str, str]:
    # The CGI environment only: nothing of the forge's own environment (tokens, config) reaches git.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(service.git_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{repo['owner_login']}/{repo['name']}.git/{rest}",
        "QUERY_STRING": query,
        "REQUEST_METHOD": method,
        "CONTENT_TYPE": headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(length),
        "REMOTE_USER": user["login"] if user else "anonymous",
        "REMOTE_ADDR": client,
        "GIT_PROTOCOL": headers.get("Git-Protocol", ""),
        "HTTP_CONTENT_ENCODING": headers.get("Content-Encoding", ""),
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": os.environ.get("HOME", "/tmp"),
    }


def run_backend(body: bytes, env: dict[str, str]) -> GitReply:
    """Runs `git http-backend` and splits its CGI answer into status, headers and payload."""
    proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
    head, found, payload = proc.stdout.partition(b"\r\n\r\n")
    if not found:
        head, _, payload = proc.stdout.partition(b"\n\n")
    status, headers = 200, {}
    for line in head.decode(errors="replace").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers[name.strip()] = value.strip()
    return status, headers, payload

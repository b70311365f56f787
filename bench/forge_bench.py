"""Requests per second the forge serves for an issue-list page of 100 and for 304 answers, one process.

Baseline: Python's plain http.server (same threading server, keep-alive) answering the same bytes from
memory, which is the floor of serving HTTP from CPython on this machine.
"""

from __future__ import annotations

import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from paid_standins.forge import Forge, seed_sample

from bench.common import rate, row


def static_server(payload: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(count: int = 300) -> None:
    print("forge: requests per second, one client, keep-alive")
    with tempfile.TemporaryDirectory() as tmp, Forge(Path(tmp)) as forge:
        seed = seed_sample(forge)
        writer = forge.as_user(seed.writer)
        for n in range(150):
            writer.create_issue(seed.repo, f"Issue {n}", f"Body of issue {n}", labels=["paid-build"])
        session = requests.Session()
        session.headers["Authorization"] = f"token {forge.token(seed.writer)}"
        url = f"{forge.url}/repos/{seed.repo}/issues?per_page=100&labels=paid-build"
        first = session.get(url, timeout=30)
        assert first.status_code == 200 and len(first.json()) == 100
        etag = first.headers["ETag"]

        def page() -> None:
            assert session.get(url, timeout=30).status_code == 200

        def not_modified() -> None:
            assert session.get(url, headers={"If-None-Match": etag}, timeout=30).status_code == 304

        baseline_server = static_server(first.content)
        baseline_url = f"http://127.0.0.1:{baseline_server.server_address[1]}/"
        plain = requests.Session()
        baseline = rate(lambda: plain.get(baseline_url, timeout=30), count)
        pages = rate(page, count // 3)
        answers_304 = rate(not_modified, count // 3)
        baseline_server.shutdown()
        row("baseline: http.server, same 100-issue body from memory", baseline, "req/s")
        row("forge: issue list page of 100 (SQLite + JSON shaping)", pages, "req/s", baseline)
        row("forge: 304 Not Modified for that page", answers_304, "req/s", baseline)
        print(f"  page size: {len(first.content) / 1024:.0f} KiB; a 304 spends no rate-limit point")


if __name__ == "__main__":
    main()

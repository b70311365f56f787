"""A scripted model behind an OpenAI-compatible endpoint, so that litellm reaches it like any provider.

The reply is chosen by the conversation (a regex on the first user message) and the turn (the number of
assistant messages already in the request), so replays are deterministic and need no server-side state.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

SCRIPTS_DIR = Path(__file__).parent / "scripts"
MODEL_NAME = "paid-scripted"


@dataclass
class Script:
    conversations: list[dict[str, Any]]
    default: str = (
        "THOUGHT: I have nothing scripted for this.\n\n```mswea_bash_command\n"
        "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```"
    )

    @classmethod
    def load(cls, source: str | Path | dict[str, Any]) -> Script:
        if isinstance(source, dict):
            data = source
        else:
            path = Path(source)
            if not path.exists():
                path = SCRIPTS_DIR / f"{source}.yaml"
            data = yaml.safe_load(path.read_text())
        return cls(conversations=list(data.get("conversations", [])), default=data.get("default", cls.default))

    def turn_for(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        opening = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") in ("system", "user"))[:20000]
        done = sum(1 for m in messages if m.get("role") == "assistant")
        for conversation in self.conversations:
            if re.search(conversation.get("match", ".*"), opening, re.S):
                turns = conversation.get("turns", [])
                if not turns:
                    break
                return dict(turns[min(done, len(turns) - 1)])
        return {"content": self.default}


@dataclass
class CallRecord:
    turn: int
    messages: int
    status: int
    last_user_message: str = ""
    at: float = field(default_factory=time.time)


def _tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


class ScriptedModelServer:
    """Serves `POST /v1/chat/completions` on 127.0.0.1; `calls` records every request it answered."""

    def __init__(self, script: Script, host: str = "127.0.0.1", port: int = 0) -> None:
        self.script = script
        self.calls: list[CallRecord] = []
        self.request_bodies: list[bytes] = []  # every request as it arrived, for tests that look for leaks
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def api_base(self) -> str:
        host, port = str(self._server.server_address[0]), int(self._server.server_address[1])
        return f"http://{host}:{port}/v1"

    def start(self) -> ScriptedModelServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-model", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ScriptedModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        messages = request.get("messages") or []
        turn = self.script.turn_for(messages)
        index = sum(1 for m in messages if m.get("role") == "assistant")
        last_user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
        if turn.get("delay_ms"):
            time.sleep(float(turn["delay_ms"]) / 1000)
        if turn.get("error"):
            status = int(turn["error"])
            with self._lock:
                self.calls.append(CallRecord(index, len(messages), status, last_user))
            return status, {"error": {"message": turn.get("message", "scripted failure"), "type": "server_error"}}
        content = str(turn.get("content", ""))
        prompt = "".join(str(m.get("content", "")) for m in messages)
        usage = {
            "prompt_tokens": int(turn.get("prompt_tokens") or _tokens(prompt)),
            "completion_tokens": int(turn.get("completion_tokens") or _tokens(content)),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        with self._lock:
            self.calls.append(CallRecord(index, len(messages), 200, last_user))
        return 200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", MODEL_NAME),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": usage,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with server._lock:
                    server.request_bodies.append(raw)
                try:
                    request = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "bad JSON"}})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                self._send(*server.answer(request))

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler

"""Rate limits, injected faults and the request log: what the forge does to traffic before serving it."""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

PRIMARY_LIMIT = 5000
ANONYMOUS_LIMIT = 60
WINDOW_SECONDS = 3600


@dataclass
class Faults:
    """Faults switchable at runtime. Counters (`*_next`) apply to that many upcoming API requests."""

    error_rate: float = 0.0
    error_status: int = 502
    latency_ms: int = 0
    secondary_rate_limit_next: int = 0
    retry_after: int = 1
    too_many_requests_next: int = 0
    exhaust_primary: bool = False
    path_pattern: str | None = None
    method_pattern: str | None = None  # e.g. "POST|PATCH": only these methods see the faults
    answer_delay_ms: int = 0  # served (a write applied), then the answer held back this long: a slow GitHub
    seed: int = 0

    def applies(self, path: str, method: str) -> bool:
        if self.path_pattern and not re.search(self.path_pattern, path):
            return False
        return not self.method_pattern or re.fullmatch(self.method_pattern, method.upper()) is not None

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}; known: {sorted(known)}")
        for name, value in changes.items():
            setattr(self, name, value)


@dataclass
class LoggedRequest:
    method: str
    path: str
    status: int
    counted: bool
    user: str | None
    at: float
    duration_ms: float


@dataclass
class Window:
    start: float
    used: int = 0


@dataclass
class Verdict:
    """What the traffic rules decided for one request before it is served."""

    status: int | None = None
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class Traffic:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.faults = Faults()
        self._random = random.Random(0)
        self._windows: dict[str, Window] = {}
        self._log: list[LoggedRequest] = []

    # --- faults ---------------------------------------------------------------------------

    def set_faults(self, **changes: Any) -> Faults:
        with self._lock:
            self.faults.update(changes)
            if "seed" in changes:
                self._random = random.Random(self.faults.seed)
            return self.faults

    def clear_faults(self) -> None:
        with self._lock:
            self.faults = Faults()
            self._random = random.Random(0)

    def answer_delay(self, path: str, method: str) -> float:
        """Seconds to hold back the answer of a request already served (`answer_delay_ms`)."""
        with self._lock:
            f = self.faults
            return f.answer_delay_ms / 1000.0 if f.answer_delay_ms and f.applies(path, method) else 0.0

    def fault_for(self, path: str, method: str = "GET") -> Verdict | None:
        """An injected answer for this request, if any fault applies (latency is slept here)."""
        with self._lock:
            f = self.faults
            if not f.applies(path, method):
                return None
            delay = f.latency_ms / 1000.0
            verdict: Verdict | None = None
            if f.secondary_rate_limit_next > 0:
                f.secondary_rate_limit_next -= 1
                verdict = Verdict(
                    403,
                    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                    {"Retry-After": str(f.retry_after)},
                )
            elif f.too_many_requests_next > 0:
                f.too_many_requests_next -= 1
                verdict = Verdict(429, "Too Many Requests", {"Retry-After": str(f.retry_after)})
            elif f.error_rate > 0 and self._random.random() < f.error_rate:
                verdict = Verdict(f.error_status, "Server Error (injected by the forge)")
        if delay:
            time.sleep(delay)
        return verdict

    # --- primary rate limit -----------------------------------------------------------------

    def _window(self, who: str) -> Window:
        now = time.time()
        window = self._windows.get(who)
        if window is None or now >= window.start + WINDOW_SECONDS:
            window = self._windows[who] = Window(start=now)
        return window

    def limit_headers(self, who: str, authenticated: bool, spend: bool) -> tuple[bool, dict[str, str]]:
        """Spend one point if `spend`; returns whether the request may proceed and the headers."""
        limit = PRIMARY_LIMIT if authenticated else ANONYMOUS_LIMIT
        with self._lock:
            window = self._window(who)
            exhausted = self.faults.exhaust_primary or window.used >= limit
            if spend and not exhausted:
                window.used += 1
            remaining = 0 if self.faults.exhaust_primary else max(limit - window.used, 0)
            headers = {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(int(window.start) + WINDOW_SECONDS),
                "X-RateLimit-Used": str(window.used),
                "X-RateLimit-Resource": "core",
            }
        return not (spend and exhausted), headers

    def usage(self, who: str, authenticated: bool) -> tuple[int, int, int, int]:
        limit = PRIMARY_LIMIT if authenticated else ANONYMOUS_LIMIT
        with self._lock:
            window = self._window(who)
            remaining = 0 if self.faults.exhaust_primary else max(limit - window.used, 0)
            return limit, remaining, int(window.start) + WINDOW_SECONDS, window.used

    # --- request log ----------------------------------------------------------------------------

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def requests(self, since: int = 0) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log[since:])

    def request_count(self) -> int:
        with self._lock:
            return len(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def as_json(self, since: int = 0) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.requests(since)]

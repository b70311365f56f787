"""The forge as a Python object: start it, seed it, and act as any of its users."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from .server import ForgeHTTPServer
from .service import Service
from .store import Row, Store
from .traffic import Faults, LoggedRequest, Traffic


class Forge:
    """A local GitHub stand-in whose state lives under `directory` and survives restarts."""

    def __init__(self, directory: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.directory / "forge.sqlite3")
        self.service = Service(self.store, self.directory / "git")
        self.traffic = Traffic()
        self._address = (host, port)
        self._server: ForgeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Forge:
        self._server = ForgeHTTPServer(self._address, self.service, self.traffic)
        self._thread = threading.Thread(target=self._server.serve_forever, name="forge", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server = ForgeHTTPServer(self._address, self.service, self.traffic)
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.store.close()

    def __enter__(self) -> Forge:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API base URL, to give PyGithub as `base_url`."""
        if self._server is None:
            raise RuntimeError("the forge is not running")
        host, port = str(self._server.server_address[0]), int(self._server.server_address[1])
        return f"http://{host}:{port}"

    # --- people and repositories ---------------------------------------------------------------

    def create_user(self, login: str, name: str | None = None) -> str:
        """Creates (or finds) a user and returns a new token for them."""
        return self.store.create_user(login, name)[1]

    def token(self, login: str) -> str:
        return self.store.token_of(login)

    def user(self, login: str) -> Row:
        user = self.store.user(login)
        if user is None:
            raise KeyError(f"no forge user {login!r}")
        return user

    def repo(self, full_name: str) -> Row:
        owner, _, name = full_name.partition("/")
        repo = self.store.repo(owner, name)
        if repo is None:
            raise KeyError(f"no forge repository {full_name!r}")
        return repo

    def create_repo(
        self,
        full_name: str,
        files: dict[str, str] | None = None,
        private: bool = False,
        description: str | None = None,
        default_branch: str = "main",
    ) -> str:
        owner_login, _, name = full_name.partition("/")
        if self.store.user(owner_login) is None:
            self.create_user(owner_login)
        self.service.create_repo(self.user(owner_login), name, description, private, default_branch, files)
        return full_name

    def grant(self, full_name: str, login: str, permission: str) -> None:
        self.service.grant(self.repo(full_name), self.user(login), permission)

    def clone_url(self, full_name: str) -> str:
        repo = self.repo(full_name)
        return f"{self.url}/{repo['owner_login']}/{repo['name']}.git"

    def git_dir(self, full_name: str) -> Path:
        return self.service.git(self.repo(full_name)).path

    def as_user(self, login: str) -> Actor:
        return Actor(self, self.user(login))

    # --- traffic ---------------------------------------------------------------------------------

    def set_faults(self, **changes: Any) -> Faults:
        return self.traffic.set_faults(**changes)

    def clear_faults(self) -> None:
        self.traffic.clear_faults()

    def requests(self, since: int = 0) -> list[LoggedRequest]:
        return self.traffic.requests(since)

    def request_mark(self) -> int:
        """A position in the request log; `requests(mark)` gives what came after."""
        return self.traffic.request_count()


class Actor:
    """Acts on the forge as one user, through the same service the HTTP API uses."""

    def __init__(self, forge: Forge, user: Row) -> None:
        self.forge = forge
        self.user = user
        self.service = forge.service

    def _issue(self, full_name: str, number: int) -> tuple[Row, Row]:
        repo = self.forge.repo(full_name)
        return repo, self.service.find_issue(repo, number)

    def create_issue(self, full_name: str, title: str, body: str = "", labels: list[str] | None = None) -> int:
        issue = self.service.create_issue(self.forge.repo(full_name), self.user, title, body, labels)
        return int(issue["number"])

    def label(self, full_name: str, number: int, *names: str) -> None:
        repo, issue = self._issue(full_name, number)
        self.service.add_labels(repo, issue, self.user, list(names))

    def unlabel(self, full_name: str, number: int, name: str) -> None:
        repo, issue = self._issue(full_name, number)
        self.service.remove_label(repo, issue, self.user, name)

    def comment(self, full_name: str, number: int, body: str) -> int:
        repo, issue = self._issue(full_name, number)
        return int(self.service.comment(repo, issue, self.user, body)["id"])

    def react(self, full_name: str, number: int, content: str) -> None:
        repo, issue = self._issue(full_name, number)
        self.service.react(repo, "issue", issue["id"], self.user, content)

    def react_to_comment(self, full_name: str, comment_id: int, content: str) -> None:
        repo = self.forge.repo(full_name)
        self.service.react(repo, "comment", self.service.find_comment(repo, comment_id)["id"], self.user, content)

    def close(self, full_name: str, number: int, reason: str = "completed") -> None:
        repo, issue = self._issue(full_name, number)
        self.service.edit_issue(repo, issue, self.user, {"state": "closed", "state_reason": reason})

    def review(
        self,
        full_name: str,
        number: int,
        event: str,
        body: str = "",
        comments: list[dict[str, Any]] | None = None,
    ) -> int:
        repo = self.forge.repo(full_name)
        issue, pull = self.service.find_pull(repo, number)
        return int(self.service.review(repo, issue, pull, self.user, event, body, comments)["id"])

    def merge(self, full_name: str, number: int, method: str = "merge") -> str:
        repo = self.forge.repo(full_name)
        issue, pull = self.service.find_pull(repo, number)
        if pull["draft"]:
            self.service.edit_pull(repo, issue, pull, self.user, {"draft": False})
            issue, pull = self.service.find_pull(repo, number)
        return self.service.merge(repo, issue, pull, self.user, None, None, None, method)

    def head_sha(self, full_name: str, number: int) -> str:
        _, pull = self.service.find_pull(self.forge.repo(full_name), number)
        return str(pull["head_sha"])

    def status(self, full_name: str, ref: str, state: str, context: str = "ci", description: str = "") -> None:
        self.service.create_status(
            self.forge.repo(full_name),
            self.user,
            ref,
            {"state": state, "context": context, "description": description},
        )

    def check_run(self, full_name: str, ref: str, name: str, conclusion: str | None, summary: str = "") -> int:
        fields: dict[str, Any] = {
            "name": name,
            "head_sha": ref,
            "output": {"title": name, "summary": summary},
        }
        fields.update({"status": "completed", "conclusion": conclusion} if conclusion else {"status": "in_progress"})
        return int(self.service.create_check_run(self.forge.repo(full_name), self.user, fields)["id"])

"""A stand-in for the GitHub REST API on 127.0.0.1, for the `--pr` tests.

It serves the endpoints that `cio-fix --apply --pr` uses, keeps pull
requests, comments and labels in memory, and records every request. Each
request is checked the way GitHub would check it (method, path, headers,
body fields). A request that breaks a rule gets a 4xx response, and its
problem is kept in `problems` for the tests to check.
"""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

API_VERSION = "2022-11-28"
# The server shuts itself down after this many seconds, even when a test
# does not stop it.
LIFETIME = 120

CREATE_FIELDS = {
    "title",
    "head",
    "head_repo",
    "base",
    "body",
    "maintainer_can_modify",
    "draft",
    "issue",
}
UPDATE_FIELDS = {"title", "body", "state", "base", "maintainer_can_modify"}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    # Header names in lower case.
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    """The state of one fake repository and the requests made to it."""

    token: str
    bare: Path
    repository: str = "owner/repo"
    default_branch: str = "main"
    prefix: str = "/api/v3"
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: list[tuple[int, str]] = field(default_factory=list)
    labels: dict[int, list[str]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # (status, message) of the error response to the next request.
    fail_next: tuple[int, str] | None = None
    # (status, message, headers) of the error responses to the next requests,
    # one each, in order: rate limits.
    limit_next: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    # (status, Location) of the redirect response to the next request.
    redirect_next: tuple[int, str] | None = None
    # Headers of the response to the last request.
    response_headers: dict[str, str] = field(default_factory=dict)
    url: str = ""

    @property
    def html_url(self) -> str:
        return f"https://github.invalid/{self.repository}"

    def open_pulls(self) -> list[dict[str, Any]]:
        return [pull for pull in self.pulls.values() if pull["state"] == "open"]

    # Request handling: return (status, JSON document).

    def handle(
        self, method: str, target: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any]:
        parts = urllib.parse.urlsplit(target)
        query = urllib.parse.parse_qs(parts.query)
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return self._problem(400, f"{method} {parts.path}: body is not JSON")
        self.requests.append(Recorded(method, parts.path, query, headers, body))

        self.response_headers = {}
        problem = self._check_headers(method, headers, raw)
        if problem:
            return self._problem(401 if "Authorization" in problem else 400, problem)
        if self.redirect_next is not None:
            status, location = self.redirect_next
            self.redirect_next = None
            self.response_headers = {"Location": location}
            return status, {"message": "Moved"}
        if self.fail_next is not None:
            status, message = self.fail_next
            self.fail_next = None
            return status, {
                "message": message,
                "documentation_url": "https://docs.github.com/rest",
            }
        if self.limit_next:
            status, message, limit_headers = self.limit_next.pop(0)
            self.response_headers = dict(limit_headers)
            return status, {
                "message": message,
                "documentation_url": "https://docs.github.com/rest",
            }

        repo = f"{self.prefix}/repos/{self.repository}"
        path = parts.path
        if method == "GET" and path == repo:
            return 200, {
                "full_name": self.repository,
                "default_branch": self.default_branch,
                "html_url": self.html_url,
            }
        if method == "GET" and path == f"{repo}/pulls":
            return self._list_pulls(query)
        if method == "POST" and path == f"{repo}/pulls":
            return self._create_pull(body)
        number = _number_after(path, f"{repo}/pulls/")
        if method == "PATCH" and number is not None:
            return self._update_pull(number, body)
        number = _number_before(path, f"{repo}/issues/", "/comments")
        if method == "POST" and number is not None:
            return self._comment(number, body)
        number = _number_before(path, f"{repo}/issues/", "/labels")
        if method == "POST" and number is not None:
            return self._add_labels(number, body)
        return self._problem(
            404, f"{method} {path}: no such endpoint", message="Not Found"
        )

    def _check_headers(self, method: str, headers: dict[str, str], raw: bytes) -> str:
        if headers.get("authorization") != f"Bearer {self.token}":
            return "Authorization header is not `Bearer <token>`"
        if headers.get("accept") != "application/vnd.github+json":
            return f"Accept header is {headers.get('accept')!r}"
        if headers.get("x-github-api-version") != API_VERSION:
            return f"X-GitHub-Api-Version header is {headers.get('x-github-api-version')!r}"
        if not headers.get("user-agent"):
            return "User-Agent header is missing"
        if method in ("POST", "PATCH"):
            if not headers.get("content-type", "").startswith("application/json"):
                return f"{method} without a JSON Content-Type"
            if not raw:
                return f"{method} without a body"
        if method == "GET" and raw:
            return "GET with a body"
        return ""

    def _problem(
        self, status: int, problem: str, message: str = "Validation Failed"
    ) -> tuple[int, Any]:
        self.problems.append(problem)
        return status, {"message": message, "errors": [{"message": problem}]}

    def _list_pulls(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        owner = self.repository.split("/")[0]
        head = query.get("head", [""])[0]
        state = query.get("state", ["open"])[0]
        if state not in ("open", "closed", "all"):
            return self._problem(422, f"list pulls with state={state!r}")
        base = query.get("base", [""])[0]
        if head and not head.startswith(f"{owner}:"):
            return self._problem(
                422, f"list pulls with head={head!r}, expected {owner}:BRANCH"
            )
        branch = head.split(":", 1)[1] if head else None
        found = [
            pull
            for pull in self.pulls.values()
            if branch in (None, pull["head"]["ref"])
            and base in ("", pull["base"]["ref"])
            and state in ("all", pull["state"])
        ]
        if query.get("direction") == ["desc"]:
            found.reverse()
        return 200, found

    def close(self, number: int, merged: bool = False) -> None:
        """Close pull request `number` as a reviewer would, merged or not."""
        pull = self.pulls[number]
        pull["state"] = "closed"
        pull["merged_at"] = "2024-01-01T00:00:00Z" if merged else None

    def _create_pull(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return self._problem(422, "create pull: body is not an object")
        unknown = set(body) - CREATE_FIELDS
        if unknown:
            return self._problem(422, f"create pull: unknown fields {sorted(unknown)}")
        for name in ("title", "head", "base", "body"):
            if not isinstance(body.get(name), str):
                return self._problem(
                    422, f"create pull: {name} is missing or not a string"
                )
        if len(body["body"]) > 65_536:
            return self._problem(
                422, "create pull: body is too long (maximum is 65536 characters)"
            )
        head_sha = self._branch_commit(body["head"])
        if head_sha is None or self._branch_commit(body["base"]) is None:
            return self._problem(
                422,
                f"create pull: head {body['head']} or base {body['base']} not found",
            )
        for pull in self.open_pulls():
            if (
                pull["head"]["ref"] == body["head"]
                and pull["base"]["ref"] == body["base"]
            ):
                return self._problem(
                    422, f"A pull request already exists for {body['head']}."
                )
        number = len(self.pulls) + 1
        pull = {
            "number": number,
            "state": "open",
            "title": body["title"],
            "body": body["body"],
            "html_url": f"{self.html_url}/pull/{number}",
            "head": {"ref": body["head"], "sha": head_sha},
            "base": {"ref": body["base"]},
            "merged_at": None,
        }
        self.pulls[number] = pull
        return 201, pull

    def _update_pull(self, number: int, body: Any) -> tuple[int, Any]:
        if number not in self.pulls:
            return self._problem(
                404, f"update pull #{number}: not found", message="Not Found"
            )
        if not isinstance(body, dict) or not body:
            return self._problem(422, "update pull: body is not a non-empty object")
        unknown = set(body) - UPDATE_FIELDS
        if unknown:
            return self._problem(422, f"update pull: unknown fields {sorted(unknown)}")
        if "state" in body and body["state"] not in ("open", "closed"):
            return self._problem(422, f"update pull: state {body['state']!r}")
        if len(body.get("body") or "") > 65_536:
            return self._problem(
                422, "update pull: body is too long (maximum is 65536 characters)"
            )
        pull = self.pulls[number]
        for name in ("title", "body", "state"):
            if name in body:
                pull[name] = body[name]
        if "base" in body:
            pull["base"] = {"ref": body["base"]}
        pull["head"]["sha"] = (
            self._branch_commit(pull["head"]["ref"]) or pull["head"]["sha"]
        )
        return 200, pull

    def _comment(self, number: int, body: Any) -> tuple[int, Any]:
        if number not in self.pulls:
            return self._problem(
                404, f"comment on #{number}: not found", message="Not Found"
            )
        if (
            not isinstance(body, dict)
            or set(body) != {"body"}
            or not isinstance(body["body"], str)
        ):
            return self._problem(422, "comment: the body must be exactly {'body': str}")
        self.comments.append((number, body["body"]))
        return 201, {"id": len(self.comments), "body": body["body"]}

    def _add_labels(self, number: int, body: Any) -> tuple[int, Any]:
        if number not in self.pulls:
            return self._problem(
                404, f"labels on #{number}: not found", message="Not Found"
            )
        labels = body.get("labels") if isinstance(body, dict) else None
        if not isinstance(labels, list) or not all(
            isinstance(label, str) for label in labels
        ):
            return self._problem(422, "labels: `labels` must be a list of strings")
        current = self.labels.setdefault(number, [])
        current.extend(label for label in labels if label not in current)
        return 200, [{"name": label} for label in current]

    def _branch_commit(self, branch: str) -> str | None:
        completed = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            cwd=self.bare,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return completed.stdout.strip() or None


def _number_after(path: str, prefix: str) -> int | None:
    rest = path[len(prefix) :] if path.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


def _number_before(path: str, prefix: str, suffix: str) -> int | None:
    if not (path.startswith(prefix) and path.endswith(suffix)):
        return None
    middle = path[len(prefix) : len(path) - len(suffix)]
    return int(middle) if middle.isdigit() else None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        # Header names are case-insensitive (urllib sends `X-github-api-version`).
        headers = {name.lower(): value for name, value in self.headers.items()}
        with self.server.lock:
            status, document = self.server.fake.handle(
                self.command, self.path, headers, raw
            )
            extra_headers = dict(self.server.fake.response_headers)
        data = json.dumps(document).encode()
        self.send_response(status)
        for name, value in extra_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeGitHub) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.lock = threading.Lock()


class StubServer:
    """Serve `fake` on 127.0.0.1 in a background thread until `stop` (or LIFETIME seconds)."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self._server = _Server(fake)
        host, port = self._server.server_address[:2]
        fake.url = f"http://{host}:{port}{fake.prefix}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
        )
        self._timer = threading.Timer(LIFETIME, self._server.shutdown)
        self._timer.daemon = True

    def start(self) -> StubServer:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _RecordingHandler(BaseHTTPRequestHandler):
    server: _RecordingServer

    def _answer(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        with self.server.lock:
            self.server.requests.append(
                Recorded(self.command, self.path, {}, headers, None)
            )
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="other host"')
        self.send_header("Content-Type", "application/json; charset=utf-8")
        data = b'{"message": "login required"}'
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _RecordingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.lock = threading.Lock()
        self.requests: list[Recorded] = []


class OtherHost:
    """A host that is not GitHub, on 127.0.0.1: it records each request and requests a login.

    It stands for a mirror, a GitLab server or a login page, which must never
    see the token. Every request gets `401` with `WWW-Authenticate: Basic`,
    so that git requests a password from its credential helpers.
    """

    def __init__(self) -> None:
        self._server = _RecordingServer()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
        )
        self._timer = threading.Timer(LIFETIME, self._server.shutdown)
        self._timer.daemon = True

    @property
    def requests(self) -> list[Recorded]:
        with self._server.lock:
            return list(self._server.requests)

    def start(self) -> OtherHost:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

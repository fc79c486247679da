"""A small GitHub REST API client on urllib: the repository and its pull requests.

Endpoints and fields as documented for the REST API version 2022-11-28;
GitHub Enterprise Server serves the same paths below `https://HOST/api/v3`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import IO, Any

from cio_fix import __version__

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
# Seconds to wait for one API response.
TIMEOUT = 30
# A request rejected by a rate limit (HTTP 403 or 429) is sent again after the
# wait that GitHub requests, up to this many seconds in all for one run. A
# longer wait fails the run, and the error gives the time the limit ends when
# GitHub names it.
RATE_LIMIT_PATIENCE = 180
# The first wait after a secondary rate limit that names no wait, doubled on
# each such retry, as GitHub's "Rate limits for the REST API" page advises.
SECONDARY_LIMIT_WAIT = 60
# Retries of rate-limited requests per run, whatever the waits: a limit that
# keeps returning `Retry-After: 0` must not keep the run going.
MAX_RATE_LIMIT_RETRIES = 10
# The shortest wait before a retry.
MIN_RATE_LIMIT_WAIT = 1.0

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class GitHubError(Exception):
    """A failed API request: the message has the request, the HTTP status and GitHub's message."""


class _CrossOriginRedirect(Exception):
    """A redirect to another scheme, host or port than the API's."""

    def __init__(self, code: int, location: str) -> None:
        super().__init__(location)
        self.code = code
        self.location = location


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only within the API's scheme, host and port.

    urllib copies the request headers, `Authorization` too, into the
    redirected request, so a redirect elsewhere would hand the token over.
    """

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            fp.close()
            raise _CrossOriginRedirect(code, newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


@dataclass(frozen=True)
class PullRequest:
    number: int
    html_url: str
    body: str
    head_sha: str
    base: str
    title: str = ""
    # The branch the pull request merges.
    head_ref: str = ""
    # "open" or "closed"; a merged pull request is closed and `merged`.
    state: str = "open"
    merged: bool = False


def valid_repository(name: str) -> bool:
    return bool(_REPOSITORY.match(name))


class GitHub:
    """The REST API of one repository, authenticated with a token."""

    def __init__(
        self, api_url: str, token: str, repository: str, timeout: float = TIMEOUT
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self._token = token
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_SameOriginRedirects())
        # Seconds left to wait for rate limits in this run.
        self._patience = float(RATE_LIMIT_PATIENCE)
        self._retries = 0
        # Retries after limits that named no wait, for the doubling.
        self._unnamed_retries = 0

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> Any:
        """Send one request and return the decoded JSON response (None for an empty one).

        A request rejected by a rate limit is sent again once the limit
        allows it, as long as the run's patience lasts.
        """
        while True:
            try:
                return self._request_once(method, path, body)
            except _RateLimited as limited:
                named = limited.wait is not None
                if named:
                    wait = max(limited.wait, MIN_RATE_LIMIT_WAIT)
                else:
                    wait = float(SECONDARY_LIMIT_WAIT * 2**self._unnamed_retries)
                failed = (
                    f"{method} {path} failed: HTTP {limited.status}: {limited.message}"
                )
                if named and wait > self._patience:
                    raise GitHubError(
                        f"{failed}; GitHub's rate limit allows the next request at"
                        f" {_clock_time(time.time() + wait)} UTC, so run cio-fix again"
                        " after that"
                    ) from None
                if wait > self._patience or self._retries >= MAX_RATE_LIMIT_RETRIES:
                    raise GitHubError(
                        f"{failed}; GitHub's rate limit still rejected the request after"
                        f" {_count(self._retries, 'retry', 'retries')} over"
                        f" {_duration(RATE_LIMIT_PATIENCE - self._patience)}, so run"
                        " cio-fix again later"
                    ) from None
                self._patience -= wait
                self._retries += 1
                if not named:
                    self._unnamed_retries += 1
                _notice(
                    f"cio-fix: GitHub's rate limit rejected {method} {path};"
                    f" sending it again in {_duration(wait)}"
                )
                _sleep(wait)

    def _request_once(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        url = self.api_url + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {self._token}",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"cio-fix/{__version__}",
        }
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        logger.debug("%s %s", method, url)
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                raw = response.read()
        except _CrossOriginRedirect as redirect:
            raise GitHubError(
                f"{method} {path} failed: the API redirected to"
                f" {_without_query(redirect.location)} (HTTP {redirect.code}), another host than"
                f" {_without_query(self.api_url)}; cio-fix sends the token only to the host of"
                " GITHUB_API_URL, so set GITHUB_API_URL to the API's own address"
            ) from None
        except urllib.error.HTTPError as error:
            message = _github_message(error)
            if _rate_limited(error.code, error.headers, message):
                wait = _rate_limit_wait(error.headers)
                raise _RateLimited(error.code, message, wait) from None
            raise GitHubError(
                f"{method} {path} failed: HTTP {error.code}: {message}"
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise GitHubError(
                f"{method} {path} failed: cannot reach {self.api_url} ({reason});"
                " check GITHUB_API_URL and the network"
            ) from None
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise GitHubError(
                f"{method} {path} returned a response that is not JSON"
            ) from None

    def _repo_path(self, suffix: str = "") -> str:
        return f"/repos/{self.repository}{suffix}"

    def repository_info(self) -> dict[str, Any]:
        """GET /repos/{owner}/{repo}: `default_branch`, `html_url` and the rest."""
        info = self.request("GET", self._repo_path())
        if not isinstance(info, dict) or not isinstance(
            info.get("default_branch"), str
        ):
            raise GitHubError(f"GET {self._repo_path()} returned no default_branch")
        return info

    def branch_pulls(self, branch: str) -> list[PullRequest]:
        """Return the pull requests whose head is `branch` of this repository, newest first.

        Every state counts: open, closed and merged. Only the first 100 are
        read, which covers years of weekly bot runs.
        """
        owner = self.repository.split("/")[0]
        pulls = self._list_pulls(
            {
                "state": "all",
                "head": f"{owner}:{branch}",
                "sort": "created",
                "direction": "desc",
            }
        )
        return sorted(pulls, key=lambda pull: pull.number, reverse=True)

    def open_pulls(self, base: str) -> list[PullRequest]:
        """Return the open pull requests into `base`; only the first 100 are read."""
        return self._list_pulls({"state": "open", "base": base})

    def _list_pulls(self, parameters: dict[str, str]) -> list[PullRequest]:
        """Return the first 100 pull requests that GET /pulls lists for `parameters`."""
        query = urllib.parse.urlencode({**parameters, "per_page": 100})
        items = self.request("GET", self._repo_path(f"/pulls?{query}"))
        if not isinstance(items, list):
            raise GitHubError(
                f"GET {self._repo_path('/pulls')} returned no list of pull requests"
            )
        return [_pull(item) for item in items]

    def create_pull(self, title: str, head: str, base: str, body: str) -> PullRequest:
        fields = {
            "title": title,
            "head": head,
            "base": base,
            "body": body,
            "maintainer_can_modify": True,
        }
        return _pull(self.request("POST", self._repo_path("/pulls"), fields))

    def update_pull(
        self, number: int, title: str | None, base: str, body: str
    ) -> PullRequest:
        """Update a pull request; a `title` of None keeps the one it has."""
        fields = {"base": base, "body": body}
        if title is not None:
            fields["title"] = title
        return _pull(self.request("PATCH", self._repo_path(f"/pulls/{number}"), fields))

    def update_body(self, number: int, body: str) -> None:
        self.request("PATCH", self._repo_path(f"/pulls/{number}"), {"body": body})

    def close_pull(self, number: int) -> None:
        self.request("PATCH", self._repo_path(f"/pulls/{number}"), {"state": "closed"})

    def comment(self, number: int, body: str) -> None:
        # Pull requests take comments through the issues API.
        self.request(
            "POST", self._repo_path(f"/issues/{number}/comments"), {"body": body}
        )

    def add_labels(self, number: int, labels: list[str]) -> None:
        self.request(
            "POST", self._repo_path(f"/issues/{number}/labels"), {"labels": labels}
        )


class _RateLimited(Exception):
    """A response that a rate limit rejected, with the seconds to wait before a retry.

    The wait is None when GitHub names none.
    """

    def __init__(self, status: int, message: str, wait: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.wait = wait


def _rate_limited(status: int, headers: Message, message: str) -> bool:
    """Tell whether an error response is a rate limit's, not a missing permission's.

    A rate limit responds with 403 or 429, with `Retry-After`, with
    `x-ratelimit-remaining: 0`, or with a message that names the limit.
    """
    if status not in (403, 429):
        return False
    if status == 429 or "rate limit" in message.lower():
        return True
    remaining = (headers.get("X-RateLimit-Remaining") or "").strip()
    return remaining == "0" or headers.get("Retry-After") is not None


def _rate_limit_wait(headers: Message) -> float | None:
    """Return the seconds to wait before the retry, or None when GitHub names no wait.

    `Retry-After` gives seconds. An exhausted primary limit ends at the
    epoch second in `x-ratelimit-reset`.
    """
    retry_after = (headers.get("Retry-After") or "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    if retry_after:
        # The other form of the header is an HTTP date.
        try:
            moment = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return max(moment.timestamp() - time.time(), 0.0)
    reset = (headers.get("X-RateLimit-Reset") or "").strip()
    remaining = (headers.get("X-RateLimit-Remaining") or "").strip()
    if remaining == "0" and reset.isdigit():
        return max(float(reset) - time.time(), 0.0) + 1.0
    return None


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def _notice(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _clock_time(epoch: float) -> str:
    return time.strftime("%H:%M", time.gmtime(epoch))


def _duration(seconds: float) -> str:
    return _count(max(round(seconds), 1), "second", "seconds")


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _origin(url: str) -> str:
    """Return `scheme://host:port` of `url`, with the scheme's default port filled in."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if scheme == "https" else 80
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def _without_query(url: str) -> str:
    """Return `url` without user name, password, query and fragment, for messages."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    try:
        if parts.port is not None:
            netloc += f":{parts.port}"
    except ValueError:
        pass
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _pull(item: Any) -> PullRequest:
    if not isinstance(item, dict) or not isinstance(item.get("number"), int):
        raise GitHubError("the API returned a pull request without a number")
    head = item.get("head") or {}
    base = item.get("base") or {}
    return PullRequest(
        number=item["number"],
        html_url=str(item.get("html_url", "")),
        body=str(item.get("body") or ""),
        head_sha=str(head.get("sha", "")),
        base=str(base.get("ref", "")),
        title=str(item.get("title") or ""),
        head_ref=str(head.get("ref", "")),
        state=str(item.get("state") or "open"),
        # Lists give `merged_at`; a single pull request also gives `merged`.
        merged=bool(item.get("merged_at")) or item.get("merged") is True,
    )


def _github_message(error: urllib.error.HTTPError) -> str:
    """Return GitHub's `message` (and the `errors` details) of an error response."""
    try:
        document = json.loads(error.read() or b"{}")
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    message = str(document.get("message") or error.reason or "no message")
    details = []
    for item in document.get("errors") or []:
        if isinstance(item, dict):
            details.append(str(item.get("message") or item.get("code") or item))
        else:
            details.append(str(item))
    if details:
        message += " (" + "; ".join(details) + ")"
    return message

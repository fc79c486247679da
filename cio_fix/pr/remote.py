"""The `origin` remote: which GitHub repository it names, and whether the token may go there.

cio-fix sends the token only to a GitHub host: github.com, or the hosts
of GITHUB_SERVER_URL and GITHUB_API_URL (GitHub Enterprise Server). Every
URL that git fetches from or pushes to for `origin` must be on one of
them, or be a local path, to which git sends no credentials.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cio_fix.pr.git import Git
from cio_fix.pr.github import valid_repository

REMOTE = "origin"
DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git"})

# `user@host:path`, which git reads as ssh when no slash comes before the colon.
_SCP_URL = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>.*)$")
# `transport::address`, which hands the URL to a remote helper program.
_REMOTE_HELPER_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")


class RemoteError(Exception):
    """`origin` is missing, or is not a GitHub repository the token may be sent to."""


@dataclass(frozen=True)
class Host:
    """A host name in lower case and its port; port None is the default port of the scheme."""

    name: str
    port: int | None = None

    def __str__(self) -> str:
        return self.name if self.port is None else f"{self.name}:{self.port}"


@dataclass(frozen=True)
class Location:
    """The scheme of a git URL ("local" for a path or file://) and its host."""

    scheme: str
    host: Host | None


def github_hosts(environ: Mapping[str, str]) -> set[Host]:
    """Return the hosts that count as GitHub: github.com and the configured server."""
    hosts = {Host("github.com")}
    for variable in ("GITHUB_SERVER_URL", "GITHUB_API_URL"):
        value = environ.get(variable, "")
        if not value:
            continue
        host = _url_host(urllib.parse.urlsplit(value))
        if host is None:
            continue
        hosts.add(host)
        if host.name.startswith("api."):
            hosts.add(Host(host.name[len("api.") :], host.port))
    return hosts


def credential_hosts(hosts: Iterable[Host]) -> tuple[str, ...]:
    """Return the `host=` values of git's credential requests that may get the token.

    git sends `host:port` when the URL names a port, also the default one.
    """
    values: list[str] = []
    for host in hosts:
        values.append(str(host))
        if host.port is None:
            values.append(f"{host.name}:{DEFAULT_PORTS['https']}")
    return tuple(sorted(set(values)))


def locate(url: str) -> Location:
    """Return the scheme and host of a git URL, as git itself reads the URL."""
    if _REMOTE_HELPER_URL.match(url):
        return Location(url.split("::", 1)[0].lower(), None)
    if "://" in url:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            return Location("local", None)
        return Location(scheme, _url_host(parts))
    match = _SCP_URL.match(url)
    if match is not None:
        return Location("ssh", Host(match.group("host").lower()))
    return Location("local", None)


def on_github(location: Location, hosts: set[Host]) -> bool:
    """Tell whether `location` is on a GitHub host; ssh compares host names only."""
    if location.host is None:
        return False
    if location.scheme in SSH_SCHEMES:
        return location.host.name in {host.name for host in hosts}
    if location.scheme in ("https", "http"):
        return location.host in hosts
    return False


def check_origin(git: Git, environ: Mapping[str, str]) -> None:
    """Raise RemoteError unless each fetch and push URL of origin is GitHub (https, ssh) or local.

    The URLs are those git uses, after `insteadOf` and `pushInsteadOf`.
    """
    hosts = github_hosts(environ)
    for url in git.remote_urls(REMOTE) + git.remote_urls(REMOTE, push=True):
        location = locate(url)
        if location.scheme == "local":
            continue
        shown = without_credentials(url)
        if not on_github(location, hosts):
            raise RemoteError(
                f"the {REMOTE} remote ({shown}) is not on GitHub"
                f" ({', '.join(sorted(str(host) for host in hosts))}), and cio-fix sends the"
                f" token only to GitHub; point {REMOTE} at the GitHub repository, set"
                " GITHUB_SERVER_URL for GitHub Enterprise Server, or use --pr-body FILE"
                " with your own tooling"
            )
        if location.scheme == "http":
            raise RemoteError(
                f"the {REMOTE} remote ({shown}) uses http://, which would send the token"
                " unencrypted; use its https:// URL"
            )


def repository_from_url(url: str, hosts: set[Host]) -> str:
    """Return `owner/name` of a GitHub remote URL (https, ssh or scp-like)."""
    location = locate(url)
    shown = without_credentials(url)
    if location.scheme == "local":
        raise RemoteError(
            f"the {REMOTE} remote ({shown}) is not a GitHub repository; set"
            " GITHUB_REPOSITORY=owner/name, or use --pr-body FILE with your own tooling"
        )
    if not on_github(location, hosts):
        raise RemoteError(
            f"the {REMOTE} remote ({shown}) is not on GitHub"
            f" ({', '.join(sorted(str(host) for host in hosts))}); set GITHUB_API_URL and"
            " GITHUB_SERVER_URL for GitHub Enterprise Server, or use --pr-body FILE with"
            " your own tooling"
        )
    if "://" in url:
        path = urllib.parse.urlsplit(url).path
    else:
        match = _SCP_URL.match(url)
        assert match is not None
        path = match.group("path")
    name = path.strip("/").removesuffix(".git")
    if not valid_repository(name):
        raise RemoteError(
            f"cannot read owner/name from the {REMOTE} remote ({shown}); set GITHUB_REPOSITORY"
        )
    return name


def resolve_repository(environ: Mapping[str, str], git: Git) -> str:
    """Return `owner/name` from GITHUB_REPOSITORY, else from origin's configured URL."""
    url = git.remote_url(REMOTE)
    if url is None:
        raise RemoteError(
            f"the repository has no {REMOTE} remote; add it with"
            f" `git remote add {REMOTE} https://github.com/OWNER/NAME.git`"
        )
    named = environ.get("GITHUB_REPOSITORY", "").strip()
    if named:
        if not valid_repository(named):
            raise RemoteError(
                f"GITHUB_REPOSITORY={named!r} is not of the form owner/name"
            )
        return named
    return repository_from_url(url, github_hosts(environ))


def without_credentials(url: str) -> str:
    """Return `url` without a user name, password, query or fragment, for messages."""
    if "://" not in url:
        return url
    parts = urllib.parse.urlsplit(url)
    host = _url_host(parts)
    netloc = parts.hostname or ""
    if host is not None and host.port is not None:
        netloc += f":{host.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _url_host(parts: urllib.parse.SplitResult) -> Host | None:
    name = (parts.hostname or "").lower()
    if not name:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    if port == DEFAULT_PORTS.get(parts.scheme.lower()):
        port = None
    return Host(name, port)

"""The pull request settings: `[tool.cio-fix.pr]` merged with the `--pr-*` options."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

DEFAULT_BRANCH = "cio-fix/pitfalls"
DEFAULT_TITLE = "Fix Customer.io integration pitfalls"
DEFAULT_AUTHOR_NAME = "cio-fix[bot]"
DEFAULT_AUTHOR_EMAIL = "cio-fix[bot]@users.noreply.github.com"

# A git author e-mail: no spaces and no angle brackets, which would break
# the "Name <email>" header.
_EMAIL = re.compile(r"^[^\s<>]+@[^\s<>]+$")


class PrSettingsError(ValueError):
    """An invalid `[tool.cio-fix.pr]` value; the message names the key."""


@dataclass(frozen=True)
class PrSettings:
    """The bot branch, base, title, labels and commit identity of the pull request."""

    branch: str = DEFAULT_BRANCH
    # None: the repository's default branch, read from the GitHub API.
    base: str | None = None
    title: str = DEFAULT_TITLE
    labels: tuple[str, ...] = ()
    author_name: str = DEFAULT_AUTHOR_NAME
    author_email: str = DEFAULT_AUTHOR_EMAIL

    def with_options(self, **options: Any) -> PrSettings:
        """Return a copy with every option that is not None (or an empty tuple) replaced."""
        given = {
            name: value for name, value in options.items() if value not in (None, ())
        }
        return replace(self, **given)


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PrSettingsError(f"pr.{key} must be a non-empty string")
    return value.strip()


def _labels(key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(item, str) and item.strip() for item in value
    ):
        raise PrSettingsError(f"pr.{key} must be a list of non-empty strings")
    return tuple(item.strip() for item in value)


def _email(key: str, value: Any) -> str:
    text = _text(key, value)
    if not _EMAIL.match(text):
        raise PrSettingsError(
            f"pr.{key} must be an e-mail address such as {DEFAULT_AUTHOR_EMAIL}"
        )
    return text


_KEYS = {
    "branch": ("branch", _text),
    "base": ("base", _text),
    "title": ("title", _text),
    "labels": ("labels", _labels),
    "author-name": ("author_name", _text),
    "author-email": ("author_email", _email),
}


def parse_pr_table(key: str, value: Any, path: Path) -> PrSettings:
    """Validate `[tool.cio-fix.pr]`, with the signature of a `cio_fix.config.SCHEMA` validator."""
    if not isinstance(value, dict):
        raise _config_error(f"{path}: [tool.cio-fix] {key} must be a table")
    fields: dict[str, Any] = {}
    for name, item in value.items():
        if name not in _KEYS:
            raise _config_error(
                f"{path}: unknown key {key}.{name} in [tool.cio-fix];"
                f" expected one of {', '.join(sorted(_KEYS))}"
            )
        field_name, validate = _KEYS[name]
        try:
            fields[field_name] = validate(name, item)
        except PrSettingsError as error:
            raise _config_error(f"{path}: [tool.cio-fix] {error}") from error
    return PrSettings(**fields)


def _config_error(message: str) -> Exception:
    from cio_fix.config import ConfigError

    return ConfigError(message)

"""`[tool.cio-fix.pr]`: the pull request settings in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from cio_fix.config import ConfigError, load_config
from cio_fix.pr.settings import PrSettings


def load(tmp_path: Path, table: str):
    (tmp_path / "pyproject.toml").write_text(
        f"[tool.cio-fix.pr]\n{table}", encoding="utf-8"
    )
    return load_config(tmp_path).pr


def test_pr_settings_defaults(tmp_path: Path) -> None:
    settings = load_config(tmp_path).pr

    assert settings == PrSettings()
    assert settings.branch == "cio-fix/pitfalls"
    assert settings.base is None
    assert settings.author_name == "cio-fix[bot]"


def test_pr_settings_every_key(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        'branch = "bots/cio"\nbase = "develop"\ntitle = "T"\nlabels = ["a", "b"]\n'
        'author-name = "Bot"\nauthor-email = "bot@example.invalid"\n',
    )

    assert settings == PrSettings(
        "bots/cio", "develop", "T", ("a", "b"), "Bot", "bot@example.invalid"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('brnach = "x"\n', "unknown key pr.brnach"),
        ("branch = 1\n", "pr.branch must be a non-empty string"),
        ('title = " "\n', "pr.title must be a non-empty string"),
        ('labels = "bot"\n', "pr.labels must be a list of non-empty strings"),
        (
            'author-email = "not an address"\n',
            "pr.author-email must be an e-mail address",
        ),
    ],
)
def test_pr_settings_invalid(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, table)


def test_pr_settings_not_a_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.cio-fix]\npr = "yes"\n', encoding="utf-8"
    )

    with pytest.raises(ConfigError, match="pr must be a table"):
        load_config(tmp_path)


def test_pr_settings_options_override() -> None:
    settings = PrSettings(branch="a", labels=("x",)).with_options(
        branch="b", base=None, labels=()
    )

    assert settings.branch == "b"
    assert settings.labels == ("x",)

"""Which files a run checks: ignore files, excludes, explicit paths, symlinks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cio_fix.config import Config, load_config
from cio_fix.discovery import (
    build_attribute_prefilter,
    build_import_prefilter,
    build_prefilter,
    discover,
    is_python_file,
    list_folder_files,
)

SOURCE = "import customerio\n"


def _names(
    root: Path, config: Config | None = None, paths: list[Path] | None = None
) -> list[str]:
    config = config or load_config(root)
    found = discover(paths or [root], config)
    return [file.relative_to(root).as_posix() for file in found.files]


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_discovery_gitignore_outside_git(project) -> None:
    root = project(
        {
            ".gitignore": "generated/\n*_pb2.py\n",
            "app.py": SOURCE,
            "generated/client.py": SOURCE,
            "api_pb2.py": SOURCE,
            "pkg/.gitignore": "local.py\n",
            "pkg/local.py": SOURCE,
            "pkg/kept.py": SOURCE,
        }
    )

    assert _names(root) == ["app.py", "pkg/kept.py"]


def test_discovery_git_lists_tracked_and_untracked(project) -> None:
    root = project(
        {
            ".gitignore": "ignored.py\n",
            "tracked.py": SOURCE,
            "untracked.py": SOURCE,
            "ignored.py": SOURCE,
        }
    )
    _git(root, "init", "-q")
    _git(root, "add", "tracked.py", ".gitignore")

    assert _names(root) == ["tracked.py", "untracked.py"]


def test_discovery_tracked_only_walk(project) -> None:
    root = project({"tracked.py": SOURCE, "pkg/untracked.py": SOURCE})
    _git(root, "init", "-q")
    _git(root, "add", "tracked.py")
    config = load_config(root).with_overrides(tracked_only=True)

    assert _names(root, config) == ["tracked.py"]
    assert _names(root, config, [root / "pkg"]) == []


def test_discovery_tracked_only_named_files(project) -> None:
    root = project({"tracked.py": SOURCE, "untracked.py": SOURCE})
    (root / "tracked_link.py").symlink_to("untracked.py")
    (root / "untracked_link.py").symlink_to("tracked.py")
    _git(root, "init", "-q")
    _git(root, "add", "tracked.py", "tracked_link.py")
    config = load_config(root).with_overrides(tracked_only=True)
    named = ["tracked.py", "untracked.py", "tracked_link.py", "untracked_link.py"]

    found = discover([root / name for name in named], config)

    # Git tracks tracked_link.py as a link, not the file that it leads to.
    assert [file.name for file in found.files] == ["tracked.py"]
    assert found.left_out == 3


def test_discovery_tracked_only_skips_links(project) -> None:
    root = project(
        {".gitignore": "local.py\n", "pkg/real.py": SOURCE, "local.py": SOURCE}
    )
    (root / "pkg" / "local_link.py").symlink_to("../local.py")
    (root / "pkg" / "alias.py").symlink_to("real.py")
    (root / "linked").symlink_to("pkg", target_is_directory=True)
    _git(root, "init", "-q")
    _git(root, "add", "--all")
    config = load_config(root).with_overrides(tracked_only=True)

    assert _names(root, config) == ["pkg/real.py"]
    assert _names(root, config, [root / "pkg"]) == ["pkg/real.py"]
    # Without tracked_only, the link to the ignored file is checked.
    assert _names(root) == ["pkg/local_link.py", "pkg/real.py"]


def test_discovery_tracked_only_linked_folder(project) -> None:
    root = project({"pkg/real.py": SOURCE})
    (root / "linked").symlink_to("pkg", target_is_directory=True)
    _git(root, "init", "-q")
    _git(root, "add", "--all")
    config = load_config(root).with_overrides(tracked_only=True)

    found = discover([root / "linked" / "real.py"], config)

    assert found.files == []
    assert found.left_out == 1


def test_discovery_tracked_only_link_without_symlinks(project) -> None:
    # With core.symlinks off, git checks a link out as a regular file that
    # contains the target's name, but its index entry is still a link.
    root = project({"local.py": SOURCE})
    (root / "customerio_link.py").symlink_to("local.py")
    _git(root, "init", "-q")
    _git(root, "add", "customerio_link.py")
    (root / "customerio_link.py").unlink()
    (root / "customerio_link.py").write_text("local.py", encoding="utf-8")
    config = load_config(root).with_overrides(tracked_only=True)

    assert _names(root, config) == []


def test_discovery_default_excludes(project) -> None:
    root = project(
        {
            "app.py": SOURCE,
            ".venv/lib/site.py": SOURCE,
            "venv/lib/site.py": SOURCE,
            "build/lib/app.py": SOURCE,
            "node_modules/x/y.py": SOURCE,
            "src/__pycache__/app.py": SOURCE,
        }
    )

    assert _names(root) == ["app.py"]


def test_discovery_configured_excludes(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["legacy/", "scripts/old_*.py"]\n',
            "app.py": SOURCE,
            "legacy/app.py": SOURCE,
            "scripts/old_sync.py": SOURCE,
            "scripts/sync.py": SOURCE,
            "build/out.py": SOURCE,
        }
    )

    assert _names(root) == ["app.py", "scripts/sync.py"]


@pytest.mark.parametrize("key", ["exclude", "extend-exclude"])
def test_discovery_dot_slash_exclude(project, key: str) -> None:
    # `./` is the folder of the configuration file, so the pattern matches
    # `legacy` at the root only.
    root = project(
        {
            "pyproject.toml": f'[tool.cio-fix]\n{key} = ["./legacy", "!./legacy/keep.py"]\n',
            "app.py": SOURCE,
            "legacy/old.py": SOURCE,
            "legacy/keep.py": SOURCE,
            "app/legacy/new.py": SOURCE,
        }
    )

    assert _names(root) == ["app.py", "app/legacy/new.py", "legacy/keep.py"]


def test_discovery_dot_slash_exclude_in_git(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["././legacy/*.py"]\n',
            "app.py": SOURCE,
            "legacy/old.py": SOURCE,
        }
    )
    _git(root, "init", "-q")

    assert _names(root) == ["app.py"]
    assert load_config(root).extend_exclude == ("/legacy/*.py",)


def test_discovery_exclude_replaces_defaults(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nexclude = ["legacy/"]\n',
            "build/out.py": SOURCE,
            "legacy/app.py": SOURCE,
        }
    )

    assert _names(root) == ["build/out.py"]


def test_discovery_explicit_file_always_checked(project) -> None:
    root = project(
        {".gitignore": "ignored.py\n", "ignored.py": SOURCE, "build/gen.py": SOURCE}
    )

    names = _names(root, paths=[root / "ignored.py", root / "build" / "gen.py"])

    assert names == ["build/gen.py", "ignored.py"]


@pytest.mark.parametrize(
    ("name", "text", "python"),
    [
        ("app.py", "", True),
        ("stubs.pyi", "", True),
        ("gui.pyw", "", True),
        ("sync", "#!/usr/bin/env python3\n", True),
        ("sync", "#!/usr/bin/python\nimport customerio\n", True),
        ("sync", "#! /usr/local/bin/python3.12 -u\n", True),
        ("sync", "#!/usr/bin/env -S python3 -u\n", True),
        ("sync", "#!/usr/bin/env PYTHONUTF8=1 pypy3\n", True),
        ("sync.cgi", "#!/usr/bin/env python\n", True),
        ("track.js", "const customerio = require('customerio-node');\n", False),
        ("track.js", "#!/usr/bin/env node\n", False),
        ("deploy", "#!/bin/sh\npython3 sync.py\n", False),
        ("deploy", "#!/usr/bin/env\n", False),
        ("Makefile", "python:\n\tpython3 app.py\n", False),
        ("README", "", False),
    ],
)
def test_is_python_file(tmp_path: Path, name: str, text: str, python: bool) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    assert is_python_file(path) is python


def test_discovery_named_files_not_python(project) -> None:
    root = project({"app.py": SOURCE, "web/track.js": SOURCE, "bin/sync": SOURCE})
    paths = [root / "app.py", root / "web/track.js", root / "bin/sync", root / "web"]

    found = discover(paths, load_config(root))

    assert found.files == [root / "app.py"]
    assert found.not_python == [root / "web/track.js", root / "bin/sync"]


def test_discovery_symlink_out_of_root_not_followed(project, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.py").write_text(SOURCE)
    (outside / "folder").mkdir()
    (outside / "folder" / "inner.py").write_text(SOURCE)
    root = project({"app.py": SOURCE, "pkg/inside.py": SOURCE})
    (root / "linked.py").symlink_to(outside / "secret.py")
    (root / "linked_folder").symlink_to(outside / "folder")
    (root / "alias.py").symlink_to(root / "pkg" / "inside.py")

    names = _names(root)

    assert "linked.py" not in names
    assert "linked_folder/inner.py" not in names
    assert names == ["app.py", "pkg/inside.py"]


def test_discovery_symlink_out_of_root_in_git(project, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.py").write_text(SOURCE)
    root = project({"app.py": SOURCE})
    (root / "linked.py").symlink_to(outside / "secret.py")
    _git(root, "init", "-q")

    assert _names(root) == ["app.py"]


def test_discovery_folder_link_out_of_root_in_git(project, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.py").write_text(SOURCE)
    root = project({"app.py": SOURCE})
    (root / "linked").symlink_to(outside, target_is_directory=True)
    _git(root, "init", "-q")
    _git(root, "add", "-A")

    assert _names(root) == ["app.py"]


def test_prefilter_words() -> None:
    pattern = build_prefilter(["tracking"])

    assert pattern.search(b"from customerio import CustomerIO")
    assert pattern.search(b"import async_customerio")
    assert pattern.search(b"KEY = os.environ['CUSTOMERIO_API_KEY']")
    assert pattern.search(b"CIO_SITE_ID = 'x'")
    assert pattern.search(b"SHOP_CIO_SITE_ID = config('SHOP_CIO_SITE_ID')")
    assert pattern.search(b"from app.tracking import client")
    assert not pattern.search(b"import requests\nprint('hello')\n")
    assert not pattern.search(b"radio_key = 1")


IMPORTS_OF_SETTINGS = [
    (b"from service import settings\n", True),
    (b"import service.settings as config\n", True),
    (b"from service.settings import KEY\n", True),
    (b"from service import (\n    other,\n    settings,\n)\n", True),
    (b"# change the settings here\n", False),
    (b"value = settings.KEY\n", False),
    (b"from service import other  # settings\n", False),
    (b"from service import settings_test\n", False),
]


def test_discovery_import_prefilter_needs_an_import() -> None:
    pattern = build_import_prefilter(["settings"])

    for text, imports in IMPORTS_OF_SETTINGS:
        assert bool(pattern.search(text)) is imports, text


PATCHES_OF_COMPAT = [
    (b'@mock.patch("compat.Tracker")\n', True),
    (b"with patch(\n    target='app.compat.Tracker'):\n", True),
    (b'monkeypatch.setattr("compat.Tracker", None)\n', True),
    (b'with patch.multiple("app.compat", Tracker=DEFAULT):\n', True),
    (b"mocker.patch.multiple(\n    'compat', Tracker=DEFAULT)\n", True),
    (b'with patch.multiple("app.compatible", Tracker=DEFAULT):\n', False),
    (b'@mock.patch("app.compatible.Tracker")\n', False),
    (b'@mock.patch("app.views.compat")\n', False),
    (b'NAME = "compat.Tracker"\n', False),
]


def test_discovery_import_prefilter_finds_patches() -> None:
    pattern = build_import_prefilter(["compat"])

    for text, patches in PATCHES_OF_COMPAT:
        assert bool(pattern.search(text)) is patches, text


def test_prefilter_words_case_and_alone() -> None:
    pattern = build_prefilter(["Tracking"])
    words_only = build_prefilter(["bounced"], customer_io=False)

    assert pattern.search(b"from app.TRACKING import client")
    assert pattern.search(b"import CUSTOMERIO")
    assert words_only.search(b"if report['metric'] == 'Bounced':")
    assert not words_only.search(b"from customerio import CustomerIO")
    assert not words_only.search(b"unbounced = 1")


NAME_PARTS = [
    (b"def on_bounce(customer_id):\n", True),
    (b"class Hooks:\n    def handle_bounce_report(self):\n", True),
    (b"ROUTE = '/webhooks/bounce'\n", True),
    (b"def debounce(callback):\n", False),
    (b"bounce2 = 1\n", False),
    (b"from customerio import CustomerIO\n", False),
]


def test_prefilter_words_as_name_parts() -> None:
    name_parts = build_prefilter(["bounce"], customer_io=False, name_parts=True)
    whole_words = build_prefilter(["bounce"], customer_io=False)

    for text, matches in NAME_PARTS:
        assert bool(name_parts.search(text)) is matches, text
    assert not whole_words.search(b"def on_bounce(customer_id):\n")


def test_discovery_gitignore_above_path_outside_git(project) -> None:
    root = project(
        {
            ".gitignore": "sub/y.py\nsub/deep/\n",
            "sub/y.py": SOURCE,
            "sub/z.py": SOURCE,
            "sub/deep/w.py": SOURCE,
        }
    )

    # Without a pyproject.toml the root is the PATH, so the .gitignore above
    # it is read as the one of a parent folder.
    names = _names(root, paths=[root / "sub"])
    names_from_top = _names(root)

    assert names == ["sub/z.py"]
    assert names_from_top == ["sub/z.py"]


def test_discovery_gitignore_between_root_and_path(project) -> None:
    root = project(
        {
            "pyproject.toml": "[tool.cio-fix]\n",
            "svc/.gitignore": "api/generated.py\n",
            "svc/api/generated.py": SOURCE,
            "svc/api/views.py": SOURCE,
        }
    )

    names = _names(root, paths=[root / "svc" / "api"])

    assert names == ["svc/api/views.py"]


def test_discovery_gitignore_above_root_not_read(project) -> None:
    root = project(
        {
            ".gitignore": "*.py\n",
            "svc/pyproject.toml": "[tool.cio-fix]\n",
            "svc/app/views.py": SOURCE,
        }
    )

    # The pyproject.toml of svc makes it the root, so the outer .gitignore
    # belongs to another tree.
    found = discover([root / "svc" / "app"], load_config(root / "svc" / "app"))

    assert [file.name for file in found.files] == ["views.py"]


# Trees of nested .gitignore files, which a walk outside git must read as git does.
NESTED_GITIGNORES = {
    "deeper negation": {
        ".gitignore": "gen/*.py\n",
        "gen/.gitignore": "!keep.py\n",
    },
    "negation in ignored folder": {
        ".gitignore": "gen/\n",
        "gen/.gitignore": "!keep.py\n",
    },
    "deeper folder negation": {
        ".gitignore": "gen/*\n",
        "gen/.gitignore": "!sub/\n",
    },
    "deeper pattern ignores again": {
        ".gitignore": "*.py\n!keep.py\n",
        "gen/.gitignore": "keep.py\n",
    },
}


@pytest.mark.parametrize("case", sorted(NESTED_GITIGNORES))
def test_discovery_nested_gitignores_as_git(project, case: str) -> None:
    root = project(
        {
            **NESTED_GITIGNORES[case],
            "pyproject.toml": "[project]\nname = 'nested'\n",
            "keep.py": SOURCE,
            "gen/keep.py": SOURCE,
            "gen/drop.py": SOURCE,
            "gen/sub/keep.py": SOURCE,
        }
    )

    walked = _names(root)
    walked_from_gen = _names(root, paths=[root / "gen"])
    _git(root, "init", "-q")
    listed = _names(root)

    assert walked == listed
    assert walked_from_gen == [name for name in listed if name.startswith("gen/")]


def test_discovery_deeper_negation_outside_git(project) -> None:
    root = project(
        {
            "pyproject.toml": "[project]\nname = 'nested'\n",
            ".gitignore": "gen/*.py\n",
            "gen/.gitignore": "!keep.py\n",
            "gen/keep.py": SOURCE,
            "gen/drop.py": SOURCE,
        }
    )

    assert _names(root) == ["gen/keep.py"]
    assert _names(root, paths=[root / "gen"]) == ["gen/keep.py"]


def test_discovery_ignored_folder_not_reincluded(project) -> None:
    root = project(
        {
            "pyproject.toml": "[project]\nname = 'nested'\n",
            ".gitignore": "gen/\n",
            "gen/.gitignore": "!keep.py\n",
            "gen/keep.py": SOURCE,
            "app.py": SOURCE,
        }
    )

    assert _names(root) == ["app.py"]
    assert _names(root, paths=[root / "gen"]) == []


def test_discovery_resolves_each_folder_once(project, monkeypatch) -> None:
    files = {
        f"pkg{folder}/module{number}.py": SOURCE
        for folder in range(3)
        for number in range(10)
    }
    root = project(files)
    resolved: list[Path] = []
    resolve = Path.resolve

    def counting_resolve(path: Path, strict: bool = False) -> Path:
        resolved.append(path)
        return resolve(path, strict=strict)

    monkeypatch.setattr(Path, "resolve", counting_resolve)
    names = _names(root)

    assert len(names) == 30
    # The root, the folder walked, each of the three folders, and a few
    # lookups after the walk. Not one or more for every file.
    assert len(resolved) < 20


def test_discovery_link_in_tree_listed_once(project) -> None:
    root = project({"pkg/real.py": SOURCE})
    (root / "pkg" / "alias.py").symlink_to(root / "pkg" / "real.py")
    (root / "linked").symlink_to(root / "pkg", target_is_directory=True)

    assert _names(root) == ["pkg/real.py"]


@pytest.mark.parametrize(
    ("named", "expected"),
    [
        (["jobs/worker.py", "app/worker.py"], ["app/worker.py"]),
        (["app/worker.py", "jobs/worker.py"], ["app/worker.py"]),
        (["jobs/worker.py", "app"], ["app/worker.py"]),
        (["links/b.py", "links/a.py"], ["links/a.py"]),
    ],
)
def test_discovery_file_named_twice_keeps_own_name(project, named, expected) -> None:
    root = project({"app/worker.py": SOURCE})
    (root / "jobs").mkdir()
    (root / "jobs" / "worker.py").symlink_to(root / "app" / "worker.py")
    (root / "links").mkdir()
    (root / "links" / "a.py").symlink_to(root / "app" / "worker.py")
    (root / "links" / "b.py").symlink_to(root / "app" / "worker.py")

    names = _names(root, paths=[root / name for name in named])

    assert names == expected


@pytest.mark.parametrize("in_git", [False, True])
def test_discovery_walk_reads_stub_files(project, in_git) -> None:
    root = project(
        {
            "app.py": SOURCE,
            "stubs/client.pyi": SOURCE,
            "notes.txt": SOURCE,
            "build/generated.pyi": SOURCE,
        }
    )
    if in_git:
        _git(root, "init", "-q")

    assert _names(root) == ["app.py", "stubs/client.pyi"]


def _listed_names(root: Path, files) -> list[str]:
    return sorted(file.relative_to(root).as_posix() for file in files)


def test_list_folder_files_in_git(project) -> None:
    root = project(
        {
            ".gitignore": "ignored.py\n",
            "tracked.py": SOURCE,
            "pkg/untracked.py": SOURCE,
            "notes.txt": SOURCE,
            "ignored.py": SOURCE,
        }
    )
    _git(root, "init", "-q")
    _git(root, "add", "tracked.py", ".gitignore")
    unlisted: list[tuple[Path, str]] = []
    unread_ignores: list[tuple[Path, str]] = []

    listing = list_folder_files(root, root, unlisted, unread_ignores)

    assert listing.from_git
    assert _listed_names(root, listing.files) == [
        ".gitignore",
        "notes.txt",
        "pkg/untracked.py",
        "tracked.py",
    ]
    assert unlisted == []
    assert unread_ignores == []


def test_list_folder_files_outside_git(project) -> None:
    root = project(
        {
            ".gitignore": "generated/\n",
            "app.py": SOURCE,
            "generated/client.py": SOURCE,
            "pkg/.gitignore": "local.py\n",
            "pkg/local.py": SOURCE,
            "pkg/kept.py": SOURCE,
        }
    )
    unlisted: list[tuple[Path, str]] = []
    unread_ignores: list[tuple[Path, str]] = []

    listing = list_folder_files(root / "pkg", root, unlisted, unread_ignores)

    assert not listing.from_git
    assert _listed_names(root, listing.files) == ["pkg/.gitignore", "pkg/kept.py"]
    assert unlisted == []
    assert unread_ignores == []


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        (b'ev.TEMPLATE = "order"\n', True),
        (b"app.ev.TEMPLATE+='x'\n", True),
        (b"ev . TEMPLATE //= 2\n", True),
        (b"same = ev.TEMPLATE == other\n", False),
        (b"TEMPLATE = ev.TEMPLATE\n", False),
        (b"ev.TEMPLATES = []\n", False),
        (b'setattr(ev, "TEMPLATE", "x")\n', True),
        (b"delattr(app.ev, 'TEMPLATE')\n", True),
        (b'setattr(sys.modules[__name__], "TEMPLATE", "x")\n', True),
        (b'ev.__dict__["TEMPLATE"] = "x"\n', True),
        (b'setattr(self, "template", 1)\n', False),
        (b'getattr(ev, "TEMPLATE")\n', False),
        (b"setattr(self, name, value)\n", False),
        (b"self.__dict__[name] = value\n", False),
        (b"from app import ev\nsetattr(ev, name, value)\n", True),
        (b"import app.ev as e\ne.__dict__[name] = value\n", True),
        (b"import app.ev as e\ne.__dict__.update(TEMPLATE=1)\n", True),
        (b"self.__dict__.update(state)\n", False),
        (b"self.__dict__[name] = value\nev.TEMPLATE = 1\n", True),
        (b"from app import (\n    ev,\n)\ndelattr(ev, name)\n", True),
        (b"from app import other\nsetattr(other, name, value)\n", False),
        (b'vars(ev)["TEMPLATE"] = "x"\n', True),
        (b"vars (app.ev) [ 'TEMPLATE' ] += 'x'\n", True),
        (b'vars(ev)["OTHER"] = "x"\n', False),
        (b"vars(self)[name] = value\n", False),
        (b"vars(self).update(state)\n", False),
        (b"print(vars(ev))\n", False),
        (b"from app import ev\nvars(ev)[name] = value\n", True),
        (b"from app import ev\nvars(ev).update(TEMPLATE='x')\n", True),
        (b"from app import ev\nvars(ev).setdefault('TEMPLATE', 'x')\n", True),
    ],
)
def test_attribute_prefilter_finds_assignments(text: bytes, matches: bool) -> None:
    assert build_attribute_prefilter(["TEMPLATE"], ["ev"]).search(text) is matches


# A virtual environment named `env`, as `python -m venv env` makes it, with
# a package that uses the SDK; and packages folders outside any environment.
ENVIRONMENT_FILES = {
    "app.py": SOURCE,
    "env/pyvenv.cfg": "home = /usr/bin\n",
    "env/lib/python3.11/site-packages/helper/__init__.py": SOURCE,
    "env/bin/tool.py": SOURCE,
    "vendor/site-packages/helper.py": SOURCE,
    "deb/dist-packages/helper.py": SOURCE,
    "site_packages_notes/app2.py": SOURCE,
}


def test_discovery_skips_environments_outside_git(project) -> None:
    root = project(ENVIRONMENT_FILES)

    assert _names(root) == ["app.py", "site_packages_notes/app2.py"]


@pytest.mark.parametrize("tracked", [False, True])
def test_discovery_skips_environments_in_git(project, tracked) -> None:
    root = project(ENVIRONMENT_FILES)
    _git(root, "init", "-q")
    if tracked:
        _git(root, "add", "-A")

    assert _names(root) == ["app.py", "site_packages_notes/app2.py"]


def test_discovery_tracked_only_skips_environments(project) -> None:
    root = project(ENVIRONMENT_FILES)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    config = load_config(root).with_overrides(tracked_only=True)

    assert _names(root, config) == ["app.py", "site_packages_notes/app2.py"]


def test_discovery_environment_folder_named(project) -> None:
    root = project(ENVIRONMENT_FILES)
    _git(root, "init", "-q")
    package = root / "env/lib/python3.11/site-packages/helper"

    assert _names(root, paths=[package]) == [
        "env/lib/python3.11/site-packages/helper/__init__.py"
    ]


@pytest.mark.parametrize("in_git", [False, True])
def test_discovery_environment_file_named(project, in_git) -> None:
    root = project(ENVIRONMENT_FILES)
    if in_git:
        _git(root, "init", "-q")
    named = [
        root / "env/lib/python3.11/site-packages/helper/__init__.py",
        root / "vendor/site-packages/helper.py",
    ]
    config = load_config(root)

    assert _names(root, config, named) == [
        "env/lib/python3.11/site-packages/helper/__init__.py",
        "vendor/site-packages/helper.py",
    ]
    forced = config.with_overrides(force_exclude=True)
    assert _names(root, forced, [*named, root / "app.py"]) == ["app.py"]


def test_discovery_pyvenv_cfg_file_only(project) -> None:
    # A folder whose pyvenv.cfg is itself a folder is no virtual environment.
    root = project({"tool/pyvenv.cfg/readme.txt": "", "tool/app.py": SOURCE})

    assert _names(root) == ["tool/app.py"]


def test_prefilter_drops_needles_that_contain_another() -> None:
    prefilter = build_prefilter(["bounce", "bounced", "bounces"], customer_io=False)

    assert prefilter.needles == (b"bounce",)
    assert prefilter.search(b"if metric == 'bounced':\n")
    assert prefilter.search(b"def bounces():\n")
    assert not prefilter.search(b"def debounced():\n")


def test_discovery_template_folder_braces_excluded(project) -> None:
    # Doubled braces are a cookiecutter folder name, not alternatives.
    folder = "{{cookiecutter.project_name|replace(' ', '_')}}"
    root = project(
        {
            "pyproject.toml": f'[tool.cio-fix]\nextend-exclude = ["{folder}"]\n',
            f"{folder}/app.py": SOURCE,
            "app.py": SOURCE,
        }
    )

    assert _names(root) == ["app.py"]

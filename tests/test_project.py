"""The declared customerio version, and the names the project's modules import."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from cio_fix.config import load_config
from cio_fix.customerio import APP, TRACK, build_index
from cio_fix.method_changes import ANY_ATTRIBUTE
from cio_fix.modules import SdkShadowing, reexported_names
from cio_fix.project import (
    ProjectIndex,
    SdkConflict,
    SdkVersion,
    class_modules,
    declared_majors,
    detect_sdk_version,
    prefilter_words,
    summarise,
)

from conftest import run_cli


@pytest.mark.parametrize(
    ("specifier", "majors"),
    [
        ("==3.1.0", {3}),
        ("~=2.0", {2}),
        (">=2,<3", {2}),
        (">=2.1, <3.0", {2}),
        (">=3", {3}),
        (">=1.2", None),
        ("<3", {1, 2}),
        ("<=2.9", {1, 2}),
        (">=1.6,<3", {1, 2}),
        ("!=3.*", {1, 2}),
        ("!=3.1", None),
        (">=2,<4", {2, 3}),
        (">2.9", {2, 3}),
        (">=2,", {2, 3}),
        ("^1.6", {1}),
        ("~2.1", {2}),
        ("3.2.0", {3}),
        ("3.0.0b1", {3}),
        ("==1.*", {1}),
        (">= 2.0, != 2.1, < 3", {2}),
        (">=3.1 <4", {3}),
        ("^2.1 || ^3.0", {2, 3}),
        (">=4", None),
        ("==0.5", None),
        ("*", None),
        ("", None),
    ],
)
def test_project_declared_majors(specifier: str, majors: set[int] | None) -> None:
    expected = frozenset(majors) if majors is not None else None

    assert declared_majors(specifier) == expected


SETUP_PY_COMMENT = """\
from setuptools import setup

# Stay on the 2.x SDK: customerio 3 moved event attributes into `data`.
setup(
    name="shop",
    description="Sends events with customerio>=3 later",
    install_requires=["customerio>=2.0,<3"],
)
"""

SETUP_PY_VARIABLE = """\
\"\"\"Packaging for the shop; customerio 3 is not supported yet.\"\"\"
from setuptools import setup

REQUIRES = ["flask>=2.3", "customerio[async] (==3.1); python_version >= '3.8'"]
setup(name="shop", install_requires=REQUIRES)
"""

SETUP_CFG_COMMENTS = """\
[metadata]
description = Sends events with customerio 3
# customerio 3 moved event attributes into data
[options]
install_requires =
    # customerio==3.0 after the migration
    flask>=2.3
    customerio>=2.0,<3  # customerio 3 breaks the worker
"""

PIPFILE_COMMENTS = """\
# customerio 3 moved event attributes into data
[packages]
flask = "*"
customerio = ">=2.0,<3"
"""


@pytest.mark.parametrize(
    ("files", "major", "source"),
    [
        ({"setup.py": SETUP_PY_COMMENT}, 2, "setup.py"),
        ({"setup.py": SETUP_PY_VARIABLE}, 3, "setup.py"),
        ({"setup.py": "# customerio 3\nsetup(name='shop')\n"}, None, None),
        ({"setup.py": "setup(install_requires=['customerio>=3'\n"}, None, None),
        ({"setup.cfg": SETUP_CFG_COMMENTS}, 2, "setup.cfg"),
        (
            {"setup.cfg": "[metadata]\ndescription = customerio 3 events\n"},
            None,
            None,
        ),
        ({"Pipfile": PIPFILE_COMMENTS}, 2, "Pipfile"),
        ({"Pipfile": '[packages]\ncustomerio = {version = "==3.1"}\n'}, 3, "Pipfile"),
        ({"Pipfile": '# customerio = "==3.1"\n[packages]\nflask = "*"\n'}, None, None),
        (
            {"requirements.txt": "# customerio==3.0 later\ncustomerio==2.1  # not 3\n"},
            2,
            "requirements.txt",
        ),
        (
            {
                "pyproject.toml": (
                    "# customerio 3 moved event attributes into data\n"
                    '[project]\ndependencies = ["customerio>=2,<3"]\n'
                )
            },
            2,
            "pyproject.toml",
        ),
    ],
)
def test_project_sdk_version_ignores_prose(project, files, major, source) -> None:
    root = project(files)

    found = detect_sdk_version(root)

    if major is None:
        assert found is None
    else:
        assert found is not None
        assert found.majors == {major}
        assert found.source == source


@pytest.mark.parametrize(
    ("files", "major", "source"),
    [
        (
            {
                "requirements.txt": "flask==3.0\ncustomerio==3.2.0 ; python_version >= '3.8'\n"
            },
            3,
            "requirements.txt",
        ),
        ({"requirements/base.txt": "customerio>=2,<3\n"}, 2, "requirements/base.txt"),
        (
            {
                "requirements.txt": "async-customerio==1.0\ncustomerio-cdp-analytics==2.0\n"
            },
            None,
            None,
        ),
        (
            {"pyproject.toml": '[project]\ndependencies = ["customerio~=1.6"]\n'},
            1,
            "pyproject.toml",
        ),
        (
            {
                "pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.10"\ncustomerio = "^3.0"\n'
            },
            3,
            "pyproject.toml",
        ),
        (
            {"setup.cfg": "[options]\ninstall_requires =\n    customerio==2.1\n"},
            2,
            "setup.cfg",
        ),
        ({"setup.py": "setup(install_requires=['customerio>=3.0'])\n"}, 3, "setup.py"),
        (
            {"poetry.lock": '[[package]]\nname = "customerio"\nversion = "2.2.0"\n'},
            2,
            "poetry.lock",
        ),
        (
            {"uv.lock": '[[package]]\nname = "customerio"\nversion = "3.1.0"\n'},
            3,
            "uv.lock",
        ),
        (
            {"Pipfile.lock": '{"default": {"customerio": {"version": "==1.6.1"}}}'},
            1,
            "Pipfile.lock",
        ),
        (
            {
                "poetry.lock": '[[package]]\nname = "customerio"\nversion = "3.1.0"\n',
                "requirements.txt": "customerio==2.0\n",
            },
            3,
            "poetry.lock",
        ),
        (
            {
                "pyproject.toml": (
                    '[project]\nname = "shop"\n\n[dependency-groups]\n'
                    'test = ["pytest"]\nworker = ["customerio==3.1"]\n'
                )
            },
            3,
            "pyproject.toml",
        ),
        (
            {
                "pyproject.toml": (
                    "[dependency-groups]\n"
                    'dev = [{include-group = "worker"}, "ruff"]\n'
                    'worker = ["customerio==2.4"]\n'
                )
            },
            2,
            "pyproject.toml",
        ),
        (
            {"pyproject.toml": '[tool.uv]\ndev-dependencies = ["customerio~=2.1"]\n'},
            2,
            "pyproject.toml",
        ),
        (
            {
                "pyproject.toml": (
                    '[dependency-groups]\ndev = ["customerio==3.1"]\n'
                    '[tool.uv]\ndev-dependencies = "customerio==2.1"\n'
                )
            },
            3,
            "pyproject.toml",
        ),
    ],
)
def test_project_detect_sdk_version(project, files, major, source) -> None:
    root = project(files)

    found = detect_sdk_version(root)

    if major is None:
        assert found is None
    else:
        assert (found.majors, found.source) == ({major}, source)


@pytest.mark.parametrize(
    ("files", "major", "source"),
    [
        (
            {"requirements.txt": "-r base.txt\n", "base.txt": "customerio==3.0.1\n"},
            3,
            "base.txt",
        ),
        (
            {
                "requirements.txt": "--requirement=deps/common.txt\n",
                "deps/common.txt": "customerio>=2,<3\n",
            },
            2,
            "deps/common.txt",
        ),
        (
            {
                "requirements.txt": "--requirement deps/common.txt  # shared\n",
                "deps/common.txt": "-r nested.txt\n",
                "deps/nested.txt": "customerio~=3.1\n",
            },
            3,
            "deps/nested.txt",
        ),
        (
            {
                "requirements.txt": "customerio\n-c constraints.txt\n",
                "constraints.txt": "customerio==2.1\n",
            },
            2,
            "constraints.txt",
        ),
        (
            {
                "requirements.txt": "-r base.txt\n",
                "base.txt": "-r requirements.txt\nflask\n",
            },
            None,
            None,
        ),
        (
            {
                "requirements.txt": "-r \\\n    base.txt\n",
                "base.txt": "customerio==3.0\n",
            },
            3,
            "base.txt",
        ),
        (
            {"requirements.txt": "flask\ncustomerio \\\n  >=2,<3\n"},
            2,
            "requirements.txt",
        ),
        (
            # A line with a comment is not continued, as in pip.
            {
                "requirements.txt": "-r base.txt # shared \\\ncustomerio==2.1\n",
                "base.txt": "flask\n",
            },
            2,
            "requirements.txt",
        ),
        ({"requirements.txt": "-r missing.txt\nflask\n"}, None, None),
        ({"requirements.txt": "-r https://example.invalid/req.txt\n"}, None, None),
    ],
)
def test_project_sdk_version_requirement_includes(
    project, files, major, source
) -> None:
    root = project(files)

    found = detect_sdk_version(root)

    if major is None:
        assert found is None
    else:
        assert found is not None
        assert found.majors == {major}
        assert found.source == source


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # The main file is named before a side file that sorts first.
        (
            {
                "requirements-dev.txt": "customerio==3.2.0\npytest\n",
                "requirements.txt": "customerio==3.2.0\n",
            },
            SdkVersion(frozenset({3}), "requirements.txt"),
        ),
        (
            {
                "requirements-dev.in": "-r requirements.in\npytest\n",
                "requirements.in": "customerio~=3.2\n",
            },
            SdkVersion(frozenset({3}), "requirements.in"),
        ),
        # pip-tools compiles requirements.in into the exact pins of requirements.txt.
        (
            {
                "requirements.in": "customerio>=3\n",
                "requirements.txt": "customerio==3.2.0\n",
            },
            SdkVersion(frozenset({3}), "requirements.txt"),
        ),
        (
            {
                "requirements-prod.txt": "flask\n",
                "requirements/base.txt": "customerio==2.1\n",
            },
            SdkVersion(frozenset({2}), "requirements/base.txt"),
        ),
        # Side files that pin another major version leave it unknown.
        (
            {
                "requirements-next.txt": "customerio==3.2\n",
                "requirements.txt": "customerio==2.1\n",
            },
            SdkConflict(
                (
                    SdkVersion(frozenset({2}), "requirements.txt"),
                    SdkVersion(frozenset({3}), "requirements-next.txt"),
                )
            ),
        ),
        (
            {
                "requirements-legacy.txt": "customerio==2.1\n",
                "requirements.txt": "-r base.txt\n",
                "base.txt": "customerio==3.2\n",
            },
            SdkConflict(
                (
                    SdkVersion(frozenset({3}), "base.txt"),
                    SdkVersion(frozenset({2}), "requirements-legacy.txt"),
                )
            ),
        ),
        (
            {
                "requirements.txt": (
                    "customerio==2.1 ; python_version < '3.8'\n"
                    "customerio==3.2 ; python_version >= '3.8'\n"
                )
            },
            SdkConflict(
                (
                    SdkVersion(frozenset({2}), "requirements.txt"),
                    SdkVersion(frozenset({3}), "requirements.txt"),
                )
            ),
        ),
        (
            {
                "requirements/py37.txt": "customerio==2.1\n",
                "requirements/base.txt": "customerio==3.2\n",
                "requirements/dev.txt": "-r base.txt\n",
            },
            SdkConflict(
                (
                    SdkVersion(frozenset({3}), "requirements/base.txt"),
                    SdkVersion(frozenset({2}), "requirements/py37.txt"),
                )
            ),
        ),
        # A requirement that allows every major declares none, so it does not
        # conflict.
        (
            {
                "requirements-next.txt": "customerio>=1.0\ncustomerio\n",
                "requirements.txt": "customerio==2.1\n",
            },
            SdkVersion(frozenset({2}), "requirements.txt"),
        ),
        # `>=2` allows 3.x too, which the code may then run with.
        (
            {
                "requirements-next.txt": "customerio>=2\n",
                "requirements.txt": "customerio==2.1\n",
            },
            SdkConflict(
                (
                    SdkVersion(frozenset({2}), "requirements.txt"),
                    SdkVersion(frozenset({2, 3}), "requirements-next.txt"),
                )
            ),
        ),
        # Pins that allow only 1.x and 2.x differ, but each major they allow
        # takes event attributes the same way.
        (
            {
                "requirements-legacy.txt": "customerio<3\n",
                "requirements.txt": "customerio==2.1\n",
            },
            SdkConflict(
                (
                    SdkVersion(frozenset({2}), "requirements.txt"),
                    SdkVersion(frozenset({1, 2}), "requirements-legacy.txt"),
                )
            ),
        ),
        # The conflict ends the search, but a lock file comes first.
        (
            {
                "requirements-next.txt": "customerio==3.2\n",
                "requirements.txt": "customerio==2.1\n",
                "pyproject.toml": '[project]\ndependencies = ["customerio==2.1"]\n',
            },
            SdkConflict(
                (
                    SdkVersion(frozenset({2}), "requirements.txt"),
                    SdkVersion(frozenset({3}), "requirements-next.txt"),
                )
            ),
        ),
        (
            {
                "requirements-next.txt": "customerio==3.2\n",
                "requirements.txt": "customerio==2.1\n",
                "poetry.lock": '[[package]]\nname = "customerio"\nversion = "2.1.0"\n',
            },
            SdkVersion(frozenset({2}), "poetry.lock"),
        ),
    ],
)
def test_project_sdk_version_main_and_side_files(project, files, expected) -> None:
    root = project(files)

    found = detect_sdk_version(root)

    assert found == expected


ALL_MAJORS = frozenset({1, 2, 3})


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"requirements.txt": "customerio>=1.6,<4\n"},
            SdkVersion(ALL_MAJORS, "requirements.txt"),
        ),
        (
            {"pyproject.toml": '[project]\ndependencies = ["customerio>=1.2"]\n'},
            SdkVersion(ALL_MAJORS, "pyproject.toml"),
        ),
        (
            {"setup.cfg": "[options]\ninstall_requires =\n    customerio>=1,<4\n"},
            SdkVersion(ALL_MAJORS, "setup.cfg"),
        ),
        (
            {"Pipfile": '[packages]\ncustomerio = ">=1.0"\n'},
            SdkVersion(ALL_MAJORS, "Pipfile"),
        ),
        # A range of every major gives way to a narrower declaration in any file.
        (
            {
                "requirements.txt": "customerio>=1.6,<4\n",
                "pyproject.toml": '[project]\ndependencies = ["customerio==3.1"]\n',
            },
            SdkVersion(frozenset({3}), "pyproject.toml"),
        ),
        (
            {
                "pyproject.toml": (
                    '[project]\ndependencies = ["customerio>=1"]\n'
                    '[tool.poetry.dependencies]\ncustomerio = "^2.1"\n'
                )
            },
            SdkVersion(frozenset({2}), "pyproject.toml"),
        ),
        (
            {
                "setup.cfg": "[options]\ninstall_requires =\n    customerio>=1\n",
                "setup.py": "setup(install_requires=['customerio==2.1'])\n",
            },
            SdkVersion(frozenset({2}), "setup.py"),
        ),
        (
            {
                "service/requirements.txt": "customerio>=1.6,<4\n",
                "requirements.txt": "customerio==3.2\n",
            },
            SdkVersion(frozenset({3}), "requirements.txt"),
        ),
        (
            {
                "service/requirements.txt": "customerio>=1.6,<4\n",
                "requirements.txt": "customerio>=1.0\n",
            },
            SdkVersion(ALL_MAJORS, "service/requirements.txt"),
        ),
    ],
)
def test_project_sdk_version_range_of_every_major(project, files, expected) -> None:
    root = project(files)

    found = detect_sdk_version(root, root / "service")

    assert found == expected


def test_project_sdk_conflict_relative_to_root(project) -> None:
    root = project(
        {
            "service/requirements.txt": "customerio==2.1\n",
            "service/requirements-next.txt": "customerio==3.2\n",
            "requirements.txt": "customerio==3.2\n",
        }
    )

    found = detect_sdk_version(root, root / "service")

    assert found == SdkConflict(
        (
            SdkVersion(frozenset({2}), "service/requirements.txt"),
            SdkVersion(frozenset({3}), "service/requirements-next.txt"),
        )
    )


def test_project_sdk_version_include_beside_service(project) -> None:
    root = project(
        {
            "service/requirements.txt": "-r ../shared/base.txt\n",
            "shared/base.txt": "customerio==3.1.0\n",
        }
    )

    found = detect_sdk_version(root, root / "service")

    assert found is not None
    assert found.majors == {3}
    assert found.source == "shared/base.txt"


def test_project_sdk_version_include_outside_project(project) -> None:
    folder = project(
        {
            "outside.txt": "customerio==3.1.0\n",
            "project/requirements.txt": "-r ../outside.txt\n",
        }
    )

    found = detect_sdk_version(folder / "project")

    assert found is None


def _project(sources: dict[str, str]) -> ProjectIndex:
    summaries = []
    for module_name, source in sources.items():
        index = build_index(cst.parse_module(source), module_name, is_package=False)
        summaries.append(summarise(index, Path(module_name.replace(".", "/") + ".py")))
    return ProjectIndex(summaries)


def test_project_importers_follow_reexports() -> None:
    project = _project(
        {
            "app.events": 'SIGNED_UP = "signed_up"\nOTHER = "other"\n',
            "app.names": "from app.events import SIGNED_UP\n",
            "app.views": "from app.names import SIGNED_UP as NAME\n",
            "app.jobs": "import os\n",
        }
    )

    assert project.importers("app.events", "SIGNED_UP") == {"app.names", "app.views"}
    assert project.importers("app.events", "OTHER") == set()
    assert project.resolve_name("app.views.NAME") == (project.summaries[0], "SIGNED_UP")


ORDERS = (
    "class Order:\n"
    "    def __init__(self, items):\n"
    "        self.items = items\n"
    "        self.meta = {}\n"
    "    def close(self):\n"
    "        self.meta['closed'] = True\n"
    "        self.items.clear()\n"
    "    def reset(self):\n"
    "        self.items = []\n"
    "    def first(self):\n"
    "        del self.items[0]\n"
    "    def note(self, text):\n"
    "        def add():\n"
    "            self.meta.setdefault('notes', []).append(text)\n"
    "        add()\n"
    "    def copy_items(self):\n"
    "        self.items.copy().clear()\n"
    "    @staticmethod\n"
    "    def empty(self):\n"
    "        self.items.clear()\n"
    "class Rush(Order):\n"
    "    pass\n"
    "class Plain:\n"
    "    def save(self):\n"
    "        pass\n"
    "def helper(order):\n"
    "    order.items.clear()\n"
)


def test_project_summary_method_changes() -> None:
    project = _project({"shop.orders": ORDERS})

    changes = project.summaries[0].method_changes
    assert changes["Order"] == {
        "close": ["items", "meta"],
        "first": ["items"],
        "note": ["meta"],
    }
    assert changes["Rush"] == changes["Order"]
    assert changes["Plain"] == {}
    assert "helper" not in changes


CART = (
    "def _append(seq, item):\n"
    "    seq.append(item)\n"
    "def _total(seq):\n"
    "    return sum(seq)\n"
    "class Cart:\n"
    "    def add(self, item):\n"
    "        self.items += [item]\n"
    "    def tag(self):\n"
    "        self.meta |= {'a': 1}\n"
    "    def bump(self):\n"
    "        self.counts[0] += 1\n"
    "    def push(self, item):\n"
    "        _append(self.items, item)\n"
    "    def push_keyword(self, item):\n"
    "        _append(item=item, seq=self.queue)\n"
    "    def save(self, store):\n"
    "        store.write(self.notes)\n"
    "    def total(self):\n"
    "        return _total(self.items) + _total(seq=self.items) + len(self.items)\n"
    "    def reset(self):\n"
    "        self.items = []\n"
    "        self.total += 1\n"
)


def test_project_summary_method_changes_augmented_and_passed() -> None:
    project = _project({"shop.cart": CART})

    changes = project.summaries[0].method_changes["Cart"]
    assert changes["add"] == ["items"]
    assert changes["tag"] == ["meta"]
    assert changes["bump"] == ["counts"]
    assert changes["push"] == ["items"]
    assert changes["push_keyword"] == ["queue"]
    assert changes["save"] == ["notes"]
    assert "total" not in changes
    assert changes["reset"] == ["total"]


GETATTR_CART = (
    "class Cart:\n"
    "    def finish(self):\n"
    "        getattr(self, 'items').append(1)\n"
    "    def tag(self):\n"
    "        getattr(self, 'meta')['tag'] = 1\n"
    "    def fill(self, rows):\n"
    "        lines = getattr(self, 'lines', [])\n"
    "        lines.extend(rows)\n"
    "    def save(self, store):\n"
    "        store.write(getattr(self, 'notes'))\n"
    "    def reset(self, name):\n"
    "        getattr(self, name).clear()\n"
    "    def close(self):\n"
    "        self.reset('items')\n"
    "    def count(self):\n"
    "        return len(getattr(self, 'items'))\n"
    "    def preview(self):\n"
    "        getattr(self, 'items').copy().append(1)\n"
    "    def merge(self, other):\n"
    "        getattr(other, 'items').append(1)\n"
)


def test_project_summary_method_changes_through_getattr() -> None:
    project = _project({"shop.cart": GETATTR_CART})

    changes = project.summaries[0].method_changes["Cart"]
    assert changes["finish"] == ["items"]
    assert changes["tag"] == ["meta"]
    assert changes["fill"] == ["lines"]
    assert changes["save"] == ["notes"]
    # A name that is not a literal may be any attribute.
    assert changes["reset"] == [ANY_ATTRIBUTE]
    assert changes["close"] == [ANY_ATTRIBUTE]
    assert "count" not in changes
    assert "preview" not in changes
    assert "merge" not in changes


SUPER_CART = (
    "class Base:\n"
    "    def empty(self):\n"
    "        self.items.clear()\n"
    "    def rename(self, label):\n"
    "        self.label = label\n"
    "class Cart(Base):\n"
    "    def empty(self):\n"
    "        super().empty()\n"
    "    def reset(self):\n"
    "        super(Cart, self).empty()\n"
    "    def rename(self, label):\n"
    "        super().rename(label)\n"
    "    def other(self):\n"
    "        super(Base, self).empty()\n"
    "    def nested(self):\n"
    "        def run():\n"
    "            super().empty()\n"
    "        run()\n"
)


def test_project_summary_method_changes_through_super() -> None:
    project = _project({"shop.cart": SUPER_CART})

    changes = project.summaries[0].method_changes["Cart"]
    assert changes["empty"] == ["items"]
    assert changes["reset"] == ["items"]
    assert "rename" not in changes
    # Only `super(Cart, self)` in a method of Cart is read.
    assert "other" not in changes
    # `super()` in a function inside a method is not a call on its object.
    assert "nested" not in changes


PROPERTY_ORDER = (
    "class Order:\n"
    "    @property\n"
    "    def lines(self):\n"
    "        return self._lines\n"
    "    @property\n"
    "    def first(self):\n"
    "        return self.lines[0]\n"
    "    @property\n"
    "    def count(self):\n"
    "        return len(self._lines)\n"
    "    @property\n"
    "    def tags(self):\n"
    "        return self._tags\n"
    "    @tags.setter\n"
    "    def tags(self, value):\n"
    "        self._tags = value\n"
    "    def cancel(self):\n"
    "        self._lines.clear()\n"
    "    def tag(self, text):\n"
    "        self._tags.append(text)\n"
    "    def close(self):\n"
    "        self.status = 'closed'\n"
)


def test_project_summary_method_changes_of_properties() -> None:
    project = _project({"shop.orders": PROPERTY_ORDER})

    changes = project.summaries[0].method_changes["Order"]
    # `count` returns a value that is not followed, so any change counts.
    assert changes["cancel"] == ["_lines", "count", "first", "lines"]
    assert changes["tag"] == ["_tags", "count", "tags"]
    assert "close" not in changes


CONSTRUCTED_BASKET = (
    "CACHE = {}\n"
    "class Basket:\n"
    "    @classmethod\n"
    "    def from_form(cls, form):\n"
    "        return cls(form['items'])\n"
    "    @classmethod\n"
    "    def empty(cls):\n"
    "        return Basket([])\n"
    "    @classmethod\n"
    "    def cached(cls, key):\n"
    "        return CACHE[key]\n"
    "    @classmethod\n"
    "    def rebound(cls, form):\n"
    "        cls = dict\n"
    "        return cls(form)\n"
    "    @staticmethod\n"
    "    def build(items):\n"
    "        return Basket(items)\n"
    "class Gift(Basket):\n"
    "    pass\n"
)


def test_project_summary_alternative_constructors() -> None:
    project = _project({"shop.baskets": CONSTRUCTED_BASKET})

    constructors = project.summaries[0].alternative_constructors
    assert constructors["Basket"] == ["empty", "from_form"]
    # `Gift.empty()` returns a Basket, not a Gift.
    assert constructors["Gift"] == ["from_form"]


@pytest.mark.parametrize(
    ("handler", "read"),
    [
        ("    o = Order()\n    cio.track('1', 'x', data={'items': o.items})\n", True),
        (
            "    o = Order()\n    cio.track('1', 'x', data={'first': o.items[0]})\n",
            True,
        ),
        ("    cio.track('1', 'x', data={'items': o.items})\n", True),
        # The object itself, and a value that is not a part of it.
        ("    o = Order()\n    cio.track('1', 'x', data=o)\n", False),
        ("    o = Order()\n    cio.track('1', 'x', data={'n': len(o)})\n", False),
    ],
)
def test_project_summary_reads_sent_object_class(handler: str, read: bool) -> None:
    source = (
        "from customerio import CustomerIO\n"
        "from shop.orders import Order\n"
        "cio = CustomerIO('s', 'k')\n"
        "def view(o: Order):\n" + handler
    )
    project = _project({"shop.views": source})

    imported = project.summaries[0].imported_arguments
    assert ("shop.orders.Order" in imported) is read


CLIENT_CLASS_MODULES = {
    "app.compat": (
        "try:\n"
        "    from customerio import CustomerIO\n"
        "except ImportError:\n"
        "    CustomerIO = None\n"
        "from customerio import APIClient as Mailer\n"
        "from redis import Client\n"
    ),
    "app.sdk": "from app.compat import CustomerIO, Mailer\n",
    "app.changed": "from customerio import CustomerIO\n",
    "app.views": "import app.changed\napp.changed.CustomerIO = object\n",
    "app.fallback": (
        "try:\n"
        "    from customerio import CustomerIO\n"
        "except ImportError:\n"
        "    from app.fake import CustomerIO\n"
    ),
    "app.billing": "from customerio import APIClient\n",
    "app.aliases": (
        "import requests\nfrom customerio import CustomerIO\n\n"
        "Client = CustomerIO\nSession = requests.Session\n"
    ),
}


def test_project_client_class_follows_reexports() -> None:
    project = _project(CLIENT_CLASS_MODULES)

    optional = project.client_class("app.sdk.CustomerIO")
    mailer = project.client_class("app.sdk.Mailer")

    assert optional is not None
    assert optional.client == TRACK
    assert optional.bindings == (
        ("app.sdk", "CustomerIO"),
        ("app.compat", "CustomerIO"),
    )
    assert optional.optional_in is project.module("app.compat")
    assert mailer is not None
    assert mailer.client == APP
    assert mailer.optional_in is None
    assert project.client_class("app.compat.Client") is None
    assert project.client_class("app.changed.CustomerIO") is None
    assert project.client_class("app.fallback.CustomerIO") is None
    assert project.client_class("customerio.CustomerIO") is None
    assert project.client_class_names == {"APIClient", "Client", "CustomerIO", "Mailer"}


EXCEPTION_MODULES = {
    "app.errors": (
        "from customerio import CustomerIOException\n"
        "from customerio.client_base import CustomerIOException as CioError\n"
    ),
    "app.api": "from app.errors import CioError\n",
    "app.legacy": "from app.errors import CioError\n",
    "app.patches": "from app import legacy\nlegacy.CioError = ValueError\n",
    "app.own": "import customerio\n\nclass CioError(Exception):\n    pass\n",
}


def test_project_external_origin_follows_reexports() -> None:
    project = _project(EXCEPTION_MODULES)

    direct = project.external_origin("app.errors.CustomerIOException")
    chained = project.external_origin("app.api.CioError")

    assert direct == "customerio.CustomerIOException"
    assert chained == "customerio.client_base.CustomerIOException"
    assert project.external_origin("app.legacy.CioError") is None
    assert project.external_origin("app.own.CioError") is None
    assert project.external_origin("app.errors.Missing") is None
    assert project.external_origin("customerio.CustomerIOException") is None


def test_project_client_class_follows_class_alias() -> None:
    project = _project(CLIENT_CLASS_MODULES)

    alias = project.client_class("app.aliases.Client")

    assert alias is not None
    assert alias.client == TRACK
    assert alias.bindings == (("app.aliases", "Client"),)
    assert project.client_class("app.aliases.Session") is None


def test_project_client_class_module_is_prefilter_word() -> None:
    words = prefilter_words(_project(CLIENT_CLASS_MODULES).summaries)

    assert "compat" in words
    # Its importers name `CustomerIO`, which the prefilter finds without it.
    assert "changed" not in words
    assert "sdk" not in words
    # A module that imports `APIClient` under its own name only uses it.
    assert "billing" not in words
    assert "aliases" in words


CLIENT_PROPERTY_MODULE = """\
from customerio import CustomerIO

CLIENT = CustomerIO("site", "key")


class TrackingMixin:
    @property
    def cio(self):
        return CustomerIO("site", "key")

    @property
    def shared_cio(self):
        return CLIENT
"""


def test_project_summary_client_properties() -> None:
    project = _project({"app.tracking": CLIENT_PROPERTY_MODULE})

    [summary] = project.summaries
    assert summary.client_properties == ["TrackingMixin.cio"]
    assert project.is_client_property("app.tracking.TrackingMixin.cio")
    assert not project.is_client_property("app.tracking.TrackingMixin.shared_cio")
    assert "tracking" in prefilter_words(project.summaries)


CLIENT_PROPERTY_READER_MODULE = """\
from app.tracking import TrackingMixin


class Account(TrackingMixin):
    def touch(self):
        self.cio.identify(id=1)

    def share(self):
        cio = self.shared_cio
        cio.identify(id=1)

    def joined(self):
        self.touch()

    def rename(self):
        self.name = "renamed"


class Admin(Account):
    pass
"""

OWN_CLIENT_PROPERTY_READER_MODULE = """\
from customerio import CustomerIO


class Member:
    @property
    def cio(self):
        return CustomerIO("site", "key")

    def joined(self):
        self.cio.track(customer_id=1, name="joined")
"""


def test_project_summary_client_property_reads() -> None:
    project = _project(
        {
            "app.tracking": CLIENT_PROPERTY_MODULE,
            "app.models": CLIENT_PROPERTY_READER_MODULE,
            "app.members": OWN_CLIENT_PROPERTY_READER_MODULE,
        }
    )

    tracking, models, members = project.summaries
    inherited = "app.tracking.TrackingMixin.cio"
    shared = "app.tracking.TrackingMixin.shared_cio"
    assert tracking.client_property_reads == {}
    assert models.client_property_reads == {
        "Account.joined": [inherited],
        "Account.share": [shared],
        "Account.touch": [inherited],
        "Admin.joined": [inherited],
        "Admin.share": [shared],
        "Admin.touch": [inherited],
    }
    assert members.client_property_reads == {
        "Member.joined": ["app.members.Member.cio"]
    }
    assert "models" in prefilter_words(project.summaries)


def test_project_client_properties_read_by_method() -> None:
    project = _project(
        {
            "app.tracking": CLIENT_PROPERTY_MODULE,
            "app.models": CLIENT_PROPERTY_READER_MODULE,
            "app.members": OWN_CLIENT_PROPERTY_READER_MODULE,
        }
    )

    inherited = ["app.tracking.TrackingMixin.cio"]
    assert project.client_properties_read("app.models.Account.touch") == inherited
    assert project.client_properties_read("app.models.Admin.joined") == inherited
    # `shared_cio` returns a module-level client, built once.
    assert project.client_properties_read("app.models.Account.share") == []
    assert project.client_properties_read("app.models.Account.rename") == []
    assert project.client_properties_read("app.models.Missing.touch") == []
    assert project.client_properties_read("app.members.Member.joined") == [
        "app.members.Member.cio"
    ]


def test_project_client_property_read_from_cache(project) -> None:
    root = project(
        {
            "app/__init__.py": "",
            "app/tracking.py": CLIENT_PROPERTY_MODULE,
            "app/views.py": (
                "from django.views import View\n\n"
                "from app.tracking import TrackingMixin\n\n\n"
                "class SignupView(TrackingMixin, View):\n"
                "    def post(self, request):\n"
                '        self.cio.track(request.user.id, "signed_up")\n'
            ),
        }
    )
    arguments = ["--select", "CIO601", "--output-format", "json", "."]

    first = run_cli(arguments, root)
    second = run_cli(arguments, root)

    assert [finding["line"] for finding in first.json["findings"]] == [8]
    assert second.json["findings"] == first.json["findings"]


CLASS_CLIENT_MODULES = {
    "app.tracking": """\
from customerio import APIClient, CustomerIO


class _ClientBase:
    cio = CustomerIO("site", "key")


class TrackingMixin(_ClientBase):
    pass


class MessagingMixin:
    def setup(self, request):
        self.messages = APIClient("key")
        self.log = []
""",
    "app.other": """\
class Mixin:
    cio = None

    def setup(self, request):
        self.cio = object()
""",
}


def test_project_summary_class_clients() -> None:
    project = _project(CLASS_CLIENT_MODULES)

    tracking, other = project.summaries
    assert tracking.class_clients == {
        "_ClientBase.cio": TRACK,
        "TrackingMixin.cio": TRACK,
        "MessagingMixin.messages": APP,
    }
    assert other.class_clients == {}
    assert project.class_client_type("app.tracking.TrackingMixin.cio") == TRACK
    assert project.class_client_type("app.tracking.MessagingMixin.log") is None
    assert project.class_client_type("app.other.Mixin.cio") is None


def test_project_class_client_module_is_prefilter_word() -> None:
    messaging = """\
from customerio import APIClient


class MessagingMixin:
    def setup(self, request):
        self.messages = APIClient("key")
"""
    sources = {
        "app.messaging": messaging,
        "app.other": CLASS_CLIENT_MODULES["app.other"],
    }

    words = prefilter_words(_project(sources).summaries)

    # Only `class_clients` gives `messaging`: the construction is in no
    # `__init__`, and the class body binds no client.
    assert "messaging" in words
    assert "other" not in words


def test_project_class_client_read_from_cache(project) -> None:
    root = project(
        {
            "app/__init__.py": "",
            "app/tracking.py": CLASS_CLIENT_MODULES["app.tracking"],
            "app/views.py": (
                "from django.views import View\n\n"
                "from app.tracking import TrackingMixin\n\n\n"
                "class SignupView(TrackingMixin, View):\n"
                "    def post(self, request):\n"
                '        self.cio.track(request.user.id, "signed_up")\n'
            ),
        }
    )
    arguments = ["--select", "CIO304", "--output-format", "json", "."]

    first = run_cli(arguments, root)
    second = run_cli(arguments, root)

    assert [finding["line"] for finding in first.json["findings"]] == [8]
    assert second.json["findings"] == first.json["findings"]


def test_project_class_client_rebound_elsewhere(project) -> None:
    root = project(
        {
            "app/__init__.py": "",
            "app/tracking.py": CLASS_CLIENT_MODULES["app.tracking"],
            "app/setup.py": (
                "from app.tracking import TrackingMixin\n\n"
                "TrackingMixin.cio = None\n"
            ),
            "app/views.py": (
                "from django.views import View\n\n"
                "from app.tracking import TrackingMixin\n\n\n"
                "class SignupView(TrackingMixin, View):\n"
                "    def post(self, request):\n"
                '        self.cio.track(request.user.id, "signed_up")\n'
            ),
        }
    )

    result = run_cli(["--select", "CIO304", "--output-format", "json", "."], root)

    assert result.json["findings"] == []


def test_project_client_of_renamed_class_word_later() -> None:
    project = _project(
        {
            "app.compat": "from customerio import CustomerIO as Tracker\n",
            "app.client": "from app.compat import Tracker\n\ncio = Tracker('s', 'k')\n",
            "app.log": "import logging\n\nlogger = logging.getLogger(__name__)\n",
        }
    )
    summaries = {summary.module_name: summary for summary in project.summaries}

    # The search for project files adds `client` once `compat` is a word.
    assert prefilter_words([summaries["app.client"]]) == set()
    assert class_modules(summaries["app.client"]) == {"app.compat"}
    assert class_modules(summaries["app.log"]) == set()
    assert project.client_type("app.client.cio") == TRACK


def test_project_renamed_client_class_importer_checked(project) -> None:
    root = project(
        {
            "requirements.txt": "customerio==3.0.0\n",
            "compat.py": "from customerio import CustomerIO as Tracker\n",
            "jobs.py": (
                "from compat import Tracker\n\n\n"
                "def paid(uid, total):\n"
                '    tracker = Tracker("site", "key")\n'
                '    tracker.track(uid, "invoice_paid", total=total)\n'
            ),
        }
    )

    result = run_cli(["--select", "CIO701", "--output-format", "json", "."], root)

    [finding] = result.json["findings"]
    assert finding["path"] == "jobs.py"
    assert finding["fix"] == "safe"


def _client_built_with_compat(compat: str) -> dict[str, str]:
    """Return a project whose module-level client is built with compat's class."""
    return {
        "requirements.txt": "customerio==3.0.0\n",
        "app/__init__.py": "",
        "app/compat.py": compat,
        "app/client.py": (
            "import os\n\nfrom app.compat import CustomerIO\n\n"
            'cio = CustomerIO(os.environ["SITE"], os.environ["KEY"])\n'
        ),
        "app/views.py": (
            "from app.client import cio\n\n\n"
            "def paid(uid, total):\n"
            '    cio.track(uid, f"paid_{total}")\n'
        ),
    }


def test_project_client_of_reexported_class_imported(project) -> None:
    root = project(_client_built_with_compat("from customerio import CustomerIO\n"))

    result = run_cli(["--select", "CIO301", "--output-format", "json", "."], root)

    [finding] = result.json["findings"]
    assert finding["path"] == "app/views.py"
    assert finding["fix"] == "safe"


def test_project_client_of_own_class_not_imported(project) -> None:
    # A project class that only shares the SDK class's name builds no client.
    root = project(_client_built_with_compat("class CustomerIO:\n    pass\n"))

    result = run_cli(["--select", "CIO301", "--output-format", "json", "."], root)

    assert result.json["findings"] == []


def test_project_reexported_names_follow_chain() -> None:
    exports = {
        "app.Event": "app.events.Event",
        "app.events.Event": "app.enums.Event",
        "app.PREFIX": "app.names.PREFIX",
    }

    found = reexported_names({"app.Event.SHIPPED", "app.other.NAME"}, exports)

    assert found == {"app.events.Event.SHIPPED", "app.enums.Event.SHIPPED"}


def test_project_reexported_names_stop_at_cycle() -> None:
    exports = {"app.a.NAME": "app.b.NAME", "app.b.NAME": "app.a.NAME"}

    found = reexported_names({"app.a.NAME"}, exports)

    assert found == {"app.b.NAME"}


def test_project_summary_class_strings() -> None:
    project = _project(
        {
            "app.events": (
                "from enum import Enum, auto\n"
                "class Event(str, Enum):\n"
                '    SHIPPED = "order_shipped"\n'
                "    LATER = auto()\n"
                "class Names:\n"
                '    PAID: str = "order_paid"\n'
            ),
            "app.views": "from app.events import Event as Ev, Names\n",
        }
    )

    event = project.class_strings("app.views.Ev")
    names = project.class_strings("app.views.Names")

    assert event is not None
    assert event.name == "Event"
    assert event.enum_base == "str"
    assert event.members == {"SHIPPED": "order_shipped"}
    assert names is not None
    assert names.enum_base == ""
    assert names.members == {}
    assert names.attributes == {"PAID": "order_paid"}


def test_project_summary_class_strings_rebound_in_body() -> None:
    project = _project(
        {
            "app.events": (
                "import os\n"
                "class Names:\n"
                '    PAID = "paid"\n'
                '    PAID += "_x"\n'
                '    SHIPPED = "shipped"\n'
                "    if os.environ.get('LEGACY'):\n"
                '        SHIPPED = "Shipped"\n'
                '    REFUNDED = "refunded"\n'
            ),
            "app.views": "from app.events import Names\n",
        }
    )

    names = project.class_strings("app.views.Names")

    assert names is not None
    assert names.attributes == {"REFUNDED": "refunded"}


def test_project_summary_rebound_names_unread() -> None:
    project = _project(
        {
            "app.v1": "class Event:\n    SHIPPED = 'shipment_sent'\n",
            "app.v2": "class Event:\n    SHIPPED = 'order_shipped'\n",
            "app.events": (
                "try:\n"
                "    from app.v2 import Event\n"
                "except ImportError:\n"
                "    from app.v1 import Event\n"
                "PREFIX = 'billing'\n"
                "SUFFIX = 'done'\n"
                "class Names:\n"
                "    PAID = 'order_paid'\n"
                "from app.v1 import *\n"
                "def rename():\n"
                "    global SUFFIX\n"
                "    SUFFIX = 'finished'\n"
            ),
        }
    )

    assert project.class_strings("app.v2.Event") is not None
    assert project.class_strings("app.events.Event") is None
    assert project.constant("app.events.PREFIX") is None
    assert project.constant("app.events.SUFFIX") is None
    assert project.class_strings("app.events.Names") is None


def test_project_track_callers_resolved() -> None:
    project = _project(
        {
            "app.client": (
                "from customerio import CustomerIO\n"
                "from mixpanel import Mixpanel\n"
                'cio = CustomerIO("site", "key")\n'
                'mp = Mixpanel("token")\n'
            ),
            "app.events": (
                "from customerio import CustomerIO\n"
                "from app.client import cio, mp\n"
                'local = CustomerIO("site", "key")\n'
                "def purchased(uid):\n"
                '    cio.track(uid, "purchased")\n'
                "def viewed(uid):\n"
                '    mp.track(uid, "viewed")\n'
                "def signed_up(uid):\n"
                "    local.identify(id=uid)\n"
                "def refunded(uid):\n"
                "    purchased(uid)\n"
                "class Sender:\n"
                "    def send(self, uid):\n"
                '        cio.track(uid, "sent")\n'
            ),
            "app.views": "from app.events import purchased as bought, viewed\n",
        }
    )
    callers = project.summaries[1].track_callers

    assert callers == {
        "purchased": ["app.client.cio"],
        "viewed": ["app.client.mp"],
        "signed_up": [],
        "refunded": ["app.client.cio"],
    }
    assert project.makes_track_call("app.views.bought")
    assert project.makes_track_call("app.events.signed_up")
    assert project.makes_track_call("app.events.refunded")
    assert not project.makes_track_call("app.views.viewed")
    assert not project.makes_track_call("app.events.Sender")
    assert not project.makes_track_call("app.other.purchased")


def _imported_arguments(body: str) -> set[str]:
    source = (
        "from app.client import cio\n"
        "from app.constants import EVENT, LAUNCH_MS\n"
        "def send(uid, event=EVENT):\n" + body
    )
    index = build_index(cst.parse_module(source), "app.jobs", is_package=False)
    return summarise(index, Path("app/jobs.py")).imported_arguments


@pytest.mark.parametrize(
    "body",
    [
        '    cio.track(uid, "x", data={"launched_at": LAUNCH_MS})\n',
        '    cio.identify(uid, **{"launched_at": LAUNCH_MS})\n',
        '    attributes = {"launched_at": LAUNCH_MS}\n'
        "    cio.identify(uid, **attributes)\n",
        "    ts = LAUNCH_MS\n    cio.identify(uid, launched_at=ts)\n",
        "    first = LAUNCH_MS\n"
        "    second = first + 60_000\n"
        "    cio.identify(uid, launched_at=second)\n",
        "    name = EVENT\n    cio.track(uid, name)\n",
    ],
    ids=["data", "unpacked-dict", "unpacked-variable", "copy", "copy-of-copy", "name"],
)
def test_project_summary_follows_values_sent(body: str) -> None:
    imported = _imported_arguments(body)

    assert imported & {"app.constants.LAUNCH_MS", "app.constants.EVENT"}


@pytest.mark.parametrize(
    "body",
    [
        # A parameter's default does not tell what callers pass.
        "    cio.track(uid, event)\n",
        # Two assignments: the value sent is not known.
        "    name = EVENT\n    name = 'other'\n    cio.track(uid, name)\n",
        "    ts = LAUNCH_MS\n    print(ts)\n",
    ],
    ids=["parameter-default", "two-assignments", "not-sent"],
)
def test_project_summary_unknown_values_not_followed(body: str) -> None:
    imported = _imported_arguments(body)

    assert not imported & {"app.constants.LAUNCH_MS", "app.constants.EVENT"}


def _called_imports(body: str) -> set[str]:
    source = (
        "from app.client import cio\n"
        "from app import timeutil\n"
        "from app.timeutil import now_ms, user_email\n"
        "def send(uid, extra):\n" + body
    )
    index = build_index(cst.parse_module(source), "app.jobs", is_package=False)
    return summarise(index, Path("app/jobs.py")).imported_arguments


@pytest.mark.parametrize(
    "body, qualified",
    [
        ("    cio.identify(uid, created_at=now_ms())\n", "app.timeutil.now_ms"),
        ('    cio.track(uid, "x", timestamp=now_ms())\n', "app.timeutil.now_ms"),
        (
            '    cio.track(uid, "x", data={"pinged_at": now_ms()})\n',
            "app.timeutil.now_ms",
        ),
        (
            '    cio.track(uid, "x", data=extra if extra else {"pinged_at": now_ms()})\n',
            "app.timeutil.now_ms",
        ),
        (
            '    cio.identify(uid, **(extra or {"seen_at": now_ms()}))\n',
            "app.timeutil.now_ms",
        ),
        (
            "    cio.identify(uid, created_at=timeutil.now_ms())\n",
            "app.timeutil.now_ms",
        ),
    ],
    ids=["keyword", "timestamp", "data", "conditional-data", "unpacked-or", "module"],
)
def test_project_summary_follows_timestamp_calls(body: str, qualified: str) -> None:
    imported = _called_imports(body)

    assert qualified in imported


@pytest.mark.parametrize(
    "body",
    [
        "    cio.identify(uid, email=user_email(uid))\n",
        "    cio.identify(uid, last_seen=now_ms())\n",
        '    cio.track(uid, "x", data={"plan": now_ms()})\n',
        "    print(now_ms())\n",
    ],
    ids=["other-attribute", "not-date-named", "other-key", "not-sent"],
)
def test_project_summary_other_calls_not_followed(body: str) -> None:
    imported = _called_imports(body)

    assert "app.timeutil.now_ms" not in imported
    assert "app.timeutil.user_email" not in imported


def test_project_summary_millisecond_helpers() -> None:
    source = """\
import functools
import time
from app.clock import rebound_ms


def now_ms():
    return int(time.time() * 1000)


def float_ms():
    return time.time() * 1000


def seconds():
    return int(time.time())


async def async_ms():
    return int(time.time() * 1000)


@functools.cache
def cached_ms():
    return int(time.time() * 1000)


def rebound_ms():
    return int(time.time() * 1000)


def twice_ms():
    return int(time.time() * 1000)


twice_ms = seconds


class Clock:
    def now_ms(self):
        return int(time.time() * 1000)
"""
    index = build_index(cst.parse_module(source), "app.timeutil", is_package=False)
    summary = summarise(index, Path("app/timeutil.py"))

    assert summary.millisecond_helpers == (("now_ms", True), ("float_ms", False))
    assert summary.records("now_ms")
    assert not summary.records("seconds")


def test_project_shared_computes_once() -> None:
    project = ProjectIndex([])
    calls = []

    def compute(index: ProjectIndex) -> list[str]:
        calls.append(index)
        return ["built"]

    first = project.shared("key", compute)
    second = project.shared("key", compute)

    assert first is second
    assert calls == [project]


HARD_CODED = (
    "from customerio import CustomerIO\n"
    'cio = CustomerIO("3f9a1c2b4d5e6f708192", "0a1b2c3d4e5f60718293")\n'
)


def test_project_root_is_work_tree_top(project) -> None:
    # Without pyproject.toml, `cio-fix app/` reads the repository's
    # requirements, so CIO301 writes the customerio 2.x form.
    root = project(
        {
            "requirements.txt": "customerio==2.1\n",
            "app/events.py": (
                "from customerio import CustomerIO\n"
                'cio = CustomerIO("site", "key")\n\n\n'
                "def viewed(uid, sku):\n"
                '    cio.track(customer_id=uid, name=f"viewed_{sku}")\n'
            ),
        }
    )
    (root / ".git").mkdir()

    run_cli(["--apply", "--select", "CIO301", "app/"], root)

    fixed = (root / "app" / "events.py").read_text()
    assert 'name="viewed", sku=f"{sku}")' in fixed


def test_project_root_in_git_passes_service_pyproject(project) -> None:
    root = project(
        {
            "repo/pyproject.toml": '[project]\nname = "monorepo"\n',
            "repo/services/web/pyproject.toml": '[project]\nname = "web"\n',
            "repo/services/web/app.py": "",
        }
    )
    (root / "repo/.git").mkdir()

    config = load_config(root / "repo/services/web/app.py")

    assert config.root == root / "repo"
    assert config.config_path == root / "repo/pyproject.toml"


def test_project_root_in_git_not_above_work_tree(project) -> None:
    # A pyproject.toml above the work tree, such as one in a home folder,
    # is not the root unless it configures cio-fix.
    root = project(
        {
            "pyproject.toml": '[project]\nname = "home"\n',
            "repo/services/web/pyproject.toml": '[project]\nname = "web"\n',
        }
    )
    (root / "repo/.git").mkdir()

    config = load_config(root / "repo/services/web")

    assert config.root == root / "repo"
    assert config.config_path is None


def test_project_root_in_git_not_configured_from_above(project) -> None:
    # A repository cloned into an ignored folder of another one: the outer
    # exclude would match every file of the inner repository.
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["checkouts/"]\n',
            "checkouts/svc/app/worker.py": HARD_CODED,
        }
    )
    (root / ".git").mkdir()
    (root / "checkouts/svc/.git").mkdir()

    config = load_config(root / "checkouts/svc/app/worker.py")
    result = run_cli(["--no-cache", "."], root / "checkouts/svc")

    assert config.root == root / "checkouts/svc"
    assert config.config_path is None
    assert result.stdout.count(" CIO101 ") == 2


def test_project_root_in_git_configured_service(project) -> None:
    root = project({"services/web/pyproject.toml": "[tool.cio-fix]\n"})
    (root / ".git").mkdir()

    assert load_config(root / "services/web").root == root / "services/web"


def test_project_root_outside_git_nearest_pyproject(project) -> None:
    root = project(
        {
            "pyproject.toml": '[project]\nname = "monorepo"\n',
            "services/web/pyproject.toml": '[project]\nname = "web"\n',
        }
    )

    assert load_config(root / "services/web").root == root / "services/web"


VIEWED = (
    "from customerio import CustomerIO\n"
    'cio = CustomerIO("site", "key")\n\n\n'
    "def viewed(uid, sku):\n"
    '    cio.track(customer_id=uid, name=f"viewed_{sku}")\n'
)


def test_project_each_service_its_own_version(project) -> None:
    root = project(
        {
            "old/requirements.txt": "customerio==2.1\n",
            "old/events.py": VIEWED,
            "new/requirements.txt": "customerio==3.2.0\n",
            "new/events.py": VIEWED,
        }
    )

    run_cli(["--apply", "--select", "CIO301", "."], root)

    fixed = (root / "old" / "events.py").read_text()
    assert 'name="viewed", sku=f"{sku}")' in fixed
    assert 'data={"sku": f"{sku}"})' in (root / "new" / "events.py").read_text()


def test_project_service_version_change_misses_cache(project) -> None:
    root = project(
        {
            "requirements.txt": "flask\n",
            "old/requirements.txt": "customerio==2.1\n",
            "old/events.py": VIEWED,
            "new/events.py": VIEWED,
        }
    )
    first = run_cli(["--dry-run", "--select", "CIO301", "."], root)
    (root / "old" / "requirements.txt").write_text("customerio==3.2.0\n")

    second = run_cli(["--dry-run", "--select", "CIO301", "."], root)

    assert (
        '+    cio.track(customer_id=uid, name="viewed", sku=f"{sku}")' in first.stdout
    )
    assert "sku=sku" not in second.stdout
    assert 'data={"sku": f"{sku}"}' in second.stdout


def test_project_version_source_relative_to_cwd(project) -> None:
    root = project(
        {
            "shipping/requirements.txt": "customerio==3.2.0\n",
            "shipping/app.py": (
                "from customerio import CustomerIO\n"
                'cio = CustomerIO("site", "key")\n'
                'cio.track(customer_id=1, name="shipped", carrier="ups")\n'
            ),
        }
    )
    (root / ".git").mkdir()

    result = run_cli(["--dry-run", "--select", "CIO701", "."], root / "shipping")

    assert "(requirements.txt)" in result.stdout


REGISTRY = (
    "import os\n\n"
    "from customerio import CustomerIO\n\n"
    'CLIENTS = {"us": CustomerIO(os.environ["SID"], os.environ["KEY"])}\n\n\n'
    "class Holder:\n"
    '    client = CustomerIO(os.environ["SID"], os.environ["KEY"])\n\n\n'
    "def record(kind, uid, plan):\n"
    '    CLIENTS[kind].track(customer_id=uid, name="plan_" + plan)\n'
    '    Holder.client.track(customer_id=uid, name="plan_" + plan)\n'
)


@pytest.mark.parametrize(
    ("plugin", "reported"),
    [
        ("from registry import CLIENTS\n\nprint(CLIENTS.get('us'))\n", 2),
        ("from registry import CLIENTS\n\nCLIENTS['audit'] = AuditLog()\n", 1),
        ("import registry\n\nregistry.Holder.client = AuditLog()\n", 1),
    ],
)
def test_project_containers_changed_in_other_file(project, plugin, reported) -> None:
    # plugins.py does not mention customerio: it is read because it
    # imports the module that contains the dict and the class.
    root = project(
        {
            "requirements.txt": "customerio==3.2.0\n",
            "registry.py": REGISTRY,
            "plugins.py": "from audit import AuditLog\n" + plugin,
        }
    )

    result = run_cli(["--dry-run", "--select", "CIO301", "."], root)

    assert result.stdout.count("registry.py:") == reported


def test_project_type_alias_importer_read(project) -> None:
    # routes.py does not mention customerio, and deps.py defines no client
    # or factory. routes.py is read because it imports deps.py's alias.
    root = project(
        {
            "app/__init__.py": "",
            "app/clients.py": (
                "from customerio import CustomerIO\n\n\n"
                "def get_cio():\n"
                '    return CustomerIO("site", "key")\n'
            ),
            "app/deps.py": (
                "from typing import Annotated\n\n"
                "from customerio import CustomerIO\n"
                "from fastapi import Depends\n\n"
                "from app.clients import get_cio\n\n"
                "TrackerDep = Annotated[CustomerIO, Depends(get_cio)]\n"
            ),
            "app/routes.py": (
                "from fastapi import FastAPI\n\n"
                "from app.deps import TrackerDep\n\n"
                "app = FastAPI()\n\n\n"
                '@app.post("/orders")\n'
                "def order_created(user_id: int, tracker: TrackerDep):\n"
                '    tracker.track(customer_id=user_id, name="order_placed")\n'
            ),
        }
    )

    result = run_cli(["--output-format", "json", "--select", "CIO304", "."], root)

    paths = [finding["path"] for finding in result.json["findings"]]
    assert paths == ["app/routes.py"]


TRACK_KEYWORD_ATTRIBUTE = (
    "import os\n\n"
    "from customerio import CustomerIO\n\n"
    'cio = CustomerIO(os.environ["SID"], os.environ["KEY"])\n\n\n'
    "def signed_up(uid):\n"
    '    cio.track(customer_id=uid, name="signed_up", plan="pro")\n'
)


def test_project_conflict_withholds_sdk3_fix(project) -> None:
    root = project(
        {
            "app/requirements.txt": "customerio==2.1\n",
            "app/requirements-next.txt": "customerio==3.2\n",
            "app/m.py": TRACK_KEYWORD_ATTRIBUTE,
        }
    )

    output = run_cli(["--no-diff", "--select", "CIO701", "."], root).stdout

    lines = [line for line in output.splitlines() if "CIO701" in line]
    assert len(lines) == 1
    assert "[*]" not in lines[0]
    conflict = (
        "app/requirements.txt pins customerio 2.x and app/requirements-next.txt 3.x"
    )
    assert f"(not fixed: {conflict})" in lines[0]


def test_project_sdk_version_setting_ends_conflict(project) -> None:
    root = project(
        {
            "pyproject.toml": "[tool.cio-fix]\nsdk-version = 3\n",
            "requirements.txt": "customerio==2.1\n",
            "requirements-next.txt": "customerio==3.2\n",
            "m.py": TRACK_KEYWORD_ATTRIBUTE,
        }
    )

    output = run_cli(["--no-diff", "--select", "CIO701", "."], root).stdout

    assert "CIO701 [*]" in output
    assert "not fixed" not in output


def test_project_conflict_withholds_event_name_fix(project) -> None:
    root = project(
        {
            "requirements.txt": "customerio==3.2\n",
            "requirements-legacy.txt": "customerio==2.1\n",
            "m.py": (
                "import os\n\n"
                "from customerio import CustomerIO\n\n"
                'cio = CustomerIO(os.environ["SID"], os.environ["KEY"])\n\n\n'
                "def viewed(uid, page):\n"
                '    cio.track(customer_id=uid, name=f"viewed {page}")\n'
            ),
        }
    )

    output = run_cli(["--no-diff", "--select", "CIO301", "."], root).stdout

    lines = [line for line in output.splitlines() if "CIO301" in line]
    assert len(lines) == 1
    assert "[*]" not in lines[0]
    assert (
        "the customerio version is unknown because requirements.txt pins"
        " customerio 3.x and requirements-legacy.txt 2.x"
    ) in lines[0]


def test_project_import_roots_in_any_order(project) -> None:
    root = project(
        {
            "customerio.py": "",
            "services/alpha/pyproject.toml": "",
            "services/alpha/app/deep/views.py": "",
            "services/alpha/main.py": "",
            "services/beta/setup.cfg": "",
            "services/beta/customerio/__init__.py": "",
            "services/beta/app/views.py": "",
            "tools/scripts/report.py": "",
        }
    ).resolve()
    shadowing = SdkShadowing(root)
    alpha, beta = root / "services/alpha", root / "services/beta"

    # The deepest folder first, so that later lookups meet remembered folders.
    assert shadowing.import_root(alpha / "app/deep") == alpha
    assert shadowing.import_root(alpha) == alpha
    assert shadowing.import_root(root / "services") == root
    assert shadowing.import_root(beta / "app") == beta
    assert shadowing.import_root(root / "tools/scripts") == root
    assert shadowing.packages_for(alpha / "app/deep/views.py") == frozenset()
    assert shadowing.packages_for(beta / "app/views.py") == {"customerio"}
    assert shadowing.packages_for(root / "tools/scripts/report.py") == {"customerio"}


def test_manage_py_folder_is_an_import_root(project) -> None:
    root = project(
        {
            "pyproject.toml": "",
            "customerio.py": "",
            "src/site/manage.py": "",
            "src/site/shop/views.py": "",
            "src/other/manage.py": "",
            "src/other/customerio.py": "",
            "src/other/shop/views.py": "",
        }
    ).resolve()
    shadowing = SdkShadowing(root)

    assert shadowing.import_root(root / "src/site/shop") == root / "src/site"
    assert shadowing.packages_for(root / "src/site/shop/views.py") == frozenset()
    assert shadowing.packages_for(root / "src/other/shop/views.py") == {"customerio"}


def _pipelines_project(
    tracking: str, views_import: str, module: str = "analytics"
) -> dict[str, str]:
    """Return a project whose views send a built name through a module that tracking binds.

    `module` is how the views name the Data Pipelines module.
    """
    return {
        "pyproject.toml": "",
        "app/__init__.py": "",
        "app/tracking.py": tracking,
        "app/views.py": (
            f"{views_import}\n\n\n"
            "def signup(user):\n"
            f'    {module}.track(user.id, f"signed_up_{{user.plan}}")\n'
        ),
    }


def test_project_pipelines_module_reexported_fixed(project) -> None:
    root = project(
        _pipelines_project(
            "from customerio import analytics\n\nanalytics.write_key = WRITE_KEY\n",
            "from app.tracking import analytics",
        )
    )

    result = run_cli(["--apply", "--select", "CIO301", "app/views.py"], root)

    assert result.exit_code == 0
    fixed = (root / "app/views.py").read_text()
    assert (
        'analytics.track(user.id, "signed_up", properties={"user_plan": f"{user.plan}"})'
        in fixed
    )


@pytest.mark.parametrize(
    ("views_import", "module"),
    [
        ("from app import tracking", "tracking.analytics"),
        ("import app.tracking", "app.tracking.analytics"),
    ],
)
def test_project_pipelines_module_attribute_fixed(
    project, views_import: str, module: str
) -> None:
    root = project(
        _pipelines_project(
            "from customerio import analytics\n\nanalytics.write_key = WRITE_KEY\n",
            views_import,
            module,
        )
    )

    result = run_cli(["--apply", "--select", "CIO301", "app/views.py"], root)

    assert result.exit_code == 0
    fixed = (root / "app/views.py").read_text()
    assert f"    {module}.track(\n" in fixed
    assert '"signed_up", properties={"user_plan": f"{user.plan}"}\n' in fixed


def test_project_segment_module_attribute_not_reported(project) -> None:
    root = project(
        _pipelines_project(
            "import analytics\n\nanalytics.write_key = WRITE_KEY\n"
            "from customerio import CustomerIO\n",
            "from app import tracking",
            "tracking.analytics",
        )
    )

    result = run_cli(["--dry-run", "--select", "CIO301", "."], root)

    assert result.exit_code == 0
    assert "CIO301" not in result.stdout


def test_project_pipelines_module_reexported_by_package_reported(project) -> None:
    files = _pipelines_project(
        "from app.tracking.setup import analytics\n",
        "from app.tracking import analytics",
    )
    files["app/tracking/__init__.py"] = files.pop("app/tracking.py")
    files["app/tracking/setup.py"] = "import customerio.analytics as analytics\n"
    root = project(files)

    result = run_cli(["--dry-run", "--select", "CIO301", "."], root)

    assert "app/views.py:5:30: CIO301 [*]" in result.stdout


def test_project_segment_module_reexported_not_reported(project) -> None:
    # Segment's `analytics` package has the same functions, and is not Customer.io.
    root = project(
        _pipelines_project(
            "import analytics\n\nanalytics.write_key = WRITE_KEY\n"
            "from customerio import CustomerIO\n",
            "from app.tracking import analytics",
        )
    )

    result = run_cli(["--dry-run", "--select", "CIO301", "."], root)

    assert result.exit_code == 0
    assert "CIO301" not in result.stdout


GLOBAL_INIT_CLIENT = (
    "from customerio import CustomerIO\n"
    "from django.conf import settings\n\n"
    "cio = None\n\n\n"
    "def init_client():\n"
    "    global cio\n"
    "    cio = CustomerIO(settings.CIO_SITE_ID, settings.CIO_API_KEY)\n"
)


@pytest.mark.parametrize(
    ("import_line", "receiver"),
    [
        ("from shop import customerio_client", "customerio_client.cio"),
        ("from shop.customerio_client import cio", "cio"),
        ("import shop.customerio_client", "shop.customerio_client.cio"),
    ],
)
def test_project_global_init_client_imported(project, import_line, receiver) -> None:
    root = project(
        {
            "requirements.txt": "customerio==3.1.0\n",
            "shop/__init__.py": "",
            "shop/customerio_client.py": GLOBAL_INIT_CLIENT,
            "shop/apps.py": (
                "from django.apps import AppConfig\n\n\n"
                "class ShopConfig(AppConfig):\n"
                '    name = "shop"\n\n'
                "    def ready(self):\n"
                "        from shop import customerio_client\n\n"
                "        customerio_client.init_client()\n"
            ),
            "shop/views.py": (
                f"import time\n\n{import_line}\n\n\n"
                "def signup(request):\n"
                f"    {receiver}.identify(id=1, created_at=int(time.time() * 1000))\n"
            ),
        }
    )

    result = run_cli(["--output-format", "json", "."], root)

    found = [(item["path"], item["code"]) for item in result.json["findings"]]
    assert ("shop/views.py", "CIO103") in found
    assert ("shop/views.py", "CIO304") in found
    assert not any(code == "CIO601" for _, code in found)


@pytest.mark.parametrize(
    "sender",
    [
        "from shop.customerio_client import cio\n\n\n"
        "def signup(request):\n"
        "    cio.identify(id=1, created_at=int(time.time() * 1000))\n",
        "cio = None\n\n\n"
        "def init_client():\n"
        "    global cio\n"
        '    cio = CustomerIO("site", "key")\n\n\n'
        "def signup(request):\n"
        "    cio.identify(id=1, created_at=int(time.time() * 1000))\n",
    ],
    ids=["imported", "same_module"],
)
def test_project_global_init_client_set_through_module(project, sender) -> None:
    # testing.py puts another object in place of the client through the
    # module object, so `cio` is not known to be a client in either module.
    root = project(
        {
            "requirements.txt": "customerio==3.1.0\n",
            "shop/__init__.py": "",
            "shop/customerio_client.py": GLOBAL_INIT_CLIENT,
            "shop/views.py": (
                "import time\n\nfrom customerio import CustomerIO\n" + sender
            ),
            "shop/testing.py": (
                "from shop import customerio_client, views\n\n\n"
                "def use_fake():\n"
                "    customerio_client.cio = object()\n"
                "    views.cio = object()\n"
            ),
        }
    )

    result = run_cli(["--output-format", "json", "--select", "CIO103", "."], root)

    assert result.json["findings"] == []


ROUTE_FACTORY_MODULES = {
    "web.app": "from flask import Flask\n\napp = Flask(__name__)\n",
    "web.cache": "class Memo:\n    pass\n\n\nmemo = Memo()\n",
    "web.api": """\
from fastapi import APIRouter

router = APIRouter()


def json_get(path):
    return router.get(path)
""",
    "web.routing": """\
from web.app import app
from web.cache import memo


def json_post(path):
    return app.route(path, methods=["POST"])


def cached(key):
    return memo.get(key)


def stripped(path):
    return path.strip()
""",
    "web.urls": "from web.routing import cached, json_post\n",
    "web.views": "from web.routing import *\n",
}


def test_project_summary_route_factories() -> None:
    project = _project(ROUTE_FACTORY_MODULES)

    app, cache, api, routing, urls, views = project.summaries
    assert app.route_factories == {}
    assert cache.route_factories == {}
    assert api.route_factories == {"json_get": None}
    assert routing.route_factories == {
        "json_post": "web.app.app",
        "cached": "web.cache.memo",
    }
    assert urls.route_factories == {}
    assert views.route_factories == {}


ROUTE_DECORATED_VIEWS = """\
from web.ext import cache
from web.retrying import retry
from web.routing import json_post as post_json


def local_post(path):
    return post_json(path)


@post_json("/orders")
def create_order():
    pass


@retry(attempts=3)
@cache.memoize("/prices")
@local_post("/refunds")
def refund():
    pass


class Views:
    @post_json("/returns")
    def create_return(self):
        pass
"""


def test_project_summary_route_decorators() -> None:
    project = _project({"web.views": ROUTE_DECORATED_VIEWS})

    (views,) = project.summaries
    # Only a call of an imported name with a path first may be a route factory.
    assert views.route_decorators == ["web.routing.json_post"]


def test_project_route_factory_needs_web_app() -> None:
    project = _project(ROUTE_FACTORY_MODULES)

    assert project.route_factory("web.routing.json_post")
    assert project.route_factory("web.urls.json_post")
    assert project.route_factory("web.api.json_get")
    # A star import passes on a name that the module does not bind itself.
    assert project.route_factory("web.views.json_post")
    # `memo` is no Flask app, and `stripped` returns no route decorator.
    assert not project.route_factory("web.routing.cached")
    assert not project.route_factory("web.urls.cached")
    assert not project.route_factory("web.routing.stripped")
    assert not project.route_factory("web.app.app")
    assert not project.route_factory("web.views.cached")

"""Serial, parallel and cached runs: the same findings, diffs, JSON, errors and bytes."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
from rich.console import Console

import cio_fix.cache
import cio_fix.checker
from cio_fix import lookups, pipeline
from cio_fix.cache import (
    CACHE_FILE,
    CACHE_FOLDER,
    CHECKSUM_BYTES,
    Cache,
    _checksum,
    loads,
)
from cio_fix.cli import _exit_status
from cio_fix.config import Config, load_config
from cio_fix.engine import run
from cio_fix.lookups import Lookup
from cio_fix.report.json import render_json
from cio_fix.report.text import render_text

from conftest import FIXTURES, run_cli

EXAMPLES = Path(__file__).parent.parent / "examples"
CHECK_SERIALLY = pipeline._check_serially

SETTINGS = """\
import os

CUSTOMERIO_SITE_ID = "3f9a0c1d2e4b5a69c7d1"
CUSTOMERIO_API_KEY = "0a1b2c3d4e5f6a7b8c9d"
DEBUG = os.environ.get("DEBUG") == "1"
"""

CLIENT = """\
from customerio import CustomerIO

from shop import settings

cio = CustomerIO(settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_API_KEY)
"""

HANDLERS = """\
import time

from shop.client import cio


def signed_up(user):
    cio.identify(id=user.id, created_at=int(time.time() * 1000))


def ordered(user, order):
    cio.track(customer_id=user.id, name="ordered", timestamp=time.time() * 1000)
"""

WORKER = """\
import time

from customerio import CustomerIO

cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")


def resend(orders):
    for order in orders:
        cio.track(customer_id=order.user_id, name="placed", placed_at=time.time())
"""

PROFILE = """\
from shop.client import cio


def update_plan(user):
    cio.identify(id=user.id, plan=user.plan)
"""

BROKEN = "from customerio import CustomerIO\ndef broken(:\n"

FILES = {
    "requirements.txt": "customerio==3.2.0\n",
    "shop/__init__.py": "",
    "shop/settings.py": SETTINGS,
    "shop/client.py": CLIENT,
    "shop/signup.py": HANDLERS,
    "shop/orders.py": HANDLERS.replace("signed_up", "registered"),
    "shop/worker.py": WORKER,
    "shop/profile.py": PROFILE,
    "shop/sync.py": PROFILE.replace("update_plan", "sync_plan"),
    "shop/broken.py": BROKEN,
}


@pytest.fixture(autouse=True)
def no_fallback(monkeypatch) -> None:
    """Fail a test whose run gives up on the phases and checks everything again."""

    def fail(*args):
        raise AssertionError("the run fell back to checking without the pipeline")

    monkeypatch.setattr(pipeline, "_check_serially", fail)


@dataclass
class Outputs:
    """What one run shows: the text report with its diffs, the JSON and the exit status."""

    text: str
    errors: str
    json: str
    exit_status: int


def _outputs(root: Path, *, jobs: int, cache: bool, apply: bool = False) -> Outputs:
    """Run the engine once in `root` and render every output of that one run."""
    previous = Path.cwd()
    os.chdir(root)
    try:
        config = load_config(root).with_options(jobs=jobs, cache=cache)
        result = run([Path(".")], config, apply=apply)
        text, errors = io.StringIO(), io.StringIO()
        render_text(
            Console(file=text, width=200, no_color=True, highlight=False),
            Console(file=errors, width=200, no_color=True, highlight=False),
            result,
            apply=apply,
            show_diff=True,
            quiet=False,
            unsafe_fixes=False,
        )
        return Outputs(
            text.getvalue(),
            errors.getvalue(),
            render_json(result),
            _exit_status(result, apply=apply, exit_zero=False),
        )
    finally:
        os.chdir(previous)


@pytest.fixture
def workers(monkeypatch) -> list[int]:
    """Start worker processes even for a few files, and record how many each run starts."""
    started: list[int] = []
    original = pipeline._ParallelBackend.__init__

    def counting_init(self, config, jobs):
        started.append(jobs)
        original(self, config, jobs)

    monkeypatch.setattr(pipeline, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(pipeline._ParallelBackend, "__init__", counting_init)
    # --jobs is capped at the number of CPUs; `--jobs 2` starts a worker
    # on a machine with one CPU too.
    cpus = pipeline.available_cpus()
    monkeypatch.setattr(pipeline, "available_cpus", lambda: max(cpus, 2))
    return started


def _record_calls(monkeypatch, method: str) -> list[str]:
    """Record the file names that each call of `Checker.<method>` in this process gets."""
    names: list[str] = []
    original = getattr(cio_fix.checker.Checker, method)

    def recording(self, first, *args):
        paths = sorted(first) if isinstance(first, dict) else [first]
        names.extend(path.name for path in paths)
        return original(self, first, *args)

    monkeypatch.setattr(cio_fix.checker.Checker, method, recording)
    return names


def _copy(source: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(CACHE_FOLDER))
    return target


@pytest.mark.parametrize("source", [FIXTURES, EXAMPLES], ids=["fixtures", "examples"])
def test_pipeline_modes_give_same_outputs(
    tmp_path, workers, monkeypatch, source
) -> None:
    root = _copy(source, tmp_path, "project")
    # Nested projects without --jobs start one process per CPU.
    monkeypatch.setattr(pipeline, "available_cpus", lambda: 2)

    serial = _outputs(root, jobs=1, cache=False)
    parallel = _outputs(root, jobs=2, cache=True)
    cached = _outputs(root, jobs=1, cache=True)

    # A fixture folder with a [tool.cio-fix] table of its own is a project
    # of its own, checked by a pool of its own.
    assert workers
    assert all(jobs == 2 for jobs in workers)
    assert "+++ b/" in serial.text
    assert parallel.text == serial.text
    assert parallel.errors == serial.errors
    assert parallel.json == serial.json
    assert parallel.exit_status == serial.exit_status
    assert cached.text == serial.text
    assert cached.errors == serial.errors
    assert cached.json == serial.json
    assert cached.exit_status == serial.exit_status


def test_pipeline_parallel_cli_equals_serial(project, workers, monkeypatch) -> None:
    root = project(FILES)
    # --jobs is capped at the number of CPUs.
    monkeypatch.setattr(pipeline, "available_cpus", lambda: 3)

    serial = run_cli(["--no-cache", "-j", "1", "--output-format", "json", "."], root)
    parallel = run_cli(
        ["--no-cache", "--jobs", "2", "--output-format", "json", "."], root
    )
    three = run_cli(["--no-cache", "--jobs", "3", "--output-format", "json", "."], root)

    assert workers == [2, 3]
    assert serial.json["findings"]
    assert serial.json["errors"]
    assert parallel.stdout == serial.stdout
    assert parallel.exit_code == serial.exit_code
    assert three.stdout == serial.stdout
    assert three.exit_code == serial.exit_code


def test_pipeline_jobs_one_starts_no_workers(project, workers) -> None:
    root = project(FILES)

    run_cli(["--no-cache", "--jobs", "1", "."], root)

    assert workers == []


def test_pipeline_workers_start_with_black_imported(tmp_path: Path) -> None:
    # A fresh interpreter, because the tests before may have imported black.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from cio_fix.config import load_config\n"
        "from cio_fix.pipeline import _ParallelBackend\n"
        "backend = _ParallelBackend(load_config(Path('.')), 2)\n"
        "print('black' in sys.modules)\n"
        "backend.close()\n"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "True\n"


def test_pipeline_jobs_capped_at_cpu_count(project, workers, monkeypatch) -> None:
    root = project(FILES)
    monkeypatch.setattr(pipeline, "available_cpus", lambda: 2)

    run_cli(["--no-cache", "--jobs", "1000", "."], root)

    assert workers == [2]


def test_pipeline_few_files_start_no_workers(project, monkeypatch) -> None:
    started: list[int] = []
    monkeypatch.setattr(
        pipeline._ParallelBackend, "__init__", lambda *args: started.append(1)
    )
    root = project({"requirements.txt": FILES["requirements.txt"], "app.py": WORKER})

    result = run_cli(
        ["--no-cache", "--jobs", "4", "--output-format", "json", "."], root
    )

    assert started == []
    assert result.json["findings"]


def test_pipeline_cached_run_parses_nothing(project, monkeypatch) -> None:
    root = project(FILES)
    first = _outputs(root, jobs=1, cache=True)
    parsed = _record_calls(monkeypatch, "parse_files")

    cached = _outputs(root, jobs=1, cache=True)

    assert parsed == []
    assert cached == first


def test_pipeline_parallel_apply_writes_same_bytes(tmp_path, project, workers) -> None:
    serial = project(FILES)
    parallel = _copy(serial, tmp_path.parent, f"{tmp_path.name}-parallel")

    run_cli(["--apply", "--no-cache", "--jobs", "1", "."], serial)
    run_cli(["--apply", "--no-cache", "--jobs", "2", "."], parallel)

    assert workers == [2]
    for name in FILES:
        assert (parallel / name).read_bytes() == (serial / name).read_bytes(), name


def test_pipeline_apply_from_cache_writes_same_bytes(tmp_path, project) -> None:
    fresh = project(FILES)
    cached = _copy(fresh, tmp_path.parent, f"{tmp_path.name}-cached")
    run_cli(["--dry-run", "."], cached)

    run_cli(["--apply", "--no-cache", "."], fresh)
    run_cli(["--apply", "."], cached)

    assert (fresh / "shop" / "signup.py").read_text() != HANDLERS
    for name in FILES:
        assert (cached / name).read_bytes() == (fresh / name).read_bytes(), name


def test_pipeline_apply_skips_file_changed_since_cached(project) -> None:
    root = project(FILES)
    run_cli(["--dry-run", "."], root)
    edited = HANDLERS + "\n\ndef later(user):\n    cio.identify(id=user.id)\n"
    (root / "shop" / "signup.py").write_text(edited)

    run_cli(["--apply", "."], root)
    fixed = (root / "shop" / "signup.py").read_text()

    assert "def later(user):" in fixed
    assert "created_at=int(time.time())" in fixed


# CIO601 reports `Notifier` where jobs.py instantiates it per item, and its
# fix in notifier.py removes the client that `__init__` builds.
CLASS_FILES = {
    "requirements.txt": "customerio==3.2.0\n",
    "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO601"]\n',
    "notifier.py": (
        "import os\n\n"
        "from customerio import CustomerIO\n\n\n"
        "class Notifier:\n"
        "    def __init__(self, users):\n"
        "        for user in users:\n"
        '            client = CustomerIO(os.environ["SITE"], os.environ["KEY"])\n'
        "            client.identify(id=user)\n"
    ),
    # Its docstring lets it through the prefilter, so that both files are
    # parsed in the first round, one by each process.
    "jobs.py": (
        '"""Send the customerio notifications of each group."""\n\n'
        "from notifier import Notifier\n\n\n"
        "def notify_all(groups):\n"
        "    for users in groups:\n"
        "        Notifier(users)\n"
    ),
}


# The CIO301 fixes of events.py and views.py both send the event `viewed`,
# with the attribute `value` a number in events.py and a string in views.py.
# So only the fixed code gives CIO402.
CLASH_FILES = {
    "requirements.txt": "customerio==3.1\n",
    "pyproject.toml": '[tool.cio-fix]\nselect = ["CIO301", "CIO402"]\n',
    "events.py": (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "def viewed(uid, sku, page):\n"
        "    cio.track(\n"
        '        customer_id=uid, data={"value": int(sku)}, name=f"viewed_{page}"\n'
        "    )\n"
    ),
    "views.py": (
        '"""Send the customerio events of the views."""\n\n'
        "from events import cio\n\n\n"
        "def viewed_again(uid, sku, page):\n"
        '    cio.track(customer_id=uid, name="viewed_" + page, data={"value": str(sku)})\n'
    ),
}


# The CIO701 fix in track.py moves the Track client and the email send down
# by four lines, which the CIO102 and CIO501 findings in app.py quote.
QUOTED_FILES = {
    "requirements.txt": "customerio==3.1\n",
    "settings.py": 'import os\n\nAPI_KEY = os.environ["API_KEY"]\n',
    "track.py": (
        "import os\n\n"
        "from customerio import APIClient, CustomerIO\n\n"
        "from settings import API_KEY\n\n\n"
        "def ship(order):\n"
        '    cio.track(customer_id=order["user_id"], name="order_shipped",'
        ' total=order["total"])\n\n\n'
        'cio = CustomerIO("site", API_KEY)\n\n\n'
        "def receipt(request):\n"
        '    APIClient(os.environ["APP_API_KEY"]).send_email(request)\n'
    ),
    "app.py": (
        "from customerio import APIClient\n\n"
        "from settings import API_KEY\n\n\n"
        "def send(request):\n"
        "    APIClient(API_KEY).send_email(request)\n"
    ),
}


@pytest.mark.parametrize(
    ("files", "summary", "exit_status"),
    [
        (CLASS_FILES, "Found 2 findings (2 fixed, 0 remaining)", 0),
        (CLASH_FILES, "Found 3 findings (2 fixed, 1 remaining)", 1),
        (QUOTED_FILES, "Found 3 findings (1 fixed, 2 remaining)", 1),
    ],
    ids=["removed", "revealed", "quoted"],
)
def test_pipeline_modes_settle_project_findings_alike(
    tmp_path, project, workers, monkeypatch, files, summary, exit_status
) -> None:
    serial_root = project(files)
    parallel_root = _copy(serial_root, tmp_path.parent, f"{tmp_path.name}-parallel")
    cached_root = _copy(serial_root, tmp_path.parent, f"{tmp_path.name}-cached")
    fallback_root = _copy(serial_root, tmp_path.parent, f"{tmp_path.name}-fallback")
    # The first `--apply` fills the cache. With the files put back as they
    # were, the second one reads every phase from it.
    _outputs(cached_root, jobs=1, cache=True, apply=True)
    project_checks: list[int] = []
    recheck = cio_fix.checker.Checker._recheck_project

    def counting(self, *args):
        project_checks.append(1)
        return recheck(self, *args)

    monkeypatch.setattr(cio_fix.checker.Checker, "_recheck_project", counting)
    for name, text in files.items():
        (cached_root / name).write_text(text)

    cached = _outputs(cached_root, jobs=1, cache=True, apply=True)
    cached_project_checks = len(project_checks)
    serial = _outputs(serial_root, jobs=1, cache=False, apply=True)
    parallel = _outputs(parallel_root, jobs=2, cache=False, apply=True)
    # A run whose worker fails checks every file again with `Checker.check`.
    monkeypatch.setattr(pipeline, "_check_serially", CHECK_SERIALLY)

    def broken_collect(self, paths, data):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(pipeline._Worker, "collect", broken_collect)
    fallback = _outputs(fallback_root, jobs=2, cache=False, apply=True)

    assert workers == [2, 2]
    assert cached_project_checks == 0
    assert summary in serial.text
    assert serial.exit_status == exit_status
    if files is QUOTED_FILES:
        assert "track.py:16 uses" in serial.text
        assert "send email: track.py:20" in serial.text
    for other in (parallel, cached, fallback):
        assert other.text == serial.text
        assert other.json == serial.json
        assert other.exit_status == serial.exit_status


def test_pipeline_changed_client_changes_other_findings(project) -> None:
    root = project(FILES)
    first = run_cli(["--output-format", "json", "."], root)
    (root / "shop" / "client.py").write_text("cio = None\n")

    cached = run_cli(["--output-format", "json", "."], root)
    uncached = run_cli(["--no-cache", "--output-format", "json", "."], root)

    before = {finding["path"] for finding in first.json["findings"]}
    after = {finding["path"] for finding in cached.json["findings"]}
    assert "shop/signup.py" in before
    assert "shop/signup.py" not in after
    assert cached.stdout == uncached.stdout


def test_pipeline_changed_rule_fact_changes_other_findings(
    project, monkeypatch
) -> None:
    root = project(FILES)
    first = run_cli(["--select", "CIO401", "--output-format", "json", "."], root)
    sync = root / "shop" / "sync.py"
    sync.write_text(PROFILE.replace("plan=user.plan", "email=user.email"))
    parsed = _record_calls(monkeypatch, "parse_files")

    cached = run_cli(["--select", "CIO401", "--output-format", "json", "."], root)
    uncached = run_cli(
        ["--no-cache", "--select", "CIO401", "--output-format", "json", "."], root
    )

    before = {finding["path"] for finding in first.json["findings"]}
    after = {finding["path"] for finding in cached.json["findings"]}
    assert "shop/profile.py" in before
    assert "shop/profile.py" not in after
    assert "profile.py" in parsed
    assert cached.stdout == uncached.stdout


def test_pipeline_changed_comment_checks_one_file(project, monkeypatch) -> None:
    root = project(FILES)
    run_cli(["."], root)
    worker = root / "shop" / "worker.py"
    worker.write_text(WORKER + "\n# A comment changes the bytes, not the facts.\n")
    checked = _record_calls(monkeypatch, "check_file")

    cached = run_cli(["--output-format", "json", "."], root)

    assert checked == ["worker.py"]
    uncached = run_cli(["--no-cache", "--output-format", "json", "."], root)
    assert cached.stdout == uncached.stdout


@pytest.mark.parametrize(
    ("files", "changed"),
    [
        ({}, "requirements.txt"),
        (
            {"requirements.txt": "-r base.txt\n", "base.txt": "customerio==3.2.0\n"},
            "base.txt",
        ),
        ({"requirements.txt": "-r base.txt\n"}, "base.txt"),
    ],
    ids=["requirements", "included-file-changed", "included-file-created"],
)
def test_pipeline_changed_requirements_checks_every_file(
    project, monkeypatch, files, changed
) -> None:
    root = project({**FILES, **files})
    run_cli(["."], root)
    (root / changed).write_text("customerio==2.1\n")
    checked = _record_calls(monkeypatch, "check_file")

    run_cli(["."], root)

    assert "worker.py" in checked
    assert "signup.py" in checked


def test_pipeline_changed_config_checks_again(project) -> None:
    root = project(FILES)
    run_cli(["."], root)
    (root / "pyproject.toml").write_text('[tool.cio-fix]\nignore = ["CIO103"]\n')

    result = run_cli(["--output-format", "json", "."], root)

    codes = {finding["code"] for finding in result.json["findings"]}
    assert "CIO103" not in codes
    assert "CIO101" in codes


LINKED_APP = """\
import time

from customerio import CustomerIO

cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")


def signed_up(user):
    cio.identify(id=user.id, email=user.email, created_at=int(time.time() * 1000))
"""


def _linked_project(root: Path) -> Path:
    """Write a project whose `alias.py` is a symbolic link to `pkg/app.py`."""
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "app.py").write_text(LINKED_APP)
    (root / "alias.py").symlink_to(Path("pkg") / "app.py")
    # Silences the two CIO101 findings in a folder walk, not through the link.
    (root / "pyproject.toml").write_text(
        '[tool.cio-fix]\nper-file-ignores = { "pkg/**" = ["CIO101"] }\n'
    )
    return root


@pytest.mark.parametrize(
    "options",
    [["--output-format", "json"], [], ["--apply", "--output-format", "json"]],
    ids=["json", "text", "apply"],
)
@pytest.mark.parametrize(
    "first, second", [("alias.py", "."), (".", "alias.py")], ids=["link", "walk"]
)
def test_cache_link_and_target_cached_apart(tmp_path, options, first, second) -> None:
    cached = _linked_project(tmp_path / "cached")
    fresh = _linked_project(tmp_path / "fresh")
    run_cli(["-q", first], cached)

    expected = run_cli([*options, "--no-cache", second], fresh)
    result = run_cli([*options, second], cached)

    assert result.stdout == expected.stdout
    assert result.exit_code == expected.exit_code
    app = (cached / "pkg" / "app.py").read_bytes()
    assert app == (fresh / "pkg" / "app.py").read_bytes()
    assert (cached / "alias.py").is_symlink()


def test_cache_folder_has_gitignore(project) -> None:
    root = project(FILES)

    run_cli(["."], root)

    assert (root / CACHE_FOLDER / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (root / CACHE_FOLDER / CACHE_FILE).is_file()


def test_cache_no_cache_writes_nothing(project) -> None:
    root = project(FILES)

    run_cli(["--no-cache", "."], root)

    assert not (root / CACHE_FOLDER).exists()


def test_cache_facts_digest_only_with_cache(project, monkeypatch) -> None:
    """Rule facts are hashed for the cache keys, and only when the cache is on."""
    root = project(FILES)
    digested: list[bool] = []
    original = pipeline.canonical_digest

    def recording(value):
        digested.append(isinstance(value, dict))
        return original(value)

    monkeypatch.setattr(pipeline, "canonical_digest", recording)
    run_cli(["--no-cache", "-j", "1", "."], root)
    without_cache = list(digested)
    digested.clear()
    run_cli(["-j", "1", "."], root)

    assert without_cache
    assert not any(without_cache)
    assert any(digested)


def test_cache_config_key_disables_cache(project) -> None:
    root = project({**FILES, "pyproject.toml": "[tool.cio-fix]\ncache = false\n"})

    run_cli(["."], root)

    assert not (root / CACHE_FOLDER).exists()


def test_cache_corrupt_file_is_ignored(project) -> None:
    root = project(FILES)
    expected = run_cli(["--no-cache", "--output-format", "json", "."], root)
    (root / CACHE_FOLDER).mkdir()
    (root / CACHE_FOLDER / CACHE_FILE).write_bytes(b"\x80\x05not a pickle at all")

    result = run_cli(["--output-format", "json", "."], root)
    again = run_cli(["--output-format", "json", "."], root)

    assert result.stdout == expected.stdout
    assert result.exit_code == expected.exit_code
    assert again.stdout == expected.stdout


def test_cache_truncated_file_is_ignored(project) -> None:
    root = project(FILES)
    expected = run_cli(["--output-format", "json", "."], root)
    cache_file = root / CACHE_FOLDER / CACHE_FILE
    cache_file.write_bytes(cache_file.read_bytes()[:100])

    result = run_cli(["--output-format", "json", "."], root)

    assert result.stdout == expected.stdout
    assert result.exit_code == expected.exit_code


def test_cache_corrupt_entries_are_ignored(project) -> None:
    root = project(FILES)
    expected = run_cli(["--output-format", "json", "."], root)
    cache_file = root / CACHE_FOLDER / CACHE_FILE
    document = pickle.loads(cache_file.read_bytes())
    for key, (used, data) in document["entries"].items():
        document["entries"][key] = (used, data[: len(data) // 2])
    cache_file.write_bytes(pickle.dumps(document))

    result = run_cli(["--output-format", "json", "."], root)

    assert result.stdout == expected.stdout


def test_cache_unreadable_folder_is_ignored(project) -> None:
    root = project(FILES)
    expected = run_cli(["--no-cache", "--output-format", "json", "."], root)
    (root / CACHE_FOLDER).write_text("a file where the cache folder belongs")

    result = run_cli(["--output-format", "json", "."], root)

    assert result.stdout == expected.stdout
    # Only the warning that the fixes assume Python 3.9, as without the cache.
    assert result.stderr == expected.stderr


def test_cache_rejects_code_in_pickle(project) -> None:
    root = project(FILES)
    marker = root / "marker"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (root / CACHE_FOLDER).mkdir()
    document = {"format": 2, "entries": {"parse:x": (0.0, pickle.dumps(Payload()))}}
    (root / CACHE_FOLDER / CACHE_FILE).write_bytes(pickle.dumps(document))
    run_cli(["."], root)
    (root / CACHE_FOLDER / CACHE_FILE).write_bytes(pickle.dumps(Payload()))
    run_cli(["."], root)

    assert not marker.exists()


@pytest.mark.parametrize("module", [b"pathlib", b"pathlib._local"])
def test_cache_loads_paths_of_every_python(module) -> None:
    # Python 3.13 pickles a path as `pathlib._local.PosixPath`.
    data = pickle.dumps(PurePosixPath("app/views.py"), protocol=2)
    data = data.replace(b"cpathlib\n", b"c" + module + b"\n")

    assert loads(data) == PurePosixPath("app/views.py")


def test_cache_fifo_file_is_ignored(project) -> None:
    # A subprocess, so that a read that blocks on the FIFO times out.
    root = project(FILES)
    expected = run_cli(["--no-cache", "-q", "."], root)
    (root / CACHE_FOLDER).mkdir()
    os.mkfifo(root / CACHE_FOLDER / CACHE_FILE)

    completed = subprocess.run(
        [sys.executable, "-m", "cio_fix", "-q", "-j", "1", "."],
        cwd=root,
        capture_output=True,
        timeout=60,
    )

    assert completed.returncode == expected.exit_code, completed.stderr
    assert completed.stderr.decode() == expected.stderr
    assert (root / CACHE_FOLDER / CACHE_FILE).is_file()


def test_cache_link_to_device_is_ignored(project) -> None:
    # The memory limit makes a run that reads /dev/zero fail with MemoryError
    # instead of filling the machine's memory.
    root = project(FILES)
    expected = run_cli(["--no-cache", "-q", "."], root)
    (root / CACHE_FOLDER).mkdir()
    (root / CACHE_FOLDER / CACHE_FILE).symlink_to("/dev/zero")

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1024**3, 1024**3))

    completed = subprocess.run(
        [sys.executable, "-m", "cio_fix", "-q", "-j", "1", "."],
        cwd=root,
        capture_output=True,
        timeout=60,
        preexec_fn=limit_memory,
    )

    assert completed.returncode == expected.exit_code, completed.stderr
    assert completed.stderr.decode() == expected.stderr
    assert not (root / CACHE_FOLDER / CACHE_FILE).is_symlink()


def test_cache_file_link_is_not_read(project, tmp_path_factory, monkeypatch) -> None:
    root = project(FILES)
    first = _outputs(root, jobs=1, cache=True)
    outside = tmp_path_factory.mktemp("outside") / CACHE_FILE
    (root / CACHE_FOLDER / CACHE_FILE).rename(outside)
    (root / CACHE_FOLDER / CACHE_FILE).symlink_to(outside)
    parsed = _record_calls(monkeypatch, "parse_files")

    second = _outputs(root, jobs=1, cache=True)

    assert parsed
    assert second == first
    assert (root / CACHE_FOLDER / CACHE_FILE).is_file()
    assert not (root / CACHE_FOLDER / CACHE_FILE).is_symlink()


def test_cache_oversized_file_is_ignored(project, monkeypatch) -> None:
    root = project(FILES)
    first = _outputs(root, jobs=1, cache=True)
    size = (root / CACHE_FOLDER / CACHE_FILE).stat().st_size
    monkeypatch.setattr(cio_fix.cache, "MAX_CACHE_BYTES", size - 1)
    parsed = _record_calls(monkeypatch, "parse_files")

    second = _outputs(root, jobs=1, cache=True)

    assert parsed
    assert second == first


def test_cache_gitignore_link_is_not_followed(project, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    root = project(FILES)
    (root / CACHE_FOLDER).mkdir()
    gitignore = root / CACHE_FOLDER / ".gitignore"
    gitignore.symlink_to(outside / "marker")

    run_cli(["."], root)

    assert list(outside.iterdir()) == []
    assert gitignore.is_symlink()
    assert (root / CACHE_FOLDER / CACHE_FILE).is_file()


def test_cache_folder_linked_during_run(project, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    root = project(FILES)
    cache = Cache.open(root)
    cache.put("key", "value")
    (root / CACHE_FOLDER).symlink_to(outside, target_is_directory=True)

    cache.save()

    assert list(outside.iterdir()) == []


# Runs the command line, and sends a signal to the process just before
# `mkstemp` returns the name of the cache's temporary file.
SIGNAL_AFTER_CACHE_MKSTEMP = """
import os, signal, sys, tempfile
from cio_fix import cli

real_mkstemp = tempfile.mkstemp
number = getattr(signal, sys.argv[1])

def mkstemp_then_signal(*args, **kwargs):
    created = real_mkstemp(*args, **kwargs)
    if kwargs.get("prefix") == ".results-":
        os.kill(os.getpid(), number)
    return created

tempfile.mkstemp = mkstemp_then_signal
sys.argv = ["cio-fix", "-q", "-j", "1", "."]
cli.main()
"""


@pytest.mark.parametrize(("name", "status"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_cache_interrupted_save_leaves_no_file(project, name, status) -> None:
    root = project(FILES)

    completed = subprocess.run(
        [sys.executable, "-c", SIGNAL_AFTER_CACHE_MKSTEMP, name],
        cwd=root,
        capture_output=True,
        timeout=60,
    )

    assert completed.returncode == status, completed.stderr
    assert sorted(path.name for path in (root / CACHE_FOLDER).iterdir()) == [
        ".gitignore"
    ]


def test_config_jobs_must_be_positive(project) -> None:
    root = project({**FILES, "pyproject.toml": "[tool.cio-fix]\njobs = 0\n"})

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "jobs must be a whole number of at least 1" in result.stderr


def test_cli_jobs_must_be_positive(project) -> None:
    result = run_cli(["--jobs", "0", "."], project(FILES))

    assert result.exit_code == 2


# Runs the command line with one worker process. The parse request of the
# process that the first argument names ("worker" or "main") writes the
# worker's process id to the file `busy`, then sleeps for two minutes.
BUSY_PARSE = """
import multiprocessing, os, sys, time
from pathlib import Path
from cio_fix import cli, pipeline

main_process = os.getpid()
real_parse = pipeline._Worker.parse

def parse_after_sleep(self, files):
    in_worker = os.getpid() != main_process
    if in_worker == (sys.argv[1] == "worker"):
        if in_worker:
            worker = os.getpid()
        else:
            worker = multiprocessing.active_children()[0].pid
        Path("busy.tmp").write_text(str(worker))
        os.replace("busy.tmp", "busy")
        time.sleep(120)
    return real_parse(self, files)

pipeline._Worker.parse = parse_after_sleep
pipeline.PARALLEL_MIN_FILES = 1
pipeline.available_cpus = lambda: 2
sys.argv = ["cio-fix", "-q", "--no-cache", "--jobs", "2", "."]
cli.main()
"""


def _running(pid: int) -> bool:
    """Return whether process `pid` exists and has not exited (a zombie has)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc; workers fork on Linux"
)
@pytest.mark.parametrize(
    ("busy", "name", "status"),
    [("worker", "SIGTERM", 143), ("main", "SIGKILL", -signal.SIGKILL)],
)
def test_pipeline_worker_ends_with_main_process(project, busy, name, status) -> None:
    root = project(FILES)
    # A session of its own, so that the cleanup below can kill whatever the
    # run leaves, and the signal reaches the main process only.
    process = subprocess.Popen(
        [sys.executable, "-c", BUSY_PARSE, busy],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (root / "busy").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        worker = int((root / "busy").read_text())

        os.kill(process.pid, getattr(signal, name))
        _, stderr = process.communicate(timeout=30)
        deadline = time.monotonic() + 10
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.05)

        assert process.returncode == status, stderr
        assert not _running(worker)
        if name == "SIGTERM":
            assert stderr.strip() == "cio-fix: terminated"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def test_pipeline_failed_worker_falls_back(project, workers, monkeypatch) -> None:
    root = project(FILES)
    expected = run_cli(["--no-cache", "-j", "1", "--output-format", "json", "."], root)
    monkeypatch.setattr(pipeline, "_check_serially", CHECK_SERIALLY)

    def broken_collect(self, paths, data):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(pipeline._Worker, "collect", broken_collect)

    result = run_cli(["--jobs", "2", "--output-format", "json", "."], root)

    assert workers == [2]
    assert result.stdout == expected.stdout
    assert result.exit_code == expected.exit_code


def test_cache_corrupt_summary_is_rebuilt(project, monkeypatch) -> None:
    root = project(FILES)
    expected = run_cli(["--no-cache", "--output-format", "json", "."], root)
    run_cli(["."], root)
    cache_file = root / CACHE_FOLDER / CACHE_FILE
    document = pickle.loads(cache_file.read_bytes())
    entries = {}
    for key, (used, data) in document["entries"].items():
        if key.startswith("parse:"):
            # A summary that passes the entry's checksum but does not load.
            facts = pickle.loads(data[CHECKSUM_BYTES:])
            if facts.summary_blob is not None:
                facts.summary_blob = b"\x80\x05not a summary"
            blob = pickle.dumps(facts)
            entries[key] = (used, _checksum(blob) + blob)
    document["entries"] = entries
    cache_file.write_bytes(pickle.dumps(document))
    monkeypatch.setattr(pipeline, "_check_serially", CHECK_SERIALLY)

    result = run_cli(["--output-format", "json", "."], root)
    parsed = _record_calls(monkeypatch, "parse_files")
    again = run_cli(["--output-format", "json", "."], root)

    assert result.stdout == expected.stdout
    assert result.stderr == expected.stderr
    assert again.stdout == expected.stdout
    assert parsed


def _nested_calls(depth: int) -> str:
    return (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "def deep(uid, g):\n"
        '    cio.track(customer_id=uid, name="e_" + uid)\n'
        f"    return {'g(' * depth}uid{')' * depth}\n"
    )


def test_pipeline_deep_file_same_everywhere(tmp_path, workers) -> None:
    # Nested near the recursion limit: whichever process checks a file, and
    # however deep in its stack the request starts, the file fails alike.
    (tmp_path / "deep_one.py").write_text(_nested_calls(480))
    (tmp_path / "deep_two.py").write_text(_nested_calls(480))
    for number in range(6):
        (tmp_path / f"small_{number}.py").write_text(_nested_calls(1))

    serial = _outputs(tmp_path, jobs=1, cache=False)
    parallel = _outputs(tmp_path, jobs=2, cache=False)

    assert workers == [2]
    assert "deep_one.py" in serial.errors
    assert "internal error" not in serial.errors
    assert parallel.errors == serial.errors
    assert parallel.json == serial.json


def _frames_left() -> int:
    def descend(count: int) -> int:
        try:
            return descend(count + 1)
        except RecursionError:
            return count

    with pipeline._stack_budget():
        return descend(0)


def _frames_left_from(depth: int) -> int:
    return _frames_left_from(depth - 1) if depth else _frames_left()


def test_pipeline_stack_budget_constant() -> None:
    shallow = _frames_left_from(5)
    deep = _frames_left_from(300)

    assert shallow == deep
    assert abs(shallow - pipeline.STACK_BUDGET) < 10


def test_pipeline_fewer_collections_restores_threshold() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), pipeline.fewer_collections():
        assert gc.get_threshold() == (pipeline.GC_THRESHOLD, *before[1:])
        raise RuntimeError("a failed run")
    assert gc.get_threshold() == before


def test_pipeline_check_leaves_no_cycles(project) -> None:
    """A checked file's trees and indexes are freed at once, not by the cycle collector.

    Trees that wait for the collector make each of its passes longer and
    the run's memory larger.
    """
    import libcst as cst

    from cio_fix.customerio import FileIndex

    root = project(FILES)
    gc.collect()
    gc.garbage.clear()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        outputs = _outputs(root, jobs=1, cache=False)
        gc.collect()
        left = [
            type(item).__name__
            for item in gc.garbage
            if isinstance(item, (cst.CSTNode, FileIndex))
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()

    assert "would be changed" in outputs.text
    assert left == []


def test_pipeline_check_returns_freed_memory(project, monkeypatch) -> None:
    root = project(FILES)
    trims: list[int] = []
    monkeypatch.setattr(pipeline, "TRIM_EVERY", 2)
    monkeypatch.setattr(pipeline, "trim_memory", lambda: trims.append(1))
    checked = _record_calls(monkeypatch, "check_file")

    _outputs(root, jobs=1, cache=False)

    assert len(checked) > 2
    assert len(trims) == len(checked) // 2


def test_pipeline_trim_memory_without_malloc_trim(monkeypatch) -> None:
    monkeypatch.setattr(pipeline.sys, "platform", "darwin")
    monkeypatch.setattr(pipeline, "_MALLOC_TRIM", None)

    pipeline.trim_memory()

    assert pipeline._MALLOC_TRIM is False


def test_pipeline_parse_leaves_no_cycles(project, monkeypatch) -> None:
    """What the parse made is frozen, and a frozen reference cycle is never collected."""
    root = project(FILES)
    worker = pipeline._Worker(load_config(root))
    files = {path: path.read_bytes() for path in sorted(root.rglob("*.py"))}
    left: list[str] = []
    freeze = gc.freeze

    def freeze_after_collecting() -> None:
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            left.extend(type(item).__name__ for item in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        freeze()

    monkeypatch.setattr(gc, "freeze", freeze_after_collecting)
    found = worker.parse(files)

    assert sum(facts.summary_blob is not None for facts in found.values()) > 5
    assert left == []
    assert gc.isenabled()


def test_pipeline_parse_freezes_trees(project) -> None:
    root = project(FILES)
    worker = pipeline._Worker(load_config(root))
    files = {path: path.read_bytes() for path in sorted(root.rglob("*.py"))}
    before = gc.get_freeze_count()

    worker.parse(files)

    assert gc.get_freeze_count() > before + 1000
    assert gc.isenabled()


def test_cache_damaged_entry_bytes_are_ignored(project) -> None:
    # An entry with one changed byte (in a field name, or in fixed code) may
    # still unpickle, so the checksum must catch it.
    root = project(FILES)
    first = run_cli(["--output-format", "json", "."], root)
    cache_file = root / CACHE_FOLDER / CACHE_FILE
    document = pickle.loads(cache_file.read_bytes())
    damaged = 0
    for key, (stamp, blob) in list(document["entries"].items()):
        if b"summary_digest" in blob:
            blob = blob.replace(b"summary_digest", b"summarx_digest")
            document["entries"][key] = (stamp, blob)
            damaged += 1
    cache_file.write_bytes(pickle.dumps(document))

    second = run_cli(["--output-format", "json", "."], root)

    assert damaged
    assert second.exit_code == first.exit_code
    assert second.json == first.json


def test_cache_reads_enum_members_pickled_by_name() -> None:
    # Python 3.11.2 pickles an enum member as getattr(EnumClass, "NAME").
    from cio_fix.cache import loads
    from cio_fix.model import FixSafety

    data = pickle.dumps(FixSafety.SAFE, protocol=2)
    by_name = pickle.dumps(_ByName(FixSafety, "SAFE"), protocol=pickle.HIGHEST_PROTOCOL)

    assert loads(data) is FixSafety.SAFE
    assert loads(by_name) is FixSafety.SAFE
    with pytest.raises(pickle.UnpicklingError):
        loads(pickle.dumps(_ByName(FixSafety, "__class__")))


class _ByName:
    """Pickles as getattr(cls, name), the way some Python versions pickle enums."""

    def __init__(self, cls: type, name: str) -> None:
        self.cls = cls
        self.name = name

    def __reduce__(self):
        return getattr, (self.cls, self.name)


CLEAN_CLIENT = """\
import os
from customerio import CustomerIO

cio = CustomerIO(os.environ["A"], os.environ["B"])


def order(user):
    cio.track(customer_id=user.id, name="ordered")
"""
# Files that never mention Customer.io, and that only CIO501's words
# ("bounce", "bounced") make worth reading, but which do not parse.
WORD_ONLY_FILES = {
    "scripts/report.py": '# legacy Python 2 report script\nprint "bounce report"\n',
    "scripts/wip.py": "x = 1 +\n# bounced cheques\n",
    "scripts/big_data.py": "# bounce rates per page\nRATES = [\n"
    + "    0.5,\n" * 200_000
    + "]\n",
}


def test_word_only_files_skipped_without_error(project):
    root = project({"app.py": CLEAN_CLIENT, **WORD_ONLY_FILES})

    result = run_cli(["--no-cache", "--output-format", "json", "."], root)

    assert result.json["errors"] == []
    assert result.exit_code == 0


def test_word_only_files_skipped_serially(project):
    root = project({"app.py": CLEAN_CLIENT, **WORD_ONLY_FILES})
    files = sorted(root.rglob("*.py"))
    candidate = root / "app.py"

    result = CHECK_SERIALLY(
        files, {candidate: candidate.read_bytes()}, Config(root=root)
    )

    assert result.errors == []


def test_word_only_test_files_not_parsed(project):
    # CIO501 and CIO502 leave test code out, so their words need not parse it.
    root = project(
        {
            "app.py": CLEAN_CLIENT,
            "tests/test_mail.py": "def test_bounce():\n    assert True\n",
            "mail/bounces.py": "def on_bounce(report):\n    return report\n",
        }
    )
    files = sorted(root.rglob("*.py"))
    candidate = root / "app.py"
    parsed: list[str] = []

    def parse(batch):
        parsed.extend(path.relative_to(root).as_posix() for path in batch)
        return {}

    pipeline.read_project_files(
        files, {candidate: candidate.read_bytes()}, root, {"bounce"}, parse
    )

    assert sorted(parsed) == ["app.py", "mail/bounces.py"]


def test_candidate_parse_error_still_reported(project):
    broken = "import customerio\nx = 1 +\n# bounced cheques\n"
    root = project({"app.py": CLEAN_CLIENT, "scripts/wip.py": broken})

    for args in (["."], ["scripts/wip.py"]):
        result = run_cli(["--no-cache", "--output-format", "json", *args], root)

        assert [error["path"] for error in result.json["errors"]] == ["scripts/wip.py"]
        assert result.exit_code == 2


# A Flask app and a route factory in modules that never mention Customer.io.
ROUTE_FACTORY_LAYOUT = FIXTURES / "CIO304" / "route_factory_modules_unmentioned"


def _parsed_files(root: Path, monkeypatch) -> list[str]:
    """Run cio-fix in `root` and return the files it parsed, in project order."""
    parsed: list[str] = []
    real_read = pipeline.read_project_files

    def recording_read(*args):
        order = real_read(*args)
        # The paths are relative to the working folder, which is `root`.
        parsed.extend(
            path.resolve().relative_to(root.resolve()).as_posix() for path in order
        )
        return order

    monkeypatch.setattr(pipeline, "read_project_files", recording_read)
    run_cli(["--no-cache", "-j", "1", "--select", "CIO304", "."], root)
    return parsed


def _route_factory_files() -> dict[str, str]:
    return {
        path.relative_to(ROUTE_FACTORY_LAYOUT).as_posix(): path.read_text()
        for path in ROUTE_FACTORY_LAYOUT.rglob("*")
        if path.is_file() and not path.name.endswith(".expected.py")
    }


def test_route_factory_modules_read(project, monkeypatch):
    files = _route_factory_files()
    # Imports the app too, but no read module imports from it.
    files["svc/jobs.py"] = "from svc.web import app\n\n\ndef nightly():\n    pass\n"
    root = project(files)

    parsed = _parsed_files(root, monkeypatch)

    assert parsed == ["svc/views.py", "svc/routing.py", "svc/web.py"]


def test_route_factory_modules_unread_without_candidates(project, monkeypatch):
    files = _route_factory_files()
    files["svc/views.py"] = (
        "from svc.routing import json_post\n\n\n"
        '@json_post("/health")\ndef health():\n    return {"ok": True}\n'
    )
    root = project(files)

    parsed = _parsed_files(root, monkeypatch)

    assert parsed == []


HELPER_VIEWS = """\
import logging

from flask import Blueprint, jsonify, request

from svc.client import cio

log = logging.getLogger(__name__)
bp = Blueprint("orders", __name__)


@bp.post("/orders")
def create_order():
    cio.track(customer_id=request.json["id"], name="order_created")
    return jsonify(ok=True)
"""

HELPER_FILES = {
    "pyproject.toml": (
        '[project]\nname = "svc"\nversion = "1.0"\nrequires-python = ">=3.10"\n'
        'dependencies = ["customerio==3.1.0", "flask"]\n\n'
        '[tool.cio-fix]\nbackground-helper = "corelib.tasks.in_background"\n'
    ),
    "svc/__init__.py": "",
    "svc/client.py": (
        "import os\n\nfrom customerio import CustomerIO\n\n"
        'cio = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"],'
        ' os.environ["CUSTOMERIO_API_KEY"])\n'
    ),
    "svc/views.py": HELPER_VIEWS,
}

HELPER_MODULE = "def in_background(fn, *args, **kwargs):\n    fn(*args, **kwargs)\n"


@pytest.mark.parametrize("created", [True, False], ids=["created", "removed"])
def test_cache_helper_package_changes_import_place(project, created) -> None:
    root = project(HELPER_FILES)
    corelib = root / "corelib"
    if not created:
        corelib.mkdir()
        (corelib / "__init__.py").write_text("")
        (corelib / "tasks.py").write_text(HELPER_MODULE)
    run_cli(["."], root)
    if created:
        corelib.mkdir()
        (corelib / "__init__.py").write_text("")
        (corelib / "tasks.py").write_text(HELPER_MODULE)
    else:
        shutil.rmtree(corelib)

    cached = run_cli(["."], root)
    uncached = run_cli(["--no-cache", "."], root)

    assert "+from corelib.tasks import in_background" in uncached.stdout
    assert cached.stdout == uncached.stdout


MAIL = """\
import os

from customerio import APIClient, SendEmailRequest
from flask import render_template

mailer = APIClient(os.environ["CUSTOMERIO_APP_API_KEY"])


def send_receipt(user, order):
    body = render_template("receipt.html", order=order)
    request = SendEmailRequest(
        transactional_message_id="receipt",
        to=user.email,
        identifiers={"id": user.id},
        body=body,
    )
    mailer.send_email(request)


def handle_bounce(event):
    if event["metric"] == "bounced":
        return event["data"]["customer_id"]
"""

RECEIPT = "<p>Thank you for order {{ order.id }}.</p>\n"
UNSUBSCRIBE = '<p><a href="{% unsubscribe_url %}">Unsubscribe</a></p>\n'


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (RECEIPT + UNSUBSCRIBE, RECEIPT),
        (RECEIPT, RECEIPT + UNSUBSCRIBE),
        (RECEIPT, None),
        (None, RECEIPT),
    ],
    ids=["link-removed", "link-added", "template-deleted", "template-created"],
)
def test_cache_template_edit_changes_findings(project, before, after) -> None:
    root = project({"pyproject.toml": "[tool.cio-fix]\n", "app/mail.py": MAIL})
    template = root / "app" / "templates" / "receipt.html"
    template.parent.mkdir()
    if before is not None:
        template.write_text(before)
    run_cli(["--no-diff", "."], root)
    if after is None:
        template.unlink()
    else:
        template.write_text(after)

    cached = run_cli(["--no-diff", "."], root)
    uncached = run_cli(["--no-diff", "--no-cache", "."], root)

    assert cached.stdout == uncached.stdout
    assert cached.exit_code == uncached.exit_code


SERVICE_FILES = {
    "web/client.py": (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")\n'
    ),
    "billing/client.py": (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("9b8a7c6d5e4f3a2b1c0d", "7e6d5c4b3a2f1e0d9c8b")\n'
    ),
}


@pytest.mark.parametrize("created", [True, False], ids=["created", "removed"])
def test_cache_other_service_declaration_changes_fix(project, created) -> None:
    # Without billing/requirements.txt, both files belong to the root's
    # service, whose variables cannot hold both keys. The key of
    # web/client.py hashes no file of billing/, and its check comes second,
    # so it reuses the variables that the check of billing/client.py found.
    root = project(SERVICE_FILES)
    requirements = root / "billing" / "requirements.txt"
    if not created:
        requirements.write_text("customerio==3.2.0\n")
    run_cli(["."], root)
    if created:
        requirements.write_text("customerio==3.2.0\n")
    else:
        requirements.unlink()

    cached = run_cli(["."], root)
    uncached = run_cli(["--no-cache", "."], root)

    assert ("+import os" in uncached.stdout) == created
    assert cached.stdout == uncached.stdout


@pytest.mark.parametrize("created", [True, False], ids=["created", "removed"])
def test_cache_nested_service_changes_variable(project, created) -> None:
    # billing/ reads the Track API key under its own name. Without its
    # requirements.txt it belongs to the root's service, whose fix then
    # reuses that name. No file that shop/client.py's cache key hashes
    # changes.
    root = project(
        {
            "requirements.txt": "customerio==3.2.0\n",
            "shop/client.py": SERVICE_FILES["web/client.py"],
            "billing/settings.py": (
                "import os\n\n"
                'CIO_TRACK_KEY = os.environ["BILLING_CIO_TRACK_API_KEY"]\n'
            ),
        }
    )
    requirements = root / "billing" / "requirements.txt"
    if not created:
        requirements.write_text("customerio==3.2.0\n")
    run_cli(["."], root)
    if created:
        requirements.write_text("customerio==3.2.0\n")
    else:
        requirements.unlink()

    cached = run_cli(["."], root)
    uncached = run_cli(["--no-cache", "."], root)

    assert ("BILLING_CIO_TRACK_API_KEY" in uncached.stdout) != created
    assert cached.stdout == uncached.stdout


def test_cache_shared_lookup_repeated_once(project, monkeypatch) -> None:
    # The check of each file records the services of both files.
    root = project({**SERVICE_FILES, "billing/requirements.txt": "customerio==3.2.0\n"})
    run_cli(["."], root)
    repeated = []
    real_repeat = lookups._repeat

    def counted_repeat(lookup):
        repeated.append(lookup)
        return real_repeat(lookup)

    monkeypatch.setattr(lookups, "_repeat", counted_repeat)

    run_cli(["."], root)

    assert sorted(lookup.kind for lookup in repeated) == ["service", "service"]
    assert len(set(repeated)) == 2


def test_cache_repeated_lookup_recorded_once(tmp_path) -> None:
    template = tmp_path / "receipt.html"

    with lookups.recording() as recorded:
        lookups.is_file(template)
        lookups.is_file(template)

    assert recorded == [Lookup(lookups.IS_FILE, (str(template),), "False")]


BROKEN_LOCK_FILES = {
    "pyproject.toml": '[project]\nname = "billing"\nversion = "0.3.0"\n',
    "Pipfile.lock": '{"default": {"customerio": {"version": "==3.1.0"\n',
    "app/__init__.py": "",
    "app/jobs.py": WORKER,
}


def test_cache_run_repeats_declaration_warning(project) -> None:
    root = project(BROKEN_LOCK_FILES)
    warning = (
        f"cio-fix: warning: {root / 'Pipfile.lock'}: not valid JSON;"
        " the SDK version is not read from it"
    )

    first = run_cli(["--no-diff", "."], root)
    cached = run_cli(["--no-diff", "."], root)
    uncached = run_cli(["--no-diff", "--no-cache", "."], root)

    assert first.stderr.count(warning) == 1
    assert cached.stderr == first.stderr
    assert uncached.stderr == first.stderr


def test_pipeline_killed_worker_named_in_warning(project, workers, monkeypatch) -> None:
    root = project(FILES)
    expected = run_cli(["--no-cache", "-j", "1", "--output-format", "json", "."], root)
    monkeypatch.setattr(pipeline, "_check_serially", CHECK_SERIALLY)
    main_process = os.getpid()
    real_collect = pipeline._Worker.collect

    def killed_collect(self, paths, data):
        if os.getpid() != main_process:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_collect(self, paths, data)

    monkeypatch.setattr(pipeline._Worker, "collect", killed_collect)

    result = run_cli(["--jobs", "2", "--output-format", "json", "."], root)

    assert workers == [2]
    assert result.stdout == expected.stdout
    assert result.stderr.splitlines()[0] == (
        "cio-fix: warning: a worker process ended unexpectedly (killed by signal 9,"
        " SIGKILL); checking every file again in this process, which takes longer"
    )

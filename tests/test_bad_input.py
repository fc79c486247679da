"""Bad input gets one clear line, the run goes on, and nothing is written to it."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

GOOD = "import time\nfrom customerio import CustomerIO\ncio = CustomerIO('s', 'k')\ncio.identify(id=1, created_at=int(time.time() * 1000))\n"


def _errors(root: Path, *args: str) -> tuple[int, list[dict], Path]:
    result = run_cli(["--apply", "--output-format", "json", *args], root)
    return result.exit_code, result.json["errors"], root


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "py2.py",
            b"import customerio\nprint 'hello'\n",
            "invalid Python 3 syntax at line 2",
        ),
        ("latin.py", b"import customerio\nname = '\xe9'\n", "cannot decode as utf-8"),
        ("blob.py", b"customerio\x00\x00\x00\xff", "binary file"),
    ],
)
def test_bad_input_reported_and_run_goes_on(
    project, name: str, content: bytes, expected: str
) -> None:
    root = project({"good.py": GOOD, name: content})

    exit_code, errors, _ = _errors(root, ".")

    assert exit_code == 2
    assert len(errors) == 1
    assert errors[0]["path"] == name
    assert expected in errors[0]["message"]
    assert (root / name).read_bytes() == content
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_python2_text_line(project) -> None:
    root = project({"py2.py": b"import customerio\nprint 'hello'\n"})

    result = run_cli(["."], root)

    assert result.stderr.strip().startswith(
        "py2.py: error: invalid Python 3 syntax at line 2"
    )
    assert "Python 2" in result.stderr


def test_bad_input_unreadable_file(project, monkeypatch) -> None:
    root = project({"secret.py": GOOD, "good.py": GOOD})
    unreadable = (root / "secret.py").resolve()
    read_bytes = Path.read_bytes

    # Root reads files whatever their mode, so the denial is simulated.
    def deny(path: Path) -> bytes:
        if path.resolve() == unreadable:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", deny)
    exit_code, errors, _ = _errors(root, ".")
    monkeypatch.undo()

    assert exit_code == 2
    assert errors == [
        {
            "path": "secret.py",
            "message": "cannot read: Permission denied; check the file's permissions",
        }
    ]
    assert (root / "secret.py").read_text() == GOOD
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_missing_path(project) -> None:
    root = project({"good.py": GOOD})

    exit_code, errors, _ = _errors(root, "missing.py", "good.py")

    assert exit_code == 2
    assert errors == [
        {
            "path": "missing.py",
            "message": "path not found; check the spelling or the folder",
        }
    ]
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_invalid_pyproject(project) -> None:
    root = project({"good.py": GOOD, "pyproject.toml": "[tool.cio-fix\nselect = 1\n"})

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "pyproject.toml: invalid TOML" in result.stderr
    assert (root / "good.py").read_text() == GOOD


def test_bad_input_unknown_config_key(project) -> None:
    root = project(
        {"good.py": GOOD, "pyproject.toml": "[tool.cio-fix]\nselekt = ['CIO1']\n"}
    )

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "unknown key 'selekt' in [tool.cio-fix]" in result.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("select = 'CIO1'", "select must be a list of strings"),
        ("sdk-version = 4", "sdk-version must be the integer 1, 2 or 3; got 4"),
        ("sdk-version = true", "sdk-version must be the integer 1, 2 or 3; got true"),
        (
            "sdk-version = '3'",
            "sdk-version must be the integer 1, 2 or 3; got '3'"
            " (write sdk-version = 3, without quotes)",
        ),
        ("target-version = '3.8'", "target-version must be a Python version such as"),
        ("target-version = 38", "target-version must be a Python version such as"),
        (
            "env = { site-id = 'not a name' }",
            "env.site-id must be an environment variable name",
        ),
        ("env = { token = 'X' }", "unknown key env.token"),
        ("select = ['CIO9']", "unknown rule selector 'CIO9'"),
        (
            "extend-exclude = ['acme/{jobs,api}/*.py']",
            "extend-exclude pattern 'acme/{jobs,api}/*.py' uses braces, which"
            " gitignore patterns do not expand; write one pattern for each"
            ' alternative: "acme/jobs/*.py", "acme/api/*.py"',
        ),
        (
            "exclude = ['../shared']",
            "exclude pattern '../shared' reaches outside the project root",
        ),
        ("exclude = ['.']", "exclude pattern '.' names the project root itself"),
        (
            "client-modules = ['acme/tracking.py']",
            "client-modules entry 'acme/tracking.py' is not a module name;"
            ' write a dotted module name such as "acme.tracking"',
        ),
        (
            "client-modules = ['']",
            "client-modules entry '' is not a module name;"
            ' write a dotted module name such as "app.tracking"',
        ),
        ("client-modules = ['app.class']", "entry 'app.class' is not a module name"),
    ],
)
def test_bad_input_invalid_config_value(project, setting: str, message: str) -> None:
    root = project({"good.py": GOOD, "pyproject.toml": f"[tool.cio-fix]\n{setting}\n"})

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("header", "shown"),
    [
        ("[tool.cio_fix]", "[tool.cio_fix]"),
        ("[tool.ciofix]", "[tool.ciofix]"),
        ("[tool.CIO-Fix]", "[tool.CIO-Fix]"),
        ("[tool.cio.fix]", "[tool.cio.fix]"),
        ('[tool."cio fix"]', '[tool."cio fix"]'),
    ],
)
def test_bad_input_misspelt_table(project, header: str, shown: str) -> None:
    root = project(
        {
            "good.py": GOOD,
            "pyproject.toml": f"[project]\nname = 'shop'\n\n{header}\nselect = ['CIO6']\n",
        }
    )

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert f"pyproject.toml: unknown table {shown}; did you mean [tool.cio-fix]?" in (
        result.stderr
    )
    assert (root / "good.py").read_text() == GOOD


def test_bad_input_misspelt_table_of_service(project) -> None:
    # In a git work tree, a service's pyproject.toml without [tool.cio-fix]
    # is no project root, so the misspelt table must still make it one.
    root = project(
        {
            "pyproject.toml": "[tool.cio-fix]\n",
            "services/billing/pyproject.toml": "[tool.cio_fix]\nselect = ['CIO6']\n",
            "services/billing/good.py": GOOD,
        }
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)

    result = run_cli(["--output-format", "json", "."], root)

    assert result.exit_code == 2
    assert result.json["errors"] == [
        {
            "path": "services/billing/pyproject.toml",
            "message": "unknown table [tool.cio_fix]; did you mean [tool.cio-fix]?"
            " cio-fix reads its settings from that table only",
        }
    ]


def test_bad_input_other_tool_tables_accepted(project) -> None:
    root = project(
        {
            "good.py": GOOD,
            "pyproject.toml": "[tool.cio]\nfix = true\n[tool.cio-fixer]\nx = 1\n",
        }
    )

    result = run_cli(["--no-cache", "."], root)

    assert result.exit_code == 1
    assert result.stderr == ""


def test_bad_input_exit_zero_still_reports(project) -> None:
    root = project({"py2.py": b"import customerio\nprint 'hello'\n"})

    result = run_cli(["--exit-zero", "."], root)

    assert result.exit_code == 0
    assert "py2.py: error:" in result.stderr


def test_bad_input_broken_symlink_named(project) -> None:
    root = project({"good.py": GOOD})
    (root / "gone.py").symlink_to(root / "missing-target.py")

    exit_code, errors, _ = _errors(root, "gone.py")

    assert exit_code == 2
    assert errors == [
        {
            "path": "gone.py",
            "message": "broken symbolic link; its target does not exist",
        }
    ]


def test_bad_input_fifo_named(project) -> None:
    root = project({"good.py": GOOD})
    os.mkfifo(root / "pipe.py")

    exit_code, errors, _ = _errors(root, "pipe.py", "good.py")

    assert exit_code == 2
    assert errors[0]["path"] == "pipe.py"
    assert "not a regular file" in errors[0]["message"]
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_undecodable_file_name(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9.py")
    (tmp_path / name).write_text(
        "from customerio import CustomerIO\ncio = CustomerIO(site_id=S, api_key=K)\n"
    )
    (tmp_path / "views.py").write_text("from caf import x\n")

    result = run_cli(["--output-format", "json", "."], tmp_path)

    assert result.exit_code == 0
    assert result.json["errors"] == []


@pytest.mark.parametrize(
    "document",
    [
        "tool = 3\n",
        "[tool.poetry]\ndependencies = 3\n",
        "[project]\nname = 'x'\noptional-dependencies = 3\n",
        "[tool]\nblack = 1\n",
    ],
)
def test_bad_input_odd_pyproject_types(project, document: str) -> None:
    root = project({"good.py": GOOD, "pyproject.toml": document})

    result = run_cli(["--output-format", "json", "."], root)

    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.stdout + result.stderr


def test_bad_input_syntax_error_line(project) -> None:
    root = project({"bad.py": "import customerio\n\nprint 'hello'\n"})

    _, errors, _ = _errors(root, ".")

    assert errors[0]["message"].startswith(
        "invalid Python 3 syntax at line 3, column 1:"
    )
    assert "Missing parentheses" in errors[0]["message"]


def test_bad_input_summary_mentions_failures(project) -> None:
    root = project({"bad.py": "import customerio\nprint 'hello'\n"})

    result = run_cli(["."], root)

    assert result.stdout.strip().endswith("1 path failed (see the errors above).")


def test_bad_input_config_selector_names_file(project) -> None:
    root = project(
        {"good.py": GOOD, "pyproject.toml": "[tool.cio-fix]\nselect = ['CIO9']\n"}
    )

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "pyproject.toml" in result.stderr
    assert "select of [tool.cio-fix]" in result.stderr


def test_bad_input_lowercase_config_selector(project) -> None:
    root = project(
        {"good.py": GOOD, "pyproject.toml": "[tool.cio-fix]\nselect = ['cio103']\n"}
    )

    result = run_cli(["--output-format", "json", "."], root)

    assert {finding["code"] for finding in result.json["findings"]} == {"CIO103"}


@pytest.mark.parametrize("named", ["pkg/shared.py", "shared.py"])
def test_bad_input_symlink_out_of_root_named(
    project, tmp_path_factory, named: str
) -> None:
    # pre-commit names each file; a link that leads out of the project is
    # neither followed nor written, from the root or from the link's folder.
    outside = tmp_path_factory.mktemp("outside") / "shared.py"
    outside.write_text(GOOD.replace("int(time.time() * 1000)", "time.time() * 1000"))
    root = project({"good.py": GOOD})
    (root / "pkg").mkdir()
    (root / "pkg" / "shared.py").symlink_to(outside)
    before = outside.read_text()
    cwd = root if named.startswith("pkg/") else root / "pkg"

    exit_code, errors, _ = _errors(cwd, named)

    assert exit_code == 2
    assert [error["path"] for error in errors] == [named]
    assert errors[0]["message"].startswith(f"symbolic link to {outside.resolve()}")
    assert outside.read_text() == before


def test_bad_input_symlink_inside_root_named(project) -> None:
    root = project(
        {"real.py": GOOD.replace("int(time.time() * 1000)", "time.time() * 1000")}
    )
    (root / "link.py").symlink_to(root / "real.py")

    exit_code, errors, _ = _errors(root, "link.py")

    assert errors == []
    assert exit_code != 2
    assert "int(time.time())" in (root / "real.py").read_text()


@pytest.mark.parametrize("git", [False, True], ids=["walk", "git"])
@pytest.mark.parametrize("named", ["pkg/linked", "linked"])
def test_bad_input_folder_link_out_of_root_named(
    project, tmp_path_factory, named: str, git: bool
) -> None:
    # A link to a folder outside the project is rejected as a link to a
    # file is, and no cache folder appears in the outside folder.
    outside = tmp_path_factory.mktemp("outside")
    shared = GOOD.replace("int(time.time() * 1000)", "time.time() * 1000")
    (outside / "shared.py").write_text(shared)
    root = project({"good.py": GOOD})
    (root / "pkg").mkdir()
    (root / "pkg" / "linked").symlink_to(outside, target_is_directory=True)
    if git:
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    cwd = root if named.startswith("pkg/") else root / "pkg"

    exit_code, errors, _ = _errors(cwd, named)

    assert exit_code == 2
    assert [error["path"] for error in errors] == [named]
    assert errors[0]["message"].startswith(f"symbolic link to {outside.resolve()},")
    assert errors[0]["message"].endswith("name the target itself to check it")
    assert (outside / "shared.py").read_text() == shared
    assert sorted(entry.name for entry in outside.iterdir()) == ["shared.py"]


def test_bad_input_folder_link_inside_root_named(project) -> None:
    root = project(
        {"pkg/real.py": GOOD.replace("int(time.time() * 1000)", "time.time() * 1000")}
    )
    (root / "linked").symlink_to(root / "pkg", target_is_directory=True)

    exit_code, errors, _ = _errors(root, "linked")

    assert errors == []
    assert exit_code != 2
    assert "int(time.time())" in (root / "pkg" / "real.py").read_text()


def test_bad_input_deep_expression_reported(project) -> None:
    # CPython compiles it; the index recursion goes past Python's limit.
    root = project(
        {
            "choice.py": "import customerio\nX = " + "a if b else " * 1000 + "c\n",
            "app.py": "import time\n",
        }
    )

    result = run_cli(["--no-cache", "."], root)

    assert result.exit_code == 2
    assert "choice.py: error: nested too deeply" in result.stderr


def test_bad_input_unexpected_error_exits_2(project, monkeypatch) -> None:
    import sys

    import cio_fix.engine
    from cio_fix import cli

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    root = project({"app.py": "import customerio\n"})
    monkeypatch.setattr(cio_fix.engine, "run", broken)
    monkeypatch.setattr(sys, "argv", ["cio-fix", str(root)])

    with pytest.raises(SystemExit) as exit_:
        cli.main()

    assert exit_.value.code == 2


def test_bad_input_long_operator_chain_parsed(project) -> None:
    # libcst's native parser recursed past the main thread's stack on this
    # valid code, and the process died. The run is a subprocess here, so a
    # crash fails this test instead of stopping the test run.
    import subprocess
    import sys

    chain = " and ".join(["flag"] * 8000)
    root = project(
        {
            "rules.py": f"import customerio\nx = {chain}\n",
            "app.py": (
                "import time\n\nfrom customerio import CustomerIO\n\n"
                'cio = CustomerIO("site", "key")\n'
                "cio.identify(id=1, created_at=int(time.time() * 1000))\n"
            ),
        }
    )

    result = subprocess.run(
        [sys.executable, "-m", "cio_fix", "--apply", "--no-cache", "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode in (0, 1, 2)
    assert "int(time.time())" in (root / "app.py").read_text()


def test_bad_input_symlink_loop_in_project(project) -> None:
    root = project({"good.py": GOOD})
    (root / "loop.py").symlink_to("loop.py")

    exit_code, errors, _ = _errors(root, ".")

    assert exit_code == 2
    # The same line as when the loop is named.
    assert errors == [
        {
            "path": "loop.py",
            "message": "symbolic link loop; point the link at a file or remove it",
        }
    ]
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_symlink_pair_loop(project) -> None:
    root = project({"good.py": GOOD})
    (root / "a.py").symlink_to("b.py")
    (root / "b.py").symlink_to("a.py")

    exit_code, errors, _ = _errors(root, ".")

    assert exit_code == 2
    assert [error["path"] for error in errors] == ["a.py", "b.py"]
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_symlink_loop_named(project) -> None:
    root = project({"good.py": GOOD})
    (root / "loop.py").symlink_to("loop.py")

    exit_code, errors, _ = _errors(root, "loop.py", "good.py")

    assert exit_code == 2
    assert errors == [
        {
            "path": "loop.py",
            "message": "symbolic link loop; point the link at a file or remove it",
        }
    ]
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_symlink_loop_beside_named_file(project) -> None:
    root = project({"good.py": GOOD})
    (root / "loop.py").symlink_to("loop.py")

    exit_code, errors, _ = _errors(root, "good.py")

    # The loop is not named, so it is no error of this run. Exit status 1
    # is for the CIO401 finding, which has no safe fix.
    assert exit_code == 1
    assert errors == []
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_excluded_symlink_loop_silent(project) -> None:
    root = project(
        {
            "good.py": GOOD,
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["loop.py"]\n',
        }
    )
    (root / "loop.py").symlink_to("loop.py")

    exit_code, errors, _ = _errors(root, ".")

    assert exit_code == 1
    assert errors == []


def test_bad_input_pyproject_not_utf8(project) -> None:
    root = project(
        {"good.py": GOOD, "pyproject.toml": "[tool.cio-fix]\n".encode("utf-16")}
    )

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "pyproject.toml: not valid UTF-8 (byte 0)" in result.stderr
    assert "Traceback" not in result.stderr


def _run_bounded(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run cio-fix in a child process that a hang or a runaway read cannot outlast.

    The child gets 60 seconds and 2 GiB of address space, so that a
    regression fails this test instead of stopping the suite or the machine.
    """

    def limit_memory() -> None:
        two_gib = 2 * 1024**3
        resource.setrlimit(resource.RLIMIT_AS, (two_gib, two_gib))

    return subprocess.run(
        [sys.executable, "-m", "cio_fix", *args],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
        preexec_fn=limit_memory,
    )


@pytest.mark.parametrize(
    "name", ["requirements.txt", "setup.cfg", "Pipfile", "poetry.lock", "setup.py"]
)
def test_bad_input_fifo_declaration_file(project, name: str) -> None:
    root = project({"good.py": GOOD})
    os.mkfifo(root / name)

    # Without the check, opening the FIFO waits for a writer for ever.
    completed = _run_bounded(root, "--apply", ".")

    assert completed.returncode == 1
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_declaration_linked_to_device(project) -> None:
    root = project({"good.py": GOOD})
    (root / "requirements.txt").symlink_to("/dev/zero")

    # Without the check, reading /dev/zero fills the memory.
    completed = _run_bounded(root, "--apply", ".")

    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert "int(time.time())" in (root / "good.py").read_text()


def test_bad_input_client_name_not_a_name(project) -> None:
    root = project(
        {
            "app.py": "import customerio\n",
            "pyproject.toml": '[tool.cio-fix]\nclient-names = ["not a name"]\n',
        }
    )

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "client-names entry 'not a name'" in result.stderr


@pytest.mark.parametrize(
    "entry", ["app.extensions[name]", "app.extensions[0]", "get_cio()['us']"]
)
def test_bad_input_client_name_item_not_literal(project, entry: str) -> None:
    root = project(
        {
            "app.py": "import customerio\n",
            "pyproject.toml": f"[tool.cio-fix]\nclient-names = [{entry!r}]\n",
        }
    )

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert f"client-names entry {entry!r}" in result.stderr
    assert (
        "with a string key, such as 'app.extensions[\"customerio\"]'" in result.stderr
    )


def test_bad_input_pr_body_python_file(project) -> None:
    root = project({"app.py": "import customerio\n"})

    result = run_cli(["--apply", "--pr-body", "app.py", "."], root)

    assert result.exit_code == 2
    assert "is a Python file" in result.stderr
    assert (root / "app.py").read_text() == "import customerio\n"


# A source file with a fix, and where --pr-body cannot write the description.
FIXABLE_APP = "import time\n\nimport customerio\n\ncio = customerio.CustomerIO('', '')\ncio.track(1, 'x', sent_at=time.time() * 1000)\n"


@pytest.mark.parametrize(
    ("description", "problem"),
    [
        ("out", "is a folder"),
        ("app.py.d/cio-fix.md", "which is not a folder"),
    ],
)
def test_bad_input_pr_body_unwritable(project, description, problem) -> None:
    root = project({"app.py": FIXABLE_APP, "app.py.d": "", "out/.keep": ""})

    result = run_cli(["--apply", "--pr-body", description, "."], root)

    assert result.exit_code == 2
    assert f"--pr-body {description} " in result.stderr
    assert problem in result.stderr
    assert (root / "app.py").read_text() == FIXABLE_APP


def test_bad_input_cache_folder_link(project, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("outside")
    root = project({"app.py": "import customerio\n"})
    (root / ".cio_fix_cache").symlink_to(outside, target_is_directory=True)

    result = run_cli(["."], root)

    assert result.exit_code == 0
    assert list(outside.iterdir()) == []


def test_bad_input_parse_in_forked_worker() -> None:
    # The parser thread starts once per process. A forked worker does not
    # inherit it, and must start its own instead of waiting for it forever.
    import signal

    from cio_fix.checker import parse_with_large_stack

    parse_with_large_stack("x = 1\n")
    pid = os.fork()
    if pid == 0:
        signal.alarm(20)
        try:
            parse_with_large_stack("y = 2\n")
        except BaseException:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0


def test_bad_input_parse_skips_node_validation(monkeypatch) -> None:
    import libcst as cst

    from cio_fix.checker import parse_with_large_stack

    validated: list[str] = []
    monkeypatch.setattr(cst.Name, "_validate", lambda node: validated.append(node))

    parse_with_large_stack("x = y\n")
    parsed_names = len(validated)
    cst.Name("z")

    assert parsed_names == 0
    assert len(validated) == 1


def test_bad_input_parse_error_keeps_node_validation() -> None:
    import libcst as cst

    from cio_fix.checker import parse_with_large_stack

    with pytest.raises(cst.ParserSyntaxError):
        parse_with_large_stack("def broken(:\n")

    with pytest.raises(cst.CSTValidationError):
        cst.Name("")


def test_bad_input_unvalidated_parse_same_trees() -> None:
    import libcst as cst

    from cio_fix.checker import parse_with_large_stack

    from conftest import FIXTURES

    sources = sorted(FIXTURES.rglob("*.py"))
    assert sources
    for source in sources:
        text = source.read_text(encoding="utf-8")
        try:
            expected = cst.parse_module(text)
        except cst.ParserSyntaxError:
            continue
        assert parse_with_large_stack(text).deep_equals(expected), source


# A module with two fixable findings (CIO103 and CIO701 under customerio 3).
TRACKED = (
    "import time\n"
    "from customerio import CustomerIO\n"
    "cio = CustomerIO('s', 'k')\n"
    "cio.track(customer_id=1, name='ping', created_at=int(time.time() * 1000))\n"
)
SDK3 = '[project]\nname = "demo"\nversion = "0.1"\ndependencies = ["customerio>=3.0"]\n'
DENIED = "Permission denied"


def _modes_apply() -> list[str]:
    """Return the command prefix under which file modes apply, or skip the test.

    Root reads and searches folders whatever their mode. setpriv
    (util-linux) takes that capability away from the command it runs.
    """
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv, so mode 000 does not apply")
    probe = subprocess.run([*prefix, "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("setpriv cannot drop the capabilities here")
    return prefix


def _run_with_modes(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_modes_apply(), sys.executable, "-m", "cio_fix", "--no-cache", *args],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "400"},
        timeout=120,
        check=False,
    )


@pytest.fixture
def locked_project(project):
    """Return a project whose folder `app/locked` has mode 000, restored afterwards."""
    root = project(
        {"pyproject.toml": SDK3, "app/other.py": TRACKED, "app/locked/x.py": TRACKED}
    )
    locked = root / "app" / "locked"
    locked.chmod(0)
    yield root
    locked.chmod(0o755)


@pytest.mark.parametrize(
    "order",
    [["app/locked/x.py", "app/other.py"], ["app/other.py", "app/locked/x.py"]],
)
def test_bad_input_file_in_unsearchable_folder(locked_project, order) -> None:
    completed = _run_with_modes(locked_project, "--no-diff", *order)

    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.splitlines() == [
        f"app/locked/x.py: error: cannot read: {DENIED}; check the permissions of"
        " its folders"
    ]
    assert "app/other.py:4:1: CIO701" in completed.stdout


def test_bad_input_named_unreadable_folder(locked_project) -> None:
    completed = _run_with_modes(locked_project, "--no-diff", "app/locked", "app")

    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"app/locked: error: cannot list the folder: {DENIED}, so its files are not"
        " checked; check its permissions"
    ]
    assert "app/other.py:4:1: CIO701" in completed.stdout


@pytest.mark.parametrize("in_git", [False, True])
def test_bad_input_unreadable_folder_in_walk(locked_project, in_git) -> None:
    if in_git:
        subprocess.run(["git", "init", "-q"], cwd=locked_project, check=True)

    completed = _run_with_modes(locked_project, "--output-format", "json")

    assert completed.returncode == 2
    document = json.loads(completed.stdout)
    assert document["errors"] == [
        {
            "path": "app/locked",
            "message": f"cannot list the folder: {DENIED}, so its files are not"
            " checked; check its permissions",
        }
    ]
    assert {finding["path"] for finding in document["findings"]} == {"app/other.py"}


def test_bad_input_named_excluded_unreadable_folder(locked_project) -> None:
    pyproject = locked_project / "pyproject.toml"
    pyproject.write_text(f'{SDK3}\n[tool.cio-fix]\nextend-exclude = ["app/locked"]\n')

    completed = _run_with_modes(locked_project, "app/locked")

    assert completed.returncode == 0
    assert completed.stderr.splitlines() == [
        f"cio-fix: warning: cannot list folder app/locked ({DENIED}), which the run"
        " leaves out, so the Python files in app/locked are unknown; nothing was"
        " checked"
    ]


def test_bad_input_unlistable_folder_simulated(project, monkeypatch) -> None:
    root = project({"app/other.py": GOOD, "app/locked/x.py": GOOD})
    locked = str(root / "app" / "locked")
    scandir = os.scandir

    # Root lists folders whatever their mode, so the denial is simulated.
    def deny(path):
        if os.path.abspath(path) == locked:
            raise PermissionError(13, DENIED, path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    exit_code, errors, _ = _errors(root, "--jobs", "1", ".")
    monkeypatch.undo()

    assert exit_code == 2
    assert errors == [
        {
            "path": "app/locked",
            "message": f"cannot list the folder: {DENIED}, so its files are not"
            " checked; check its permissions",
        }
    ]
    assert (root / "app" / "locked" / "x.py").read_text() == GOOD
    assert "int(time.time())" in (root / "app" / "other.py").read_text()


def test_bad_input_unlistable_excluded_folder(project, monkeypatch) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["app/locked"]\n',
            "app/other.py": GOOD,
            "app/locked/x.py": GOOD,
        }
    )
    locked = str(root / "app" / "locked")
    scandir = os.scandir

    def deny(path):
        if os.path.abspath(path) == locked:
            raise PermissionError(13, DENIED, path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", deny)
    exit_code, errors, _ = _errors(root, "--jobs", "1", ".")
    monkeypatch.undo()

    assert errors == []
    assert exit_code != 2


def test_bad_input_deep_expression_one_error(project) -> None:
    # CPython compiles 500 nested unary minus operators; several rules go
    # past Python's recursion limit.
    terms = "-" * 500 + "1"
    root = project({"pyproject.toml": SDK3, "app.py": f"{TRACKED}x = {terms}\n"})

    exit_code, errors, _ = _errors(root, "--no-cache", ".")

    assert exit_code == 2
    assert len(errors) == 1
    assert errors[0]["path"] == "app.py"
    assert errors[0]["message"].startswith(
        "not fully checked: nested too deeply to analyse (past Python's recursion"
        " limit) for CIO"
    )
    assert (root / "app.py").read_text() == f"{TRACKED}x = {terms}\n"


def test_bad_input_deep_elif_one_error(project) -> None:
    # CPython compiles 500 `elif` branches. Printing them goes past Python's
    # recursion limit inside an `if` whose first line has no position yet.
    branches = "".join(
        f"    elif flag == {number}:\n        return {number}\n"
        for number in range(1, 500)
    )
    code = (
        f"{TRACKED}def choose(flag):\n    if flag == 0:\n        return 0\n{branches}"
    )
    root = project({"pyproject.toml": SDK3, "app.py": code})

    exit_code, errors, _ = _errors(root, "--no-cache", ".")

    assert exit_code == 2
    assert len(errors) == 1
    assert errors[0]["path"] == "app.py"
    assert errors[0]["message"].startswith(
        "not fully checked: nested too deeply to analyse (past Python's recursion"
        " limit) for CIO"
    )
    assert (root / "app.py").read_text() == code


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_bad_input_too_deep_rules_keep_others(project, monkeypatch, jobs) -> None:
    from cio_fix.rules import all_rules

    root = project({"pyproject.toml": SDK3, "app.py": TRACKED})

    # One rule fails while it collects facts, the other while it checks.
    def too_deep(self, context):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(all_rules()["CIO103"], "check", too_deep)
    monkeypatch.setattr(all_rules()["CIO301"], "collect", too_deep)
    # The second run reads the facts of the first from the cache.
    runs = [_errors(root, "--jobs", jobs, ".") for _ in range(2)]
    document = run_cli(["--output-format", "json", "--jobs", jobs, "."], root).json
    monkeypatch.undo()

    for exit_code, errors, _ in runs:
        assert exit_code == 2
        assert errors == [
            {
                "path": "app.py",
                "message": "not fully checked: nested too deeply to analyse (past"
                " Python's recursion limit) for CIO103, CIO301; the findings of the"
                " other rules are reported, but the file is not fixed; exclude it if"
                " it is generated code",
            }
        ]
    assert [finding["name"] for finding in document["findings"]] == [
        "sdk3-event-kwargs"
    ]
    assert document["findings"][0]["fix"] is None
    assert (root / "app.py").read_text() == TRACKED


def test_bad_input_too_deep_report_only_rule(project, monkeypatch) -> None:
    from cio_fix.rules import all_rules

    root = project({"pyproject.toml": SDK3, "app.py": TRACKED})

    # CIO402 has no fix, so the fixes of the other rules need not wait for it.
    def too_deep(self, context):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(all_rules()["CIO402"], "check", too_deep)
    exit_code, errors, _ = _errors(root, "--jobs", "1", "--no-cache", ".")
    monkeypatch.undo()

    assert exit_code == 2
    assert errors == [
        {
            "path": "app.py",
            "message": "not fully checked: nested too deeply to analyse (past"
            " Python's recursion limit) for CIO402; the findings of the other rules"
            " are reported; exclude it if it is generated code",
        }
    ]
    assert "int(time.time())" in (root / "app.py").read_text()


@pytest.fixture
def unsearchable_project(project):
    """Return a project whose folder `app/sub` can be listed but not searched (mode 644)."""
    root = project({"app/other.py": TRACKED, "app/sub/y.py": TRACKED})
    folder = root / "app" / "sub"
    folder.chmod(0o644)
    yield root
    folder.chmod(0o755)


@pytest.mark.parametrize(
    "paths", [["."], ["app/sub/y.py"], ["app/sub/y.py", "app/sub"], ["app", "app"]]
)
def test_bad_input_unsearchable_folder_one_line(unsearchable_project, paths) -> None:
    completed = _run_with_modes(unsearchable_project, "--no-diff", *paths)

    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"app/sub/y.py: error: cannot read: {DENIED}; check the permissions of"
        " its folders"
    ]


@pytest.fixture
def locked_service(project):
    """Return a project whose service `sub` has its own pyproject.toml at mode 000."""
    root = project(
        {
            "pyproject.toml": SDK3,
            "app/other.py": TRACKED,
            "sub/s.py": TRACKED,
            "sub/pyproject.toml": '[tool.cio-fix]\nselect = ["CIO103"]\n',
        }
    )
    config = root / "sub" / "pyproject.toml"
    config.chmod(0)
    yield root
    config.chmod(0o644)


def test_bad_input_unreadable_service_config(locked_service) -> None:
    completed = _run_with_modes(locked_service, "--apply", "--output-format", "json")

    assert completed.returncode == 2
    document = json.loads(completed.stdout)
    assert document["errors"] == [
        {"path": "sub/pyproject.toml", "message": f"cannot read: {DENIED}"}
    ]
    assert (locked_service / "sub" / "s.py").read_text() == TRACKED


def test_bad_input_unreadable_service_config_text(locked_service) -> None:
    completed = _run_with_modes(locked_service, "--no-diff")

    assert completed.returncode == 2
    config = locked_service / "sub" / "pyproject.toml"
    assert completed.stderr.splitlines() == [
        f"cio-fix: error: {config}: cannot read: {DENIED}"
    ]


UNREAD_GITIGNORE = (
    f"cannot read: {DENIED}, so the files below its folder are not checked; check"
    " its permissions"
)


@pytest.fixture
def locked_gitignore(project):
    """Return a project (no git) whose `app/.gitignore`, ignoring `gen/`, has mode 000."""
    root = project(
        {
            "pyproject.toml": SDK3,
            "main.py": TRACKED,
            "app/other.py": TRACKED,
            "app/gen/g.py": TRACKED,
            "app/.gitignore": "gen/\n",
        }
    )
    gitignore = root / "app" / ".gitignore"
    gitignore.chmod(0)
    yield root
    gitignore.chmod(0o644)


@pytest.mark.parametrize(
    "args",
    [["."], ["app"], ["--force-exclude", "app/gen/g.py", "app/other.py", "main.py"]],
)
def test_bad_input_unreadable_gitignore(locked_gitignore, args) -> None:
    completed = _run_with_modes(
        locked_gitignore, "--apply", "--output-format", "json", *args
    )

    assert completed.returncode == 2
    document = json.loads(completed.stdout)
    assert document["errors"] == [
        {"path": "app/.gitignore", "message": UNREAD_GITIGNORE}
    ]
    assert (locked_gitignore / "app" / "gen" / "g.py").read_text() == TRACKED
    assert (locked_gitignore / "app" / "other.py").read_text() == TRACKED
    if "app" not in args:
        assert (locked_gitignore / "main.py").read_text() != TRACKED


def test_bad_input_unreadable_gitignore_above_path(project) -> None:
    # No pyproject.toml or .git marks a root, so the walk reads the
    # `.gitignore` files up to the top of the file system.
    root = project({"top/.gitignore": "gen/\n", "top/sub/a.py": TRACKED})
    gitignore = root / "top" / ".gitignore"
    gitignore.chmod(0)
    try:
        completed = _run_with_modes(root / "top" / "sub", "--no-diff", ".")
    finally:
        gitignore.chmod(0o644)

    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [f"{gitignore}: error: {UNREAD_GITIGNORE}"]

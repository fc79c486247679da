"""The pipeline across files, and its safety net when a fix goes wrong."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import libcst as cst
import pytest

import cio_fix.checker
import cio_fix.codemods.timestamps
import cio_fix.discovery
import cio_fix.engine
import cio_fix.events
from cio_fix.config import load_config
from cio_fix.model import Fix, FixSafety

from conftest import FIXTURES, run_cli

WRAPPER = """\
from customerio import CustomerIO

tracker = CustomerIO("site", "key")
"""
USES_WRAPPER = """\
import time

from app.tracking import tracker


def signed_up(user):
    tracker.identify(id=user.id, email=user.email, created_at=int(time.time() * 1000))
"""
INJECTED = """\
import time


def signed_up(user, analytics_client):
    analytics_client.identify(id=user.id, email=user.email, created_at=int(time.time() * 1000))
"""
BODY = "import time\nfrom customerio import CustomerIO\ncio = CustomerIO('s', 'k')\ncio.identify(id=1, created_at=int(time.time() * 1000))\n"


def test_engine_client_imported_from_wrapper_module(project) -> None:
    root = project(
        {
            "app/__init__.py": "",
            "app/tracking.py": WRAPPER,
            "app/views.py": USES_WRAPPER,
        }
    )

    document = run_cli(
        ["--select", "CIO103", "--output-format", "json", "."], root
    ).json

    assert [(f["path"], f["code"]) for f in document["findings"]] == [
        ("app/views.py", "CIO103")
    ]


def test_engine_configured_client_name(project) -> None:
    root = project(
        {
            "app/views.py": INJECTED,
            "pyproject.toml": '[tool.cio-fix]\nclient-names = ["analytics_client"]\n',
        }
    )

    document = run_cli(
        ["--select", "CIO103", "--output-format", "json", "."], root
    ).json

    assert [(f["path"], f["code"]) for f in document["findings"]] == [
        ("app/views.py", "CIO103")
    ]


def test_engine_unconfigured_name_is_not_a_client(project) -> None:
    root = project({"app/views.py": INJECTED})

    document = run_cli(
        ["--select", "CIO103", "--output-format", "json", "."], root
    ).json

    assert document["findings"] == []


def test_engine_two_fixes_in_one_call(project) -> None:
    source = (
        "import time\nfrom customerio import CustomerIO\ncio = CustomerIO('s', 'k')\n"
        "cio.identify(id=1, created_at=int(time.time() * 1000), updated_at=time.time() * 1000)\n"
    )
    root = project({"app.py": source})

    document = run_cli(
        ["--apply", "--select", "CIO103", "--output-format", "json", "."], root
    ).json

    assert [f["applied"] for f in document["findings"]] == [True, True]
    assert (
        (root / "app.py")
        .read_text()
        .endswith("created_at=int(time.time()), updated_at=int(time.time()))\n")
    )


CHECKOUT = """\
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.post("/checkout")
def checkout(user_id):
    cart = request.get_json()
    for product in cart["products"]:
        cio.track(customer_id=user_id, name=f"purchased_{product['sku']}")
    cio.track(customer_id=user_id, name="order_shipped")
    return "ok"
"""


def test_engine_withheld_finding_pairs_by_line(project) -> None:
    # The other rules' fixes rebuild the call in the loop, so its finding in
    # the fixed code pairs with the original by message. Its message quotes
    # the loop's line, which a re-check writes as 0, and must not pair with
    # the fixed call below whose message it extends.
    root = project({"app.py": CHECKOUT, "requirements.txt": "customerio==3.2.0\n"})

    document = run_cli(["--output-format", "json", "--no-cache", "."], root).json
    background = {
        finding["line"]: finding["fix"]
        for finding in document["findings"]
        if finding["code"] == "CIO304"
    }

    assert background == {12: None, 13: "safe"}


def test_engine_fix_that_breaks_code_is_dropped(project, monkeypatch) -> None:
    root = project({"app.py": BODY, "other.py": BODY})
    broken = cst.parse_module("def f():\n    pass\nreturn 1\n")
    monkeypatch.setattr(cio_fix.checker, "apply_fixes", lambda *args, **kwargs: broken)

    result = run_cli(["--apply", "--output-format", "json", "."], root)

    assert result.exit_code == 2
    assert (root / "app.py").read_text() == BODY
    assert (root / "other.py").read_text() == BODY
    assert result.json["changed_files"] == []
    assert {error["path"] for error in result.json["errors"]} == {"app.py", "other.py"}
    assert "does not compile" in result.json["errors"][0]["message"]
    assert not any(finding["applied"] for finding in result.json["findings"])


def test_engine_only_the_breaking_rule_is_dropped(project, monkeypatch) -> None:
    source = (
        "import time\nfrom customerio import CustomerIO\n"
        "cio = CustomerIO('3f9a0c1d2e4b5a69c7d1', '0a1b2c3d4e5f6a7b8c9d')\n"
        "cio.identify(id=1, created_at=time.time() * 1000)\n"
    )
    root = project({"app.py": source})
    # CIO103's fix writes a keyword where an expression belongs.
    monkeypatch.setattr(
        cio_fix.codemods.timestamps, "_int_call", lambda node: cst.Name("lambda")
    )

    result = run_cli(["--apply", "--output-format", "json", "."], root)

    fixed = (root / "app.py").read_text()
    assert result.exit_code == 2
    assert "os.environ['CUSTOMERIO_SITE_ID']" in fixed
    assert "created_at=time.time() * 1000" in fixed
    [error] = result.json["errors"]
    assert error["message"].startswith("internal error in CIO103:")
    applied = {f["code"]: f["applied"] for f in result.json["findings"]}
    assert applied["CIO101"] is True
    assert applied["CIO103"] is False
    codes = [finding["code"] for finding in result.json["findings"]]
    assert codes.count("CIO103") == 1


def test_engine_writes_no_fix_without_a_finding(project) -> None:
    # CIO202's fix makes the identify's customer the track's, and only then
    # does CIO201 see a track before an identify. Its reorder would have no
    # finding to explain it, so it waits for the next run; this run reports
    # the finding.
    source = (
        "from customerio import CustomerIO\n"
        "cio = CustomerIO('s', 'k')\n\n\n"
        "def login(user):\n"
        "    cio.track(customer_id=user.id, name='logged_in')\n"
        "    cio.identify(id=user.email, plan=user.plan)\n"
    )
    root = project({"app.py": source})
    args = ["--apply", "--unsafe-fixes", "--select", "CIO201,CIO202"]

    first = run_cli([*args, "--output-format", "json", "."], root)
    fixed = (root / "app.py").read_text()
    second = run_cli([*args, "--output-format", "json", "."], root)

    assert [f["code"] for f in first.json["findings"]] == ["CIO201", "CIO202"]
    revealed = first.json["findings"][0]
    assert not revealed["applied"]
    # CIO201's message ends with a full stop, which stays after the note.
    assert revealed["message"].endswith(
        "Send the identify first (in code that this run's fixes wrote; the line is"
        " that of the fixed file; run cio-fix again to fix it)."
    )
    assert fixed.index("cio.track(") < fixed.index("cio.identify(id=user.id")
    assert [f["code"] for f in second.json["findings"]] == ["CIO201"]
    assert second.json["findings"][0]["applied"] is True


def test_engine_fixes_that_never_settle_are_dropped(project, monkeypatch) -> None:
    root = project({"app.py": BODY})
    monkeypatch.setattr(
        cio_fix.checker, "apply_fixes", lambda module, *args, **kwargs: module
    )

    result = run_cli(["--apply", "--output-format", "json", "."], root)
    findings = result.json["findings"]

    assert result.exit_code == 1
    assert result.json["errors"] == []
    assert (root / "app.py").read_text() == BODY
    assert [finding["fix"] for finding in findings] == [None] * len(findings)
    assert any(
        finding["message"].endswith(f"({cio_fix.checker.NOT_SETTLED})")
        for finding in findings
    )


def test_engine_unsettled_rule_left_out(project, monkeypatch) -> None:
    # A fix that changes nothing stays pending after every pass, as a fix
    # waiting for another rule's fix that never comes did.
    from cio_fix.codemods.credentials import HardcodedCredential

    check = HardcodedCredential.check

    def waiting_forever(self, context):
        for finding in check(self, context):
            if finding.fix is not None:
                finding.fix = Fix(FixSafety.SAFE)
            yield finding

    monkeypatch.setattr(HardcodedCredential, "check", waiting_forever)
    source = (
        "import time\nfrom customerio import CustomerIO\n"
        "cio = CustomerIO('3f9a0c1d2e4b5a69c7d1', '0a1b2c3d4e5f6a7b8c9d')\n"
        "cio.identify(id=1, created_at=time.time() * 1000)\n"
    )
    root = project({"app.py": source})

    result = run_cli(["--apply", "--output-format", "json", "."], root)
    by_code = {finding["code"]: finding for finding in result.json["findings"]}

    assert result.json["errors"] == []
    assert result.exit_code == 1
    assert "int(time.time())" in (root / "app.py").read_text()
    assert by_code["CIO103"]["applied"] is True
    assert by_code["CIO101"]["fix"] is None
    assert by_code["CIO101"]["applied"] is False
    assert by_code["CIO101"]["message"].endswith(f"({cio_fix.checker.NOT_SETTLED})")


def test_engine_rule_crash_is_reported_and_run_goes_on(project, monkeypatch) -> None:
    from cio_fix.codemods.credentials import HardcodedCredential

    def crash(self, context):
        raise RuntimeError("boom")

    monkeypatch.setattr(HardcodedCredential, "check", crash)
    root = project({"app.py": BODY})

    result = run_cli(["--apply", "--output-format", "json", "."], root)

    assert result.exit_code == 2
    assert (
        "internal error in CIO101 (RuntimeError: boom)"
        in result.json["errors"][0]["message"]
    )
    assert "int(time.time())" in (root / "app.py").read_text()


def test_engine_deep_rule_error_once(project, monkeypatch) -> None:
    from cio_fix.codemods.credentials import HardcodedCredential

    def too_deep(self, context):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(HardcodedCredential, "collect", too_deep)
    monkeypatch.setattr(HardcodedCredential, "check", too_deep)
    root = project({"app.py": BODY})

    result = run_cli(["--apply", "--output-format", "json", "."], root)
    messages = [error["message"] for error in result.json["errors"]]

    assert messages == [
        "not fully checked: nested too deeply to analyse (past Python's recursion"
        " limit) for CIO101; the findings of the other rules are reported, but the"
        " file is not fixed; exclude it if it is generated code"
    ]
    assert (root / "app.py").read_text() == BODY


def test_engine_file_changed_during_run_not_written(project, monkeypatch) -> None:
    root = project({"app.py": BODY})
    original_write = cio_fix.engine._write

    def edit_then_write(result, *args):
        (root / "app.py").write_text(BODY + "# edited meanwhile\n")
        original_write(result, *args)

    monkeypatch.setattr(cio_fix.engine, "_write", edit_then_write)

    result = run_cli(["--apply", "--output-format", "json", "."], root)

    assert (root / "app.py").read_text() == BODY + "# edited meanwhile\n"
    assert "changed on disk during the run" in result.json["errors"][0]["message"]
    assert result.exit_code == 2


def test_engine_follows_only_files_importing_a_client_module(project) -> None:
    root = project(
        {
            "app/__init__.py": "",
            "app/tracking.py": WRAPPER,
            "app/views.py": USES_WRAPPER,
            # Mentions the module's name, but imports nothing from it.
            "app/notes.py": "# tracking: see the wiki\nbroken = (\n",
        }
    )

    document = run_cli(
        ["--select", "CIO103", "--output-format", "json", "."], root
    ).json

    assert document["errors"] == []
    assert [f["path"] for f in document["findings"]] == ["app/views.py"]


def test_engine_reports_a_file_nested_too_deeply(project) -> None:
    # 1,000 conditional expressions, each in the `else` of the one before.
    choice = "a if b else " * 1000 + "c"
    root = project(
        {
            "generated.py": f"import customerio\n\nTEXT = {choice}\n",
            "app.py": BODY,
        }
    )

    document = run_cli(["--output-format", "json", "--no-cache", "."], root).json

    assert [error["path"] for error in document["errors"]] == ["generated.py"]
    assert "nested too deeply" in document["errors"][0]["message"]
    assert {f["path"] for f in document["findings"]} == {"app.py"}


def test_engine_reparses_shared_node_module(tmp_path) -> None:
    from cio_fix.checker import Checker
    from cio_fix.config import Config
    from cio_fix.model import RunResult
    from cio_fix.project import ProjectIndex

    checker = Checker(Config(root=tmp_path))
    path = tmp_path / "app.py"
    context = checker._context(path, BODY.encode(), ProjectIndex([]), RunResult())
    assert context is not None
    statement = context.module.body[-1]
    module = context.module.with_changes(body=[*context.module.body, statement])

    fixed = checker._fixed_context(context, module)

    assert fixed.module.code == module.code
    assert fixed.module.body[-1] is not fixed.module.body[-2]
    assert not fixed.index.shared_nodes


OVERLAPPING_FIXES = """\
import time

from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)
cio = CustomerIO("YOUR_SITE_ID", "YOUR_API_KEY")


@app.post("/view")
def view(request, item):
    cio.track(request.json["identifier"], f"viewed_{item.sku}", at_time=time.time())
    return "ok"
"""


def test_engine_overlapping_fixes_keep_layout(project) -> None:
    # CIO103 makes the line too long, so black splits it. CIO302 then adds an
    # argument after the split, and CIO304 wraps the call one argument a line.
    root = project({"views.py": OVERLAPPING_FIXES})

    run_cli(["--apply", "--no-cache", "."], root)

    fixed = (root / "views.py").read_text()
    assert (
        "    _customerio_in_background(\n"
        "        cio.track,\n"
        '        request.json["identifier"],\n'
        '        "viewed",\n'
        "        at_time=int(time.time()),\n"
        '        item_sku=f"{item.sku}",\n'
        "    )\n"
    ) in fixed


EXCEPT_SPACE_COLON = (
    BODY + "try:\n    pass\nexcept (KeyError, ValueError) :\n    pass\n"
)
# libcst prints line 4, the line that CIO103 fixes, without its first byte.
FORM_FEED_ON_FIXED_LINE = BODY.replace("cio.identify", "\x0ccio.identify")


def test_engine_unreproduced_lines_kept(project) -> None:
    root = project({"app.py": EXCEPT_SPACE_COLON.encode()})

    result = run_cli(["--apply", "--output-format", "json", "."], root)

    assert result.json["errors"] == []
    assert result.json["changed_files"] == ["app.py"]
    fixed = EXCEPT_SPACE_COLON.replace("time.time() * 1000", "time.time()")
    assert (root / "app.py").read_bytes() == fixed.encode()


def test_engine_unreproduced_dry_run_shows_fix(project) -> None:
    root = project({"app.py": EXCEPT_SPACE_COLON.encode()})

    result = run_cli(["--no-cache", "."], root)

    assert result.exit_code == 1
    assert "-cio.identify(id=1, created_at=int(time.time() * 1000))" in result.stdout
    assert "+cio.identify(id=1, created_at=int(time.time()))" in result.stdout
    assert " except (KeyError, ValueError) :" in result.stdout
    assert "1 fixable with `cio-fix --apply`" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            FORM_FEED_ON_FIXED_LINE,
            "the fixes would change line 4, which libcst does not print back",
        ),
        (
            BODY.replace("\n", "\r"),
            "the fixes would change line 4, which libcst does not print back",
        ),
        (
            BODY + "\r",
            "libcst does not print line 5 back byte for byte",
        ),
    ],
    ids=[
        "form_feed_on_fixed_line",
        "carriage_return_on_fixed_line",
        "lone_carriage_return",
    ],
)
def test_engine_unreproduced_line_not_fixed(project, text, message) -> None:
    root = project({"app.py": text.encode()})

    for args in (["--no-cache"], ["--apply"]):
        result = run_cli([*args, "--output-format", "json", "."], root)

        assert result.exit_code == 2
        assert (root / "app.py").read_bytes() == text.encode()
        assert result.json["changed_files"] == []
        assert message in result.json["errors"][0]["message"]
        findings = result.json["findings"]
        assert [finding["code"] for finding in findings] == ["CIO401", "CIO103"]
        assert [finding["fix"] for finding in findings] == [None, None]


SIGNUP_AND_ORDER = """\
import time
from customerio import CustomerIO

cio = CustomerIO("s", "k")


def signup(user):
    user.save()
    cio.identify(id=user.id)


def order_placed(order):
    cio.track(customer_id=order.user_id, name="order_placed", timestamp=int(time.time() * 1000))
"""
# The unsafe CIO401 fix of line 9 would change that line, which libcst
# prints without its form feed. The safe CIO103 fix is on line 13.
UNSAFE_FIX_ON_FORM_FEED = SIGNUP_AND_ORDER.replace(
    "    cio.identify", "\x0c    cio.identify"
)
# libcst prints line 10 without the space before the colon, and no fix
# changes it.
UNSAFE_FIX_NEAR_EXCEPT = SIGNUP_AND_ORDER.replace(
    "    user.save()\n",
    "    try:\n        user.save()\n    except ValueError :\n        pass\n",
)


def test_engine_unreproduced_unsafe_fix_not_counted(project) -> None:
    root = project({"app.py": UNSAFE_FIX_ON_FORM_FEED.encode()})

    result = run_cli(["--no-cache", "."], root)

    assert "unsafe fix" not in result.stdout
    assert "1 fixable with `cio-fix --apply`" in result.stdout
    assert "the fix would change a line that libcst does not print" in result.stdout


def test_engine_unreproduced_unsafe_fix_counted(project) -> None:
    root = project({"app.py": UNSAFE_FIX_NEAR_EXCEPT.encode()})

    dry_run = run_cli(["--no-cache", "."], root)
    applied = run_cli(["--apply", "--unsafe-fixes", "--no-cache", "."], root)

    assert "1 unsafe fix available with `--unsafe-fixes`" in dry_run.stdout
    assert applied.exit_code == 0
    fixed = (root / "app.py").read_text()
    assert "    except ValueError :\n" in fixed
    assert "    cio.identify(id=user.id, email=user.email)\n" in fixed


def test_engine_unreproduced_unsafe_fix_left_out(project) -> None:
    root = project({"app.py": UNSAFE_FIX_ON_FORM_FEED.encode()})

    result = run_cli(["--apply", "--output-format", "json", "."], root)

    assert result.json["errors"] == []
    fixed = UNSAFE_FIX_ON_FORM_FEED.replace("time.time() * 1000", "time.time()")
    assert (root / "app.py").read_bytes() == fixed.encode()
    identify = result.json["findings"][0]
    assert identify["code"] == "CIO401"
    assert identify["fix"] is None
    assert "the fix would change a line that libcst" in identify["message"]


def test_engine_unreproduced_unsafe_fix_refused(project) -> None:
    root = project({"app.py": UNSAFE_FIX_ON_FORM_FEED.encode()})

    for args in (["--no-cache"], ["--apply"]):
        result = run_cli(
            [*args, "--unsafe-fixes", "--output-format", "json", "."], root
        )

        assert result.exit_code == 2
        assert (root / "app.py").read_bytes() == UNSAFE_FIX_ON_FORM_FEED.encode()
        message = result.json["errors"][0]["message"]
        assert "the fixes would change line 9, which libcst does not" in message


def test_engine_line_count_unsafe_fix_not_counted(project) -> None:
    # Only an unsafe fix, which this run does not apply, and a lone carriage
    # return at the end, which libcst drops.
    text = SIGNUP_AND_ORDER.split("\n\n\ndef order_placed")[0] + "\n\r"
    root = project({"app.py": text.encode()})

    result = run_cli(["--no-cache", "."], root)

    assert result.exit_code == 2
    assert "unsafe fix" not in result.stdout
    assert "has a different number of lines" in result.stderr


def test_add_noqa_ignores_fix_errors(project) -> None:
    root = project({"app.py": FORM_FEED_ON_FIXED_LINE})

    result = run_cli(["--add-noqa", "--no-cache", "."], root)

    assert result.exit_code == 0
    assert "not fixed" not in result.stderr
    assert "# noqa: CIO103" in (root / "app.py").read_text()


MANY_FIXES_ON_TWO_CALLS = """\
import os
import time

from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)


@app.post("/with")
def with_view(request, user):
    with CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], "0a1b2c3d4e5f6a7b", use_connection_pooling=False) as cio:
        cio.track(customer_id=user.email, name=f"signed_up_{user.email}", at_time=time.time() * 1000)
        cio.identify(id=user.email, created_at=int(time.time() * 1000))
"""


def test_engine_six_passes_of_fixes_settle(project) -> None:
    root = project(
        {"views.py": MANY_FIXES_ON_TWO_CALLS, "requirements.txt": "customerio==3.2\n"}
    )

    first = run_cli(["--apply", "--unsafe-fixes", "--output-format", "json", "."], root)
    fixed = (root / "views.py").read_text()
    second = run_cli(["--apply", "--unsafe-fixes", "."], root)

    assert first.json["errors"] == []
    assert first.json["changed_files"] == ["views.py"]
    assert "    cio = _customerio_client()\n" in fixed
    assert "_customerio_in_background(\n        cio.track," in fixed
    assert (root / "views.py").read_text() == fixed
    assert second.exit_code in (0, 1)


def test_engine_wrapped_call_keeps_commas(project) -> None:
    # Black splits the call with all arguments on one line. CIO304 then lays
    # them out one a line, and the break before `)` must not come along.
    nested = OVERLAPPING_FIXES.replace(
        "def view(request, item):\n    cio.track(",
        "def view(request, item):\n    if item:\n        cio.track(",
    ).replace('request.json["identifier"]', 'request.json["id"]')
    root = project({"views.py": nested})

    run_cli(["--apply", "--unsafe-fixes", "--no-cache", "."], root)

    fixed = (root / "views.py").read_text()
    assert '        item_sku=f"{item.sku}",\n        )\n' in fixed
    assert "\n        ,\n" not in fixed


def test_engine_comma_fix_applied(project, monkeypatch) -> None:
    # The index walk records no parents of punctuation, yet a fix of a comma
    # must still reach the module.
    from cio_fix.codemods.timestamps import MillisecondTimestamp
    from cio_fix.model import Fix, FixSafety

    original = MillisecondTimestamp.check

    def with_comma_fix(self, context):
        for finding in original(self, context):
            call = context.index.client_calls[0].node
            comma = call.args[0].comma
            spaced = comma.with_changes(whitespace_after=cst.SimpleWhitespace("  "))
            replacements = {**finding.fix.replacements, comma: spaced}
            finding.fix = Fix(FixSafety.SAFE, replacements)
            yield finding

    monkeypatch.setattr(MillisecondTimestamp, "check", with_comma_fix)
    root = project({"app.py": BODY})

    result = run_cli(
        ["--apply", "--select", "CIO103", "--output-format", "json", "."], root
    )

    assert result.json["errors"] == []
    assert "cio.identify(id=1,  created_at" in (root / "app.py").read_text()


def _write_heavy_corpus(folder: Path, modules: int) -> None:
    path = Path(__file__).parent.parent / "benchmarks" / "corpus.py"
    spec = importlib.util.spec_from_file_location("corpus", path)
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    corpus.write_corpus(folder, modules)


def test_engine_later_passes_need_no_parse(tmp_path, monkeypatch) -> None:
    # Each module of the benchmark corpus takes three or four fix passes,
    # and every pass after the first reads the module the fixes built.
    _write_heavy_corpus(tmp_path, 3)
    parses: list[str] = []
    parse = cio_fix.checker._parse_fixed

    def counted(code: str) -> cst.Module:
        parses.append(code)
        return parse(code)

    monkeypatch.setattr(cio_fix.checker, "_parse_fixed", counted)

    result = run_cli(
        ["--dry-run", "--no-cache", "--output-format", "json", "."], tmp_path
    )

    changed = result.json["changed_files"]
    assert len([path for path in changed if "_000" in path]) == 3
    assert parses == []


def test_engine_built_modules_fix_as_parsed_ones(tmp_path, monkeypatch) -> None:
    # A fix's new nodes can contain a line break in another node than a parse
    # of their code would, and a later pass lays out its fixes from them.
    # Every fixture and the benchmark corpus must come out the same when
    # each pass's module is printed and parsed again.
    _write_heavy_corpus(tmp_path / "heavy", 4)
    for source in sorted(FIXTURES.glob("*/*.py")):
        if not source.name.endswith(".expected.py"):
            target = tmp_path / "fixtures" / f"{source.parent.name}_{source.name}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    arguments = ["--dry-run", "--unsafe-fixes", "--no-cache", "-j1", "."]

    built = run_cli(arguments, tmp_path)
    apply_fixes = cio_fix.checker.apply_fixes
    monkeypatch.setattr(
        cio_fix.checker,
        "apply_fixes",
        lambda *args, **kwargs: cst.parse_module(apply_fixes(*args, **kwargs).code),
    )
    parsed = run_cli(arguments, tmp_path)

    assert "+++ b/heavy/service/" in built.stdout
    assert built.stdout == parsed.stdout
    assert built.stderr == parsed.stderr


CANCELLED_FIX = """\
import time

from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.post("/signup")
def signup():
    form = request.get_json()
    cio.track(customer_id=form["id"], name="signed_up")
    cio.identify(id=form["id"], plan=1)
    return "ok"


@app.post("/ship")
def ship(user_id):
    cio.track(customer_id=user_id, name="order_shipped", timestamp=time.time() * 1000)
    return "ok"
"""


@pytest.mark.parametrize(
    "identify",
    [
        'cio.identify(id=form["id"], plan=1)',
        'cio.identify(id=form["id"], created_at=int(time.time() * 1000))',
    ],
    ids=["unchanged_identify", "identify_fixed_by_cio103"],
)
def test_engine_marks_later_fixes_on_their_findings(project, identify) -> None:
    # CIO201 moves the identify above the track, which then needs the
    # identify to arrive first: its CIO304 fix is never applied. The ship
    # track gets its CIO304 fix in the second pass, after CIO103's.
    source = CANCELLED_FIX.replace('cio.identify(id=form["id"], plan=1)', identify)
    root = project({"app.py": source, "requirements.txt": "customerio==3.2.0\n"})
    result = run_cli(
        ["--apply", "--select", "CIO103,CIO201,CIO304", "--output-format", "json", "."],
        root,
    )
    blocking = {
        finding["line"]: (finding["fix"], finding["applied"])
        for finding in result.json["findings"]
        if finding["code"] == "CIO304"
    }
    # The identify left is reported at its line in the written file, below
    # the helpers that the CIO304 fixes add; the fixed calls keep theirs.
    assert blocking == {13: ("safe", True), 47: (None, False), 20: ("safe", True)}


def test_engine_dry_run_counts_only_applied_fixes(project) -> None:
    root = project({"app.py": CANCELLED_FIX, "requirements.txt": "customerio==3.2.0\n"})
    result = run_cli(["--dry-run", "--select", "CIO103,CIO201,CIO304", "."], root)
    assert "4 fixable with `cio-fix --apply`" in result.stdout
    identify = next(
        line for line in result.stdout.splitlines() if "14:5: CIO304" in line
    )
    assert "CIO304 `identify`" in identify
    assert identify.endswith(
        "(not fixed: the `track` on line 13 needs it to have arrived, so it belongs"
        " before that call)"
    )


def test_engine_counts_fix_enabled_by_other_fix(project) -> None:
    # CIO301 cannot add keys next to **extra, but once CIO701 has moved
    # **extra into `data`, the next pass merges the keys into that dict.
    # CIO701 moves only a dict whose keys are all event attributes.
    source = (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "def job(uid, sku, plan):\n"
        '    extra = {"plan": plan}\n'
        '    cio.track(customer_id=uid, name="viewed_" + sku, **extra)\n'
    )
    root = project({"app.py": source, "requirements.txt": "customerio==3.2.0\n"})
    dry = run_cli(["--dry-run", "--select", "CIO301,CIO701", "."], root)
    applied = run_cli(
        ["--apply", "--select", "CIO301,CIO701", "--output-format", "json", "."], root
    )
    flags = {f["code"]: (f["fix"], f["applied"]) for f in applied.json["findings"]}
    assert "2 fixable with `cio-fix --apply`" in dry.stdout
    assert flags == {"CIO301": ("safe", True), "CIO701": ("safe", True)}
    assert 'data={**extra, "sku": sku}' in (root / "app.py").read_text()
    # The message drops the reason it first had no fix.
    names = next(line for line in dry.stdout.splitlines() if "CIO301" in line)
    assert names.endswith("send the value as an event attribute")


PARTIAL_PROJECT = {
    "app/__init__.py": "",
    "app/cio.py": (
        "import os\n\nfrom customerio import APIClient, CustomerIO\n\n"
        'cio = CustomerIO(os.environ["CIO_SITE"], os.environ["CIO_KEY"])\n'
        'mailer = APIClient(os.environ["CIO_APP_KEY"])\n'
    ),
    "app/hooks.py": (
        "def customerio_webhook(report):\n"
        '    if report["metric"] == "bounced":\n'
        "        print(report)\n"
    ),
    "app/legacy.py": (
        "from customerio import APIClient, CustomerIO, SendEmailRequest\n\n"
        'cio = CustomerIO("3f9a0c1d2e4b5a6c7d8e", "0a1b2c3d4e5f6a7b8c9d")\n'
        'mailer = APIClient("app-key")\n\n\n'
        "def send(user):\n"
        '    mailer.send_email(SendEmailRequest(to=user.email, identifiers={"id": 1}))\n'
    ),
}


def test_engine_partial_run_sees_whole_project(project) -> None:
    # A pre-commit run over one file checks the whole project, so it finds
    # the bounce handler and the variable names the other files read, and
    # it reports only the named file.
    root = project(PARTIAL_PROJECT)

    partial = run_cli(["--output-format", "json", "app/legacy.py"], root).json
    whole = run_cli(["--output-format", "json", "."], root).json

    keys = [f for f in partial["findings"] if f["code"] == "CIO101"]
    assert {f["code"] for f in partial["findings"]} == {"CIO101"}
    assert all(f["fix"] == "safe" for f in keys)
    assert "CIO_SITE environment variable" in keys[0]["message"]
    assert {f["code"] for f in whole["findings"]} == {"CIO101", "CIO502"}
    assert [f for f in whole["findings"] if f["code"] == "CIO101"] == keys


def test_engine_partial_run_follows_imported_client(project) -> None:
    # The named file never mentions Customer.io: its client comes from a
    # module that is not named.
    root = project(
        {
            "app/__init__.py": "",
            "app/cio.py": 'from customerio import CustomerIO\ncio = CustomerIO("s", "k")\n',
            "app/star.py": (
                "from app.cio import cio\n\n\n"
                "def viewed(uid, page):\n"
                '    cio.track(customer_id=uid, name="viewed_" + page)\n'
            ),
            "app/other.py": (
                "from app.cio import cio\n\n\n"
                "def liked(uid, page):\n"
                '    cio.track(customer_id=uid, name="liked_" + page)\n'
            ),
        }
    )
    (root / ".git").mkdir()

    result = run_cli(
        ["--output-format", "json", "--select", "CIO301", "app/star.py"], root
    )

    assert [f["path"] for f in result.json["findings"]] == ["app/star.py"]


MILLISECONDS_IN_NAME = """\
import time

from customerio import CustomerIO

cio = CustomerIO(SITE_ID, API_KEY)


def sent(uid, batch_name):
    created_at = int(time.time() * 1000)
    cio.track(uid, f"batch_{created_at}", batch=batch_name, source="nightly", shard=0)
"""


@pytest.mark.parametrize("reformatted", [False, True], ids=["plain", "reformatted"])
def test_engine_reports_finding_that_fix_brings_out(
    project, monkeypatch, reformatted
) -> None:
    if reformatted:
        # As black does to a whole black-clean file: the lines move.
        monkeypatch.setattr(
            cio_fix.checker,
            "format_fixed_file",
            lambda settings, original, new: "# formatted\n" * 3 + new,
        )
    files = {"app.py": MILLISECONDS_IN_NAME, "requirements.txt": "customerio==2.1\n"}
    root = project(files)
    result = run_cli(["--apply", "--output-format", "json", "."], root)
    assert result.exit_code == 1
    findings = {finding["code"]: finding for finding in result.json["findings"]}
    assert findings["CIO301"]["applied"] is True
    revealed = findings["CIO103"]
    assert revealed["fix"] is None
    assert revealed["applied"] is False
    assert revealed["message"].endswith(
        "(in code that this run's fixes wrote; the line is that of the fixed"
        " file; run cio-fix again to fix it)"
    )
    lines = (root / "app.py").read_text().splitlines()
    assert "created_at=created_at" in lines[revealed["line"] - 1]

    again = run_cli(["--apply", "--output-format", "json", "."], root)
    assert [finding["code"] for finding in again.json["findings"]] == ["CIO103"]
    assert again.exit_code == 0
    assert run_cli(["--dry-run", "."], root).exit_code == 0


# Safe fixes (CIO101 adds `import os`, CIO103) push the identify, whose
# CIO401 finding has only an unsafe fix, one line down.
SHIFTED_BY_FIXES = """\
import time

from customerio import CustomerIO

SITE_ID = "3f9a0c1d2e4b5a69c7d1"
API_KEY = "0a1b2c3d4e5f6a7b8c9d"
cio = CustomerIO(SITE_ID, API_KEY)


def sync(user):
    cio.identify(id=user.id, created_at=int(time.time() * 1000))
"""


def _positions(document: dict) -> list[tuple[str, int, int, int, int]]:
    """Return the code and position of each finding that a run did not fix."""
    return [
        (f["code"], f["line"], f["column"], f["end_line"], f["end_column"])
        for f in document["findings"]
        if not f["applied"]
    ]


def test_engine_apply_locates_findings_left_in_written_file(project) -> None:
    root = project({"app.py": SHIFTED_BY_FIXES})
    args = ["--output-format", "json", "--no-cache", "."]

    dry_run = run_cli(args, root)
    applied = run_cli(["--apply", *args], root)
    next_run = run_cli(args, root)

    assert ("CIO401", 11, 5, 11, 65) in _positions(dry_run.json)
    assert _positions(applied.json) == [("CIO401", 12, 5, 12, 58)]
    assert _positions(applied.json) == _positions(next_run.json)


def test_engine_apply_after_cached_dry_run_locates_findings(project) -> None:
    # A dry run does not locate findings in the fixed code, so its cached
    # results must not serve the `--apply` that follows it.
    root = project({"app.py": SHIFTED_BY_FIXES})
    args = ["--output-format", "json", "."]

    dry_run = run_cli(args, root)
    applied = run_cli(["--apply", *args], root)

    assert ("CIO401", 11, 5, 11, 65) in _positions(dry_run.json)
    assert _positions(applied.json) == [("CIO401", 12, 5, 12, 58)]


def test_engine_apply_locates_findings_after_black(project, monkeypatch) -> None:
    # A stand-in for black that lays out the whole fixed file again: it adds
    # two lines at the top, which no fix wrote, so every position moves.
    def format_whole_file(settings, original_code, new_code):
        return "# Laid out again.\n\n" + new_code

    monkeypatch.setattr(cio_fix.checker, "format_fixed_file", format_whole_file)
    root = project({"app.py": SHIFTED_BY_FIXES})
    args = ["--output-format", "json", "--no-cache", "."]

    applied = run_cli(["--apply", *args], root)
    next_run = run_cli(args, root)

    assert (root / "app.py").read_text().startswith("# Laid out again.")
    assert _positions(applied.json) == [("CIO401", 14, 5, 14, 58)]
    assert _positions(applied.json) == _positions(next_run.json)


def test_engine_apply_locates_project_findings_in_written_file(project) -> None:
    # CIO402 compares the attributes of every identify in the project, after
    # the checks of the files: its finding is mapped into the written file.
    source = SHIFTED_BY_FIXES.replace(
        "created_at=int(time.time() * 1000))",
        "created_at=int(time.time() * 1000), plan=1)\n"
        "    cio.identify(id=user.id, plan='pro')",
    )
    root = project({"app.py": source})
    args = ["--output-format", "json", "--no-cache", "--select", "CIO1,CIO402", "."]

    dry_run = run_cli(args, root)
    applied = run_cli(["--apply", *args], root)
    next_run = run_cli(args, root)

    [before] = [f for f in _positions(dry_run.json) if f[0] == "CIO402"]
    [after] = _positions(applied.json)
    assert after[0] == "CIO402"
    # The fixes add `import os` above it, so it moves one line down.
    assert after[1:] == (before[1] + 1, before[2], before[3] + 1, before[4])
    assert _positions(applied.json) == _positions(next_run.json)


def test_engine_unwritten_file_keeps_original_positions(project, monkeypatch) -> None:
    root = project({"app.py": SHIFTED_BY_FIXES})
    original_write = cio_fix.engine._write

    def edit_then_write(result, *args):
        (root / "app.py").write_text(SHIFTED_BY_FIXES + "# edited meanwhile\n")
        original_write(result, *args)

    monkeypatch.setattr(cio_fix.engine, "_write", edit_then_write)

    result = run_cli(["--apply", "--output-format", "json", "--no-cache", "."], root)

    assert "changed on disk during the run" in result.json["errors"][0]["message"]
    assert ("CIO401", 11, 5, 11, 65) in _positions(result.json)


def test_engine_apply_counts_finding_its_fix_removed(project) -> None:
    # CIO303 reports both names. The unsafe fix renames `OrderShipped`, and
    # with it the variant that the finding on line 13 is about.
    source = (
        "import os\n\n"
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO(os.environ["SITE_ID"], os.environ["API_KEY"])\n\n\n'
        "def ship(user):\n"
        '    cio.track(customer_id=user.id, name="OrderShipped")\n\n\n'
        "def ship_again(user):\n"
        '    cio.track(customer_id=user.id, name="order_shipped")\n'
    )
    root = project({"app.py": source})
    args = ["--unsafe-fixes", "--no-diff", "--no-cache", "."]

    first = run_cli(["--apply", *args], root)
    second = run_cli(args, root)

    assert first.stdout.splitlines()[-1] == (
        "Found 2 findings (2 fixed, 0 remaining). 1 file changed."
    )
    assert "CIO303" not in first.stdout
    assert first.exit_code == second.exit_code == 0
    assert second.stdout.startswith("No Customer.io pitfalls found")


def test_engine_apply_remaining_matches_next_run(tmp_path) -> None:
    # The demo shop, fixed twice: the findings left by each `--apply` are
    # the ones the next run reports, at the same places.
    shutil.copytree(Path(__file__).parents[1] / "examples", tmp_path / "shop")
    root = tmp_path / "shop"
    args = ["--output-format", "json", "--no-cache", "."]

    for options in ([], ["--unsafe-fixes"]):
        applied = run_cli(["--apply", *options, *args], root)
        next_run = run_cli([*options, *args], root)

        left = _positions(applied.json)
        found = _positions(next_run.json)
        assert len(left) == len(found)
        assert applied.exit_code == next_run.exit_code
        # NOTE: CIO203 is mapped into the written file by a text diff, so
        # its start column can differ where a fix rewrote its statement.
        assert [f for f in left if f[0] != "CIO203"] == [
            f for f in found if f[0] != "CIO203"
        ]


def test_engine_apply_follows_moved_statement(project) -> None:
    # The CIO201 fix moves the identify that CIO402 reports above the track
    # call. The line diff shows the identify as deleted at the end of the file.
    source = (
        "import os\n\n"
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO(os.environ["SITE_ID"], os.environ["API_KEY"])\n\n\n'
        "def upgrade(user):\n"
        '    cio.identify(id=user.id, email=user.email, plan="pro")\n\n\n'
        "def signup(user):\n"
        '    cio.track(customer_id=user.id, name="signed_up")\n'
        '    log = "signed up"\n'
        "    size = 9\n"
        "    cio.identify(id=user.id, email=user.email, plan=3)\n"
    )
    root = project({"app.py": source})
    args = ["--output-format", "json", "--no-cache", "."]

    applied = run_cli(["--apply", *args], root)
    next_run = run_cli(args, root)

    assert _positions(applied.json) == [("CIO402", 13, 53, 13, 54)]
    assert _positions(applied.json) == _positions(next_run.json)


def test_engine_apply_counts_finding_other_fix_removed(project) -> None:
    # Both clients get the same key. The safe CIO101 fix reads each key
    # from its own variable, which ends the CIO102 finding, whose own fix
    # is unsafe and not applied.
    source = (
        "from customerio import APIClient, CustomerIO\n\n"
        'cio = CustomerIO("3f9a8c7e6d5b4a39", "ab12cd34ef56ab78cd90")\n'
        'mailer = APIClient("ab12cd34ef56ab78cd90")\n'
    )
    root = project({"app.py": source})
    args = ["--no-diff", "--no-cache", "."]

    dry_run = run_cli(args, root)
    first = run_cli(["--apply", *args], root)
    second = run_cli(args, root)

    assert "CIO102" in dry_run.stdout
    assert "CIO102" not in first.stdout
    assert first.stdout.splitlines()[-1] == (
        "Found 4 findings (4 fixed, 0 remaining). 1 file changed."
    )
    assert first.exit_code == second.exit_code == 0
    assert second.stdout.startswith("No Customer.io pitfalls found")


def test_engine_apply_messages_cite_written_lines(project) -> None:
    # The CIO101 fix adds `import os` and the CIO603 message names the line
    # of the loop, which moves down with it.
    source = (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("3f9a8c7e6d5b4a39", "ab12cd34ef56ab78cd90")\n\n\n'
        "def sync(users):\n"
        "    for user in users:\n"
        '        cio.track(customer_id=user.id, name="synced")\n'
    )
    root = project({"app.py": source})
    args = ["--output-format", "json", "--no-cache", "."]

    dry_run = run_cli(args, root)
    applied = run_cli(["--apply", *args], root)
    next_run = run_cli(args, root)

    def messages(document: dict) -> list[str]:
        return [f["message"] for f in document["findings"] if f["code"] == "CIO603"]

    [before] = messages(dry_run.json)
    [after] = messages(applied.json)
    assert "the loop at line 7 " in before
    assert "the loop at line 11 " in after
    assert messages(applied.json) == messages(next_run.json)


# `Notifier.__init__` builds a client per loop item: CIO601 hoists it into a
# cached factory, and then no longer reports the class where a loop
# instantiates it.
NOTIFIER = """\
import os

from customerio import CustomerIO


class Notifier:
    def __init__(self, users):
        for user in users:
            client = CustomerIO(os.environ["CIO_SITE"], os.environ["CIO_KEY"])
            client.identify(id=user)
"""
NOTIFY_ALL = """\
from notifier import Notifier


def notify_all(groups):
    for users in groups:
        Notifier(users)
"""
CLASS_FINDING = "`Notifier` builds a Customer.io client in `__init__`"


def test_engine_apply_counts_class_finding_fix_removed(project) -> None:
    root = project({"notify.py": NOTIFIER + "\n\n" + NOTIFY_ALL.split("\n", 2)[2]})
    args = ["--select", "CIO601", "--no-diff", "--no-cache", "."]

    dry_run = run_cli(args, root)
    first = run_cli(["--apply", *args], root)
    second = run_cli(args, root)

    assert CLASS_FINDING in dry_run.stdout
    assert CLASS_FINDING not in first.stdout
    assert first.stdout.splitlines()[-1] == (
        "Found 2 findings (2 fixed, 0 remaining). 1 file changed."
    )
    assert first.exit_code == second.exit_code == 0
    assert second.stdout.startswith("No Customer.io pitfalls found")


def test_engine_apply_class_finding_fixed_message(project) -> None:
    root = project({"notifier.py": NOTIFIER, "jobs.py": NOTIFY_ALL})
    args = ["--select", "CIO601", "--output-format", "json", "--no-cache", "."]

    document = run_cli(["--apply", *args], root).json

    [finding] = [f for f in document["findings"] if f["path"] == "jobs.py"]
    assert finding["applied"] is True
    assert finding["fix"] == "safe"
    assert finding["message"].startswith(CLASS_FINDING)
    assert "not fixed" not in finding["message"]


def test_engine_apply_class_finding_other_file_removed(project) -> None:
    # The fix is in notifier.py, and the class finding in jobs.py.
    root = project({"notifier.py": NOTIFIER, "jobs.py": NOTIFY_ALL})
    args = ["--select", "CIO601", "--no-diff", "--no-cache", "."]

    first = run_cli(["--apply", *args], root)
    second = run_cli(args, root)

    assert first.stdout.splitlines()[-1] == (
        "Found 2 findings (2 fixed, 0 remaining). 1 file changed."
    )
    assert first.exit_code == second.exit_code == 0


def test_engine_apply_named_file_keeps_class_finding(project) -> None:
    # A run over jobs.py alone does not write the fix of notifier.py.
    root = project({"notifier.py": NOTIFIER, "jobs.py": NOTIFY_ALL})

    first = run_cli(
        ["--apply", "--select", "CIO601", "--no-diff", "--no-cache", "jobs.py"], root
    )

    assert first.stdout.startswith("jobs.py:6:9: CIO601 " + CLASS_FINDING)
    assert first.stdout.splitlines()[-1] == (
        "Found 1 finding (0 fixed, 1 remaining). 0 files changed."
    )
    assert first.exit_code == 1
    assert (root / "notifier.py").read_text() == NOTIFIER


def test_engine_unwritten_fix_keeps_class_finding(project, monkeypatch) -> None:
    root = project({"notifier.py": NOTIFIER, "jobs.py": NOTIFY_ALL})
    original_write = cio_fix.engine._write

    def edit_then_write(result, *args):
        (root / "notifier.py").write_text(NOTIFIER + "# edited meanwhile\n")
        original_write(result, *args)

    monkeypatch.setattr(cio_fix.engine, "_write", edit_then_write)

    result = run_cli(
        ["--apply", "--select", "CIO601", "--no-diff", "--no-cache", "."], root
    )

    assert "changed on disk during the run" in result.stderr
    assert result.stdout.startswith("jobs.py:6:9: CIO601 " + CLASS_FINDING)
    assert "(not fixed: an instance may keep state" in result.stdout
    assert "Found 2 findings (0 fixed, 2 remaining" in result.stdout


def test_engine_dry_run_does_not_recheck_project(project, monkeypatch) -> None:
    # Only `--apply` parses the fixed files again for the project-level rules.
    calls: list[int] = []
    original = cio_fix.checker.Checker._recheck_project

    def recording(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(cio_fix.checker.Checker, "_recheck_project", recording)
    root = project({"notifier.py": NOTIFIER, "jobs.py": NOTIFY_ALL})
    args = ["--select", "CIO601", "--no-diff", "--no-cache", "."]

    run_cli(args, root)
    dry_run_calls = len(calls)
    run_cli(["--apply", *args], root)

    assert dry_run_calls == 0
    assert len(calls) == 1


# The CIO301 fixes of events.py and views.py both send the event `viewed`,
# with the attribute `value` a number in events.py and a string in views.py.
# So only the fixed code gives CIO402, on views.py.
VIEWED_EVENT = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key")


def viewed(uid, sku, page):
    cio.track(customer_id=uid, data={"value": int(sku)}, name=f"viewed_{page}")
"""
VIEWED_AS_STRING = """\
from events import cio


def viewed_again(uid, sku, page):
    cio.track(customer_id=uid, name="viewed_" + page, data={"value": str(sku)})
"""
# The number is on line 8 of the fixed events.py, where black wraps the call.
REVEALED_CLASH = (
    "views.py:5:62: CIO402 the attribute `value` of the event 'viewed' is sent"
    " as a string here but as a number at events.py:8"
)
REVEALED_NOTE = (
    "(in code that this run's fixes wrote; the line is that of the fixed file)"
)
CLASH_ARGS = ["--select", "CIO301,CIO402", "--no-diff", "--no-cache"]
# The CIO301 fix needs an SDK version that takes `data`.
SDK = {"requirements.txt": "customerio==3.1\n"}


def test_engine_apply_reports_project_finding_fix_revealed(project) -> None:
    root = project({**SDK, "events.py": VIEWED_EVENT, "views.py": VIEWED_AS_STRING})

    dry_run = run_cli([*CLASH_ARGS, "."], root)
    first = run_cli(["--apply", *CLASH_ARGS, "."], root)
    second = run_cli([*CLASH_ARGS, "."], root)

    # A dry run does not check the fixed code again.
    assert "CIO402" not in dry_run.stdout
    assert first.stdout.startswith(REVEALED_CLASH)
    assert first.stdout.splitlines()[0].endswith(REVEALED_NOTE)
    assert first.stdout.splitlines()[-1] == (
        "Found 3 findings (2 fixed, 1 remaining). 2 files changed."
    )
    assert second.stdout.startswith(REVEALED_CLASH)
    assert first.exit_code == second.exit_code == 1


def test_engine_apply_project_finding_in_fixed_file(project) -> None:
    # views.py sorts after a.py, so the clash is reported on the number that
    # the fix wrote, on a line that black's wrap of the call moved.
    root = project(
        {
            **SDK,
            "a.py": VIEWED_AS_STRING.replace("events", "views"),
            "views.py": VIEWED_EVENT.replace(
                "uid, sku", "customer_identifier, product_sku"
            )
            .replace("=uid", "=customer_identifier")
            .replace("int(sku)", "int(product_sku)"),
        }
    )
    args = [*CLASH_ARGS, "--output-format", "json", "."]

    first = run_cli(["--apply", *args], root).json
    second = run_cli(args, root).json

    [revealed] = [f for f in first["findings"] if f["code"] == "CIO402"]
    [next_run] = second["findings"]
    assert revealed["message"] == f"{next_run['message']} {REVEALED_NOTE}"
    assert (revealed["path"], revealed["line"], revealed["column"]) == (
        next_run["path"],
        next_run["line"],
        next_run["column"],
    )
    # The call is on line 7 before the fix.
    assert revealed["line"] == 9
    assert (revealed["fix"], revealed["applied"]) == (None, False)


def test_engine_apply_noqa_in_fixed_file_silences_revealed(project) -> None:
    # black moves the comment to the line that closes the wrapped call, so
    # it silences the clash in the fixed file, not in the original one.
    fixed_file = (
        VIEWED_EVENT.replace("uid, sku", "customer_identifier, product_sku")
        .replace("=uid", "=customer_identifier")
        .replace("int(sku)", "int(product_sku)")
        .replace('}")\n', '}")  # noqa: CIO402\n')
    )
    root = project(
        {
            **SDK,
            "a.py": VIEWED_AS_STRING.replace("events", "views"),
            "views.py": fixed_file,
        }
    )

    first = run_cli(["--apply", *CLASH_ARGS, "."], root)
    second = run_cli([*CLASH_ARGS, "."], root)

    assert ")  # noqa: CIO402" in (root / "views.py").read_text()
    assert first.stdout.splitlines()[-1] == (
        "Found 2 findings (2 fixed, 0 remaining). 2 files changed."
    )
    assert first.exit_code == second.exit_code == 0


def test_engine_apply_named_file_reveals_nothing(project) -> None:
    # A run over views.py alone does not write the fix of events.py.
    root = project({**SDK, "events.py": VIEWED_EVENT, "views.py": VIEWED_AS_STRING})

    first = run_cli(["--apply", *CLASH_ARGS, "views.py"], root)

    assert "CIO402" not in first.stdout
    assert first.exit_code == 0
    assert (root / "events.py").read_text() == VIEWED_EVENT


def test_engine_unwritten_fix_reveals_nothing(project, monkeypatch) -> None:
    root = project({**SDK, "events.py": VIEWED_EVENT, "views.py": VIEWED_AS_STRING})
    original_write = cio_fix.engine._write

    def edit_then_write(result, *args):
        (root / "events.py").write_text(VIEWED_EVENT + "# edited meanwhile\n")
        original_write(result, *args)

    monkeypatch.setattr(cio_fix.engine, "_write", edit_then_write)

    result = run_cli(["--apply", *CLASH_ARGS, "."], root)

    assert "changed on disk during the run" in result.stderr
    assert "CIO402" not in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "Found 2 findings (1 fixed, 1 remaining). 1 file changed."
    )


def _remaining(output: dict) -> list[tuple[str, str, int, str]]:
    """Return (code, path, line, message) of each finding that a JSON report leaves."""
    return [
        (finding["code"], finding["path"], finding["line"], finding["message"])
        for finding in output["findings"]
        if not finding["applied"]
    ]


def _finding_lines(stdout: str) -> list[str]:
    """Return the lines of a text report without its summary line."""
    return stdout.splitlines()[:-1]


def _assert_next_run_alike(root: Path, args: list[str]) -> None:
    """Run `--apply` in text and JSON, then check both against the next run."""
    copy = root.parent / f"{root.name}-json"
    shutil.copytree(root, copy)

    first_text = run_cli(["--apply", *args], root)
    second_text = run_cli(args, root)
    first_json = run_cli(["--apply", "--output-format", "json", *args], copy)
    second_json = run_cli(["--output-format", "json", *args], copy)

    assert _finding_lines(first_text.stdout) == _finding_lines(second_text.stdout)
    assert first_text.exit_code == second_text.exit_code
    assert _remaining(first_json.json) == _remaining(second_json.json)
    assert first_json.exit_code == second_json.exit_code


EVENT_SENDER = """\
from tracking import cio


def ship(order):
    cio.track(customer_id=order.user_id, name="{name}")
"""
TRACKING = (
    "import os\n\n"
    "from customerio import CustomerIO\n\n"
    'cio = CustomerIO(os.environ["SITE_ID"], os.environ["API_KEY"])\n'
)


def test_engine_apply_ends_finding_other_file_removed(project) -> None:
    # The rename in a.py ends the CIO303 finding in b.py, which names a.py.
    root = project(
        {
            "tracking.py": TRACKING,
            "a.py": EVENT_SENDER.format(name="OrderShipped"),
            "b.py": EVENT_SENDER.format(name="order_shipped"),
        }
    )
    args = ["--unsafe-fixes", "--no-diff", "--no-cache", "."]

    first = run_cli(["--apply", *args], root)

    assert first.stdout.splitlines() == [
        "Found 2 findings (2 fixed, 0 remaining). 1 file changed."
    ]
    assert first.exit_code == 0


def test_engine_apply_other_file_removed_like_next_run(project) -> None:
    root = project(
        {
            "tracking.py": TRACKING,
            "a.py": EVENT_SENDER.format(name="OrderShipped"),
            "b.py": EVENT_SENDER.format(name="order_shipped"),
            "c.py": EVENT_SENDER.format(name="order-shipped"),
        }
    )

    _assert_next_run_alike(root, ["--unsafe-fixes", "--no-diff", "--no-cache", "."])


# views.py sends `plan` with two types, and its CIO101 fix moves the lines
# down. The rename in tracking.py, through the client of views.py, brings
# out a `total` clash, whose group comes before `plan`'s.
PLAN_CLASH = """\
from customerio import CustomerIO

cio = CustomerIO("abcdef1234567890abcd", "0123456789abcdef0123")


def signup(user_id):
    cio.identify(id=user_id, plan="pro")


def upgrade(user_id):
    cio.identify(id=user_id, plan=1)


def ship(user_id, total):
    cio.track(customer_id=user_id, name="order_shipped", data={"total": str(total)})
"""
TOTAL_AS_NUMBER = """\
from views import cio


def ship(user_id, total):
    cio.track(customer_id=user_id, name="OrderShipped", data={"total": int(total)})
"""


def test_engine_apply_pairs_finding_with_its_own_attribute(project) -> None:
    root = project({"views.py": PLAN_CLASH, "tracking.py": TOTAL_AS_NUMBER})

    first = run_cli(["--apply", "--unsafe-fixes", "--no-diff", "--no-cache", "."], root)

    plan = [line for line in first.stdout.splitlines() if "`plan`" in line]
    assert len(plan) == 1
    assert plan[0].startswith("views.py:15:")
    assert "as a string at views.py:11;" in plan[0]
    assert plan[0].endswith("the other")
    assert "`total` of the event 'order_shipped'" in first.stdout


def test_engine_unwritten_fix_keeps_other_file_finding(project, monkeypatch) -> None:
    root = project(
        {
            "tracking.py": TRACKING,
            "a.py": EVENT_SENDER.format(name="OrderShipped"),
            "b.py": EVENT_SENDER.format(name="order_shipped"),
        }
    )

    def failing_write(path, data, root, original=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cio_fix.engine, "write_atomic", failing_write)
    first = run_cli(["--apply", "--unsafe-fixes", "--no-diff", "--no-cache", "."], root)

    assert "b.py:5:47: CIO303 " in first.stdout
    assert "(a.py:5)" in first.stdout
    assert first.stdout.splitlines()[-1].startswith(
        "Found 2 findings (0 fixed, 2 remaining). 0 files changed."
    )


# A Track client below a call whose CIO701 fix black wraps over four more
# lines, and an App API client in another file that shares its key.
SETTINGS = """\
import os

SITE_ID = os.environ["SITE_ID"]
API_KEY = os.environ["API_KEY"]
"""
TRACK_BELOW_FIX = """\
import os

from customerio import APIClient, CustomerIO

from settings import API_KEY, SITE_ID


def ship(order):
    cio.track(customer_id=order["user_id"], name="order_shipped", total=order["total"])


cio = CustomerIO(SITE_ID, API_KEY)


def receipt(request):
    APIClient(os.environ["APP_API_KEY"]).send_email(request)
"""
APP_SHARING_KEY = """\
from customerio import APIClient

from settings import API_KEY


def send(request):
    APIClient(API_KEY).send_email(request)
"""
SHARED_KEY_FILES = {
    **SDK,
    "settings.py": SETTINGS,
    "track.py": TRACK_BELOW_FIX,
    "app.py": APP_SHARING_KEY,
}


def test_engine_apply_quotes_lines_of_fixed_file(project) -> None:
    root = project(SHARED_KEY_FILES)

    first = run_cli(["--apply", "--no-diff", "--no-cache", "."], root)

    # CIO501 compares several files; CIO102 looks the Track client up.
    assert "other places that send email: track.py:20" in first.stdout
    assert "the Track client at track.py:16 uses" in first.stdout


def test_engine_apply_quotes_like_next_run(project) -> None:
    root = project(SHARED_KEY_FILES)

    _assert_next_run_alike(root, ["--no-diff", "--no-cache", "."])


def test_engine_unwritten_fix_quotes_original_lines(project, monkeypatch) -> None:
    root = project(SHARED_KEY_FILES)

    def failing_write(path, data, root, original=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cio_fix.engine, "write_atomic", failing_write)
    first = run_cli(["--apply", "--no-diff", "--no-cache", "."], root)

    assert "other places that send email: track.py:16" in first.stdout
    assert "the Track client at track.py:12 uses" in first.stdout


def test_engine_tracked_only_link_not_written(project, monkeypatch) -> None:
    # Discovery leaves links out of --pr runs. The write step checks again,
    # so a mistake in discovery cannot change the user's ignored file.
    root = project({".gitignore": "local.py\n", "local.py": BODY})
    (root / "link.py").symlink_to("local.py")
    for command in (["init", "-q"], ["add", "--all"]):
        subprocess.run(["git", *command], cwd=root, check=True, capture_output=True)
    monkeypatch.setattr(
        cio_fix.discovery, "tracked_regular_files", lambda files: set(files)
    )
    config = load_config(root).with_overrides(tracked_only=True, cache=False)

    result = cio_fix.engine.run([root / "link.py"], config, apply=True)

    assert (root / "local.py").read_text(encoding="utf-8") == BODY
    messages = [error.message for error in result.all_errors]
    assert any(
        message.startswith("not written: git does not track it as a regular file")
        for message in messages
    ), messages
    assert result.findings != []
    assert not any(finding.applied for finding in result.findings)


# An in-house service client that happens to be called CustomerIO.
IN_HOUSE_CLIENT = """\
class CustomerIO:
    def __init__(self, site_id, api_key):
        self.site_id = site_id

    def track(self, customer_id, name, **data):
        return (customer_id, name, data)
"""
IN_HOUSE_VIEWS = """\
import time

from customerio import CustomerIO


def hook(request):
    info = CustomerIO("a1b2c3d4e5", "0a1b2c3d4e5f6a7b")
    return info.track(request, "invoice_sent", sent_at=int(time.time() * 1000))
"""


@pytest.mark.parametrize(
    ("module", "views"),
    [
        ("customerio.py", "shop/views.py"),
        ("customerio/__init__.py", "shop/views.py"),
        ("src/customerio.py", "src/shop/views.py"),
        ("src/customerio/__init__.py", "shop/views.py"),
    ],
)
def test_engine_project_customerio_module_not_sdk(project, module, views) -> None:
    root = project({module: IN_HOUSE_CLIENT, views: IN_HOUSE_VIEWS})

    checked = run_cli(["--apply", "--output-format", "json", "."], root)

    assert checked.json["findings"] == []
    assert (root / views).read_text(encoding="utf-8") == IN_HOUSE_VIEWS


@pytest.mark.parametrize(
    "files",
    [
        # Not at an import root: `import customerio` still finds the SDK.
        {"vendor/customerio/__init__.py": IN_HOUSE_CLIENT},
        {"shop/customerio.py": IN_HOUSE_CLIENT},
        # A folder without `__init__.py` is a namespace package, which an
        # installed package comes before.
        {"customerio/helpers.py": "HELP = 1\n"},
        # A copy of the SDK, with its `track.py`.
        {
            "customerio/__init__.py": "from customerio.track import CustomerIO\n",
            "customerio/track.py": IN_HOUSE_CLIENT,
        },
    ],
)
def test_engine_sdk_not_hidden_by_other_modules(project, files) -> None:
    root = project({**files, "shop/views.py": IN_HOUSE_VIEWS})

    checked = run_cli(["--output-format", "json", "."], root)

    codes = {
        finding["code"]
        for finding in checked.json["findings"]
        if finding["path"] == "shop/views.py"
    }
    assert {"CIO101", "CIO103", "CIO601"} <= codes


def test_engine_project_customerio_module_added_after_cached_run(project) -> None:
    # The module is excluded, so only the cache key can tell that it appeared.
    root = project(
        {
            "shop/views.py": IN_HOUSE_VIEWS,
            "pyproject.toml": '[tool.cio-fix]\nextend-exclude = ["customerio.py"]\n',
        }
    )
    first = run_cli(["--output-format", "json", "."], root)
    (root / "customerio.py").write_text(IN_HOUSE_CLIENT, encoding="utf-8")

    second = run_cli(["--output-format", "json", "."], root)

    assert first.json["findings"] != []
    assert second.json["findings"] == []


# A service of a monorepo that sends a millisecond timestamp with the SDK.
SERVICE_MAIN = """\
import time

from customerio import CustomerIO

cio = CustomerIO("site", "key")


def signed_up(user):
    cio.identify(id=user, email="x@y.example", created_at=int(time.time() * 1000))
"""
SERVICE_PYPROJECT = '[project]\nname = "service"\nversion = "0"\n'
PACKAGING = {
    "pyproject.toml": SERVICE_PYPROJECT,
    "setup.py": "from setuptools import setup\n\nsetup(name='service')\n",
    "setup.cfg": "[metadata]\nname = service\n",
}


def monorepo(project, files: dict[str, str], packaging: str = "pyproject.toml"):
    """Write a git repository with services alpha and beta, each its own distribution."""
    root = project(
        {
            "pyproject.toml": '[project]\nname = "mono"\nversion = "0"\n',
            f"services/alpha/{packaging}": PACKAGING[packaging],
            f"services/beta/{packaging}": PACKAGING[packaging],
            "services/alpha/main.py": SERVICE_MAIN,
            "services/beta/main.py": SERVICE_MAIN,
            **files,
        }
    )
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def finding_paths(checked) -> set[str]:
    return {finding["path"] for finding in checked.json["findings"]}


@pytest.mark.parametrize("packaging", sorted(PACKAGING))
def test_engine_top_customerio_module_not_in_services(project, packaging) -> None:
    root = monorepo(project, {"customerio.py": IN_HOUSE_CLIENT}, packaging)

    checked = run_cli(["--output-format", "json", "."], root)

    assert finding_paths(checked) == {
        "services/alpha/main.py",
        "services/beta/main.py",
    }


def test_engine_top_customerio_module_run_in_service(project) -> None:
    root = monorepo(project, {"customerio.py": IN_HOUSE_CLIENT})

    checked = run_cli(["--output-format", "json", "."], root / "services/alpha")

    assert finding_paths(checked) == {"main.py"}


def test_engine_top_customerio_module_hides_sdk_outside_services(project) -> None:
    # `tools/` has no packaging metadata, so it runs from the repository top.
    root = monorepo(
        project, {"customerio.py": IN_HOUSE_CLIENT, "tools/report.py": IN_HOUSE_VIEWS}
    )

    checked = run_cli(["--output-format", "json", "."], root)

    assert "tools/report.py" not in finding_paths(checked)
    assert "services/alpha/main.py" in finding_paths(checked)


def test_engine_manage_py_module_hides_sdk(project) -> None:
    # `python manage.py` puts the Django project's folder first on sys.path.
    root = monorepo(
        project,
        {
            "tools/site/manage.py": "",
            "tools/site/customerio.py": IN_HOUSE_CLIENT,
            "tools/site/shop/views.py": IN_HOUSE_VIEWS,
            "tools/report.py": IN_HOUSE_VIEWS,
        },
    )

    checked = run_cli(["--output-format", "json", "."], root)

    assert "tools/site/shop/views.py" not in finding_paths(checked)
    assert "tools/report.py" in finding_paths(checked)


@pytest.mark.parametrize(
    "module",
    [
        "services/beta/customerio.py",
        "services/beta/customerio/__init__.py",
        "services/beta/src/customerio.py",
    ],
)
def test_engine_service_customerio_module_hides_own_sdk(project, module) -> None:
    root = monorepo(project, {module: IN_HOUSE_CLIENT})

    checked = run_cli(["--output-format", "json", "."], root)

    assert finding_paths(checked) == {"services/alpha/main.py"}


def test_engine_service_customerio_module_added_after_cached_run(project) -> None:
    # The module is excluded, so only the cache key can tell that it appeared.
    root = monorepo(
        project,
        {
            "pyproject.toml": (
                '[tool.cio-fix]\nextend-exclude = ["services/beta/customerio.py"]\n'
            )
        },
    )
    first = run_cli(["--output-format", "json", "."], root)
    (root / "services/beta/customerio.py").write_text(IN_HOUSE_CLIENT, encoding="utf-8")

    second = run_cli(["--output-format", "json", "."], root)

    assert "services/beta/main.py" in finding_paths(first)
    assert finding_paths(second) == {"services/alpha/main.py"}


ASCII_HANDLER = """\
# -*- coding: ascii -*-
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.post("/t")
def visited():
    cio.track(customer_id=1, name="caf\\xe9_%s" % request.args["x"])
    cio.track(customer_id=1, name="signed_up")
    return "ok"
"""


def test_engine_unencodable_fix_dropped_alone(project, monkeypatch) -> None:
    # Spelling the name without its escapes gives a fix with "é", which the
    # declared ASCII cannot contain, so only that fix is dropped.
    monkeypatch.setattr(cio_fix.events.NameSpelling, "spell", lambda self, text: text)
    root = project(
        {"app.py": ASCII_HANDLER, "requirements.txt": "customerio>=3\nflask\n"}
    )

    applied = run_cli(["--apply", "-j1", "--output-format", "json", "."], root)

    fixed = (root / "app.py").read_text(encoding="ascii")
    findings = {finding["code"]: finding for finding in applied.json["findings"]}
    assert applied.json["errors"] == []
    assert 'name="caf\\xe9_%s" % request.args["x"]' in fixed
    assert (
        '_customerio_in_background(cio.track, customer_id=1, name="signed_up")' in fixed
    )
    assert findings["CIO301"]["fix"] is None
    assert "file's encoding ascii cannot contain" in findings["CIO301"]["message"]

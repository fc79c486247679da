"""The code that CIO601, CIO602 and CIO304 generate: names, layout, and fixes applied together."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import black
import libcst as cst
import pytest

from cio_fix.codemods.background import (
    NESTED_REASON,
    _code_without_comma,
    _contains_hash,
    laid_out_call,
)
from cio_fix.codemods.clients import (
    CallLayout,
    call_layout,
    format_call,
    unused_name,
)
from cio_fix.codemods.instances import instantiated_name
from cio_fix.codemods.patches import patched_classes
from cio_fix.config import Config
from cio_fix.customerio import build_index
from cio_fix.metadata import code_of
from cio_fix.namespaces import globals_writes, own_module_writes
from cio_fix.project import ProjectIndex
from cio_fix.rules import FileContext, all_rules
from cio_fix.walk import find_all
from cio_fix.writer import Source

from conftest import FIXTURES, run_cli

BLACK = black.Mode(line_length=88)


def _is_black(text: str) -> bool:
    return black.format_str(text, mode=BLACK) == text


def _expected_files() -> list[pytest.param]:
    cases = []
    for code in ("CIO304", "CIO601", "CIO602"):
        for expected in sorted((FIXTURES / code).rglob("*.expected.py")):
            source = expected.with_name(expected.name.replace(".expected.py", ".py"))
            # The output of a `ruff_format_*` case follows `ruff format`,
            # which lays out lines with directive comments unlike black, and
            # test_fixture_stays_ruff_formatted checks it with ruff.
            if source.name.startswith("ruff_format_"):
                continue
            # Only a black-formatted input can be expected to give black output.
            if not _is_black(source.read_text(encoding="utf-8")):
                continue
            name = expected.relative_to(FIXTURES).as_posix()
            cases.append(pytest.param(expected, id=name))
    return cases


@pytest.mark.parametrize("expected", _expected_files())
def test_clients_fixed_code_is_black_formatted(expected: Path) -> None:
    assert _is_black(expected.read_text(encoding="utf-8"))


def test_clients_unused_name_free() -> None:
    assert unused_name("_customerio_client", {"cio"}) == "_customerio_client"


def test_clients_unused_name_taken() -> None:
    taken = {"_customerio_client", "_customerio_client_2"}
    assert unused_name("_customerio_client", taken) == "_customerio_client_3"


def test_clients_format_call_one_line() -> None:
    assert format_call("cio = ", "CustomerIO", ["a", "b"]) == "cio = CustomerIO(a, b)"


def test_clients_format_call_arguments_on_one_line() -> None:
    arguments = [
        "settings.CUSTOMERIO_SITE_ID",
        "settings.CUSTOMERIO_TRACK_API_KEY",
        "region=EU",
    ]
    expected = (
        "    return CustomerIO(\n"
        "        settings.CUSTOMERIO_SITE_ID, settings.CUSTOMERIO_TRACK_API_KEY, region=EU\n"
        "    )"
    )
    assert format_call("return ", "CustomerIO", arguments, "    ") == expected


def test_clients_format_call_one_argument_per_line() -> None:
    arguments = [
        f"argument_number_{number}=value_number_{number}" for number in range(4)
    ]
    text = format_call("", "CustomerIO", arguments)
    assert text.splitlines()[1:] == [f"    {argument}," for argument in arguments] + [
        ")"
    ]


LAID_OUT_CALLS = {
    "one_line": ("cio.track(customer_id=1)", 0, CallLayout.ONE_LINE),
    "no_arguments": ("cio.flush()", 0, CallLayout.ONE_LINE),
    "arguments_on_one_line": (
        'cio.track(customer_id=order.user_id, name="x")',
        36,
        CallLayout.ARGUMENTS_ON_ONE_LINE,
    ),
    "one_argument_per_line": (
        'cio.track(customer_id=order.user_id, name="order_placed", data=payload)',
        20,
        CallLayout.ONE_ARGUMENT_PER_LINE,
    ),
    "starred_and_parenthesised": (
        "cio.identify(*args, id=(user.id), **extra)",
        40,
        CallLayout.ARGUMENTS_ON_ONE_LINE,
    ),
    "hash_inside_a_string": (
        'cio.track(customer_id=1, name="#tag")',
        0,
        CallLayout.ONE_LINE,
    ),
}


@pytest.mark.parametrize(
    ("code", "column", "expected_layout"),
    LAID_OUT_CALLS.values(),
    ids=list(LAID_OUT_CALLS),
)
def test_clients_laid_out_call_matches_parse(
    code: str, column: int, expected_layout: CallLayout
) -> None:
    call = cst.ensure_type(cst.parse_expression(code), cst.Call)
    method = cst.Arg(value=call.func)
    arguments = [
        argument.with_changes(
            comma=cst.MaybeSentinel.DEFAULT,
            whitespace_after_arg=cst.SimpleWhitespace(""),
        )
        for argument in [method, *call.args]
    ]
    texts = [code_of(argument) for argument in arguments]
    layout = call_layout("", "helper", texts, column=column)
    assert layout is expected_layout

    built = laid_out_call(cst.Name("helper"), arguments, layout)
    parsed = cst.parse_expression(format_call("", "helper", texts, column=column))

    assert built.deep_equals(parsed), code_of(built)


HASH_CALLS = {
    "plain": 'cio.track(customer_id=1, name="x")',
    "hash_in_a_string": 'cio.track(customer_id=1, name="#tag")',
    "comment_after_open_paren": "cio.track(  # why\n    customer_id=1, name=x\n)",
    "comment_after_a_comma": "cio.track(customer_id=1,  # why\n    name=x)",
    "comment_line_before_an_argument": "cio.track(\n    # why\n    customer_id=1)",
    "comment_before_close_paren": "cio.track(customer_id=1  # why\n)",
    "comment_before_a_comma": "cio.track(customer_id=1  # why\n    , name=x)",
    "comment_after_a_star": "cio.track(*  # why\n    args)",
    "comment_in_a_value": "cio.track(customer_id=[1,  # why\n    2])",
    "parenthesised_call": "(cio.track(customer_id=1  # why\n))",
    "parenthesised_function": "(cio.track  # why\n)(customer_id=1)",
    "parenthesised_receiver": "(cio  # why\n).track(customer_id=1)",
    "split_without_comments": "cio.track(\n    customer_id=1, name=x\n)",
}


def _arguments_code(call: cst.Call) -> list[str]:
    """Return the code `_wrapped_call` prints: the function, then each bare argument."""
    method = cst.Arg(value=call.func.with_changes(lpar=(), rpar=()))
    arguments = [
        argument.with_changes(
            comma=cst.MaybeSentinel.DEFAULT,
            whitespace_after_arg=cst.SimpleWhitespace(""),
        )
        for argument in [method, *call.args]
    ]
    return [code_of(argument) for argument in arguments]


@pytest.mark.parametrize("code", HASH_CALLS.values(), ids=list(HASH_CALLS))
def test_clients_contains_hash_matches_printed_call(code: str) -> None:
    call = cst.ensure_type(cst.parse_expression(code), cst.Call)
    assert _contains_hash(call, _arguments_code(call)) == ("#" in code_of(call))


def test_clients_contains_hash_matches_fixture_calls() -> None:
    checked = 0
    for path in sorted(FIXTURES.rglob("*.py")):
        module = cst.parse_module(path.read_text(encoding="utf-8"))
        for call in find_all(module, cst.Call):
            expected = "#" in code_of(call)
            assert _contains_hash(call, _arguments_code(call)) == expected, path
            checked += 1
    assert checked > 1000


def test_code_without_comma_matches_bare_argument() -> None:
    checked = 0
    for path in sorted(FIXTURES.rglob("*.py")):
        module = cst.parse_module(path.read_text(encoding="utf-8"))
        for call in find_all(module, cst.Call):
            for argument in call.args:
                bare = argument.with_changes(
                    comma=cst.MaybeSentinel.DEFAULT,
                    whitespace_after_arg=cst.SimpleWhitespace(""),
                )
                assert _code_without_comma(argument) == code_of(bare), path
                checked += 1
    assert checked > 1000


def test_clients_format_call_counts_column() -> None:
    arguments = ["cio.track", "customer_id=order_id", 'name="order_placed"']
    assert "\n" not in format_call("", "_customerio_in_background", arguments)
    assert "\n" in format_call("", "_customerio_in_background", arguments, column=12)


POOLING_APP = """\
from customerio import CustomerIO
from flask import Flask

from shop import settings

app = Flask(__name__)


@app.post("/signup")
def signup():
    cio = CustomerIO(settings.SITE_ID, settings.API_KEY)
    cio.identify(id=1)
    return "ok"


@app.post("/login")
def login():
    cio = CustomerIO(settings.SITE_ID, settings.API_KEY, use_connection_pooling=False)
    cio.identify(id=1)
    return "ok"
"""


def test_clients_pooling_fix_shares_factory(project) -> None:
    root = project({"app.py": POOLING_APP})
    run_cli(["--apply", "--select", "CIO601,CIO602", "."], root)
    fixed = (root / "app.py").read_text(encoding="utf-8")
    assert fixed.count("def _customerio_client") == 1
    assert fixed.count("cio = _customerio_client()") == 2


# The first client turns pooling off, so a CIO601 run alone gives it the
# helper `_customerio_client`, and the other client `_customerio_client_2`.
POOLING_FIRST_APP = """\
from customerio import CustomerIO
from flask import Flask

from shop import settings

app = Flask(__name__)


@app.post("/signup")
def signup():
    cio = CustomerIO(settings.SITE_ID, settings.API_KEY, use_connection_pooling=False)
    cio.identify(id=1)
    return "ok"


@app.post("/login")
def login():
    cio = CustomerIO(settings.SITE_ID, settings.API_KEY)
    cio.identify(id=1)
    return "ok"
"""


@pytest.mark.parametrize(
    "source", [POOLING_APP, POOLING_FIRST_APP], ids=["second", "first"]
)
@pytest.mark.parametrize(
    "codes", [["CIO601", "CIO602"], ["CIO602", "CIO601"]], ids=["601-602", "602-601"]
)
def test_clients_rule_by_rule_matches_one_run(project, source, codes) -> None:
    root = project({"together/app.py": source, "apart/app.py": source})

    run_cli(["--apply", "--select", "CIO601,CIO602", "."], root / "together")
    for code in codes:
        run_cli(["--apply", "--select", code, "."], root / "apart")

    together = (root / "together" / "app.py").read_text(encoding="utf-8")
    apart = (root / "apart" / "app.py").read_text(encoding="utf-8")
    assert together.count("def _customerio_client") == 1
    assert "use_connection_pooling" not in together
    assert apart == together


# What a CIO601 run alone leaves of POOLING_APP.
TWO_HELPERS_APP = """\
import functools

from customerio import CustomerIO

from shop import settings


@functools.cache
def _customerio_client():
    return CustomerIO(settings.SITE_ID, settings.API_KEY)


@functools.cache
def _customerio_client_2():
    return CustomerIO(settings.SITE_ID, settings.API_KEY, use_connection_pooling=False)


def login():
    cio = _customerio_client_2()
    cio.identify(id=1)
"""


@pytest.mark.parametrize(
    ("files", "merged"),
    [
        ({}, True),
        ({"jobs.py": "from app import _customerio_client_2\n"}, False),
        ({"app.py": TWO_HELPERS_APP + '\n__all__ = ["login"]\n'}, False),
        (
            {
                "app.py": TWO_HELPERS_APP
                + "\n\ndef reset():\n    _customerio_client_2.cache_clear()\n"
            },
            False,
        ),
        (
            {
                "app.py": TWO_HELPERS_APP.replace(
                    "def _customerio_client_2():",
                    "def _customerio_client_2():\n    # The proxy drops idle sockets.",
                )
            },
            False,
        ),
        (
            {
                "app.py": TWO_HELPERS_APP.replace(
                    "_customerio_client_2", "make_plain_client"
                )
            },
            False,
        ),
    ],
    ids=["merged", "imported", "all", "cache-clear", "comment", "own-name"],
)
def test_clients_pooling_fix_merges_helpers(project, files, merged) -> None:
    root = project({"app.py": TWO_HELPERS_APP, **files})

    result = run_cli(["--apply", "--select", "CIO602", "."], root)

    fixed = (root / "app.py").read_text(encoding="utf-8")
    assert result.exit_code == 0
    assert "use_connection_pooling" not in fixed
    assert ("cio = _customerio_client()" in fixed) is merged
    assert (fixed.count("@functools.cache") == 1) is merged


# Helpers that a CIO601 run alone leaves, the one with pooling first, and a
# client that a later change builds per request.
POOLING_HELPER_FIRST_APP = """\
import functools

from customerio import CustomerIO
from flask import Flask

from shop import settings

app = Flask(__name__)


@functools.cache
def _customerio_client():
    return CustomerIO(settings.SITE_ID, settings.API_KEY, use_connection_pooling=False)


@functools.cache
def _customerio_client_2():
    return CustomerIO(settings.SITE_ID, settings.API_KEY)


@app.post("/login")
def login():
    cio = _customerio_client()
    cio.identify(id=1)
    return "ok"


@app.post("/signup")
def signup():
    cio = CustomerIO(settings.SITE_ID, settings.API_KEY)
    cio.identify(id=1)
    return "ok"
"""


def test_clients_pooling_fix_with_cio601_merges_helpers(project) -> None:
    # The merge removes `_customerio_client_2`, which signup() would read if
    # its CIO601 fix did not wait for the next pass.
    root = project({"app.py": POOLING_HELPER_FIRST_APP})

    run_cli(["--apply", "--select", "CIO601,CIO602", "."], root)

    fixed = (root / "app.py").read_text(encoding="utf-8")
    compile(fixed, "app.py", "exec")
    assert "def signup():\n    cio = _customerio_client()\n" in fixed
    assert "_customerio_client_2" not in fixed
    assert fixed.count("@functools.cache") == 1
    assert "use_connection_pooling" not in fixed


@pytest.mark.parametrize("selection", ["CIO602", "CIO601,CIO602"])
def test_clients_pooling_fix_merges_commented_helper(project, selection) -> None:
    # The kept helper's call has a comment, so it keeps its own call rather
    # than the other helper's. A copy of the other call would lose the
    # comment, so the CIO602 fix would not be written, and the CIO601 fix
    # that waits for it would never settle.
    source = POOLING_HELPER_FIRST_APP.replace(
        "    return CustomerIO(settings.SITE_ID, settings.API_KEY,"
        " use_connection_pooling=False)\n",
        "    return CustomerIO(\n"
        "        settings.SITE_ID,  # the EU workspace\n"
        "        settings.API_KEY,\n"
        "        use_connection_pooling=False,\n"
        "    )\n",
    )
    assert source != POOLING_HELPER_FIRST_APP
    root = project({"app.py": source})

    result = run_cli(["--apply", "--select", selection, "."], root)

    fixed = (root / "app.py").read_text(encoding="utf-8")
    compile(fixed, "app.py", "exec")
    assert "settings.SITE_ID,  # the EU workspace\n" in fixed
    assert "_customerio_client_2" not in fixed
    assert "use_connection_pooling" not in fixed
    assert "not fixed" not in result.stdout


# A Track API client and an App API client, each built with and without
# pooling. The two APIs need two helpers.
TRACK_AND_APP_POOLING_APP = """\
from customerio import APIClient, CustomerIO, SendEmailRequest
from flask import Flask

from shop import settings

app = Flask(__name__)


@app.post("/signup")
def signup():
    cio = CustomerIO(settings.SITE_ID, settings.API_KEY, use_connection_pooling=False)
    cio.identify(id=1)
    return "ok"


@app.post("/welcome")
def welcome():
    api = APIClient(settings.APP_KEY, use_connection_pooling=False)
    api.send_email(SendEmailRequest(to="a@example.com", transactional_message_id="1"))
    return "ok"


@app.post("/login")
def login():
    cio = CustomerIO(settings.SITE_ID, settings.API_KEY)
    cio.identify(id=1)
    return "ok"


@app.post("/notify")
def notify():
    api = APIClient(settings.APP_KEY)
    api.send_email(SendEmailRequest(to="b@example.com", transactional_message_id="2"))
    return "ok"
"""


@pytest.mark.parametrize(
    ("source", "helpers"),
    [
        (POOLING_APP, ["_customerio_client"]),
        (POOLING_FIRST_APP, ["_customerio_client"]),
        (TRACK_AND_APP_POOLING_APP, ["_customerio_client", "_customerio_app_client"]),
    ],
    ids=["second", "first", "track-and-app"],
)
@pytest.mark.parametrize(
    "selections",
    [
        ["CIO601", "CIO601,CIO602", None],
        ["CIO601", None],
        ["CIO602", "CIO601,CIO602", None],
        ["CIO602", "CIO601", None],
    ],
    ids=["601-both-all", "601-all", "602-both-all", "602-601-all"],
)
def test_clients_run_sequence_matches_one_run(
    project, source, helpers, selections
) -> None:
    # None stands for a run of every rule.
    root = project({"single/app.py": source, "sequence/app.py": source})

    run_cli(["--apply", "."], root / "single")
    for selection in selections:
        options = [] if selection is None else ["--select", selection]
        run_cli(["--apply", *options, "."], root / "sequence")

    single_run = (root / "single" / "app.py").read_text(encoding="utf-8")
    sequence = (root / "sequence" / "app.py").read_text(encoding="utf-8")
    compile(sequence, "app.py", "exec")
    for helper in helpers:
        assert single_run.count(f"def {helper}():") == 1
    assert "_client_2" not in single_run
    assert "use_connection_pooling" not in single_run
    assert sequence == single_run


# A handler that builds its client with pooling turned off, and one that a
# later change adds, which builds the same client with pooling.
POOLING_LOGIN_APP = """\
from customerio import CustomerIO
from flask import Flask

from shop import settings

app = Flask(__name__)


@app.post("/login")
def login():
    cio = CustomerIO(settings.SITE_ID, settings.API_KEY, use_connection_pooling=False)
    cio.identify(id=1)
    return "ok"
"""
SIGNUP_HANDLER = """\


@app.post("/signup")
def signup():
    cio = CustomerIO(settings.SITE_ID, settings.API_KEY)
    cio.identify(id=1)
    return "ok"
"""


def test_clients_pooled_helper_serves_later_client(project) -> None:
    # The CIO601 run gives login() the helper `_customerio_client`, which
    # turns pooling off. Without the wait, signup() gets
    # `_customerio_client_2` in the pass in which CIO602 makes the first
    # helper build the same client.
    root = project(
        {
            "one/app.py": POOLING_LOGIN_APP + SIGNUP_HANDLER,
            "runs/app.py": POOLING_LOGIN_APP,
        }
    )
    run_cli(["--apply", "--select", "CIO601,CIO602", "."], root / "one")

    run_cli(["--apply", "--select", "CIO601", "."], root / "runs")
    app = root / "runs" / "app.py"
    app.write_text(app.read_text(encoding="utf-8") + SIGNUP_HANDLER, encoding="utf-8")
    run_cli(["--apply", "--select", "CIO601,CIO602", "."], root / "runs")

    fixed = app.read_text(encoding="utf-8")
    compile(fixed, "app.py", "exec")
    assert "def signup():\n    cio = _customerio_client()\n" in fixed
    assert "_customerio_client_2" not in fixed
    assert fixed.count("@functools.cache") == 1
    assert "use_connection_pooling" not in fixed
    assert fixed == (root / "one" / "app.py").read_text(encoding="utf-8")


def test_clients_pooling_fix_marks_findings_applied(project) -> None:
    root = project({"app.py": POOLING_APP})
    result = run_cli(
        ["--apply", "--output-format", "json", "--select", "CIO601,CIO602", "."], root
    )
    applied = [
        (finding["code"], finding["applied"]) for finding in result.json["findings"]
    ]
    assert applied == [("CIO601", True), ("CIO601", True), ("CIO602", True)]


COMMENTED_POOLING_APP = """\
from customerio import CustomerIO
from flask import Flask

from shop import settings

app = Flask(__name__)


@app.post("/login")
def login():
    cio = CustomerIO(
        settings.SITE_ID,  # the main workspace
        settings.API_KEY,
        use_connection_pooling={pooling},
    )
    cio.identify(id=1)
    return "ok"
"""


def _pooling_app(pooling: str) -> str:
    return COMMENTED_POOLING_APP.replace("{pooling}", pooling)


def test_clients_hoist_losing_comment_not_applied(project) -> None:
    root = project({"app.py": _pooling_app("False")})
    result = run_cli(
        ["--apply", "--output-format", "json", "--select", "CIO601,CIO602", "."], root
    )
    by_code = {finding["code"]: finding for finding in result.json["findings"]}
    assert by_code["CIO602"]["applied"] is True
    assert by_code["CIO601"]["applied"] is False
    assert by_code["CIO601"]["fix"] is None
    assert "lose a comment" in by_code["CIO601"]["message"]


def test_clients_hoist_not_waiting_for_unfixable_pooling(project) -> None:
    # A comment on the pooling argument's line keeps CIO602 from removing
    # it, so CIO601 must not wait for that removal.
    pooling = "False,  # our proxy drops idle connections\n        timeout=5"
    root = project({"app.py": _pooling_app(pooling)})
    result = run_cli(
        ["--dry-run", "--output-format", "json", "--select", "CIO601,CIO602", "."],
        root,
    )
    by_code = {finding["code"]: finding for finding in result.json["findings"]}
    assert result.json["errors"] == []
    assert by_code["CIO602"]["fix"] is None
    assert "remove both by hand" in by_code["CIO602"]["message"]


PER_ITEM_POOLING = """\
import os
import time

from customerio import CustomerIO


def sync(users):
    for user in users:
        cio = CustomerIO(os.environ["SITE"], os.environ["KEY"], use_connection_pooling=False){comment}
        cio.identify(id=user, email="a@b.c")


shared = CustomerIO(os.environ["SITE"], os.environ["KEY"])


def signup(user):
    shared.identify(id=user, email="a@b.c", created_at=time.time() * 1000)
"""
POOLING_AND_TIMESTAMPS = ["--select", "CIO601,CIO602,CIO103"]


def _apply_per_item_pooling(project, comment: str, files=None):
    source = PER_ITEM_POOLING.replace("{comment}", comment)
    root = project({"app.py": source, **(files or {})})
    result = run_cli(
        ["--apply", "--output-format", "json", *POOLING_AND_TIMESTAMPS, "."], root
    )
    by_code = {finding["code"]: finding for finding in result.json["findings"]}
    return result, by_code, (root / "app.py").read_text(encoding="utf-8")


def test_clients_pooling_directive_comment_fixed(project) -> None:
    result, by_code, fixed = _apply_per_item_pooling(project, "  # noqa: E501")

    assert result.json["errors"] == []
    assert by_code["CIO601"]["applied"] is True
    assert by_code["CIO602"]["applied"] is True
    assert by_code["CIO103"]["applied"] is True
    assert "cio = shared  # noqa: E501" in fixed
    assert "use_connection_pooling" not in fixed


def test_clients_pooling_prose_comment_withheld(project) -> None:
    result, by_code, fixed = _apply_per_item_pooling(project, "  # keep pooling off")

    assert result.json["errors"] == []
    assert result.exit_code == 1
    assert by_code["CIO601"]["fix"] is None
    assert "may explain `use_connection_pooling=False`" in by_code["CIO601"]["message"]
    assert by_code["CIO602"]["fix"] is None
    assert "remove both by hand" in by_code["CIO602"]["message"]
    assert by_code["CIO103"]["applied"] is True
    assert "use_connection_pooling=False)  # keep pooling off" in fixed
    assert "created_at=int(time.time())" in fixed


def test_clients_pooling_silenced_by_noqa(project) -> None:
    result, by_code, fixed = _apply_per_item_pooling(project, "  # noqa: CIO602")

    assert result.json["errors"] == []
    assert "CIO602" not in by_code
    assert by_code["CIO601"]["fix"] is None
    assert "`# noqa` comment silences" in by_code["CIO601"]["message"]
    assert by_code["CIO103"]["applied"] is True
    assert "use_connection_pooling=False)  # noqa: CIO602" in fixed


def test_clients_pooling_ignored_for_file(project) -> None:
    ignores = '[tool.cio-fix]\nper-file-ignores = {"app.py" = ["CIO602"]}\n'
    result, by_code, fixed = _apply_per_item_pooling(
        project, "", {"pyproject.toml": ignores}
    )

    assert result.json["errors"] == []
    assert "CIO602" not in by_code
    assert by_code["CIO601"]["applied"] is True
    assert by_code["CIO103"]["applied"] is True
    # The hoisted client keeps pooling off, because CIO602 is ignored there.
    assert fixed.count("use_connection_pooling=False") == 1
    assert "cio = _customerio_client()" in fixed


PER_ITEM_POOLING_IN_DICT = """\
import os

from customerio import CustomerIO


def sync(users):
    for user in users:
        clients = {
            "eu": CustomerIO(os.environ["SITE"], os.environ["KEY"], use_connection_pooling=False),  # keep pooling off
        }
        clients["eu"].identify(id=user, email="a@b.c")
"""


def test_clients_pooling_comment_after_dict_item_withheld(project) -> None:
    root = project({"app.py": PER_ITEM_POOLING_IN_DICT})
    result = run_cli(
        ["--apply", "--output-format", "json", "--select", "CIO601,CIO602", "."], root
    )
    by_code = {finding["code"]: finding for finding in result.json["findings"]}

    assert result.json["errors"] == []
    assert by_code["CIO601"]["fix"] is None
    assert "may explain `use_connection_pooling=False`" in by_code["CIO601"]["message"]
    assert by_code["CIO602"]["fix"] is None
    assert "remove both by hand" in by_code["CIO602"]["message"]
    assert (root / "app.py").read_text(encoding="utf-8") == PER_ITEM_POOLING_IN_DICT


def test_clients_second_run_changes_nothing(project) -> None:
    root = project({"app.py": POOLING_APP})
    run_cli(["--apply", "--select", "CIO601,CIO602,CIO304", "."], root)
    again = run_cli(
        [
            "--dry-run",
            "--output-format",
            "json",
            "--select",
            "CIO601,CIO602,CIO304",
            ".",
        ],
        root,
    )
    assert again.json["changed_files"] == []
    assert again.json["findings"] == []


LAZY_GETTER_APP = """\
import os

from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)

SITE_ID = os.environ["CUSTOMERIO_SITE_ID"]
API_KEY = os.environ["CUSTOMERIO_TRACK_API_KEY"]

_client = None


def get_cio():
    global _client
    if _client is None:
        _client = CustomerIO(SITE_ID, API_KEY)
    return _client


@app.post("/signup")
def signup():
    cio = CustomerIO(SITE_ID, API_KEY)
    cio.identify(id=1, email="ada@example.com")
    return "ok"
"""


def _assert_getter_reused(root: Path) -> None:
    fixed = (root / "app.py").read_text(encoding="utf-8")
    assert "cio = get_cio()" in fixed
    assert "_customerio_client" not in fixed
    again = run_cli(["--dry-run", "--output-format", "json", "."], root)
    assert again.json["changed_files"] == []
    assert again.json["findings"] == []


def test_clients_one_run_reuses_getter(project) -> None:
    root = project({"app.py": LAZY_GETTER_APP})
    run_cli(["--apply", "."], root)
    _assert_getter_reused(root)


def test_clients_rule_by_rule_reuses_getter(project) -> None:
    root = project({"app.py": LAZY_GETTER_APP})
    for code in sorted(all_rules()):
        run_cli(["--apply", "--select", code, "."], root)
    _assert_getter_reused(root)


def test_clients_silenced_factory_not_reused(project) -> None:
    # A silenced finding's fix never caches `get_cio`, so the construction
    # must not wait for it.
    source = (FIXTURES / "CIO601" / "factory_cached_and_reused.py").read_text()
    source = source.replace("def get_cio():", "def get_cio():  # noqa: CIO601")
    root = project({"app.py": source})
    result = run_cli(["--apply", "--output-format", "json", "."], root)
    assert result.json["errors"] == []
    fixed = (root / "app.py").read_text(encoding="utf-8")
    assert "cio = _customerio_client()" in fixed
    assert "@functools.cache\ndef get_cio()" not in fixed


def test_clients_background_helper_rejects_bare_name(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nbackground-helper = "in_background"\n',
            "app.py": POOLING_APP,
        }
    )
    result = run_cli(["--dry-run", "."], root)
    assert result.exit_code == 2
    assert "background-helper must name a function with its module" in result.stderr


HELPER_CONFIG = '[tool.cio-fix]\nbackground-helper = "shop.tasks.in_background"\n'


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"shop/__init__.py": ""}, "the project has no module 'shop.tasks'"),
        (
            {
                "shop/__init__.py": "",
                "shop/tasks.py": "def in_backgroud(m):\n    m()\n",
            },
            "defines no 'in_background'",
        ),
        (
            {
                "shop/__init__.py": "",
                "shop/tasks.py": "def helper():\n    in_background = None\n",
            },
            "defines no 'in_background'",
        ),
    ],
    ids=["no-module", "misspelt-function", "only-a-local"],
)
def test_clients_background_helper_must_exist(project, files, error) -> None:
    root = project({"pyproject.toml": HELPER_CONFIG, "app.py": POOLING_APP, **files})
    result = run_cli(["--dry-run", "."], root)
    assert result.exit_code == 2
    assert "background-helper names 'shop.tasks.in_background'" in result.stderr
    assert error in result.stderr


@pytest.mark.parametrize(
    "tasks",
    [
        "def in_background(method, *args):\n    method(*args)\n",
        "try:\n    from celery_tasks import in_background\nexcept ImportError:\n"
        "    in_background = None\n",
        "from shop._tasks import *\n",
    ],
    ids=["function", "import-in-try", "star-import"],
)
def test_clients_background_helper_found(project, tasks) -> None:
    files = {"shop/__init__.py": "", "shop/tasks.py": tasks}
    root = project({"pyproject.toml": HELPER_CONFIG, "app.py": POOLING_APP, **files})
    result = run_cli(["--dry-run", "--select", "CIO304", "."], root)
    assert result.exit_code == 1, result.stderr
    assert "from shop.tasks import in_background" in result.stdout


def test_clients_background_helper_outside_project(project) -> None:
    # An installed package's helper cannot be read without importing it.
    config = HELPER_CONFIG.replace("shop.tasks", "company_tools.tasks")
    root = project({"pyproject.toml": config, "app.py": POOLING_APP})
    result = run_cli(["--dry-run", "--select", "CIO304", "."], root)
    assert result.exit_code == 1, result.stderr
    assert "from company_tools.tasks import in_background" in result.stdout


def test_clients_lambda_in_request_reported(tmp_path) -> None:
    # Every handler of this fixture calls its lambda, waits for it, runs the
    # call in a parameter default, or passes its thread on, so each handler
    # has one finding.
    fixture = FIXTURES / "CIO304" / "lambda_run_in_request.py"
    shutil.copyfile(fixture, tmp_path / "app.py")

    result = run_cli(["--output-format", "json", "--select", "CIO304", "."], tmp_path)

    handlers = [finding["message"].split("`")[3] for finding in result.json["findings"]]
    assert handlers == [
        "called",
        "stored",
        "awaited",
        "result",
        "joined",
        "default",
        "thread_run",
        "kept_run",
        "with_executor",
        "with_executor_named",
        "with_loop_executor",
        "started_and_returned",
    ]


# How each handler of the fixture waits for its lambda, and whether the
# call's exception reaches the handler: `join()` and the end of an
# executor's `with` block do not raise it.
LAMBDA_WAITS = {
    "awaited": ("(not fixed: the handler awaits the executor that runs it)", True),
    "result": ("(not fixed: the handler waits for it with `.result()`)", True),
    "joined": ("(not fixed: `worker.join()` waits for the thread that runs it)", False),
    "thread_run": (
        "(not fixed: `threading.Thread(...).run()` runs it on the request's thread)",
        True,
    ),
    "kept_run": ("(not fixed: `worker.run()` runs it on the request's thread)", True),
    "with_executor": (
        "(not fixed: the `with` block of `pool` waits until the executor has run it)",
        False,
    ),
    "with_executor_named": (
        "(not fixed: the `with` block of `pool` waits until the executor has run it)",
        False,
    ),
    "with_loop_executor": (
        "(not fixed: the `with` block of `pool` waits until the executor has run it)",
        False,
    ),
}


@pytest.mark.parametrize(("handler", "wait"), LAMBDA_WAITS.items())
def test_clients_lambda_wait_reason(tmp_path, handler, wait) -> None:
    reason, raises = wait
    fixture = FIXTURES / "CIO304" / "lambda_run_in_request.py"
    shutil.copyfile(fixture, tmp_path / "app.py")

    result = run_cli(["--output-format", "json", "--select", "CIO304", "."], tmp_path)
    [message] = [
        finding["message"]
        for finding in result.json["findings"]
        if finding["message"].split("`")[3] == handler
    ]

    assert message.endswith(reason)
    assert ("its failure fails the request" in message) is raises
    assert "its result is used" not in message


def _nested_findings(tmp_path: Path) -> dict[str, dict]:
    """Run CIO304 on the nested-function fixture and return its findings by handler."""
    fixture = FIXTURES / "CIO304" / "nested_function_called.py"
    shutil.copyfile(fixture, tmp_path / "app.py")
    result = run_cli(["--output-format", "json", "--select", "CIO304", "."], tmp_path)
    return {
        finding["message"].split("`")[3]: finding for finding in result.json["findings"]
    }


def test_clients_nested_function_reported(tmp_path) -> None:
    # Each handler of the fixture calls a function it defines, which makes
    # the Track API call on the request's thread.
    findings = _nested_findings(tmp_path)

    assert list(findings) == [
        "called",
        "deeper",
        "awaited",
        "per_item",
        "also_submitted",
        "caught",
        "caught_inside",
        "caught_once",
    ]
    for finding in findings.values():
        assert finding["fix"] is None
        assert finding["message"].endswith(f"(not fixed: {NESTED_REASON})")


def test_clients_nested_function_names_call(tmp_path) -> None:
    message = _nested_findings(tmp_path)["deeper"]["message"]
    assert "request handler `deeper` wait for the Track API when it calls `outer`" in (
        message
    )


# Whether the failure of each fixture handler's call reaches the request: a
# `try` that logs around the call, or around every call of the function
# defined in the handler, catches it.
NESTED_FAILURES = {
    "called": True,
    "deeper": True,
    "caught": False,
    "caught_inside": False,
    "caught_once": True,
}


@pytest.mark.parametrize(("handler", "raises"), NESTED_FAILURES.items())
def test_clients_nested_function_failure(tmp_path, handler, raises) -> None:
    message = _nested_findings(tmp_path)[handler]["message"]
    assert ("its failure fails the request" in message) is raises


WRAPPED_CALL = """\
import time

from customerio import CustomerIO

cio = CustomerIO("site", "key")


def signup(user_id):
    _customerio_in_background(cio.identify, id=user_id, created_at=int(time.time() * 1000))
"""


def test_clients_wrapped_call_still_checked(project) -> None:
    root = project({"app.py": WRAPPED_CALL})
    result = run_cli(
        ["--dry-run", "--output-format", "json", "--select", "CIO103", "."], root
    )
    codes = [finding["code"] for finding in result.json["findings"]]
    assert codes == ["CIO103"]


def test_clients_wrapped_call_fixed_in_place(project) -> None:
    root = project({"app.py": WRAPPED_CALL})
    run_cli(["--apply", "--select", "CIO103", "."], root)
    fixed = (root / "app.py").read_text(encoding="utf-8")
    assert "cio.identify, id=user_id, created_at=int(time.time()))" in fixed


CRLF_HANDLER = """\
from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.post("/signup")
def signup(user):
    cio.identify(id=user.id)
    return "ok"
"""


def test_clients_helper_keeps_crlf(project) -> None:
    root = project({"app.py": CRLF_HANDLER.replace("\n", "\r\n").encode()})
    run_cli(["--apply", "--select", "CIO304", "."], root)
    fixed = (root / "app.py").read_bytes()
    assert b"_customerio_in_background(cio.identify" in fixed
    assert fixed.count(b"\n") == fixed.count(b"\r\n")


SHARED_LINES = """\
from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.post("/a")
def a(user):
    if user.id: cio.track(customer_id=user.id, name="a_done")
    x = 1; cio.track(customer_id=user.id, name="b_done")
    return x
"""


def test_clients_shared_line_reason(project) -> None:
    root = project({"app.py": SHARED_LINES})
    result = run_cli(
        ["--dry-run", "--output-format", "json", "--select", "CIO304", "."], root
    )
    messages = [finding["message"] for finding in result.json["findings"]]
    assert len(messages) == 2
    for message in messages:
        assert "shares its line with other code" in message
    assert result.json["changed_files"] == []


TAB_HANDLER = """\
from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.post("/signup")
def signup(user):
\tif user.id:
\t\tcio.track(customer_id=user.id, name="signed_up_for_the_newsletter", data={"plan": user.plan})
\treturn "ok"
"""


@pytest.mark.parametrize("unit", ["\t", "  "], ids=["tabs", "two_spaces"])
def test_clients_fix_indents_with_module_unit(project, unit) -> None:
    root = project({"app.py": TAB_HANDLER.replace("\t", unit)})
    run_cli(["--apply", "--select", "CIO304", "."], root)
    fixed = (root / "app.py").read_text(encoding="utf-8")
    assert "_customerio_in_background(\n" in fixed
    assert f"\n{unit}_customerio_slots.acquire()\n" in fixed
    for line in fixed.splitlines():
        indentation = line[: len(line) - len(line.lstrip())]
        assert indentation == unit * (len(indentation) // len(unit)), line
    compile(fixed, "app.py", "exec")


def test_clients_helper_not_addable_says_why(project) -> None:
    source = POOLING_APP.replace(
        "app = Flask(__name__)", "app = Flask(__name__)\nlogging = None"
    )
    root = project({"app.py": source})
    result = run_cli(
        ["--dry-run", "--output-format", "json", "--select", "CIO304", "."], root
    )
    messages = [finding["message"] for finding in result.json["findings"]]
    assert messages
    for message in messages:
        assert "background-helper" in message
    assert result.json["changed_files"] == []


ORDERED_CALLS = """\
from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)
cio = CustomerIO("site", "key")


def log_signup(user_id):
    print(user_id)


@app.delete("/users/<int:uid>")
def delete_user(uid):
    cio.track(customer_id=uid, name="account_deleted")
    cio.delete(customer_id=uid)
    return "", 204


@app.post("/profile")
def profile():
    attributes = {"plan": "pro"}
    cio.identify(id=1, email="a@example.com", **attributes)
    attributes.clear()
    return "ok"


@app.post("/signup")
def signup(user):
    cio.identify(id=user.id, email=user.email)
    user.notify()
    return "ok"
"""


def _reasons(root: Path) -> dict[int, str]:
    result = run_cli(
        ["--dry-run", "--output-format", "json", "--select", "CIO304", "."], root
    )
    return {
        finding["line"]: finding["message"].partition("worker")[2]
        for finding in result.json["findings"]
    }


def test_clients_track_before_delete_stays(project) -> None:
    reasons = _reasons(project({"app.py": ORDERED_CALLS}))

    # The delete is last, so it may go to the background; the track may not.
    assert reasons[14] == (
        " (not fixed: a later `delete` in the handler must reach Customer.io after it,"
        " and background calls may arrive in any order)"
    )
    assert reasons[15] == ""


def test_clients_reason_names_later_change(project) -> None:
    reasons = _reasons(project({"app.py": ORDERED_CALLS}))

    assert reasons[22] == (
        " (not fixed: `attributes.clear()` on line 23 may change what the call sends"
        " before the worker thread sends it)"
    )


ALIASED_PART = """\
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.post("/orders")
def orders():
    rows = request.get_json()["rows"]
    first = rows[0]
    cio.track(customer_id=1, name="ordered", data={"row": rows[0]})
    first["qty"] = 0
    return "ok"


@app.post("/items")
def items():
    rows = request.get_json()["rows"]
    for row in rows:
        cio.track(customer_id=1, name="listed", data={"row": rows[0]})
        row["seen"] = True
    return "ok"
"""


def test_clients_reason_names_aliased_change(project) -> None:
    # `first` and `row` reach the part sent, `rows[0]`, by another name.
    reasons = _reasons(project({"app.py": ALIASED_PART}))

    assert reasons[12] == (
        ' (not fixed: `first["qty"] = ...` on line 13 may change what the call sends'
        " before the worker thread sends it)"
    )
    # The loop runs the change again after the call.
    assert reasons[21] == (
        ' (not fixed: `row["seen"] = ...` on line 22 may change what the call sends'
        " before the worker thread sends it)"
    )


WITH_BLOCK_ENDS = """\
from contextlib import asynccontextmanager, contextmanager

from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
cio = CustomerIO("site", "key")


@contextmanager
def checkout_context(user_id):
    ctx = {"user_id": user_id, "step": "started"}
    yield ctx
    ctx["step"] = "finished"


@asynccontextmanager
async def span(name):
    tags = {"span": name}
    yield tags
    tags["status"] = "closed"


@app.post("/checkout/<int:user_id>")
def checkout(user_id):
    with checkout_context(user_id) as ctx:
        cio.track(customer_id=user_id, name="checkout_started", data=ctx)
    return "ok"


@app.post("/inside/<int:user_id>")
def changed_inside(user_id):
    with checkout_context(user_id) as ctx:
        cio.track(customer_id=user_id, name="checkout_started", data=ctx)
        ctx.clear()
    return "ok"


@app.post("/after/<int:user_id>")
def changed_after(user_id):
    with checkout_context(user_id) as ctx:
        cio.track(customer_id=user_id, name="checkout_started", data=ctx)
    ctx.clear()
    return "ok"


@app.post("/span")
async def spanned():
    async with span("checkout") as tags:
        cio.track(customer_id=1, name="checkout", data=tags)
    return "ok"
"""


def test_clients_reason_names_with_block_end(project) -> None:
    reasons = _reasons(project({"app.py": WITH_BLOCK_ENDS}))

    assert reasons[27] == (
        " (not fixed: the end of the `with` block on line 26 may change what the"
        " call sends before the worker thread sends it)"
    )


def test_clients_reason_names_async_with_block_end(project) -> None:
    reasons = _reasons(project({"app.py": WITH_BLOCK_ENDS}))

    assert reasons[50] == (
        " (not fixed: the end of the `async with` block on line 49 may change what"
        " the call sends before the worker thread sends it)"
    )


def test_clients_reason_orders_block_end_and_change(project) -> None:
    reasons = _reasons(project({"app.py": WITH_BLOCK_ENDS}))

    # A change inside the block runs before the block ends, and one after
    # the block runs after it.
    assert reasons[34] == (
        " (not fixed: `ctx.clear()` on line 35 may change what the call sends"
        " before the worker thread sends it)"
    )
    assert reasons[42] == (
        " (not fixed: the end of the `with` block on line 41 may change what the"
        " call sends before the worker thread sends it)"
    )


LATER_CHANGES = """\
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
cio = CustomerIO("site", "key")
AUDIT = []


@app.post("/tags")
def tags():
    body = request.get_json()
    tags = body["tags"]
    cio.identify(id=body["uid"], tags=tags)
    tags.sort()
    return "ok"


@app.post("/upgrade")
def upgrade():
    body = request.get_json()
    plan = body["plan"]
    cio.track(customer_id=body["uid"], name="upgraded", data={"plan": plan})
    AUDIT.append(("upgrade", body["uid"], plan))
    return "ok"


@app.post("/shipped")
def shipped(order):
    cio.track(customer_id=1, name="shipped", data={"items": order.items})
    drop_prices(order.items)
    return "ok"
"""


def test_clients_reason_names_sorted_attribute(project) -> None:
    reasons = _reasons(project({"app.py": LATER_CHANGES}))

    assert reasons[13] == (
        " (not fixed: `tags.sort()` on line 14 may change what the call sends before"
        " the worker thread sends it)"
    )


def test_clients_reason_names_call_given_object(project) -> None:
    reasons = _reasons(project({"app.py": LATER_CHANGES}))

    assert reasons[22] == (
        " (not fixed: `AUDIT.append(...)` on line 23 is given `plan`, which the call"
        " sends, and cio-fix cannot tell that it leaves `plan` unchanged)"
    )


def test_clients_reason_names_call_given_part(project) -> None:
    reasons = _reasons(project({"app.py": LATER_CHANGES}))

    assert reasons[29] == (
        " (not fixed: `drop_prices(...)` on line 30 is given `order.items`, which the"
        " call sends, and cio-fix cannot tell that it leaves `order.items` unchanged)"
    )


FUNCTIONS_GIVEN_SENT = """\
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
cio = CustomerIO("site", "key")


def normalize(tags):
    tags.sort()


def add_gift(order):
    order.items.append("gift")


@app.post("/tags")
def tags():
    body = request.get_json()
    tags = body["tags"]
    cio.identify(id=body["uid"], tags=tags)
    normalize(tags)
    return "ok"


@app.post("/orders")
def orders(order):
    cio.track(customer_id=1, name="order_placed", data={"items": order.items})
    add_gift(order)
    return "ok"
"""


def test_clients_reason_names_function_changing_attribute(project) -> None:
    reasons = _reasons(project({"app.py": FUNCTIONS_GIVEN_SENT}))

    assert reasons[20] == (
        " (not fixed: `normalize(...)` on line 21 is given `tags`, which the call"
        " sends, and may change it)"
    )


def test_clients_reason_names_function_changing_part(project) -> None:
    reasons = _reasons(project({"app.py": FUNCTIONS_GIVEN_SENT}))

    assert reasons[27] == (
        " (not fixed: `add_gift(...)` on line 28 is given `order` and may change"
        " `order.items` in it, which the call sends)"
    )


ATTRIBUTE_GIVEN = """\
from customerio import CustomerIO
from flask import Flask, request

from shop import audit

app = Flask(__name__)
cio = CustomerIO("site", "key")


@app.post("/profile")
def profile():
    payload = request.get_json()
    cio.identify(id=payload["uid"], profile=payload)
    audit.record(payload)
    return "ok"
"""


def test_clients_reason_names_call_given_attribute(project) -> None:
    reasons = _reasons(project({"app.py": ATTRIBUTE_GIVEN}))

    assert reasons[13] == (
        " (not fixed: `audit.record(...)` on line 14 is given `payload`, which the call"
        " sends, and cio-fix cannot tell that it leaves `payload` unchanged)"
    )


def test_clients_reason_names_change_through_getattr(project) -> None:
    fixture = FIXTURES / "CIO304" / "sent_attribute_read_or_changed_through_getattr.py"
    reasons = _reasons(project({"views.py": fixture.read_text()}))

    assert reasons[15] == ""
    assert reasons[24] == (
        ' (not fixed: `getattr(self, "items").append(...)` on line 25 may change'
        " what the call sends before the worker thread sends it)"
    )
    assert reasons[32] == (
        ' (not fixed: `getattr(self, "lines")[0]["refunded"] = ...` on line 33 may'
        " change what the call sends before the worker thread sends it)"
    )
    assert reasons[41] == ""


TASKS_WAITED_FOR = """\
import asyncio

from async_customerio import AsyncCustomerIO
from fastapi import FastAPI

app = FastAPI()
cio = AsyncCustomerIO("site", "key")


@app.post("/orders")
async def orders(user_id: int):
    async with asyncio.TaskGroup() as tg:
        tg.create_task(cio.track(customer_id=user_id, name="order_placed"))
    return {"ok": True}


@app.post("/carts")
async def carts(user_id: int):
    await asyncio.gather(
        cio.track(customer_id=user_id, name="cart_viewed"), asyncio.sleep(0)
    )
    return {"ok": True}
"""


def _messages(root: Path) -> dict[int, str]:
    result = run_cli(
        ["--dry-run", "--output-format", "json", "--select", "CIO304", "."], root
    )
    return {finding["line"]: finding["message"] for finding in result.json["findings"]}


def test_clients_message_names_task_group(project) -> None:
    messages = _messages(project({"app.py": TASKS_WAITED_FOR}))

    assert messages[13] == (
        "`track` makes request handler `orders` wait for the Track API at the end"
        " of the `async with` block of task group `tg`, and its failure fails the"
        " request; send it from a background worker"
    )


def test_clients_message_names_gather(project) -> None:
    messages = _messages(project({"app.py": TASKS_WAITED_FOR}))

    assert messages[20] == (
        "`track` makes request handler `carts` wait for the Track API in the"
        " awaited `asyncio.gather()`, and its failure fails the request; send it"
        " from a background worker (not fixed: `asyncio.gather()` waits for it together"
        " with other awaitables; await it in a statement of its own)"
    )


TASKS_AWAITED_LATER = """\
import asyncio

import anyio
from async_customerio import AsyncCustomerIO
from fastapi import FastAPI

app = FastAPI()
cio = AsyncCustomerIO("site", "key")


@app.post("/orders")
async def orders(user_id: int):
    task = asyncio.create_task(cio.track(customer_id=user_id, name="order_placed"))
    await asyncio.sleep(0)
    await task
    return {"ok": task.done()}


@app.post("/carts")
async def carts(user_id: int):
    await asyncio.wait_for(cio.track(customer_id=user_id, name="cart_viewed"), 2)
    return {"ok": True}


@app.post("/refunds")
async def refunds(user_id: int):
    async with anyio.create_task_group() as tg:
        tg.start_soon(cio.track, user_id, "refund_requested")
    return {"ok": True}
"""


def test_clients_message_names_awaited_task(project) -> None:
    messages = _messages(project({"app.py": TASKS_AWAITED_LATER}))

    assert messages[13] == (
        "`track` makes request handler `orders` wait for the Track API when it"
        " awaits `task` on line 15, and its failure fails the request; send it"
        " from a background worker (not fixed: the handler uses `task` for more than"
        " `await task`)"
    )


def test_clients_message_names_wait_for(project) -> None:
    messages = _messages(project({"app.py": TASKS_AWAITED_LATER}))

    assert messages[21] == (
        "`track` makes request handler `carts` wait for the Track API in the"
        " awaited `asyncio.wait_for()`, and its failure fails the request; send"
        " it from a background worker"
    )


def test_clients_message_names_anyio_task_group(project) -> None:
    messages = _messages(project({"app.py": TASKS_AWAITED_LATER}))

    assert messages[28] == (
        "`track` makes request handler `refunds` wait for the Track API at the"
        " end of the `async with` block of task group `tg`, and its failure"
        " fails the request; send it from a background worker"
    )


def test_clients_anyio_task_group_under_trio_not_fixed(project) -> None:
    source = TASKS_AWAITED_LATER.replace(
        "import anyio\n", "import anyio\nimport trio\n"
    )
    reasons = _reasons(project({"app.py": source}))

    assert reasons[29] == (
        " (not fixed: this module imports trio, and the background helper needs"
        " asyncio's event loop)"
    )


def test_clients_anyio_task_left_to_cio304(project) -> None:
    # `start_soon` passes the method's arguments by position only, so the fix
    # of another rule that adds a keyword argument (CIO301) would break it.
    root = project(
        {
            "app.py": TASKS_AWAITED_LATER.replace(
                '"refund_requested"', 'f"refund_{user_id}"'
            )
        }
    )
    result = run_cli(["--dry-run", "--output-format", "json", "."], root)

    codes = {
        finding["code"] for finding in result.json["findings"] if finding["line"] == 28
    }
    assert "CIO304" in codes
    assert "CIO301" not in codes


def test_clients_reason_says_later_call_may_reach(project) -> None:
    reasons = _reasons(project({"app.py": ORDERED_CALLS}))

    assert reasons[29] == (
        " (not fixed: a later call in the handler may reach Customer.io, which would"
        " expect it to have arrived)"
    )


LOCAL_IMPORTS = """\
from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)
cio = CustomerIO("site", "key")


def event_loop():
    import asyncio
    import threading
    import logging
    return asyncio, threading, logging


@app.post("/signup")
def signup(user):
    cio.track(customer_id=user.id, name="signed_up")
    return "ok"
"""


def test_clients_helper_beside_local_imports(project) -> None:
    # Imports inside another function bind nothing at module level, where
    # the helper uses the names.
    root = project({"app.py": LOCAL_IMPORTS})

    run_cli(["--apply", "--select", "CIO304", "."], root)

    fixed = (root / "app.py").read_text()
    assert "_customerio_in_background(cio.track" in fixed
    assert fixed.startswith(
        "import concurrent.futures\nimport logging\nimport threading\n"
    )


def test_background_message_of_caught_failure(project) -> None:
    caught = (
        "from flask import Flask\nfrom customerio import CustomerIO\n\n"
        'app = Flask(__name__)\ncio = CustomerIO("", "")\n\n\n'
        '@app.post("/done/<int:uid>")\ndef done(uid):\n    ok = True\n'
        '    try:\n        cio.track(customer_id=uid, name="done")\n'
        "    except Exception:\n        ok = False\n"
        '    cio.track(customer_id=uid, name="seen")\n    return {"ok": ok}\n'
    )
    root = project({"views.py": caught})

    result = run_cli(["--dry-run", "--select", "CIO304", "."], root)

    lines = [line for line in result.stdout.splitlines() if "CIO304" in line]
    assert len(lines) == 2
    assert "fails the request" not in lines[0]
    assert "(not fixed: that block sets `ok` when the call fails)" in lines[0]
    assert "its failure fails the request" in lines[1]


SDK_EXCEPTION_HANDLERS = """\
import logging

from customerio import CustomerIO, CustomerIOException
from flask import Flask

app = Flask(__name__)
cio = CustomerIO("", "")
log = logging.getLogger(__name__)
UNTRACKED = []


@app.post("/logged/<int:uid>")
def logged(uid):
    try:
        cio.track(customer_id=uid, name="logged")
    except CustomerIOException:
        log.warning("logged was not tracked")
    return "ok"


@app.post("/acted/<int:uid>")
def acted(uid):
    try:
        cio.track(customer_id=uid, name="acted")
    except CustomerIOException:
        UNTRACKED.append(uid)
    return "ok"


@app.post("/ignored/<int:uid>")
def ignored(uid):
    try:
        cio.track(customer_id=uid, name="ignored")
    except CustomerIOException:
        pass
    return "ok"


@app.post("/uncaught/<int:uid>")
def uncaught(uid):
    cio.track(customer_id=uid, name="uncaught")
    return "ok"
"""


def test_background_message_of_sdk_exception(project) -> None:
    root = project({"views.py": SDK_EXCEPTION_HANDLERS})

    result = run_cli(["--dry-run", "--no-diff", "--select", "CIO304", "."], root)

    lines = [line for line in result.stdout.splitlines() if "CIO304" in line]
    logged, acted, ignored, uncaught = lines
    background = "send it from a background worker"
    in_place = f"{background}, which logs the failure in that block's place"
    for line, clause_line in ((logged, 16), (acted, 25), (ignored, 34)):
        assert "fails the request" not in line
        assert f"the `except` on line {clause_line} catches its failure" in line
    assert "[*]" not in logged
    assert f"{in_place} (unsafe: that block no longer writes its own log line" in (
        logged
    )
    assert "[*]" not in acted
    assert "in that block's place" not in acted
    assert acted.endswith(
        f"{background} (not fixed: that block calls `UNTRACKED.append` when the"
        " call fails)"
    )
    assert "[*]" in ignored
    assert ignored.endswith(in_place)
    assert "its failure fails the request" in uncaught
    assert "catches its failure" not in uncaught


# A handler with a `try` around the call. `{handlers}` is its `except`
# clauses, the first on line 17.
ACTING_HANDLER = """\
import logging

from customerio import CustomerIO, CustomerIOException
from flask import Flask, jsonify

app = Flask(__name__)
cio = CustomerIO("", "")
log = logging.getLogger(__name__)
UNTRACKED = []


@app.post("/orders/<int:uid>")
{asynchronous}def order(uid):
    ok = True
    try:
        cio.track(customer_id=uid, name="order_placed")
{handlers}
    return jsonify(ok=ok)
"""
SDK_EXCEPT = "    except CustomerIOException:\n"


@pytest.mark.parametrize(
    ("handlers", "reason"),
    [
        (
            f'{SDK_EXCEPT}        log.warning("down")\n        return {{}}, 503',
            "that block returns a response",
        ),
        (f"{SDK_EXCEPT}        return", "that block returns from the handler"),
        (
            f'{SDK_EXCEPT}        raise RuntimeError("down")',
            "the `except` on line 17 raises an exception",
        ),
        (f"{SDK_EXCEPT}        ok = False", "that block sets `ok`"),
        (f"{SDK_EXCEPT}        ok &= False", "that block sets `ok`"),
        (f"{SDK_EXCEPT}        ok: bool = False", "that block sets `ok`"),
        (
            f"{SDK_EXCEPT}        UNTRACKED.append(uid)",
            "that block calls `UNTRACKED.append`",
        ),
        (
            f"{SDK_EXCEPT}        await log_failure(uid)",
            "that block calls `log_failure`",
        ),
        (
            f"{SDK_EXCEPT}        if uid:\n            UNTRACKED.append(uid)",
            "that block does more than log",
        ),
        (
            f'    except KeyError:\n        return "missing", 400\n{SDK_EXCEPT}'
            "        pass",
            "the `except` on line 17 returns a response",
        ),
    ],
)
def test_background_acting_except_reason(project, handlers: str, reason: str) -> None:
    asynchronous = "async " if "await" in handlers else ""
    source = ACTING_HANDLER.format(asynchronous=asynchronous, handlers=handlers)
    root = project({"views.py": source})

    result = run_cli(["--select", "CIO304", "--output-format", "json", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert "in that block's place" not in finding["message"]
    assert finding["message"].endswith(
        f"send it from a background worker (not fixed: {reason} when the call fails)"
    )


REEXPORTED_EXCEPTION_VIEWS = """\
import logging

from customerio import CustomerIO
from flask import Flask

{import_line}

app = Flask(__name__)
cio = CustomerIO("", "")
log = logging.getLogger(__name__)


@app.post("/logged/<int:uid>")
def logged(uid):
    try:
        cio.track(customer_id=uid, name="logged")
    except {caught}:
        log.warning("logged was not tracked")
    return "ok"


@app.post("/ignored/<int:uid>")
def ignored(uid):
    try:
        cio.track(customer_id=uid, name="ignored")
    except {caught}:
        pass
    return "ok"
"""


@pytest.mark.parametrize(
    ("errors", "import_line", "caught"),
    [
        (
            "from customerio import CustomerIOException\n",
            "from app.errors import CustomerIOException",
            "CustomerIOException",
        ),
        (
            "from customerio.client_base import CustomerIOException as CioError\n",
            "from app.errors import CioError",
            "CioError",
        ),
        (
            "from customerio.client_base import CustomerIOException as CioError\n",
            "from app import errors",
            "errors.CioError",
        ),
    ],
)
def test_background_message_of_reexported_sdk_exception(
    project, errors: str, import_line: str, caught: str
) -> None:
    views = REEXPORTED_EXCEPTION_VIEWS.format(import_line=import_line, caught=caught)
    root = project(
        {"app/__init__.py": "", "app/errors.py": errors, "app/views.py": views}
    )

    result = run_cli(["--dry-run", "--no-diff", "--select", "CIO304", "."], root)

    lines = [line for line in result.stdout.splitlines() if "CIO304" in line]
    logged, ignored = lines
    assert "the `except` on line" in logged
    assert "[*]" not in logged
    assert "(unsafe: that block no longer writes its own log line" in logged
    assert "the `except` on line" in ignored
    assert "[*]" in ignored


@pytest.mark.parametrize(
    "errors",
    [
        # The SDK raises its own class, never the project's subclass of it.
        "from customerio import CustomerIOException\n\n\n"
        "class CioError(CustomerIOException):\n    pass\n",
        "import customerio\n\n\nclass CioError(Exception):\n    pass\n",
        "import customerio\nfrom requests import RequestException as CioError\n",
    ],
)
def test_background_message_of_project_exception(project, errors: str) -> None:
    views = REEXPORTED_EXCEPTION_VIEWS.format(
        import_line="from app.errors import CioError", caught="CioError"
    )
    root = project(
        {"app/__init__.py": "", "app/errors.py": errors, "app/views.py": views}
    )

    result = run_cli(["--dry-run", "--no-diff", "--select", "CIO304", "."], root)

    lines = [line for line in result.stdout.splitlines() if "CIO304" in line]
    assert len(lines) == 2
    for line in lines:
        assert "its failure fails the request" in line
        assert "the `except` on line" not in line
        assert "[*]" in line


def test_background_one_line_except_safety(tmp_path: Path) -> None:
    fixture = FIXTURES / "CIO304" / "except_block_on_one_line.py"
    shutil.copy(fixture, tmp_path / "views.py")

    result = run_cli(["--select", "CIO304", "--output-format", "json", "."], tmp_path)

    fixes = [finding["fix"] for finding in result.json["findings"]]
    passed, logged, ellipsis, acted = fixes
    assert passed == "safe"
    assert logged == "unsafe"
    assert ellipsis == "safe"
    assert acted is None


def test_background_message_of_grouped_failure(project) -> None:
    grouped = (
        "import asyncio\n\n"
        "from async_customerio import AsyncCustomerIO, AsyncCustomerIOError\n"
        "from fastapi import FastAPI\n\n"
        'app = FastAPI()\ncio = AsyncCustomerIO("", "")\n\n\n'
        '@app.post("/orders")\nasync def order(user_id: int):\n'
        "    try:\n"
        "        async with asyncio.TaskGroup() as tg:\n"
        '            tg.create_task(cio.track(customer_id=user_id, name="order"))\n'
        "    except AsyncCustomerIOError:\n"
        "        pass\n"
        '    return {"ok": True}\n'
    )
    root = project({"views.py": grouped})

    result = run_cli(["--dry-run", "--no-diff", "--select", "CIO304", "."], root)

    # The task group raises an ExceptionGroup, which only `except*` catches by class.
    lines = [line for line in result.stdout.splitlines() if "CIO304" in line]
    assert len(lines) == 1
    assert "its failure fails the request" in lines[0]
    assert "catches its failure" not in lines[0]


# A track sent before the identify of its customer, with a millisecond
# timestamp: CIO201, CIO103 and CIO304 all fix the track's statement.
TRACK_BEFORE_IDENTIFY = {
    "module_client": (
        "import time\n\nfrom customerio import CustomerIO\n"
        "from flask import Flask, request\n\n"
        'app = Flask(__name__)\ncio = CustomerIO("", "")\n\n\n'
        '@app.post("/profile")\ndef post():\n    form = request.get_json()\n'
        '    cio.track(customer_id=form["id"], name="saved",'
        ' data={"updated_at": int(time.time() * 1000)})\n'
        '    cio.identify(id=form["id"], email=form["email"])\n'
        '    return "ok"\n'
    ),
    "view_client": (
        "import time\n\nfrom customerio import CustomerIO\n"
        "from flask import request\nfrom flask.views import MethodView\n\n"
        'cio = CustomerIO("", "")\n\n\nclass ProfileView(MethodView):\n'
        "    def __init__(self):\n        self.cio = cio\n\n"
        "    def post(self):\n        form = request.get_json()\n"
        '        self.cio.track(customer_id=form["id"], name="saved",'
        ' data={"updated_at": int(time.time() * 1000)})\n'
        '        self.cio.identify(id=form["id"], email=form["email"])\n'
        '        return "ok"\n'
    ),
}


@pytest.mark.parametrize("case", sorted(TRACK_BEFORE_IDENTIFY))
def test_background_keeps_moved_identify(project, case) -> None:
    # Whichever fix a pass makes first, the identify must end up above the
    # track and stay on the request's thread, so that it arrives first.
    root = project({"app.py": TRACK_BEFORE_IDENTIFY[case]})

    result = run_cli(["--apply", "--output-format", "json", "."], root)

    fixed = (root / "app.py").read_text()
    identify = fixed.index('cio.identify(id=form["id"]')
    track = fixed.index("cio.track,")
    assert identify < track
    assert "_customerio_in_background(cio.identify" not in fixed
    assert "_customerio_in_background(self.cio.identify" not in fixed
    assert "int(time.time())" in fixed
    applied = {
        finding["code"]: finding["applied"]
        for finding in result.json["findings"]
        if finding["code"] != "CIO304"
    }
    assert applied == {"CIO103": True, "CIO201": True}
    background = {
        finding["message"].split("`")[1]: finding["applied"]
        for finding in result.json["findings"]
        if finding["code"] == "CIO304"
    }
    assert background == {"identify": False, "track": True}


def test_background_moved_identify_reported_unfixed(project) -> None:
    # CIO103 rebuilds the identify's call, so the fixed code's finding pairs
    # with the original by its message, whose reason the CIO201 move changes.
    moved = (
        "import time\n\nfrom customerio import CustomerIO\n"
        "from flask import Flask, request\n\n"
        'app = Flask(__name__)\ncio = CustomerIO("", "")\n\n\n'
        '@app.post("/signup")\ndef signup():\n    form = request.get_json()\n'
        '    cio.track(customer_id=form["id"], name="signed_up")\n'
        '    cio.identify(id=form["id"], created_at=int(time.time() * 1000))\n'
        '    return "ok"\n'
    )
    root = project({"app.py": moved})

    result = run_cli(
        [
            "--dry-run",
            "--output-format",
            "json",
            "--select",
            "CIO103,CIO201,CIO304",
            ".",
        ],
        root,
    )

    fixes = {
        finding["message"].split("`")[1]: finding["fix"]
        for finding in result.json["findings"]
        if finding["code"] == "CIO304"
    }
    assert fixes == {"identify": None, "track": "safe"}


def test_background_message_of_retry_loop(project) -> None:
    # The `break` runs only when the track succeeds, so the loop retries it.
    retried = (
        "from flask import Flask\nfrom customerio import CustomerIO\n\n"
        'app = Flask(__name__)\ncio = CustomerIO("", "")\n\n\n'
        '@app.post("/done/<int:uid>")\ndef done(uid):\n'
        "    for attempt in range(3):\n        try:\n"
        '            cio.track(customer_id=uid, name="done")\n            break\n'
        "        except Exception:\n            pass\n"
        '    return {"attempts": attempt + 1}\n'
    )
    root = project({"views.py": retried})

    result = run_cli(["--dry-run", "--select", "CIO304", "."], root)

    lines = [line for line in result.stdout.splitlines() if "CIO304" in line]
    assert len(lines) == 1
    assert "[*]" not in lines[0]
    assert "its `try` runs the code after it only when it succeeds" in lines[0]
    assert "_customerio_in_background" not in result.stdout


def test_background_message_of_suppress_block(project) -> None:
    # The `return` runs only when the track succeeds, and `suppress(Exception)`
    # keeps its failure from failing the request.
    suppressed = (
        "import contextlib\n\nfrom flask import Flask\nfrom customerio import CustomerIO\n\n"
        'app = Flask(__name__)\ncio = CustomerIO("", "")\n\n\n'
        '@app.post("/done/<int:uid>")\ndef done(uid):\n'
        "    with contextlib.suppress(Exception):\n"
        '        cio.track(customer_id=uid, name="done")\n'
        '        return {"sent": True}\n'
        '    return {"sent": False}\n'
    )
    root = project({"views.py": suppressed})

    result = run_cli(["--dry-run", "--select", "CIO304", "."], root)

    lines = [line for line in result.stdout.splitlines() if "CIO304" in line]
    assert len(lines) == 1
    assert "[*]" not in lines[0]
    assert "its failure fails the request" not in lines[0]
    assert (
        "its `suppress` block runs the code after it only when it succeeds" in lines[0]
    )


# Loops that build one client per workspace, but run again per event,
# request or message: the start-up exemption must not cover them.
PER_EVENT_LOOPS = {
    "bus_on_event": 'import os\n\nfrom customerio import CustomerIO\nfrom myapp.events import bus\n\nWORKSPACES = ("US", "EU")\n\n\n@bus.on_event("order.created")\ndef notify(order):\n    for region in WORKSPACES:\n        client = CustomerIO(os.environ[f"CIO_{region}_SITE_ID"], os.environ[f"CIO_{region}_API_KEY"])\n        client.track(order.customer_id, "order_created", total=order.total)\n',
    "lifespan_called_per_request": 'import os\n\nfrom customerio import CustomerIO\nfrom fastapi import FastAPI\n\napp = FastAPI()\nWORKSPACES = ("US", "EU")\n\n\ndef lifespan(customer):\n    """Days between the customer\'s first and last order, sent to every workspace."""\n    days = (customer.last_order - customer.first_order).days\n    for region in WORKSPACES:\n        client = CustomerIO(os.environ[f"CIO_{region}_SITE_ID"], os.environ[f"CIO_{region}_API_KEY"])\n        client.identify(id=customer.id, email=customer.email, lifespan_days=days)\n\n\n@app.post("/orders/{customer_id}")\ndef record_order(customer_id: str):\n    customer = load(customer_id)\n    lifespan(customer)\n    return {"ok": True}\n',
    "lambda_view_in_create_app": 'import os\n\nfrom customerio import CustomerIO\nfrom flask import Flask\n\nWORKSPACES = ("US", "EU")\n\n\ndef create_app():\n    app = Flask(__name__)\n    app.add_url_rule(\n        "/ping",\n        view_func=lambda: [\n            CustomerIO(os.environ[f"CIO_{r}_SITE_ID"], os.environ[f"CIO_{r}_API_KEY"]).identify(id="x", email="a@b.c")\n            for r in WORKSPACES\n        ]\n        and "ok",\n    )\n    return app\n',
    "main_consumer": 'import json\nimport os\n\nfrom customerio import CustomerIO\n\nfrom myapp.queue import queue\n\nWORKSPACES = ("US", "EU")\n\n\ndef main():\n    while True:\n        message = json.loads(queue.get())\n        for region in WORKSPACES:\n            client = CustomerIO(os.environ[f"CIO_{region}_SITE_ID"], os.environ[f"CIO_{region}_API_KEY"])\n            client.track(message["user_id"], "order_shipped")\n\n\nif __name__ == "__main__":\n    main()\n',
}


@pytest.mark.parametrize("source", PER_EVENT_LOOPS.values(), ids=list(PER_EVENT_LOOPS))
def test_clients_loop_run_again_is_reported(project, source: str) -> None:
    root = project({"app.py": source})

    result = run_cli(["--dry-run", "--select", "CIO601", "."], root)

    assert "CIO601" in result.stdout


LAMBDA_EXPORTS = '"""A separate Lambda function, deployed on its own, that reports finished exports."""\nimport os\n\nfrom customerio import CustomerIO\nfrom fastapi import FastAPI\nfrom mangum import Mangum\n\napi = FastAPI()\ncio = CustomerIO(os.environ["CIO_SITE_ID"], os.environ["CIO_API_KEY"])\n\n\n@api.post("/exports/{user_id}")\ndef export_done(user_id: str):\n    cio.track(user_id, "export_finished")\n    return {"ok": True}\n\n\nhandler = Mangum(api)\n'
GUNICORN_VIEWS = '"""A Flask app served by gunicorn on a long-running server (not on Lambda)."""\nimport os\n\nfrom customerio import CustomerIO\nfrom flask import Flask, request\n\napp = Flask(__name__)\ncio = CustomerIO(os.environ["CIO_SITE_ID"], os.environ["CIO_API_KEY"])\n\n\n@app.post("/signup")\ndef signup():\n    cio.identify(id=request.json["id"], email=request.json["email"])\n    return "ok"\n'


def test_background_lambda_package_leaves_others_reported(project) -> None:
    root = project(
        {
            "lambdas/__init__.py": "",
            "lambdas/exports.py": LAMBDA_EXPORTS,
            "web/__init__.py": "",
            "web/views.py": GUNICORN_VIEWS,
        }
    )

    result = run_cli(["--dry-run", "--select", "CIO304", "."], root)

    lines = [line for line in result.stdout.splitlines() if "CIO304" in line]
    assert len(lines) == 1
    assert lines[0].startswith("web/views.py")


NARROW_OR_RERAISED = (
    "import logging\n\nfrom customerio import CustomerIO\nfrom flask import Flask, request\n\n"
    'app = Flask(__name__)\ncio = CustomerIO("site", "key")\n\n\n'
    '@app.post("/a")\ndef a():\n    try:\n'
    '        cio.identify(id=request.json["id"])\n'
    '    except KeyError:\n        return "bad request", 400\n    return "ok"\n\n\n'
    '@app.post("/b")\ndef b():\n    try:\n'
    '        cio.identify(id=request.json["id"])\n'
    "    except (ValueError, Exception):\n"
    '        logging.exception("identify failed")\n        raise\n    return "ok"\n'
)


def test_background_message_of_failure_not_swallowed(project) -> None:
    root = project({"views.py": NARROW_OR_RERAISED})

    result = run_cli(["--dry-run", "--select", "CIO304", "."], root)

    lines = [line for line in result.stdout.splitlines() if "CIO304" in line]
    assert len(lines) == 2
    assert all("its failure fails the request" in line for line in lines)


# -- findings reported without a fix ------------------------------------------------------

WITHHELD_REASONS = {
    "local_imports.py": "(not fixed: `CustomerIO` is imported inside `signup`,",
    "global_rebinding.py": (
        "(not fixed: `init_app` rebinds `SITE_ID` through `global` on line 14,"
    ),
    "closed_by_wrapper.py": "(not fixed: `closing()` closes the client,",
    "none_placeholder.py": "(not fixed: `SITE_ID` is None at import, a placeholder",
    "empty_string_placeholder.py": (
        "(not fixed: `SITE_ID` is an empty string at import, a placeholder"
    ),
    "set_through_globals.py": (
        "(not fixed: the module sets `SITE_ID` through `globals()` on line 12,"
    ),
    "set_through_module_object.py": (
        "(not fixed: the module sets `API_KEY` through its module object on line 13,"
    ),
    "set_through_module_alias.py": (
        "(not fixed: the module sets `SITE_ID` through its module object on line 14,"
    ),
    "conditional_constants.py": "(not fixed: `SITE` is bound more than once at module",
    "class_defined_below.py": "(not fixed: `Config` is a class, whose attributes",
    "keyed_parameter_hides_name.py": "(not fixed: the parameter `site_id` of a cache",
    "local_argument_without_parameter.py": "(not fixed: cio-fix cannot tell which",
    "async_client.py": "(not fixed: cio-fix does not write start-up code;",
    "async_factory.py": "(not fixed: functools.cache on an `async def` caches",
    "async_client_factory.py": "(not fixed: cio-fix does not write start-up code;",
    "factory_with_parameters.py": "(not fixed: a cache keyed by the parameters",
    "factory_closed_in_same_file.py": "(not fixed: a caller closes the client,",
    "wrapper_same_file.py": "(not fixed: an instance may keep state of its own,",
    "key_deleted_through_global.py": (
        "(not fixed: `forget_keys` deletes `API_KEY` through `global` on line 13,"
    ),
    "key_deleted_at_module_level.py": (
        "(not fixed: the module deletes `SITE_ID` on line 12,"
    ),
    "key_cleared_through_globals.py": (
        "(not fixed: the module may set or delete any module-level name through"
        " `globals()` on line 12,"
    ),
    "lazy_global_removed_through_globals.py": (
        "(not fixed: `order_created` deletes `CIO_CLIENT` through `globals()` on"
        " line 14, so the code may rely on a new client each time;"
    ),
    "lazy_global_reset_by_called_function.py": (
        "(not fixed: `order_created` calls `reload_settings` on line 21, and"
        " `reload_settings` rebinds `_client` through `global` on line 15,"
    ),
    "key_changed_per_item.py": (
        "(not fixed: `export_owners` sets `settings.SITE_ID` on line 10, so a"
        " client built once could keep its old value)"
    ),
    "lazy_global_deleted_before_getter.py": (
        "(not fixed: `order_created`, which runs per request or per item, calls"
        " `forget_client` on line 26, and `forget_client` deletes `_client` through"
        " `global` on line 21,"
    ),
}


@pytest.mark.parametrize("name", sorted(WITHHELD_REASONS))
def test_clients_withheld_fix_gives_reason(project, name: str) -> None:
    source = (FIXTURES / "CIO601" / name).read_text(encoding="utf-8")
    root = project({"app.py": source})

    result = run_cli(["--output-format", "json", "--select", "CIO601", "."], root)

    first = result.json["findings"][0]
    assert WITHHELD_REASONS[name] in first["message"]
    assert first["fix"] is None


# The reasons of every finding of a fixture, in the order of the findings.
WITHHELD_REASON_LISTS = {
    "request_scoped_arguments.py": [
        "(not fixed: `request` may differ from one request to the next)",
        "(not fixed: `session` belongs to the current request, app or context)",
        "(not fixed: `current_tenant.get()` may return another value on each request)",
        "(not fixed: `current_app` belongs to the current request, app or context)",
    ],
    "unpacked_arguments.py": [
        "(not fixed: the call passes `*CREDENTIALS`, whose arguments",
        "(not fixed: the call passes `**OPTIONS`, whose arguments",
    ],
    "functools_name_taken.py": [
        "(not fixed: the name `functools` is bound to something else in this module)",
        "(not fixed: the name `functools` is bound to something else in this module)",
    ],
    "unfollowed_arguments.py": [
        "(not fixed: `SITE_ID` has no assignment or import by name at module level)",
        "(not fixed: the key in `CONFIG[KEY_NAME]` is not a literal,",
        '(not fixed: cio-fix cannot tell whether `PREFIX + CONFIG["site"]` is the same',
        "(not fixed: cio-fix does not follow how `REGION` is bound at module level)",
    ],
    "factory_reads_request_header.py": [
        '(not fixed: the key in `WORKSPACES[request.headers["X-Tenant"]]` is not a'
        " literal,",
    ],
    "factory_reads_flask_g.py": [
        "(not fixed: `g` belongs to the current request, app or context)",
    ],
    "factory_reads_current_app_config.py": [
        "(not fixed: `current_app` belongs to the current request, app or context)",
    ],
    "factory_reads_context_variable.py": [
        "(not fixed: the key in `KEYS[tenant.get()]` is not a literal,",
        "(not fixed: `state` is a `threading.local()`, whose attributes belong",
    ],
    "factory_reads_database.py": [
        "(not fixed: `load_keys_from_db()` may return another value on each request)",
        "(not fixed: `Workspace.query.filter_by(active=True).one()` may return",
    ],
    "factory_local_bound_in_block.py": [
        "(not fixed: `region` is bound more than once in `get_cio`,",
        "(not fixed: `api_key` is bound inside an `if`, loop, `try` or `with` block",
    ],
    "thread_local_arguments.py": [
        "(not fixed: `state` is a `threading.local()`, whose attributes belong",
    ],
    "factory_reads_uncertain_expressions.py": [
        "(not fixed: `request` may differ from one request to the next)",
        '(not fixed: the key in `REGIONS[request.args.get("region", "us").lower()]`',
        "(not fixed: `cache.get()` may return another value on each request)",
        "(not fixed: `current_settings()` may return another value on each request)",
        "(not fixed: `tenant_settings` is cached per argument, and cio-fix follows",
        "(not fixed: `get_settings()` may return another value on each request)",
    ],
    "global_rebuilt_per_request.py": [
        "(not fixed: it is stored in the module-level `_client`, which other code",
        "(not fixed: it is stored in the module-level `_client`, which other code",
        "(not fixed: it is stored in the module-level `_client`, which other code",
        "(not fixed: it is stored in the module-level `_fresh_client`, which other",
    ],
    "key_removed_through_globals.py": [
        "(not fixed: the module deletes `SITE_ID` through `globals()` on line 12,",
        "(not fixed: the module deletes `API_KEY` through `globals()` on line 16,",
    ],
    "key_item_changed_per_request.py": [
        "(not fixed: `load_config`, which runs per request or per item, calls"
        " `CONFIG.update()` on line 15, so a client built once could keep its old",
        "(not fixed: `load_config`, which runs per request or per item, calls"
        " `CONFIG.update()` on line 15,",
        "(not fixed: `login` sets `settings.SITE_ID` on line 39,",
    ],
    "lazy_dict_emptied_by_called_function.py": [
        "(not fixed: `signup` removes the client from `_clients` (through"
        " `forget_clients()` on line 24) before it calls `client_for`,",
        "(not fixed: `order_created` removes the client from `_clients` (through"
        " `forget_clients()` on line 31) before it builds one,",
    ],
    "key_deleted_through_module_object.py": [
        "(not fixed: the module deletes `API_KEY` through its module object on line 15,",
        "(not fixed: the module deletes `SITE_ID` through its module object on line 19,",
    ],
}


@pytest.mark.parametrize("name", sorted(WITHHELD_REASON_LISTS))
def test_clients_each_withheld_fix_gives_reason(project, name: str) -> None:
    source = (FIXTURES / "CIO601" / name).read_text(encoding="utf-8")
    root = project({"app.py": source})

    result = run_cli(["--output-format", "json", "--select", "CIO601", "."], root)

    findings = result.json["findings"]
    assert len(findings) == len(WITHHELD_REASON_LISTS[name])
    for finding, reason in zip(findings, WITHHELD_REASON_LISTS[name], strict=True):
        assert reason in finding["message"]
        assert finding["fix"] is None


# The reason of each finding of a fixture whose clients some code changes, in
# the order of the findings; None for a finding that gets its fix.
CHANGED_CLIENT_REASONS = {
    "factory_changed_by_callers.py": [
        "(not fixed: `fast` sets `cio.timeout` after calling `timed_client()`, so a"
        " cached client would keep",
        '(not fixed: `tagged` sets `cio.http.headers["X-Request"]` after calling'
        " `tagged_client()`, so a cached client would keep",
        "(not fixed: `tuned` passes `cio` to `tune()` after calling `tuned_client()`,",
        None,
    ],
    "instance_client_changed_by_method.py": [
        "(not fixed: `OrderView.setup` sets `self.client.timeout`, so a shared client"
        " would keep",
        "(not fixed: `RefundHandler.prepare` sets"
        ' `self.cio.http.headers["X-Request"]`, so a shared client would keep',
        "(not fixed: `SignupHandler.on_finish` replaces or deletes `self.cio`,",
        None,
    ],
    "factory_changed_in_other_module": [
        "(not fixed: `order_created` passes `cio` to `tune()` after calling"
        " `order_client()`,",
        "(not fixed: `SignupView.setup` sets `self.cio.timeout`, so a shared client",
        None,
    ],
}


@pytest.mark.parametrize("name", sorted(CHANGED_CLIENT_REASONS))
def test_clients_changed_client_withholds_fix(tmp_path: Path, name: str) -> None:
    entry = FIXTURES / "CIO601" / name
    if entry.is_dir():
        shutil.copytree(entry, tmp_path, dirs_exist_ok=True)
    else:
        shutil.copyfile(entry, tmp_path / name)

    result = run_cli(["--output-format", "json", "--select", "CIO601", "."], tmp_path)

    findings = result.json["findings"]
    reasons = CHANGED_CLIENT_REASONS[name]
    assert len(findings) == len(reasons)
    for finding, reason in zip(findings, reasons, strict=True):
        if reason is None:
            assert "(not fixed" not in finding["message"]
            assert finding["fix"] is not None
        else:
            assert reason in finding["message"]
            assert finding["fix"] is None


def test_clients_no_fixture_withholds_fix_silently(tmp_path: Path) -> None:
    # Every CIO601 fixture in one run, each in a folder of its own.
    for entry in sorted((FIXTURES / "CIO601").iterdir()):
        if entry.name.endswith(".expected.py"):
            continue
        if entry.is_dir():
            shutil.copytree(entry, tmp_path / entry.name)
        elif entry.suffix == ".py":
            (tmp_path / entry.stem).mkdir()
            shutil.copyfile(entry, tmp_path / entry.stem / entry.name)

    result = run_cli(["--output-format", "json", "--select", "CIO601", "."], tmp_path)

    withheld = [f for f in result.json["findings"] if f["fix"] is None]
    assert len(withheld) > 20
    silent = [
        f"{f['path']}:{f['line']}"
        for f in withheld
        if "(not fixed: " not in f["message"]
    ]
    assert silent == []


GLOBALS_WRITES = {
    "globals()['SITE_ID'] = 'x'": frozenset({"SITE_ID"}),
    "globals()['A'], globals()['B'] = 1, 2": frozenset({"A", "B"}),
    "del globals()['SITE_ID']": frozenset({"SITE_ID"}),
    "globals().update(SITE_ID=1, API_KEY=2)": frozenset({"SITE_ID", "API_KEY"}),
    "globals().update({'SITE_ID': 1})": frozenset({"SITE_ID"}),
    "globals().setdefault('SITE_ID', 1)": frozenset({"SITE_ID"}),
    "x = globals().get('SITE_ID')": frozenset(),
    "x = globals()['SITE_ID']": frozenset(),
    "x = 'SITE_ID' in globals()": frozenset(),
    "globals()[name] = 1": None,
    "globals().update(config)": None,
    "globals().update(**config)": None,
    "globals().clear()": None,
    "exec(code, globals())": None,
}


@pytest.mark.parametrize("statement", sorted(GLOBALS_WRITES))
def test_clients_globals_writes(statement: str) -> None:
    source = f"def configure(config, name, code):\n    {statement}\n"
    index = build_index(cst.parse_module(source), "app", False)

    assert globals_writes(index) == GLOBALS_WRITES[statement]


OWN_MODULE_WRITES = {
    "setattr(sys.modules[__name__], 'API_KEY', key)": frozenset({"API_KEY"}),
    "delattr(sys.modules[__name__], 'API_KEY')": frozenset({"API_KEY"}),
    "sys.modules[__name__].API_KEY = key": frozenset({"API_KEY"}),
    "vars(sys.modules[__name__])['API_KEY'] = key": frozenset({"API_KEY"}),
    "sys.modules[__name__].__dict__.update(API_KEY=key)": frozenset({"API_KEY"}),
    "this = sys.modules[__name__]; this.API_KEY = key": frozenset({"API_KEY"}),
    "this = sys.modules[__name__]; setattr(this, 'API_KEY', key)": frozenset(
        {"API_KEY"}
    ),
    "this = sys.modules[__name__]; that = this; that.API_KEY = key": frozenset(
        {"API_KEY"}
    ),
    "x = getattr(sys.modules[__name__], 'API_KEY')": frozenset(),
    "x = sys.modules[__name__].API_KEY": frozenset(),
    "x = 'API_KEY' in vars(sys.modules[__name__])": frozenset(),
    "x = sys.modules['other'].API_KEY": frozenset(),
    "setattr(sys.modules['other'], 'API_KEY', key)": frozenset(),
    "setattr(sys.modules[__name__], name, key)": None,
    "sys.modules[__name__].__setattr__('API_KEY', key)": None,
    "vars(sys.modules[__name__]).update(config)": None,
    "register(sys.modules[__name__])": None,
    "this = sys.modules[__name__]; register(this)": None,
    "import app; delattr(app, 'API_KEY')": frozenset({"API_KEY"}),
    "import app as this; this.API_KEY = key": frozenset({"API_KEY"}),
    "from app import API_KEY; x = API_KEY": frozenset(),
    "import app; x = app.API_KEY": frozenset(),
    "import application; application.API_KEY = key": frozenset(),
}


@pytest.mark.parametrize("statement", sorted(OWN_MODULE_WRITES))
def test_clients_own_module_writes(statement: str) -> None:
    source = f"import sys\n\ndef configure(config, name, key):\n    {statement}\n"
    index = build_index(cst.parse_module(source), "app", False)

    assert own_module_writes(index) == OWN_MODULE_WRITES[statement]


HARD_CODED_KEYS_APP = """\
from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)


@app.post("/signup")
def signup():
    cio = CustomerIO("3f9a1b2c3d4e5f60a7b8", "0a1b2c3d4e5f60718293a4b5c6d7e8f9")
    cio.identify(id=1)
    return "ok"
"""


def test_clients_hard_coded_keys_get_factory(project) -> None:
    root = project({"together/app.py": HARD_CODED_KEYS_APP})
    run_cli(["--apply", "--select", "CIO101,CIO601", "together"], root)
    together = (root / "together" / "app.py").read_text(encoding="utf-8")

    # The same fixes one rule after the other: CIO601 then finds environment reads.
    (root / "in_turn").mkdir()
    (root / "in_turn" / "app.py").write_text(HARD_CODED_KEYS_APP, encoding="utf-8")
    run_cli(["--apply", "--select", "CIO101", "in_turn"], root)
    run_cli(["--apply", "--select", "CIO601", "in_turn"], root)
    in_turn = (root / "in_turn" / "app.py").read_text(encoding="utf-8")

    assert "@functools.cache\ndef _customerio_client():" in together
    assert 'os.environ["CUSTOMERIO_SITE_ID"]' in together
    assert together == in_turn


# The class variables that the fixture's handlers store a new client in, in
# source order. Each of those clients is reported without a fix.
CLASS_VARIABLE_TARGETS = [
    "NamedView.client",
    "type(self).client",
    "self.__class__.client",
]


def test_clients_class_variable_fix_withheld(tmp_path) -> None:
    shutil.copytree(FIXTURES / "CIO601" / "class_variable_shared", tmp_path / "app")
    (tmp_path / "app" / "views.expected.py").unlink()

    result = run_cli(
        ["--output-format", "json", "--select", "CIO601", "."], tmp_path / "app"
    )
    findings = result.json["findings"]

    fixed = [finding for finding in findings if finding["fix"] is not None]
    withheld = [finding["message"] for finding in findings if finding["fix"] is None]
    assert [finding["line"] for finding in fixed] == [13]
    assert len(withheld) == len(CLASS_VARIABLE_TARGETS)
    for message, target in zip(withheld, CLASS_VARIABLE_TARGETS, strict=True):
        assert message.endswith(
            f"(not fixed: it is stored in the class variable `{target}`, which other"
            " code may read, replace or close, so one shared client could behave"
            " differently)"
        )


def test_clients_lazy_class_variable_skipped(tmp_path) -> None:
    shutil.copyfile(
        FIXTURES / "CIO601" / "lazy_class_variable.py", tmp_path / "views.py"
    )

    result = run_cli(["--output-format", "json", "--select", "CIO601", "."], tmp_path)

    assert result.json["findings"] == []


# The constructions of the fixture that still run per request or per item, by
# line: only the instance attribute is fixed, because each of the others is
# stored in a class variable.
NOT_LAZY_LINES = {
    13: "self.client under its own guard",
    23: "guard on another attribute",
    32: "guard on another class",
    41: "guard joined with `or`",
    52: "built in the `else` branch",
    61: "unset again by the handler",
    75: "built in a loop inside the guard",
    89: "guard reads an instance attribute",
    97: "one-line body without a guard",
    107: "`cls.client` in a loop",
}


def test_clients_class_variable_not_lazy_reported(tmp_path) -> None:
    shutil.copyfile(
        FIXTURES / "CIO601" / "lazy_class_variable_not_lazy.py", tmp_path / "views.py"
    )

    result = run_cli(["--output-format", "json", "--select", "CIO601", "."], tmp_path)
    findings = result.json["findings"]

    lines = [finding["line"] for finding in findings]
    fixed = [finding["line"] for finding in findings if finding["fix"] is not None]
    assert lines == list(NOT_LAZY_LINES)
    assert fixed == [13]


# What each handler of the fixture does to the client it builds, in source
# order. Each of those clients is reported without a fix.
CLIENT_CHANGES = [
    ("fast", "sets `cio.timeout`"),
    ("mounted", "calls `cio.http.mount()`"),
    ("headers", 'sets `cio.http.headers["X-Request"]`'),
    ("tuned", "passes `cio` to `tune()`"),
    ("aliased", "calls `setattr()` on `client`"),
    ("with_statement", "deletes `cio.timeout`"),
]


def test_clients_changed_client_fix_withheld(tmp_path) -> None:
    shutil.copy(FIXTURES / "CIO601" / "changed_after_construction.py", tmp_path)

    result = run_cli(["--output-format", "json", "--select", "CIO601", "."], tmp_path)
    findings = result.json["findings"]

    fixed = [finding for finding in findings if finding["fix"] is not None]
    withheld = [finding["message"] for finding in findings if finding["fix"] is None]
    assert [finding["line"] for finding in fixed] == [68]
    assert len(withheld) == len(CLIENT_CHANGES)
    for message, (function, change) in zip(withheld, CLIENT_CHANGES, strict=True):
        assert message.endswith(
            f"(not fixed: `{function}` {change} after building the client, so a"
            " shared client would keep any change this makes for every later request)"
        )


PER_REQUEST_TIMEOUT = """\
from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)


@app.post("/fast")
def fast():
    cio = CustomerIO("site", "key")
    cio.timeout = 1
    return cio.timeout


@app.post("/slow")
def slow():
    cio = CustomerIO("site", "key")
    return cio.timeout
"""
# A stand-in for the SDK's client, which keeps its timeout as an attribute.
TIMEOUT_SDK = """\
class CustomerIO:
    def __init__(self, site_id, api_key, timeout=10):
        self.timeout = timeout
"""
TIMEOUT_CHECK = """\
import app

print(app.fast(), app.slow())
"""


def test_clients_setting_stays_in_handler(tmp_path) -> None:
    (tmp_path / "customerio.py").write_text(TIMEOUT_SDK, encoding="utf-8")
    (tmp_path / "flask.py").write_text(
        "class Flask:\n"
        "    def __init__(self, name):\n"
        "        pass\n\n"
        "    def post(self, path):\n"
        "        return lambda function: function\n",
        encoding="utf-8",
    )
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(PER_REQUEST_TIMEOUT, encoding="utf-8")
    (project / "check.py").write_text(TIMEOUT_CHECK, encoding="utf-8")

    run_cli(["--apply", "--select", "CIO601", "."], project)
    completed = subprocess.run(
        [sys.executable, "check.py"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )

    # The slow handler's client is shared, and the fast one keeps its own.
    fixed = (project / "app.py").read_text(encoding="utf-8")
    assert fixed.count('CustomerIO("site", "key")') == 2
    assert completed.stdout.split() == ["1", "10"]


EMPTIED_CLIENT_DICT = """\
import os

from customerio import CustomerIO
from flask import Flask

app = Flask(__name__)
_clients = {}


@app.post("/orders/<site>")
def order_created(site):
    _clients.pop(site, None)
    if site not in _clients:
        _clients[site] = CustomerIO(site, os.environ["CIO_API_KEY"])
    _clients[site].track(customer_id=1, name="order_placed")
    return "ok"


@app.post("/refunds/<site>")
def refund(site):
    if site not in _clients:
        _clients[site] = CustomerIO(site, os.environ["CIO_API_KEY"])
    _clients[site].track(customer_id=1, name="refund_issued")
    _clients.pop(site).close()
    return "ok"


def client_for(site):
    if site not in _clients:
        _clients[site] = CustomerIO(site, os.environ["CIO_API_KEY"])
    return _clients[site]


@app.post("/signup/<site>")
def signup(site):
    _clients.clear()
    client_for(site).identify(id=1)
    return "ok"
"""


def _cio601_findings(root: Path) -> dict[int, dict]:
    result = run_cli(
        ["--dry-run", "--output-format", "json", "--select", "CIO601", "."], root
    )
    return {finding["line"]: finding for finding in result.json["findings"]}


def test_clients_dict_emptied_before_fill_reason(project) -> None:
    findings = _cio601_findings(project({"app.py": EMPTIED_CLIENT_DICT}))

    assert findings[14]["fix"] is None
    assert findings[14]["message"].endswith(
        "(not fixed: `order_created` removes the client from `_clients` before it"
        " builds one, on every call, so the code may rely on a new client each"
        " time; remove a client from `_clients` only when a call with it fails)"
    )


def test_clients_dict_emptied_by_caller_reason(project) -> None:
    findings = _cio601_findings(project({"app.py": EMPTIED_CLIENT_DICT}))

    assert findings[30]["fix"] is None
    assert findings[30]["message"].endswith(
        "(not fixed: `signup` removes the client from `_clients` before it calls"
        " `client_for`, on every call, so the code may rely on a new client each"
        " time; remove a client from `_clients` only when a call with it fails)"
    )


def test_clients_dict_client_taken_out_reason(project) -> None:
    findings = _cio601_findings(project({"app.py": EMPTIED_CLIENT_DICT}))

    assert findings[22]["fix"] is None
    assert findings[22]["message"].endswith(
        "(not fixed: `refund` takes the client out of `_clients` on every call and"
        " uses it afterwards, for example to close it, which would close a shared"
        " client for every later request; remove a client from `_clients` only"
        " when a call with it fails)"
    )


NAMED_IMPORTS_APP = """\
import os
{imports}
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)
{extra}

@app.post("/signup")
def signup():
    cio = CustomerIO(os.environ["CIO_SITE_ID"], os.environ["CIO_API_KEY"])
    cio.track(customer_id=request.form["uid"], name="signed_up")
    return "ok"
"""


def _fixed_with_imports(project, imports: str, extra: str = "") -> str:
    source = NAMED_IMPORTS_APP.format(imports=imports, extra=extra)
    root = project({"app.py": source})
    run_cli(["--apply", "--select", "CIO304,CIO601", "."], root)
    return (root / "app.py").read_text(encoding="utf-8")


def test_clients_helpers_join_named_imports(project) -> None:
    fixed = _fixed_with_imports(
        project, "from functools import wraps\nfrom logging import INFO\n"
    )

    assert "from functools import cache, wraps\n" in fixed
    assert "\n@cache\ndef _customerio_client():\n" in fixed
    assert "from logging import INFO, getLogger\n" in fixed
    assert "        getLogger(__name__).error(\n" in fixed
    assert "import functools\n" not in fixed
    assert "import logging\n" not in fixed


def test_clients_helpers_named_import_taken(project) -> None:
    fixed = _fixed_with_imports(
        project,
        "from functools import wraps\nfrom logging import INFO\n",
        extra="cache = {}\ngetLogger = print\n",
    )

    assert "import functools\n" in fixed
    assert "\n@functools.cache\ndef _customerio_client():\n" in fixed
    assert "import logging\n" in fixed
    assert "        logging.getLogger(__name__).error(\n" in fixed


def test_clients_helpers_prefer_module_import(project) -> None:
    fixed = _fixed_with_imports(
        project, "import functools\nimport logging\nfrom logging import INFO\n"
    )

    assert "\n@functools.cache\ndef _customerio_client():\n" in fixed
    assert "        logging.getLogger(__name__).error(\n" in fixed
    assert "from logging import INFO\n" in fixed


def test_clients_patched_class_keeps_construction(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "CIO601" / "patched_by_tests", tmp_path / "project")
    for expected in (tmp_path / "project").rglob("*.expected.py"):
        expected.unlink()
    result = run_cli(
        ["--select", "CIO601", "--output-format", "json", "."], tmp_path / "project"
    )
    messages = {
        finding["path"]: finding["message"] for finding in result.json["findings"]
    }

    assert "tests/test_views.py" not in messages
    assert (
        "(not fixed: tests/test_views.py patches `customerio.CustomerIO` on line 9,"
        in messages["app/views.py"]
    )
    assert (
        "(not fixed: tests/test_views.py patches `app.signups.APIClient` on line 17,"
        in messages["app/signups.py"]
    )
    assert "not fixed" not in messages["app/refunds.py"]


def test_clients_optional_sdk_reason(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "CIO601" / "optional_sdk_import.py", tmp_path / "views.py")
    result = run_cli(["--select", "CIO601", "--output-format", "json", "."], tmp_path)
    withheld = [
        finding["message"]
        for finding in result.json["findings"]
        if finding["fix"] is None
    ]

    assert len(withheld) == 1
    assert "placeholder" not in withheld[0]
    assert (
        "(not fixed: `CustomerIO` is None when its import fails (line 8), and cio-fix"
        " builds the client once only after a test that `CustomerIO` is not None)"
    ) in withheld[0]


OPTIONAL_COMPAT = (
    "try:\n"
    "    from customerio import CustomerIO\n"
    "except ImportError:  # the SDK is optional in local development\n"
    "    CustomerIO = None\n"
)
# A Flask handler that builds a client per request and passes an event
# attribute as a keyword argument, which customerio 3.x rejects.
SIGNUP_VIEW = """\
import os

from flask import Flask, request

{imports}

app = Flask(__name__)


@app.post("/signup")
def signup():
    if CustomerIO is None:
        return "disabled"
    cio = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_API_KEY"])
    cio.track(customer_id=request.json["id"], name="signed_up", plan="pro")
    return "ok"
"""


@pytest.mark.parametrize(
    "compat", [OPTIONAL_COMPAT, "from customerio import CustomerIO\n"]
)
def test_clients_reexported_class_same_findings(project, compat: str) -> None:
    requirements = "flask\ncustomerio==3.0.0\n"
    root = project(
        {
            "same/requirements.txt": requirements,
            "same/views.py": SIGNUP_VIEW.format(imports=compat.rstrip()),
            "reexported/requirements.txt": requirements,
            "reexported/compat.py": compat,
            "reexported/views.py": SIGNUP_VIEW.format(
                imports="from compat import CustomerIO"
            ),
        }
    )

    direct = run_cli(["--output-format", "json", "."], root / "same").json
    reexported = run_cli(["--output-format", "json", "."], root / "reexported").json
    fixed_direct = run_cli(["--dry-run", "--no-cache", "."], root / "same")
    fixed_reexported = run_cli(["--dry-run", "--no-cache", "."], root / "reexported")

    codes = [(finding["code"], finding["fix"]) for finding in reexported["findings"]]
    assert codes == [("CIO601", "safe"), ("CIO304", "safe"), ("CIO701", "safe")]
    assert codes == [
        (finding["code"], finding["fix"]) for finding in direct["findings"]
    ]
    assert "+def _customerio_client():\n" in fixed_reexported.stdout
    assert fixed_reexported.stdout.count("\n+") == fixed_direct.stdout.count("\n+")


def test_clients_reexported_optional_class_reason(project) -> None:
    view = SIGNUP_VIEW.format(imports="from compat import CustomerIO").replace(
        '    if CustomerIO is None:\n        return "disabled"\n', ""
    )
    root = project({"compat.py": OPTIONAL_COMPAT, "views.py": view})

    result = run_cli(["--select", "CIO601", "--output-format", "json", "."], root)

    [finding] = result.json["findings"]
    assert finding["fix"] is None
    assert "placeholder" not in finding["message"]
    assert (
        "(not fixed: `CustomerIO` is None when its import in compat.py fails, and"
        " cio-fix builds the client once only after a test that `CustomerIO` is not"
        " None)"
    ) in finding["message"]


def test_clients_optional_class_alias_reason(tmp_path: Path) -> None:
    fixture = FIXTURES / "CIO601" / "class_alias_of_optional_import"
    shutil.copytree(fixture, tmp_path / "project")
    for expected in (tmp_path / "project").rglob("*.expected.py"):
        expected.unlink()
    result = run_cli(
        ["--select", "CIO601", "--output-format", "json", "."], tmp_path / "project"
    )
    messages = {
        (finding["path"], finding["line"]): finding["message"]
        for finding in result.json["findings"]
        if finding["fix"] is None
    }
    fixed = [
        (finding["path"], finding["line"])
        for finding in result.json["findings"]
        if finding["fix"] is not None
    ]

    assert sorted(fixed) == [("acme/compat.py", 29), ("acme/jobs.py", 36)]
    in_module = "when the import of `CustomerIO` fails (line 7), and cio-fix builds"
    imported = "when the import of `CustomerIO` in acme/compat.py fails, and cio-fix"
    expected = {
        ("acme/compat.py", 15): f"`Client` is None {in_module}",
        ("acme/compat.py", 21): f"`Tracker` is None {in_module}",
        ("acme/jobs.py", 11): f"`Client` is None {imported}",
        ("acme/jobs.py", 17): f"`Tracker` is None {imported}",
        ("acme/jobs.py", 23): f"`compat.Client` is None {imported}",
        ("acme/jobs.py", 29): f"`Sdk` is None {imported}",
    }
    assert sorted(messages) == sorted(expected)
    for position, reason in expected.items():
        assert f"(not fixed: {reason}" in messages[position]


@pytest.mark.parametrize(
    ("target", "withheld"),
    [
        ("app.compat.CustomerIO", True),
        ("app.sdk.CustomerIO", True),
        ("customerio.CustomerIO", True),
        ("app.compat.APIClient", False),
        ("app.other.CustomerIO", False),
    ],
)
def test_clients_reexported_class_patched(project, target: str, withheld: bool) -> None:
    root = project(
        {
            "app/__init__.py": "",
            "app/compat.py": "from customerio import APIClient, CustomerIO\n",
            "app/sdk.py": "from .compat import CustomerIO\n",
            "app/other.py": "from customerio import CustomerIO\n",
            "app/views.py": SIGNUP_VIEW.format(
                imports="from app.sdk import CustomerIO"
            ),
            "tests/test_views.py": (
                "from unittest import mock\n\n\n"
                "def test_signup():\n"
                f'    with mock.patch("{target}"):\n'
                "        pass\n"
            ),
        }
    )

    result = run_cli(["--select", "CIO601", "--output-format", "json", "."], root)

    [finding] = result.json["findings"]
    assert finding["path"] == "app/views.py"
    assert (f"patches `{target}` on line 5" in finding["message"]) is withheld
    assert (finding["fix"] is None) is withheld


SYNC_TASK = """\
import os

from customerio import CustomerIO


def sync_all(users):
    for user in users:
        cio = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], os.environ["CUSTOMERIO_API_KEY"])
        cio.identify(id=user["id"], email=user["email"])
"""


@pytest.mark.parametrize(
    ("mention", "withheld"),
    [
        ("from shop import tasks", True),
        ("import shop.tasks as module", True),
        ('MODULE = "shop.tasks"', True),
        ("import customerio", True),
        ("from shop import orders", False),
    ],
)
def test_clients_unread_patch_target(project, mention: str, withheld: bool) -> None:
    root = project(
        {
            "shop/__init__.py": "",
            "shop/tasks.py": SYNC_TASK,
            "tests/test_tasks.py": (
                "# Replaces a CustomerIO client class.\n"
                f"from unittest import mock\n\n{mention}\n\n\n"
                "def patched(target):\n"
                "    return mock.patch(target)\n"
            ),
        }
    )

    result = run_cli(["--select", "CIO601", "--output-format", "json", "."], root)

    [finding] = result.json["findings"]
    reason = (
        "(not fixed: tests/test_tasks.py patches a target on line 8 that cio-fix"
        " cannot read, which may be this client's class, and a client built once"
        " would not be the patch's mock)"
    )
    assert finding["path"] == "shop/tasks.py"
    assert (reason in finding["message"]) is withheld
    assert (finding["fix"] is None) is withheld


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ('mock.patch("app.views.CustomerIO")', [("app.views", "CustomerIO")]),
        ('patch(target="customerio.APIClient")', [("customerio", "APIClient")]),
        ('mock.patch.object(views, "CustomerIO")', [("app.views", "CustomerIO")]),
        (
            'monkeypatch.setattr(views, "CustomerIO", None)',
            [("app.views", "CustomerIO")],
        ),
        (
            'monkeypatch.setattr("customerio.CustomerIO", None)',
            [("customerio", "CustomerIO")],
        ),
        ('mock_patch("app.views.CustomerIO")', [("app.views", "CustomerIO")]),
        ('mock_patch.object(views, "CustomerIO")', [("app.views", "CustomerIO")]),
        ('um.patch("customerio.CustomerIO")', [("customerio", "CustomerIO")]),
        ('mock.patch("app.compat.Tracker")', [("app.compat", "Tracker")]),
        ('mock.patch.object(views, "Tracker")', [("app.views", "Tracker")]),
        (
            'mock.patch.multiple("app.views", CustomerIO=DEFAULT, send=DEFAULT)',
            [("app.views", "CustomerIO")],
        ),
        (
            "patch.multiple(views, CustomerIO=DEFAULT, APIClient=DEFAULT)",
            [("app.views", "CustomerIO"), ("app.views", "APIClient")],
        ),
        ('mock.patch(f"{MODULE}.CustomerIO")', [("app.views", "CustomerIO")]),
        ('mocker.patch(MODULE + ".CustomerIO")', [("app.views", "CustomerIO")]),
        ("mock.patch(TARGET)", [("app.views", "CustomerIO")]),
        ('mock_patch("app.views.send_email")', []),
        ('mock.patch.object(views, "cio")', []),
        ('mock.patch("app.views.send_email")', []),
        ('mock.patch.object(views, "track")', []),
        ('mock.patch.multiple("app.views", send=DEFAULT)', []),
        ("mock.patch.multiple(target, send=DEFAULT)", []),
        ("object()", []),
        ('setattr(views, "CustomerIO", None)', []),
        ("client.patch(url, {})", []),
        ("client.patch(f'/orders/{order_id}', {})", []),
        ("mock.patch(target)", None),
        ("mocker.patch(f'{package}.views.CustomerIO')", None),
        ("mock_patch(target)", None),
        ("um.patch(target=target)", None),
        ("monkeypatch.setattr(target, None)", None),
        ("mock.patch.multiple(target, CustomerIO=DEFAULT)", None),
        ("mocker.patch.multiple(views, **names)", None),
    ],
)
def test_clients_patched_classes(
    call: str, expected: list[tuple[str, str]] | None
) -> None:
    source = (
        "import unittest.mock as um\nfrom unittest import mock\n"
        "from unittest.mock import patch as mock_patch\n"
        'from app import views\nMODULE = "app.views"\n'
        'TARGET = "app.views.CustomerIO"\n'
        f"def test(client, mocker, monkeypatch, target, url, order_id):\n    {call}\n"
    )
    path = Path("tests/test_views.py")
    module = cst.parse_module(source)
    index = build_index(module, "tests.test_views", False)
    context = FileContext(
        path,
        "tests/test_views.py",
        Source(path, source.encode(), source, "utf-8"),
        module,
        index,
        ProjectIndex([]),
        Config(),
    )
    site = next(site for site in index.call_sites if code_of(site.node) == call)

    assert patched_classes(context, site.node, site.scope) == expected


def test_clients_generic_wrapper_instantiated() -> None:
    source = (
        "from shop.tracking import Tracker\n"
        "HANDLERS = {}\n"
        "Tracker[int](1)\n"
        "Tracker(1)\n"
        'HANDLERS["paid"](1)\n'
        "T[int](1)\n"
    )
    index = build_index(cst.parse_module(source), "shop.views", False)
    targets = [instantiated_name(index, site.node.func) for site in index.call_sites]

    assert targets == ["shop.tracking.Tracker", "shop.tracking.Tracker", None, None]


def test_clients_generic_wrapper_findings(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "CIO601" / "wrapper_generic_class.py", tmp_path / "app.py")

    result = run_cli(["--select", "CIO601", "--output-format", "json", "."], tmp_path)

    findings = [
        (finding["line"], finding["fix"]) for finding in result.json["findings"]
    ]
    assert findings == [(33, None), (39, None)]


CELERY_TASK = """\
from celery import shared_task
from customerio import CustomerIO

from shop import settings


@shared_task(bind=True)
def export_order(self, order_id):
    cio = CustomerIO(settings.SITE_ID, settings.API_KEY)
    cio.track(customer_id=order_id, name="order_exported")
"""


def test_clients_message_names_celery_task(project) -> None:
    root = project({"tasks.py": CELERY_TASK})

    result = run_cli(
        ["--dry-run", "--output-format", "json", "--select", "CIO601", "."], root
    )

    messages = [finding["message"] for finding in result.json["findings"]]
    assert messages == [
        "a Customer.io client is constructed in the Celery task `export_order`,"
        " which runs once per queued item; each one opens a new HTTPS connection,"
        " so build it once and reuse it"
    ]


def test_clients_message_of_layout_task(project) -> None:
    # The app comes from a module named celery that builds a Huey queue,
    # which this file cannot show, so the message does not say Celery.
    root = project(
        {
            "proj/__init__.py": "",
            "proj/celery.py": 'from huey import RedisHuey\n\napp = RedisHuey("proj")\n',
            "proj/tasks.py": (
                "from customerio import CustomerIO\n\n"
                "from .celery import app\n\n\n"
                "@app.task()\n"
                "def nightly_sync(user_id):\n"
                '    cio = CustomerIO("site", "key")\n'
                '    cio.track(customer_id=user_id, name="synced")\n'
            ),
        }
    )

    result = run_cli(
        ["--dry-run", "--output-format", "json", "--select", "CIO601", "."], root
    )

    messages = [finding["message"] for finding in result.json["findings"]]
    assert messages == [
        "a Customer.io client is constructed in the task `nightly_sync`,"
        " which runs once per queued item; each one opens a new HTTPS connection,"
        " so build it once and reuse it"
    ]


SECRET_DIRECTIVE_HANDLER = """\
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)


@app.post("/signup")
def signup():
    cio = CustomerIO("a1b2c3d4e5f6a7b8c9d0", "9f8e7d6c5b4a39281706")  {comment}
    cio.identify(id=request.json["id"], email=request.json["email"])
    return "ok"
"""
# Stand-ins for the SDK and Flask, enough to import the handler's module.
STUB_CUSTOMERIO = """\
class CustomerIO:
    def __init__(self, site_id, api_key):
        self.site_id = site_id
"""
STUB_FLASK = """\
request = None


class Flask:
    def __init__(self, name):
        pass

    def post(self, path):
        return lambda function: function
"""


def _import_without_keys(
    tmp_path: Path, project: Path, code: str = "import views"
) -> subprocess.CompletedProcess:
    """Run `code` in `project` with stub packages and no Customer.io variables."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "customerio.py").write_text(STUB_CUSTOMERIO, encoding="utf-8")
    (stubs / "flask.py").write_text(STUB_FLASK, encoding="utf-8")
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CUSTOMERIO_")
    }
    environment["PYTHONPATH"] = str(stubs)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=environment,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "comment",
    ["# nosec B106 - rotated weekly", "# noqa: S106 - rotated weekly"],
    ids=["nosec", "noqa"],
)
def test_clients_directive_reason_gets_factory(tmp_path: Path, comment: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    source = SECRET_DIRECTIVE_HANDLER.replace("{comment}", comment)
    (project / "views.py").write_text(source, encoding="utf-8")

    result = run_cli(
        ["--apply", "--select", "CIO101,CIO601", "--output-format", "json", "."],
        project,
    )
    imported = _import_without_keys(tmp_path, project)

    fixed = (project / "views.py").read_text(encoding="utf-8")
    findings = result.json["findings"]
    assert result.json["errors"] == []
    assert [finding["code"] for finding in findings] == ["CIO601", "CIO101", "CIO101"]
    for finding in findings:
        assert finding["applied"] is True, finding["message"]
        assert "not fixed" not in finding["message"]
    assert "def _customerio_client():" in fixed
    assert "cio = _customerio_client()\n" in fixed
    assert "rotated weekly" not in fixed
    assert imported.returncode == 0, imported.stderr


ALLOWLISTED_KEY_LINE = """\
from customerio import CustomerIO
from flask import Flask, request

app = Flask(__name__)


@app.post("/signup")
def signup():
    cio = CustomerIO(
        site_id="a1b2c3d4e5f6a7b8c9d0",
        api_key="9f8e7d6c5b4a39281706",  # pragma: allowlist secret
    )
    cio.identify(id=request.json["id"], email=request.json["email"])
    return "ok"
"""


def test_clients_fixed_after_key_fix_message(project) -> None:
    root = project({"views.py": ALLOWLISTED_KEY_LINE})

    dry_run = run_cli(["--select", "CIO101,CIO601", "."], root)
    applied = run_cli(
        ["--apply", "--select", "CIO101,CIO601", "--output-format", "json", "."],
        root,
    )

    by_code = {finding["code"]: finding for finding in applied.json["findings"]}
    fixed = (root / "views.py").read_text(encoding="utf-8")
    assert "CIO601 [*]" in dry_run.stdout
    assert "not fixed" not in dry_run.stdout
    assert by_code["CIO601"]["fix"] == "safe"
    assert by_code["CIO601"]["applied"] is True
    assert "not fixed" not in by_code["CIO601"]["message"]
    assert "cio = _customerio_client()\n" in fixed


def test_clients_allowlisted_key_alone_not_fixed(project) -> None:
    root = project({"views.py": ALLOWLISTED_KEY_LINE})

    result = run_cli(["--select", "CIO601", "--output-format", "json", "."], root)

    finding = result.json["findings"][0]
    assert finding["fix"] is None
    assert "would lose a comment" in finding["message"]


def test_clients_key_fixed_after_hoist_message(tmp_path: Path) -> None:
    # The CIO101 fix alone would split the line away from its E501 noqa comment,
    # so it is written only in the pass after the CIO601 fix.
    (tmp_path / "views.py").write_text(
        SECRET_DIRECTIVE_HANDLER.replace("{comment}", "# noqa: E501"),
        encoding="utf-8",
    )

    result = run_cli(
        ["--apply", "--select", "CIO101,CIO601", "--output-format", "json", "."],
        tmp_path,
    )

    keys = [
        finding for finding in result.json["findings"] if finding["code"] == "CIO101"
    ]
    fixed = (tmp_path / "views.py").read_text(encoding="utf-8")
    assert len(keys) == 2
    for finding in keys:
        assert finding["applied"] is True
        assert "not fixed" not in finding["message"]
    assert '"9f8e7d6c5b4a39281706"' not in fixed


# An app that sets its environment after importing its views, as an app
# factory that calls `load_dotenv()` does.
SET_KEYS_AFTER_IMPORT = """\
import os
import views

os.environ["CUSTOMERIO_SITE_ID"] = "site-from-environment"
os.environ["CUSTOMERIO_TRACK_API_KEY"] = "key-from-environment"
assert views._customerio_client().site_id == "site-from-environment"
"""


@pytest.mark.parametrize(
    "comment",
    [
        "# noqa: E501",
        "# pylint: disable=line-too-long",
        "# noqa: E501  # nosec B106 - rotated weekly",
    ],
    ids=["noqa", "pylint", "noqa-and-nosec"],
)
def test_clients_line_length_directive_gets_factory(
    tmp_path: Path, comment: str
) -> None:
    # All rules run, as in a plain `cio-fix --apply`.
    project = tmp_path / "project"
    project.mkdir()
    source = SECRET_DIRECTIVE_HANDLER.replace("{comment}", comment)
    (project / "views.py").write_text(source, encoding="utf-8")

    result = run_cli(["--apply", "--output-format", "json", "."], project)
    imported = _import_without_keys(tmp_path, project, SET_KEYS_AFTER_IMPORT)

    fixed = (project / "views.py").read_text(encoding="utf-8")
    codes = sorted(finding["code"] for finding in result.json["findings"])
    assert result.json["errors"] == []
    assert codes == ["CIO101", "CIO101", "CIO304", "CIO601"]
    for finding in result.json["findings"]:
        assert finding["applied"] is True, finding["message"]
    assert "@functools.cache\ndef _customerio_client():" in fixed
    assert f"cio = _customerio_client()  {comment}\n" in fixed
    assert '"9f8e7d6c5b4a39281706"' not in fixed
    assert imported.returncode == 0, imported.stderr


# A CIO601 finding at a property's getter, as the CLI prints it.
PROPERTY_FINDING = re.compile(
    r"(?P<path>\S+):(?P<line>\d+):\d+: CIO601 `(?P<getter>[\w.]+)` is a property"
)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (
            "property_read_in_called_method.py",
            {
                "property_read_in_called_method.py:9: TrackingMixin.cio",
                "property_read_in_called_method.py:25: Exporter.cio",
                "property_read_in_called_method.py:44: Visitor.cio",
            },
        ),
        (
            "property_read_through_instance.py",
            {
                "property_read_through_instance.py:14: Account.cio",
                "property_read_through_instance.py:23: Member.tracker",
            },
        ),
        ("property_read_in_method_not_per_request.py", set()),
        (
            "property_read_in_called_method_other_module",
            {
                "app/base.py:8: TrackingMixin.cio",
                "app/base.py:14: ReportingMixin.reporting_cio",
                "app/models.py:11: Member.cio",
            },
        ),
        (
            "property_read_in_imported_class_method",
            {
                "app/models.py:11: Account.cio",
                "app/models.py:23: Member.cio",
                "app/models.py:39: Visitor.cio",
                "app/models.py:51: Guest.cio",
            },
        ),
        (
            "property_read_in_imported_subclass_method",
            {"app/base.py:8: TrackedModel.cio"},
        ),
        ("imported_class_method_not_reading_property", set()),
        ("imported_class_method_reads_cached_property", set()),
        ("imported_class_method_reads_look_alike", set()),
    ],
)
def test_clients_property_read_per_request_sites(
    tmp_path: Path, case: str, expected: set[str]
) -> None:
    source = FIXTURES / "CIO601" / case
    if source.is_dir():
        ignored = shutil.ignore_patterns("*.expected.py")
        shutil.copytree(source, tmp_path, dirs_exist_ok=True, ignore=ignored)
    else:
        shutil.copyfile(source, tmp_path / case)
    result = run_cli(["--select", "CIO601", "--no-cache", "--no-diff"], tmp_path)
    reported = set()
    for line in result.stdout.splitlines():
        found = PROPERTY_FINDING.match(line)
        if found is not None:
            reported.add(f"{found['path']}:{found['line']}: {found['getter']}")
    assert reported == expected

"""Long chains of implicitly joined strings, `+`, `and` and `or` are checked in full.

libcst nests such a chain one node per link, and CPython compiles chains
far longer than Python's recursion limit allows a function that calls
itself per link to follow. Each test here goes past that limit with code
that failed before with "nested too deeply to analyse".
"""

from __future__ import annotations

import pytest

from conftest import run_cli

# More links than Python's default recursion limit of 1,000 frames.
LINKS = 1500
# Fewer for `+`, because libcst 1.9 parses such a chain in a time that grows
# about with the square of its length. On a quiet 2-CPU machine that was
# 0.2 s for 1,000 terms and 1.1 s for 2,000. CPython 3.11 compiles no more
# than about 3,000 terms.
TERMS = 1200
SDK3 = "customerio==3.1.0\n"


def _joined(indent: str = "    ", quote: str = '"', names_every: int = 0) -> str:
    """Return LINKS adjacent string literals, one a line, with an f-string every `names_every`."""
    lines = []
    for number in range(LINKS):
        if names_every and number % names_every == 0:
            lines.append(f"{indent}f{quote}<p>{{name}} {number}</p>{quote}")
        else:
            lines.append(f"{indent}{quote}<p>line {number}</p>{quote}")
    return "\n".join(lines)


def _added(indent: str = "    ") -> str:
    """Return a string literal and TERMS more joined with `+`, one a line."""
    terms = "\n".join(f'{indent}+ "<p>{number}</p>"' for number in range(TERMS))
    return f'{indent}"<html>"\n{terms}'


def _summed(indent: str = "    ") -> str:
    """Return TERMS + 1 integer literals joined with `+`, one a line."""
    terms = "\n".join(f"{indent}+ {number}" for number in range(TERMS))
    return f"{indent}1\n{terms}"


def _names_added(indent: str = "    ") -> str:
    """Return TERMS + 1 names joined with `+`, one a line."""
    terms = "\n".join(f"{indent}+ part_{number}" for number in range(TERMS))
    return f"{indent}kind\n{terms}"


def _combined(operator: str, indent: str = "    ") -> str:
    """Return LINKS names joined with `operator`, one a line."""
    rest = "\n".join(f"{indent}{operator} flag_{number}" for number in range(LINKS))
    return f"{indent}ready\n{rest}"


def _check(root, *args: str) -> dict:
    return run_cli(["--no-cache", "--output-format", "json", *args, "."], root).json


def _codes(document: dict) -> list[str]:
    return [finding["code"] for finding in document["findings"]]


RECEIPT = """import time

from customerio import CustomerIO

cio = CustomerIO(site_id=SITE_ID, api_key=API_KEY)
RECEIPT_HTML = (
{chain}
)


def job(uid):
    cio.identify(id=uid, email="a@example.com", created_at=time.time() * 1000)
"""


def test_chains_implicit_concatenation_fixed(project) -> None:
    root = project({"app/receipt.py": RECEIPT.format(chain=_joined())})

    document = _check(root)
    run_cli(["--no-cache", "--apply", "."], root)

    assert document["errors"] == []
    assert _codes(document) == ["CIO103"]
    assert "created_at=int(time.time())" in (root / "app/receipt.py").read_text()


def test_chains_plus_fixed(project) -> None:
    root = project({"app/receipt.py": RECEIPT.format(chain=_added())})

    document = _check(root)
    run_cli(["--no-cache", "--apply", "."], root)

    assert document["errors"] == []
    assert _codes(document) == ["CIO103"]
    assert "created_at=int(time.time())" in (root / "app/receipt.py").read_text()


def test_chains_and_or_fixed(project) -> None:
    code = (
        RECEIPT.format(chain=_combined("and")) + f"\n\nANY = (\n{_combined('or')}\n)\n"
    )
    root = project({"app/receipt.py": code})

    document = _check(root)
    run_cli(["--no-cache", "--apply", "."], root)

    assert document["errors"] == []
    assert _codes(document) == ["CIO103"]
    assert "created_at=int(time.time())" in (root / "app/receipt.py").read_text()


def test_chains_email_body_without_link_reported(project) -> None:
    code = (
        "from customerio import APIClient, SendEmailRequest\n\n"
        "api = APIClient(KEY)\n\n\n"
        "def send(name):\n"
        "    request = SendEmailRequest(\n"
        '        to="a@example.com",\n'
        '        transactional_message_id="1",\n'
        '        identifiers={"id": 1},\n'
        f"        body=(\n{_joined(' ' * 12, names_every=10)}\nLINK        ),\n"
        "    )\n"
        "    api.send_email(request)\n"
    )
    link = "            '<a href=\"{% unsubscribe_url %}\">Unsubscribe</a>'\n"
    without = project({"without/app.py": code.replace("LINK", "")}) / "without"
    linked = project({"linked/app.py": code.replace("LINK", link)}) / "linked"

    reported = _check(without, "--select", "CIO503")
    passed = _check(linked, "--select", "CIO503")

    assert reported["errors"] == []
    assert _codes(reported) == ["CIO503"]
    assert passed["errors"] == []
    assert _codes(passed) == []


def test_chains_sdk3_attributes_moved(project) -> None:
    code = (
        "from customerio import CustomerIO\n\n"
        "cio = CustomerIO(SITE_ID, API_KEY)\n\n\n"
        "def send(uid, name):\n"
        '    cio.track(customer_id=uid, name="receipt_sent", body=(\n'
        f"{_joined(' ' * 8, names_every=10)}\n"
        '    ), plan="gold")\n'
    )
    root = project({"requirements.txt": SDK3, "app.py": code})

    document = _check(root, "--select", "CIO701")
    run_cli(["--no-cache", "--apply", "--select", "CIO701", "."], root)
    fixed = (root / "app.py").read_text()

    assert document["errors"] == []
    assert _codes(document) == ["CIO701"]
    assert 'name="receipt_sent", data={"body": (\n' in fixed
    assert fixed.endswith('    ), "plan": "gold"})\n')
    compile(fixed, "app.py", "exec")


def test_chains_identify_moved_up(project) -> None:
    code = (
        "from customerio import CustomerIO\n\n"
        "cio = CustomerIO(SITE_ID, API_KEY)\n\n\n"
        "def signup(uid):\n"
        '    cio.track(customer_id=uid, name="signed_up")\n'
        f"    (\n{_joined(' ' * 8)}\n    )\n"
        f"    html = (\n{_joined(' ' * 8)}\n    )\n"
        f"    total = (\n{_summed(' ' * 8)}\n    )\n"
        f'    cio.identify(id=uid, email="a@example.com", bio=(\n{_joined(" " * 8)}\n'
        f'    ), note=(\n{_added(" " * 8)}\n    ))\n'
    )
    root = project({"app.py": code})

    document = _check(root, "--select", "CIO201")
    run_cli(["--no-cache", "--apply", "--select", "CIO201", "."], root)
    fixed = (root / "app.py").read_text()

    assert document["errors"] == []
    assert _codes(document) == ["CIO201"]
    assert fixed.index("cio.identify(") < fixed.index("cio.track(")


FACTORY_CACHED_BY_TEST = """import os

from customerio import CustomerIO

_client = None


def get_client():
    global _client
    if {test}:
        _client = CustomerIO(os.environ["SITE_ID"], os.environ["API_KEY"])
    return _client


def notify_all(uids):
    for uid in uids:
        get_client().track(customer_id=uid, name="nudged")
"""


# The client is built once when the test ends a long chain with a check of
# the slot. Without that check, the same chain builds one per call.
CACHE_TESTS = {
    "and": (f"(\n{_combined('and', ' ' * 8)}\n        and _client is None\n    )", []),
    "not-or": (f"not (\n{_combined('or', ' ' * 8)}\n        or _client\n    )", []),
    "and-without-slot": (f"(\n{_combined('and', ' ' * 8)}\n    )", ["CIO601"]),
    "not-or-without-slot": (f"not (\n{_combined('or', ' ' * 8)}\n    )", ["CIO601"]),
}


@pytest.mark.parametrize("case", sorted(CACHE_TESTS))
def test_chains_cached_client_test_read(project, case: str) -> None:
    test, expected = CACHE_TESTS[case]
    root = project({"app.py": FACTORY_CACHED_BY_TEST.format(test=test)})

    document = _check(root, "--select", "CIO601")

    assert document["errors"] == []
    assert _codes(document) == expected


def test_chains_factory_fallbacks_cached(project) -> None:
    fallbacks = "\n".join(
        f'        or os.environ.get("SITE_ID_{number}")' for number in range(LINKS)
    )
    code = (
        "import os\n\n"
        "from customerio import CustomerIO\n\n\n"
        "def make_client():\n"
        "    return CustomerIO(\n"
        '        os.environ.get("SITE_ID")\n'
        f"{fallbacks},\n"
        '        os.environ["API_KEY"],\n'
        "    )\n\n\n"
        "def notify_all(uids):\n"
        "    for uid in uids:\n"
        '        make_client().track(customer_id=uid, name="nudged")\n'
    )
    root = project({"app.py": code})

    document = _check(root, "--select", "CIO601")
    run_cli(["--no-cache", "--apply", "--select", "CIO601", "."], root)

    assert document["errors"] == []
    assert [finding["fix"] for finding in document["findings"]] == ["safe"]
    assert "@functools.cache\ndef make_client():" in (root / "app.py").read_text()


def test_chains_single_quoted_file_fixed(project) -> None:
    code = (
        "from customerio import CustomerIO\n\n"
        "cio = CustomerIO(SITE_ID, API_KEY)\n"
        f"BODY = (\n{_joined(quote=chr(39))}\n)\n\n\n"
        "def view(uid, sku):\n"
        "    cio.track(customer_id=uid, name=f'viewed_{sku}')\n"
    )
    root = project({"requirements.txt": SDK3, "app.py": code})

    document = _check(root, "--select", "CIO301")
    run_cli(["--no-cache", "--apply", "--select", "CIO301", "."], root)

    assert document["errors"] == []
    assert _codes(document) == ["CIO301"]
    assert (
        (root / "app.py")
        .read_text()
        .endswith(
            "    cio.track(customer_id=uid, name='viewed', data={'sku': f'{sku}'})\n"
        )
    )


def test_chains_tab_indented_call_fixed(project) -> None:
    code = (
        "from customerio import CustomerIO\n\n"
        "cio = CustomerIO(SITE_ID, API_KEY)\n\n\n"
        "def send(uid, name):\n"
        '\tcio.track(customer_id=uid, name="receipt_sent", body=(\n'
        f"{_joined(chr(9) * 2)}\n"
        '\t), plan="gold", name_of_the_customer_in_full=name, customer_who_referred_them=uid)\n'
    )
    root = project({"requirements.txt": SDK3, "app.py": code})

    document = _check(root, "--select", "CIO701")
    run_cli(["--no-cache", "--apply", "--select", "CIO701", "."], root)
    fixed = (root / "app.py").read_text()

    assert document["errors"] == []
    assert _codes(document) == ["CIO701"]
    # black splits the call, and its continuation lines keep the file's tabs.
    assert '\t\tdata={\n\t\t\t"body": (\n' in fixed
    assert '\t\t\t"plan": "gold",\n' in fixed
    compile(fixed, "app.py", "exec")


def test_chains_noqa_statement_silenced(project) -> None:
    code = (
        "import time\n\n"
        "from customerio import CustomerIO\n\n"
        "cio = CustomerIO(SITE_ID, API_KEY)\n\n\n"
        "def job(uid):\n"
        "    cio.identify(id=uid, created_at=time.time() * 1000, bio=(  # noqa: CIO103\n"
        f"{_joined(' ' * 8)}\n"
        "    ))\n"
        "    cio.identify(id=uid, updated_at=time.time() * 1000, bio=(\n"
        f"{_joined(' ' * 8)}\n"
        "    ))\n"
    )
    root = project({"app.py": code})

    document = _check(root, "--select", "CIO103")

    assert document["errors"] == []
    assert [finding["message"][:12] for finding in document["findings"]] == [
        "`updated_at`"
    ]


def test_chains_handler_call_sent_in_background(project) -> None:
    code = (
        "from flask import Flask\n"
        "from customerio import CustomerIO\n\n"
        "app = Flask(__name__)\n"
        "cio = CustomerIO(SITE_ID, API_KEY)\n\n\n"
        '@app.route("/signup")\n'
        "def signup(uid, name):\n"
        '    cio.track(customer_id=uid, name="signed_up", data={"html": (\n'
        f"{_joined(' ' * 8, names_every=10)}\n"
        '    ), "note": (\n'
        f"{_added(' ' * 8)}\n"
        "    )})\n"
        '    return "ok"\n'
    )
    root = project({"app.py": code})

    document = _check(root, "--select", "CIO304")
    run_cli(["--no-cache", "--apply", "--select", "CIO304", "."], root)

    assert document["errors"] == []
    assert [finding["fix"] for finding in document["findings"]] == ["safe"]
    assert (
        "    _customerio_in_background(\n        cio.track,"
        in (root / "app.py").read_text()
    )


def test_chains_event_names_listed(project) -> None:
    parts = "\n".join(f'        "_part{number}"' for number in range(LINKS))
    code = (
        "from customerio import CustomerIO\n\n"
        "cio = CustomerIO(SITE_ID, API_KEY)\n\n\n"
        "def send(uid, kind):\n"
        f'    cio.track(customer_id=uid, name=(\n        "order"\n{parts}\n    ))\n'
        f'    cio.track(customer_id=uid, name=(\n        "refund"\n{parts}\n'
        '        "_%s"\n    ) % kind)\n'
        f"    cio.identify(id=uid, note=(\n{_added(' ' * 8)}\n    ))\n"
        f'    cio.track(customer_id=uid, name="viewed_" + (\n{_names_added(" " * 8)}\n    ))\n'
    )
    root = project({"requirements.txt": SDK3, "app.py": code})

    listed = run_cli(
        ["--list-events", "--no-cache", "--output-format", "json", "."], root
    ).json
    document = _check(root, "--select", "CIO301")

    suffix = "".join(f"_part{number}" for number in range(LINKS))
    names = [event["name"] for event in listed["events"]]
    assert listed["errors"] == []
    assert len(names) == 3
    assert names[0] == f"order{suffix}"
    assert document["errors"] == []
    assert _codes(document) == ["CIO301", "CIO301"]


def test_chains_timestamp_slots(project) -> None:
    minutes = "\n".join("        + 60" for _ in range(TERMS))
    code = (
        "import time\n\n"
        "from customerio import CustomerIO\n\n"
        "cio = CustomerIO(SITE_ID, API_KEY)\n\n\n"
        "def job(uid):\n"
        f"    cio.identify(id=uid, signup_date=(\n{_added(' ' * 8)}\n    ))\n"
        f"    cio.identify(id=uid, expires_at=(time.time()\n{minutes}\n    ) * 1000)\n"
        f"    cio.identify(id=uid, renews_at=(\n{_summed(' ' * 8)}\n"
        "        + time.time()\n    ) * 1000)\n"
    )
    root = project({"app.py": code})

    document = _check(root, "--select", "CIO103")
    run_cli(["--no-cache", "--apply", "--select", "CIO103", "."], root)

    # A string built with `+` is no time, and a time moved by a long sum
    # of literal seconds is one.
    assert document["errors"] == []
    assert [finding["message"][:12] for finding in document["findings"]] == [
        "`expires_at`",
        "`renews_at` ",
    ]
    assert "expires_at=int(time.time()\n" in (root / "app.py").read_text()
    assert "renews_at=int(1\n        + 0\n" in (root / "app.py").read_text()

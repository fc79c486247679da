"""Event names: analysis, the catalog, the config key, the declared SDK version."""

from __future__ import annotations

import shutil
import sys
import types
import unicodedata
from pathlib import Path

import libcst as cst
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cio_fix.events import (
    DOTTED,
    SNAKE_CASE,
    attribute_key,
    follows_style,
    is_personal_data,
    parse_name,
    personal_data_in_text,
    static_name,
    to_style,
    variant_key,
)
from cio_fix.project import detect_sdk_version

from conftest import run_cli

EXAMPLES = Path(__file__).parent.parent / "examples"


def _static(code: str, style: str = SNAKE_CASE) -> str | None:
    built = parse_name(cst.parse_expression(code))
    return None if built is None else static_name(built, style)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('f"viewed_{product.sku}"', "viewed"),
        ('f"order_{order.id}_shipped"', "order_shipped"),
        ('f"paid_{amount:.2f}_{plan!r}"', "paid"),
        ('"order_" + order["sku"] + "_shipped"', "order_shipped"),
        ('"opened_%s" % campaign_id', "opened"),
        ('"refunded_%s_%05.1f" % (order.id, amount)', "refunded"),
        ('"clicked_{}_on_{page}".format(button, page=page)', "clicked_on"),
        ('"scrolled_{0}".format(depth)', "scrolled"),
        ('"Viewed" f"Product{sku}"', "viewed_product"),
        ('f"{area}_{action}"', ""),
    ],
)
def test_events_static_name(code: str, expected: str) -> None:
    assert _static(code) == expected


def test_events_static_name_dotted() -> None:
    assert _static('f"Product.{sku}.Viewed"', DOTTED) == "product.viewed"


_LITERAL_TEXT = st.text(alphabet="abcXYZ09_-. :/", max_size=8)
_VALUE = st.sampled_from(["sku", "product.sku", "order['id']", "len(parts)"])


@given(
    st.lists(st.tuples(_LITERAL_TEXT, _VALUE), min_size=1, max_size=4), _LITERAL_TEXT
)
def test_events_static_name_follows_style(
    pieces: list[tuple[str, str]], tail: str
) -> None:
    source = 'f"' + "".join(f"{text}{{{value}}}" for text, value in pieces) + tail + '"'
    built = parse_name(cst.parse_expression(source))
    assert built is not None

    for style in (SNAKE_CASE, DOTTED):
        name = static_name(built, style)
        assert name == "" or follows_style(name, style), name


@pytest.mark.parametrize(
    "code",
    [
        "event",
        "message['event']",
        "str(action)",
        "prefix + action",
        "b'x'",
        '"_".join(parts)',
        'separator.join(["shared", action])',
        '"_".join(["shared", *parts])',
        '"_".join(["shared", action], extra)',
    ],
)
def test_events_not_a_built_name(code: str) -> None:
    assert parse_name(cst.parse_expression(code)) is None


@pytest.mark.parametrize(
    "code",
    [
        '"x_%(sku)s" % fields',
        '"x_%(sku)s" % {**fields}',
        '"x_%(sku)s" % {key: sku}',
        '"x_%(sku)s" % (sku,)',
        '"x_%(sku)s_%s" % {"sku": sku}',
    ],
)
def test_events_printf_mapping_unsupported(code: str) -> None:
    built = parse_name(cst.parse_expression(code))
    assert built is not None
    assert built.supported is False


# `status` is annotated `str`, so each form sends it as it is, where the
# fix would send the text of a value of another type.
_NAME_APP = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key")


def send(uid, status: str, n, user, extra):
    cio.track(uid, {name})
"""

# A name whose fix is not certain: the finding stays, without a fix.
NO_FIX = None
_SENT = '"order_email_sent", data={"status": status}'

# Each way of writing a name: the rule that reports it, and the arguments
# that follow `uid` after the fix (NO_FIX: reported without a fix).
_NAME_FORMS = [
    # The same name, `order_<status>_email_sent`, however it is built.
    ('"order_" + status + "_email_sent"', "CIO301", _SENT),
    ('f"order_{status}" + "_email_sent"', "CIO301", _SENT),
    ('"order_{}".format(status) + "_email_sent"', "CIO301", _SENT),
    ('"order_%s" % status + "_email_sent"', "CIO301", _SENT),
    ('"order_" + "{}_email_sent".format(status)', "CIO301", _SENT),
    ('"order_" + "%s_email_sent" % status', "CIO301", _SENT),
    ('("order_" + status) + "_email_sent"', "CIO301", _SENT),
    ('"order_{0}_email_sent".format(status)', "CIO301", _SENT),
    ('"order_{s}_email_sent".format(s=status)', "CIO301", _SENT),
    ('"order_%s_email_sent" % (status,)', "CIO301", _SENT),
    ('"order_%(s)s_email_sent" % {"s": status}', "CIO301", _SENT),
    ("f\"{'order_{}'.format(status)}_email_sent\"", "CIO301", _SENT),
    ("f\"{'order_%s' % status}_email_sent\"", "CIO301", _SENT),
    ("f\"{'order_' + status}_email_sent\"", "CIO301", _SENT),
    ('"{}_email_sent".format(f"order_{status}")', "CIO301", _SENT),
    ('"{}_email_sent".format("order_" + status)', "CIO301", _SENT),
    ('"%s_email_sent" % ("order_" + status)', "CIO301", _SENT),
    # A literal argument stays in the name, also with a spec or conversion.
    (
        '"{a}_named_{b}".format(a="static", b=status)',
        "CIO301",
        '"static_named", data={"status": status}',
    ),
    ('"x_{:>5}_{}".format("ab", status)', "CIO301", '"x_ab", data={"status": status}'),
    ('"x_%5s_%s" % ("ab", status)', "CIO301", '"x_ab", data={"status": status}'),
    ("f\"x_{'ab'!r}_{status}\"", "CIO301", '"x_ab", data={"status": status}'),
    # Specs and conversions stay with the value, which keeps its text.
    (
        '"order_{s!r}".format(s=status)',
        "CIO301",
        '"order", data={"status": "{!r}".format(status)}',
    ),
    (
        '"batch_{n:03d}".format(n=n)',
        "CIO301",
        '"batch", data={"n": "{:03d}".format(n)}',
    ),
    ('"batch_%03d" % n', "CIO301", '"batch", data={"n": "%03d" % (n,)}'),
    ('"batch_%(n)03d" % {"n": n}', "CIO301", '"batch", data={"n": "%03d" % (n,)}'),
    ('f"batch_{n:03d}"', "CIO301", '"batch", data={"n": f"{n:03d}"}'),
    # Escaped braces and percent signs are literal text.
    ('"order_{{x}}_{}".format(status)', "CIO301", '"order_x", data={"status": status}'),
    ('"order_%%_%s" % status', "CIO301", '"order", data={"status": status}'),
    # A spec or conversion over a build that contains text.
    ('"{!r}_email_sent".format("order_" + status)', "CIO301", NO_FIX),
    ("f\"{'order_' + status!r}_email_sent\"", "CIO301", NO_FIX),
    ('"%r_email_sent" % ("order_" + status,)', "CIO301", NO_FIX),
    ('"{:>20}_sent".format(f"order_{status}")', "CIO301", NO_FIX),
    # A mapping whose keys are unknown, or keys mixed with positions.
    ('"order_%(s)s" % {"s": status, **extra}', "CIO301", NO_FIX),
    ('"order_%(s)s_%s" % {"s": status}', "CIO301", NO_FIX),
    # One operand for two specifiers may be a tuple of two values.
    ('"order_%s_%s" % extra + "_sent"', "CIO301", NO_FIX),
    # A string method over a build changes its text and its values alike.
    ('"order_{}".format(status).upper() + "_SENT"', "CIO301", NO_FIX),
    ('"order_" + f"{status}_email_sent".lower()', "CIO301", NO_FIX),
    ('f"order_{status}_sent".upper()', "CIO301", NO_FIX),
    ('("order_" + status).strip() + "_sent"', "CIO301", NO_FIX),
    # A method over a literal, or a value that reads a key, is no such case.
    ('"Order Sent".lower()', None, None),
    (
        '"order_" + user.get("status") + "_sent"',
        "CIO301",
        '"order_sent", data={"value": user.get("status")}',
    ),
    # Personal data in a nested build, or in a form that cannot be taken
    # apart, goes to CIO302.
    (
        '"login_{}".format(user.email) + "_done"',
        "CIO302",
        '"login_done", data={"user_email": "{}".format(user.email)}',
    ),
    (
        '"login_%s" % user.email + "_done"',
        "CIO302",
        '"login_done", data={"user_email": "%s" % (user.email,)}',
    ),
    (
        '"login_" + "{}".format("bob@example.com")',
        "CIO302",
        '"login", data={"email": "bob@example.com"}',
    ),
    (
        "f\"login_{'{}'.format(user.email)}\"",
        "CIO302",
        '"login", data={"user_email": "{}".format(user.email)}',
    ),
    ('"login_{!r}".format("at_" + user.email)', "CIO302", NO_FIX),
    ('"login_%(e)s" % {"e": user.email, **extra}', "CIO302", NO_FIX),
    ('"login_{}_{}".format(user.email, *extra)', "CIO302", NO_FIX),
    # Literal text only, however it is built: one fixed name.
    ('"order_{}_sent".format("paid")', None, None),
    ('"order_%s" % "paid" + "_sent"', None, None),
]


@pytest.mark.parametrize(
    ("name", "code", "expected"), _NAME_FORMS, ids=[form[0] for form in _NAME_FORMS]
)
def test_events_name_forms(
    project, name: str, code: str | None, expected: str | None
) -> None:
    root = project(
        {
            "app.py": _NAME_APP.format(name=name),
            "requirements.txt": "customerio==3.2.0\n",
        }
    )
    result = run_cli(
        ["--apply", "--select", "CIO301,CIO302", "--output-format", "json", "."],
        root,
    )

    findings = result.json["findings"]
    fixed = (root / "app.py").read_text(encoding="utf-8")
    if code is None:
        assert findings == []
        assert fixed == _NAME_APP.format(name=name)
        return
    assert [finding["code"] for finding in findings] == [code]
    if expected is NO_FIX:
        assert findings[0]["fix"] is None
        assert findings[0]["message"].endswith(")"), "the reason is missing"
        assert fixed == _NAME_APP.format(name=name)
    else:
        assert findings[0]["applied"] is True
        assert fixed == _NAME_APP.format(name=expected)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("product_id", "product_id"),
        ("productId", "product_id"),
        ("product.sku", "product_sku"),
        ("self.cart.size", "cart_size"),
        ('order["sku"]', "sku"),
        ("order[index]", None),
        ("len(parts)", None),
        ("parts[0]", None),
    ],
)
def test_events_attribute_key(code: str, expected: str | None) -> None:
    assert attribute_key(cst.parse_expression(code)) == expected


@pytest.mark.parametrize(
    ("name", "snake", "dotted"),
    [
        ("OrderShipped", "order_shipped", "order_shipped"),
        ("User Signed-Up", "user_signed_up", "user_signed_up"),
        ("Product.Purchased", "product_purchased", "product.purchased"),
        ("HTTPError", "http_error", "http_error"),
        # Combining marks belong to their word: a decomposed "á", Devanagari signs.
        ("Registra\u0301cia Jany", "registra\u0301cia_jany", "registra\u0301cia_jany"),
        ("फ़ोन किया", "फ़ोन_किया", "फ़ोन_किया"),
    ],
)
def test_events_to_style(name: str, snake: str, dotted: str) -> None:
    assert to_style(name, SNAKE_CASE) == snake
    assert to_style(name, DOTTED) == dotted


def test_events_follows_style() -> None:
    assert follows_style("order_shipped", SNAKE_CASE)
    assert not follows_style("order.shipped", SNAKE_CASE)
    assert follows_style("order.shipped", DOTTED)
    assert not follows_style("OrderShipped", DOTTED)
    assert follows_style("registra\u0301cia", SNAKE_CASE)
    assert follows_style("फ़ोन_किया", SNAKE_CASE)
    assert follows_style("फ़ोन.किया", DOTTED)


def test_events_variant_key() -> None:
    assert variant_key("UserSignedUp") == variant_key("user_signed_up")
    assert variant_key("user.signed-up") == variant_key("user_signed_up")
    assert variant_key("user_signed_in") != variant_key("user_signed_up")
    assert variant_key("फ़ोन_किया") != variant_key("फोन_किया")
    assert variant_key("फ़ोन.किया") == variant_key("फ़ोन_किया")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("user.email", True),
        ('form["email"]', True),
        ("customer.phone_number", True),
        ("user.first_name", True),
        ("customer.name", True),
        ("ip_address", True),
        ("product.name", False),
        ("template.email_template_id", False),
        ("order.id", False),
    ],
)
def test_events_personal_data_expression(code: str, expected: bool) -> None:
    assert is_personal_data(cst.parse_expression(code)) is expected


def test_events_personal_data_text() -> None:
    assert [
        kind for _, _, kind in personal_data_in_text("invited:bob@example.com")
    ] == ["email"]
    assert [
        kind for _, _, kind in personal_data_in_text("called +44 20 7946 0958")
    ] == ["phone"]
    assert personal_data_in_text("version_2024-01-15") == []
    assert personal_data_in_text("step_12345678") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The local part takes in every letter, digit and `_` before the `@`.
        ("registrácia_jana@example.com", "registrácia_jana@example.com"),
        ("registrácia józsef@example.com", "józsef@example.com"),
        ("prihlásenie:žofia@example.com", "žofia@example.com"),
        ("signup jana@príklad.sk", "jana@príklad.sk"),
        ("signup jana@example.рф", "jana@example.рф"),
        ("signup संपर्क@डाटामेल.भारत", "संपर्क@डाटामेल.भारत"),
        # A decomposed "á": the letter "a" and a combining acute accent.
        ("registra\u0301cia_jana@example.com", "registra\u0301cia_jana@example.com"),
        ("signup jana@pri\u0301klad.sk", "jana@pri\u0301klad.sk"),
        ("signup bob@example.com_done", "bob@example.com"),
    ],
)
def test_events_email_any_script(text: str, expected: str) -> None:
    found = personal_data_in_text(text)

    assert [text[start:end] for start, end, _ in found] == [expected]
    assert [kind for _, _, kind in found] == ["email"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("llamada +٩٦٦ ٥٠ ١٢٣ ٤٥٦٧", "+٩٦٦ ٥٠ ١٢٣ ٤٥٦٧"),
        ("звонок+7 912 345-67-89", "+7 912 345-67-89"),
        ("telefon٩٨٧-٦٥٤-٣٢١٠", "٩٨٧-٦٥٤-٣٢١٠"),
        ("फ़ोन ९८७-६५४-३२१०", "९८७-६५४-३२१०"),
    ],
)
def test_events_phone_any_script(text: str, expected: str) -> None:
    found = personal_data_in_text(text)

    assert [text[start:end] for start, end, _ in found] == [expected]
    assert [kind for _, _, kind in found] == ["phone"]


def test_events_email_needs_letter_domain_end() -> None:
    assert personal_data_in_text("price@5.٥٠") == []
    assert personal_data_in_text("rank@top_ten") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("用户@例子.中国", "用户@例子.中国"),
        ("josé@exämple.com", "josé@exämple.com"),
        ("signup коля@пример.РФ", "коля@пример.РФ"),
        ("signup a@b.vermögensberater", "a@b.vermögensberater"),
        # A decomposed "ö": the letter "o" and a combining diaeresis.
        ("signup a@b.vermo\u0308gensberater", "a@b.vermo\u0308gensberater"),
        ("x@y.商城_done", "x@y.商城"),
    ],
)
def test_events_email_non_ascii_top_level_domain(text: str, expected: str) -> None:
    found = personal_data_in_text(text)

    assert [text[start:end] for start, end, _ in found] == [expected]
    assert [kind for _, _, kind in found] == ["email"]


@pytest.mark.parametrize(
    "text",
    [
        "注文@東京.店舗",
        "заказ@москва.магазин",
        "注文@東京.中国語",
        "注文@東京.ab店舗",
        "bob@example.comé",
        # A test address on a domain that is not delegated.
        "用户@例子.广告",
    ],
)
def test_events_email_needs_top_level_domain(text: str) -> None:
    assert personal_data_in_text(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bob@example.com已注册", "bob@example.com"),
        ("用户bob@example.com注册成功", "用户bob@example.com"),
        ("ユーザーbob@example.jpが登録", "ユーザーbob@example.jp"),
        ("signup bob@mail.example.co.jp登録", "bob@mail.example.co.jp"),
        ("signup josé@exämple.com注册", "josé@exämple.com"),
        ("signup bob@example.comзаказ", "bob@example.com"),
        ("signup a@b.vermögensberater注册", "a@b.vermögensberater"),
        ("signup коля@пример.рфsignup", "коля@пример.рф"),
        ("signup x@y.भारतsignup", "x@y.भारत"),
    ],
)
def test_events_email_before_other_script(text: str, expected: str) -> None:
    found = personal_data_in_text(text)

    assert [text[start:end] for start, end, _ in found] == [expected]
    assert [kind for _, _, kind in found] == ["email"]


@pytest.mark.parametrize(
    "text",
    [
        # An ASCII top-level domain run into Japanese text counts only on a
        # domain of Latin labels: `@` may be "at" a place, as in 注文@東京.
        "注文@東京.jp店舗",
        # A non-ASCII top-level domain ends only where the script changes.
        "用户@例子.中国注册",
        "коля@пример.рфзаказ",
        "signup a@b.vermögensberaterin",
        # The vowel sign after "भारत" is a combining mark of the same script.
        "signup x@y.भारतीय",
        # A top-level domain alone is no domain.
        "bob@com注册",
    ],
)
def test_events_email_not_before_other_script(text: str) -> None:
    assert personal_data_in_text(text) == []


def test_events_one_finding_per_name(project) -> None:
    root = project(
        {
            "app.py": (
                "from customerio import CustomerIO\n"
                'cio = CustomerIO("site", "key")\n'
                "def logged_in(user):\n"
                '    cio.track(customer_id=user.id, name=f"logged_in_{user.email}")\n'
            )
        }
    )
    result = run_cli(["--select", "CIO3", "--output-format", "json", "."], root)

    codes = [finding["code"] for finding in result.json["findings"]]
    assert codes == ["CIO302"]


def test_events_style_config_rejected(project) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\nevent-name-style = "camelCase"\n',
            "app.py": "import customerio\n",
        }
    )
    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "event-name-style" in result.stderr


CATALOG_PROJECT = {
    "app/__init__.py": "",
    "app/events.py": 'EVENT_SHIPPED = "OrderShipped"\n',
    "app/cio.py": 'from customerio import CustomerIO\nclient = CustomerIO("site", "key")\n',
    "app/shipping.py": (
        "from app.cio import client\n"
        "from app.events import EVENT_SHIPPED\n"
        "def shipped(uid, product):\n"
        "    client.track(customer_id=uid, name=EVENT_SHIPPED)\n"
        '    client.track(customer_id=uid, name="order_shipped")\n'
        '    client.track(customer_id=uid, name=f"viewed_{product.sku}")\n'
    ),
    "app/orders.py": (
        "from app.cio import client\n"
        "def placed(uid):\n"
        '    client.track(customer_id=uid, name="order_shipped")\n'
    ),
}


def test_events_catalog_json(project) -> None:
    root = project(CATALOG_PROJECT)
    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert result.exit_code == 0
    assert sorted(events) == [
        "OrderShipped",
        'f"viewed_{product.sku}"',
        "order_shipped",
    ]
    assert events["order_shipped"]["calls"] == 2
    assert events["order_shipped"]["files"] == ["app/orders.py", "app/shipping.py"]
    assert events["order_shipped"]["variants"] == ["OrderShipped"]
    assert events["OrderShipped"]["follows_style"] is False
    assert events["OrderShipped"]["suggested"] == "order_shipped"
    assert events["OrderShipped"]["places"] == [{"path": "app/shipping.py", "line": 4}]
    assert events['f"viewed_{product.sku}"']["dynamic"] is True
    assert events['f"viewed_{product.sku}"']["suggested"] == "viewed"


def test_events_catalog_text(project) -> None:
    root = project(CATALOG_PROJECT)
    result = run_cli(["--list-events", "."], root)

    assert result.exit_code == 0
    assert "breaks the snake_case style; would be 'order_shipped'" in result.stdout
    assert "other spellings: 'OrderShipped'" in result.stdout
    assert "built from values; a fixed name would be 'viewed'" in result.stdout
    assert "3 event names, 4 call sites, style snake_case." in result.stdout


def test_events_catalog_text_counts_one(project) -> None:
    root = project(
        {
            "app.py": "from customerio import CustomerIO\n"
            "cio = CustomerIO('site', 'key')\n"
            "cio.track(customer_id=1, name='synced')\n"
        }
    )
    result = run_cli(["--list-events", "."], root)

    assert result.exit_code == 0
    assert "synced  1 call " in result.stdout
    assert "1 event name, 1 call site, style snake_case." in result.stdout


def _cells(text: str) -> int:
    """Count the terminal cells of `text`: two per wide character, none per combining mark."""
    cells = 0
    for character in text:
        if unicodedata.combining(character):
            continue
        cells += 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1
    return cells


# Names of 14, 12, 9 and 8 cells: full-width letters, a combining acute
# accent, ASCII and CJK ideographs.
WIDE_NAMES_PROJECT = {
    "app.py": (
        "from customerio import CustomerIO\n"
        "cio = CustomerIO('site', 'key')\n"
        "cio.track(customer_id=1, name='\uff46\uff55\uff4c\uff4c_width')\n"
        "cio.track(customer_id=1, name='cafe\u0301_visited')\n"
        "cio.track(customer_id=1, name='Signed Up')\n"
        "cio.track(customer_id=1, name='\u6ce8\u6587\u5b8c\u4e86')\n"
    )
}


def test_events_catalog_text_aligns_wide_names(project) -> None:
    root = project(WIDE_NAMES_PROJECT)
    result = run_cli(["--list-events", "."], root)
    lines = result.stdout.splitlines()
    name_lines = [line for line in lines if "  1 call  " in line]
    note_lines = [line for line in lines if "breaks the snake_case style" in line]

    assert result.exit_code == 0
    assert len(name_lines) == 4, result.stdout
    for line in name_lines:
        calls_column = _cells(line[: line.index("1 call")])
        files_column = _cells(line[: line.index("app.py")])
        assert calls_column == 16, line
        assert files_column == 26, line
    assert len(note_lines) == 1, result.stdout
    assert note_lines[0].startswith(" " * 16 + "breaks"), note_lines[0]


def test_events_catalog_text_ascii_layout(project) -> None:
    root = project(
        {
            "app.py": "from customerio import CustomerIO\n"
            "cio = CustomerIO('site', 'key')\n"
            "def sync(uid):\n"
            "    cio.track(customer_id=uid, name='synced')\n"
            "    cio.track(customer_id=uid, name='Synced')\n"
            "    cio.track(customer_id=uid, name='order_placed')\n"
            "    cio.track(customer_id=uid, name='order_placed')\n"
        }
    )
    result = run_cli(["--list-events", "."], root)

    assert result.exit_code == 0
    assert result.stdout == (
        "Synced        1 call    app.py\n"
        "              breaks the snake_case style; would be 'synced'\n"
        "              other spellings: 'synced'\n"
        "order_placed  2 calls   app.py\n"
        "synced        1 call    app.py\n"
        "              other spellings: 'Synced'\n"
        "\n"
        "3 event names, 4 call sites, style snake_case.\n"
    )


def test_events_catalog_agrees_with_rules(project) -> None:
    # CIO302 takes the phone number out of the name, and CIO301 accepts a
    # name picked from two fixed values; the catalog agrees with both.
    source = (
        'from customerio import CustomerIO\nclient = CustomerIO("site", "key")\n'
        "def verified(uid, added):\n"
        '    client.track(customer_id=uid, name="phone_verified_+15551234567")\n'
        '    kind = "added" if added else "removed"\n'
        '    client.track(customer_id=uid, name=f"seats_{kind}")\n'
    )
    root = project({"app.py": source})

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert events["phone_verified_+15551234567"]["suggested"] == "phone_verified"
    assert events['f"seats_{kind}"']["bounded"] is True
    assert events['f"seats_{kind}"']["suggested"] is None


# Names built from module constants and literals, each with one fixed value.
ONE_FIXED_VALUE_SOURCE = (
    'from customerio import CustomerIO\nclient = CustomerIO("site", "key")\n'
    'PREFIX = "billing"\n'
    'SUPPORT_EMAIL = "support@example.com"\n'
    "def invoice(uid):\n"
    '    client.track(customer_id=uid, name=PREFIX + "-invoice-sent")\n'
    '    client.track(customer_id=uid, name=f"{PREFIX}_{SUPPORT_EMAIL}_sent")\n'
)


def test_events_catalog_one_fixed_value_json(project) -> None:
    root = project({"app.py": ONE_FIXED_VALUE_SOURCE})
    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert sorted(events) == [
        "billing-invoice-sent",
        'f"{PREFIX}_{SUPPORT_EMAIL}_sent"',
    ]
    assert events["billing-invoice-sent"]["dynamic"] is False
    assert events["billing-invoice-sent"]["calls"] == 1
    assert events["billing-invoice-sent"]["follows_style"] is False
    assert events["billing-invoice-sent"]["suggested"] == "billing_invoice_sent"


def test_events_catalog_one_fixed_value_text(project) -> None:
    root = project({"app.py": ONE_FIXED_VALUE_SOURCE})
    result = run_cli(["--list-events", "."], root)

    assert result.exit_code == 0
    assert "would be 'billing_invoice_sent'" in result.stdout
    # CIO302 takes the address out of the name, so it stays a build.
    assert "one fixed value: 'billing_support@example.com_sent'" in result.stdout
    assert "picked from a few fixed values" not in result.stdout
    assert "2 event names, 2 call sites, style snake_case." in result.stdout


# Names built before the call, in a conditional expression and by
# `str.join`. Each is a built name, so none leaves a name unread.
BUILT_BEFORE_CALL = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key")


def viewed(user, product):
    event_name = f"viewed_{product.sku}"
    cio.track(customer_id=user.id, name=event_name)


def liked(user, product):
    cio.track(customer_id=user.id, name=f"liked_{product.sku}" if product else "liked")


def shared(user, network):
    cio.track(customer_id=user.id, name="_".join(["shared", network]))


def saved(user, product):
    cio.track(customer_id=user.id, name=f"saved_{product.sku}")
"""


def test_events_names_built_before_call_reported(project) -> None:
    root = project(
        {"app.py": BUILT_BEFORE_CALL, "requirements.txt": "customerio==3.2.0\n"}
    )

    result = run_cli(["--select", "CIO301", "--output-format", "json", "."], root)
    fixes = {finding["line"]: finding["fix"] for finding in result.json["findings"]}

    assert fixes == {8: "safe", 12: None, 16: "safe", 20: "safe"}


def test_events_catalog_names_built_before_call(project) -> None:
    root = project({"app.py": BUILT_BEFORE_CALL})

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    text = run_cli(["--list-events", "."], root).stdout
    names = [event["name"] for event in result.json["events"]]

    assert result.json["unread"] == []
    assert names == [
        "liked",
        '"_".join(["shared", network])',
        'f"liked_{product.sku}"',
        'f"saved_{product.sku}"',
        'f"viewed_{product.sku}"',
    ]
    # The call that picks `liked` or a built name is one call site.
    assert text.endswith("5 event names, 4 call sites, style snake_case.\n")


def test_events_catalog_conditional_one_call(project) -> None:
    # One branch is built from values, and cio-fix cannot read the other.
    source = (
        'from customerio import CustomerIO\ncio = CustomerIO("site", "key")\n'
        "def liked(uid, product, kind):\n"
        '    cio.track(uid, f"liked_{product.sku}" if product else kind)\n'
    )
    root = project({"app.py": source})

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    text = run_cli(["--list-events", "."], root).stdout

    assert [event["name"] for event in result.json["events"]] == [
        'f"liked_{product.sku}"'
    ]
    assert result.json["unread"] == [{"path": "app.py", "line": 4, "project": "."}]
    assert "1 event name, 1 call site, style snake_case." in text


# An application call and a test that sends other spellings and built names
# to a local server.
TEST_CODE_PROJECT = {
    "app/__init__.py": "",
    "app/views.py": (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n'
        "def login(user):\n"
        '    cio.track(customer_id=user.id, name="logged_in")\n'
        '    cio.identify(id=user.id, plan="pro")\n'
    ),
    "tests/test_views.py": (
        "from customerio import CustomerIO\n"
        'client = CustomerIO("site", "key", url="http://127.0.0.1:9")\n'
        "def test_names(user):\n"
        '    client.track(customer_id=1, name="Logged In")\n'
        '    client.track(customer_id=1, name=f"viewed_{user.sku}")\n'
        '    client.track(customer_id=1, name=f"signed_up_{user.email}")\n'
        "    client.identify(id=1, plan=1)\n"
    ),
}


def test_events_rules_skip_test_code(project) -> None:
    root = project(TEST_CODE_PROJECT)
    result = run_cli(["--select", "CIO3,CIO402", "--output-format", "json", "."], root)

    assert result.json["findings"] == []
    assert result.exit_code == 0


def test_events_catalog_json_leaves_out_tests(project) -> None:
    root = project(TEST_CODE_PROJECT)
    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert sorted(events) == ["logged_in"]
    assert events["logged_in"]["variants"] == []
    assert events["logged_in"]["files"] == ["app/views.py"]


def test_events_catalog_text_leaves_out_tests(project) -> None:
    root = project(TEST_CODE_PROJECT)
    result = run_cli(["--list-events", "."], root)

    assert result.exit_code == 0
    assert "Logged In" not in result.stdout
    assert "tests/test_views.py" not in result.stdout
    assert "1 event name, 1 call site, style snake_case." in result.stdout


# Application code that runs a module named like tests: a feature module
# named for A/B tests, and a test module that a view imports from, also in
# a project whose package is below `src/`.
PRODUCTION_TEST_NAMES = {
    "ab_tests": {
        "app/__init__.py": "",
        "app/ab_tests.py": (
            "from customerio import CustomerIO\n"
            'cio = CustomerIO("site", "key")\n'
            "def expose(user, experiment):\n"
            '    cio.track(customer_id=user.id, name=f"experiment_{experiment.key}")\n'
        ),
        "app/views.py": (
            "from app.ab_tests import expose\n"
            "def pricing(user, experiment):\n"
            "    expose(user, experiment)\n"
        ),
    },
    "imported_test_module": {
        "app/__init__.py": "",
        "app/tests/__init__.py": "",
        "app/tests/helpers.py": (
            "from customerio import CustomerIO\n"
            'cio = CustomerIO("site", "key")\n'
            "def expose(user, experiment):\n"
            '    cio.track(customer_id=user.id, name=f"experiment_{experiment.key}")\n'
        ),
        "app/views.py": (
            "from app.tests.helpers import expose\n"
            "def pricing(user, experiment):\n"
            "    expose(user, experiment)\n"
        ),
    },
    "imported_test_module_below_src": {
        "src/app/__init__.py": "",
        "src/app/tests/__init__.py": "",
        "src/app/tests/helpers.py": (
            "from customerio import CustomerIO\n"
            'cio = CustomerIO("site", "key")\n'
            "def expose(user, experiment):\n"
            '    cio.track(customer_id=user.id, name=f"experiment_{experiment.key}")\n'
        ),
        "src/app/views.py": (
            "from app.tests.helpers import expose\n"
            "def pricing(user, experiment):\n"
            "    expose(user, experiment)\n"
        ),
    },
}


@pytest.mark.parametrize("layout", sorted(PRODUCTION_TEST_NAMES))
def test_events_production_test_names_checked(project, layout: str) -> None:
    files = PRODUCTION_TEST_NAMES[layout]
    sender = next(path for path in files if "experiment_" in files[path])
    root = project(files)
    checked = run_cli(["--select", "CIO301", "--output-format", "json", "."], root)
    listed = run_cli(["--list-events", "--output-format", "json", "."], root)
    findings = [
        (finding["code"], finding["path"]) for finding in checked.json["findings"]
    ]
    events = [(event["name"], event["files"]) for event in listed.json["events"]]

    assert findings == [("CIO301", sender)]
    assert events == [('f"experiment_{experiment.key}"', [sender])]


def test_events_catalog_empty(project) -> None:
    root = project({"app.py": "print('no Customer.io here')\n"})
    result = run_cli(["--list-events", "."], root)

    assert result.exit_code == 0
    assert "No event names found." in result.stdout


def test_events_catalog_reports_syntax_errors(project) -> None:
    root = project({"app.py": "import customerio\ndef broken(:\n"})
    result = run_cli(["--list-events", "."], root)

    assert result.exit_code == 2
    assert "app.py" in result.stderr


@pytest.mark.parametrize(
    ("file", "text", "major"),
    [
        ("requirements.txt", "customerio==3.2.0\n", 3),
        ("requirements/base.txt", "customerio~=2.1\n", 2),
        ("pyproject.toml", '[project]\ndependencies = ["customerio (>=3.0)"]\n', 3),
        ("pyproject.toml", '[tool.poetry.dependencies]\ncustomerio = "^1.6"\n', 1),
        ("setup.cfg", "[options]\ninstall_requires =\n    customerio>=3.0\n", 3),
        (
            "setup.cfg",
            "[options]\ninstall_requires =\n    async-customerio==1.2\n",
            None,
        ),
        ("setup.py", 'setup(install_requires=["customerio==2.1"])\n', 2),
        ("Pipfile", '[packages]\ncustomerio = "==3.1"\n', 3),
        ("poetry.lock", '[[package]]\nname = "customerio"\nversion = "3.2.0"\n', 3),
        ("uv.lock", '[[package]]\nname = "customerio"\nversion = "2.0.1"\n', 2),
        ("Pipfile.lock", '{"default": {"customerio": {"version": "==3.2.0"}}}\n', 3),
    ],
)
def test_events_sdk_version_sources(
    tmp_path: Path, file: str, text: str, major: int | None
) -> None:
    (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / file).write_text(text, encoding="utf-8")
    found = detect_sdk_version(tmp_path)

    if major is None:
        assert found is None
    else:
        assert found is not None
        assert found.majors == {major}


def test_events_sdk_version_nearest_folder(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("customerio==2.1\n", encoding="utf-8")
    service = tmp_path / "services" / "shop"
    service.mkdir(parents=True)
    (service / "requirements.txt").write_text("customerio==3.2.0\n", encoding="utf-8")
    found = detect_sdk_version(tmp_path, service)

    assert found is not None
    assert found.majors == {3}
    assert found.source == "services/shop/requirements.txt"


def test_events_demo_names_become_static(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    run_cli(["--apply", "--select", "CIO301,CIO302,CIO701", "examples"], tmp_path)
    app = (tmp_path / "examples" / "shop" / "app.py").read_text(encoding="utf-8")

    assert 'name=f"' not in app
    assert 'name="purchased",' in app
    # Values of unknown type are sent as the text the f-strings wrote.
    assert """data={"price": product["price"], "sku": f"{product['sku']}"}""" in app
    assert """name="logged_in", data={"email": f"{form['email']}"}""" in app


def test_events_demo_second_apply_changes_nothing(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    run_cli(["--apply", "examples"], tmp_path)
    again = run_cli(["--apply", "--output-format", "json", "examples"], tmp_path)

    assert again.json["changed_files"] == []


def test_list_events_masks_keys(project) -> None:
    key = "0a1b2c3d4e5f6a7b8c9d"
    root = project(
        {
            "app.py": (
                "from customerio import CustomerIO\n"
                f'cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "{key}")\n'
                f'cio.track(customer_id=1, name=f"signup_{{user.plan}}_{key}")\n'
            )
        }
    )

    text = run_cli(["--list-events", "--no-cache", "."], root)
    document = run_cli(["--list-events", "--output-format", "json", "."], root)

    assert key not in text.stdout
    assert "0a1b****" in text.stdout
    assert key not in document.stdout


UNREADABLE_DATA = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key")


def shipped(uid, status, payload):
    cio.track(customer_id=uid, name=f"order_{status}", data=payload)


def refunded(uid, status, code):
    cio.track(customer_id=uid, name=f"refund_{status}", data=dict(status=code))


def cancelled(uid, status, payload):
    cio.track(customer_id=uid, name=f"cancel_{status}", data={**payload})
"""


def test_events_data_with_unreadable_keys_not_fixed(project) -> None:
    # A `status` key already in the data would get the value from the name.
    root = project(
        {"app.py": UNREADABLE_DATA, "requirements.txt": "customerio==3.2.0\n"}
    )
    result = run_cli(
        ["--apply", "--select", "CIO301", "--output-format", "json", "."], root
    )
    findings = result.json["findings"]
    assert len(findings) == 3
    for finding in findings:
        assert finding["fix"] is None
        assert finding["message"].endswith(
            "(not fixed: the event data may already contain the new keys, and cio-fix cannot"
            " read them)"
        )
    assert (root / "app.py").read_text() == UNREADABLE_DATA


def _services(style_of_beta: str = SNAKE_CASE) -> dict[str, str]:
    """Return a repository of two services, each a project with its own [tool.cio-fix]."""
    files = {"pyproject.toml": '[project]\nname = "mono"\n'}
    for service, style in (("alpha", SNAKE_CASE), ("beta", style_of_beta)):
        files[f"services/{service}/pyproject.toml"] = (
            f'[tool.cio-fix]\nevent-name-style = "{style}"\n'
        )
        files[f"services/{service}/{service}/track.py"] = (
            "from customerio import CustomerIO\n"
            'cio = CustomerIO("site", "key")\n'
            f'cio.track(customer_id=1, name="{service}.paid")\n'
        )
    return files


def test_list_events_nested_projects_text(project) -> None:
    root = project(_services())
    result = run_cli(["--list-events"], root)

    assert result.exit_code == 0
    assert "Project services/alpha:" in result.stdout
    assert "Project services/beta:" in result.stdout
    assert "alpha.paid  1 call    services/alpha/alpha/track.py" in result.stdout
    assert "beta.paid  1 call    services/beta/beta/track.py" in result.stdout
    # The top project has no Python file, so it gets no heading.
    assert "Project .:" not in result.stdout


def test_list_events_each_project_style(project) -> None:
    root = project(_services(style_of_beta=DOTTED))
    result = run_cli(
        ["--list-events", "--output-format", "json", "services/alpha", "services/beta"],
        root,
    )
    events = {event["name"]: event for event in result.json["events"]}

    assert result.exit_code == 0
    assert result.json["style"] is None
    assert result.json["projects"] == [
        {"path": "services/alpha", "style": SNAKE_CASE},
        {"path": "services/beta", "style": DOTTED},
    ]
    assert events["alpha.paid"]["project"] == "services/alpha"
    assert events["alpha.paid"]["suggested"] == "alpha_paid"
    assert events["beta.paid"]["project"] == "services/beta"
    assert events["beta.paid"]["follows_style"] is True


def test_list_events_one_project_no_heading(project) -> None:
    root = project(CATALOG_PROJECT)
    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    text = run_cli(["--list-events", "."], root)

    assert result.json["style"] == SNAKE_CASE
    assert result.json["projects"] == [{"path": ".", "style": SNAKE_CASE}]
    assert "Project" not in text.stdout


def test_list_events_nested_config_error(project) -> None:
    files = _services()
    files["services/beta/pyproject.toml"] += "bogus = 1\n"
    root = project(files)
    result = run_cli(["--list-events"], root)

    assert result.exit_code == 2
    assert "unknown key 'bogus'" in result.stderr
    assert "services/beta/pyproject.toml" in result.stderr


def _sent_names(source: str, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Run `send(uid, region)` of a module for two regions; return the names each call sent."""
    sent: list[str] = []

    class Recorder:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def track(self, customer_id: object, name: str, **kwargs: object) -> None:
            sent.append(name)

    customerio = types.ModuleType("customerio")
    customerio.CustomerIO = Recorder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "customerio", customerio)
    namespace: dict[str, object] = {"__name__": "constant_prefix"}
    exec(compile(source, "constant_prefix.py", "exec"), namespace)
    by_region = []
    for region in ("eu", "us"):
        sent.clear()
        namespace["send"](1, region)  # type: ignore[operator]
        by_region.append(list(sent))
    return by_region


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the fixture uses enum.StrEnum")
def test_events_constant_parts_stay_in_sent_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "CIO301"
    before = (fixtures / "constant_prefix.py").read_text(encoding="utf-8")
    after = (fixtures / "constant_prefix.expected.py").read_text(encoding="utf-8")

    eu_before, us_before = _sent_names(before, monkeypatch)
    eu_after, us_after = _sent_names(after, monkeypatch)

    assert eu_before[0] == "billing_upgraded_eu"
    assert eu_after == us_after
    assert eu_after == [
        "billing_upgraded",
        "order_placed_in",
        "order_placed_in",
        "billing_shipped",
        "billing_paid",
        "gift_sent",
        "pro",
        "billing_signed_up",
        "billing_renewed",
    ]
    assert all(type(name) is str for name in eu_after)


def test_events_catalog_keeps_constant_parts(project) -> None:
    source = (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n'
        'PREFIX = "billing"\n'
        "class Config:\n"
        '    PREFIX = "shop"\n'
        "def send(uid, region):\n"
        '    cio.track(uid, f"{PREFIX}_upgraded_{region}")\n'
        '    cio.track(uid, f"{Config.PREFIX}_renewed_{region}")\n'
    )
    root = project({"app.py": source})

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert events['f"{PREFIX}_upgraded_{region}"']["suggested"] == "billing_upgraded"
    assert events['f"{Config.PREFIX}_renewed_{region}"']["suggested"] is None


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the fixture uses enum.StrEnum")
def test_events_derived_constant_parts_stay_in_sent_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "CIO301"
    before = (fixtures / "constant_derived.py").read_text(encoding="utf-8")
    after = (fixtures / "constant_derived.expected.py").read_text(encoding="utf-8")

    eu_before, us_before = _sent_names(before, monkeypatch)
    eu_after, us_after = _sent_names(after, monkeypatch)

    assert eu_before[0] == "BILLING_upgraded_eu"
    assert eu_after == us_after
    assert eu_after == [
        "BILLING_upgraded",
        "BILLING_renewed",
        "bill_cancelled",
        "billing_paused",
        "ORDER_PLACED_in",
        "order_placed_from",
        "pro_to",
        "gift_sent",
        "Gift_given",
        "Kind.GIFT_wrapped",
        "billed_shipped",
        "i_paid",
        "pro",
        "resized",
    ]
    assert all(type(name) is str for name in eu_after)


def test_events_derived_constant_reasons(project) -> None:
    source = (
        "import enum\n"
        "from customerio import CustomerIO\n"
        "from helpers import slug\n"
        'cio = CustomerIO("site", "key")\n'
        'PREFIX = "billing"\n'
        "class Kind(str, enum.Enum):\n"
        '    GIFT = "gift"\n'
        "def send(uid, region):\n"
        '    cio.track(uid, f"{slug(PREFIX)}_upgraded_{region}")\n'
        "    cio.track(uid, f\"{Kind['GIFT']}_sent_{region}\")\n"
    )
    root = project({"app.py": source, "requirements.txt": "customerio==3.2.0\n"})

    result = run_cli(["--select", "CIO301", "--output-format", "json", "."], root)
    slugged, member = result.json["findings"]

    assert slugged["fix"] is None
    assert slugged["message"].endswith(
        "(not fixed: `slug(PREFIX)` is built from constants, but cio-fix cannot"
        " tell whether"
        " it gives the same text on every call, and moving it out of the name"
        " would rename the event)"
    )
    assert member["fix"] is None
    assert "write it into the name as `Kind.GIFT`" in member["message"]


def test_events_catalog_keeps_derived_constant_parts(project) -> None:
    source = (
        "from customerio import CustomerIO\n"
        "from helpers import slug\n"
        'cio = CustomerIO("site", "key")\n'
        'PREFIX = "billing"\n'
        "def send(uid, region):\n"
        '    cio.track(uid, f"{PREFIX.upper()}_upgraded_{region}")\n'
        '    cio.track(uid, f"{PREFIX[:4]}_renewed_{region}")\n'
        '    cio.track(uid, f"{slug(PREFIX)}_paused_{region}")\n'
    )
    root = project({"app.py": source})

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    upper = events['f"{PREFIX.upper()}_upgraded_{region}"']
    assert upper["suggested"] == "BILLING_upgraded"
    assert events['f"{PREFIX[:4]}_renewed_{region}"']["suggested"] == "bill_renewed"
    assert events['f"{slug(PREFIX)}_paused_{region}"']["suggested"] is None


def test_events_dynamic_name_message_warns_about_campaigns(project) -> None:
    source = (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n'
        "def changed(uid, plan, user):\n"
        '    cio.track(uid, "plan_changed_to_" + plan)\n'
        '    cio.track(uid, f"logged_in_{user.email}")\n'
    )
    root = project({"app.py": source, "requirements.txt": "customerio==3.1\n"})

    result = run_cli(["--output-format", "json", "."], root)
    messages = {f["code"]: f["message"] for f in result.json["findings"]}

    assert messages["CIO301"].endswith(
        "send 'plan_changed_to' with the value as the attribute `plan`, and before"
        " deploying, point the campaigns and segments that match the old names at"
        " 'plan_changed_to' with a filter on that attribute"
    )
    assert "campaigns and segments" not in messages["CIO302"]


MERGING_PROJECT = {
    "app/__init__.py": "",
    "app/checkout.py": (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n'
        "def checkout(uid, total):\n"
        '    cio.track(customer_id=uid, name="order", total=total)\n'
    ),
    "app/refund.py": (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n'
        "def refund(uid, kind):\n"
        '    cio.track(customer_id=uid, name="order_" + kind)\n'
    ),
    "requirements.txt": "customerio==2.1\n",
}


def test_events_fixed_name_already_sent_message(project) -> None:
    root = project(MERGING_PROJECT)

    result = run_cli(["--output-format", "json", "."], root)
    (finding,) = [f for f in result.json["findings"] if f["code"] == "CIO301"]

    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(not fixed: the fixed name 'order' is already sent at app/checkout.py:4, and the"
        " campaigns on it would also receive these events; choose a name of its"
        " own)"
    )
    assert "point the campaigns" not in finding["message"]


def test_events_catalog_fixed_name_already_sent(project) -> None:
    root = project(MERGING_PROJECT)

    text = run_cli(["--list-events", "."], root)
    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert (
        "built from values; the fixed name 'order' is already sent, so it needs"
        " a name of its own" in text.stdout
    )
    assert "a fixed name would be 'order'" not in text.stdout
    assert events['"order_" + kind']["suggested"] is None
    assert events['"order_" + kind']["merges_into"] == "order"
    assert events["order"]["merges_into"] is None


# Modules that send the same built name, fixed by runs over some of the
# files (a pre-commit hook that names the staged files, an interrupted
# `--apply`): each shape is (dependency, module source).
_VIEWED_CLIENT = (
    "import os\n"
    "from customerio import CustomerIO\n"
    'cio = CustomerIO(os.environ["SITE_ID"], os.environ["API_KEY"])\n'
)
_VIEWED_SHAPES = {
    "sdk3_data": (
        "customerio>=3",
        "from app.client import cio\n"
        "def viewed(uid, product):\n"
        '    cio.track(customer_id=uid, name=f"viewed_{product.category}")\n',
    ),
    "sdk3_data_merged": (
        "customerio>=3",
        "from app.client import cio\n"
        "def viewed(uid, product):\n"
        "    cio.track(\n"
        '        customer_id=uid, name=f"viewed_{product.category}",'
        ' data={"source": "web"}\n'
        "    )\n",
    ),
    "sdk2_keywords": (
        "customerio>=2,<3",
        "from app.client import cio\n"
        "def viewed(uid, product):\n"
        '    cio.track(customer_id=uid, name=f"viewed_{product.category}")\n',
    ),
    "sdk2_reserved_key": (
        "customerio>=2,<3",
        "from app.client import cio\n"
        "def viewed(uid, name):\n"
        '    cio.track(customer_id=uid, name=f"viewed_{name}")\n',
    ),
    "background_helper": (
        "customerio>=3",
        "from flask import Flask\n"
        "from app.client import cio\n"
        "web = Flask(__name__)\n"
        '@web.route("/products/<pid>")\n'
        "def viewed(pid):\n"
        "    product = load(pid)\n"
        '    cio.track(customer_id=pid, name=f"viewed_{product.category}")\n'
        '    return "ok"\n',
    ),
    "pipelines": (
        "customerio>=3",
        "from customerio import analytics\n"
        "def viewed(uid, product):\n"
        '    analytics.track(uid, f"viewed_{product.category}")\n',
    ),
}
_VIEWED_MODULES = ("app/a.py", "app/b.py", "app/c.py")


def _viewed_project(dependency: str, module: str, **extra: str) -> dict[str, str]:
    files = {
        "pyproject.toml": (
            '[project]\nname = "shop"\nversion = "0"\n'
            f'dependencies = ["{dependency}"]\n'
        ),
        "app/__init__.py": "",
        "app/client.py": _VIEWED_CLIENT,
        **extra,
    }
    for path in _VIEWED_MODULES:
        files[path] = module
    return files


def _read_modules(root: Path) -> dict[str, str]:
    return {path: (root / path).read_text(encoding="utf-8") for path in _VIEWED_MODULES}


@pytest.mark.parametrize("shape", sorted(_VIEWED_SHAPES))
@pytest.mark.parametrize(
    "batches",
    [
        (["app/a.py"], ["app/b.py", "app/c.py"]),
        (["app/c.py", "app/b.py"], ["app/a.py"]),
    ],
    ids=["first_alone", "first_two"],
)
def test_events_fix_in_batches_equals_one_run(
    tmp_path: Path, shape: str, batches: tuple[list[str], ...]
) -> None:
    dependency, module = _VIEWED_SHAPES[shape]
    files = _viewed_project(dependency, module)
    single = tmp_path / "single"
    batched = tmp_path / "batched"
    for root in (single, batched):
        for path, text in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")

    run_cli(["--apply", "--no-cache", "."], single)
    for batch in batches:
        run_cli(["--apply", "--no-cache", *batch], batched)
    left = run_cli(["--output-format", "json", "--no-cache", "."], batched)

    fixed = _read_modules(single)
    assert all("viewed_" not in text for text in fixed.values()), fixed
    assert _read_modules(batched) == fixed
    assert left.json["findings"] == []


def test_events_catalog_fixed_form_not_merged(project) -> None:
    dependency, module = _VIEWED_SHAPES["sdk3_data"]
    root = project(_viewed_project(dependency, module))
    run_cli(["--apply", "--no-cache", "app/a.py"], root)

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}
    built = events['f"viewed_{product.category}"']

    assert built["suggested"] == "viewed"
    assert built["merges_into"] is None


# Calls that send 'viewed' as the fix of `f"viewed_{product.category}"`
# writes it, by shape.
_FIXED_FORMS = {
    "data": 'cio.track(customer_id=uid, name="viewed",'
    ' data={"product_category": p.category})',
    "data_with_more_keys": 'cio.track(customer_id=uid, name="viewed",'
    ' data={"source": "web", "product_category": p.category})',
    "data_spread": 'cio.track(customer_id=uid, name="viewed",'
    ' data={**(extra or {}), "product_category": p.category})',
    "positional_data": 'cio.track(uid, "viewed", {"product_category": p.category})',
    "keywords": 'cio.track(customer_id=uid, name="viewed",'
    " product_category=p.category)",
    "background_helper": "_customerio_in_background(cio.track, customer_id=uid,"
    ' name="viewed", data={"product_category": p.category})',
}

# Calls that send 'viewed' as another event.
_OTHER_EVENTS = {
    "no_attributes": 'cio.track(customer_id=uid, name="viewed")',
    "other_key": 'cio.track(customer_id=uid, name="viewed", data={"page": p.url})',
    "other_keyword": 'cio.track(customer_id=uid, name="viewed", page=p.url)',
    "key_in_variable": 'cio.track(customer_id=uid, name="viewed", data=attributes)',
    "partial": 'functools.partial(cio.track, name="viewed")(uid)',
}


def _sender(call: str) -> str:
    return (
        "import functools\n"
        "from app.client import cio\n"
        "def _customerio_in_background(method, *args, **kwargs):\n"
        "    method(*args, **kwargs)\n"
        "def send(uid, p, extra):\n"
        '    attributes = {"product_category": p.category}\n'
        f"    {call}\n"
    )


@pytest.mark.parametrize("call", _FIXED_FORMS.values(), ids=list(_FIXED_FORMS))
def test_events_fixed_form_keeps_fix(project, call: str) -> None:
    dependency, module = _VIEWED_SHAPES["sdk3_data"]
    root = project(
        _viewed_project(dependency, module, **{"app/sent.py": _sender(call)})
    )

    result = run_cli(["--output-format", "json", "--no-cache", "app/a.py"], root)
    (finding,) = [f for f in result.json["findings"] if f["code"] == "CIO301"]

    assert finding["fix"] == "safe", finding["message"]


@pytest.mark.parametrize("call", _OTHER_EVENTS.values(), ids=list(_OTHER_EVENTS))
def test_events_other_event_withholds_fix(project, call: str) -> None:
    dependency, module = _VIEWED_SHAPES["sdk3_data"]
    root = project(
        _viewed_project(dependency, module, **{"app/sent.py": _sender(call)})
    )

    result = run_cli(["--output-format", "json", "--no-cache", "app/a.py"], root)
    (finding,) = [f for f in result.json["findings"] if f["code"] == "CIO301"]

    assert finding["fix"] is None
    assert "the fixed name 'viewed' is already sent at app/sent.py:7," in (
        finding["message"]
    )


def test_events_batches_keep_other_event_withheld(project) -> None:
    dependency, module = _VIEWED_SHAPES["sdk3_data"]
    other = _sender(_OTHER_EVENTS["other_key"])
    root = project(_viewed_project(dependency, module, **{"app/sent.py": other}))

    run_cli(["--apply", "--no-cache", "app/a.py"], root)
    run_cli(["--apply", "--no-cache", "."], root)

    assert _read_modules(root) == {path: module for path in _VIEWED_MODULES}


def _senders(calls: dict[str, str]) -> dict[str, str]:
    """Return a project whose modules each send one call of the shared client."""
    files = {
        "pyproject.toml": '[project]\nname = "shop"\nversion = "0"\n',
        "app/__init__.py": "",
        "app/client.py": _VIEWED_CLIENT,
        "requirements.txt": "customerio==3.1\n",
    }
    for path, call in calls.items():
        files[path] = f"from app.client import cio\ndef send(uid, p):\n    {call}\n"
    return files


def test_events_already_sent_places_capped(project) -> None:
    calls = {
        f"app/o{number}.py": 'cio.track(customer_id=uid, name="viewed")'
        for number in range(9, 0, -1)
    }
    calls["app/a.py"] = 'cio.track(customer_id=uid, name=f"viewed_{p.category}")'
    root = project(_senders(calls))

    text = run_cli(["--no-cache", "app/a.py"], root)
    result = run_cli(["--output-format", "json", "--no-cache", "app/a.py"], root)
    (finding,) = [f for f in result.json["findings"] if f["code"] == "CIO301"]

    assert (
        "the fixed name 'viewed' is already sent at app/o1.py:3, app/o2.py:3,"
        " app/o3.py:3, app/o4.py:3, app/o5.py:3 and 4 more, and the campaigns"
        in finding["message"]
    )
    assert "app/o6.py" not in finding["message"]
    assert finding["message"] in text.stdout


def test_events_other_builds_capped(project) -> None:
    calls = {
        f"app/b{number}.py": f'cio.track(customer_id=uid, name=f"order_{{p.kind{number}}}")'
        for number in range(1, 9)
    }
    root = project(_senders(calls))

    result = run_cli(["--output-format", "json", "--no-cache", "app/b1.py"], root)
    (finding,) = [f for f in result.json["findings"] if f["code"] == "CIO301"]

    assert (
        "the fixed name 'order' is also the fixed name of f\"order_{p.kind2}\""
        ' (app/b2.py:3) and f"order_{p.kind3}" (app/b3.py:3) and' in finding["message"]
    )
    assert "(app/b6.py:3) and 2 more, which builds different names" in (
        finding["message"]
    )
    assert "app/b7.py" not in finding["message"]


def test_events_cio303_places_capped(project) -> None:
    calls = {
        f"app/m{number}.py": 'cio.track(customer_id=uid, name="OrderPaid")'
        for number in range(1, 8)
    }
    calls["app/n.py"] = 'cio.track(customer_id=uid, name="order_paid")'
    root = project(_senders(calls))

    result = run_cli(
        ["--output-format", "json", "--no-cache", "--select", "CIO303", "app/n.py"],
        root,
    )
    (finding,) = result.json["findings"]

    assert (
        "differs only in case or separators from 'OrderPaid' (app/m1.py:3,"
        " app/m2.py:3, app/m3.py:3, app/m4.py:3, app/m5.py:3 and 2 more)"
        in finding["message"]
    )


REFUND = (
    "from app.client import cio\n"
    "def refund(uid, kind):\n"
    '    cio.track(customer_id=uid, name="order_" + kind)\n'
)

WRAPPER_PROJECT = {
    "app/__init__.py": "",
    "app/client.py": 'from customerio import CustomerIO\ncio = CustomerIO("site", "key")\n',
    "app/track.py": (
        "from app.client import cio\n"
        "def track_event(uid, name):\n"
        "    cio.track(customer_id=uid, name=name)\n"
    ),
    "app/refund.py": REFUND,
    "requirements.txt": "customerio==2.1\n",
}


def _cio301(root: Path, *args: str) -> dict:
    result = run_cli(["--output-format", "json", *args], root)
    (finding,) = [f for f in result.json["findings"] if f["code"] == "CIO301"]
    return finding


def test_events_unread_name_makes_fix_unsafe(project) -> None:
    root = project(WRAPPER_PROJECT)

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert finding["message"].endswith(
        "(unsafe: cio-fix cannot read the name sent at app/track.py:3, so the"
        " fixed name may already be sent)"
    )


def test_events_request_data_fix_stays_safe(project) -> None:
    # `request.GET` is spelled like a constant, but a name built from it is
    # built from values, so it is no name that cio-fix cannot read.
    root = project(
        {
            "views.py": (
                "from customerio import CustomerIO\n"
                'cio = CustomerIO("site", "key")\n'
                "def search(request):\n"
                '    q = request.GET.get("q", "")\n'
                '    cio.track(customer_id=request.user.id, name="searched_" + q)\n'
                "def opened(request, tab):\n"
                '    cio.track(customer_id=request.user.id, name=f"opened_{tab}")\n'
            ),
            "requirements.txt": "customerio==3.1.0\n",
        }
    )

    result = run_cli(["--output-format", "json", "--select", "CIO301", "."], root)
    fixes = {finding["line"]: finding["fix"] for finding in result.json["findings"]}

    assert fixes == {5: "safe", 7: "safe"}


@pytest.mark.parametrize(
    "replay",
    [
        'getattr(client, "cio").track(customer_id=sys.argv[1], name=sys.argv[2])\n',
        (
            'tracker = getattr(client, "cio", None)\n'
            "tracker.track(customer_id=sys.argv[1], name=sys.argv[2])\n"
        ),
    ],
    ids=["call", "variable"],
)
def test_events_getattr_client_unread_unsafe(project, replay: str) -> None:
    # The replay tool mentions neither Customer.io nor `cio` as a name.
    root = project(
        {
            **WRAPPER_PROJECT,
            "app/track.py": "",
            "app/replay.py": "import sys\nfrom app import client\n" + replay,
        }
    )
    line = replay.count("\n") + 2

    finding = _cio301(root, ".")
    events = run_cli(["--list-events", "--output-format", "json", "."], root)

    assert finding["fix"] == "unsafe"
    assert f"cannot read the name sent at app/replay.py:{line}," in finding["message"]
    assert events.json["unread"] == [
        {"path": "app/replay.py", "line": line, "project": "."}
    ]


def test_events_getattr_client_literal_sent(project) -> None:
    root = project(
        {
            **WRAPPER_PROJECT,
            "app/track.py": (
                "from app import client\n"
                "def send(uid):\n"
                '    getattr(client, "cio").track(customer_id=uid, name="order")\n'
            ),
        }
    )

    finding = _cio301(root, ".")

    assert finding["fix"] is None
    assert "'order' is already sent at app/track.py:3" in finding["message"]


def test_events_unread_name_apply_keeps_file(project) -> None:
    root = project(WRAPPER_PROJECT)

    run_cli(["--apply", "."], root)

    assert (root / "app/refund.py").read_text(encoding="utf-8") == REFUND


def test_events_unread_name_applied_with_unsafe_fixes(project) -> None:
    root = project(WRAPPER_PROJECT)

    run_cli(["--apply", "--unsafe-fixes", "."], root)

    assert 'name="order", kind=kind' in (root / "app/refund.py").read_text(
        encoding="utf-8"
    )


# One name that cio-fix cannot read makes the CIO301 fixes unsafe, and the
# comment inside the other name keeps its fix from being written.
COMMENTED_NAME_JOBS = """\
from customerio import CustomerIO

cio = CustomerIO(site_id=S, api_key=K)


def forward(uid, kind):
    cio.track(customer_id=uid, name=EVENTS[kind])


def sync(uid, plan):
    cio.track(
        customer_id=uid,
        name=(
            "plan_"  # billing's prefix
            + plan
        ),
    )
"""


def test_events_unsafe_fix_losing_comment_withheld(project) -> None:
    root = project(
        {"requirements.txt": "customerio>=3\n", "app/jobs.py": COMMENTED_NAME_JOBS}
    )
    args = ["--select", "CIO301", "--no-cache"]

    text = run_cli(args, root)
    dry_run = run_cli([*args, "--output-format", "json"], root)
    applied = run_cli(
        [*args, "--output-format", "json", "--apply", "--unsafe-fixes"], root
    )

    [reported] = dry_run.json["findings"]
    [withheld] = applied.json["findings"]
    assert "unsafe fix" not in text.stdout
    assert reported["fix"] is None
    assert reported["message"].endswith(
        "(not fixed: the fix would lose a comment inside the code it rewrites;"
        " fix it by hand)"
    )
    assert withheld["message"] == reported["message"]
    assert (root / "app/jobs.py").read_text() == COMMENTED_NAME_JOBS


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        (
            '(\n        "plan_"  # billing\'s prefix\n        + plan\n    )',
            '("plan_" + plan)',
        ),
        ('f"plan_{plan  # the plan code\n    }"', 'f"plan_{plan}"'),
    ],
    ids=["concatenation", "f-string"],
)
def test_events_message_name_without_comment(project, name, quoted) -> None:
    root = project(
        {
            "requirements.txt": "customerio>=3\n",
            "app.py": (
                "from customerio import CustomerIO\n"
                "cio = CustomerIO(site_id=S, api_key=K)\n"
                "def sync(uid, plan):\n"
                f"    cio.track(customer_id=uid, name={name})\n"
            ),
        }
    )

    finding = _cio301(root, "--no-cache", ".")
    events = run_cli(["--list-events", "--no-cache", "."], root)

    assert finding["message"].startswith(f"event name {quoted} is built from values")
    assert events.stdout.startswith(f"{quoted}  1 call ")
    assert "# " not in events.stdout


@pytest.mark.parametrize(
    "name",
    [
        "self.event_name",
        "EVENTS[kind]",
        "make_name(uid)",
        'f"{uid}"',
    ],
)
def test_events_unread_name_forms(project, name: str) -> None:
    root = project(
        {
            **WRAPPER_PROJECT,
            "app/track.py": (
                "from app.client import cio\n"
                "def track_event(self, uid, kind):\n"
                f"    cio.track(customer_id=uid, name={name})\n"
            ),
        }
    )

    assert _cio301(root, ".")["fix"] == "unsafe"


def test_events_unread_name_star_arguments(project) -> None:
    root = project(
        {
            **WRAPPER_PROJECT,
            "app/track.py": (
                "from app.client import cio\n"
                "def track_event(**event):\n"
                "    cio.track(**event)\n"
            ),
        }
    )

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/track.py:3," in finding["message"]


def test_events_readable_names_keep_fix_safe(project) -> None:
    root = project(
        {
            **WRAPPER_PROJECT,
            "app/track.py": (
                "from app.client import cio\n"
                'PAID = "paid"\n'
                "def track_event(uid, kind, flag):\n"
                "    cio.track(customer_id=uid, name=PAID)\n"
                '    cio.track(customer_id=uid, name="a" if flag else "b")\n'
                '    for step in ("cart", "pay"):\n'
                '        cio.track(customer_id=uid, name=f"checkout_{step}")\n'
                '    cio.track(customer_id=uid, name=f"shipped_{kind}")\n'
            ),
        }
    )

    result = run_cli(["--output-format", "json", "."], root)
    fixes = {
        (f["path"], f["line"]): f["fix"]
        for f in result.json["findings"]
        if f["code"] == "CIO301"
    }

    assert fixes == {("app/refund.py", 3): "safe", ("app/track.py", 8): "safe"}


def test_events_unread_name_in_test_code_ignored(project) -> None:
    root = project(
        {
            **WRAPPER_PROJECT,
            "app/track.py": "",
            "tests/test_track.py": WRAPPER_PROJECT["app/track.py"],
        }
    )

    assert _cio301(root, ".")["fix"] == "safe"


@pytest.mark.parametrize(
    "source",
    [
        "from app.client import cio\ndef pay(uid):\n    print 'paying'\n",
        b"from app.client import cio\n# " + b"x" * (1024 * 1024) + b"\n",
    ],
    ids=["python2", "over-1-mib"],
)
def test_events_unread_file_makes_fix_unsafe(project, source) -> None:
    root = project({**WRAPPER_PROJECT, "app/track.py": "", "app/pay.py": source})

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert finding["message"].endswith(
        "(unsafe: cio-fix cannot read app/pay.py, so the fixed name may already"
        " be sent)"
    )


def test_events_unread_file_in_run_over_named_file(project) -> None:
    root = project(
        {
            **WRAPPER_PROJECT,
            "app/track.py": "",
            "app/pay.py": "from app.client import cio\ndef pay(:\n    pass\n",
            "pyproject.toml": "[tool.cio-fix]\n",
        }
    )

    finding = _cio301(root, "app/refund.py")

    assert finding["fix"] == "unsafe"
    assert "cio-fix cannot read app/pay.py" in finding["message"]


def test_events_catalog_lists_unread_names(project) -> None:
    root = project(WRAPPER_PROJECT)

    text = run_cli(["--list-events", "."], root)
    result = run_cli(["--list-events", "--output-format", "json", "."], root)

    assert "1 event name, 2 call sites, style snake_case." in text.stdout
    assert (
        "cio-fix cannot read the event names sent at app/track.py:3, so a fixed"
        " name above may already be sent there." in text.stdout
    )
    assert result.json["unread"] == [
        {"path": "app/track.py", "line": 3, "project": "."}
    ]


def test_events_catalog_only_unread_names(project) -> None:
    root = project(
        {
            "app/track.py": (
                "from customerio import CustomerIO\n"
                'cio = CustomerIO("site", "key")\n'
                "def send(uid, name):\n"
                "    cio.track(uid, name)\n"
            ),
        }
    )

    text = run_cli(["--list-events", "."], root)

    assert text.stdout.splitlines() == [
        "No event names found.",
        "cio-fix cannot read the event names sent at app/track.py:4, so the project"
        " may send names there that this list cannot show.",
    ]


def _wrapper_project(project, callers: str, **files: str) -> Path:
    return project(
        {
            **WRAPPER_PROJECT,
            "app/track.py": (
                "import functools\n"
                "from app.client import cio\n"
                "def _track_event(uid, name, **data):\n"
                # `str(uid)` makes it a function that passes a name on, not a
                # pass-through wrapper, whose calls are read as client calls.
                "    cio.track(customer_id=str(uid), name=name, **data)\n" + callers
            ),
            **files,
        }
    )


def test_events_wrapper_caller_name_withholds_fix(project) -> None:
    root = _wrapper_project(
        project, 'def checkout(uid):\n    _track_event(uid, "order")\n'
    )

    finding = _cio301(root, ".")

    assert finding["fix"] is None
    assert "'order' is already sent at app/track.py:4" in finding["message"]


@pytest.mark.parametrize(
    "callers",
    [
        'def pay(uid):\n    _track_event(uid, name="payment")\n',
        'PAID = "paid"\ndef pay(uid):\n    _track_event(uid, PAID, total=1)\n',
    ],
)
def test_events_wrapper_other_names_keep_fix_safe(project, callers: str) -> None:
    root = _wrapper_project(project, callers)

    assert _cio301(root, ".")["fix"] == "safe"


@pytest.mark.parametrize(
    ("callers", "line"),
    [
        ("def pay(uid, event):\n    _track_event(uid, event)\n", 6),
        ("def pay(uid, args):\n    _track_event(uid, *args)\n", 6),
        ("HANDLERS = [_track_event]\n", 4),
    ],
    ids=["unread-value", "star-arguments", "escapes"],
)
def test_events_wrapper_unread_makes_fix_unsafe(project, callers, line) -> None:
    root = _wrapper_project(project, callers)

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert f"cannot read the name sent at app/track.py:{line}," in finding["message"]


@pytest.mark.parametrize(
    ("importer", "call"),
    [
        ("from app import track", "track._track_event"),
        ("import app.track", "app.track._track_event"),
        ("from app import track as events", "events._track_event"),
        ("from app.track import _track_event", "_track_event"),
        ("from app.track import _track_event as send", "send"),
        ("from app.track import *", "_track_event"),
    ],
    ids=["module", "dotted", "module-alias", "name", "name-alias", "star"],
)
def test_events_wrapper_called_elsewhere_withholds_fix(project, importer, call) -> None:
    # The importer does not mention Customer.io, so only the wrapper's
    # module name leads the file search to it.
    root = _wrapper_project(
        project,
        '__all__ = ["_track_event"]\n',
        **{"app/pay.py": f'{importer}\ndef pay(uid):\n    {call}(uid, "order")\n'},
    )

    finding = _cio301(root, ".")

    assert finding["fix"] is None
    assert "'order' is already sent at app/pay.py:3" in finding["message"]


def test_events_wrapper_import_is_no_use(project) -> None:
    root = _wrapper_project(
        project,
        "",
        **{
            "app/pay.py": (
                "from app.track import _track_event\n"
                "def pay(uid):\n"
                '    _track_event(uid, name="payment")\n'
            )
        },
    )

    finding = _cio301(root, ".")
    events = run_cli(["--list-events", "--output-format", "json", "."], root)
    text = run_cli(["--list-events", "."], root)

    assert finding["fix"] == "safe"
    assert events.json["unread"] == []
    assert "cannot read" not in text.stdout


def test_events_wrapper_called_in_pyw_withholds_fix(project) -> None:
    root = _wrapper_project(
        project,
        "",
        **{
            "app/gui.pyw": (
                'from app.track import _track_event\n_track_event(1, "order")\n'
            )
        },
    )

    finding = _cio301(root, ".")

    assert finding["fix"] is None
    assert "'order' is already sent at app/gui.pyw:2" in finding["message"]


def test_events_wrapper_called_elsewhere_other_name_safe(project) -> None:
    root = _wrapper_project(
        project,
        "",
        **{
            "app/pay.py": (
                "from app import track\n"
                "def pay(uid):\n"
                '    track._track_event(uid, name="payment")\n'
            )
        },
    )

    assert _cio301(root, ".")["fix"] == "safe"


@pytest.mark.parametrize(
    ("use", "line"),
    [
        ("def pay(uid, event):\n    track._track_event(uid, event)\n", 3),
        ("def pay(uid, args):\n    track._track_event(uid, *args)\n", 3),
        ("HANDLERS = [track._track_event]\n", 2),
    ],
    ids=["unread-value", "star-arguments", "escapes"],
)
def test_events_wrapper_unread_elsewhere_unsafe(project, use, line) -> None:
    root = _wrapper_project(
        project, "", **{"app/pay.py": "from app import track\n" + use}
    )

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert f"cannot read the name sent at app/pay.py:{line}," in finding["message"]


@pytest.mark.parametrize(
    "use",
    [
        'getattr(track, "_track_event")(uid, "order")',
        'getattr(track, attribute)(uid, "order")',
    ],
    ids=["literal-name", "any-name"],
)
def test_events_wrapper_read_by_getattr_unsafe(project, use: str) -> None:
    root = _wrapper_project(
        project,
        "",
        **{
            "app/pay.py": (
                f"from app import track\ndef pay(uid, attribute):\n    {use}\n"
            )
        },
    )

    finding = _cio301(root, ".")
    events = run_cli(["--list-events", "--output-format", "json", "."], root)

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/pay.py:3," in finding["message"]
    assert events.json["unread"] == [{"path": "app/pay.py", "line": 3, "project": "."}]


def test_events_getattr_of_other_attribute_keeps_fix_safe(project) -> None:
    root = _wrapper_project(
        project,
        "",
        **{"app/pay.py": 'from app import track\nDOC = getattr(track, "__doc__")\n'},
    )

    assert _cio301(root, ".")["fix"] == "safe"


def test_events_wrapper_used_in_tests_keeps_fix_safe(project) -> None:
    root = _wrapper_project(
        project,
        'def checkout(uid):\n    _track_event(uid, "checkout")\n',
        **{
            "tests/test_track.py": (
                "from app.client import cio\n"
                "from app.track import _track_event\n"
                "def test_track():\n"
                "    _track_event(1, EVENT)\n"
                "    assert [_track_event]\n"
            )
        },
    )

    assert _cio301(root, ".")["fix"] == "safe"


@pytest.mark.parametrize(
    ("helpers", "pay", "place"),
    [
        (
            "from app.track import _track_event as send_order\n",
            'send_order(uid, "order")',
            "app/pay.py:3",
        ),
        (
            "from app.track import _track_event\n"
            "def send_order(uid):\n"
            '    _track_event(uid, "order")\n',
            "send_order(uid)",
            "app/tests/helpers.py:3",
        ),
    ],
    ids=["re-export", "helper-call"],
)
def test_events_test_module_imported_by_app_read(project, helpers, pay, place) -> None:
    # Application code imports the test module, so it runs in production.
    root = _wrapper_project(
        project,
        "",
        **{
            "app/tests/__init__.py": "",
            "app/tests/helpers.py": helpers,
            "app/pay.py": (
                "from app.tests.helpers import send_order\n"
                f"def pay(uid):\n    {pay}\n"
            ),
        },
    )

    finding = _cio301(root, ".")

    assert finding["fix"] is None
    assert f"'order' is already sent at {place}" in finding["message"]


def test_events_decorated_wrapper_unsafe(project) -> None:
    root = _wrapper_project(
        project,
        "",
        **{
            "app/track.py": (
                "from app.client import cio\n"
                "def _namespaced(func):\n"
                "    return lambda uid, name: func(uid, 'order_' + name)\n"
                "@_namespaced\n"
                "def _track_event(uid, name):\n"
                "    cio.track(customer_id=uid, name=name)\n"
                "def checkout(uid):\n"
                '    _track_event(uid, "placed")\n'
            )
        },
    )

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/track.py:6," in finding["message"]


def test_events_public_wrapper_unsafe(project) -> None:
    root = _wrapper_project(
        project,
        'def track_order(uid):\n    _track_event(uid, "paid")\n',
        **{"app/public.py": WRAPPER_PROJECT["app/track.py"]},
    )

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/public.py:3," in finding["message"]


def test_events_partial_name_withholds_fix(project) -> None:
    root = _wrapper_project(
        project,
        "",
        **{
            "app/track.py": (
                "import functools\n"
                "from app.client import cio\n"
                'track_order = functools.partial(cio.track, name="order")\n'
            )
        },
    )

    assert _cio301(root, ".")["fix"] is None


PARTIAL_TRACK = (
    "import functools\n"
    "from app.client import cio\n"
    '_track_paid = functools.partial(cio.track, name="paid")\n'
)


@pytest.mark.parametrize(
    "files",
    [
        {
            "app/track.py": PARTIAL_TRACK
            + 'def pay(uid):\n    _track_paid(uid, name="order")\n'
        },
        {
            "app/track.py": PARTIAL_TRACK,
            "app/pay.py": (
                "from app import track\n"
                "def pay(uid):\n"
                '    track._track_paid(uid, name="order")\n'
            ),
        },
    ],
    ids=["same-module", "other-module"],
)
def test_events_partial_call_name_withholds_fix(project, files) -> None:
    root = _wrapper_project(project, "", **files)

    finding = _cio301(root, ".")

    assert finding["fix"] is None
    assert "'order' is already sent at app/" in finding["message"]


@pytest.mark.parametrize(
    ("callers", "line"),
    [
        ("def pay(uid, event):\n    _track_paid(uid, name=event)\n", 5),
        ("HANDLERS = [_track_paid]\n", 4),
        ('track_paid = functools.partial(cio.track, name="paid")\n', 4),
        ('HANDLERS = [functools.partial(cio.track, name="paid")]\n', 4),
    ],
    ids=["unread-value", "escapes", "public", "unbound"],
)
def test_events_partial_unread_call_unsafe(project, callers, line) -> None:
    root = _wrapper_project(project, "", **{"app/track.py": PARTIAL_TRACK + callers})

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert f"cannot read the name sent at app/track.py:{line}," in finding["message"]


def test_events_partial_without_name_unsafe(project) -> None:
    root = _wrapper_project(
        project,
        "",
        **{
            "app/track.py": (
                "import functools\n"
                "from app.client import cio\n"
                "track = functools.partial(cio.track, customer_id=1)\n"
            )
        },
    )

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/track.py:3," in finding["message"]


def test_events_catalog_lists_wrapper_names(project) -> None:
    root = _wrapper_project(
        project, 'def checkout(uid):\n    _track_event(uid, "paid")\n'
    )

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}
    text = run_cli(["--list-events", "."], root)

    assert events["paid"]["places"] == [{"path": "app/track.py", "line": 4}]
    assert "2 event names, 2 call sites" in text.stdout
    assert result.json["unread"] == []


def test_events_catalog_lists_wrapper_calls_elsewhere(project) -> None:
    root = _wrapper_project(
        project,
        "",
        **{
            "app/pay.py": (
                "from app import track\n"
                "def pay(uid, event):\n"
                '    track._track_event(uid, "order")\n'
                "    track._track_event(uid, event)\n"
            )
        },
    )

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert events["order"]["places"] == [{"path": "app/pay.py", "line": 3}]
    assert result.json["unread"] == [{"path": "app/pay.py", "line": 4, "project": "."}]


def test_events_catalog_public_wrapper_counted_once(project) -> None:
    root = project(
        {
            **WRAPPER_PROJECT,
            "app/track.py": WRAPPER_PROJECT["app/track.py"]
            + 'def pay(uid):\n    track_event(uid, "paid")\n',
        }
    )

    text = run_cli(["--list-events", "."], root)

    assert "2 event names, 2 call sites" in text.stdout
    # The wrapper's calls are read, so the name parameter is no unread name.
    assert "cannot read" not in text.stdout


LOOKUPS = (
    "from app.client import cio\n"
    'EVENTS = {"paid": "order", "shipped": "shipment"}\n'
    'TEMPLATE = "ord{}"\n'
    'PRINTF = "ord%s"\n'
    "class Ev:\n"
    '    ORDER = "order"\n'
)


def _lookup_project(project, name: str, more: str = "", **files: str) -> Path:
    send = f"def send(uid, key):\n    cio.track(customer_id=uid, name={name})\n"
    return project({**WRAPPER_PROJECT, "app/track.py": LOOKUPS + send + more, **files})


@pytest.mark.parametrize(
    "name",
    [
        'EVENTS["paid"]',
        'EVENTS.get("paid")',
        'TEMPLATE.format("er")',
        'PRINTF % "er"',
        'PRINTF % ("er",)',
        'getattr(Ev, "ORDER")',
    ],
)
def test_events_lookup_name_withholds_fix(project, name: str) -> None:
    root = _lookup_project(project, name)

    finding = _cio301(root, ".")

    assert finding["fix"] is None
    assert "'order' is already sent at app/track.py:8" in finding["message"]


@pytest.mark.parametrize(
    ("name", "rebinding"),
    [
        ('TEMPLATE.format("er")', 'from app import track\ntrack.TEMPLATE = "order"\n'),
        ('PRINTF % "er"', 'import app.track\napp.track.PRINTF += "%s"\n'),
        ("TEMPLATE", 'from app import track as t\nt.TEMPLATE = "order"\n'),
        ("TEMPLATE", 'from app import track\nsetattr(track, "TEMPLATE", "order")\n'),
        ("TEMPLATE", "import app.track\ndelattr(app.track, 'TEMPLATE')\n"),
        (
            "TEMPLATE",
            "import os\nfrom app import track\n"
            'for key in ("TEMPLATE",):\n'
            "    setattr(track, key, os.environ[key])\n",
        ),
        ("TEMPLATE", 'from app import track\ntrack.__dict__["TEMPLATE"] = "order"\n'),
        ("TEMPLATE", "from app import track as t\nt.__dict__.update(TEMPLATE='x')\n"),
        ("TEMPLATE", 'from app import track\nvars(track)["TEMPLATE"] = "order"\n'),
        ("TEMPLATE", "from app import track\nvars(track).update(TEMPLATE='x')\n"),
        (
            "TEMPLATE",
            "import os\nfrom app import track\n"
            'for key in ("TEMPLATE",):\n'
            "    vars(track)[key] = os.environ[key]\n",
        ),
    ],
    ids=[
        "format-module",
        "printf-dotted",
        "constant-alias",
        "setattr",
        "delattr",
        "setattr-any-name",
        "dict-item",
        "dict-update",
        "vars-item",
        "vars-update",
        "vars-any-key",
    ],
)
def test_events_constant_rebound_elsewhere_unsafe(
    project, name: str, rebinding: str
) -> None:
    # The rebinding module mentions neither Customer.io nor a client.
    root = _lookup_project(project, name, **{"app/boot.py": rebinding})

    finding = _cio301(root, ".")
    events = run_cli(["--list-events", "--output-format", "json", "."], root)

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/track.py:8," in finding["message"]
    assert events.json["unread"] == [
        {"path": "app/track.py", "line": 8, "project": "."}
    ]


def test_events_imported_constant_rebound_unsafe(project) -> None:
    root = project(
        {
            **WRAPPER_PROJECT,
            "app/names.py": 'TEMPLATE = "ord{}"\n',
            "app/track.py": (
                "from app.client import cio\n"
                "from app.names import TEMPLATE\n"
                "def send(uid):\n"
                '    cio.track(customer_id=uid, name=TEMPLATE.format("er"))\n'
            ),
            "app/boot.py": 'from app import names\nnames.TEMPLATE = "order{}"\n',
        }
    )

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/track.py:4," in finding["message"]


def test_events_constant_rebound_by_globals_unsafe(project) -> None:
    root = _lookup_project(
        project, 'TEMPLATE.format("er")', 'globals()["TEMPLATE"] = "order"\n'
    )

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/track.py:8," in finding["message"]


@pytest.mark.parametrize(
    "use",
    [
        "from app import track\nSHOWN = track.TEMPLATE == 'x'\n",
        "from app import track\nclass Boot:\n    TEMPLATE = track.TEMPLATE\n",
    ],
    ids=["comparison", "class-attribute"],
)
def test_events_constant_read_elsewhere_still_read(project, use: str) -> None:
    root = _lookup_project(project, 'TEMPLATE.format("er")', **{"app/boot.py": use})

    assert _cio301(root, ".")["fix"] is None


@pytest.mark.parametrize(
    "rebinding",
    [
        'setattr(sys.modules[__name__], "TEMPLATE", "order")\n',
        'vars(sys.modules[__name__])["TEMPLATE"] = "order"\n',
    ],
    ids=["setattr", "vars-item"],
)
def test_events_constant_rebound_by_own_module_unsafe(project, rebinding) -> None:
    root = _lookup_project(project, 'TEMPLATE.format("er")', "import sys\n" + rebinding)

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/track.py:8," in finding["message"]


def test_events_constant_rebound_by_vars_unsafe(project) -> None:
    # `vars(...)` is not searched for, so the module imports the client.
    root = _lookup_project(
        project,
        'TEMPLATE.format("er")',
        **{
            "app/boot.py": (
                "from app.client import cio\nfrom app import track\n"
                'vars(track)["TEMPLATE"] = "order"\n'
            )
        },
    )

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/track.py:8," in finding["message"]


@pytest.mark.parametrize(
    "use",
    [
        'from app import track\nSHOWN = getattr(track, "TEMPLATE")\n',
        'from app import track\nSHOWN = vars(track)["TEMPLATE"]\n',
        'from app import track\nSHOWN = track.__dict__.get("TEMPLATE")\n',
        'from app import track\nclass Boot:\n    pass\nsetattr(Boot, "TEMPLATE", 1)\n',
    ],
    ids=["getattr", "vars-read", "dict-get", "class-attribute"],
)
def test_events_constant_read_through_module_still_read(project, use: str) -> None:
    root = _lookup_project(project, 'TEMPLATE.format("er")', **{"app/boot.py": use})

    assert _cio301(root, ".")["fix"] is None


def test_events_constant_read_by_globals_still_read(project) -> None:
    root = _lookup_project(
        project,
        'TEMPLATE.format("er")',
        'KNOWN = "TEMPLATE" in globals() and globals().get("TEMPLATE")\n',
    )

    assert _cio301(root, ".")["fix"] is None


def test_events_dict_read_elsewhere_still_read(project) -> None:
    root = _lookup_project(
        project,
        'EVENTS["paid"]',
        "def known(key):\n    return key in EVENTS and EVENTS.get(key) or list(EVENTS.items())\n",
    )

    assert _cio301(root, ".")["fix"] is None


def test_events_lookup_other_name_keeps_fix_safe(project) -> None:
    root = _lookup_project(project, 'TEMPLATE.format("ders")')

    assert _cio301(root, ".")["fix"] == "safe"


def test_events_dict_other_name_makes_fix_unsafe(project) -> None:
    root = _lookup_project(project, 'EVENTS["shipped"]')

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cio-fix cannot read the name sent at app/track.py:8," in (
        finding["message"]
    )


@pytest.mark.parametrize(
    ("name", "more"),
    [
        ('EVENTS["paid"]', 'EVENTS["paid"] = "refund"\n'),
        ('EVENTS["paid"]', 'EVENTS["paid"] += "_v2"\n'),
        ('EVENTS["paid"]', 'del EVENTS["paid"]\n'),
        ('EVENTS["paid"]', 'EVENTS.update(paid="refund")\n'),
        ('EVENTS["paid"]', 'EVENTS.setdefault("new", "refund")\n'),
        ('EVENTS["paid"]', 'EVENTS.pop("shipped")\n'),
        ('EVENTS["paid"]', "register(EVENTS)\n"),
        ('EVENTS["paid"]', "def reset():\n    global EVENTS\n    EVENTS = {}\n"),
        ('EVENTS["paid"]', 'EVENTS = {"paid": "refund"}\n'),
        ('EVENTS["missing"]', ""),
        ("EVENTS[key]", ""),
        ("TEMPLATE.format(key)", ""),
        ('FIELD.format("x")', 'FIELD = "{0.upper}"\n'),
        ("PRINTF % key", ""),
        ("getattr(Ev, key)", ""),
        ('getattr(Ev, "MISSING")', ""),
        ('getattr(Ev, "ORDER")', "def getattr(owner, name):\n    return name\n"),
    ],
)
def test_events_unread_lookup_makes_fix_unsafe(project, name: str, more: str) -> None:
    root = _lookup_project(project, name, more)

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/track.py:8," in finding["message"]


def test_events_dict_imported_elsewhere_unsafe(project) -> None:
    root = _lookup_project(
        project,
        'EVENTS["paid"]',
        **{"app/pay.py": "from app.client import cio\nfrom app.track import EVENTS\n"},
    )

    assert _cio301(root, ".")["fix"] == "unsafe"


def test_events_catalog_lists_lookup_names(project) -> None:
    root = _lookup_project(project, 'EVENTS["paid"]')

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert events["order"]["places"] == [{"path": "app/track.py", "line": 8}]
    # Code may change a dict item, so the place is also unread.
    assert result.json["unread"] == [
        {"path": "app/track.py", "line": 8, "project": "."}
    ]


def test_events_lookup_name_compared_by_cio303(project) -> None:
    root = project(
        {
            **WRAPPER_PROJECT,
            "app/track.py": LOOKUPS.replace('"order"', '"OrderPaid"', 1)
            + 'def send(uid):\n    cio.track(customer_id=uid, name=EVENTS["paid"])\n',
            "app/refund.py": (
                "from app.client import cio\n"
                'cio.track(customer_id=1, name="order_paid")\n'
            ),
        }
    )

    result = run_cli(["--output-format", "json", "--select", "CIO303", "."], root)
    messages = [finding["message"] for finding in result.json["findings"]]

    assert any(
        "'OrderPaid' (sent at app/track.py:8)" in message and "'order_paid'" in message
        for message in messages
    )


BUILDS_PROJECT = {
    "app/__init__.py": "",
    "app/orders.py": (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n'
        "def refund(uid, kind):\n"
        '    cio.track(customer_id=uid, name="order_" + kind)\n'
        "def ship(uid, carrier):\n"
        '    cio.track(customer_id=uid, name=f"order_{carrier}")\n'
        "def checkout(uid, total):\n"
        '    cio.track(customer_id=uid, name="Paid", total=total)\n'
        "def repay(uid, kind):\n"
        '    cio.track(customer_id=uid, name="paid_" + kind)\n'
    ),
    "requirements.txt": "customerio==2.1\n",
}


def test_events_fixed_name_of_other_build_message(project) -> None:
    root = project(BUILDS_PROJECT)

    result = run_cli(["--output-format", "json", "."], root)
    messages = {f["line"]: f for f in result.json["findings"] if f["code"] == "CIO301"}

    assert messages[4]["fix"] is None
    assert messages[4]["message"].endswith(
        "(not fixed: the fixed name 'order' is also the fixed name of"
        ' f"order_{carrier}" (app/orders.py:6), which builds different names,'
        " so the fixes would merge their events; choose a name of its own)"
    )
    assert messages[6]["fix"] is None
    assert '"order_" + kind (app/orders.py:4)' in messages[6]["message"]


def test_events_fixed_name_case_variant_message(project) -> None:
    root = project(BUILDS_PROJECT)

    result = run_cli(["--output-format", "json", "."], root)
    (finding,) = [
        f for f in result.json["findings"] if f["code"] == "CIO301" and f["line"] == 10
    ]

    assert finding["fix"] is None
    assert finding["message"].endswith(
        "(not fixed: the fixed name 'paid' differs only in case or separators"
        " from 'Paid' (sent at app/orders.py:8), so CIO303 would then ask to"
        " rename the two events into one; choose a name of its own)"
    )


def test_events_catalog_merges_of_builds(project) -> None:
    root = project(BUILDS_PROJECT)

    text = run_cli(["--list-events", "."], root)
    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert (
        "built from values; the fixed name 'order' is also the fixed name of a"
        " different built name, so it needs a name of its own" in text.stdout
    )
    assert (
        "built from values; the fixed name 'paid' differs only in case or"
        " separators from the sent name 'Paid', so it needs a name of its own"
        in text.stdout
    )
    assert events['"order_" + kind']["merges_into"] == "order"
    assert events['f"order_{carrier}"']["merges_into"] == "order"
    assert events['"paid_" + kind']["merges_into"] == "Paid"
    assert events['"paid_" + kind']["suggested"] is None


def test_events_catalog_merge_into_enum_member(project) -> None:
    root = project(
        {
            "app.py": (
                "from enum import Enum\n"
                "from customerio import CustomerIO\n"
                'cio = CustomerIO("site", "key")\n'
                "class Ev(str, Enum):\n"
                '    ORDER = "order"\n'
                "def checkout(uid):\n"
                "    cio.track(customer_id=uid, name=Ev.ORDER)\n"
                "def refund(uid, kind):\n"
                '    cio.track(customer_id=uid, name="order_" + kind)\n'
            ),
            "requirements.txt": "customerio==2.1\n",
        }
    )

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert events['"order_" + kind']["merges_into"] == "order"
    assert events['"order_" + kind']["suggested"] is None


SENT_THROUGH_VALUES_PROJECT = {
    "app/__init__.py": "",
    "app/events.py": (
        "from enum import Enum, StrEnum\n"
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n'
        "class Ev(str, Enum):\n"
        '    ORDER = "order"\n'
        "class Plan(StrEnum):\n"
        '    UPGRADED = "PlanUpgraded"\n'
        "class Names:\n"
        '    PAYMENT = "payment"\n'
        "def checkout(uid):\n"
        "    cio.track(customer_id=uid, name=Ev.ORDER)\n"
        "    cio.track(customer_id=uid, name=Ev.ORDER.value)\n"
        "def upgrade(uid):\n"
        "    cio.track(customer_id=uid, name=Plan.UPGRADED)\n"
        "def pay(uid):\n"
        "    cio.track(customer_id=uid, name=Names.PAYMENT)\n"
        "def ship(uid, late):\n"
        '    event = "shipment"\n'
        "    cio.track(customer_id=uid, name=event)\n"
        '    cio.track(customer_id=uid, name="late" if late else "on_time")\n'
        "def place(uid, paid):\n"
        '    step = "placed" if paid else "pending"\n'
        '    cio.track(customer_id=uid, name=f"cart_{step}")\n'
    ),
    "app/billing.py": (
        "from app.events import cio\n"
        "def upgrade(uid):\n"
        '    cio.track(customer_id=uid, name="plan_upgraded")\n'
    ),
    "requirements.txt": "customerio==2.1\n",
}


def test_events_catalog_value_sends(project) -> None:
    root = project(SENT_THROUGH_VALUES_PROJECT)

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert sorted(events) == [
        "PlanUpgraded",
        'f"cart_{step}"',
        "late",
        "on_time",
        "order",
        "payment",
        "plan_upgraded",
        "shipment",
    ]
    assert events["order"]["calls"] == 2
    assert events["order"]["places"] == [
        {"path": "app/events.py", "line": 11},
        {"path": "app/events.py", "line": 12},
    ]
    assert events["payment"]["places"] == [{"path": "app/events.py", "line": 16}]
    assert events["shipment"]["places"] == [{"path": "app/events.py", "line": 19}]
    assert events["late"]["places"] == [{"path": "app/events.py", "line": 20}]
    assert events["on_time"]["places"] == [{"path": "app/events.py", "line": 20}]
    assert events["order"]["dynamic"] is False
    assert events["order"]["follows_style"] is True


def test_events_catalog_value_send_checks(project) -> None:
    root = project(SENT_THROUGH_VALUES_PROJECT)

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert events["PlanUpgraded"]["follows_style"] is False
    assert events["PlanUpgraded"]["suggested"] == "plan_upgraded"
    assert events["PlanUpgraded"]["variants"] == ["plan_upgraded"]
    assert events["PlanUpgraded"]["files"] == ["app/events.py"]
    assert events["plan_upgraded"]["variants"] == ["PlanUpgraded"]
    assert events['f"cart_{step}"']["picked"] == ["cart_pending", "cart_placed"]
    assert events["order"]["picked"] is None


def test_events_catalog_value_sends_text(project) -> None:
    root = project(SENT_THROUGH_VALUES_PROJECT)

    result = run_cli(["--list-events", "."], root)
    lines = result.stdout.splitlines()

    assert result.exit_code == 0
    assert "order           2 calls   app/events.py" in lines
    assert "shipment        1 call    app/events.py" in lines
    assert "breaks the snake_case style; would be 'plan_upgraded'" in result.stdout
    assert "other spellings: 'PlanUpgraded'" in result.stdout
    assert (
        "picked from a few fixed values, a few distinct events: 'cart_pending',"
        " 'cart_placed'" in result.stdout
    )
    # The call that sends "late" or "on_time" is one call site, not two.
    assert "8 event names, 8 call sites, style snake_case." in result.stdout


FUNCTION_IMPORT_SOURCE = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key")


def send_signup(uid):
    event = "signed_up"
    cio.track(customer_id=uid, name=event)


def send_close(uid):
    from app.names import CLOSED as event
    cio.track(customer_id=uid, name=event)
"""


def test_list_events_function_import_stays_local(project) -> None:
    root = project(
        {
            "app/__init__.py": "",
            "app/names.py": 'CLOSED = "account_closed"\n',
            "app/track.py": FUNCTION_IMPORT_SOURCE,
        }
    )

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert sorted(events) == ["account_closed", "signed_up"]
    assert events["signed_up"]["places"] == [{"path": "app/track.py", "line": 8}]
    assert events["account_closed"]["places"] == [{"path": "app/track.py", "line": 13}]


REBOUND_ELSEWHERE_SOURCE = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key")

STEP = "step_started"


def checkout(uid, paid):
    event = "checkout_started"

    def mark_paid():
        nonlocal event
        event = "checkout_paid"

    if paid:
        mark_paid()
    cio.track(customer_id=uid, name=event)


def advance():
    global STEP
    STEP = "step_paid"


def send_step(uid):
    cio.track(customer_id=uid, name=STEP)


def restart(uid):
    global STEP
    STEP = "step_restarted"
    cio.track(customer_id=uid, name=STEP)


def cancel(uid):
    event = "Checkout Started"
    cio.track(customer_id=uid, name=event)
"""


def test_list_events_names_rebound_elsewhere(project) -> None:
    root = project({"track.py": REBOUND_ELSEWHERE_SOURCE})

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    names = [event["name"] for event in result.json["events"]]

    # Only `cancel` sends a name bound once; the others may send two names.
    assert names == ["Checkout Started"]


def test_events_rebound_names_not_compared(project) -> None:
    root = project({"track.py": REBOUND_ELSEWHERE_SOURCE})

    result = run_cli(["--output-format", "json", "--select", "CIO303", "."], root)
    [finding] = result.json["findings"]

    # The finding is at the literal that `cancel` binds its variable to.
    assert finding["line"] == 37
    assert "differs only in case" not in finding["message"]


def test_events_enum_variant_message(project) -> None:
    root = project(SENT_THROUGH_VALUES_PROJECT)

    result = run_cli(["--output-format", "json", "--select", "CIO303", "."], root)
    findings = {(f["path"], f["line"]): f for f in result.json["findings"]}

    assert sorted(findings) == [("app/billing.py", 3), ("app/events.py", 14)]
    enum_send = findings[("app/events.py", 14)]
    assert enum_send["fix"] is None
    assert enum_send["message"] == (
        "event name 'PlanUpgraded' (sent at app/events.py:14) does not follow the"
        " snake_case style; it also differs only in case or separators from"
        " 'plan_upgraded' (app/billing.py:3), which Customer.io records as"
        " separate events; rename it to 'plan_upgraded' where `Plan.UPGRADED`"
        " gets its text, but first update the campaigns, segments and webhooks"
        " keyed on 'PlanUpgraded' in Customer.io (not fixed: cio-fix renames a"
        " name only where it is one string literal, at the call or in a module"
        " constant)"
    )
    assert findings[("app/billing.py", 3)]["message"].endswith(
        "choose one name and use it everywhere"
    )


def test_events_variant_places_in_line_order(project) -> None:
    sends = "".join('    cio.track(uid, "Order Shipped")\n' for _ in range(9))
    source = (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n'
        "def shipped(uid):\n"
        f"{sends}"
        '    cio.track(uid, "order_shipped")\n'
    )
    root = project({"app.py": source})

    result = run_cli(["--output-format", "json", "--select", "CIO303", "."], root)
    messages = [finding["message"] for finding in result.json["findings"]]

    assert any("'Order Shipped' (app.py:4, app.py:5," in text for text in messages)
    assert not any("app.py:12, app.py:4" in text for text in messages)


def test_events_unfixed_message_singular_value(project) -> None:
    source = (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n'
        "def sent(uid, kind):\n"
        '    cio.track(uid, "order")\n'
        '    cio.track(uid, "order_" + kind)\n'
    )
    root = project({"app.py": source, "requirements.txt": "customerio==3.1\n"})

    result = run_cli(["--output-format", "json", "--select", "CIO301", "."], root)
    [finding] = result.json["findings"]

    assert "use a fixed name and send the value as an event attribute (" in (
        finding["message"]
    )


IMPORTED_CLASSES_PROJECT = {
    "app/__init__.py": "",
    "app/events.py": (
        "from enum import Enum\n"
        "class Ev(str, Enum):\n"
        '    SHIPPED = "OrderShipped"\n'
        "class Names:\n"
        '    PAID = "order_paid"\n'
    ),
    "app/views.py": (
        "from customerio import CustomerIO\n"
        "import app.events as ev\n"
        "from app.events import Ev\n"
        'cio = CustomerIO("site", "key")\n'
        "def order(uid):\n"
        "    cio.track(customer_id=uid, name=Ev.SHIPPED)\n"
        "    cio.track(customer_id=uid, name=Ev.SHIPPED.value)\n"
        "    cio.track(customer_id=uid, name=ev.Names.PAID)\n"
        '    cio.track(customer_id=uid, name="order_shipped")\n'
    ),
}


def test_list_events_imported_class_sends(project) -> None:
    root = project(IMPORTED_CLASSES_PROJECT)

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert sorted(events) == ["OrderShipped", "order_paid", "order_shipped"]
    assert events["OrderShipped"]["places"] == [
        {"path": "app/views.py", "line": 6},
        {"path": "app/views.py", "line": 7},
    ]
    assert events["OrderShipped"]["variants"] == ["order_shipped"]
    assert events["OrderShipped"]["suggested"] == "order_shipped"
    assert events["order_paid"]["places"] == [{"path": "app/views.py", "line": 8}]


def test_list_events_imported_class_counts(project) -> None:
    root = project(IMPORTED_CLASSES_PROJECT)

    result = run_cli(["--list-events", "."], root)

    assert result.exit_code == 0
    assert "other spellings: 'order_shipped'" in result.stdout
    assert "3 event names, 4 call sites, style snake_case." in result.stdout


def test_list_events_enum_value_reads_its_module(project) -> None:
    # `.value` is the only mention of the enum, so nothing else reads app/events.py.
    root = project(
        {
            **IMPORTED_CLASSES_PROJECT,
            "app/views.py": (
                "from customerio import CustomerIO\n"
                "from app.events import Ev\n"
                'cio = CustomerIO("site", "key")\n'
                "def order(uid):\n"
                "    cio.track(customer_id=uid, name=Ev.SHIPPED.value)\n"
            ),
        }
    )

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert sorted(events) == ["OrderShipped"]
    assert events["OrderShipped"]["places"] == [{"path": "app/views.py", "line": 5}]


def test_list_events_parameter_shadows_imported_class(project) -> None:
    # A parameter named `Ev` in another function leaves the module-level import as is.
    root = project(
        {
            **IMPORTED_CLASSES_PROJECT,
            "app/views.py": (
                "from customerio import CustomerIO\n"
                "from app.events import Ev\n"
                'cio = CustomerIO("site", "key")\n'
                "def other(uid, Ev=None):\n"
                "    cio.identify(uid)\n"
                "def order(uid):\n"
                "    cio.track(customer_id=uid, name=Ev.SHIPPED.value)\n"
                "def shipped(uid, carrier):\n"
                '    cio.track(customer_id=uid, name="OrderShipped" + carrier)\n'
            ),
        }
    )

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert "OrderShipped" in events
    assert events["OrderShipped"]["places"] == [{"path": "app/views.py", "line": 7}]
    assert events['"OrderShipped" + carrier']["merges_into"] == "OrderShipped"


REBOUND_CLASS_PROJECT = {
    "app/__init__.py": "",
    "app/events.py": (
        "from enum import StrEnum\n"
        "class Legacy(StrEnum):\n"
        '    SHIPPED = "OrderShipped"\n'
        "class Current(StrEnum):\n"
        '    SHIPPED = "order_shipped"\n'
    ),
    "app/orders.py": (
        "from customerio import CustomerIO\n"
        "from app.events import Legacy as Ev\n"
        "from app.events import Current\n"
        'cio = CustomerIO("site", "key")\n'
        "Ev = Current\n"
        "def shipped(uid):\n"
        "    cio.track(uid, Ev.SHIPPED)\n"
        "def shipped_by(uid, carrier):\n"
        '    cio.track(uid, "order_shipped_" + carrier)\n'
    ),
    "requirements.txt": "customerio==3.0.0\n",
}


def test_list_events_rebound_class_unknown(project) -> None:
    root = project(REBOUND_CLASS_PROJECT)

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert sorted(events) == ['"order_shipped_" + carrier']
    assert events['"order_shipped_" + carrier']["merges_into"] == "order_shipped"


def test_rebound_class_no_style_finding(project) -> None:
    # At run time the call sends `order_shipped`, not the imported class's `OrderShipped`.
    root = project(REBOUND_CLASS_PROJECT)

    result = run_cli(["--output-format", "json", "--select", "CIO303", "."], root)

    assert result.json["findings"] == []


def test_rebound_constant_part_not_fixed(project) -> None:
    source = (
        "from customerio import CustomerIO\n"
        'PREFIX = "billing"\n'
        "try:\n"
        "    from local_settings import PREFIX\n"
        "except ImportError:\n"
        "    pass\n"
        'cio = CustomerIO("site", "key")\n'
        "def upgraded(uid, region):\n"
        '    cio.track(uid, f"{PREFIX}_upgraded_{region}")\n'
    )
    root = project({"app.py": source, "requirements.txt": "customerio==3.1\n"})

    result = run_cli(["--output-format", "json", "--select", "CIO301", "."], root)
    [finding] = result.json["findings"]

    assert finding["fix"] is None
    assert "reads `PREFIX`, which the module binds more than once" in (
        finding["message"]
    )


# 500 unary minus operators, which nest one level each.
DEEP_TERMS = "-" * 500 + "1"
DEEP_FILE = (
    "from customerio import CustomerIO\n"
    "cio = CustomerIO('site', 'key')\n"
    "cio.track(customer_id=1, name='ping')\n"
    # CPython compiles it, but reading its positions goes past Python's
    # recursion limit.
    f"x = {DEEP_TERMS}\n"
)
OTHER_FILE = (
    "from customerio import CustomerIO\n"
    "cio = CustomerIO('site', 'key')\n"
    "cio.track(customer_id=1, name='synced')\n"
)
NOT_LISTED = (
    "event names not listed: nested too deeply to analyse (past Python's recursion"
    " limit); exclude it if it is generated code"
)


def test_events_catalog_deep_file_json(project) -> None:
    root = project({"app.py": DEEP_FILE, "other.py": OTHER_FILE})

    result = run_cli(["--list-events", "--no-cache", "--output-format", "json"], root)

    assert result.exit_code == 2
    assert result.json["errors"] == [{"path": "app.py", "message": NOT_LISTED}]
    assert [event["name"] for event in result.json["events"]] == ["synced"]


def test_events_catalog_deep_file_text(project) -> None:
    root = project({"app.py": DEEP_FILE, "other.py": OTHER_FILE})

    result = run_cli(["--list-events", "--no-cache", ".", "missing.py"], root)

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"app.py: error: {NOT_LISTED}",
        "missing.py: error: path not found; check the spelling or the folder",
    ]
    assert "synced  1 call " in result.stdout
    assert "ping" not in result.stdout


HANDLERS = (
    "from app.client import cio\n"
    "class Handler:\n"
    '    event_name = "order"\n'
    "    def send(self, uid):\n"
    "        cio.track(customer_id=uid, name=self.event_name)\n"
    "class PaymentHandler(Handler):\n"
    '    event_name = "payment"\n'
)


def _handler_project(project, more: str = "", **files: str) -> Path:
    return project({**WRAPPER_PROJECT, "app/track.py": HANDLERS + more, **files})


@pytest.mark.parametrize("refund", ['"order_" + kind', '"payment_" + kind'])
def test_events_self_attribute_withholds_fix(project, refund: str) -> None:
    root = _handler_project(
        project, **{"app/refund.py": REFUND.replace('"order_" + kind', refund)}
    )

    finding = _cio301(root, ".")

    assert finding["fix"] is None
    assert "is already sent at app/track.py:5" in finding["message"]


def test_events_self_attribute_inherited_still_read(project) -> None:
    root = _handler_project(project, "class RefundHandler(PaymentHandler):\n    pass\n")

    assert _cio301(root, ".")["fix"] is None


@pytest.mark.parametrize(
    "more",
    [
        "class Other(Handler):\n    event_name = EVENT\n",
        "class Other(Handler):\n    @property\n    def event_name(self):\n"
        '        return "x"\n',
        'def rename(handler):\n    handler.event_name = "refund"\n',
        "class Other(Handler):\n    def __init__(self, name):\n"
        "        self.event_name = name\n",
        'def rename(handler):\n    setattr(handler, "event_name", "refund")\n',
    ],
    ids=["not-literal", "property", "assigned", "through-self", "setattr"],
)
def test_events_self_attribute_unread_unsafe(project, more: str) -> None:
    root = _handler_project(project, more)

    finding = _cio301(root, ".")

    assert finding["fix"] == "unsafe"
    assert "cannot read the name sent at app/track.py:5," in finding["message"]


@pytest.mark.parametrize(
    "source",
    [
        HANDLERS.replace("class Handler:", "class Handler(Base):").replace(
            "from app.client import cio\n",
            "from app.client import cio\nfrom lib import Base\n",
        ),
        HANDLERS.replace('    event_name = "order"\n', "    pass\n", 1),
        HANDLERS.replace("    def send(self", "    @staticmethod\n    def send(self"),
    ],
    ids=["base-outside-project", "not-in-class", "decorated"],
)
def test_events_self_attribute_class_unread(project, source: str) -> None:
    root = project({**WRAPPER_PROJECT, "app/track.py": source})

    assert _cio301(root, ".")["fix"] == "unsafe"


def test_events_self_attribute_class_imported(project) -> None:
    root = _handler_project(
        project,
        **{
            "app/refunds.py": "from app.client import cio\n"
            "from app.track import Handler\n"
            "class RefundHandler(Handler):\n"
            "    event_name = compute()\n"
        },
    )

    assert _cio301(root, ".")["fix"] == "unsafe"


def test_events_catalog_lists_self_attribute_names(project) -> None:
    root = _handler_project(project)

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert events["order"]["places"] == [{"path": "app/track.py", "line": 5}]
    assert events["payment"]["places"] == [{"path": "app/track.py", "line": 5}]
    # Code may change `self.event_name`, so the place is also unread.
    assert result.json["unread"] == [
        {"path": "app/track.py", "line": 5, "project": "."}
    ]


# Projects whose other module changes at run time the value that a sent name
# reads, so the project may already send "order".
CHANGED_ELSEWHERE = {
    "class attribute": {
        "app/ev.py": (
            "from app.client import cio\n"
            "class Ev:\n"
            '    PAID = "order_paid"\n'
            "def send(uid):\n"
            "    cio.track(customer_id=uid, name=Ev.PAID)\n"
        ),
        "app/boot.py": 'from app import ev\nev.Ev.PAID = "order"\n',
    },
    "dict item": {
        "app/ev.py": (
            "from app.client import cio\n"
            'EVENTS = {"paid": "order_paid"}\n'
            "def send(uid):\n"
            '    cio.track(customer_id=uid, name=EVENTS["paid"])\n'
        ),
        "app/boot.py": 'from app import ev\nev.EVENTS["paid"] = "order"\n',
    },
    "self attribute": {
        "app/ev.py": (
            "from app.client import cio\n"
            "class Sender:\n"
            '    event_name = "order_paid"\n'
            "    def send(self, uid):\n"
            "        cio.track(customer_id=uid, name=self.event_name)\n"
        ),
        "app/boot.py": (
            "from app import ev\n"
            "sender = ev.Sender()\n"
            'sender.event_name = "order"\n'
        ),
    },
}


@pytest.mark.parametrize("case", sorted(CHANGED_ELSEWHERE))
def test_events_value_changed_elsewhere_fix_unsafe(project, case: str) -> None:
    root = project({**WRAPPER_PROJECT, "app/track.py": "", **CHANGED_ELSEWHERE[case]})
    line = 5 if case != "dict item" else 4

    finding = _cio301(root, ".")
    applied = run_cli(["--apply", "--select", "CIO301,CIO302", "."], root)

    assert finding["fix"] == "unsafe"
    assert f"cio-fix cannot read the name sent at app/ev.py:{line}," in (
        finding["message"]
    )
    assert (root / "app/refund.py").read_text(encoding="utf-8") == REFUND
    assert "0 fixed" in applied.stdout


def test_events_value_changed_elsewhere_listed_unread(project) -> None:
    root = project(
        {**WRAPPER_PROJECT, "app/track.py": "", **CHANGED_ELSEWHERE["dict item"]}
    )

    result = run_cli(["--list-events", "--output-format", "json", "."], root)
    events = {event["name"]: event for event in result.json["events"]}

    assert events["order_paid"]["places"] == [{"path": "app/ev.py", "line": 4}]
    assert result.json["unread"] == [{"path": "app/ev.py", "line": 4, "project": "."}]


@pytest.mark.parametrize(
    "name",
    ['EVENTS["paid"]', 'EVENTS.get("paid")', 'getattr(Ev, "ORDER")', "Ev.ORDER"],
)
def test_events_mutable_read_still_withholds_fix(project, name: str) -> None:
    root = _lookup_project(project, name)

    finding = _cio301(root, ".")

    assert finding["fix"] is None
    assert "'order' is already sent at app/track.py:8" in finding["message"]


def test_events_enum_sent_through_background_helper(project) -> None:
    # The CIO304 fix wraps the call, and the module that defines the enum
    # names no Customer.io module: it must still be read.
    root = project(
        {
            "app/__init__.py": "",
            "app/events.py": (
                "from enum import Enum\n"
                "class Ev(str, Enum):\n"
                '    ORDER = "order"\n'
            ),
            "app/views.py": (
                "from customerio import CustomerIO\n"
                "from app.events import Ev\n"
                'cio = CustomerIO("site", "key")\n'
                "def _customerio_in_background(method, /, *args, **kwargs):\n"
                "    method(*args, **kwargs)\n"
                "def placed(uid):\n"
                "    _customerio_in_background(cio.track, customer_id=uid, name=Ev.ORDER)\n"
                "def shipped(uid, kind):\n"
                '    cio.track(customer_id=uid, name="order_" + kind)\n'
            ),
            "requirements.txt": "customerio==2.1\n",
        }
    )

    finding = _cio301(root, ".")

    assert finding["fix"] is None
    assert "the fixed name 'order' is already sent at app/views.py:7" in (
        finding["message"]
    )


def test_events_imported_name_copied_to_variable(project) -> None:
    root = project(
        {
            "app/__init__.py": "",
            "app/names.py": 'SIGNED_UP = "UserSignedUp"\n',
            "app/signup.py": (
                "from customerio import CustomerIO\n"
                "from app.names import SIGNED_UP\n"
                'cio = CustomerIO("site", "key")\n'
                "def signed_up(uid):\n"
                "    name = SIGNED_UP\n"
                "    cio.track(uid, name)\n"
            ),
        }
    )

    result = run_cli(["--select", "CIO303", "--output-format", "json", "."], root)
    findings = result.json["findings"]

    assert [finding["path"] for finding in findings] == ["app/signup.py"]
    assert findings[0]["line"] == 6


@pytest.mark.parametrize(
    ("built", "code"),
    [('f"order_{kind}"', "CIO301"), ('f"order_{user.email}"', "CIO302")],
)
def test_events_remaining_merge_lists_renamed_sender(project, built, code) -> None:
    root = project(
        {
            "pyproject.toml": '[project]\ndependencies = ["customerio==3.1.0"]\n',
            "app/__init__.py": "",
            "app/client.py": (
                "from customerio import CustomerIO\n"
                'cio = CustomerIO("site", "key")\n'
            ),
            "app/refunds.py": (
                "from app.client import cio\n"
                "def refund(user):\n"
                '    cio.track(user.id, "order", data={"refunded": True})\n'
            ),
            "app/checkout.py": (
                "from app.client import cio\n"
                "def checkout_done(user, cart):\n"
                '    cio.track(user.id, "Order", data={"total": cart.total})\n'
            ),
            "app/shipping.py": (
                "from app.client import cio\n"
                "def shipment_update(user, kind):\n"
                f"    cio.track(user.id, {built})\n"
            ),
        }
    )
    arguments = ["--unsafe-fixes", "--output-format", "json", "."]

    applied = run_cli(["--apply", *arguments], root)
    next_run = run_cli(arguments, root)
    remaining = [
        finding for finding in applied.json["findings"] if not finding["applied"]
    ]

    assert [finding["code"] for finding in remaining] == [code]
    assert "app/checkout.py:3, app/refunds.py:3" in remaining[0]["message"]
    assert [finding["message"] for finding in next_run.json["findings"]] == [
        remaining[0]["message"]
    ]


WRAPPED_PROJECT = {
    "pyproject.toml": "",
    "app/__init__.py": "",
    "app/tracking.py": (
        "from customerio import CustomerIO\n"
        'cio = CustomerIO("site", "key")\n'
        "def send(user_id, name, **attrs):\n"
        "    cio.track(customer_id=user_id, name=name, **attrs)\n"
    ),
    "app/views.py": (
        "from app.tracking import send\n"
        "def signup(user):\n"
        '    send(user.id, "signed_up", plan=user.plan)\n'
        "def paid(user, order):\n"
        '    send(user.id, f"paid_{order.id}")\n'
    ),
    "app/billing.py": (
        "from app.tracking import cio\n"
        "def renew(user):\n"
        '    cio.track(customer_id=user.id, name="SignedUp")\n'
    ),
}


def test_list_events_named_file_wrappers(project) -> None:
    root = project(WRAPPED_PROJECT)

    named = run_cli(["--list-events", "app/views.py"], root)
    whole = run_cli(["--list-events", "."], root)

    assert named.exit_code == 0
    assert "signed_up  " in named.stdout
    assert 'f"paid_{order.id}"  1 call    app/views.py' in named.stdout
    assert "2 event names, 2 call sites" in named.stdout
    assert "3 event names, 3 call sites" in whole.stdout


def test_list_events_named_file_own_calls(project) -> None:
    root = project(WRAPPED_PROJECT)

    result = run_cli(
        ["--list-events", "--output-format", "json", "app/billing.py"], root
    )
    events = {event["name"]: event for event in result.json["events"]}

    assert result.exit_code == 0
    assert list(events) == ["SignedUp"]
    # The other spelling is sent by a file that is read but not listed.
    assert events["SignedUp"]["variants"] == ["signed_up"]


def test_list_events_named_file_other_errors(project) -> None:
    files = dict(WRAPPED_PROJECT)
    files["app/broken.py"] = "from app.tracking import cio\ndef f(:\n"
    root = project(files)

    named = run_cli(["--list-events", "app/views.py"], root)
    whole = run_cli(["--list-events", "."], root)

    assert named.exit_code == 0
    assert named.stderr == ""
    assert whole.exit_code == 2
    assert "app/broken.py" in whole.stderr


KEYWORD_ATTRIBUTES_SDK3 = """\
from customerio import CustomerIO

cio = CustomerIO("site", "key")


def renamed(user, name):
    cio.track(user.id, "renamed_" + name, reason="typo")


def plan_changed(user, plan, clock):
    cio.track(user.id, "plan_" + plan.upper(), timestamp=clock.now(), reason=user.why())
"""


def _keyword_attributes_project(project) -> Path:
    return project(
        {"app.py": KEYWORD_ATTRIBUTES_SDK3, "requirements.txt": "customerio==3.1.0\n"}
    )


def _finding_line(output: str, place: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(place))


def test_events_sdk3_keywords_full_run(project) -> None:
    root = _keyword_attributes_project(project)
    applied = run_cli(["--apply", "--output-format", "json", "."], root)
    flags = {
        (finding["code"], finding["line"]): (finding["fix"], finding["applied"])
        for finding in applied.json["findings"]
    }
    fixed = (root / "app.py").read_text(encoding="utf-8")

    assert flags[("CIO301", 7)] == ("safe", True)
    assert flags[("CIO701", 7)] == ("safe", True)
    assert (
        'cio.track(user.id, "renamed", data={"reason": "typo", "name": name})' in fixed
    )


def test_events_sdk3_keywords_message_key(project) -> None:
    root = _keyword_attributes_project(project)
    dry = run_cli(["--dry-run", "."], root)
    names = _finding_line(dry.stdout, "app.py:7:24: CIO301")

    assert names.startswith("app.py:7:24: CIO301 [*]")
    assert "send 'renamed' with the value as the attribute `name`," in names


def test_events_sdk3_keywords_unfixed_reason(project) -> None:
    # CIO701 moves `reason` into `data`, and then no place for `plan.upper()`
    # keeps it before `clock.now()`.
    root = _keyword_attributes_project(project)
    dry = run_cli(["--dry-run", "."], root)
    names = _finding_line(dry.stdout, "app.py:11:24: CIO301")
    attributes = _finding_line(dry.stdout, "app.py:11:5: CIO701")

    assert names.endswith(
        "(not fixed: `clock.now()` would be evaluated before `plan.upper()`, and a"
        " call in one may change the value of the other)"
    )
    assert attributes.startswith("app.py:11:5: CIO701 [*]")


def test_events_sdk3_keywords_without_cio701(project) -> None:
    root = _keyword_attributes_project(project)
    dry = run_cli(["--dry-run", "--select", "CIO301", "."], root)
    names = _finding_line(dry.stdout, "app.py:7:24: CIO301")

    assert names.endswith(
        "(not fixed: customerio 3.x rejects the keyword attributes `reason` of this"
        " call, and CIO701, which moves them into `data`, is not selected)"
    )
    assert "--- a/app.py" not in dry.stdout

"""Project-level delivery rules (CIO402, CIO501, CIO502) and CIO503 templates, through the CLI."""

from __future__ import annotations

from conftest import run_cli

TRACK_CLIENT = 'from customerio import CustomerIO\n\ncio = CustomerIO("site", "key")\n'
APP_CLIENT = (
    "from customerio import APIClient, SendEmailRequest\n\n"
    'mailer = APIClient("app-key")\n'
)
SEND = (
    "\n\ndef send(user):\n"
    '    mailer.send_email(SendEmailRequest(transactional_message_id="x", to=user.email))\n'
)
WEBHOOK = (
    "import customerio\n\n\n"
    "def on_report(report):\n"
    '    if report["metric"] == "delivered":\n'
    "        return 1\n"
)


def _findings(root, code):
    result = run_cli(["--select", code, "--output-format", "json", "."], root)
    return result.json["findings"]


def test_delivery_bounce_reported_once_per_project(project):
    root = project(
        {
            "a.py": APP_CLIENT + SEND,
            "b.py": APP_CLIENT + SEND,
            "c.py": APP_CLIENT + SEND,
        }
    )

    findings = _findings(root, "CIO501")

    assert len(findings) == 1
    assert findings[0]["path"] == "a.py"
    assert findings[0]["line"] == 7
    assert "b.py:7, c.py:7" in findings[0]["message"]
    assert "suppress" in findings[0]["message"]


def test_delivery_bounce_lists_sends_only(project):
    identify = (
        TRACK_CLIENT
        + "\n\ndef signup(user):\n    cio.identify(id=user.id, email=user.email)\n"
    )
    root = project({"a_profiles.py": identify, "b_mail.py": APP_CLIENT + SEND})

    findings = _findings(root, "CIO501")

    assert [finding["path"] for finding in findings] == ["b_mail.py"]
    assert "a_profiles.py" not in findings[0]["message"]


def test_delivery_bounce_suppressed_in_other_module(project):
    root = project(
        {
            "clients.py": TRACK_CLIENT,
            "mail.py": APP_CLIENT + SEND,
            "bounces.py": "from clients import cio\n\n\ndef bounced(i):\n    cio.suppress(i)\n",
        }
    )

    assert _findings(root, "CIO501") == []


def test_delivery_gdpr_suppress_does_not_count(project):
    forget = TRACK_CLIENT + "\n\ndef forget_me(i):\n    cio.suppress(i)\n"
    root = project({"mail.py": APP_CLIENT + SEND, "privacy.py": forget})

    assert len(_findings(root, "CIO501")) == 1


def test_delivery_bounce_view_class_suppress_counts(project):
    view = TRACK_CLIENT + (
        "\n\nclass BounceWebhookView:\n"
        "    def post(self, request):\n"
        "        cio.suppress(request.data['customer_id'])\n"
    )
    root = project({"mail.py": APP_CLIENT + SEND, "webhooks.py": view})

    assert _findings(root, "CIO501") == []


def test_delivery_debounced_suppress_does_not_count(project):
    forget = TRACK_CLIENT + "\n\ndef debounced_forget_me(i):\n    cio.suppress(i)\n"
    root = project({"mail.py": APP_CLIENT + SEND, "privacy.py": forget})

    assert len(_findings(root, "CIO501")) == 1


def test_delivery_bounce_unsuppress_does_not_count(project):
    unsuppress = TRACK_CLIENT + "\n\ndef back(i):\n    cio.unsuppress(i)\n"
    root = project({"mail.py": APP_CLIENT + SEND, "track.py": unsuppress})

    assert len(_findings(root, "CIO501")) == 1


def test_delivery_spam_reported_once_with_other_handlers(project):
    root = project({"a.py": WEBHOOK, "b.py": WEBHOOK})

    findings = _findings(root, "CIO502")

    assert len(findings) == 1
    assert findings[0]["path"] == "a.py"
    assert findings[0]["line"] == 4
    assert "b.py:4" in findings[0]["message"]
    assert "spammed" in findings[0]["message"]


def test_delivery_spam_silent_without_handler(project):
    root = project({"a.py": APP_CLIENT + SEND})

    assert _findings(root, "CIO502") == []


def test_delivery_attribute_type_once_per_attribute(project):
    first = (
        TRACK_CLIENT + "\n\ndef a(u):\n    cio.identify(id=u.id, plan=1, beta=True)\n"
    )
    second = (
        TRACK_CLIENT
        + '\n\ndef b(u):\n    cio.identify(id=u.id, plan="1", beta="yes")\n'
    )
    third = TRACK_CLIENT + "\n\ndef c(u):\n    cio.identify(id=u.id, plan=3)\n"
    root = project({"a.py": first, "b.py": second, "c.py": third})

    findings = _findings(root, "CIO402")
    by_attribute = {finding["message"].split("`")[1]: finding for finding in findings}

    assert sorted(by_attribute) == ["beta", "plan"]
    assert by_attribute["plan"]["path"] == "b.py"
    assert "as a number at a.py:7, c.py:7" in by_attribute["plan"]["message"]
    assert by_attribute["beta"]["fix"] is None


def test_delivery_template_found_in_configured_folder(project):
    app = APP_CLIENT + (
        "from flask import render_template\n\n\n"
        "def send(user):\n"
        '    mailer.send_email(SendEmailRequest(to=user.email, body=render_template("r.html")))\n'
    )
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\ntemplate-folders = ["mail/layouts"]\n',
            "app/views.py": app,
            "mail/layouts/r.html": "<p>No link here</p>\n",
        }
    )

    findings = _findings(root, "CIO503")

    assert len(findings) == 1
    assert "mail/layouts/r.html" in findings[0]["message"]


def test_delivery_template_outside_root_ignored(project, tmp_path):
    app = APP_CLIENT + (
        "from flask import render_template\n\n\n"
        "def send(user):\n"
        '    mailer.send_email(SendEmailRequest(to=user.email, body=render_template("../r.html")))\n'
    )
    (tmp_path / "r.html").write_text("<p>No link here</p>\n", encoding="utf-8")
    root = project({"repo/pyproject.toml": "", "repo/app.py": app})

    assert _findings(root / "repo", "CIO503") == []


def test_delivery_include_without_link_reported(project):
    app = APP_CLIENT + (
        "from flask import render_template\n\n\n"
        "def send(user):\n"
        '    mailer.send_email(SendEmailRequest(to=user.email, body=render_template("r.html")))\n'
    )
    root = project(
        {
            "app.py": app,
            "templates/r.html": '{% include "footer.html" %}<p>Thanks</p>\n',
            "templates/footer.html": "<p>Shop Ltd.</p>\n",
        }
    )

    assert len(_findings(root, "CIO503")) == 1


def test_delivery_invalid_template_folder_rejected(project):
    root = project(
        {
            "pyproject.toml": '[tool.cio-fix]\ntemplate-folders = ["../shared"]\n',
            "a.py": "",
        }
    )

    result = run_cli(["."], root)

    assert result.exit_code == 2
    assert "template-folders" in result.stdout + result.stderr


def test_delivery_rules_explain_five_headings(project):
    root = project({})
    headings = [
        "What it does:",
        "Why is this bad?",
        "Example:",
        "Use instead:",
        "Fix safety:",
    ]

    for code in ("CIO402", "CIO501", "CIO502", "CIO503"):
        text = run_cli(["--explain", code], root).stdout
        for heading in headings:
            assert heading in text, f"{code} lacks {heading}"


def test_delivery_send_to_unsubscribed_exempts_body(project):
    body = '"<p>Reset</p>"'
    requests = [
        f"SendEmailRequest(to=u.email, body={body}, send_to_unsubscribed=True)",
        f"SendEmailRequest(to=u.email, body={body}, send_to_unsubscribed=False)",
        f"SendEmailRequest(to=u.email, body={body})",
    ]
    calls = "".join(f"    mailer.send_email({request})\n" for request in requests)
    root = project({"mail.py": APP_CLIENT + "\n\ndef send(u):\n" + calls})

    lines = [finding["line"] for finding in _findings(root, "CIO503")]

    assert lines == [8, 9]


def test_delivery_attribute_type_lists_other_types_only(project):
    uses = [("a", "1"), ("b", "2.5"), ("c", '"3"'), ("d", '"4"'), ("e", '"5"')]
    files = {
        f"{name}.py": TRACK_CLIENT
        + f"\n\ndef {name}(u):\n    cio.identify(id=u.id, seats={value})\n"
        for name, value in uses
    }
    root = project(files)

    [finding] = _findings(root, "CIO402")

    assert finding["path"] == "a.py"
    assert "but as a string at c.py:7, d.py:7, e.py:7;" in finding["message"]
    assert "b.py" not in finding["message"]


DISPATCHING_WEBHOOK = """\
import json

from django.http import HttpResponse


def on_bounce(report):
    print(report)


METRIC_HANDLERS = {"bounced": on_bounce}


def customerio_webhook(request):
    report = json.loads(request.body)
    handler = METRIC_HANDLERS.get(report["metric"])
    if handler is not None:
        handler(report)
    return HttpResponse(status=204)
"""


def test_delivery_webhook_dispatching_through_a_dict(project):
    # The dict's keys are the metrics the webhook handles: bounces yes,
    # spam complaints no.
    root = project({"a.py": APP_CLIENT + SEND, "hooks.py": DISPATCHING_WEBHOOK})

    bounces = _findings(root, "CIO501")
    spam = _findings(root, "CIO502")

    assert bounces == []
    assert [finding["path"] for finding in spam] == ["hooks.py"]


RELAY_COUNTERS = """\
from prometheus_client import Counter

SMTP_SENT = Counter("smtp_sent_total", "mails sent by the relay")
SMTP_BOUNCED = Counter("smtp_bounced_total", "mails bounced at the relay")


def record_relay_event(event):
    if event["metric"] == "sent":
        SMTP_SENT.inc()
    elif event["metric"] == "bounced":
        SMTP_BOUNCED.inc()
"""


def test_delivery_other_mail_system_not_a_handler(project):
    # The counters of an SMTP relay compare the same words as a Customer.io
    # reporting webhook; they neither get CIO502 nor handle the bounces.
    root = project({"mail.py": APP_CLIENT + SEND, "stats.py": RELAY_COUNTERS})

    result = run_cli(["--output-format", "json", "."], root)
    codes = {(item["path"], item["code"]) for item in result.json["findings"]}

    assert ("stats.py", "CIO502") not in codes
    assert ("mail.py", "CIO501") in codes


FLASK_WEBHOOK = """\
from flask import Flask, request

app = Flask(__name__)


@app.post("/webhooks/customerio")
def customerio_webhook():
    report = request.get_json()
{body}
    return ""
"""


def _flask_webhook(body: str, header: str = "") -> str:
    return header + FLASK_WEBHOOK.format(body=body)


# A module of metric names that mentions Customer.io, so cio-fix parses it
# and reads its values.
METRIC_NAMES = '"""Metric names of the customerio reporting webhooks."""\n{names}\n'

# (case, files besides the mail module, whether CIO501 reports). Each
# shape of bounce handling comes with a twin that handles other metrics only.
BOUNCE_SHAPES = [
    (
        "imported constant",
        {
            "metrics.py": METRIC_NAMES.format(names='BOUNCED = "bounced"'),
            "hook.py": _flask_webhook(
                '    if report["metric"] == metrics.BOUNCED:\n        drop(report)',
                "import metrics\n",
            ),
        },
        False,
    ),
    (
        "imported constant of another metric",
        {
            "metrics.py": METRIC_NAMES.format(names='DELIVERED = "delivered"'),
            "hook.py": _flask_webhook(
                '    if report["metric"] == metrics.DELIVERED:\n        log(report)',
                "import metrics\n",
            ),
        },
        True,
    ),
    (
        "module-level set",
        {
            "hook.py": 'UNDELIVERABLE = frozenset({"bounced", "dropped"})\n'
            + _flask_webhook(
                '    if report["metric"] in UNDELIVERABLE:\n        drop(report)'
            ),
        },
        False,
    ),
    (
        "module-level set of other metrics",
        {
            "hook.py": 'SEEN = frozenset({"opened", "clicked"})\n'
            + _flask_webhook('    if report["metric"] in SEEN:\n        log(report)'),
        },
        True,
    ),
    (
        "imported dispatch dict",
        {
            "handlers.py": "def on_report(data):\n    return data\n\n\n"
            'HANDLERS = {"bounced": on_report}\n',
            "hook.py": _flask_webhook(
                '    HANDLERS[report["metric"]](report)',
                "from handlers import HANDLERS\n",
            ),
        },
        False,
    ),
    (
        "imported dispatch dict of other metrics",
        {
            "handlers.py": "def on_report(data):\n    return data\n\n\n"
            '# The customerio reporting metrics that it handles\nHANDLERS = {"delivered": on_report}\n',
            "hook.py": _flask_webhook(
                '    HANDLERS[report["metric"]](report)',
                "from handlers import HANDLERS\n",
            ),
        },
        True,
    ),
    (
        "getattr dispatch to a method",
        {
            "hook.py": "class CustomerIOWebhook:\n"
            "    def post(self, report):\n"
            '        getattr(self, "handle_" + report["metric"])(report)\n\n'
            "    def handle_bounced(self, report):\n"
            "        return report\n",
        },
        False,
    ),
    (
        "getattr dispatch without a bounce method",
        {
            "hook.py": "class CustomerIOWebhook:\n"
            "    def post(self, report):\n"
            '        getattr(self, "handle_" + report["metric"])(report)\n\n'
            "    def handle_delivered(self, report):\n"
            "        return report\n",
        },
        True,
    ),
    (
        "signal receiver",
        {
            "hook.py": "# Customer.io reporting webhook\n"
            "def on_email_event(sender, metric, data, **kwargs):\n"
            '    if metric == "bounced":\n'
            "        return data\n",
        },
        False,
    ),
    (
        "signal receiver of another metric",
        {
            "hook.py": "# Customer.io reporting webhook\n"
            "def on_email_event(sender, metric, data, **kwargs):\n"
            '    if metric == "delivered":\n'
            "        return data\n",
        },
        True,
    ),
    (
        "match mapping pattern",
        {
            "hook.py": _flask_webhook(
                "    match report:\n"
                '        case {"metric": "bounced", "data": data}:\n'
                "            drop(data)"
            ),
        },
        False,
    ),
    (
        "match mapping pattern of another metric",
        {
            "hook.py": _flask_webhook(
                "    match report:\n"
                '        case {"metric": "delivered", "data": data}:\n'
                "            log(data)"
            ),
        },
        True,
    ),
    (
        "pydantic literal field",
        {
            "hook.py": "from typing import Literal\n\nfrom pydantic import BaseModel\n\n\n"
            "class Bounced(BaseModel):\n"
            '    metric: Literal["bounced"]\n',
        },
        False,
    ),
    (
        "pydantic literal field of another metric",
        {
            "hook.py": "from typing import Literal\n\nfrom pydantic import BaseModel\n\n\n"
            "class Delivered(BaseModel):\n"
            '    metric: Literal["delivered"]\n',
        },
        True,
    ),
    (
        "function named for bounces that the webhook calls",
        {
            "users.py": "def on_bounce(customer_id, users):\n"
            "    users.mark_email_invalid(customer_id)\n",
            "hook.py": _flask_webhook(
                '    if report["metric"] != "delivered":\n'
                '        users.on_bounce(report["data"]["customer_id"], db)',
                "import users\n",
            ),
        },
        False,
    ),
    (
        "function named for bounces that nothing calls",
        {
            "users.py": "def on_bounce(customer_id, users):\n"
            "    users.mark_email_invalid(customer_id)\n",
        },
        True,
    ),
    (
        "debounced function",
        {
            "users.py": "def debounced_save(customer_id, users):\n"
            "    users.save(customer_id)\n",
        },
        True,
    ),
    (
        "metric passed to an unknown call",
        {"hook.py": _flask_webhook('    dispatch(report["metric"], report)')},
        False,
    ),
    (
        "metric only logged",
        {"hook.py": _flask_webhook('    app.logger.info(report["metric"])')},
        True,
    ),
]


def test_delivery_bounce_handling_shapes(tmp_path):
    for number, (case, files, reported) in enumerate(BOUNCE_SHAPES):
        root = tmp_path / f"case{number}"
        root.mkdir()
        (root / "pyproject.toml").write_text("[tool.cio-fix]\n", encoding="utf-8")
        for name, text in {"mail.py": APP_CLIENT + SEND, **files}.items():
            (root / name).write_text(text, encoding="utf-8")

        findings = _findings(root, "CIO501")

        assert bool(findings) is reported, case


def test_delivery_bounce_named_function_counts(project):
    # A function named for bounces that calls a Customer.io client counts,
    # whichever method it calls.
    for body in ("cio.suppress(i)", "cio.identify(id=i, email_invalid=True)"):
        handler = TRACK_CLIENT + f"\n\ndef on_bounce(i):\n    {body}\n"
        root = project({"mail.py": APP_CLIENT + SEND, "bounces.py": handler})

        assert _findings(root, "CIO501") == [], body


PER_METRIC_ENDPOINTS = """\
from flask import Flask, request

app = Flask(__name__)


@app.post("/webhooks/customerio/delivered")
def delivered():
    report = request.get_json()
    if report["metric"] != "delivered":
        return "", 400
    return ""


@app.post("/webhooks/customerio/complaints")
def complaints():
    report = request.get_json()
    return report["data"]["customer_id"]
"""


def test_delivery_spam_per_metric_endpoints(project):
    root = project({"hook.py": PER_METRIC_ENDPOINTS})

    assert _findings(root, "CIO502") == []


def test_delivery_spam_endpoint_for_other_metric(project):
    # A route that receives one other metric is not blamed, even without
    # a complaint endpoint in sight.
    only_delivered = PER_METRIC_ENDPOINTS.split("\n\n\n@app.post(")[:2]
    root = project({"hook.py": "\n\n\n@app.post(".join(only_delivered) + "\n"})

    assert _findings(root, "CIO502") == []


def test_delivery_spam_general_webhook_reported(project):
    root = project(
        {
            "hook.py": _flask_webhook(
                '    if report["metric"] == "delivered":\n        log(report)'
            )
        }
    )

    findings = _findings(root, "CIO502")

    assert [finding["path"] for finding in findings] == ["hook.py"]
    assert "no handler compares the metric with `spammed`" in findings[0]["message"]


def test_delivery_spam_imported_names(project):
    # A constant that cio-fix reads decides the finding. A name that it
    # cannot read silences the rule.
    compare = '    if report["metric"] == metrics.DELIVERED:\n        log(report)'
    hook = _flask_webhook(compare, "import metrics\n")
    readable = METRIC_NAMES.format(names='DELIVERED = "delivered"')
    unread = 'DELIVERED = "delivered"\n'

    reported = project({"metrics.py": readable, "hook.py": hook})
    assert len(_findings(reported, "CIO502")) == 1

    (reported / "metrics.py").write_text(unread, encoding="utf-8")
    assert _findings(reported, "CIO502") == []


# Modules that use the words of bounces for something other than email.
UNRELATED_BOUNCE_MODULES = [
    "def ease_out_bounce(t):\n    return 1 - abs(1 - 2 * t)\n",
    "def bounce_rate(sessions, single_page_sessions):\n"
    "    return single_page_sessions / sessions\n",
    "BOUNCE_HEIGHT = 4\n\n\ndef bounce(sprite):\n    sprite.y += BOUNCE_HEIGHT\n",
    'def is_bounced(payment):\n    return payment.status == "bounced"\n',
    'status = "bounced"\n',
    'import enum\n\n\nclass PaymentStatus(enum.Enum):\n    BOUNCED = "bounced"\n',
    # Named for bounces and about Customer.io, but no webhook calls it and
    # it calls no Customer.io client.
    "import customerio\n\n\ndef on_bounce(customer_id, users):\n"
    "    users.mark_email_invalid(customer_id)\n",
]


def test_delivery_bounce_words_elsewhere_reported(project):
    for text in UNRELATED_BOUNCE_MODULES:
        root = project({"mail.py": APP_CLIENT + SEND, "other.py": text})

        assert len(_findings(root, "CIO501")) == 1, text


def test_delivery_bounce_tests_do_not_count(project):
    # A test of a handler that is gone, or not written yet, handles nothing.
    test = (
        "from customerio import CustomerIO\n\n"
        'cio = CustomerIO("site", "key")\n\n\n'
        "def test_bounce_suppresses_user():\n"
        '    cio.suppress("u1")\n\n\n'
        "def test_bounce_marks_address_invalid():\n"
        "    pass\n"
    )
    root = project({"mail.py": APP_CLIENT + SEND, "tests/test_hooks.py": test})

    assert len(_findings(root, "CIO501")) == 1


def test_delivery_spam_words_elsewhere_reported(project):
    webhook = _flask_webhook(
        '    if report["metric"] == "delivered":\n        log(report)'
    )
    spam_filter = '\n\ndef is_spam(comment):\n    return "viagra" in comment\n'
    support = (
        "import customerio\n\n\ndef handle_complaint(ticket):\n    ticket.close()\n"
    )

    in_same_file = project({"hook.py": webhook + spam_filter})
    assert len(_findings(in_same_file, "CIO502")) == 1

    in_other_file = project({"hook.py": webhook, "support.py": support})
    assert len(_findings(in_other_file, "CIO502")) == 1


def test_delivery_complaint_function_called_by_webhook(project):
    # The webhook passes complaints to a function named for them.
    body = '    if report["metric"] != "delivered":\n        handle_complaint(report)'
    support = "def handle_complaint(report):\n    return report\n"
    hook = _flask_webhook(body, "from support import handle_complaint\n")
    root = project({"hook.py": hook, "support.py": support})

    assert _findings(root, "CIO502") == []


IGNORED_METRICS_WEBHOOK = 'IGNORED_METRICS = {"bounced", "dropped", "spammed"}\n' + (
    _flask_webhook(
        '    if report["metric"] in IGNORED_METRICS:\n        return "", 204\n'
        '    if report["metric"] == "delivered":\n        log(report)'
    )
)


def test_delivery_ignored_metrics_set_reported(project):
    root = project({"mail.py": APP_CLIENT + SEND, "hook.py": IGNORED_METRICS_WEBHOOK})

    assert len(_findings(root, "CIO501")) == 1
    assert len(_findings(root, "CIO502")) == 1


# (branch on the metric in a Flask webhook, whether CIO501 reports). A
# branch that only drops the report ignores bounces; one that does
# anything else, or that cio-fix cannot judge, counts as handling them.
BOUNCE_BRANCHES = [
    ('    if report["metric"] == "bounced":\n        pass', True),
    (
        '    if report["metric"] in ("bounced", "dropped"):\n        return "", 204',
        True,
    ),
    ('    if report["metric"] == "bounced":\n        return', True),
    (
        "    match report['metric']:\n        case 'bounced':\n            return ''",
        True,
    ),
    ('    if report["metric"] == "bounced":\n        drop(report)', False),
    ('    if report["metric"] != "bounced":\n        return "", 204', False),
    ('    if report["metric"] == "bounced":\n        return report["data"]', False),
    (
        '    if report["metric"] == "bounced" or report.get("test"):\n        return ""',
        False,
    ),
    (
        "    match report['metric']:\n        case 'bounced':\n            drop(report)",
        False,
    ),
]


def test_delivery_bounce_branches_that_drop(project):
    for body, reported in BOUNCE_BRANCHES:
        root = project({"mail.py": APP_CLIENT + SEND, "hook.py": _flask_webhook(body)})

        assert bool(_findings(root, "CIO501")) is reported, body


def test_delivery_returned_constant_outside_request_counts(project):
    # The caller of a function that is no request handler may act on what
    # it returns, so cio-fix cannot tell that the branch drops the report.
    hook = (
        "import customerio\n\n\ndef on_report(report):\n"
        '    if report["metric"] == "bounced":\n        return "mark-invalid"\n'
    )
    root = project({"mail.py": APP_CLIENT + SEND, "hook.py": hook})

    assert _findings(root, "CIO501") == []

"""CIO101's helpers: which variable names state a key, and the messages it prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from cio_fix.codemods.credentials import (
    PLACEHOLDER_WORD_START,
    looks_like_secret,
    variable_role,
)
from cio_fix.rules import is_test_file

from conftest import run_cli

CIO101_ONLY = '[tool.cio-fix]\nselect = ["CIO101"]\n'


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("CUSTOMERIO_SITE_ID", "site_id"),
        ("CIO_SITE", "site_id"),
        ("SHOP_CIO_SITE_ID", "site_id"),
        ("customerIoSiteId", "site_id"),
        ("CUSTOMERIO_TRACK_API_KEY", "track_api_key"),
        ("CUSTOMERIO_API_KEY", "track_api_key"),
        ("CIO_KEY", "track_api_key"),
        ("SHIP_CIO_TRACK_KEY", "track_api_key"),
        ("CIO_TRACKING_KEY", "track_api_key"),
        ("CUSTOMERIO_APP_API_KEY", "app_api_key"),
        ("SHOP_CIO_APP_KEY", "app_api_key"),
        ("CUSTOMERIO_WRITE_KEY", "write_key"),
        ("CUSTOMERIO_CDP_API_KEY", "write_key"),
        ("CUSTOMERIO_REGION", None),
        ("CUSTOMERIO_WEBHOOK_SECRET", None),
        ("CUSTOMERIO_WEBHOOK_SIGNING_KEY", None),
        ("CUSTOMERIO_API_KEY_SECRET", None),
        ("CUSTOMERIO_SITE_ID_SECRET", None),
        ("CUSTOMERIO_API_KEY_ENV", None),
        ("CUSTOMERIO_SITE_NAME", None),
        ("CUSTOMERIO_TRACK_URL", None),
        ("CUSTOMERIO_APP_URL", None),
        ("CUSTOMERIO_TIMEOUT", None),
        ("CUSTOMERIO_CACHE_KEY", None),
        ("CIO_TRACK_PORT", None),
        ("CIO_SEGMENT_KEY", None),
        ("TRACK_API_KEY", None),
        ("SITEMAP_KEY", None),
    ],
)
def test_variable_role_table(name: str, expected: str | None) -> None:
    assert variable_role(name) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3f9a0c1d2e4b5a69c7d1", True),
        ("0A1B2C3D4E5F6A7B8C9D", True),
        # Stripe's key, not Customer.io's.
        ("sk_live_4f3a9c0d2e1b8a7c", False),
        ("projects/shop-prod-42/secrets/customerio-track-key/versions/3", False),
        ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:cio-Ab12Cd", False),
        ("secret/data/shop42/customerio", False),
        ("/run/secrets/cio_app_2024", False),
        ("keys\\cio42\\track.txt", False),
        ("https://track42.customer.io", False),
        ("//vault42.shop.example/cio", False),
        ("www2.shop42.com", False),
        ("ops42@shop42.io", False),
        ("customerio-track-key-v3", False),
        ("YOUR_API_KEY", False),
        ("fakekey1234", False),
        ("fakesite01", False),
        ("FAKESITE01", False),
        ("testSite01", False),
        ("site01_dummykey", False),
        ("key42dummy", False),
        ("deadbeef0fade1face23", True),
        ("c0ffee4dead5beef6fa9", True),
        ("facade00deadbeef11fade22face3344", True),
        ("contest2024key", True),
    ],
)
def test_looks_like_secret_table(value: str, expected: bool) -> None:
    assert looks_like_secret(value) is expected


@pytest.mark.parametrize("word", PLACEHOLDER_WORD_START)
def test_placeholder_words_not_hexadecimal(word: str) -> None:
    # A hexadecimal key could otherwise start a word with a placeholder word.
    assert set(word) - set("0123456789abcdef")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("shop/settings/test.py", True),
        ("tests.py", True),
        ("test_client.py", True),
        ("client_test.py", True),
        ("conftest.py", True),
        ("tests/helpers.py", True),
        ("test/helpers.py", True),
        ("src/shop/tests/fakes/clients.py", True),
        ("shop/testing.py", False),
        ("testing/fakes.py", True),
        ("tests_helpers.py", False),
        ("shop/e2e_tests.py", False),
        ("app/ab_tests.py", False),
        ("integration_tests/helpers.py", True),
        ("test_support/settings.py", True),
        ("shop/contest.py", False),
        ("shop/testament.py", False),
        ("shop/latest.py", False),
        ("ab_test/variants.py", False),
        ("testimonials/mail.py", False),
    ],
)
def test_is_test_file_table(path: str, expected: bool) -> None:
    assert is_test_file(Path(path)) is expected


WEBHOOK_SETTINGS = (
    "import os\n\n"
    'CUSTOMERIO_WEBHOOK_SECRET = os.environ["CUSTOMERIO_WEBHOOK_SECRET"]\n'
)
# Two workspaces' Track API keys: one variable cannot contain both.
TWO_TRACK_KEYS = (
    "import os\n\n"
    "from customerio import CustomerIO\n\n"
    'us = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], "0a1b2c3d4e5f6a7b8c9d")\n'
    'eu = CustomerIO(os.environ["CUSTOMERIO_SITE_ID"], "9f8e7d6c5b4a39281706")\n'
)


def test_shared_variable_message_names_key_variable(project) -> None:
    root = project(
        {
            "pyproject.toml": CIO101_ONLY,
            "app/__init__.py": "",
            "app/webhooks.py": WEBHOOK_SETTINGS,
            "app/tracking.py": TWO_TRACK_KEYS,
        }
    )

    output = run_cli(["--no-diff", "."], root).stdout

    assert "would also be read from CUSTOMERIO_TRACK_API_KEY)" in output
    assert "CUSTOMERIO_WEBHOOK_SECRET" not in output


TRACK_KEY = (
    "from customerio import CustomerIO\n\n"
    'cio = CustomerIO("3f9a0c1d2e4b5a69c7d1", "0a1b2c3d4e5f6a7b8c9d")\n'
)


def test_test_folder_above_root_ignored(project) -> None:
    # The project itself lives in a folder named like a test folder; only
    # the folders below its root tell test code from application code.
    root = project(
        {
            "test_shop/pyproject.toml": CIO101_ONLY,
            "test_shop/app/tracking.py": TRACK_KEY,
        }
    )

    result = run_cli(["--output-format", "json", "test_shop"], root)

    paths = {finding["path"] for finding in result.json["findings"]}
    assert paths == {"test_shop/app/tracking.py"}


def test_webhook_signing_key_message(project) -> None:
    root = project(
        {
            "pyproject.toml": CIO101_ONLY,
            "webhooks.py": 'CUSTOMERIO_WEBHOOK_SECRET = "9f8e7d6c5b4a39281706"\n',
        }
    )

    output = run_cli(["--no-diff", "."], root).stdout

    assert "Customer.io reporting webhook signing key is hard-coded" in output
    assert "Track API key" not in output
    assert "9f8e7d6c5b4a39281706" not in output


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            'CUSTOMERIO_TRACK_API_KEY = "0a1b2c3d4e5f6a7b8c9d"\n'
            "mailer = APIClient(CUSTOMERIO_TRACK_API_KEY)\n",
            "the name CUSTOMERIO_TRACK_API_KEY says Track API key, but a client"
            " reads it as the App API key, so rename the setting",
        ),
        (
            'CUSTOMERIO = {"APP_KEY": "0a1b2c3d4e5f6a7b8c9d"}\n'
            'cio = CustomerIO("site", CUSTOMERIO["APP_KEY"])\n',
            "the name APP_KEY says App API key, but a client reads it as the"
            " Track API key, so rename the setting",
        ),
        (
            'SHARED_KEY = "0a1b2c3d4e5f6a7b8c9d"\n'
            'cio = CustomerIO("site", SHARED_KEY)\n'
            "mailer = APIClient(SHARED_KEY)\n",
            "clients of different APIs read it",
        ),
        (
            'CUSTOMERIO_API_KEY = "0a1b2c3d4e5f6a7b8c9d"\n'
            'cio = CustomerIO("site", CUSTOMERIO_API_KEY)\n'
            "mailer = APIClient(CUSTOMERIO_API_KEY)\n",
            "clients of different APIs read it",
        ),
    ],
)
def test_key_of_two_roles_reason(project, source, reason) -> None:
    header = "import os\n\nfrom customerio import APIClient, CustomerIO\n\n"
    root = project({"pyproject.toml": CIO101_ONLY, "app.py": header + source})

    output = run_cli(["--no-diff", "."], root).stdout

    lines = [line for line in output.splitlines() if "CIO101" in line]
    assert len(lines) == 1
    assert "[*]" not in lines[0]
    assert f"(not fixed: {reason}" in lines[0]


# Flask settings written as items and with update(), then read by clients.
FLASK_CONFIG_KEYS = (
    "from customerio import APIClient, CustomerIO\n"
    "from flask import Flask\n\n"
    "app = Flask(__name__)\n"
    'app.config["CUSTOMERIO_SITE_ID"] = "3f9a0c1d2e4b5a69"\n'
    'app.config["CUSTOMERIO_API_KEY"] = "0a1b2c3d4e5f6a7b"\n'
    'app.config.update(CUSTOMERIO_APP_API_KEY="9e8d7c6b5a4f3e2d1c0b")\n\n'
    'cio = CustomerIO(app.config["CUSTOMERIO_SITE_ID"],'
    ' app.config["CUSTOMERIO_API_KEY"])\n'
    'mailer = APIClient(app.config["CUSTOMERIO_APP_API_KEY"])\n'
)
FLASK_CONFIG_SECRETS = ("3f9a0c1d2e4b5a69", "0a1b2c3d4e5f6a7b", "9e8d7c6b5a4f3e2d1c0b")


def test_flask_config_keys_masked(project) -> None:
    root = project({"pyproject.toml": CIO101_ONLY, "app.py": FLASK_CONFIG_KEYS})

    text = run_cli(["."], root).stdout
    result = run_cli(["--output-format", "json", "."], root)

    assert len(result.json["findings"]) == 3
    assert all(finding["fix"] == "safe" for finding in result.json["findings"])
    assert "9e8d****" in text
    assert (
        '+app.config["CUSTOMERIO_API_KEY"] = os.environ["CUSTOMERIO_API_KEY"]' in text
    )
    for output in (text, result.stdout):
        for secret in FLASK_CONFIG_SECRETS:
            assert secret not in output


CLIENT_IN_FUNCTION = (
    "\n\ndef make({parameters}):\n"
    '    return CustomerIO("3f9a0b1c2d3e4f5a6b7c", "0a1b2c3d4e5f6a7b8c9d")\n'
)


@pytest.mark.parametrize(
    ("module_code", "parameters", "reason"),
    [
        ('os = "linux"\n', "", "`os` is bound to something else at module level"),
        (
            "from platform_tools import os\n",
            "",
            "`os` is bound to something else at module level",
        ),
        ("", "os=None", "the function around this code binds `os`"),
        (
            "import os\n\n\ndef drop():\n    global os\n    del os\n",
            "",
            "a function can rebind or delete `os` through `global os`",
        ),
    ],
)
def test_credentials_reason_names_binding_of_os(
    project, module_code, parameters, reason
) -> None:
    source = (
        "from customerio import CustomerIO\n\n"
        + module_code
        + CLIENT_IN_FUNCTION.format(parameters=parameters)
    )
    root = project({"keys.py": source})

    output = run_cli(["--no-diff", "--select", "CIO101", "."], root).stdout

    lines = [line for line in output.splitlines() if "CIO101" in line]
    assert len(lines) == 2
    assert all("[*]" not in line for line in lines)
    assert all(f"(not fixed: {reason}, so import os" in line for line in lines)


def test_credentials_reason_names_late_import_of_os(project) -> None:
    source = (
        "from customerio import CustomerIO\n\n\n"
        "def make(debug):\n"
        "    if debug:\n"
        "        import os\n"
        '    return CustomerIO("3f9a0b1c2d3e4f5a6b7c", "0a1b2c3d4e5f6a7b8c9d")\n'
    )
    root = project({"keys.py": source})

    output = run_cli(["--no-diff", "--select", "CIO101", "."], root).stdout

    reason = (
        "(not fixed: the function around this code imports `os` only after this"
        " code or inside a block, so import os above this code, outside any block)"
    )
    lines = [line for line in output.splitlines() if "CIO101" in line]
    assert len(lines) == 2
    assert all("[*]" not in line for line in lines)
    assert all(reason in line for line in lines)


ENVIRON_SETTINGS = "import environ\n\n{setup}\nCUSTOMERIO_API_KEY = {read}\n"


@pytest.mark.parametrize(
    ("setup", "read", "reason"),
    [
        (
            "env = environ.Env()\nNAME = 'SHOP_KEY'\n",
            'env(NAME, default="e8d1c4b7a2f5e9c3d6b0")',
            "the name of the environment variable is not a string literal",
        ),
        (
            "env = environ.Env(**SCHEME)\n",
            'env("CUSTOMERIO_API_KEY", default="e8d1c4b7a2f5e9c3d6b0")',
            "the Env() scheme also gives CUSTOMERIO_API_KEY a default",
        ),
        (
            "env = environ.Env()\nenv.prefix = 'SHOP_'\n",
            'env("CUSTOMERIO_API_KEY", default="e8d1c4b7a2f5e9c3d6b0")',
            "the Env object has a `prefix`",
        ),
        (
            "env = environ.Env()\n",
            'env("CUSTOMERIO_API_KEY", str, "e8d1c4b7a2f5e9c3d6b0", False)',
            "a positional argument follows the default",
        ),
        (
            "import os\nNAME = 'SHOP_KEY'\n",
            'os.getenv(NAME, "e8d1c4b7a2f5e9c3d6b0")',
            "the name of the environment variable is not a string literal",
        ),
        (
            "import os\nNAME = 'SHOP_KEY'\n",
            'os.environ.get(NAME, "e8d1c4b7a2f5e9c3d6b0")',
            "the name of the environment variable is not a string literal",
        ),
        (
            "class ShopEnv(environ.Env):\n"
            "    def str(self, var, default=None):\n"
            "        return default\n"
            "env = ShopEnv()\n",
            'env.str("CUSTOMERIO_API_KEY", default="e8d1c4b7a2f5e9c3d6b0")',
            "the class ShopEnv defines `str`, which Env reads use",
        ),
        (
            "env = environ.Env(CUSTOMERIO_API_KEY=(str.strip, 'e8d1c4b7a2f5e9c3d6b0'))\n",
            'env("CUSTOMERIO_API_KEY")',
            "the cast in the scheme entry is not a built-in type such as `str`",
        ),
    ],
)
def test_settings_default_reason(project, setup, read, reason) -> None:
    source = ENVIRON_SETTINGS.format(setup=setup, read=read)
    root = project({"pyproject.toml": CIO101_ONLY, "settings.py": source})

    output = run_cli(["--no-diff", "."], root).stdout

    lines = [line for line in output.splitlines() if "CIO101" in line]
    assert len(lines) == 1
    assert "[*]" not in lines[0]
    assert f"(not fixed: {reason}" in lines[0]
    assert "e8d1c4b7a2f5e9c3d6b0" not in output


# A config class whose key cio-fix cannot fix, because of its base class.
CONFIG_SUBCLASS = """\
{setup}

class ProductionConfig({base}):
    CUSTOMERIO_SITE_ID = "9c1e5a7b3d2f4e6a8b0c"
"""


@pytest.mark.parametrize(
    ("setup", "base", "reason"),
    [
        (
            "from acme.config.base import BaseConfig\n",
            "BaseConfig",
            "its base class BaseConfig is defined in acme.config.base, so cio-fix"
            " cannot tell whether BaseConfig reads its fields from the environment"
            " itself, as a pydantic settings class does. If it does, or if it defines"
            " CUSTOMERIO_SITE_ID itself, change this line to `CUSTOMERIO_SITE_ID:"
            " str`, else read the variable here by hand)",
        ),
        (
            "from acme.config import base\n",
            "base.BaseConfig",
            "its base class base.BaseConfig is defined in acme.config.base, so",
        ),
        (
            "from acme.config.factory import make_base\n",
            "make_base()",
            "its base class is the expression make_base(), so cio-fix cannot tell"
            " whether that class reads its fields from the environment itself, as a"
            " pydantic settings class does. If it does, or if it defines"
            " CUSTOMERIO_SITE_ID itself, change this line to",
        ),
    ],
)
def test_config_subclass_reason_names_base(project, setup, base, reason) -> None:
    source = CONFIG_SUBCLASS.format(setup=setup, base=base)
    root = project({"pyproject.toml": CIO101_ONLY, "production.py": source})

    output = run_cli(["--no-diff", "."], root).stdout

    lines = [line for line in output.splitlines() if "CIO101" in line]
    assert len(lines) == 1
    assert "[*]" not in lines[0]
    assert "read it from the CUSTOMERIO_SITE_ID environment variable" in lines[0]
    assert f"(not fixed: {reason}" in lines[0]


def test_config_subclass_reason_unknown_module(project) -> None:
    # A base class that only a star import can bind comes from no known module.
    source = CONFIG_SUBCLASS.format(setup="from acme.config import *\n", base="Base")
    root = project({"pyproject.toml": CIO101_ONLY, "production.py": source})

    output = run_cli(["--no-diff", "."], root).stdout

    assert "(not fixed: its base class Base is defined outside this module" in output


# The step for a field of a subclass: deleting the line would remove a
# pydantic field, so each message names the field without its value.
SETTINGS_SUBCLASS = """\
{setup}

class ProdSettings({base}):
    {field}
"""
SETTINGS_STEP = (
    "a field of a pydantic settings class, which reads it from the environment"
    " once this line is {declaration}, without a default)"
)


@pytest.mark.parametrize(
    ("setup", "base", "field", "declaration"),
    [
        (
            "from pydantic import BaseSettings as BS\n",
            "BS",
            'customerio_site_id: str = "3f9a1b2c3d4e5f607182"',
            "`customerio_site_id: str`",
        ),
        (
            "from pydantic_settings.main import BaseSettings as Settings\n\n"
            "class AppSettings(Settings):\n    debug: bool = False\n",
            "AppSettings",
            'customerio_site_id: str = "3f9a1b2c3d4e5f607182"',
            "`customerio_site_id: str`",
        ),
        (
            "from pydantic.v1 import BaseSettings as V1Settings\n",
            "V1Settings",
            'CUSTOMERIO_SITE_ID = "3f9a1b2c3d4e5f607182"',
            "`CUSTOMERIO_SITE_ID: str`",
        ),
        (
            "import pydantic\nfrom pydantic import SecretStr\n",
            "pydantic.BaseSettings",
            'CUSTOMERIO_SITE_ID = SecretStr("3f9a1b2c3d4e5f607182")',
            "`CUSTOMERIO_SITE_ID: SecretStr`",
        ),
        (
            "from pydantic import SecretStr\n"
            "from pydantic_settings import BaseSettings\n",
            "BaseSettings",
            'customerio_site_id: "SecretStr | None" = SecretStr("3f9a1b2c3d4e5f607182")',
            '`customerio_site_id: "SecretStr | None"`',
        ),
    ],
)
def test_settings_subclass_reason_keeps_field(
    project, setup, base, field, declaration
) -> None:
    source = SETTINGS_SUBCLASS.format(setup=setup, base=base, field=field)
    root = project({"pyproject.toml": CIO101_ONLY, "prod.py": source})

    output = run_cli(["--no-diff", "."], root).stdout

    lines = [line for line in output.splitlines() if "CIO101" in line]
    assert len(lines) == 1
    assert "[*]" not in lines[0]
    step = SETTINGS_STEP.format(declaration=declaration)
    assert f"(not fixed: {step}" in lines[0]


def test_settings_base_in_other_module_keeps_field(project) -> None:
    # cio-fix reads no file that mentions no Customer.io name, so it cannot
    # tell that AppSettings is a pydantic settings class. The step it gives
    # must not delete the field that main.py reads.
    root = project(
        {
            "pyproject.toml": CIO101_ONLY,
            "conf/__init__.py": "",
            "conf/appbase.py": (
                "from pydantic_settings import BaseSettings\n\n\n"
                "class AppSettings(BaseSettings):\n    debug: bool = False\n"
            ),
            "conf/prod.py": SETTINGS_SUBCLASS.format(
                setup="from conf.appbase import AppSettings\n",
                base="AppSettings",
                field='customerio_site_id: str = "3f9a1b2c3d4e5f607182"',
            ),
            "main.py": (
                "from conf.prod import ProdSettings\n\n"
                "print(ProdSettings().customerio_site_id)\n"
            ),
        }
    )

    output = run_cli(["--no-diff", "."], root).stdout

    lines = [line for line in output.splitlines() if "CIO101" in line]
    assert len(lines) == 1
    assert "its base class AppSettings is defined in conf.appbase" in lines[0]
    assert "change this line to `customerio_site_id: str`" in lines[0]
    assert "delete" not in lines[0]


def test_client_read_field_reason_keeps_field(project) -> None:
    # A field that a client reads gets the step of the field's own line.
    source = (
        "from customerio import APIClient\n"
        "from pydantic import BaseSettings as BS\n\n\n"
        "class Settings(BS):\n"
        '    key: str = "0a1b2c3d4e5f6a7b8c9d"\n\n\n'
        "api = APIClient(Settings.key)\n"
    )
    root = project({"pyproject.toml": CIO101_ONLY, "app.py": source})

    output = run_cli(["--no-diff", "."], root).stdout

    lines = [line for line in output.splitlines() if "CIO101" in line]
    assert len(lines) == 1
    step = SETTINGS_STEP.format(declaration="`key: str`")
    assert f"(not fixed: {step}" in lines[0]

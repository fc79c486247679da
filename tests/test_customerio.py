"""Recognising clients and calls: every import form, binding and argument form."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from cio_fix import pipeline
from cio_fix.customerio import Api, all_parameters, build_index, constant_value
from cio_fix.project import ProjectIndex, prefilter_words, summarise

from conftest import run_cli


def _calls(source: str, module_name: str = "app", project: ProjectIndex | None = None):
    index = build_index(cst.parse_module(source), module_name, False)
    if project is not None:
        index.attach_project(project)
    return index.client_calls


@pytest.mark.parametrize(
    "source",
    [
        "import customerio\ncio = customerio.CustomerIO('s', 'k')\ncio.track('1', 'x')\n",
        "import customerio as sdk\ncio = sdk.CustomerIO('s', 'k')\ncio.track('1', 'x')\n",
        "from customerio import CustomerIO\ncio = CustomerIO('s', 'k')\ncio.track('1', 'x')\n",
        "from customerio import CustomerIO as C\ncio = C('s', 'k')\ncio.track('1', 'x')\n",
        "from customerio.track import CustomerIO\nCustomerIO('s', 'k').track('1', 'x')\n",
        "import customerio.track\ncustomerio.track.CustomerIO('s', 'k').track('1', 'x')\n",
        "from customerio import CustomerIO\ndef f():\n    cio = CustomerIO('s', 'k')\n    cio.track('1', 'x')\n",
        "from customerio import CustomerIO\nclass T:\n    def __init__(self):\n        self.c = CustomerIO('s', 'k')\n    def go(self):\n        self.c.track('1', 'x')\n",
        "from customerio import CustomerIO\nclass T:\n    c = CustomerIO('s', 'k')\n    def go(self):\n        self.c.track('1', 'x')\n",
        "from customerio import CustomerIO\ndef go():\n    get().track('1', 'x')\ndef get():\n    return CustomerIO('s', 'k')\n",
        "from customerio import CustomerIO\ndef go():\n    cio = get()\n    cio.track('1', 'x')\ndef get():\n    return CustomerIO('s', 'k')\n",
        "from customerio import CustomerIO\ndef go():\n    with CustomerIO('s', 'k') as cio:\n        cio.track('1', 'x')\n",
        "from customerio import CustomerIO\ndef go():\n    cio.track('1', 'x')\ncio = CustomerIO('s', 'k')\n",
    ],
)
def test_customerio_track_client_forms(source: str) -> None:
    calls = _calls(source)

    assert [(call.method, call.api) for call in calls] == [("track", Api.TRACK)]


@pytest.mark.parametrize(
    ("source", "method", "api"),
    [
        ("import customerio\nClient = customerio.CustomerIO\n", "identify", Api.TRACK),
        (
            "from customerio import CustomerIO\nClient = CustomerIO\n",
            "identify",
            Api.TRACK,
        ),
        (
            "from customerio import APIClient\nClient = APIClient\n",
            "send_email",
            Api.APP,
        ),
        (
            "from customerio import APIClient\nClient: type = APIClient\n",
            "send_email",
            Api.APP,
        ),
        (
            "import customerio\nCustomerIO = customerio.CustomerIO\n"
            "Client = CustomerIO\n",
            "identify",
            Api.TRACK,
        ),
    ],
    ids=["attribute", "name", "app-client", "annotated", "chain"],
)
def test_customerio_class_alias_resolved(source: str, method: str, api: Api) -> None:
    calls = _calls(source + f"cio = Client('s', 'k')\ncio.{method}(request)\n")

    assert [(call.method, call.api) for call in calls] == [(method, api)]


@pytest.mark.parametrize(
    "source",
    [
        # Bound twice.
        "from customerio import CustomerIO\nClient = CustomerIO\nClient = Fake\n",
        "from customerio import CustomerIO\n"
        "if dry_run:\n    Client = Fake\nelse:\n    Client = CustomerIO\n",
        "from customerio import CustomerIO\nfrom fakes import Client\n"
        "Client = CustomerIO\n",
        # Rebound by a function, or unbound.
        "from customerio import CustomerIO\nClient = CustomerIO\n"
        "def use_fake():\n    global Client\n    Client = Fake\n",
        "from customerio import CustomerIO\nClient = CustomerIO\ndel Client\n",
        # Bound in a function, or to a name that only a function imports.
        "def setup():\n    from customerio import CustomerIO\n"
        "    Client = CustomerIO\n",
        "def setup():\n    from customerio import CustomerIO\n" "Client = CustomerIO\n",
        # Bound by something other than a plain assignment.
        "from customerio import CustomerIO\nfor Client in (CustomerIO,):\n    pass\n",
        "from customerio import CustomerIO\nClient, Other = CustomerIO, None\n",
    ],
    ids=[
        "assigned-twice",
        "if-else",
        "imported-too",
        "global",
        "deleted",
        "in-function",
        "function-import",
        "loop-target",
        "tuple-target",
    ],
)
def test_customerio_class_alias_unresolved(source: str) -> None:
    calls = _calls(source + "cio = Client('s', 'k')\ncio.identify(id=1)\n")

    assert calls == []


TYPE_ALIAS_HEADER = (
    "from typing import Annotated, Optional, TypeAlias\n"
    "import typing_extensions\n"
    "from async_customerio import AsyncCustomerIO\n"
    "from customerio import CustomerIO\n"
    "from fastapi import Depends\n"
)


@pytest.mark.parametrize(
    ("aliases", "annotation", "is_async"),
    [
        ("Dep = Annotated[CustomerIO, Depends(get_cio)]\n", "Dep", False),
        ("Dep: TypeAlias = Annotated[CustomerIO, Depends(get_cio)]\n", "Dep", False),
        ("Dep: typing_extensions.TypeAlias = 'CustomerIO'\n", "Dep", False),
        ("type Dep = Annotated[CustomerIO, Depends(get_cio)]\n", "Dep", False),
        ("type Dep = CustomerIO | None\n", "Dep", False),
        ("Dep = Annotated[AsyncCustomerIO, Depends(get_cio)]\n", "Dep", True),
        ("Dep = Annotated[CustomerIO, Depends(get_cio)]\n", "Optional[Dep]", False),
        ("Dep = Annotated[CustomerIO, Depends(get_cio)]\n", "'Dep | None'", False),
        (
            "Dep = Annotated[CustomerIO, Depends(get_cio)]\n"
            "OptionalDep: TypeAlias = Optional[Dep]\n",
            "OptionalDep",
            False,
        ),
        ("type Dep = Optional[Dep] | CustomerIO\n", "Dep", False),
    ],
    ids=[
        "assignment",
        "type-alias",
        "type-alias-string",
        "type-statement",
        "type-statement-union",
        "async",
        "optional-alias",
        "string-annotation",
        "alias-of-alias",
        "recursive",
    ],
)
def test_customerio_type_alias_client(
    aliases: str, annotation: str, is_async: bool
) -> None:
    source = TYPE_ALIAS_HEADER + aliases
    source += f"def go(cio: {annotation}):\n    cio.track('1', 'x')\n"

    calls = _calls(source)

    assert [(call.method, call.api) for call in calls] == [("track", Api.TRACK)]
    assert calls[0].client.is_async is is_async


@pytest.mark.parametrize(
    "aliases",
    [
        # Bound twice.
        "Dep = Annotated[CustomerIO, Depends(get_cio)]\n"
        "Dep = Annotated[Fake, Depends(get_fake)]\n",
        "if dry_run:\n    Dep = Annotated[Fake, Depends(get_fake)]\n"
        "else:\n    Dep = Annotated[CustomerIO, Depends(get_cio)]\n",
        "from fakes import Dep\nDep = Annotated[CustomerIO, Depends(get_cio)]\n",
        "type Dep = Annotated[CustomerIO, Depends(get_cio)]\ntype Dep = Fake\n",
        # Rebound by a function, by a star import, or unbound.
        "Dep = Annotated[CustomerIO, Depends(get_cio)]\n"
        "def use_fake():\n    global Dep\n    Dep = Fake\n",
        "Dep = Annotated[CustomerIO, Depends(get_cio)]\nfrom fakes import *\n",
        "Dep = Annotated[CustomerIO, Depends(get_cio)]\ndel Dep\n",
        # Bound in a function only.
        "def setup():\n    Dep = Annotated[CustomerIO, Depends(get_cio)]\n",
        # A string constant is an alias only when annotated with `TypeAlias`.
        "Dep = 'CustomerIO'\n",
        # An alias of something other than a client.
        "Dep = Annotated[Fake, Depends(get_fake)]\n",
    ],
    ids=[
        "assigned-twice",
        "if-else",
        "imported-too",
        "type-statement-twice",
        "global",
        "star-import",
        "deleted",
        "in-function",
        "string-constant",
        "other-class",
    ],
)
def test_customerio_type_alias_unresolved(aliases: str) -> None:
    source = TYPE_ALIAS_HEADER + aliases
    source += "def go(cio: Dep):\n    cio.track('1', 'x')\n"

    assert _calls(source) == []


def test_customerio_type_alias_shadowed_in_class_body() -> None:
    # A method's annotations are evaluated in the class body, so `Dep` there
    # is the class attribute, not the module's alias.
    source = TYPE_ALIAS_HEADER + (
        "Dep = Annotated[CustomerIO, Depends(get_cio)]\n"
        "class Routes:\n"
        "    Dep = Annotated[Fake, Depends(get_fake)]\n"
        "    def go(self, cio: Dep):\n"
        "        cio.track('1', 'x')\n"
    )

    assert _calls(source) == []


def test_customerio_async_client() -> None:
    source = (
        "import async_customerio\n"
        "async def go():\n"
        "    cio = async_customerio.AsyncCustomerIO('s', 'k')\n"
        "    await cio.identify(id=1)\n"
    )

    call = _calls(source)[0]

    assert call.client.is_async
    assert call.client.package == "async_customerio"
    assert call.site.is_statement


def test_customerio_app_and_pipelines() -> None:
    source = (
        "from customerio import APIClient, analytics\n"
        "import customerio\n"
        "api = APIClient('k')\n"
        "api.send_email(request)\n"
        "analytics.track('u', 'e', {'a': 1})\n"
        "customerio.analytics.identify('u')\n"
        "client = customerio.analytics.Client('wk')\n"
        "client.page('u', 'c', 'n')\n"
    )

    calls = _calls(source)

    assert [(call.method, call.api) for call in calls] == [
        ("send_email", Api.APP),
        ("track", Api.PIPELINES),
        ("identify", Api.PIPELINES),
        ("page", Api.PIPELINES),
    ]


def test_customerio_arguments_normalised() -> None:
    source = (
        "from customerio import CustomerIO\n"
        "cio = CustomerIO('s', 'k')\n"
        "cio.track('1', 'paid', {'total': 5}, None, 17, extra=1)\n"
        "cio.track(customer_id='1', name='paid', timestamp=17)\n"
        "cio.identify('1', email='a@b.c', **attrs)\n"
    )

    first, second, third = _calls(source)

    assert sorted(first.arguments) == ["customer_id", "data", "id", "name", "timestamp"]
    assert list(first.extra_keywords) == ["extra"]
    assert sorted(second.arguments) == ["customer_id", "name", "timestamp"]
    assert list(third.arguments) == ["id"]
    assert list(third.extra_keywords) == ["email"]
    assert [argument.star for argument in third.star_arguments] == ["**"]


@pytest.mark.parametrize(
    "source",
    [
        "import requests\nrequests.Session().track('x')\n",
        "class CustomerIO:\n    pass\ncio = CustomerIO()\ncio.track('1', 'x')\n",
        "from mylib import CustomerIO\ncio = CustomerIO('s', 'k')\ncio.track('1', 'x')\n",
        "from customerio import CustomerIO\ncio = CustomerIO('s', 'k')\ncio = other()\ncio.track('1', 'x')\n",
        "import analytics\nanalytics.track('u', 'e')\n",
    ],
)
def test_customerio_look_alikes_are_not_clients(source: str) -> None:
    assert _calls(source) == []


_HEADER = "from customerio import CustomerIO\nfrom mixpanel import Mixpanel\n"


@pytest.mark.parametrize(
    "source",
    [
        # A class variable, read through the class name.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "def go():\n"
        "    Holder.client.track('1', 'x')\n",
        # A lazy class variable: None in the body, a client from the outside.
        "class Holder:\n"
        "    client = None\n"
        "Holder.client = CustomerIO('s', 'k')\n"
        "Holder.client.track('1', 'x')\n",
        # Through a subclass that does not assign it.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "class Child(Holder):\n"
        "    pass\n"
        "Child.client.track('1', 'x')\n",
        # Through a first base, which Python reads before the others.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "class Child(Holder, Mixin):\n"
        "    pass\n"
        "Child.client.track('1', 'x')\n",
        # Through `self` in a subclass's method.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "class Child(Holder):\n"
        "    def go(self):\n"
        "        self.client.track('1', 'x')\n",
        # An item of a module-level dict display, by a literal or a variable key.
        "CLIENTS = {'us': CustomerIO('s', 'k'), 'eu': CustomerIO('s', 'k')}\n"
        "def go(region):\n"
        "    CLIENTS[region].track('1', 'x')\n",
        "CLIENTS = dict(us=CustomerIO('s', 'k'), eu=CustomerIO('s', 'k'))\n"
        "CLIENTS['us'].track('1', 'x')\n",
        # An item assignment of another client keeps the dict a dict of clients.
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "CLIENTS['eu'] = CustomerIO('s', 'k')\n"
        "cio = CLIENTS['eu']\n"
        "cio.track('1', 'x')\n",
        # `global` alone does not rebind the dict.
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "def add():\n"
        "    global CLIENTS\n"
        "    CLIENTS['eu'] = CustomerIO('s', 'k')\n"
        "CLIENTS['eu'].track('1', 'x')\n",
        # Reading the dict: `in`, iteration and its reading methods.
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "def go(region):\n"
        "    if region not in CLIENTS:\n"
        "        return [key for key in CLIENTS] + list(CLIENTS.keys())\n"
        "    for cio in CLIENTS.values():\n"
        "        print(cio, CLIENTS.get(region), CLIENTS.items())\n"
        "    CLIENTS[region].track('1', 'x')\n",
        # The name of another variable in a function is not the dict.
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "def go(CLIENTS):\n"
        "    return CLIENTS\n"
        "CLIENTS['us'].track('1', 'x')\n",
        # Reading the class: an attribute, an instance, a subclass, an annotation.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "class Child(Holder):\n"
        "    pass\n"
        "def go(holder: Holder = Holder()) -> None:\n"
        "    cio = Holder.client\n"
        "    Holder.client.track('1', 'x')\n",
    ],
)
def test_customerio_class_and_dict_receivers(source: str) -> None:
    calls = _calls(_HEADER + source)

    assert [(call.method, call.api) for call in calls] == [("track", Api.TRACK)]


@pytest.mark.parametrize(
    "source",
    [
        # A class variable that is None and never a client.
        "class Holder:\n" "    client = None\n" "Holder.client.track('1', 'x')\n",
        # A class variable of another library.
        "class Holder:\n"
        "    client = Mixpanel('t')\n"
        "Holder.client.track('1', 'x')\n",
        # A client only on instances, not on the class.
        "class Holder:\n"
        "    def __init__(self):\n"
        "        self.client = CustomerIO('s', 'k')\n"
        "Holder.client.track('1', 'x')\n",
        # The class variable rebound to something else.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "Holder.client = Mixpanel('t')\n"
        "Holder.client.track('1', 'x')\n",
        # The class name shadowed by a parameter, a local variable or a rebinding.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "def go(Holder):\n"
        "    Holder.client.track('1', 'x')\n",
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "def go():\n"
        "    Holder = make()\n"
        "    Holder.client.track('1', 'x')\n",
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "Holder = make()\n"
        "Holder.client.track('1', 'x')\n",
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "def swap():\n"
        "    global Holder\n"
        "    Holder = make()\n"
        "Holder.client.track('1', 'x')\n",
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "from other import Holder\n"
        "Holder.client.track('1', 'x')\n",
        # A decorator may return another object than the class.
        "@wrap\n"
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "Holder.client.track('1', 'x')\n",
        # A subclass that sets its own value, and one whose first base,
        # from outside the module, may bind the attribute too.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "class Child(Holder):\n"
        "    client = Mixpanel('t')\n"
        "Child.client.track('1', 'x')\n",
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "class Child(Mixin, Holder):\n"
        "    pass\n"
        "Child.client.track('1', 'x')\n",
        # A dict of clients of another library.
        "CLIENTS = {'us': Mixpanel('t'), 'eu': Mixpanel('t')}\n"
        "CLIENTS['us'].track('1', 'x')\n",
        # A dict whose values are not all clients, or of two client types.
        "CLIENTS = {'us': CustomerIO('s', 'k'), 'eu': Mixpanel('t')}\n"
        "CLIENTS['us'].track('1', 'x')\n",
        "from customerio import APIClient\n"
        "CLIENTS = {'track': CustomerIO('s', 'k'), 'app': APIClient('k')}\n"
        "CLIENTS['track'].track('1', 'x')\n",
        "CLIENTS = {'us': CustomerIO('s', 'k'), **OTHERS}\n"
        "CLIENTS['us'].track('1', 'x')\n",
        "CLIENTS = {}\n" "CLIENTS['us'].track('1', 'x')\n",
        # The dict rebound, extended with something else, or updated.
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "CLIENTS = load()\n"
        "CLIENTS['us'].track('1', 'x')\n",
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "def add():\n"
        "    CLIENTS['eu'] = Mixpanel('t')\n"
        "CLIENTS['us'].track('1', 'x')\n",
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "CLIENTS.update(load())\n"
        "CLIENTS['us'].track('1', 'x')\n",
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "CLIENTS |= load()\n"
        "CLIENTS['us'].track('1', 'x')\n",
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "def swap():\n"
        "    global CLIENTS\n"
        "    CLIENTS = load()\n"
        "CLIENTS['us'].track('1', 'x')\n",
        # The dict name shadowed locally, and a dict built in a function.
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "def go(CLIENTS):\n"
        "    CLIENTS['us'].track('1', 'x')\n",
        "def go():\n"
        "    clients = {'us': CustomerIO('s', 'k')}\n"
        "    clients['us'].track('1', 'x')\n",
        # `dict` rebound, and a slice.
        "def dict(**items):\n"
        "    return items\n"
        "CLIENTS = dict(us=CustomerIO('s', 'k'))\n"
        "CLIENTS['us'].track('1', 'x')\n",
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n" "CLIENTS[1:2].track('1', 'x')\n",
    ],
)
def test_customerio_class_and_dict_look_alikes(source: str) -> None:
    assert _calls(_HEADER + source) == []


@pytest.mark.parametrize(
    "source",
    [
        # An alias of the dict that gets an item.
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "SINKS = CLIENTS\n"
        "SINKS['audit'] = Mixpanel('t')\n"
        "CLIENTS['us'].track('1', 'x')\n",
        # The dict passed to a function, returned, or changed through `dict`.
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "register(CLIENTS)\n"
        "CLIENTS['us'].track('1', 'x')\n",
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "def clients():\n"
        "    return CLIENTS\n"
        "CLIENTS['us'].track('1', 'x')\n",
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "dict.update(CLIENTS, audit=Mixpanel('t'))\n"
        "CLIENTS['us'].track('1', 'x')\n",
        # A method that is not one of the reading ones, called or not.
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "CLIENTS.setdefault('audit', Mixpanel('t'))\n"
        "CLIENTS['us'].track('1', 'x')\n",
        "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
        "add = CLIENTS.__setitem__\n"
        "CLIENTS['us'].track('1', 'x')\n",
        # The class passed to setattr or to another function.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "setattr(Holder, 'client', Mixpanel('t'))\n"
        "Holder.client.track('1', 'x')\n",
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "configure(Holder)\n"
        "Holder.client.track('1', 'x')\n",
        # An alias of the class whose attribute is assigned.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "H = Holder\n"
        "H.client = Mixpanel('t')\n"
        "Holder.client.track('1', 'x')\n",
        # A subclass read through, when the base class is passed on.
        "class Holder:\n"
        "    client = CustomerIO('s', 'k')\n"
        "class Child(Holder):\n"
        "    pass\n"
        "setattr(Holder, 'client', Mixpanel('t'))\n"
        "Child.client.track('1', 'x')\n",
    ],
)
def test_customerio_changed_containers_unknown(source: str) -> None:
    assert _calls(_HEADER + source) == []


REGISTRY = (
    "from customerio import CustomerIO\n"
    "CLIENTS = {'us': CustomerIO('s', 'k')}\n"
    "class Holder:\n"
    "    client = CustomerIO('s', 'k')\n"
    "CLIENTS['us'].track('1', 'x')\n"
    "Holder.client.track('1', 'x')\n"
)


@pytest.mark.parametrize(
    "source",
    [
        "from app.registry import CLIENTS\nprint(CLIENTS['us'], 'us' in CLIENTS)\n",
        "from app.registry import Holder\ncio = Holder.client\nHolder.client.track()\n",
        "import app.registry\nfor key in app.registry.CLIENTS:\n    pass\n",
        "from app import registry\nregistry.CLIENTS.get('us')\n",
        "from app.registry import Holder\nclass Child(Holder):\n    client = None\n",
    ],
)
def test_customerio_containers_read_elsewhere(source: str) -> None:
    project = _project({"app.registry": REGISTRY, "app.plugins": source})

    calls = _calls(REGISTRY, module_name="app.registry", project=project)

    assert len(calls) == 2


@pytest.mark.parametrize(
    ("source", "unknown"),
    [
        ("from app.registry import CLIENTS\nCLIENTS['audit'] = Log()\n", "CLIENTS"),
        ("import app.registry\napp.registry.CLIENTS['audit'] = Log()\n", "CLIENTS"),
        ("from app import registry\nregistry.CLIENTS.update(audit=Log())\n", "CLIENTS"),
        ("from app.registry import CLIENTS as C\nSINKS = C\n", "CLIENTS"),
        ("import app.registry as r\nr.CLIENTS = {}\n", "CLIENTS"),
        ("from app.registry import Holder\nHolder.client = Log()\n", "Holder"),
        ("from app import registry\nregistry.Holder.client = Log()\n", "Holder"),
        (
            "from app.registry import Holder\nsetattr(Holder, 'client', Log())\n",
            "Holder",
        ),
    ],
)
def test_customerio_containers_changed_elsewhere(source: str, unknown: str) -> None:
    project = _project({"app.registry": REGISTRY, "app.plugins": source})

    calls = _calls(REGISTRY, module_name="app.registry", project=project)

    receivers = [cst.Module([]).code_for_node(call.site.node.func) for call in calls]
    assert len(calls) == 1
    assert not receivers[0].startswith(unknown)


def test_customerio_containers_in_summary() -> None:
    project = _project({"app.registry": REGISTRY})

    assert project.summaries[0].client_containers == ["CLIENTS", "Holder"]


def _project(files: dict[str, str]) -> ProjectIndex:
    summaries = []
    for name, source in files.items():
        is_package = name.endswith("__init__")
        module_name = name.removesuffix(".__init__")
        index = build_index(cst.parse_module(source), module_name, is_package)
        summaries.append(summarise(index, Path(name.replace(".", "/") + ".py")))
    return ProjectIndex(summaries)


@pytest.mark.parametrize(
    "source",
    [
        "from app.cio import client\nclient.track('1', 'x')\n",
        "from app.cio import client as c\nc.track('1', 'x')\n",
        "import app.cio\napp.cio.client.track('1', 'x')\n",
        "from app import cio\ncio.client.track('1', 'x')\n",
        "from .cio import client\nclient.track('1', 'x')\n",
        "from app.cio import make\nmake().track('1', 'x')\n",
        "from app import client\nclient.track('1', 'x')\n",
    ],
)
def test_customerio_clients_from_other_files(source: str) -> None:
    project = _project(
        {
            "app.cio": (
                "from customerio import CustomerIO\n"
                "client = CustomerIO('s', 'k')\n"
                "def make():\n    return CustomerIO('s', 'k')\n"
            ),
            "app.__init__": "from .cio import client\n",
        }
    )

    calls = _calls(source, module_name="app.views", project=project)

    assert [(call.method, call.api) for call in calls] == [("track", Api.TRACK)]


@pytest.mark.parametrize(
    "source",
    [
        # An attribute of a module-level object, assigned a client once.
        "app = Flask(__name__)\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "def signup():\n"
        "    app.cio.track('1', 'x')\n",
        "app: Flask = Flask(__name__)\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "app.cio.track('1', 'x')\n",
        # An instance of a class of this module that sets `self.cio`.
        "class Tracking:\n"
        "    def __init__(self):\n"
        "        self.cio = CustomerIO('s', 'k')\n"
        "tracking = Tracking()\n"
        "def login():\n"
        "    tracking.cio.track('1', 'x')\n",
        # A Flask extension whose `__init__` sets None and `init_app` the
        # client, as `self.cio` in its methods reads it.
        "class Extension:\n"
        "    def __init__(self, app=None):\n"
        "        self.client = None\n"
        "    def init_app(self, app):\n"
        "        self.client = CustomerIO('s', 'k')\n"
        "ext = Extension()\n"
        "ext.client.track('1', 'x')\n",
        # The attribute set through its one base class of this module, and
        # a client assigned through the instance too.
        "class Base:\n"
        "    def __init__(self):\n"
        "        self.cio = CustomerIO('s', 'k')\n"
        "class Tracking(Base):\n"
        "    pass\n"
        "tracking = Tracking()\n"
        "tracking.cio = CustomerIO('s', 'k')\n"
        "tracking.cio.track('1', 'x')\n",
        # An instance of a class that does not set the attribute, given it
        # once at module level.
        "class Holder:\n"
        "    pass\n"
        "holder = Holder()\n"
        "holder.cio = CustomerIO('s', 'k')\n"
        "holder.cio.track('1', 'x')\n",
    ],
)
def test_customerio_held_attribute_receivers(source: str) -> None:
    calls = _calls(_HEADER + source)

    assert [(call.method, call.api) for call in calls] == [("track", Api.TRACK)]


@pytest.mark.parametrize(
    "source",
    [
        # The attribute assigned twice, also to a client and then None.
        "app = Flask(__name__)\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "def reset():\n"
        "    app.cio = Mixpanel('t')\n"
        "app.cio.track('1', 'x')\n",
        "app = Flask(__name__)\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "app.cio = None\n"
        "app.cio.track('1', 'x')\n",
        # The attribute assigned an object of another library, or assigned
        # a client only inside a function.
        "app = Flask(__name__)\n"
        "app.cio = Mixpanel('t')\n"
        "app.cio.track('1', 'x')\n",
        "app = Flask(__name__)\n"
        "def setup():\n"
        "    app.cio = CustomerIO('s', 'k')\n"
        "app.cio.track('1', 'x')\n",
        # The object rebound, deleted, rebound through `global`, bound in a
        # loop, imported, or bound together with another name.
        "app = Flask(__name__)\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "app = create_app()\n"
        "app.cio.track('1', 'x')\n",
        "app = Flask(__name__)\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "del app\n"
        "app.cio.track('1', 'x')\n",
        "app = Flask(__name__)\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "def swap():\n"
        "    global app\n"
        "    app = create_app()\n"
        "app.cio.track('1', 'x')\n",
        "for app in apps:\n"
        "    app.cio = CustomerIO('s', 'k')\n"
        "app.cio.track('1', 'x')\n",
        "from shop import app\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "app.cio.track('1', 'x')\n",
        "app = other = Flask(__name__)\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "app.cio.track('1', 'x')\n",
        # The name shadowed by a parameter or a local variable.
        "app = Flask(__name__)\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "def go(app):\n"
        "    app.cio.track('1', 'x')\n",
        "app = Flask(__name__)\n"
        "app.cio = CustomerIO('s', 'k')\n"
        "def go():\n"
        "    app = create_app()\n"
        "    app.cio.track('1', 'x')\n",
        # A class that sets the attribute to another object in one method.
        "class Tracking:\n"
        "    def __init__(self):\n"
        "        self.cio = CustomerIO('s', 'k')\n"
        "    def use_mixpanel(self):\n"
        "        self.cio = Mixpanel('t')\n"
        "tracking = Tracking()\n"
        "tracking.cio.track('1', 'x')\n",
        # An instance whose attribute is assigned another object directly.
        "class Tracking:\n"
        "    def __init__(self):\n"
        "        self.cio = CustomerIO('s', 'k')\n"
        "tracking = Tracking()\n"
        "tracking.cio = Mixpanel('t')\n"
        "tracking.cio.track('1', 'x')\n",
        # An object of a class that is not known: a factory, an imported or
        # a decorated class.
        "tracking = make_tracking()\n" "tracking.cio.track('1', 'x')\n",
        "from shop.tracking import Tracking\n"
        "tracking = Tracking()\n"
        "tracking.cio.track('1', 'x')\n",
        "@wrap\n"
        "class Tracking:\n"
        "    def __init__(self):\n"
        "        self.cio = CustomerIO('s', 'k')\n"
        "tracking = Tracking()\n"
        "tracking.cio.track('1', 'x')\n",
        # An attribute of an attribute.
        "app = Flask(__name__)\n"
        "app.state.cio = CustomerIO('s', 'k')\n"
        "app.state.cio.track('1', 'x')\n",
    ],
)
def test_customerio_held_attribute_look_alikes(source: str) -> None:
    assert _calls(_HEADER + source) == []


HELD_CLIENTS = (
    "from customerio import CustomerIO\n"
    "from flask import Flask\n"
    "app = Flask(__name__)\n"
    "app.cio = CustomerIO('s', 'k')\n"
    "class Tracking:\n"
    "    def __init__(self):\n"
    "        self.cio = CustomerIO('s', 'k')\n"
    "        self.retries = 3\n"
    "    def send(self):\n"
    "        pass\n"
    "tracking = Tracking()\n"
)


def test_customerio_held_attributes_in_summary() -> None:
    project = _project({"app.clients": HELD_CLIENTS})

    clients = project.summaries[0].attribute_clients
    assert sorted(clients) == ["app.cio", "tracking.cio"]
    assert clients["app.cio"].api is Api.TRACK


@pytest.mark.parametrize(
    "source",
    [
        "from app.clients import tracking\ntracking.cio.track('1', 'x')\n",
        "from app.clients import app as web\nweb.cio.track('1', 'x')\n",
        "from app import clients\nclients.tracking.cio.track('1', 'x')\n",
        "import app.clients\napp.clients.app.cio.track('1', 'x')\n",
    ],
)
def test_customerio_held_attributes_from_other_files(source: str) -> None:
    project = _project({"app.clients": HELD_CLIENTS, "app.views": source})

    calls = _calls(source, module_name="app.views", project=project)

    assert [(call.method, call.api) for call in calls] == [("track", Api.TRACK)]


@pytest.mark.parametrize(
    "source",
    [
        "from app.clients import tracking\ntracking.cio = FakeClient()\n",
        "from app import clients\nclients.tracking.cio = FakeClient()\n",
        "from app import clients\nclients.tracking = FakeTracking()\n",
        "from app.clients import tracking\nsetattr(tracking, 'cio', FakeClient())\n",
        "from app.clients import tracking\nsetattr(tracking, name, FakeClient())\n",
    ],
)
def test_customerio_held_attributes_changed_elsewhere(source: str) -> None:
    sender = "from app.clients import tracking\ntracking.cio.track('1', 'x')\n"
    project = _project(
        {"app.clients": HELD_CLIENTS, "app.testing": source, "app.views": sender}
    )

    assert _calls(sender, module_name="app.views", project=project) == []
    assert (
        _calls(
            HELD_CLIENTS + "tracking.cio.track('1', 'x')\n",
            module_name="app.clients",
            project=project,
        )
        == []
    )


@pytest.mark.parametrize(
    ("source", "methods"),
    [
        (
            "app = Flask(__name__)\n"
            "setattr(app, 'cio', CustomerIO('s', 'k'))\n"
            "app.cio.track('1', 'x')\n",
            ["track"],
        ),
        # A name that is not a literal may set any attribute, `delattr`
        # removes it, and a second `setattr` may give another object.
        (
            "app = Flask(__name__)\n"
            "app.cio = CustomerIO('s', 'k')\n"
            "setattr(app, name, value)\n"
            "app.cio.track('1', 'x')\n",
            [],
        ),
        (
            "app = Flask(__name__)\n"
            "setattr(app, 'cio', CustomerIO('s', 'k'))\n"
            "delattr(app, 'cio')\n"
            "app.cio.track('1', 'x')\n",
            [],
        ),
        (
            "app = Flask(__name__)\n"
            "app.cio = CustomerIO('s', 'k')\n"
            "setattr(app, 'cio', Mixpanel('t'))\n"
            "app.cio.track('1', 'x')\n",
            [],
        ),
        # A `setattr` that the module binds is not the builtin.
        (
            "from shop.compat import setattr\n"
            "app = Flask(__name__)\n"
            "setattr(app, 'cio', CustomerIO('s', 'k'))\n"
            "app.cio.track('1', 'x')\n",
            [],
        ),
    ],
)
def test_customerio_setattr_held_attribute(source: str, methods: list[str]) -> None:
    calls = _calls(_HEADER + "from flask import Flask\n" + source)

    assert [call.method for call in calls] == methods


CURRENT_APP_SENDER = (
    "from flask import current_app\n"
    "current_app.cio.track('1', 'x')\n"
    "current_app.config.get('X')\n"
    "current_app.events.track('1', 'y')\n"
)


def test_customerio_current_app_attribute_client() -> None:
    project = _project({"app.clients": HELD_CLIENTS, "app.views": CURRENT_APP_SENDER})

    calls = _calls(CURRENT_APP_SENDER, module_name="app.views", project=project)

    assert [(call.method, call.api) for call in calls] == [("track", Api.TRACK)]
    assert project.summaries[0].flask_apps == ["app"]


@pytest.mark.parametrize(
    "other",
    [
        # Another app has an App API client in the same attribute.
        "from customerio import APIClient\n"
        "from flask import Flask\n"
        "admin = Flask(__name__)\n"
        "admin.cio = APIClient('k')\n",
        # Another module rebinds the attribute of the app.
        "from app.clients import app\napp.cio = FakeClient()\n",
    ],
)
def test_customerio_current_app_attribute_unknown(other: str) -> None:
    project = _project(
        {
            "app.clients": HELD_CLIENTS,
            "app.admin": other,
            "app.views": CURRENT_APP_SENDER,
        }
    )

    assert _calls(CURRENT_APP_SENDER, module_name="app.views", project=project) == []


def test_customerio_current_app_needs_flask_app() -> None:
    holder = (
        "from customerio import CustomerIO\n"
        "from shop import Service\n"
        "service = Service()\n"
        "service.cio = CustomerIO('s', 'k')\n"
    )
    project = _project({"app.clients": holder, "app.views": CURRENT_APP_SENDER})

    assert _calls(CURRENT_APP_SENDER, module_name="app.views", project=project) == []


def _factory(body: str) -> str:
    """Return a module whose `create_app()` builds a Flask app and runs `body` on it."""
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    return (
        "from customerio import APIClient, CustomerIO\n"
        "from flask import Flask\n"
        "from shop.testing import FakeClient\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n" + indented
    )


@pytest.mark.parametrize(
    "body",
    [
        "app.cio = CustomerIO('s', 'k')\nreturn app",
        "cio = CustomerIO('s', 'k')\napp.cio = cio\nreturn app",
        "setattr(app, 'cio', CustomerIO('s', 'k'))\nreturn app",
        "app.redis = Redis()\napp.cio = CustomerIO('s', 'k')\nreturn app",
        # A failed start-up returns something else too.
        "if not ready():\n    return None\napp.cio = CustomerIO('s', 'k')\nreturn app",
    ],
)
def test_customerio_current_app_factory_client(body: str) -> None:
    project = _project({"app": _factory(body), "app.views": CURRENT_APP_SENDER})

    calls = _calls(CURRENT_APP_SENDER, module_name="app.views", project=project)

    assert [(call.method, call.api) for call in calls] == [("track", Api.TRACK)]
    assert "current_app" in prefilter_words(project.summaries)


def test_customerio_current_app_factory_local_import() -> None:
    factory = (
        "import customerio\n"
        "def make_app():\n"
        "    import flask\n"
        "    app = flask.Flask(__name__)\n"
        "    app.cio = customerio.CustomerIO('s', 'k')\n"
        "    return app\n"
    )
    project = _project({"app": factory, "app.views": CURRENT_APP_SENDER})

    calls = _calls(CURRENT_APP_SENDER, module_name="app.views", project=project)

    assert [call.method for call in calls] == ["track"]


def test_customerio_current_app_factory_app_api_client() -> None:
    sender = (
        "from flask import current_app\n"
        "current_app.mailer.send_email(request)\n"
        "current_app.mailer.track('1', 'x')\n"
    )
    factory = _factory("app.mailer = APIClient('k')\nreturn app")
    project = _project({"app": factory, "app.views": sender})

    calls = _calls(sender, module_name="app.views", project=project)

    assert [(call.method, call.api) for call in calls] == [("send_email", Api.APP)]


@pytest.mark.parametrize(
    "body",
    [
        # The app is built but never returned, so it never handles a request.
        "app.cio = CustomerIO('s', 'k')\napp.run()",
        "app.cio = CustomerIO('s', 'k')\nreturn app.wsgi_app",
        # The attribute is set to something else too, or may be.
        "app.cio = CustomerIO('s', 'k')\nif app.testing:\n"
        "    app.cio = FakeClient()\nreturn app",
        "app.cio = CustomerIO('s', 'k')\ndel_cio = lambda: delattr(app, 'cio')\n"
        "return app",
        "app.cio = CustomerIO('s', 'k')\nsetattr(app, name, value)\nreturn app",
        "app.cio = CustomerIO('s', 'k')\ndef use_fake():\n"
        "    app.cio = FakeClient()\nreturn app",
        "app.cio = FakeClient()\nreturn app",
        # The name may be another app when the function returns it.
        "app = wrap(app)\napp.cio = CustomerIO('s', 'k')\nreturn app",
        "admin = app\nadmin.cio = CustomerIO('s', 'k')\nreturn admin",
        # An attribute of an attribute of the app is not followed.
        "app.extensions.cio = CustomerIO('s', 'k')\nreturn app",
    ],
)
def test_customerio_current_app_factory_unknown(body: str) -> None:
    project = _project({"app": _factory(body), "app.views": CURRENT_APP_SENDER})

    assert _calls(CURRENT_APP_SENDER, module_name="app.views", project=project) == []
    assert "current_app" not in prefilter_words(project.summaries)


@pytest.mark.parametrize(
    "factory",
    [
        # A parameter is not an app that the function builds.
        "from customerio import CustomerIO\n"
        "def init_app(app):\n"
        "    app.cio = CustomerIO('s', 'k')\n"
        "    return app\n",
        # A second name for the app may give its attribute another value.
        "from customerio import CustomerIO\n"
        "from flask import Flask\n"
        "from shop.testing import FakeClient\n"
        "def create_app():\n"
        "    app = admin = Flask(__name__)\n"
        "    app.cio = CustomerIO('s', 'k')\n"
        "    admin.cio = FakeClient()\n"
        "    return app\n",
        # A class named Flask that is not flask's.
        "from customerio import CustomerIO\n"
        "from shop.web import Flask\n"
        "def create_app():\n"
        "    app = Flask(__name__)\n"
        "    app.cio = CustomerIO('s', 'k')\n"
        "    return app\n",
        # Two factories of the module hold different client types.
        _factory("app.cio = CustomerIO('s', 'k')\nreturn app")
        + "def create_admin_app():\n"
        "    admin = Flask(__name__)\n"
        "    admin.cio = APIClient('k')\n"
        "    return admin\n",
    ],
)
def test_customerio_current_app_not_factory_client(factory: str) -> None:
    project = _project({"app": factory, "app.views": CURRENT_APP_SENDER})

    assert _calls(CURRENT_APP_SENDER, module_name="app.views", project=project) == []
    assert "current_app" not in prefilter_words(project.summaries)


def test_customerio_current_app_factories_differ() -> None:
    admin = (
        "from customerio import APIClient\n"
        "from flask import Flask\n"
        "def create_admin():\n"
        "    admin = Flask(__name__)\n"
        "    admin.cio = APIClient('k')\n"
        "    return admin\n"
    )
    project = _project(
        {
            "app": _factory("app.cio = CustomerIO('s', 'k')\nreturn app"),
            "app.admin": admin,
            "app.views": CURRENT_APP_SENDER,
        }
    )

    assert _calls(CURRENT_APP_SENDER, module_name="app.views", project=project) == []


@pytest.mark.parametrize("package", ["celery", "quart", "shop.context"])
def test_customerio_current_app_of_other_package(package: str) -> None:
    sender = CURRENT_APP_SENDER.replace("from flask ", f"from {package} ")
    factory = _factory("app.cio = CustomerIO('s', 'k')\nreturn app")
    project = _project({"app": factory, "app.views": sender})

    assert _calls(sender, module_name="app.views", project=project) == []


def _web_app(lines: str) -> str:
    """Return a module with a module-level Flask app `app` and `lines` after it."""
    return (
        "from customerio import CustomerIO\n"
        "from flask import Flask\n"
        "from mixpanel import Mixpanel\n"
        "app = Flask(__name__)\n" + lines
    )


@pytest.mark.parametrize(
    "other",
    [
        # Another app stores an object of another library in the attribute.
        _web_app("app.cio = Mixpanel('t')\n"),
        _web_app("app.cio = 'disabled'\n"),
        _factory("app.cio = Mixpanel('t')\nreturn app"),
        # Another app may hold anything in it.
        _web_app("app.cio = make_client()\n"),
        _web_app("app.cio = None\n"),
        _web_app("setattr(app, name, value)\n"),
        _factory("setattr(app, name, value)\nreturn app"),
        # A client that a function sets on a module-level app is not read.
        _web_app("def init():\n    app.cio = CustomerIO('s', 'k')\n"),
    ],
)
def test_customerio_current_app_other_app_not_client(other: str) -> None:
    project = _project(
        {
            "app.clients": HELD_CLIENTS,
            "app.admin": other,
            "app.views": CURRENT_APP_SENDER,
        }
    )

    assert project.current_app_client("cio") is None
    assert _calls(CURRENT_APP_SENDER, module_name="app.views", project=project) == []


def test_customerio_current_app_factories_mixed() -> None:
    factory = _factory("app.cio = CustomerIO('s', 'k')\nreturn app") + (
        "def create_admin():\n"
        "    admin = Flask(__name__)\n"
        "    admin.cio = FakeClient()\n"
        "    return admin\n"
    )
    project = _project({"app": factory, "app.views": CURRENT_APP_SENDER})

    assert project.summaries[0].non_client_app_attributes == {"cio": None}
    assert _calls(CURRENT_APP_SENDER, module_name="app.views", project=project) == []


@pytest.mark.parametrize(
    "files",
    [
        {"app.web": _web_app("app.analytics = Mixpanel('t')\n")},
        {
            "app.web": _web_app(
                "app.analytics = 'off'\napp.cio = CustomerIO('s', 'k')\n"
            )
        },
        {
            "app": _factory(
                "import mixpanel\napp.analytics = mixpanel.Mixpanel('t')\nreturn app"
            )
        },
        # Every app that sets it sets it to an object of another library.
        {
            "app.web": _web_app("app.analytics = Mixpanel('t')\n"),
            "app": _factory(
                "from segment import Client\napp.analytics = Client('k')\nreturn app"
            ),
        },
    ],
)
def test_customerio_current_app_non_client(files: dict[str, str]) -> None:
    project = _project(files)

    assert project.current_app_non_client("analytics")
    assert not project.current_app_non_client("events")


@pytest.mark.parametrize(
    "files",
    [
        # One app stores a client in the attribute.
        {
            "app.web": _web_app("app.analytics = Mixpanel('t')\n"),
            "app": _factory("app.analytics = CustomerIO('s', 'k')\nreturn app"),
        },
        {
            "app.web": _web_app("app.analytics = Mixpanel('t')\n"),
            "app.admin": _web_app("app.analytics = CustomerIO('s', 'k')\n"),
        },
        {
            "app": _factory(
                "app.analytics = Mixpanel('t')\n"
                "app.analytics = CustomerIO('s', 'k')\n"
                "return app"
            )
        },
        {
            "app.web": _web_app(
                "app.analytics = Mixpanel('t')\n"
                "def init():\n"
                "    app.analytics = CustomerIO('s', 'k')\n"
            )
        },
        # A class of a project module may send through a client.
        {
            "app.web": _web_app(
                "from app.tracking import Tracker\napp.analytics = Tracker()\n"
            ),
            "app.tracking": "from customerio import CustomerIO\nclass Tracker:\n    pass\n",
        },
        # A value that cio-fix cannot tell apart from a client.
        {"app.web": _web_app("app.analytics = None\n")},
        {"app.web": _web_app("app.analytics = make_tracker()\n")},
        {
            "app.web": _web_app(
                "app.analytics = Mixpanel('t')\nsetattr(app, name, value)\n"
            )
        },
        # Another module may set the attribute of the app.
        {
            "app.web": _web_app("app.analytics = Mixpanel('t')\n"),
            "app.admin": "from app.web import app\napp.analytics = object()\n",
        },
    ],
)
def test_customerio_current_app_maybe_client(files: dict[str, str]) -> None:
    project = _project(files)

    assert not project.current_app_non_client("analytics")


ANNOTATION_PROJECT = {
    "app.cio": (
        "from customerio import CustomerIO as Client\n"
        "class Wrapper:\n"
        "    def __init__(self):\n"
        "        self.client = Client('s', 'k')\n"
        "class Audit:\n"
        "    pass\n"
    ),
    "app.__init__": "from .cio import Audit, Client\n",
}


@pytest.mark.parametrize(
    ("annotation", "is_client"),
    [
        ("Client", True),
        ("'Client'", True),
        ("Wrapper", True),
        ("Optional[Wrapper]", True),
        ("Any", True),
        ("object", True),
        ("Audit", False),
        ("'Audit'", False),
        ("Audit | None", False),
        ("Union[Audit, None]", False),
        ("Annotated[Audit, 'marketing']", False),
        ("'Optional[Audit]'", False),
        ("list[Client]", False),
        ("str", False),
        ("segment.Client", False),
    ],
)
def test_customerio_client_name_annotations(annotation: str, is_client: bool) -> None:
    source = (
        "from typing import Annotated, Any, Optional, Union\n"
        "import segment\n"
        "from app import Audit, Client\n"
        "from app.cio import Wrapper\n"
        f"def go(tracker: {annotation}):\n"
        "    tracker.track('1', 'x')\n"
    )
    index = build_index(cst.parse_module(source), "app.views", False)
    index.client_names = frozenset({"tracker"})
    index.attach_project(_project(ANNOTATION_PROJECT))

    calls = index.client_calls

    assert len(calls) == (1 if is_client else 0)


@pytest.mark.parametrize(
    ("body", "is_client"),
    [
        # Bound to another library's module or objects: not a client.
        ("    import mixpanel as tracker\n", False),
        ("    tracker: Mixpanel\n    tracker = sink()\n", False),
        ("    tracker: 'Optional[Mixpanel]'\n    tracker = sink()\n", False),
        ("    for tracker in SINKS:\n        pass\n", False),
        ("    for tracker in (Mixpanel('a'), Mixpanel('b')):\n        pass\n", False),
        # Bound to a client, to a type that may be one, or to unknown values.
        ("    import app.cio as tracker\n", True),
        ("    tracker: Wrapper\n    tracker = sink()\n", True),
        ("    tracker: Any\n    tracker = sink()\n", True),
        ("    for tracker in CLIENTS:\n        pass\n", True),
        ("    for tracker in MIXED:\n        pass\n", True),
        ("    for tracker in sinks():\n        pass\n", True),
        ("    for tracker in []:\n        pass\n", True),
        ("    tracker = sink()\n", True),
    ],
)
def test_customerio_client_name_local_bindings(body: str, is_client: bool) -> None:
    source = (
        "from typing import Any, Optional\n"
        "from mixpanel import Mixpanel\n"
        "from customerio import CustomerIO\n"
        "from app.cio import Wrapper\n"
        "SINKS = [Mixpanel('a'), Mixpanel('b')]\n"
        "MIXED = [Mixpanel('a'), CustomerIO('s', 'k')]\n"
        "def go():\n"
        f"{body}"
        "    tracker.track('1', 'x')\n"
    )
    index = build_index(cst.parse_module(source), "app.views", False)
    index.client_names = frozenset({"tracker"})
    index.attach_project(_project(ANNOTATION_PROJECT))

    calls = [call for call in index.client_calls if call.method == "track"]

    assert len(calls) == (1 if is_client else 0)


def test_customerio_client_name_module_import_of_other_library() -> None:
    source = "import mixpanel as tracker\ndef go():\n    tracker.track('1', 'x')\n"
    index = build_index(cst.parse_module(source), "app.views", False)
    index.client_names = frozenset({"tracker"})
    index.attach_project(_project(ANNOTATION_PROJECT))

    assert index.client_calls == []


@pytest.mark.parametrize(
    ("body", "is_async"),
    [
        ("    await request.app.state.cio.track('1', 'x')\n", True),
        ("    await tracker.track('1', 'x')\n", True),
        ("    request.app.state.cio.track('1', 'x')\n", False),
        ("    tracker.track('1', 'x')\n", False),
        ("    await _customerio_in_background_task(tracker.track, '1', 'x')\n", True),
        ("    _customerio_in_background(tracker.track, '1', 'x')\n", False),
    ],
)
def test_customerio_client_name_awaited_call(body: str, is_async: bool) -> None:
    source = f"async def go(request):\n{body}"
    index = build_index(cst.parse_module(source), "app.views", False)
    index.client_names = frozenset({"tracker", "request.app.state.cio"})

    calls = index.client_calls

    assert len(calls) == 1
    assert calls[0].client.is_async is is_async


def test_customerio_client_name_keeps_code_type() -> None:
    source = (
        "from async_customerio import AsyncCustomerIO\n"
        "def make_tracker():\n"
        "    return AsyncCustomerIO('s', 'k')\n"
        "tracker = make_tracker()\n"
        "class Clients:\n"
        "    tracker = AsyncCustomerIO('s', 'k')\n"
        "def go():\n"
        "    tracker.track('1', 'x')\n"
        "    Clients.tracker.track('1', 'x')\n"
    )
    index = build_index(cst.parse_module(source), "app.views", False)
    index.client_names = frozenset({"tracker", "Clients.tracker"})

    calls = index.client_calls

    assert len(calls) == 2
    assert all(call.client.is_async for call in calls)


@pytest.mark.parametrize(
    "annotation", ["'CustomerIO'", "Optional['CustomerIO']", "'CustomerIO | None'"]
)
def test_customerio_string_annotation_client(annotation: str) -> None:
    source = (
        "from typing import Optional\n"
        "from customerio import CustomerIO\n"
        f"def go(cio: {annotation}):\n"
        "    cio.track('1', 'x')\n"
    )

    calls = _calls(source)

    assert [(call.method, call.api) for call in calls] == [("track", Api.TRACK)]


TYPE_ALIAS_PROJECT = {
    "app.deps": (
        "from typing import Annotated\n"
        "from customerio import CustomerIO\n"
        "from fastapi import Depends\n"
        "def get_cio():\n"
        "    return CustomerIO('s', 'k')\n"
        "CustomerIODep = Annotated[CustomerIO, Depends(get_cio)]\n"
        "type TrackerDep = Annotated[CustomerIO, Depends(get_cio)]\n"
        "ReplacedDep = Annotated[CustomerIO, Depends(get_cio)]\n"
        "SegmentDep = Annotated[Segment, Depends(get_segment)]\n"
    ),
    "app.__init__": "from .deps import CustomerIODep\n",
    "app.fakes": (
        "from app import deps\n"
        "deps.ReplacedDep = Annotated[Fake, Depends(get_fake)]\n"
    ),
}


@pytest.mark.parametrize(
    ("imports", "annotation", "is_client"),
    [
        ("from app.deps import CustomerIODep\n", "CustomerIODep", True),
        ("from app.deps import TrackerDep\n", "TrackerDep", True),
        ("from app.deps import CustomerIODep as Dep\n", "Optional[Dep]", True),
        ("from app import deps\n", "deps.CustomerIODep", True),
        ("from app import CustomerIODep\n", "CustomerIODep", True),
        ("from app import deps\nDep = deps.TrackerDep\n", "Dep", True),
        ("from app.deps import SegmentDep\n", "SegmentDep", False),
        ("from app.deps import ReplacedDep\n", "ReplacedDep", False),
        (
            "from fakes import Dep\nfrom app.deps import CustomerIODep as Dep\n",
            "Dep",
            False,
        ),
        (
            "try:\n    from app.deps import CustomerIODep as Dep\n"
            "except ImportError:\n    from fakes import Dep\n",
            "Dep",
            False,
        ),
        (
            "from app.deps import CustomerIODep\n"
            "def fake():\n    global CustomerIODep\n    CustomerIODep = Fake\n",
            "CustomerIODep",
            False,
        ),
    ],
    ids=[
        "from-import",
        "type-statement",
        "renamed-in-optional",
        "module-attribute",
        "re-export",
        "local-alias",
        "other-class",
        "rebound-through-module",
        "imported-twice",
        "import-fallback",
        "global",
    ],
)
def test_customerio_imported_type_alias(
    imports: str, annotation: str, is_client: bool
) -> None:
    source = "from typing import Optional\n" + imports
    source += f"def go(cio: {annotation}):\n    cio.track('1', 'x')\n"

    calls = _calls(source, "app.views", _project(TYPE_ALIAS_PROJECT))

    assert len(calls) == (1 if is_client else 0)


@pytest.mark.parametrize(
    ("alias", "is_client"),
    [
        ("TrackerDep = Annotated[Audit, Depends(get_audit)]\n", False),
        ("type TrackerDep = Optional[Audit]\n", False),
        ("TrackerDep = Annotated[str, Depends(get_name)]\n", False),
        ("TrackerDep = Annotated[Any, Depends(get_tracker)]\n", True),
        ("TrackerDep = Annotated[Wrapper, Depends(get_tracker)]\n", True),
    ],
)
def test_customerio_client_name_type_alias(alias: str, is_client: bool) -> None:
    source = (
        "from typing import Annotated, Any, Optional\n"
        "from fastapi import Depends\n"
        "from app import Audit\n"
        "from app.cio import Wrapper\n"
        f"{alias}"
        "def go(tracker: TrackerDep):\n"
        "    tracker.track('1', 'x')\n"
    )
    index = build_index(cst.parse_module(source), "app.views", False)
    index.client_names = frozenset({"tracker"})
    index.attach_project(_project(ANNOTATION_PROJECT))

    calls = index.client_calls

    assert len(calls) == (1 if is_client else 0)


def test_customerio_project_constants() -> None:
    project = _project({"app.settings": "KEY = 'abc'\nTIMEOUT = 3\nNAME = f'{x}'\n"})

    assert project.constant("app.settings.KEY") == "abc"
    assert project.constant("settings.TIMEOUT") == 3
    assert project.constant("django.conf.settings.KEY") == "abc"
    assert project.constant("app.settings.NAME") is None


BINDING_FORMS = """\
def handle(message, stamps):
    match message:
        case {"at": captured, **rest}:
            pass
        case [head, *tail] as whole:
            pass
        case Point(x=keyword):
            pass
    try:
        pass
    except Exception as error:
        pass
    try:
        pass
    except* ValueError as group:
        pass
    type Alias[T] = list[T]
    return [(counted := item) for item in stamps]
"""


def test_customerio_binding_forms_recorded() -> None:
    index = build_index(cst.parse_module(BINDING_FORMS), "app", False)
    function_scope = index.functions[0].scope
    names = ("captured", "rest", "head", "tail", "whole", "keyword", "error", "group")

    for name in (*names, "Alias", "counted"):
        assert name in function_scope.assignments, name
    assert "item" not in function_scope.assignments
    assert index.binds_anywhere("item")


LOCAL_IMPORTS = """
import time

cio = object()
dict = None


def imported_as(uid):
    import mixpanel.clients as cio


def declared_global():
    global cio
    from mixpanel import mp as cio


def rebinds_str():
    from collections import UserString as str


class Events:
    from mixpanel import mp as cio

    def send(self):
        return cio
"""


def test_customerio_local_import_ends_lookup() -> None:
    index = build_index(cst.parse_module(LOCAL_IMPORTS), "app", False)
    imported_as, declared_global, _, send = [info.scope for info in index.functions]
    (events,) = [info.scope for info in index.classes]

    assert index.assignments_of("cio", imported_as) == []
    assert index.assignments_of("cio", events) == []
    assert index.assignments_of("time", imported_as) == []
    assert index.assignments_of("cio", send)[0].scope is index.module_scope
    assert index.assignments_of("cio", declared_global)[0].scope is index.module_scope


def test_customerio_binds_anywhere_counts_imports() -> None:
    index = build_index(cst.parse_module(LOCAL_IMPORTS), "app", False)

    assert index.binds_anywhere("str")
    assert index.binds_anywhere("time")
    assert index.binds_anywhere("dict")
    assert not index.binds_anywhere("int")


def test_customerio_comprehension_scope_lookup() -> None:
    source = "def f(items):\n    item = 1\n    return [item for item in items]\n"
    index = build_index(cst.parse_module(source), "app", False)
    (comprehension,) = index.comprehension_scopes

    inner = index.assignments_of("item", comprehension)
    outer = index.assignments_of("item", comprehension.parent)

    assert isinstance(inner[0].statement, cst.CompFor)
    assert isinstance(outer[0].statement, cst.Assign)
    assert comprehension.owner is comprehension.parent


def test_customerio_lambda_scope_lookup() -> None:
    source = "config = 1\nsort_key = lambda config: [(n := item) for item in config]\n"
    index = build_index(cst.parse_module(source), "app", False)
    (lambda_scope,) = index.lambda_scopes

    inner = index.assignments_of("config", lambda_scope)
    outer = index.assignments_of("config", index.module_scope)

    assert isinstance(inner[0].statement, cst.Param)
    assert isinstance(outer[0].statement, cst.Assign)
    assert len(outer) == 1
    # `:=` in a comprehension binds in the lambda that runs it.
    assert "n" in lambda_scope.assignments
    assert "n" not in index.module_scope.assignments


NONLOCAL_CHAIN = """\
def outer():
    event = "started"

    def middle():
        nonlocal event

        def inner():
            nonlocal event
            event = "paid"

        event = "shipped"
        inner()

    middle()
    return event
"""


def test_customerio_nonlocal_binds_in_owner_scope() -> None:
    index = build_index(cst.parse_module(NONLOCAL_CHAIN), "app", False)
    outer, middle, inner = (info.scope for info in index.functions)

    values = [item.value.value for item in outer.assignments["event"]]

    assert values == ['"started"', '"paid"', '"shipped"']
    assert "event" not in middle.assignments
    assert "event" not in inner.assignments
    assert index.assignments_of("event", inner) == outer.assignments["event"]


def test_customerio_global_rebinding_found() -> None:
    source = (
        'STEP = "started"\n'
        "def advance():\n"
        "    global STEP\n"
        '    STEP = "paid"\n'
        "def local():\n"
        '    STEP = "local"\n'
    )
    index = build_index(cst.parse_module(source), "app", False)
    advance, local = (info.scope for info in index.functions)

    module_level = index.assignments_of("STEP", index.module_scope)

    assert index.rebound_through_global("STEP", module_level)
    assert index.rebound_through_global("STEP", advance.assignments["STEP"])
    assert not index.rebound_through_global("STEP", local.assignments["STEP"])


def test_literal_value_matches_libcst() -> None:
    from cio_fix.customerio import literal_value
    from cio_fix.walk import find_all

    from conftest import FIXTURES

    kinds = (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float)
    compared = 0
    for source in sorted(FIXTURES.rglob("*.py")):
        try:
            module = cst.parse_module(source.read_text(encoding="utf-8"))
        except cst.ParserSyntaxError:
            continue
        for node in find_all(module, *kinds):
            expected = node.evaluated_value
            if isinstance(expected, bytes):
                expected = None
            assert literal_value(node) == expected, (
                source,
                cst.Module([]).code_for_node(node),
            )
            compared += 1
    assert compared > 1000


@pytest.mark.parametrize(
    "signature, names",
    [
        ("def f(): pass", []),
        ("def f(a, /, b, *args, c, **kwargs): pass", ["a", "b", "c", "args", "kwargs"]),
        ("def f(a, *, b): pass", ["a", "b"]),
        ("def f(**kwargs): pass", ["kwargs"]),
        ("lambda a, *args: a", ["a", "args"]),
    ],
)
def test_customerio_all_parameters(signature: str, names: list[str]) -> None:
    statement = cst.parse_statement(signature)
    if isinstance(statement, cst.FunctionDef):
        parameters = statement.params
    else:
        assert isinstance(statement, cst.SimpleStatementLine)
        expression = statement.body[0]
        assert isinstance(expression, cst.Expr)
        assert isinstance(expression.value, cst.Lambda)
        parameters = expression.value.params

    found = all_parameters(parameters)

    assert [parameter.name.value for parameter in found] == names


def test_customerio_long_concatenation_value() -> None:
    # 1,200 adjacent literals nest deeper than Python's recursion limit.
    parts = [f'"{number}"' for number in range(1200)]
    joined = cst.parse_expression("(" + " ".join(parts) + ' f"{' + "'end'" + '}")')
    expected = "".join(str(number) for number in range(1200)) + "end"

    with pipeline._stack_budget():
        value = constant_value(joined)

    assert value == expected


@pytest.mark.parametrize(
    ("decorator", "cached"),
    [
        ("functools.cache", True),
        ("functools.lru_cache", True),
        ("functools.lru_cache()", True),
        ("functools.lru_cache(maxsize=None)", True),
        ("functools.lru_cache(maxsize=1)", True),
        ("functools.lru_cache(32, typed=True)", True),
        ("functools.lru_cache(typed=True)", True),
        ("lru_cache(maxsize=None)", True),
        ("functools.lru_cache(maxsize=0)", False),
        ("functools.lru_cache(0)", False),
        ("functools.lru_cache(maxsize=-1)", False),
        ("functools.lru_cache(maxsize=SIZE)", False),
        ("functools.lru_cache(maxsize=1.5)", False),
        ("functools.lru_cache(**OPTIONS)", False),
        ("lru_cache(maxsize=0)", False),
        ("cachetools.func.lru_cache(maxsize=0)", False),
    ],
)
def test_customerio_lru_cache_size_decides_cached(decorator: str, cached: bool) -> None:
    source = f"import functools\n\n@{decorator}\ndef get_client():\n    pass\n"
    index = build_index(cst.parse_module(source), "app", False)
    (function,) = index.functions
    assert function.is_cached is cached


# -- methods handed to a function that runs them later ---------------------------------

HAND_OFF_HEADER = (
    "import asyncio\n"
    "from concurrent.futures import ThreadPoolExecutor\n"
    "from customerio import CustomerIO\n"
    "cio = CustomerIO('s', 'k')\n"
    "pool = ThreadPoolExecutor(2)\n"
)


def _handed_off_calls(source: str):
    index = build_index(cst.parse_module(HAND_OFF_HEADER + source), "app", False)
    return index.handed_off_calls


@pytest.mark.parametrize(
    ("source", "positional_only"),
    [
        (
            "def f(tasks):\n    tasks.add_task(cio.track, '1', 'x', timestamp=2)\n",
            False,
        ),
        ("pool.submit(cio.track, '1', 'x', timestamp=2)\n", False),
        (
            "async def f():\n    await asyncio.to_thread(cio.track, '1', 'x', timestamp=2)\n",
            False,
        ),
        (
            "from asyncio import to_thread\n"
            "async def f():\n    await to_thread(cio.track, '1', 'x', timestamp=2)\n",
            False,
        ),
        (
            "async def f(loop):\n"
            "    await loop.run_in_executor(None, cio.track, '1', 'x', None, None, 2)\n",
            True,
        ),
        (
            "class T:\n"
            "    def __init__(self):\n        self.cio = CustomerIO('s', 'k')\n"
            "    def go(self):\n        pool.submit(self.cio.track, '1', 'x', timestamp=2)\n",
            False,
        ),
    ],
)
def test_customerio_handed_off_call_forms(source: str, positional_only: bool) -> None:
    calls = _handed_off_calls(source)

    assert len(calls) == 1
    call = calls[0]
    assert call.handed_off
    assert call.method == "track"
    assert call.positional_only is positional_only
    assert cst.ensure_type(call.value("customer_id"), cst.SimpleString).value == "'1'"
    assert cst.ensure_type(call.value("timestamp"), cst.Integer).value == "2"
    assert not call.in_background


@pytest.mark.parametrize(
    "source",
    [
        # Not a Customer.io client's method.
        "import analytics\ndef f(tasks):\n    tasks.add_task(analytics.track, '1', 'x')\n",
        "def send_email(uid): pass\npool.submit(send_email, '1')\n",
        # The method is not the function that the hand-off runs.
        "pool.submit(print, cio.track, '1')\n",
        "def f(loop):\n    loop.run_in_executor(cio.track, None, '1', 'x')\n",
        "def f(tasks):\n    tasks.add_task(func=cio.track)\n",
        # Not asyncio's to_thread.
        "from workers import to_thread\nto_thread(cio.track, '1', 'x')\n",
        # run_in_executor() raises TypeError on keyword arguments.
        "def f(loop):\n    loop.run_in_executor(None, cio.track, customer_id='1', name='x')\n",
        # dask's Client.submit takes keyword arguments of its own.
        "from distributed import Client\nClient().submit(cio.track, '1', 'x', pure=False)\n",
    ],
)
def test_customerio_handed_off_look_alikes(source: str) -> None:
    assert _handed_off_calls(source) == []


def test_customerio_handed_off_not_client_calls() -> None:
    source = "def f(tasks):\n    tasks.add_task(cio.track, '1', 'x')\n"
    index = build_index(cst.parse_module(HAND_OFF_HEADER + source), "app", False)

    assert index.client_calls == []
    assert len(index.handed_off_calls) == 1


DEFERRED_APP = """\
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from customerio import CustomerIO
from fastapi import APIRouter, BackgroundTasks

router = APIRouter()
cio = CustomerIO("YOUR_SITE_ID", "YOUR_API_KEY")
pool = ThreadPoolExecutor(2)


@router.post("/a")
def a(uid: int, sku: str, tasks: BackgroundTasks):
    tasks.add_task(cio.track, customer_id=uid, name=f"viewed_{sku}", timestamp=int(time.time() * 1000))
    return {}


@router.post("/b")
async def b(uid: int, sku: str):
    await asyncio.to_thread(cio.track, customer_id=uid, name=f"viewed_{sku}", timestamp=int(time.time() * 1000))
    return {}


def c(uid, sku):
    pool.submit(cio.identify, id=uid, created_at=int(time.time() * 1000))
"""

DEFERRED_CONTROL = """\
import time

from customerio import CustomerIO

cio = CustomerIO("YOUR_SITE_ID", "YOUR_API_KEY")


def direct(uid, sku):
    cio.track(customer_id=uid, name=f"viewed_{sku}", timestamp=int(time.time() * 1000))
"""


DEFERRED_LAMBDA = """\
import time

from customerio import CustomerIO
from fastapi import APIRouter, BackgroundTasks

router = APIRouter()
cio = CustomerIO("YOUR_SITE_ID", "YOUR_API_KEY")


@router.post("/a")
def a(uid: int, sku: str, tasks: BackgroundTasks):
    tasks.add_task(lambda: cio.track(customer_id=uid, name=f"viewed_{sku}", timestamp=int(time.time() * 1000)))
    return {}
"""


def test_handed_off_calls_checked_like_direct_call(project) -> None:
    root = project(
        {
            "app.py": DEFERRED_APP,
            "control.py": DEFERRED_CONTROL,
            "control_lambda.py": DEFERRED_LAMBDA,
            "pyproject.toml": '[project]\nname = "p1"\nrequires-python = ">=3.11"\n'
            'dependencies = ["customerio>=3,<4"]\n',
        }
    )

    result = run_cli(
        [
            "--output-format",
            "json",
            "--no-cache",
            "app.py",
            "control.py",
            "control_lambda.py",
        ],
        root,
    )

    found = {
        (finding["path"], finding["line"], finding["code"])
        for finding in result.json["findings"]
    }
    assert ("control.py", 9, "CIO301") in found
    assert ("control.py", 9, "CIO103") in found
    assert ("control_lambda.py", 12, "CIO301") in found
    assert ("control_lambda.py", 12, "CIO103") in found
    assert ("app.py", 15, "CIO301") in found
    assert ("app.py", 15, "CIO103") in found
    assert ("app.py", 21, "CIO301") in found
    assert ("app.py", 21, "CIO103") in found
    assert ("app.py", 26, "CIO103") in found
    # add_task and submit run the call after the response, and the awaited
    # to_thread is reported without a fix.
    assert ("app.py", 15, "CIO304") not in found
    assert ("app.py", 26, "CIO304") not in found
    assert ("app.py", 21, "CIO304") in found

"""Facts that cross file boundaries: exported clients, constants, the SDK version."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import libcst as cst

from cio_fix.codemods.bindings import root_object_name
from cio_fix.codemods.instances import client_property_reads, method_factory_kind
from cio_fix.codemods.timestamps import millisecond_helpers, timestamp_functions
from cio_fix.containers import changed_imports
from cio_fix.customerio import (
    ALL_METHOD_NAMES,
    CLIENT_PACKAGES,
    CONSTRUCTORS,
    METHODS_BY_API,
    PIPELINES,
    PIPELINES_MODULE,
    TRACK_METHODS,
    TYPING_MODULES,
    Api,
    Assignment,
    ClientType,
    FileIndex,
    Scope,
    WrapperSignature,
    construction_workspace,
    dotted_name,
    env_variable_read,
    literal_value,
)
from cio_fix.events import wrapper_candidates
from cio_fix.handlers import imported_route_decorators, route_factories
from cio_fix.metadata import is_target
from cio_fix.method_changes import (
    alternative_constructors,
    class_expressions,
    class_method_changes,
)
from cio_fix.modules import (
    DJANGO_SETTINGS,
    MAX_ALIASES,
    module_name_for,  # noqa: F401 (re-exported)
    modules_defining,
)
from cio_fix.name_classes import ClassStrings, module_classes
from cio_fix.namespaces import ATTRIBUTE_WRITERS, namespace_writes, own_module_writes
from cio_fix.optional_imports import optional_aliases, optional_imports
from cio_fix.sdk_version import (  # noqa: F401 (re-exported)
    SdkConflict,
    SdkVersion,
    declared_majors,
    detect_sdk_version,
)
from cio_fix.wrappers import wrapper_signatures

_Value = TypeVar("_Value")
logger = logging.getLogger(__name__)
# The attribute name in `ModuleSummary.assigned_attributes` that stands for
# any attribute: `setattr(ev, name, value)` may set each one.
ANY_ATTRIBUTE = "*"
# `ModuleSummary.all_names` of an `__all__` whose names cio-fix cannot read.
# No identifier is `*`.
UNREAD_ALL = ("*",)
# The Flask app class, and the proxy of the app that handles the request,
# whose attributes are those of one of the project's Flask apps.
FLASK_APP_CLASS = "flask.Flask"
FLASK_CURRENT_APP = "flask.current_app"
# How many assignments that copy a value (`ts = LAUNCH_MS`) are followed from
# one argument. CIO103 follows a millisecond value through as many names.
MAX_COPIES = 5


# Slots, because every process keeps one summary per module of the project.
@dataclass(slots=True)
class ModuleSummary:
    """The facts of one module that other files need, as plain data that can be cached."""

    module_name: str
    path: Path
    clients: dict[str, ClientType] = field(default_factory=dict)
    # The names in `clients` that functions set through `global`
    # (`global cio; cio = CustomerIO(...)` in an init function).
    global_clients: list[str] = field(default_factory=list)
    # Workspace keys of the module-level clients in `clients`, by name, in a
    # module that builds two or more (`us` and `eu` of other site ids), as
    # `customerio.construction_workspace` writes them. CIO201 reads them to
    # tell that two clients imported from one module send to two workspaces.
    client_workspaces: dict[str, str] = field(default_factory=dict)
    # Module-level names bound to a construction of a class that the module
    # imports from outside the SDKs (`cio = CustomerIO(...)` or `cio =
    # Tracker(...)` after `from compat import ...`): name -> the class's
    # qualified name. The project index resolves which of them are clients.
    imported_class_clients: dict[str, str] = field(default_factory=dict)
    # Clients held as attributes of module-level objects, by `name.attribute`
    # (`app.cio = CustomerIO(...)`, or `tracking = Tracking()` of a class
    # whose methods set `self.cio`): `FileIndex.held_client_type`.
    attribute_clients: dict[str, ClientType] = field(default_factory=dict)
    # Module-level names bound once to a Flask app (`app = Flask(__name__)`).
    # `flask.current_app.cio` in another module may be the client `app.cio`.
    flask_apps: list[str] = field(default_factory=list)
    # Clients that a function of the module stores on the Flask app that it
    # builds and returns (`create_app()`), by attribute: `{"cio": TRACK}`
    # for `app.cio = CustomerIO(...)`. `flask.current_app.cio` may be one.
    factory_app_clients: dict[str, ClientType] = field(default_factory=dict)
    # Module-level route decorator factories (`def json_post(path): return
    # app.route(path, methods=["POST"])`), which handlers of other modules
    # may import. Each maps to the qualified name of the app it calls when
    # the module imports that app, else to None (`handlers.route_factories`).
    route_factories: dict[str, str | None] = field(default_factory=dict)
    # The attributes in which a Flask app of the module (in `flask_apps`, or
    # one that a function returns) may store something other than one type
    # of client, by attribute. Each value lists the qualified names of the
    # imported classes whose instances the app stores there, and is empty
    # when the app stores only literals. None means that cio-fix cannot
    # tell what the app stores. `*` is every attribute. Such an attribute
    # of `flask.current_app` is not a known client.
    non_client_app_attributes: dict[str, tuple[str, ...] | None] = field(
        default_factory=dict
    )
    # The qualified names of imported names that decorate a function of the
    # module as a route factory would (`handlers.imported_route_decorators`).
    # The search for project files reads the modules that define them.
    route_decorators: list[str] = field(default_factory=list)
    # Clients bound to class variables or `self.attribute` of module-level
    # classes, by `Class.attribute` (`FileIndex.class_clients`): a subclass
    # in another module reads them through `self`.
    class_clients: dict[str, ClientType] = field(default_factory=dict)
    factories: dict[str, ClientType] = field(default_factory=dict)
    # Module-level type aliases that allow a client class, by name
    # (`CustomerIODep = Annotated[CustomerIO, Depends(get_cio)]`). A
    # parameter of another module annotated with one is a client.
    # NOTE: an alias built on an alias that this module imports
    # (`Dep = Optional[BaseDep]`) is not listed.
    type_alias_clients: dict[str, ClientType] = field(default_factory=dict)
    # Module-level names bound to a literal string or number.
    constants: dict[str, str | int | float] = field(default_factory=dict)
    # Module-level classes that hold string enum members or string class
    # attributes, through which other modules may send event names.
    classes: dict[str, ClassStrings] = field(default_factory=dict)
    # Module-level names imported from elsewhere, and aliases of SDK client
    # classes (`Client = CustomerIO`): local name -> qualified name.
    aliases: dict[str, str] = field(default_factory=dict)
    # The modules that this module imports with `*` (`from .client import *`
    # in a package's `__init__.py`), and, only when there are any, the
    # module-level names that it binds itself: another name imported from
    # this module may be one of those modules' names.
    star_imports: list[str] = field(default_factory=list)
    own_names: list[str] = field(default_factory=list)
    # The names of the module's `__all__`, which are all that a star import
    # of the module binds, or `UNREAD_ALL` when cio-fix cannot read them
    # (`__all__` built from other values, or changed after it is bound).
    # None when the module has no `__all__`.
    all_names: tuple[str, ...] | None = None
    # The aliases that another binding may replace (`FileIndex.rebound_names`),
    # such as a `try`/`except ImportError` fallback between two imports. The
    # alias is the last import, which is not the value read through it.
    rebound_aliases: list[str] = field(default_factory=list)
    # Module-level names that an `except ImportError:` sets to None when
    # their import fails (`optional_imports.optional_imports`): local name
    # -> qualified name. They are not in `aliases`.
    optional_imports: dict[str, str] = field(default_factory=dict)
    # The class aliases in `aliases` that are None when an import of this
    # module fails (`Client = CustomerIO` after `CustomerIO = None`), each
    # with the name of that import.
    optional_aliases: dict[str, str] = field(default_factory=dict)
    # Qualified names of imported constants passed as credentials, with the
    # credential role ("site_id", "track_api_key", ...).
    credential_uses: dict[str, str] = field(default_factory=dict)
    # Qualified names of imported values passed to a client or client call,
    # and of imported functions whose calls are sent as timestamps
    # (`created_at=now_ms()`): the files that define them are read too,
    # whatever they mention.
    imported_arguments: set[str] = field(default_factory=set)
    # Environment variable names this module reads, and the names of its
    # credential settings (`CUSTOMERIO_API_KEY = ...`), which become
    # environment variables of the same name once fixed.
    env_reads: list[str] = field(default_factory=list)
    # Classes whose `__init__` builds a client: files that instantiate one
    # may build a client per request without mentioning customerio.
    client_classes: list[str] = field(default_factory=list)
    # Properties of module-level classes that build a new client on every
    # read, as `Class.name`: a subclass in another file that reads one per
    # request builds a client per request.
    client_properties: list[str] = field(default_factory=list)
    # Static and class methods that return a new client on every call, as
    # `Class.name`: a file that calls one per request (`Clients.track()`)
    # builds a client per request without mentioning customerio.
    client_methods: list[str] = field(default_factory=list)
    # The properties that methods of module-level classes read through
    # `self` as a client call's receiver, by `Class.method`
    # (`codemods.instances.client_property_reads`): a file that runs
    # `Account(...).touch()` per request builds a client per request without
    # mentioning customerio. A property that the class inherits from another
    # module is listed too, and the project index checks whether it builds a
    # new client. Only methods with such reads are listed.
    client_property_reads: dict[str, list[str]] = field(default_factory=dict)
    # Module-level classes that no Customer.io client is an instance of
    # (`FileIndex.is_other_class`): an annotation with one of them overrides
    # `client-names` in the files that import it.
    other_classes: list[str] = field(default_factory=list)
    # Module-level dicts of clients (`CLIENTS = {"us": CustomerIO(...)}`) and
    # classes with a client class variable: files that import one may
    # change it, so they are read too.
    client_containers: list[str] = field(default_factory=list)
    # Qualified names of imported objects that this module may change
    # (`containers.changed_imports`).
    changed_imports: set[str] = field(default_factory=set)
    # Private functions and partials that may pass an event name on to a
    # client (`events.wrapper_candidates`): other modules' uses of them are
    # read, so the files that import this module are read too.
    wrapper_candidates: list[str] = field(default_factory=list)
    # The module-level pass-through wrappers (`wrappers.wrapper_signatures`):
    # calls of them, in this module too, are read as client calls.
    wrappers: dict[str, WrapperSignature] = field(default_factory=dict)
    # The module-level millisecond helpers
    # (`codemods.timestamps.millisecond_helpers`), each with whether it
    # returns an int: CIO103 reads `created_at=now_ms()` in a module that
    # imports one. Empty for most modules, so it is a tuple and not a dict.
    millisecond_helpers: tuple[tuple[str, bool], ...] = ()
    # Qualified names of the attributes of imported modules that this module
    # assigns (`ev.TEMPLATE = "order"` after `from app import ev`, also with
    # `setattr`): it rebinds that module's constant, so the value read there
    # is not known. `app.ev.*` means any attribute (`ANY_ATTRIBUTE`).
    assigned_attributes: list[str] = field(default_factory=list)
    # The module-level functions that make a Track API call, by name, each
    # with the qualified names of the imported objects whose Track API
    # methods it calls (`app.cio.cio` for `cio.track(...)` after `from
    # app.cio import cio`). The project index resolves whether those are
    # clients (`ProjectIndex.makes_track_call`). An empty list means that
    # the function calls a Track API client of this module. A function that
    # calls another of them by name makes its calls too.
    # NOTE: a client that an imported factory returns (`get_client().track()`)
    # is not found, nor is a call through a function of another module.
    track_callers: dict[str, list[str]] = field(default_factory=dict)
    # Each module-level class, with the attributes of `self` that its
    # methods change in place, by method name
    # (`method_changes.class_method_changes`): CIO304 reads them for an
    # object of the class that a handler of another module sends. `*`
    # (`method_changes.ANY_ATTRIBUTE`) means any attribute.
    method_changes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # The class methods of module-level classes that return a new instance
    # of the class they are called on (`method_changes.alternative_constructors`),
    # by class name: CIO304 reads `Order.from_form(...)` as `Order(...)`.
    alternative_constructors: dict[str, list[str]] = field(default_factory=dict)
    # True when this module may bind its own names through `globals()`
    # (`globals()["TEMPLATE"] = "order"`), so none of its constants is known.
    writes_globals: bool = False
    # Per-rule facts for project-level rules, keyed by rule code.
    rule_facts: dict[str, Any] = field(default_factory=dict)

    def records(self, name: str) -> bool:
        """Tell whether the summary contains a fact about a module-level name."""
        named: tuple[Container[str], ...] = (
            self.clients,
            self.imported_class_clients,
            self.factories,
            self.type_alias_clients,
            self.constants,
            self.classes,
            self.aliases,
            self.optional_imports,
            self.wrappers,
            self.track_callers,
            self.client_classes,
            self.other_classes,
            self.client_containers,
            self.route_factories,
        )
        if any(name in facts for facts in named):
            return True
        return any(helper == name for helper, _ in self.millisecond_helpers)


@dataclass(frozen=True)
class ReexportedClass:
    """A Customer.io client class that a module imports from another project module."""

    client: ClientType
    # The (module, name) of each project module's binding on the way to the
    # SDK, nearest first: (`compat`, `CustomerIO`).
    bindings: tuple[tuple[str, str], ...]
    # The module that sets the class to None when the SDK's import fails,
    # if one on the way does, and the name of that import there: the
    # binding's own name, or the name that a class alias there is set to
    # (`CustomerIO` for `Client = CustomerIO`).
    optional_in: ModuleSummary | None = None
    optional_import: str | None = None


class ProjectIndex:
    def __init__(
        self, summaries: Iterable[ModuleSummary], unread_files: Iterable[str] = ()
    ) -> None:
        self.summaries = list(summaries)
        # The files, as displayed, that mention Customer.io but could not be
        # read or parsed, test code aside: what they send is unknown.
        self.unread_files = tuple(unread_files)
        self._by_suffix: dict[str, list[ModuleSummary]] = {}
        for summary in self.summaries:
            parts = summary.module_name.split(".")
            for start in range(len(parts)):
                suffix = ".".join(parts[start:])
                self._by_suffix.setdefault(suffix, []).append(summary)
        self._resolved: dict[str, tuple[ModuleSummary, str] | None] = {}
        self._resolved_values: dict[str, tuple[ModuleSummary, str] | None] = {}
        self._localised: dict[tuple[str, str], str] = {}
        # The client type of each client import of a wrapper, by its module.
        self._imported_clients: dict[tuple[str, str], ClientType | None] = {}
        self._importers: dict[tuple[str, str], set[str]] | None = None
        self._changed: set[tuple[str, str]] | None = None
        self._assigned: set[tuple[str, str]] | None = None
        self._shared: dict[str, Any] = {}
        self._env_reads: tuple[str, ...] | None = None
        self.credential_uses: dict[tuple[str, str], str] = {}
        self.wrapper_names = _wrapper_names(self.summaries)
        self.client_class_names = _client_class_names(self.summaries)
        # The attribute names in any summary's `class_clients`: most `self.x`
        # reads are of another name and cost one set lookup.
        self.class_client_attributes = frozenset(
            key.rpartition(".")[2]
            for summary in self.summaries
            for key in summary.class_clients
        )
        self._client_classes: dict[str, ReexportedClass | None] = {}
        self._current_app_clients: dict[str, ClientType | None] = {}
        self._current_app_non_clients: dict[str, bool] = {}
        for summary in self.summaries:
            for qualified, role in summary.credential_uses.items():
                # `settings.CIO["SITE_ID"]` is recorded as `settings.CIO[SITE_ID]`.
                name, bracket, key = qualified.partition("[")
                target = self.resolve_name(name) or self.resolve_class_attribute(name)
                if target is not None:
                    used = target[1] + bracket + key
                    self.credential_uses[(target[0].module_name, used)] = role

    def resolve_class_attribute(
        self, qualified: str
    ) -> tuple[ModuleSummary, str] | None:
        """Resolve `conf.CioConfig.site_id` to `conf` and `CioConfig.site_id`."""
        owner, _, field_name = qualified.rpartition(".")
        if not owner.rpartition(".")[2][:1].isupper():
            return None
        target = self.resolve_name(owner)
        return (target[0], f"{target[1]}.{field_name}") if target else None

    def module(self, dotted: str) -> ModuleSummary | None:
        """Find a project module by its import name, also below a `src/` folder."""
        if dotted.startswith(DJANGO_SETTINGS):
            dotted = "settings" + dotted[len(DJANGO_SETTINGS) :]
        matches = self._by_suffix.get(dotted, [])
        exact = [summary for summary in matches if summary.module_name == dotted]
        if exact:
            # Two services of one repository may each have an `app.cio`;
            # which one an import means is then unknown.
            return exact[0] if len(exact) == 1 else None
        if len(matches) == 1:
            return matches[0]
        return None

    def resolve_name(
        self, qualified: str, depth: int = 0
    ) -> tuple[ModuleSummary, str] | None:
        """Follow `package.module.NAME` (and re-exports) to the module that binds NAME."""
        if depth == 0:
            # Rules resolve the same names from every file, and the result
            # depends only on the summaries' module names and aliases.
            if qualified not in self._resolved:
                self._resolved[qualified] = self._resolve(qualified, 0)
            return self._resolved[qualified]
        return self._resolve(qualified, depth)

    def importers(self, module_name: str, name: str) -> set[str]:
        """Return the modules that import `name` of `module_name`, directly or re-exported."""
        if self._importers is None:
            self._importers = {}
            for summary in self.summaries:
                for alias in summary.aliases.values():
                    target = self.resolve_name(alias)
                    if target is not None:
                        key = (target[0].module_name, target[1])
                        self._importers.setdefault(key, set()).add(summary.module_name)
        return self._importers.get((module_name, name), set())

    def changed_elsewhere(self, module_name: str, name: str) -> bool:
        """Tell whether a project module may change `name` of `module_name` through an import."""
        if self._changed is None:
            self._changed = set()
            for summary in self.summaries:
                for qualified in summary.changed_imports:
                    local = self.localise(qualified, summary.module_name)
                    target = self.resolve_name(local)
                    if target is not None:
                        self._changed.add((target[0].module_name, target[1]))
        return (module_name, name) in self._changed

    def rebound_constant(self, module_name: str, name: str) -> bool:
        """Tell whether code may rebind `name` of `module_name` after its module binds it.

        That is an assignment through the module object in a project module
        (`ev.TEMPLATE = "order"`, also `app.ev.TEMPLATE += "x"`,
        `setattr(ev, "TEMPLATE", "x")` or `setattr(ev, name, value)`, see
        `_assigned_attributes`), or a write through `globals()` in the
        module itself. `name` may also be an attribute of a module-level
        object, `customerio_ext.client` (`rebound_attribute`). An assignment
        to a name that the module imports (`compat.CustomerIO = Fake`)
        counts for that module's name as well as for the name it imports.
        """
        if self._assigned is None:
            self._assigned = set()
            for summary in self.summaries:
                for qualified in summary.assigned_attributes:
                    local = self.localise(qualified, summary.module_name)
                    target = self._assigned_target(local)
                    if target is not None:
                        self._assigned.add(target)
                    module_path, _, assigned = local.rpartition(".")
                    owner = self.module(module_path) if module_path else None
                    if owner is not None:
                        self._assigned.add((owner.module_name, assigned))
        if (module_name, name) in self._assigned or (
            module_name,
            ANY_ATTRIBUTE,
        ) in self._assigned:
            return True
        summary = self.module(module_name)
        return summary is not None and summary.writes_globals

    def _assigned_target(self, qualified: str) -> tuple[str, str] | None:
        """Return the module and the name, or `object.attribute`, that an assignment binds.

        `app.ev.TEMPLATE` gives `app.ev` and `TEMPLATE`. An attribute of a
        module-level object, `app.ext.customerio_ext.client`, gives `app.ext`
        and `customerio_ext.client`.
        """
        target = self.resolve_name(qualified)
        if target is not None:
            return target[0].module_name, target[1]
        owner, _, attribute = qualified.rpartition(".")
        target = self.resolve_name(owner) if owner else None
        if target is not None:
            return target[0].module_name, f"{target[1]}.{attribute}"
        return None

    def _resolve(
        self, qualified: str, depth: int, values: bool = False
    ) -> tuple[ModuleSummary, str] | None:
        if depth > MAX_ALIASES:
            return None
        if qualified.startswith(DJANGO_SETTINGS + "."):
            qualified = "settings." + qualified[len(DJANGO_SETTINGS) + 1 :]
        module_path, _, name = qualified.rpartition(".")
        if not module_path:
            return None
        summary = self.module(module_path)
        if summary is None:
            return None
        if name in summary.aliases:
            if values and name in summary.rebound_aliases:
                return None
            return self._resolve(summary.aliases[name], depth + 1, values)
        if _star_exported(summary, name):
            found = self._resolve_star_import(summary, name, depth, values)
            if found is not None:
                return found
        return summary, name

    def _resolve_star_import(
        self, summary: ModuleSummary, name: str, depth: int, values: bool
    ) -> tuple[ModuleSummary, str] | None:
        """Follow a name that a module may re-export with `*` to a module that binds it.

        The last star import wins, as it does at run time. A name that no
        summary of those modules records is not followed, and neither is
        one that a module with an `__all__` that cio-fix cannot read may
        give.
        """
        for module in reversed(summary.star_imports):
            local = self.localise(module, summary.module_name)
            exported = self.star_binds(local, name)
            if exported is None:
                return None
            if not exported:
                continue
            found = self._resolve(f"{local}.{name}", depth + 1, values)
            if found is not None and found[0].records(found[1]):
                return found
        return None

    def star_binds(self, module_path: str, name: str) -> bool | None:
        """Tell whether `from module_path import *` may bind `name`, None when unknown.

        A star import binds the names of the module's `__all__`, or without
        one, the public names that the module binds. It is unknown when
        cio-fix cannot read the `__all__`. A module outside the project
        binds nothing that cio-fix follows.
        NOTE: a project module that cio-fix did not read (one that never
        mentions Customer.io) counts as outside too, and so does a name
        that a read module binds but its summary does not record. When
        such a module comes later, the name it binds is taken from an
        earlier star import.
        """
        summary = self.module(module_path)
        if summary is None:
            return False
        if summary.all_names is None:
            return not name.startswith("_")
        if summary.all_names == UNREAD_ALL:
            return None
        return name in summary.all_names

    def localise(self, qualified: str, importer: str) -> str:
        """Return `qualified` as the importer's own part of the repository means it.

        In a repository of several services, `app.cio.tracker` imported by
        `services.web.app.views` is `services.web.app.cio.tracker` when that
        module exists, whatever `app.cio` other services have.
        """
        key = (qualified, importer)
        found = self._localised.get(key)
        if found is not None:
            return found
        found = qualified
        module = qualified.rpartition(".")[0]
        parts = importer.split(".")[:-1]
        while module and parts:
            prefix = ".".join(parts)
            candidate = f"{prefix}.{module}"
            exact = self._by_suffix.get(candidate, [])
            if any(summary.module_name == candidate for summary in exact):
                found = f"{prefix}.{qualified}"
                break
            parts.pop()
        self._localised[key] = found
        return found

    def client_type(self, qualified: str) -> ClientType | None:
        """Return the client type of a project module's module-level client, if it is one.

        A client that an init function sets through `global` is unknown
        when code also assigns it through the module object
        (`customerio_client.cio = ...`).
        """
        target = self.resolve_name(qualified)
        if target is None:
            return self._attribute_client_type(qualified)
        summary, name = target
        if name in summary.global_clients and self.rebound_constant(
            summary.module_name, name
        ):
            return None
        imported = summary.imported_class_clients.get(name)
        if imported is not None:
            # Modules are summarised before the index exists, which resolves
            # the class now.
            local = self.localise(imported, summary.module_name)
            found = self.client_class(local)
            return found.client if found is not None else None
        return summary.clients.get(name)

    def client_workspace(self, qualified: str) -> str | None:
        """Return the workspace key of a module-level client of a project module, if known.

        The key is the one `customerio.construction_workspace` gives, with
        the module's name after its kind (`read@app.clients:site_id ...`), so
        that only keys of clients built in one module compare equal or
        different.
        """
        target = self.resolve_name(qualified)
        if target is None:
            return None
        summary, name = target
        key = summary.client_workspaces.get(name)
        if key is None:
            return None
        kind, _, rest = key.partition(":")
        return f"{kind}@{summary.module_name}:{rest}"

    def _attribute_client_type(self, qualified: str) -> ClientType | None:
        """Return the client type of an attribute of a project module's module-level object.

        `shop.ext.customerio_ext.client` is one when `shop/ext.py` lists
        `customerio_ext.client` in its summary's `attribute_clients`. An
        assignment to the object or to the attribute through the module
        object (`ext.customerio_ext.client = ...`) leaves it unknown.
        """
        owner, _, attribute = qualified.rpartition(".")
        if owner == FLASK_CURRENT_APP:
            return self.current_app_client(attribute)
        target = self.resolve_name(owner) if owner else None
        if target is None:
            return None
        summary, name = target
        client = summary.attribute_clients.get(f"{name}.{attribute}")
        if client is None or self.rebound_attribute(
            summary.module_name, name, attribute
        ):
            return None
        return client

    def current_app_client(self, attribute: str) -> ClientType | None:
        """Return the client type of `flask.current_app.<attribute>`, if it is a client.

        `current_app` is the Flask app that handles the request. So the
        attribute is a client when a Flask app of the project sets it to a
        client: a module-level app (`app = Flask(__name__)`, then `app.cio =
        CustomerIO(...)`, `ModuleSummary.flask_apps`) or the app that a
        factory function builds and returns (`factory_app_clients`). Every
        app that sets the attribute must set it to a client of one type, so
        an app that may store anything else there
        (`ModuleSummary.non_client_app_attributes`) leaves it unknown. So
        does a module-level app that may be rebound, or whose attribute may
        be (`rebound_attribute`).
        NOTE: an app of a module that cio-fix does not read, because it
        mentions neither a Customer.io name nor `current_app`, is not seen.
        """
        if attribute not in self._current_app_clients:
            self._current_app_clients[attribute] = self._current_app_client(attribute)
        return self._current_app_clients[attribute]

    def _current_app_client(self, attribute: str) -> ClientType | None:
        found: set[ClientType] = set()
        for summary in self.summaries:
            non_clients = summary.non_client_app_attributes
            if attribute in non_clients or ANY_ATTRIBUTE in non_clients:
                return None
            factory_client = summary.factory_app_clients.get(attribute)
            if factory_client is not None:
                found.add(factory_client)
            for name in summary.flask_apps:
                client = summary.attribute_clients.get(f"{name}.{attribute}")
                if client is None:
                    continue
                if self.rebound_attribute(summary.module_name, name, attribute):
                    return None
                found.add(client)
        return found.pop() if len(found) == 1 else None

    def current_app_non_client(self, attribute: str) -> bool:
        """Tell whether `flask.current_app.<attribute>` is known not to be a client.

        A Flask app of the project sets the attribute, and every app that
        does sets it to a literal or to an instance of a class of another
        library (`app.analytics = Mixpanel(...)`). A class of a project
        module that cio-fix reads does not count, because its methods may
        send through a client. No module may assign the attribute through a
        module-level app (`rebound_attribute`).
        NOTE: an app handed to another function (`ext.init_app(app)`) is not
        followed, so a client that such a function sets is not seen.
        """
        if attribute not in self._current_app_non_clients:
            self._current_app_non_clients[attribute] = self._current_app_non_client(
                attribute
            )
        return self._current_app_non_clients[attribute]

    def _current_app_non_client(self, attribute: str) -> bool:
        found = False
        for summary in self.summaries:
            if attribute in summary.factory_app_clients:
                return False
            non_clients = summary.non_client_app_attributes
            if ANY_ATTRIBUTE in non_clients:
                return False
            if attribute in non_clients:
                classes = non_clients[attribute]
                if classes is None:
                    return False
                module_name = summary.module_name
                if not all(self._other_library(item, module_name) for item in classes):
                    return False
                found = True
            for name in summary.flask_apps:
                if f"{name}.{attribute}" in summary.attribute_clients:
                    return False
                if self.rebound_attribute(summary.module_name, name, attribute):
                    return False
        return found

    def _other_library(self, qualified: str, importer: str) -> bool:
        """Tell whether a name that `importer` imports comes from no module that cio-fix reads."""
        local = self.localise(qualified, importer)
        module_path = local.rpartition(".")[0]
        return self.module(module_path) is None and self.module(local) is None

    def flask_app(self, qualified: str) -> bool:
        """Tell whether a qualified name is a Flask app of a project module (`flask_apps`)."""
        target = self.resolve_name(qualified)
        return target is not None and target[1] in target[0].flask_apps

    def route_factory(self, qualified: str) -> bool:
        """Tell whether an imported name is a route decorator factory of a project module.

        The module lists it in `route_factories`. When that module imports
        the app that the factory calls, the app must be a Flask app of the
        project (`flask_app`).
        NOTE: a factory that calls an imported blueprint or FastAPI router
        is not found, because the summaries list only Flask apps. Neither
        is one whose app's module is more than three unread modules away
        from the handler's module (`pipeline.MAX_ROUTE_ROUNDS`), as when
        packages re-export both the factory and the app.
        """
        target = self.resolve_value(qualified)
        if target is None:
            return False
        summary, name = target
        if name not in summary.route_factories:
            return False
        app = summary.route_factories[name]
        if app is None:
            return True
        return self.flask_app(self.localise(app, summary.module_name))

    def rebound_attribute(self, module_name: str, name: str, attribute: str) -> bool:
        """Tell whether code may rebind the module-level object `name` or its `attribute`.

        As for `rebound_constant`, that is an assignment through the module
        object in a project module: `ext.customerio_ext = ...`,
        `ext.customerio_ext.client = ...`, `setattr(customerio_ext,
        "client", ...)` or `setattr(customerio_ext, name, value)` after
        `from shop.ext import customerio_ext`.
        """
        names = (name, f"{name}.{attribute}", f"{name}.{ANY_ATTRIBUTE}")
        return any(self.rebound_constant(module_name, each) for each in names)

    def is_pipelines_module(self, qualified: str) -> bool:
        """Tell whether an imported name is the Data Pipelines module, re-exported.

        That is a name of a project module which imports `customerio.analytics`
        (`from customerio import analytics`), directly or through other
        project modules. Each module on the way must be a project module of
        exactly that name, as for `wrapper`.
        """
        for _ in range(MAX_ALIASES):
            module_path, _, name = qualified.rpartition(".")
            summary = self.module(module_path) if module_path else None
            if (
                summary is None
                or summary.module_name != module_path
                or name not in summary.aliases
                or name in summary.rebound_aliases
            ):
                return False
            qualified = self.localise(summary.aliases[name], summary.module_name)
            if qualified == PIPELINES_MODULE:
                return True
        return False

    def wrapper(self, qualified: str, depth: int = 0) -> WrapperSignature | None:
        """Return the pass-through wrapper that an imported name is, following re-exports.

        Each module on the way must be the project module of exactly that
        name. A shorter name that only ends a project module's name, such
        as `analytics` for `app.analytics`, may be a package of another
        library (Segment's `analytics`), whose calls are not Customer.io's.
        A public name that a module does not bind may come from its star
        imports, the last one first.
        """
        if depth > MAX_ALIASES:
            return None
        for _ in range(MAX_ALIASES):
            module_path, _, name = qualified.rpartition(".")
            matches = [
                summary
                for summary in self._by_suffix.get(module_path, [])
                if summary.module_name == module_path
            ]
            if len(matches) != 1:
                return None
            summary = matches[0]
            if name not in summary.aliases:
                signature = summary.wrappers.get(name)
                if signature is None and _star_exported(summary, name):
                    return self._star_wrapper(summary, name, depth)
                return self.resolved_wrapper(summary, signature)
            if name in summary.rebound_aliases:
                return None
            qualified = self.localise(summary.aliases[name], summary.module_name)
        return None

    def _star_wrapper(
        self, summary: ModuleSummary, name: str, depth: int
    ) -> WrapperSignature | None:
        """Return the wrapper that a module's star imports give `name`, if one does."""
        for module in reversed(summary.star_imports):
            local = self.localise(f"{module}.{name}", summary.module_name)
            exported = self.star_binds(local.rpartition(".")[0], name)
            if exported is None:
                return None
            if not exported:
                continue
            found = self.wrapper(local, depth + 1)
            if found is not None:
                return found
        return None

    def client_class(self, qualified: str) -> ReexportedClass | None:
        """Return the SDK client class that a project module's name is, following re-exports.

        That is a name which a project module imports from an SDK
        (`from customerio import CustomerIO`, also optionally, with
        `CustomerIO = None` on ImportError), directly or through other
        project modules. Each module on the way must be the project module
        of exactly that name, as for `wrapper`. A name that another import
        may replace, or that code assigns through its module
        (`compat.CustomerIO = Fake`), is unknown.
        """
        if qualified not in self._client_classes:
            self._client_classes[qualified] = self._client_class(qualified)
        return self._client_classes[qualified]

    def _client_class(self, qualified: str) -> ReexportedClass | None:
        bindings: list[tuple[str, str]] = []
        optional_in = None
        optional_import = None
        for _ in range(MAX_ALIASES):
            if qualified in CONSTRUCTORS:
                break
            module_path, _, name = qualified.rpartition(".")
            summary = self._exact_module(module_path)
            if summary is None or self.rebound_constant(summary.module_name, name):
                return None
            if name in summary.aliases and name not in summary.rebound_aliases:
                imported = summary.aliases[name]
                optional_name = summary.optional_aliases.get(name)
            elif name in summary.optional_imports:
                imported = summary.optional_imports[name]
                optional_name = name
            else:
                return None
            if optional_name is not None and optional_in is None:
                optional_in = summary
                optional_import = optional_name
            bindings.append((summary.module_name, name))
            qualified = self.localise(imported, summary.module_name)
        client = CONSTRUCTORS.get(qualified)
        if client is None or not bindings:
            return None
        return ReexportedClass(client, tuple(bindings), optional_in, optional_import)

    def external_origin(self, qualified: str) -> str | None:
        """Return the name from outside the project that a project module's import re-exports.

        `app.errors.CioError` is `customerio.client_base.CustomerIOException`
        after `from customerio.client_base import CustomerIOException as
        CioError` in app/errors.py, directly or through other project
        modules. Each module on the way must be the project module of
        exactly that name, as for `wrapper`. None for a name that a project
        module binds itself, that another import may replace, or that code
        assigns through its module (`errors.CioError = ...`).
        NOTE: a module that cio-fix does not read, because it mentions no
        Customer.io name, has no summary, so a re-export through it is
        taken for a name from outside the project.
        """
        followed = False
        for _ in range(MAX_ALIASES):
            module_path, _, name = qualified.rpartition(".")
            summary = self._exact_module(module_path)
            if summary is None:
                return qualified if followed else None
            if self.rebound_constant(summary.module_name, name):
                return None
            if name not in summary.aliases or name in summary.rebound_aliases:
                return None
            qualified = self.localise(summary.aliases[name], summary.module_name)
            followed = True
        return None

    def _exact_module(self, module_path: str) -> ModuleSummary | None:
        """Return the one project module named exactly `module_path`, if there is one."""
        matches = [
            summary
            for summary in self._by_suffix.get(module_path, [])
            if summary.module_name == module_path
        ]
        return matches[0] if len(matches) == 1 else None

    def resolved_wrapper(
        self, summary: ModuleSummary, signature: WrapperSignature | None
    ) -> WrapperSignature | None:
        """Return a wrapper of `summary` with its client known, or None when it has none.

        A wrapper whose client its module imports (`client_import`) is a
        wrapper only when that import names a client of the project.
        """
        if signature is None or signature.client is not None:
            return signature
        assert signature.client_import is not None
        key = (summary.module_name, signature.client_import)
        if key not in self._imported_clients:
            local = self.localise(signature.client_import, summary.module_name)
            if self.is_pipelines_module(local):
                self._imported_clients[key] = PIPELINES
            else:
                self._imported_clients[key] = self.client_type(local)
        client = self._imported_clients[key]
        if client is None or signature.method not in METHODS_BY_API[client.api]:
            return None
        return dataclasses.replace(signature, client=client)

    def is_other_class(self, qualified: str) -> bool:
        """Tell whether an imported name is a class that no Customer.io client is an instance of.

        Re-exports of checked modules are followed. A class of a checked
        module counts when that module's summary lists it. A name of any
        other module counts too, unless it comes from a Customer.io SDK or
        `typing`: a project module that is not checked mentions no
        Customer.io name, so its classes neither build nor subclass a client.
        NOTE: a class of an unchecked module that subclasses a client class
        of another project module, or a `Protocol` there that a client
        matches, is taken for another class too.
        """
        for _ in range(MAX_ALIASES):
            module_path, _, name = qualified.rpartition(".")
            summary = self.module(module_path) if module_path else None
            if summary is None:
                break
            if name not in summary.aliases:
                return name in summary.other_classes
            qualified = summary.aliases[name]
        else:
            return False
        top = qualified.partition(".")[0]
        return top not in CLIENT_PACKAGES and top not in TYPING_MODULES

    def type_alias_client(self, qualified: str) -> ClientType | None:
        """Return the client class that a project module's type alias allows, if any.

        Re-exports are followed. A re-export that may be rebound, or an
        assignment to the alias through its module (`deps.CustomerIODep =
        ...`), leaves the alias unknown.
        """
        target = self.resolve_value(qualified)
        if target is None:
            return None
        summary, name = target
        if name not in summary.type_alias_clients:
            return None
        if self.rebound_constant(summary.module_name, name):
            return None
        return summary.type_alias_clients[name]

    def makes_track_call(self, qualified: str) -> bool:
        """Tell whether an imported name is a module-level function that makes a Track API call.

        The function must be in a summarised module of the project, which
        lists it in `track_callers`, and call a Track API client of its own
        module or one that it imports from another project module.
        """
        target = self.resolve_name(qualified)
        if target is None:
            return False
        summary, name = target
        receivers = summary.track_callers.get(name)
        if receivers is None:
            return False
        if not receivers:
            return True
        for receiver in receivers:
            client = self.client_type(self.localise(receiver, summary.module_name))
            if client is not None and client.api is Api.TRACK:
                return True
        return False

    def is_client_property(self, qualified: str) -> bool:
        """Tell whether `module.Class.name` is a property that builds a new client on every read."""
        target = self.resolve_class_attribute(qualified)
        return target is not None and target[1] in target[0].client_properties

    def client_properties_read(self, qualified: str) -> list[str]:
        """Return the client properties that the method `module.Class.name` reads through `self`.

        Each is the qualified name of a property that builds a new client
        on every read (`is_client_property`): `app.base.TrackedModel.cio`.
        """
        target = self.resolve_class_attribute(qualified)
        if target is None:
            return []
        summary, key = target
        found = []
        for read in summary.client_property_reads.get(key, ()):
            owner, _, name = read.rpartition(".")
            localised = f"{self.localise(owner, summary.module_name)}.{name}"
            if self.is_client_property(localised):
                found.append(localised)
        return found

    def class_client_type(self, qualified: str) -> ClientType | None:
        """Return the client type of `module.Class.name`, a class's attribute bound to a client.

        An assignment to the attribute through the class in another module
        (`tracking.TrackingMixin.cio = ...`) leaves it unknown.
        """
        target = self.resolve_class_attribute(qualified)
        if target is None:
            return None
        summary, key = target
        client = summary.class_clients.get(key)
        if client is None:
            return None
        name, _, attribute = key.partition(".")
        if self.rebound_attribute(summary.module_name, name, attribute):
            return None
        return client

    def factory_type(self, qualified: str) -> ClientType | None:
        target = self.resolve_name(qualified)
        if target is None:
            return None
        summary, name = target
        return summary.factories.get(name)

    def resolve_value(self, qualified: str) -> tuple[ModuleSummary, str] | None:
        """Follow `package.module.NAME` as `resolve_name` does, to read the value it binds.

        Returns None when a re-export on the way may be rebound (a
        `try`/`except ImportError` fallback between two imports), because
        its alias is only the last of its imports.
        """
        if qualified not in self._resolved_values:
            self._resolved_values[qualified] = self._resolve(qualified, 0, values=True)
        return self._resolved_values[qualified]

    def constant(self, qualified: str) -> str | int | float | None:
        target = self.resolve_value(qualified)
        if target is None:
            return None
        summary, name = target
        return summary.constants.get(name)

    def class_strings(self, qualified: str) -> ClassStrings | None:
        """Return the strings of a module-level class of the project, following re-exports."""
        target = self.resolve_value(qualified)
        if target is None:
            return None
        summary, name = target
        return summary.classes.get(name)

    def credential_role(self, module_name: str, name: str) -> str | None:
        """Return how another file uses this module's constant, if as a credential."""
        return self.credential_uses.get((module_name, name))

    def env_reads(self) -> tuple[str, ...]:
        """Return the environment variables every module reads, module by module."""
        if self._env_reads is None:
            names: list[str] = []
            for summary in self.summaries:
                names.extend(summary.env_reads)
            self._env_reads = tuple(names)
        return self._env_reads

    def shared(self, key: str, compute: Callable[[ProjectIndex], _Value]) -> _Value:
        """Return `compute(self)`, computed once per project index for every file.

        A rule's `check` uses it for facts built from every file's rule facts,
        which would otherwise be built again for each file. `collect` may use
        it only for facts built from the summaries, because the rule facts
        are not all in yet when it runs.
        """
        if key not in self._shared:
            self._shared[key] = compute(self)
        return self._shared[key]  # type: ignore[no-any-return]

    def rule_facts(self, code: str) -> list[tuple[ModuleSummary, Any]]:
        found = []
        for summary in self.summaries:
            if code in summary.rule_facts:
                found.append((summary, summary.rule_facts[code]))
        return found


# Constructor parameters that carry a credential, with the role of each.
CREDENTIAL_ROLES: dict[Api, dict[str, str]] = {
    Api.TRACK: {"site_id": "site_id", "api_key": "track_api_key"},
    Api.APP: {"key": "app_api_key"},
    Api.PIPELINES: {"write_key": "write_key"},
}


def _star_exported(summary: ModuleSummary, name: str) -> bool:
    """Tell whether a name of a module may come from one of its star imports.

    The module must not bind it itself. `ProjectIndex.star_binds` checks
    whether a star-imported module exports it.
    """
    return bool(summary.star_imports) and name not in summary.own_names


def _wrapper_names(summaries: list[ModuleSummary]) -> frozenset[str]:
    """Return the names that a pass-through wrapper may be called by.

    They are the wrappers' own names and the names that module-level
    imports bind them to (`from app.cio import track as send_event`), also
    through re-exports. Every call's last name is tested against them
    before the call is resolved, so most calls cost one set lookup.
    NOTE: a wrapper imported under another name inside a function is not
    found.
    """
    names = {name for summary in summaries for name in summary.wrappers}
    imports = [summary.aliases for summary in summaries]
    return _with_import_names(names, imports)


def _client_class_names(summaries: list[ModuleSummary]) -> frozenset[str]:
    """Return the names that a client class imported from a project module may have.

    They are the names that module-level imports bind an SDK client class
    to, also optionally, by a class alias (`Client = CustomerIO`), and
    through re-exports. Every constructor call whose class is not an SDK
    name is tested against them before it is resolved through the project,
    so most calls cost one set lookup.
    """
    imports = [
        table
        for summary in summaries
        for table in (summary.aliases, summary.optional_imports)
    ]
    names = {
        local
        for table in imports
        for local, qualified in table.items()
        if qualified in CONSTRUCTORS
    }
    return _with_import_names(names, imports)


def _with_import_names(
    names: set[str], imports: list[dict[str, str]]
) -> frozenset[str]:
    """Return `names` and the local names that imports bind them to, through re-exports.

    `imports` maps each local name to the qualified name it imports.
    """
    if not names:
        return frozenset()
    for _ in range(MAX_ALIASES):
        renamed = {
            local
            for table in imports
            for local, qualified in table.items()
            if qualified.rpartition(".")[2] in names and local not in names
        }
        if not renamed:
            break
        names |= renamed
    return frozenset(names)


def _client_workspaces(index: FileIndex, summary: ModuleSummary) -> dict[str, str]:
    """Return the workspace keys of the module's clients bound once, when it has two or more."""
    if len(summary.clients) < 2:
        return {}
    constructions = {
        id(construction.node): construction for construction in index.constructions
    }
    scope = index.module_scope
    keys = {}
    for name in summary.clients:
        if name in summary.global_clients or name in index.rebound_names:
            continue
        construction = constructions.get(id(scope.assignments[name][0].value))
        key = construction_workspace(construction) if construction else None
        if key is not None:
            keys[name] = key
    return keys if len(keys) >= 2 else {}


def summarise(index: FileIndex, path: Path) -> ModuleSummary:
    """Extract what other files of the project may need from one module."""
    summary = ModuleSummary(module_name=index.module_name, path=path)
    scope = index.module_scope
    for name, assignments in scope.assignments.items():
        if name in index.global_scopes:
            # Not a constant either, because functions may rebind it.
            client = index.global_client_type(name)
            if client is not None:
                summary.clients[name] = client
                summary.global_clients.append(name)
            continue
        if len(assignments) != 1 or assignments[0].value is None:
            continue
        value = assignments[0].value
        constant = literal_value(value)
        if constant is not None:
            if name not in index.rebound_names:
                summary.constants[name] = constant
            continue
        client = index.client_type(value, scope)
        if client is not None:
            summary.clients[name] = client
        elif name not in index.rebound_names:
            imported = _imported_class_construction(index, value, scope)
            if imported is not None:
                summary.imported_class_clients[name] = imported

    summary.client_workspaces = _client_workspaces(index, summary)

    for name in scope.assignments:
        client = index.type_alias_client(name)
        if client is not None:
            summary.type_alias_clients[name] = client

    for function in index.functions:
        if function.parent is None and function.class_info is None:
            client = index.factory_type(function)
            if client is not None:
                summary.factories[function.name] = client

    for class_info in index.classes:
        if class_info.scope is None or class_info.scope.parent is not scope:
            continue
        if index.is_other_class(cst.Name(class_info.name), scope):
            summary.other_classes.append(class_info.name)
    summary.classes = module_classes(index)

    for local, qualified in index.imports.items():
        # A class alias (`Client = CustomerIO`) passes the class on as an
        # import of it would.
        if local not in scope.assignments or local in index.class_aliases:
            summary.aliases[local] = qualified
            if local in index.rebound_names:
                summary.rebound_aliases.append(local)
    if index.star_imports:
        summary.star_imports = list(index.star_imports)
        summary.own_names = sorted(scope.assignments)
    if "__all__" in index.names:
        summary.all_names = _all_names(index)
    summary.attribute_clients = index.held_clients()
    summary.flask_apps = _flask_apps(index)
    apps = _flask_app_assignments(index, summary.flask_apps)
    summary.factory_app_clients = _factory_app_clients(index, apps)
    summary.non_client_app_attributes = _non_client_app_attributes(
        index, apps, summary.attribute_clients
    )
    summary.route_factories = route_factories(index)
    summary.route_decorators = sorted(imported_route_decorators(index))
    summary.method_changes = class_method_changes(index)
    summary.alternative_constructors = alternative_constructors(index)
    summary.class_clients = index.class_clients()
    summary.optional_imports = optional_imports(index)
    summary.optional_aliases = optional_aliases(index)
    summary.client_containers = index.client_containers()
    summary.wrapper_candidates = wrapper_candidates(index)
    summary.wrappers = wrapper_signatures(index, summary.imported_class_clients)
    summary.millisecond_helpers = millisecond_helpers(index)
    summary.changed_imports = changed_imports(index)
    summary.assigned_attributes = _assigned_attributes(index)
    summary.writes_globals = _writes_globals(index)

    # NOTE: a construction of a client class imported from another project
    # module (`from compat import CustomerIO`) is found only once the
    # project index exists. Its wrapper class, its credentials and the
    # modules of its arguments are not listed here. A module-level client
    # that it builds is listed apart (`imported_class_clients`).
    for construction in index.constructions:
        function = construction.site.function
        is_init = function is not None and function.name == "__init__"
        if is_init and function.parent is None and function.class_info is not None:
            summary.client_classes.append(function.class_info.name)

        roles = CREDENTIAL_ROLES[construction.client.api]
        for parameter, role in roles.items():
            argument = construction.arguments.get(parameter)
            if argument is None:
                continue
            qualified = _credential_reference(index, argument.value)
            if qualified is not None:
                summary.credential_uses[qualified] = role

    summary.client_properties, summary.client_methods = _client_methods(index)
    summary.client_property_reads = client_property_reads(
        index, summary.client_properties
    )
    summary.track_callers = _track_callers(index)
    for site in index.call_sites:
        func = site.node.func
        is_client_call = (
            (isinstance(func, cst.Attribute) and func.attr.value in ALL_METHOD_NAMES)
            # A call of one of the module's own pass-through wrappers.
            or (type(func) is cst.Name and func.value in summary.wrappers)
        ) or any(
            # A client method passed on to be called with these arguments: the
            # CIO304 helper, `executor.submit(cio.track, ...)`, a partial.
            isinstance(argument.value, cst.Attribute)
            and argument.value.attr.value in ALL_METHOD_NAMES
            for argument in site.node.args
        )
        if is_client_call or index.constructor_type(func) is not None:
            for argument in site.node.args:
                for value in _argument_values(index, argument.value, site.scope):
                    summary.imported_arguments.update(_imported_origins(index, value))
                    summary.imported_arguments.update(
                        _sent_object_classes(index, value, site.scope)
                    )
                # The module of an imported millisecond helper is read for
                # its summary, which lists the helper.
                for called in timestamp_functions(argument):
                    summary.imported_arguments.update(_imported_origins(index, called))

        name = env_variable_read(index, site.node)
        if name is not None:
            summary.env_reads.append(name)
    for subscript, _ in index.environ_subscripts:
        name = env_variable_read(index, subscript)
        if name is not None:
            summary.env_reads.append(name)
    return summary


def _all_names(index: FileIndex) -> tuple[str, ...] | None:
    """Return the names of a module's `__all__`, `UNREAD_ALL`, or None without one.

    Only one module-level assignment of a list or tuple of string literals
    is read, and `__all__` must appear nowhere else in the module. A second
    binding, `+=`, `.extend(...)` or `del` may change it, so its names are
    then `UNREAD_ALL`, as for any other use of the name. A module that names
    `__all__` only as an attribute of another object (`api.__all__`) and
    never binds it has no `__all__` of its own.
    """
    scope = index.module_scope
    bound = (
        "__all__" in scope.assignments
        or "__all__" in index.module_imports
        or "__all__" in index.global_names
    )
    if not bound:
        return None
    assignment = index.module_assignment("__all__")
    if len(index.names["__all__"]) != 1 or assignment is None:
        return UNREAD_ALL
    if type(assignment.statement) not in (cst.Assign, cst.AnnAssign):
        return UNREAD_ALL
    value = assignment.value
    if type(value) not in (cst.List, cst.Tuple):
        return UNREAD_ALL
    names = []
    for element in value.elements:
        name = literal_value(element.value)
        if type(element) is not cst.Element or not isinstance(name, str):
            return UNREAD_ALL
        names.append(name)
    return tuple(names)


def _client_methods(index: FileIndex) -> tuple[list[str], list[str]]:
    """Return the properties, then the static and class methods, that build a new client.

    They are `client_properties` and `client_methods` of the summary.
    """
    properties = []
    methods = []
    for construction in index.constructions:
        function = construction.site.function
        # Cheap test first: most constructions are in no method.
        if function is None or function.class_info is None:
            continue
        kind = method_factory_kind(index, function, construction)
        if kind == "property":
            properties.append(function.qualname)
        elif kind is not None:
            methods.append(function.qualname)
    return properties, methods


def _flask_apps(index: FileIndex) -> list[str]:
    """Return the module-level names that one plain assignment binds to `flask.Flask(...)`."""
    apps = []
    for name, assignments in index.module_scope.assignments.items():
        if len(assignments) != 1 or name in index.rebound_names:
            continue
        value = assignments[0].value
        if (
            type(value) is not cst.Call
            or type(assignments[0].statement) is not cst.Assign
        ):
            continue
        if index.qualified_name(value.func) == FLASK_APP_CLASS:
            apps.append(name)
    return sorted(apps)


def _flask_app_assignments(
    index: FileIndex, module_apps: list[str]
) -> list[tuple[Assignment, list[Assignment]]]:
    """Return each Flask app of the module with the assignments to its attributes.

    The apps are the module-level ones (`module_apps`) and those that a
    function builds and returns (`_returned_flask_app`). The assignments
    are `app.cio = ...` and `setattr(app, "cio", ...)` in any scope of the
    module where the name is the app. An attribute of an attribute of the
    app (`app.extensions.cio`) is not one of them.
    """
    names = set(module_apps)
    by_app: dict[int, tuple[Assignment, list[Assignment]]] = {}
    for assignment in [*index.attribute_assignments, *index.setattr_assignments()]:
        name, _, attribute = assignment.name.partition(".")
        if "." in attribute:
            continue
        # Cheap test first: many attributes are assigned at module level.
        # A lambda or comprehension may assign one through `setattr`.
        kind = assignment.scope.kind
        if kind == "module" or kind == "class":
            if name not in names:
                continue
        app = _flask_app_named(index, name, assignment.scope, names)
        if app is not None:
            by_app.setdefault(id(app), (app, []))[1].append(assignment)
    return list(by_app.values())


def _flask_app_named(
    index: FileIndex, name: str, scope: Scope, module_apps: set[str]
) -> Assignment | None:
    """Return the assignment that binds `name`, read in `scope`, to a Flask app of the module."""
    assignments = index.assignments_of(name, scope)
    if len(assignments) != 1:
        return None
    app = assignments[0]
    if app.scope is index.module_scope:
        return app if name in module_apps else None
    return app if _returned_flask_app(index, app) else None


def _factory_app_clients(
    index: FileIndex, apps: list[tuple[Assignment, list[Assignment]]]
) -> dict[str, ClientType]:
    """Return the clients that functions store on the Flask app they return, by attribute.

    The function binds a local name once to `flask.Flask(...)`, returns
    that name, and assigns the attribute (`app.cio = CustomerIO(...)`, or a
    name bound to a client), also through `setattr`. Every assignment of
    the attribute in every such function of the module must give a client
    of one type. A `setattr` whose attribute name is not a literal leaves
    every attribute of that app unknown.
    NOTE: an app handed to another function (`init_app(app)`) and an item
    of it (`app.extensions["cio"] = ...`) are not followed.
    """
    types: dict[str, set[ClientType | None]] = {}
    for app, assignments in apps:
        if app.scope is index.module_scope:
            continue
        attributes = {item.name.partition(".")[2] for item in assignments}
        if ANY_ATTRIBUTE in attributes:
            continue
        for item in assignments:
            client = None
            if item.value is not None:
                client = index.client_type(item.value, item.scope)
            types.setdefault(item.name.partition(".")[2], set()).add(client)
    return {
        attribute: found.pop()
        for attribute, found in sorted(types.items())
        if len(found) == 1 and None not in found
    }


def _non_client_app_attributes(
    index: FileIndex,
    apps: list[tuple[Assignment, list[Assignment]]],
    attribute_clients: dict[str, ClientType],
) -> dict[str, tuple[str, ...] | None]:
    """Return the attributes of the module's Flask apps that may not be clients of one type.

    They are `ModuleSummary.non_client_app_attributes`. A module-level app
    stores a client only where `attribute_clients` lists it, because
    `held_client_type` accepts only one assignment, at module level.
    """
    values: dict[str, set[ClientType | str | None]] = {}
    for app, assignments in apps:
        module_level = app.scope is index.module_scope
        for item in assignments:
            attribute = item.name.partition(".")[2]
            if module_level and f"{app.name}.{attribute}" in attribute_clients:
                continue
            value = _app_attribute_value(index, item)
            if module_level and isinstance(value, ClientType):
                value = None
            values.setdefault(attribute, set()).add(value)

    found: dict[str, tuple[str, ...] | None] = {}
    for attribute, kinds in sorted(values.items()):
        clients = {kind for kind in kinds if isinstance(kind, ClientType)}
        if attribute == ANY_ATTRIBUTE or None in kinds:
            found[attribute] = None
        elif clients:
            # One client type is `factory_app_clients`; more are unknown.
            if len(kinds) > 1:
                found[attribute] = None
        else:
            found[attribute] = tuple(sorted(kind for kind in kinds if kind))
    return found


def _app_attribute_value(
    index: FileIndex, assignment: Assignment
) -> ClientType | str | None:
    """Return what an assignment stores in an attribute of a Flask app, when cio-fix can tell.

    That is a client type, the qualified name of an imported class that it
    builds an instance of (`_imported_class_construction`), or "" for a
    literal string or number. None is anything else, the value `None` too,
    because an app that sets an attribute to None often sets the client
    later.
    """
    value = assignment.value
    if value is None:
        return None
    client = index.client_type(value, assignment.scope)
    if client is not None:
        return client
    if literal_value(value) is not None:
        return ""
    return _imported_class_construction(index, value, assignment.scope)


def _returned_flask_app(index: FileIndex, app: Assignment) -> bool:
    """Tell whether an assignment in a function binds `flask.Flask(...)` to a name it returns."""
    value = app.value
    statement = app.statement
    if type(value) is not cst.Call or type(statement) is not cst.Assign:
        return False
    if len(statement.targets) != 1:
        return False
    function = app.scope.function
    if function is None:
        return False
    if index.qualified_name(value.func, app.scope) != FLASK_APP_CLASS:
        return False
    return any(
        type(returned) is cst.Name and returned.value == app.name
        for returned in function.returns
    )


def _sent_object_classes(
    index: FileIndex, value: cst.BaseExpression, scope: Scope
) -> set[str]:
    """Return the imported classes of the object whose attribute or item a call sends.

    `data={"items": order.items}` after `order = Order(...)` gives the
    qualified name of `Order`, so that its module is read and CIO304 can
    tell what a later `order.close()` changes.
    """
    if type(value) is not cst.Attribute and type(value) is not cst.Subscript:
        return set()
    root = root_object_name(value)
    if root is None:
        return set()
    classes = set()
    for assignment in index.assignments_of(root, scope):
        for node, node_scope, constructor in class_expressions(index, assignment):
            if constructor:
                assert type(node) is cst.Attribute
                node = node.value
            qualified = index.qualified_name(node, node_scope)
            if qualified is not None:
                classes.add(qualified)
    return classes


def _track_callers(index: FileIndex) -> dict[str, list[str]]:
    """Return the module-level functions that make a Track API call (`track_callers`).

    The project index does not exist yet, so a receiver that the module
    imports is kept by its qualified name, to be resolved later.
    """
    # The receivers of each caller's calls; "" is a client of this module.
    callers: dict[str, set[str]] = {}
    # (caller, callee) for each call of a name in a module-level function.
    calls: list[tuple[str, str]] = []
    for site in index.call_sites:
        function = site.function
        if function is None or function.parent is not None or function.class_info:
            continue
        func = site.node.func
        if type(func) is cst.Name:
            calls.append((function.name, func.value))
            continue
        if type(func) is not cst.Attribute or func.attr.value not in TRACK_METHODS:
            continue
        receiver = _track_receiver(index, func.value, site.scope)
        if receiver is not None:
            callers.setdefault(function.name, set()).add(receiver)
    if not callers:
        return {}

    # A function that calls one of them makes its calls too.
    changed = True
    while changed:
        changed = False
        for caller, callee in calls:
            receivers = callers.get(callee)
            if receivers is None:
                continue
            known = callers.setdefault(caller, set())
            if not receivers <= known:
                known |= receivers
                changed = True
    return {
        name: [] if "" in receivers else sorted(receivers)
        for name, receivers in callers.items()
    }


def _track_receiver(
    index: FileIndex, receiver: cst.BaseExpression, scope: Scope
) -> str | None:
    """Return "" for a Track API client of this module, or an import that may be one."""
    client = index.client_type(receiver, scope)
    if client is not None:
        return "" if client.api is Api.TRACK else None
    qualified = index.qualified_name(receiver, scope)
    if qualified is None or qualified.partition(".")[0] in CLIENT_PACKAGES:
        return None
    return qualified


def _assigned_attributes(index: FileIndex) -> list[str]:
    """Return the qualified names of the imported objects' attributes that this module assigns.

    `ev.TEMPLATE = "x"` after `from app import ev` gives `app.ev.TEMPLATE`.
    `del ev.TEMPLATE`, a `for` or `with` target, `setattr(ev, "TEMPLATE",
    ...)`, `delattr` and a write through `vars(ev)` or `ev.__dict__` count
    too. So do such writes to `sys.modules[__name__]`, which give this
    module's own names. An attribute name that is not a literal gives
    `app.ev.*` (`ANY_ATTRIBUTE`): any attribute.
    """
    assigned = set()
    for local in index.imports:
        for node in index.names.get(local, []):
            used: cst.BaseExpression = node
            parent = index.parents.get(node)
            while type(parent) is cst.Attribute and parent.value is used:
                used = parent
                parent = index.parents.get(used)
            if used is node or not is_target(used, index.parents):
                continue
            qualified = index.qualified_name(used)
            if qualified is not None:
                assigned.add(qualified)
    for module, names in _namespace_writes(index):
        if names is None:
            assigned.add(f"{module}.{ANY_ATTRIBUTE}")
        else:
            assigned.update(f"{module}.{name}" for name in names)
    return sorted(assigned)


def _namespace_writes(
    index: FileIndex,
) -> list[tuple[str, set[str] | frozenset[str] | None]]:
    """Return the names that `setattr`, `delattr`, `vars(...)` and `__dict__` set, by object.

    Each object is the qualified name of what the file imports it as, or
    this module for `sys.modules[__name__]`. None means any name. Whether
    the object is a project module, `ProjectIndex.rebound_constant` decides.
    """
    writes: list[tuple[str, set[str] | frozenset[str] | None]] = []
    for function in ATTRIBUTE_WRITERS:
        for node in index.names.get(function, []):
            call = index.parents.get(node)
            if type(call) is not cst.Call or call.func is not node:
                continue
            if len(call.args) < 2 or any(argument.star for argument in call.args[:2]):
                continue
            module = index.qualified_name(call.args[0].value)
            if module is None:
                continue
            key = literal_value(call.args[1].value)
            writes.append((module, {key} if isinstance(key, str) else None))
    for node in index.names.get("vars", []):
        call = index.parents.get(node)
        if type(call) is not cst.Call or call.func is not node or len(call.args) != 1:
            continue
        module = index.qualified_name(call.args[0].value)
        if module is not None:
            writes.append((module, namespace_writes(index, call)))
    for node in index.names.get("__dict__", []):
        attribute = index.parents.get(node)
        if type(attribute) is not cst.Attribute or attribute.attr is not node:
            continue
        module = index.qualified_name(attribute.value)
        if module is not None:
            writes.append((module, namespace_writes(index, attribute)))
    own = own_module_writes(index)
    if own is None or own:
        writes.append((index.module_name, own))
    return writes


# The methods of the dict that `globals()` returns that only read it.
_GLOBALS_READERS = frozenset({"get", "keys", "values", "items", "copy"})


def _writes_globals(index: FileIndex) -> bool:
    """Tell whether the module may bind a name through `globals()` or `vars()`.

    Reading an item (`globals()["X"]`), a reading method such as `.get`, and
    `x in globals()` bind nothing. Any other use may: an item assignment,
    `.update`, or passing the dict on (`exec(code, globals())`).
    """
    for site in index.call_sites:
        call = site.node
        if not isinstance(call.func, cst.Name):
            continue
        if call.func.value != "globals" and not (
            call.func.value == "vars" and not call.args
        ):
            continue
        parent = index.parents.get(call)
        if type(parent) is cst.Subscript and parent.value is call:
            if is_target(parent, index.parents):
                return True
            continue
        if type(parent) is cst.Attribute and parent.value is call:
            if parent.attr.value not in _GLOBALS_READERS:
                return True
            continue
        if type(parent) is cst.ComparisonTarget and type(parent.operator) in (
            cst.In,
            cst.NotIn,
        ):
            continue
        return True
    return False


def _argument_values(
    index: FileIndex, value: cst.BaseExpression, scope: Scope
) -> list[cst.BaseExpression]:
    """Return an argument with the values built into it and the values it copies.

    CIO301 keeps an imported constant or enum member built into an event
    name (`f"{names.PREFIX}_{region}"`, also as `names.PREFIX.upper()` or
    `names.PREFIX[:4]`) in the name, and CIO301 to CIO303 read the names
    sent through an imported class (`Event.SHIPPED.value`), so the module
    that defines them is read. So are the values of a dict display, which
    CIO103 reads as attributes (`data={"launched_at": LAUNCH_MS}`), and the
    value of a name that one assignment binds (`ts = LAUNCH_MS`, `attrs =
    {...}` before `**attrs`), for at most MAX_COPIES such names. The
    walk reads no literal, because evaluating one leaves reference cycles
    while the garbage collector is off (see `cio_fix.pipeline`). It is a
    loop, because a long `+` chain nests one level per operand.
    """
    values = []
    pending = [(value, scope)]
    copies = 0
    while pending:
        current, current_scope = pending.pop()
        values.append(current)
        for part in _values_built_into(current):
            pending.append((part, current_scope))
        if copies == MAX_COPIES:
            continue
        copied = _copied_value(index, current, current_scope)
        if copied is not None:
            copies += 1
            pending.append(copied)
    return values


def _copied_value(
    index: FileIndex, value: cst.BaseExpression, scope: Scope
) -> tuple[cst.BaseExpression, Scope] | None:
    """Return the value, and its scope, that the one assignment of a name gives it."""
    if type(value) is not cst.Name:
        return None
    assignments = index.assignments_of(value.value, scope)
    if len(assignments) != 1:
        return None
    assignment = assignments[0]
    # A parameter's default does not tell what callers pass.
    if assignment.value is None or isinstance(assignment.statement, cst.Param):
        return None
    return assignment.value, assignment.scope


def _values_built_into(value: cst.BaseExpression) -> list[cst.BaseExpression]:
    """Return the values that one step of building a string, tuple or dict puts into it."""
    if isinstance(value, cst.FormattedString):
        return [
            part.expression
            for part in value.parts
            if isinstance(part, cst.FormattedStringExpression)
        ]
    if isinstance(value, cst.BinaryOperation) and isinstance(
        value.operator, (cst.Add, cst.Modulo)
    ):
        return [value.left, value.right]
    if isinstance(value, cst.Tuple):
        return [element.value for element in value.elements]
    if isinstance(value, cst.Call) and (
        isinstance(value.func, cst.Attribute)
        or isinstance(value.func, cst.Name)
        and value.func.value == "str"
    ):
        # `.format(...)`, a string method such as `names.PREFIX.upper()`,
        # or `str(names.PREFIX)`.
        arguments = [argument.value for argument in value.args]
        if isinstance(value.func, cst.Attribute):
            return [value.func.value, *arguments]
        return arguments
    if isinstance(value, cst.Subscript):
        return [value.value]
    if isinstance(value, cst.Attribute) and value.attr.value == "value":
        # `Event.SHIPPED.value`: the enum member, whose class is read.
        return [value.value]
    if isinstance(value, cst.Dict):
        # Attributes sent in `data=` or after `**`, keyed by attribute name.
        return [
            element.value
            for element in value.elements
            if isinstance(element, cst.DictElement)
        ]
    return []


def _imported_origins(index: FileIndex, value: cst.BaseExpression) -> set[str]:
    """Return the imported names that a value may refer to.

    A module-level name imported more than once (`try: from .v2 import
    Event` and `except ImportError: from .v1 import Event`) refers to each
    of its imports, whose modules CIO301 reads to tell every name it may
    send. A name that a star import may rebind refers to that module's name.
    """
    origins = set()
    qualified = index.qualified_name(value)
    if qualified is not None:
        origins.add(qualified)
    dotted = dotted_name(value)
    if dotted is not None:
        head, dot, rest = dotted.partition(".")
        for origin in index.module_import_origins.get(head, []):
            origins.add(origin + dot + rest)
        if head in index.star_rebound_names:
            origins.update(f"{module}.{dotted}" for module in index.star_imports)
    return origins


def _credential_reference(index: FileIndex, value: cst.BaseExpression) -> str | None:
    """Return `app.settings.KEY`, or `app.settings.CIO[SITE_ID]` for a dict entry."""
    if isinstance(value, cst.Subscript) and len(value.slice) == 1:
        element = value.slice[0].slice
        key = literal_value(element.value) if isinstance(element, cst.Index) else None
        owner = index.qualified_name(value.value)
        if isinstance(key, str) and owner is not None:
            return f"{owner}[{key}]"
        return None
    return index.qualified_name(value)


def imported_names(summaries: Iterable[ModuleSummary]) -> set[str]:
    """Return the qualified names of the values that the given modules pass to Customer.io."""
    names = set()
    for summary in summaries:
        for qualified in [*summary.credential_uses, *summary.imported_arguments]:
            names.add(qualified.partition("[")[0])
    return names


def imported_modules(summaries: Iterable[ModuleSummary]) -> set[str]:
    """Return the modules whose values the given modules pass to Customer.io."""
    return modules_defining(imported_names(summaries))


# The part of the prefilter pattern that a client class's own name matches.
_NAMES_CUSTOMER_IO = re.compile("customer_?io", re.IGNORECASE)


def prefilter_words(summaries: Iterable[ModuleSummary]) -> set[str]:
    """Return module names that an importer of a project client, alias or wrapper must mention.

    Modules that only hold constants give none: a file that sends them to
    Customer.io needs a client too, and following every importer of every
    constant pulls in a large part of an unrelated code base. A module-level
    object of an imported class gives one here only when the class has an
    SDK class's name. The search for project files adds the others whose
    class comes from a module that gives a word (`class_modules`).
    """
    words = set()
    for summary in summaries:
        if (
            summary.clients
            or _builds_sdk_named_class(summary)
            or summary.attribute_clients
            or summary.class_clients
            or summary.factories
            or summary.type_alias_clients
            or summary.client_classes
            or summary.client_properties
            or summary.client_methods
            or summary.client_property_reads
            or summary.client_containers
            or summary.wrapper_candidates
            or summary.wrappers
            or PIPELINES_MODULE in summary.aliases.values()
            or _imports_client_class(summary)
        ):
            words.add(summary.module_name.rsplit(".", 1)[-1])
        if _flask_app_has_client(summary):
            # A blueprint reads the client as `current_app.cio` without
            # importing the app's module.
            words.add("current_app")
    return words


def _flask_app_has_client(summary: ModuleSummary) -> bool:
    """Tell whether a Flask app of the module has a client attribute: `app.cio = CustomerIO()`."""
    if summary.factory_app_clients:
        return True
    apps = set(summary.flask_apps)
    return any(held.partition(".")[0] in apps for held in summary.attribute_clients)


# The names of the SDK's client classes that a project module may re-export,
# without the Data Pipelines `Client`, which many libraries have a class of.
_REEXPORTED_CLASS_NAMES = frozenset(
    name.rpartition(".")[2] for name in CONSTRUCTORS
) - {"Client"}


def _imported_class_construction(
    index: FileIndex, value: cst.BaseExpression, scope: Scope
) -> str | None:
    """Return the qualified class name of `Tracker(...)`, a class imported from outside the SDKs.

    Only a capitalised name counts, because classes are named so. Factory
    calls such as `logging.getLogger(...)` stay out of the summary.
    """
    if type(value) is not cst.Call:
        return None
    qualified = index.qualified_name(value.func, scope)
    if qualified is None or qualified in CONSTRUCTORS:
        return None
    if qualified.partition(".")[0] in CLIENT_PACKAGES:
        return None
    if not qualified.rpartition(".")[2][:1].isupper():
        return None
    return qualified


def _builds_sdk_named_class(summary: ModuleSummary) -> bool:
    """Tell whether a module-level object is built with an imported class of an SDK class's name.

    Such a module's name is a prefilter word on its own, because few
    modules import a class named `CustomerIO` from a project module.
    """
    return any(
        qualified.rpartition(".")[2] in _REEXPORTED_CLASS_NAMES
        for qualified in summary.imported_class_clients.values()
    )


def class_modules(summary: ModuleSummary) -> set[str]:
    """Return the modules of the imported classes that build the module's module-level objects.

    When one of them gives a prefilter word, the module may pass on a
    client built with a client class of another name (`cio = Tracker(...)`
    after `from compat import Tracker`), so its name is a word too.
    """
    return {
        qualified.rpartition(".")[0]
        for qualified in summary.imported_class_clients.values()
    }


def _imports_client_class(summary: ModuleSummary) -> bool:
    """Tell whether a module looks made to pass on an SDK client class under another name.

    A file that names the class `CustomerIO` (`from compat import
    CustomerIO`) passes the prefilter on its own, so only a name without it
    needs the module's name (`Tracker`, `APIClient`). The module must import
    the class optionally, under a name of its own, or be a package's
    `__init__.py`. A module that imports `APIClient` usually only uses it, and
    each module name is one more word that every file of the repository is
    searched for.
    NOTE: `from compat import APIClient`, where compat.py imports it plainly,
    is read only when the importer mentions Customer.io otherwise.
    """
    package = summary.path.name == "__init__.py"
    for imports in (summary.aliases, summary.optional_imports):
        optional = imports is summary.optional_imports
        for local, qualified in imports.items():
            if qualified not in CONSTRUCTORS or _NAMES_CUSTOMER_IO.search(local):
                continue
            renamed = local != qualified.rpartition(".")[2]
            if optional or renamed or package:
                return True
    return False

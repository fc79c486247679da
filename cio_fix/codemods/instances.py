"""Code that builds a client once per instance of a class, or on every call of a method.

CIO601 reads these facts. The default factory of a field (dataclasses'
and pydantic's `default_factory`, attrs' `factory`) and a call in
`__init__` run for every instance, so a class instantiated per request
runs them per request. A static method, class method or property that
returns a new client builds one on every call or read.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from cio_fix.customerio import (
    ALL_METHOD_NAMES,
    Assignment,
    CallSite,
    ClassInfo,
    Construction,
    FileIndex,
    FunctionInfo,
    Scope,
    all_parameters,
    dotted_name,
)
from cio_fix.handlers import loop_around, runs_per_request_or_item
from cio_fix.metadata import code_of
from cio_fix.method_changes import add_called_method_facts, bound_class
from cio_fix.rules import FileContext

# Decorators of a method that builds a client on every call or read.
CLASS_CALLABLE = ("staticmethod", "classmethod")
METHOD_FACTORY_DECORATORS = frozenset({*CLASS_CALLABLE, "property"})
DATACLASS_DECORATOR = "dataclasses.dataclass"
DATACLASS_FIELD = "dataclasses.field"
# The class libraries whose field functions take a default factory, by field
# function: (library, the keyword of the factory).
FIELD_FUNCTIONS = {
    DATACLASS_FIELD: ("dataclasses", "default_factory"),
    "pydantic.Field": ("pydantic", "default_factory"),
    "pydantic.fields.Field": ("pydantic", "default_factory"),
    "attr.ib": ("attrs", "factory"),
    "attr.attrib": ("attrs", "factory"),
    "attr.field": ("attrs", "factory"),
    "attrs.field": ("attrs", "factory"),
}
# The model base classes of pydantic 1.x and 2.x, whose `__init__` takes
# keyword arguments only.
PYDANTIC_MODELS = frozenset(
    {"pydantic.BaseModel", "pydantic.main.BaseModel", "pydantic.v1.BaseModel"}
)
# The class decorators of attrs (`attr` is its original namespace, `attrs`
# the one added in attrs 21.3) that write an `__init__` from the fields.
ATTRS_DECORATORS = frozenset(
    {
        "attr.s",
        "attr.attrs",
        "attr.define",
        "attr.mutable",
        "attr.frozen",
        "attr.dataclass",
        "attrs.define",
        "attrs.mutable",
        "attrs.frozen",
    }
)
# Keywords of a pydantic or attrs field that give its `__init__` argument
# another name, which cio-fix does not follow.
ALIAS_KEYWORDS = ("alias", "validation_alias")

# The arguments of a call as (positional count, keywords, any `*x` or `**x`).
PassedArguments = tuple[int, tuple[str, ...], bool]


@dataclass(frozen=True)
class DefaultFactory:
    """A field with a default factory in the body of a module-level class.

    The class is a dataclass (`field(default_factory=...)`), a pydantic
    model (`Field(default_factory=...)`) or an attrs class (`attr.ib(factory=...)`,
    `attrs.field(factory=...)`).
    """

    class_info: ClassInfo
    field: str
    # How many fields of the class body come before it in `__init__`, or
    # None when that is unknown (a base class may add fields in front of
    # them, or the library is not dataclasses).
    position: int | None
    # The factory as written: a name, an attribute or a lambda.
    value: cst.BaseExpression
    # "dataclasses", "pydantic" or "attrs".
    library: str
    # The field function's call: `field(...)`, `Field(...)`, `attr.ib(...)`.
    call: cst.Call

    @property
    def keyword(self) -> str:
        """The keyword argument of `__init__` that sets the field.

        attrs strips the leading underscores of a private field (`_cio`
        is set with `cio=`).
        """
        if self.library == "attrs":
            return self.field.lstrip("_")
        return self.field


def instantiated_name(index: FileIndex, func: cst.BaseExpression) -> str | None:
    """Return the qualified name a call instantiates or calls, for cross-file matching.

    A generic class given type arguments (`Tracker[int]`, of a PEP 695
    class or a `Generic[T]` one) names the class, because calling the
    alias creates an instance of the class.
    """
    if type(func) is cst.Subscript:
        func = func.value
        name = dotted_name(func)
        if name is None or not _spelled_as_class(name.rpartition(".")[2]):
            return None
    if isinstance(func, cst.Name) and func.value in index.module_scope.assignments:
        # A `def`, class or assignment of the module rebinds an imported name.
        return f"{index.module_name}.{func.value}" if index.module_name else None
    qualified = index.qualified_name(func)
    if qualified is not None:
        return qualified
    if isinstance(func, cst.Name) and index.module_name:
        for class_info in index.classes:
            if class_info.name == func.value:
                return f"{index.module_name}.{func.value}"
    return None


def _spelled_as_class(name: str) -> bool:
    """Tell whether a name is spelled in CapWords, as a class's: `Tracker`, not `EVENTS`.

    A subscripted call of any other name (`HANDLERS["paid"]()`, a CUDA
    kernel's `kernel[blocks, threads]()`) calls what the subscript returns.
    """
    return name[:1].isupper() and not name.isupper()


def class_method_target(
    context: FileContext, func: cst.BaseExpression, scope: Scope
) -> str | None:
    """Return `module.Class.method` for a call of a static or class method of this module.

    The call may name the class (`Service.client()`) or go through `cls`
    or `self` in a method of the class.
    """
    index = context.index
    if type(func) is not cst.Attribute or not index.module_name:
        return None
    names = context.shared("CIO601:class-callable-names", _class_callable_names)
    if func.attr.value not in names:
        return None
    method = index.class_callable_method(func, scope)
    if method is None or not _in_module_level_class(index, method):
        return None
    return f"{index.module_name}.{method.qualname}"


def _class_callable_names(context: FileContext) -> frozenset[str]:
    """Return the names of the module's static and class methods."""
    names = set()
    for function in context.index.functions:
        if function.class_info is None:
            continue
        if any(name in CLASS_CALLABLE for name in function.decorators):
            names.add(function.name)
    return frozenset(names)


def _in_module_level_class(index: FileIndex, function: FunctionInfo) -> bool:
    class_info = function.class_info
    return (
        function.parent is None
        and class_info is not None
        and class_info.scope is not None
        and class_info.scope.parent is index.module_scope
    )


def returns_construction(function: FunctionInfo, construction: Construction) -> bool:
    """Tell whether the only `return` of an uncached function gives the construction.

    The construction may be returned directly or through a local variable
    that only it binds.
    """
    if function.is_cached or len(function.returns) != 1:
        return False
    returned = function.returns[0]
    if returned is construction.node:
        return True
    if isinstance(returned, cst.Name) and function.scope is not None:
        assignments = function.scope.assignments.get(returned.value, [])
        if len(assignments) == 1 and assignments[0].value is construction.node:
            return True
    return False


def method_factory_kind(
    index: FileIndex, function: FunctionInfo | None, construction: Construction
) -> str | None:
    """Return "staticmethod", "classmethod" or "property" for a method that returns a new client.

    The method belongs to a module-level class, has that one decorator,
    which the module does not rebind, and returns the construction.
    """
    if function is None or not _in_module_level_class(index, function):
        return None
    if len(function.decorators) != 1:
        return None
    kind = function.decorators[0]
    if kind not in METHOD_FACTORY_DECORATORS:
        return None
    if not returns_construction(function, construction):
        return None
    if index.binds_anywhere(kind):
        return None
    return kind


def own_parameters(function: FunctionInfo, kind: str | None) -> list[cst.Param]:
    """Return the parameters a caller passes: all but `cls` or `self` of a method."""
    parameters = all_parameters(function.node.params)
    if kind in ("classmethod", "property"):
        return parameters[1:]
    return parameters


def passed_arguments(call: cst.Call) -> PassedArguments:
    positional = 0
    keywords = []
    starred = False
    for argument in call.args:
        if argument.star:
            starred = True
        elif argument.keyword is not None:
            keywords.append(argument.keyword.value)
        else:
            positional += 1
    return positional, tuple(keywords), starred


def fills_field(passed: PassedArguments, field: str, position: int | None) -> bool:
    """Tell whether a call of a dataclass may pass a value for `field`.

    Its `default_factory` then may not run.
    """
    positional, keywords, starred = passed
    if starred or field in keywords:
        return True
    if position is None:
        return positional > 0
    return positional > position


def default_factories(context: FileContext) -> list[DefaultFactory]:
    """Return the `default_factory` fields of the module's dataclasses, computed once."""
    return context.shared("CIO601:default-factories", _find_default_factories)


def _find_default_factories(context: FileContext) -> list[DefaultFactory]:
    index = context.index
    found = []
    for site in index.call_sites:
        scope = site.scope
        # Cheap tests first: most calls are in functions.
        if site.function is not None or scope.kind != "class":
            continue
        class_info = scope.class_info
        if class_info is None or scope.parent is not index.module_scope:
            continue
        library_keyword = FIELD_FUNCTIONS.get(
            index.qualified_name(site.node.func) or ""
        )
        if library_keyword is None:
            continue
        library, keyword = library_keyword
        value = _keyword_value(site.node, keyword)
        field = _field_name(site.statement, site.node, library)
        if value is None or field is None:
            continue
        if not _is_field_class(index, class_info, library):
            continue
        if any(_keyword_value(site.node, name) is not None for name in ALIAS_KEYWORDS):
            continue
        position = None
        if library == "dataclasses":
            position = _field_position(class_info, site.statement)
        found.append(
            DefaultFactory(class_info, field, position, value, library, site.node)
        )
    return found


def _keyword_value(call: cst.Call, keyword: str) -> cst.BaseExpression | None:
    for argument in call.args:
        if argument.keyword is not None and argument.keyword.value == keyword:
            return argument.value
    return None


def _field_name(
    statement: cst.CSTNode | None, call: cst.Call, library: str
) -> str | None:
    """Return the field that `statement` declares with `call` as its value: `cio: X = field()`.

    Only attrs takes a field without an annotation (`cio = attr.ib()`).
    """
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and library == "attrs":
        if len(small.targets) != 1 or small.value is not call:
            return None
        target = small.targets[0].target
    elif isinstance(small, cst.AnnAssign) and small.value is call:
        target = small.target
    else:
        return None
    if not isinstance(target, cst.Name):
        return None
    return target.value


def _is_field_class(index: FileIndex, class_info: ClassInfo, library: str) -> bool:
    """Tell whether a class turns the fields of `library` into `__init__` arguments.

    NOTE: a pydantic model counts only when it names a pydantic base class
    itself, not through a model of the project.
    """
    if library == "dataclasses":
        return _decorated_with(index, class_info, frozenset({DATACLASS_DECORATOR}))
    if library == "attrs":
        return _decorated_with(index, class_info, ATTRS_DECORATORS)
    for base in class_info.node.bases:
        if index.qualified_name(base.value) in PYDANTIC_MODELS:
            return True
    return False


def _decorated_with(
    index: FileIndex, class_info: ClassInfo, decorators: frozenset[str]
) -> bool:
    for decorator in class_info.node.decorators:
        expression = decorator.decorator
        if isinstance(expression, cst.Call):
            expression = expression.func
        if index.qualified_name(expression) in decorators:
            return True
    return False


def _field_position(class_info: ClassInfo, statement: cst.CSTNode) -> int | None:
    """Return how many fields of the class body `__init__` takes before `statement`.

    None when that is unknown: the class has bases, or a field before it
    may be left out of `__init__` (`field(init=False)`, a `ClassVar`).
    """
    if class_info.node.bases:
        return None
    body = class_info.node.body
    if not isinstance(body, cst.IndentedBlock):
        return None
    position = 0
    for line in body.body:
        if line is statement:
            return position
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        small = line.body[0]
        if not isinstance(small, cst.AnnAssign):
            continue
        if "ClassVar" in code_of(small.annotation.annotation) or _takes_init(
            small.value
        ):
            return None
        position += 1
    return None


def _takes_init(value: cst.BaseExpression | None) -> bool:
    """Tell whether a field's value is a call with an `init` argument, as `field(init=False)`."""
    return isinstance(value, cst.Call) and _keyword_value(value, "init") is not None


def per_instance_calls(
    context: FileContext,
) -> list[tuple[str | None, str, str | None, int | None]]:
    """Return the functions that the module's classes run once per instance.

    Each is (factory, class, field, field position) as `ClientPerRequestFacts`
    keeps it: a call without arguments in `__init__`, or the
    `default_factory` of a dataclass field. The factory is None where the
    field's factory builds a client itself (`CustomerIO`, `lambda:
    CustomerIO(...)`).
    """
    index = context.index
    if not index.module_name:
        return []
    found: list[tuple[str | None, str, str | None, int | None]] = []
    for site in index.call_sites:
        function = site.function
        if function is None or function.name != "__init__" or site.node.args:
            continue
        if not _in_module_level_class(index, function):
            continue
        assert function.class_info is not None
        target = instantiated_name(index, site.node.func)
        if target is not None:
            owner = f"{index.module_name}.{function.class_info.name}"
            found.append((target, owner, None, None))
    for default in default_factories(context):
        owner = f"{index.module_name}.{default.class_info.name}"
        factory = called_factory(index, default)
        target = None
        if factory is not None:
            target = instantiated_name(index, factory)
            if target is None:
                continue
        elif constructed_client(index, default) is None:
            continue
        found.append((target, owner, default.keyword, default.position))
    return found


def called_factory(
    index: FileIndex, default: DefaultFactory
) -> cst.BaseExpression | None:
    """Return the function a `default_factory` calls: `make_client` or `lambda: make_client()`."""
    value = default.value
    if isinstance(value, cst.Lambda):
        body = value.body
        if not isinstance(body, cst.Call) or body.args or all_parameters(value.params):
            return None
        value = body.func
    if not isinstance(value, (cst.Name, cst.Attribute)):
        return None
    if index.constructor_type(value) is not None:
        return None
    return value


def constructed_client(index: FileIndex, default: DefaultFactory) -> cst.CSTNode | None:
    """Return the client class or construction of a `default_factory` that builds a client.

    That is `CustomerIO` itself, or the body of `lambda: CustomerIO(...)`.
    """
    value = default.value
    if isinstance(value, cst.Lambda):
        body = value.body
        if isinstance(body, cst.Call) and index.constructor_type(body.func):
            return body
        return None
    if index.constructor_type(value) is not None:
        return value
    return None


def field_library_change(index: FileIndex, default: DefaultFactory) -> str | None:
    """Return why the client of a field's factory may be changed where cio-fix does not look.

    An attrs converter receives the client, and so does a pydantic
    validator, which may be any method of the model. A cached factory
    would hand every instance the client such code changed.
    """
    if default.library == "attrs":
        if _keyword_value(default.call, "converter") is not None:
            return (
                f"the attrs converter of `{default.class_info.name}.{default.field}`"
                " receives the client, and a shared client would keep any change"
                " it makes for every later request"
            )
        return None
    if default.library != "pydantic":
        return None
    for function in index.functions:
        if function.class_info is not default.class_info:
            continue
        for decorator in function.decorators:
            if decorator.rpartition(".")[2].endswith("validator"):
                return (
                    f"`{function.qualname}` is a pydantic validator, which may"
                    " change the client, and cio-fix does not read validators"
                )
    return None


@dataclass(frozen=True)
class AttributeRead:
    """A read of `owner.name` that a client call's receiver gives.

    The owner is a plain name: `self`, `cls`, a local variable or a parameter.
    """

    attribute: cst.Attribute
    # The assignment of the local variable that stores the read (`cio =
    # self.cio`), or None when the receiver is the read itself.
    assignment: Assignment | None

    @property
    def owner(self) -> cst.Name:
        """The name whose attribute is read, which `attribute_read` checks."""
        owner = self.attribute.value
        assert type(owner) is cst.Name
        return owner


def attribute_read(
    index: FileIndex, receiver: cst.BaseExpression, site: CallSite
) -> AttributeRead | None:
    """Return the `owner.name` read of a receiver, directly or through a local.

    A local variable counts when it has one assignment, an `=` statement
    in the call's own function that stores the read. `with self.cio as cio`
    does not count, because `__enter__` may return another object.
    """
    kind = type(receiver)
    if kind is cst.Attribute:
        attribute = receiver
        assignment = None
    elif kind is cst.Name and site.function is not None:
        assignments = index.assignments_of(receiver.value, site.scope)
        if len(assignments) != 1:
            return None
        assignment = assignments[0]
        if type(assignment.statement) not in (cst.Assign, cst.AnnAssign):
            return None
        if assignment.scope is not site.function.scope:
            return None
        attribute = assignment.value
        if type(attribute) is not cst.Attribute:
            return None
    else:
        return None
    if type(attribute.value) is not cst.Name:
        return None
    return AttributeRead(attribute, assignment)


def instance_class(
    index: FileIndex, owner: cst.BaseExpression, site: CallSite
) -> tuple[cst.BaseExpression, Scope] | None:
    """Return the class that a local variable or parameter is an instance of, with its scope.

    The name has one binding in the call's own function: `x = Class(...)`
    or a parameter annotated with one class (`x: Class`).
    """
    function = site.function
    if type(owner) is not cst.Name or function is None:
        return None
    assignments = index.assignments_of(owner.value, site.scope)
    if len(assignments) != 1:
        return None
    assignment = assignments[0]
    if type(assignment.statement) not in (cst.Assign, cst.AnnAssign, cst.Param):
        return None
    if assignment.scope is not function.scope:
        return None
    return bound_class(index, assignment)


def read_per_request(context: FileContext, read: AttributeRead, site: CallSite) -> bool:
    """Tell whether an attribute read runs per request or per item.

    The read runs in a function that does, or in a method that such a
    function or a loop of the module calls (`methods_run_per_request`). It
    also does in a loop: the loop around the call, or around the assignment
    of the local variable that stores it.
    """
    index = context.index
    function = site.function
    if runs_per_request_or_item(index, function):
        return True
    if function is not None and id(function.node) in methods_run_per_request(context):
        return True
    if read.assignment is not None:
        return read.assignment.in_loop
    return loop_around(site.node, list(context.ancestors(site.node))) is not None


def methods_run_per_request(context: FileContext) -> frozenset[int]:
    """Return the methods of the module's classes that run per request or per item, by node id.

    A request handler, a Celery task, a function called from either, or a
    loop calls the method through `self`, through an instance built in the
    call (`Account(...).touch()`), or through a local variable or
    parameter of the class (`instance_class`). So does a method that such a
    method calls.
    A method called from another module is not seen here. Such a caller
    finds the method's property reads in the summary instead
    (`ModuleSummary.client_property_reads`).
    """
    return context.shared("CIO601:methods-per-request", _find_methods_per_request)


def _find_methods_per_request(context: FileContext) -> frozenset[int]:
    index = context.index
    method_names = {
        function.name
        for function in index.functions
        if function.class_info is not None and function.parent is None
    }
    if not method_names:
        return frozenset()
    found: set[int] = set()
    pending: list[FunctionInfo] = []
    # The methods that each function calls, by the id of the caller's node,
    # for the calls that do not run per request on their own.
    callees: dict[int, list[FunctionInfo]] = {}
    for site in index.call_sites:
        func = site.node.func
        if type(func) is not cst.Attribute or func.attr.value not in method_names:
            continue
        class_info = _receiver_class(index, func.value, site)
        if class_info is None:
            continue
        method = index.class_method(class_info, func.attr.value)
        if method is None:
            continue
        if runs_per_request_or_item(index, site.function) or (
            loop_around(site.node, list(context.ancestors(site.node))) is not None
        ):
            pending.append(method)
        elif site.function is not None:
            callees.setdefault(id(site.function.node), []).append(method)
    while pending:
        method = pending.pop()
        if id(method.node) in found:
            continue
        found.add(id(method.node))
        pending.extend(callees.get(id(method.node), []))
    return frozenset(found)


def _receiver_class(
    index: FileIndex, receiver: cst.BaseExpression, site: CallSite
) -> ClassInfo | None:
    """Return the class of this module whose instance a method call's receiver is.

    The receiver is `self` in a method of the class, a new instance
    (`Account(...)`), or a local variable or parameter of the class.
    """
    kind = type(receiver)
    if kind is cst.Call:
        return index.module_class(receiver.func, site.scope)
    if kind is not cst.Name:
        return None
    if receiver.value == "self":
        method = site.function
        while method is not None and method.class_info is None:
            method = method.parent
        return method.class_info if method is not None else None
    bound = instance_class(index, receiver, site)
    if bound is None:
        return None
    return index.module_class(*bound)


def client_property_reads(
    index: FileIndex, client_properties: list[str]
) -> dict[str, list[str]]:
    """Return the client properties that methods of module-level classes read, by `Class.method`.

    A read is `self.name` as the receiver of a client method's call
    (`self.cio.identify(...)`, or `cio.identify(...)` after `cio =
    self.cio`). The property is one of `client_properties`, this module's
    properties that build a new client, or an attribute that only an
    imported base class binds (`FileIndex.inherited_attribute`), which the
    project index looks up. Each is a qualified name. A method that calls
    such a method through `self` reads what that one reads. A class
    inherits the methods of its bases of this module. Methods that read no
    such property are left out, so most modules give an empty dict.
    """
    reads: dict[int, set[str]] = {}
    properties = frozenset(client_properties)
    for site in index.call_sites:
        func = site.node.func
        if type(func) is not cst.Attribute or func.attr.value not in ALL_METHOD_NAMES:
            continue
        method = _method_of(site.function)
        if method is None or not _in_module_level_class(index, method):
            continue
        read = attribute_read(index, func.value, site)
        if read is None or read.owner.value != "self":
            continue
        target = _client_property_target(index, read, site, properties)
        if target is not None:
            reads.setdefault(id(method.node), set()).add(target)
    if not reads:
        return {}

    add_called_method_facts(index, reads)
    names = sorted(
        {function.name for function in index.functions if id(function.node) in reads}
    )
    found = {}
    for class_info in index.classes:
        if (
            class_info.scope is None
            or class_info.scope.parent is not index.module_scope
        ):
            continue
        for name in names:
            method = index.class_method(class_info, name)
            targets = reads.get(id(method.node)) if method is not None else None
            if targets:
                found[f"{class_info.name}.{name}"] = sorted(targets)
    return found


def _client_property_target(
    index: FileIndex, read: AttributeRead, site: CallSite, properties: frozenset[str]
) -> str | None:
    """Return the qualified name of the property that a `self.name` read may run.

    It is this module's property when it is one of `properties`, or the
    attribute of the imported base class that alone binds the name.
    """
    getter = index.read_property(read.attribute, site.scope)
    if getter is None:
        return index.inherited_attribute(read.attribute, site.scope)
    if getter.qualname not in properties or not index.module_name:
        return None
    return f"{index.module_name}.{getter.qualname}"


def _method_of(function: FunctionInfo | None) -> FunctionInfo | None:
    """Return the method that `function` is, or that defines it."""
    while function is not None and function.class_info is None:
        function = function.parent
    return function

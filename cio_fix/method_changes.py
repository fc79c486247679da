"""The attributes of its object that a method changes in place, which CIO304 reads.

A handler that sends `order.items` and then calls `order.close()`, whose
body is `self.items.clear()`, changes what a background call sends. The
same facts serve a class of the handler's module and, through the module
summary, a class imported from another project module.
"""

from __future__ import annotations

import libcst as cst

from cio_fix.codemods.bindings import object_root, root_object_name
from cio_fix.customerio import (
    PROPERTY_DECORATORS,
    Assignment,
    CallSite,
    ClassInfo,
    FileIndex,
    FunctionInfo,
    Scope,
    all_parameters,
    annotation_scope,
    dotted_name,
)
from cio_fix.reading_calls import only_reads

# Methods of lists, dicts and sets that change the object in place.
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "update",
        "setdefault",
        "pop",
        "popitem",
        "remove",
        "clear",
        "sort",
        "reverse",
        "add",
        "discard",
    }
)
# Decorators after which a method's first parameter is not its object.
NOT_INSTANCE_METHODS = frozenset({"staticmethod", "classmethod"})
# The attribute name that means every attribute of the object, because a
# method that changes `getattr(self, name)` in place may change any of them.
ANY_ATTRIBUTE = "*"


def changed_attributes_by_method(index: FileIndex) -> dict[int, frozenset[str]]:
    """Return the attributes of `self` that each method changes in place, by the id of its node.

    A change is an item or attribute assignment or `del` inside the
    attribute (`self.meta["closed"] = True`), or `+=`, `|=` or another
    augmented assignment on the attribute or inside it. That includes
    `self.count += 1`, which binds a new int, because the attribute's type
    is not known. A mutating method such as `clear()` or `append()` on the
    attribute or on a part of it (`self.items[0].update(...)`) is one too.
    Passing the attribute or a part of it to a call counts as well, unless
    the call only reads (`len(self.items)`) or runs a function of the
    module that leaves the parameter it binds unchanged
    (`_changed_parameters`). Binding the attribute anew (`self.items = []`)
    leaves the old object as it was, so it is no change.
    `getattr(self, "items")` is read as `self.items`. A change through
    `getattr(self, name)`, whose name is not a string literal, is recorded
    as `ANY_ATTRIBUTE`.

    Code in functions and lambdas inside the method counts for the method.
    So does a change through a local name of the method bound to the
    attribute or a part of it (`lines = self.items`, `for line in
    self.items:`), and every change of another method of the class that
    the method calls through `self` (`self._reset()`). A method that
    changes nothing is left out.
    """
    targets = list(index.in_place_targets)
    passed: list[tuple[cst.Arg, CallSite]] = []
    for site in index.call_sites:
        function = site.function
        if function is None:
            continue
        func = site.node.func
        if type(func) is cst.Attribute and func.attr.value in MUTATING_METHODS:
            targets.append((func.value, function))
        passed.extend(_arguments_passed(site))
    changed_parameters = _changed_parameters(targets, passed)
    functions = module_functions(index)
    for argument, site in passed:
        assert site.function is not None
        if _may_change_argument(index, site, argument, functions, changed_parameters):
            targets.append((argument.value, site.function))

    changed: dict[int, set[str]] = {}
    for target, function in targets:
        method = _method_of(function)
        if method is None:
            continue
        instance = _instance_name(method)
        if instance is None:
            continue
        attribute = _instance_attribute(target, instance)
        if attribute is None:
            attribute = _aliased_attribute(function, target, instance)
        if attribute is not None:
            changed.setdefault(id(method.node), set()).add(attribute)
    add_called_method_facts(index, changed)
    return {key: frozenset(attributes) for key, attributes in changed.items()}


def _aliased_attribute(
    function: FunctionInfo, target: cst.BaseExpression, instance: str
) -> str | None:
    """Return `items` for a target whose local name the function binds to `self.items`.

    The binding is `lines = self.items` (or a part of it) or the target of
    `for line in self.items:`.
    """
    name = root_object_name(target)
    if name is None or name == instance or function.scope is None:
        return None
    for assignment in function.scope.assignments.get(name, []):
        value = assignment.value
        if value is None and type(assignment.statement) is cst.For:
            value = assignment.statement.iter
        attribute = _instance_attribute(value, instance) if value is not None else None
        if attribute is not None:
            return attribute
    return None


def add_called_method_facts(index: FileIndex, facts: dict[int, set[str]]) -> None:
    """Add to each method's facts those of the methods of its class that it calls on `self`.

    `facts` maps the id of a method's node to its facts: the attributes
    that it changes, or the client properties that it reads. A call on
    `self` runs the method of the class, and `super().name()` or
    `super(Class, self).name()` runs the one of the first base class of the
    module that binds the name.
    """
    callees: dict[int, set[int]] = {}
    for site in index.call_sites:
        method = _method_of(site.function)
        if method is None:
            continue
        callee = _method_called_on_self(index, site, method)
        if callee is not None:
            callees.setdefault(id(method.node), set()).add(id(callee.node))
    # Each round passes facts one call further along a chain of methods.
    for _ in range(len(callees)):
        grew = False
        for key, called in callees.items():
            for callee in called:
                more = facts.get(callee, set()) - facts.get(key, set())
                if more:
                    facts.setdefault(key, set()).update(more)
                    grew = True
        if not grew:
            return


def _method_called_on_self(
    index: FileIndex, site: CallSite, method: FunctionInfo
) -> FunctionInfo | None:
    """Return the method of the module that a call in `method` runs on its object, if any.

    NOTE: a method that the class inherits from a base class of another
    module, or reaches through `super()` there, is not read, so its changes
    do not count. In a class with several bases, `super()` in a base's
    method may run a method of a later base of the object's class instead
    of the one read here.
    """
    func = site.node.func
    if type(func) is not cst.Attribute:
        return None
    instance = _instance_name(method)
    class_info = method.class_info
    assert class_info is not None
    receiver = func.value
    if type(receiver) is cst.Name:
        if receiver.value != instance:
            return None
        return index.class_method(class_info, func.attr.value)
    if type(receiver) is not cst.Call or not _is_super_call(
        index, receiver, site, method, instance
    ):
        return None
    return index.base_class_method(class_info, func.attr.value)


def _is_super_call(
    index: FileIndex,
    call: cst.Call,
    site: CallSite,
    method: FunctionInfo,
    instance: str | None,
) -> bool:
    """Tell whether `call` is `super()` or `super(Class, self)` in a method of `Class`.

    `super()` without arguments must be in the method itself, because in a
    function inside it the object is that function's first parameter.
    """
    if type(call.func) is not cst.Name or call.func.value != "super":
        return False
    if instance is None or index.may_shadow_builtin("super", site.scope):
        return False
    if not call.args:
        return site.function is method
    if len(call.args) != 2 or any(arg.keyword or arg.star for arg in call.args):
        return False
    owner, bound = (arg.value for arg in call.args)
    assert method.class_info is not None
    return (
        type(owner) is cst.Name
        and owner.value == method.class_info.name
        and type(bound) is cst.Name
        and bound.value == instance
    )


def _arguments_passed(site: CallSite) -> list[tuple[cst.Arg, CallSite]]:
    """Return the arguments of a call that start at a name or a `getattr()` call.

    The list is empty when the call only reads.
    """
    arguments = [
        (argument, site)
        for argument in site.node.args
        if _starts_at_object(argument.value)
    ]
    if not arguments or only_reads(site.node):
        return []
    return arguments


def _starts_at_object(value: cst.BaseExpression) -> bool:
    """Tell whether `value` is a name, a part of one, or `getattr(...)` or a part of it."""
    if root_object_name(value) is not None:
        return True
    return _getattr_call(object_root(value)) is not None


def _changed_parameters(
    targets: list[tuple[cst.BaseExpression, FunctionInfo]],
    passed: list[tuple[cst.Arg, CallSite]],
) -> dict[int, set[str]]:
    """Return the parameters that each module-level function may change, by the id of its node.

    A parameter counts when the function changes its object in place, as
    an attribute counts for a method, or passes it to a call that does not
    only read. Such a call is not read further, so it counts as a change.
    """
    changes = [*targets]
    for argument, site in passed:
        assert site.function is not None
        changes.append((argument.value, site.function))

    changed: dict[int, set[str]] = {}
    for target, function in changes:
        outermost = _outermost_function(function)
        if outermost.class_info is not None:
            continue
        name = root_object_name(target)
        parameters = all_parameters(outermost.node.params)
        if any(parameter.name.value == name for parameter in parameters):
            changed.setdefault(id(outermost.node), set()).add(name)
    return changed


def _may_change_argument(
    index: FileIndex,
    site: CallSite,
    argument: cst.Arg,
    functions: dict[int, FunctionInfo],
    changed_parameters: dict[int, set[str]],
) -> bool:
    """Tell whether a call may change what it is given as `argument`.

    Only a call of a function of the module is read: it changes the
    argument when it changes the parameter that the argument binds. A `*`
    or `**` argument, or one that binds no parameter by name or position,
    counts as a change.
    """
    function = module_function_called(index, site.node, site.scope, functions)
    if function is None or argument.star:
        return True
    if argument.keyword is not None:
        parameter = argument.keyword.value
    else:
        parameters = function.node.params
        positional = [*parameters.posonly_params, *parameters.params]
        # Positional arguments come before keyword ones, so the index is the position.
        position = next(
            i for i, given in enumerate(site.node.args) if given is argument
        )
        if position >= len(positional):
            return True
        parameter = positional[position].name.value
    return parameter in changed_parameters.get(id(function.node), ())


def module_functions(index: FileIndex) -> dict[int, FunctionInfo]:
    """Return the module-level functions, by the id of their node."""
    return {
        id(function.node): function
        for function in index.functions
        if function.parent is None and function.class_info is None
    }


def module_function_called(
    index: FileIndex,
    call: cst.Call,
    scope: Scope | None,
    functions: dict[int, FunctionInfo],
) -> FunctionInfo | None:
    """Return the function of the module that a call by its plain name runs, if it can only be that.

    `scope` is the call's scope and `functions` is `module_functions`. The
    module must bind the name once, by a `def` without decorators, which
    could replace the function, and no function or class around the call
    may bind the name for itself.
    """
    func = call.func
    if type(func) is not cst.Name:
        return None
    name = func.value
    assignment = index.module_assignment(name)
    if assignment is None or name in index.rebound_names:
        return None
    if name in index.module_scope.deletions:
        return None
    function = functions.get(id(assignment.statement))
    if function is None or function.node.decorators or scope is None:
        return None
    for candidate in scope.lookup_chain():
        if candidate.kind == "module":
            return function
        if name in candidate.assignments or name in candidate.imports:
            return None
    return None


def class_method_changes(index: FileIndex) -> dict[str, dict[str, list[str]]]:
    """Return what each method of each module-level class changes, by class and method name.

    Every module-level class is listed, also one whose methods change
    nothing, so that a reader can tell a class from another imported name.
    A method comes from the class or from its first base of the module
    that binds the name (`FileIndex.class_method`). The changes include
    the properties of the class that return a changed attribute
    (`add_property_changes`).
    """
    by_method = changed_attributes_by_method(index)
    changing = sorted(
        {
            function.name
            for function in index.functions
            if id(function.node) in by_method
        }
    )
    getters = property_getters(index)
    found: dict[str, dict[str, list[str]]] = {}
    for class_info in _module_level_classes(index):
        methods = found.setdefault(class_info.name, {})
        properties = None
        for name in changing:
            method = index.class_method(class_info, name)
            attributes = by_method.get(id(method.node)) if method is not None else None
            if not attributes:
                continue
            if properties is None:
                properties = property_attributes(index, class_info, getters)
            methods[name] = sorted(add_property_changes(attributes, properties))
    return found


def alternative_constructors(index: FileIndex) -> dict[str, list[str]]:
    """Return the class methods that build an instance of each module-level class, by class name.

    A class method counts when every `return` gives a new instance of the
    class it is called on (`constructed_class`). Classes without one are
    left out.
    """
    names = sorted(
        {
            function.name
            for function in index.functions
            if function.class_info is not None
            and function.parent is None
            and "classmethod" in function.decorators
        }
    )
    found: dict[str, list[str]] = {}
    if not names:
        return found
    for class_info in _module_level_classes(index):
        owner = cst.Name(class_info.name)
        for name in names:
            func = cst.Attribute(value=owner, attr=cst.Name(name))
            if constructed_class(index, func, index.module_scope) is class_info:
                found.setdefault(class_info.name, []).append(name)
    return found


def _module_level_classes(index: FileIndex) -> list[ClassInfo]:
    return [
        class_info
        for class_info in index.classes
        if class_info.scope is not None
        and class_info.scope.parent is index.module_scope
    ]


def constructed_class(
    index: FileIndex, func: cst.BaseExpression, scope: Scope
) -> ClassInfo | None:
    """Return the class of the module that `Class.name(...)` in `scope` builds an instance of.

    `name` is an alternative constructor: a class method of the class, or
    of a base class of the module, whose every `return` gives `cls(...)`,
    or `Class(...)` naming the class that it is called on.
    """
    if type(func) is not cst.Attribute:
        return None
    class_info = index.module_class(func.value, scope)
    if class_info is None:
        return None
    method = index.class_callable_method(func, scope)
    if method is None or "classmethod" not in method.decorators:
        return None
    if method.scope is None or not method.returns:
        return None
    first = _first_parameter(method)
    # `cls` is the class only while the method binds no other value to it.
    if first is None or len(method.scope.assignments.get(first, [])) != 1:
        return None
    for value in method.returns:
        if type(value) is not cst.Call or type(value.func) is not cst.Name:
            return None
        if value.func.value == first:
            continue
        if index.module_class(value.func, method.scope) is not class_info:
            return None
    return class_info


def property_getters(index: FileIndex) -> dict[int, FunctionInfo]:
    """Return the property getters of the module's classes, by the id of their node."""
    return {
        id(function.node): function
        for function in index.functions
        if function.class_info is not None
        and function.parent is None
        and PROPERTY_DECORATORS.intersection(function.decorators)
    }


def add_property_changes(
    attributes: frozenset[str], properties: dict[str, frozenset[str]]
) -> frozenset[str]:
    """Add the properties of a class that return what a change of `attributes` changes.

    `attributes` are those that a method of the class changes in place,
    and `properties` is the class's `property_attributes`. A property that
    returns a changed attribute, or a property that does, returns the
    changed object. One that returns `ANY_ATTRIBUTE` counts as changed by
    any change.
    """
    if not attributes or not properties or ANY_ATTRIBUTE in attributes:
        return attributes
    changed = set(attributes)
    # A property may return another property, so each round follows one more.
    for _ in range(len(properties)):
        grew = False
        for name, read in properties.items():
            if name in changed:
                continue
            if ANY_ATTRIBUTE in read or not read.isdisjoint(changed):
                changed.add(name)
                grew = True
        if not grew:
            break
    return frozenset(changed)


def property_attributes(
    index: FileIndex, class_info: ClassInfo, getters: dict[int, FunctionInfo]
) -> dict[str, frozenset[str]]:
    """Return the attributes of `self` that each property of a class returns, by property name.

    `getters` is `property_getters`. A property that returns an attribute
    of `self`, or a part of one (`return self._lines`), gives that
    attribute. One whose value cio-fix cannot follow gives `ANY_ATTRIBUTE`
    (`_property_attributes`).
    """
    found = {}
    for name in {getter.name for getter in getters.values()}:
        attributes = _property_attributes(index, class_info, name, getters)
        if attributes is not None:
            found[name] = attributes
    return found


def _property_attributes(
    index: FileIndex, class_info: ClassInfo, name: str, getters: dict[int, FunctionInfo]
) -> frozenset[str] | None:
    """Return the attributes of `self` that reading the property `name` of a class returns.

    None when `name` is not a property of the class. `ANY_ATTRIBUTE` when
    the getter returns anything else, such as a copy or a value computed
    from the object, or when the class binds the name otherwise than by
    the getter and its setter or deleter.
    """
    assignments = index.class_bindings(class_info, name)
    found = [
        getters[id(item.statement)]
        for item in assignments
        if id(item.statement) in getters
    ]
    if not found:
        return None
    unknown = frozenset({ANY_ATTRIBUTE})
    if len(found) != 1 or len(found[0].decorators) != 1:
        return unknown
    getter = found[0]
    for item in assignments:
        if item.statement is not getter.node and not _is_accessor(item, name):
            return unknown
    instance = _instance_name(getter)
    if instance is None or not getter.returns:
        return unknown
    attributes = set()
    for value in getter.returns:
        attribute = _instance_attribute(value, instance)
        if attribute is None:
            return unknown
        attributes.add(attribute)
    return frozenset(attributes)


def _is_accessor(assignment: Assignment, name: str) -> bool:
    """Tell whether an assignment is the `def` of the setter or deleter of the property `name`."""
    statement = assignment.statement
    if type(statement) is not cst.FunctionDef or not statement.decorators:
        return False
    accessors = (f"{name}.setter", f"{name}.deleter")
    return all(
        dotted_name(decorator.decorator) in accessors
        for decorator in statement.decorators
    )


def bound_class(
    index: FileIndex, assignment: Assignment
) -> tuple[cst.BaseExpression, Scope] | None:
    """Return the class that `x = Class(...)` or `x: Class` names, with its lookup scope.

    An annotation must allow exactly one type other than None.
    """
    statement = assignment.statement
    if isinstance(statement, cst.Param):
        if statement.annotation is None:
            return None
        scope = annotation_scope(assignment)
        types = index.annotation_types(statement.annotation.annotation, scope)
        return types[0] if len(types) == 1 else None
    value = assignment.value
    if type(value) is not cst.Call:
        return None
    return value.func, assignment.scope


def annotated_class(
    index: FileIndex, assignment: Assignment
) -> tuple[cst.BaseExpression, Scope] | None:
    """Return the class that the annotation of a variable names, with its lookup scope.

    The annotation is that of the assignment (`basket: Basket = ...`), or
    the one annotation without a value of the name in its scope
    (`basket: Basket` before `basket = ...`). It must allow exactly one
    type other than None.
    """
    statement = assignment.statement
    if type(statement) is cst.AnnAssign:
        annotation = statement.annotation
    else:
        declared = assignment.scope.annotations.get(assignment.name, [])
        if len(declared) != 1:
            return None
        declaration = declared[0].statement
        assert type(declaration) is cst.AnnAssign
        annotation = declaration.annotation
    types = index.annotation_types(annotation.annotation, assignment.scope)
    return types[0] if len(types) == 1 else None


def class_expressions(
    index: FileIndex, assignment: Assignment
) -> list[tuple[cst.BaseExpression, Scope, bool]]:
    """Return the expressions that may name the class of what an assignment binds, in order.

    Each comes with its lookup scope and whether it is a call of an
    alternative constructor. The forms are `x = Class(...)`, a parameter
    annotated `Class`, `x = Class.build(...)` where `build` is a class
    method that returns `cls(...)` (`constructed_class`), and the
    annotation of a variable (`x: Class = make()`, `annotated_class`).
    They are in the order to try them: the value goes before the
    annotation, which may name a base class.
    """
    found = []
    bound = bound_class(index, assignment)
    if bound is not None:
        found.append((*bound, False))
        value = assignment.value
        if type(bound[0]) is cst.Attribute and type(value) is cst.Call:
            if value.func is bound[0]:
                found.append((*bound, True))
    annotated = annotated_class(index, assignment)
    if annotated is not None:
        found.append((*annotated, False))
    return found


def _outermost_function(function: FunctionInfo) -> FunctionInfo:
    """Return the function or method that `function` is, or that defines it."""
    while function.parent is not None and function.class_info is None:
        function = function.parent
    return function


def _method_of(function: FunctionInfo | None) -> FunctionInfo | None:
    """Return the method that `function` is, or that defines it."""
    while function is not None and function.class_info is None:
        function = function.parent
    return function


def _instance_name(method: FunctionInfo) -> str | None:
    """Return the name of a method's first parameter, which is its object."""
    if NOT_INSTANCE_METHODS.intersection(method.decorators):
        return None
    return _first_parameter(method)


def _first_parameter(method: FunctionInfo) -> str | None:
    parameters = [*method.node.params.posonly_params, *method.node.params.params]
    return parameters[0].name.value if parameters else None


def _instance_attribute(target: cst.BaseExpression, instance: str) -> str | None:
    """Return `items` for `self.items`, `self.items[0]` or `self.items.get(key)`.

    `self` is `instance`. `getattr(self, "items")` counts as `self.items`,
    and `getattr(self, name)` gives `ANY_ATTRIBUTE`. None for the object
    itself, and for a copy (`self.items.copy()`), which is a new object.
    """
    root = object_root(target)
    if root is None:
        return None
    if type(root) is cst.Call:
        return _getattr_attribute(root, instance)
    if type(root) is not cst.Name or root.value != instance:
        return None
    node = target
    above: cst.BaseExpression | None = None
    while node is not root:
        above = node
        if type(node) is cst.Call:
            assert type(node.func) is cst.Attribute
            node = node.func.value
        else:
            assert type(node) is cst.Attribute or type(node) is cst.Subscript
            node = node.value
    if type(above) is not cst.Attribute:
        return None
    return above.attr.value


def _getattr_call(node: cst.BaseExpression | None) -> cst.Call | None:
    """Return `node` when it is `getattr(obj, name)` or `getattr(obj, name, default)`."""
    if type(node) is not cst.Call or type(node.func) is not cst.Name:
        return None
    if node.func.value != "getattr" or len(node.args) < 2:
        return None
    if any(argument.keyword is not None or argument.star for argument in node.args):
        return None
    return node


def literal_getattr(node: cst.BaseExpression) -> cst.BaseExpression:
    """Return `node` with a `getattr(obj, "name")` that it starts at written as `obj.name`.

    `getattr(self, "items").append` becomes `self.items.append`, so that
    code comparing paths of objects reads both alike. Any other node comes
    back as it is.
    """
    root = object_root(node)
    call = _getattr_call(root)
    if call is None:
        return node
    name = call.args[1].value
    if not isinstance(name, (cst.SimpleString, cst.ConcatenatedString)):
        return node
    value = name.evaluated_value
    if not isinstance(value, str) or not value.isidentifier():
        return node
    attribute = cst.Attribute(value=call.args[0].value, attr=cst.Name(value))
    return attribute if root is node else node.deep_replace(call, attribute)


def _getattr_attribute(node: cst.Call, instance: str) -> str | None:
    """Return `items` for `getattr(self, "items")`, whose object is `instance`.

    A name that is not a string literal gives `ANY_ATTRIBUTE`, because the
    call may return any attribute.
    """
    if _getattr_call(node) is None:
        return None
    owner = node.args[0].value
    if type(owner) is not cst.Name or owner.value != instance:
        return None
    name = node.args[1].value
    if isinstance(name, (cst.SimpleString, cst.ConcatenatedString)):
        value = name.evaluated_value
        if isinstance(value, str):
            return value
    return ANY_ATTRIBUTE

"""The rule interface, the rule registry and the per-file context rules read."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import libcst as cst
from libcst.metadata import CodeRange, ExpressionContext

from cio_fix.config import selected_codes, validate_selectors
from cio_fix.customerio import dotted_name
from cio_fix.edits import leading_imports_end
from cio_fix.engine import display_path
from cio_fix.metadata import code_of, name_context, parents, positions
from cio_fix.model import AddImport, Finding, Fix, FixSafety, Severity
from cio_fix.modules import is_test_file, path_in_project
from cio_fix.python_version import (
    DeclaredPython,
    InvalidSpecifier,
    PythonVersion,
    detect_python_version,
)
from cio_fix.sdk_version import SdkConflict, SdkVersion, detect_sdk_version
from cio_fix.walk import child_nodes

if TYPE_CHECKING:
    from cio_fix.config import Config
    from cio_fix.customerio import FileIndex, Scope
    from cio_fix.project import ModuleSummary, ProjectIndex
    from cio_fix.writer import Source

_REGISTRY: dict[str, type[Rule]] = {}
_Value = TypeVar("_Value")


# black's default line limit.
LINE_LENGTH = 88
# The modules whose `TYPE_CHECKING` is true for type checkers only.
TYPING_MODULES = frozenset({"typing", "typing_extensions"})


class Rule:
    """Base class of every rule. The docstring of a rule is its documentation.

    A rule docstring has ruff's five headings: What it does, Why is this
    bad?, Example, Use instead, Fix safety. `cio-fix --explain CODE` prints it.
    """

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    # One line for the rule table: what the rule finds.
    summary: ClassVar[str] = ""
    fix_safety: ClassVar[FixSafety | None] = None
    # Whether the rule's secrets are masked even when the rule is not selected.
    finds_secrets: ClassVar[bool] = False
    # Words that make a file worth parsing for this rule even when it never
    # mentions Customer.io, such as a webhook handler that names a metric.
    # A word matches also as a part of a snake_case name (`on_bounce`).
    prefilter_words: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code:
            _REGISTRY[cls.code] = cls

    def check(self, context: FileContext) -> Iterable[Finding]:
        """Yield the findings of this rule in one file."""
        return ()

    def collect(self, context: FileContext) -> Any:
        """Return plain data about one file for `check_project`, or None."""
        return None

    def check_project(self, project: ProjectIndex) -> Iterable[Finding]:
        """Yield findings about the project as a whole, once per project.

        These findings are reported only: they come after every file's fixes,
        so a fix attached to one is never applied. A rule whose project-wide
        finding has a fix reads `project.rule_facts` from `check` instead.
        """
        return ()

    def files_to_check_again(
        self, project: ProjectIndex, fixed_project: ProjectIndex
    ) -> set[str]:
        """Return the files whose findings of `check` the fixed code of other files may change.

        `--apply` runs `check` again in those files (paths as findings
        show them) against `fixed_project`, the project with the fixed code
        of the changed files. The findings that quote a line of a changed
        file are checked again anyway.
        """
        return set()

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @property
    def fix_label(self) -> str:
        return self.fix_safety.value if self.fix_safety is not None else "none"


def all_rules() -> dict[str, type[Rule]]:
    """Import every module of `cio_fix.codemods` and return the rules by code."""
    import cio_fix.codemods as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))


@dataclass(frozen=True)
class ImportedName:
    """The name that fixed code uses for a module or object, and the import it needs."""

    local: str
    # Empty when an import of the module already binds `local` in time.
    imports: tuple[AddImport, ...] = ()


def _ignore(message: str) -> None:
    pass


class FileContext:
    """One parsed file as the rules see it.

    Positions and parent links are computed on first use only, so a file
    without findings costs one parse and one index pass.
    """

    def __init__(
        self,
        path: Path,
        display_path: str,
        source: Source,
        module: cst.Module,
        index: FileIndex,
        project: ProjectIndex,
        config: Config,
        named_like_tests: bool | None = None,
    ) -> None:
        self.path = path
        self.display_path = display_path
        self.source = source
        self.module = module
        self.index = index
        self.project = project
        self.config = config
        # The line limit of the project's formatter, for the code that fixes
        # lay out themselves.
        self.line_length = LINE_LENGTH
        # The quote of the string literals that fixes write, when the
        # project's formatter or linter decides it; None leaves it to the
        # file's own literals.
        self.configured_quote: str | None = None
        # True when `ruff format` lays out the file, which treats directive
        # comments unlike black.
        self.ruff_layout = False
        # False while re-checking fixed code: only the fixes of those
        # findings are used, and positions cost a pass over the module.
        self.locates_findings = True
        self._positions: Any = None
        self._parents: Any = None
        self._shared: dict[str, Any] = {}
        # Whether the file's path names test code (`is_test_file`), or None
        # until first used.
        self._named_like_tests = named_like_tests
        # The node of each finding made here, by the finding's id: the fix
        # passes tell which findings are left by their nodes.
        self.finding_nodes: dict[int, cst.CSTNode] = {}
        # The code and node of each finding that a noqa comment in its
        # statement silences.
        self.silenced: list[tuple[str, cst.CSTNode]] = []
        # A rule asked for the project's Python version and none is declared,
        # so the fixes made from here on are written for DEFAULT_TARGET.
        self.python_assumed = False
        # The invalid Python version specifiers that the project declares
        # for the file, once a rule asked for the version: fixes are written
        # as if they were not there.
        self.invalid_python: tuple[InvalidSpecifier, ...] = ()

    def literal_quote(self) -> str:
        """Return the quote of the string literals that fixes write in this file."""
        return self.index.literals.quote(self.configured_quote)

    def release_caches(self) -> None:
        """Drop the positions, parent links and shared facts; they are rebuilt on use.

        A run keeps every file's context until the end, and these maps are
        most of its memory.
        """
        self._positions = None
        self._parents = None
        self._shared = {}
        self.finding_nodes = {}
        self.silenced = []
        self.index.parents = {}

    @property
    def named_like_tests(self) -> bool:
        """Tell whether the file's path names test code (`is_test_file`), once per file."""
        if self._named_like_tests is None:
            relative = path_in_project(self.path, self.display_path, self.config.root)
            self._named_like_tests = is_test_file(relative)
        return self._named_like_tests

    @property
    def in_test_code(self) -> bool:
        """Whether the file is test code: named like tests, and run only by tests.

        A test module that application code imports from
        (`from app.tests.helpers import send_order`) runs in production, so
        its keys, event names and attribute values are real ones.
        """
        if not self.named_like_tests:
            return False
        root = self.config.root
        imported = self.project.shared(
            f"test modules that application code imports in {root}",
            partial(test_modules_in_production, root=root),
        )
        return self.index.module_name not in imported

    def printed_code(self) -> str:
        """Return the module's code as libcst prints it.

        The positions pass prints the module, so after it this costs nothing.
        """
        if self._positions is not None:
            return self._positions.code  # type: ignore[no-any-return]
        return code_of(self.module)

    def position(self, node: cst.CSTNode) -> CodeRange:
        if self._positions is None:
            self._positions = positions(self.module)
        return self._positions[node]

    def message_line(self, node: cst.CSTNode) -> int:
        """Return the line of `node` for a message, or 0 while re-checking fixed code.

        The findings of a re-check are never shown, so their messages need
        no positions.
        """
        return self.position(node).start.line if self.locates_findings else 0

    def comes_before(self, first: cst.CSTNode, second: cst.CSTNode) -> bool:
        """Tell whether `first` starts before `second`, or contains it.

        Cheaper than comparing positions, which cost a pass that prints the
        module, and than ranking every node of the module: the nodes are
        compared where their ancestor chains meet. Neither node may be
        whitespace or punctuation.
        """
        parent_of = self.parent_map()
        # Each ancestor of `first` (and `first` itself), by id, with its
        # child on the way down to `first`.
        below: dict[int, cst.CSTNode | None] = {}
        child: cst.CSTNode | None = None
        current: cst.CSTNode | None = first
        while current is not None:
            below[id(current)] = child
            child, current = current, parent_of.get(current)
        child, current = None, second
        while current is not None and id(current) not in below:
            child, current = current, parent_of.get(current)
        if current is None:
            raise KeyError("the two nodes have no common ancestor in the parent map")
        if current is first:
            return child is not None
        if child is None:
            # `second` contains `first`.
            return False
        towards_first = below[id(current)]
        for sibling in child_nodes(current):
            if sibling is towards_first:
                return True
            if sibling is child:
                return False
        raise KeyError("a node of the parent map is not among its parent's children")

    def follows(self, node: cst.CSTNode, statement: cst.CSTNode) -> bool:
        """Tell whether `node` starts after the end of `statement`."""
        if not self.comes_before(statement, node):
            return False
        return all(parent is not statement for parent in self.ancestors(node))

    def indent_column(self, statement: cst.CSTNode) -> int:
        """Return the column a statement of its own line starts at: its indentation.

        A tab counts as four columns, as ruff counts it by default.
        """
        column = 0
        for parent in self.ancestors(statement):
            # A `match` indents its cases, and each case indents its block.
            if isinstance(parent, (cst.IndentedBlock, cst.Match)):
                indent = parent.indent
                unit = self.module.default_indent if indent is None else indent
                column += len(unit.expandtabs(4))
        return column

    def expression_context(self, node: cst.Name) -> ExpressionContext | None:
        """Return whether a name is read (LOAD), written (STORE) or deleted (DEL)."""
        return name_context(node, self.parent_map())

    @property
    def sdk(self) -> SdkVersion | None:
        """Return the customerio version for this file: configured, else declared nearest.

        The folders from the file's own up to the project root are searched,
        so each service of a repository gets the version it declares. None
        when no version is known, also when files pin different ones.
        """
        if self.config.sdk_version is not None:
            return SdkVersion(
                frozenset({self.config.sdk_version}), "sdk-version in [tool.cio-fix]"
            )
        declared = self._declared_sdk()
        return declared if isinstance(declared, SdkVersion) else None

    @property
    def sdk_majors(self) -> frozenset[int] | None:
        """Return the customerio majors the code may run with, or None when none is declared.

        A rule that behaves the same on each of them can decide:
        `customerio<3` allows 1.x and 2.x. With requirements files that
        disagree, the code may run with any major that one of them allows.
        """
        sdk = self.sdk
        if sdk is not None:
            return sdk.majors
        declared = self._declared_sdk()
        return declared.majors if isinstance(declared, SdkConflict) else None

    @property
    def sdk_conflict(self) -> str | None:
        """Describe the pins that allow more than one customerio major, if any do.

        For example "requirements.txt pins customerio 2.x and
        requirements-next.txt 3.x", or "requirements.txt allows customerio
        2.x or 3.x" for one pin. None when sdk-version is set and when no
        version is declared.
        """
        if self.config.sdk_version is not None:
            return None
        declared = self._declared_sdk()
        if isinstance(declared, SdkVersion):
            if len(declared.majors) == 1:
                return None
            return f"{declared.source} allows customerio {declared.label}"
        if declared is None:
            return None
        first, *others = declared.pins
        described = [f"{first.source} pins customerio {first.label}"]
        described += [f"{pin.source} {pin.label}" for pin in others]
        return ", ".join(described[:-1]) + " and " + described[-1]

    def _declared_sdk(self) -> SdkVersion | SdkConflict | None:
        folder = self.path.absolute().parent
        return self.project.shared(  # type: ignore[no-any-return]
            f"sdk-version:{folder}",
            lambda _: self._shown_from_cwd(
                # The run warns about an unreadable declaration file once,
                # cached or not (`pipeline`), so the rules do not.
                detect_sdk_version(self.config.declarations_root, folder, _ignore)
            ),
        )

    def _shown_from_cwd(
        self, sdk: SdkVersion | SdkConflict | None
    ) -> SdkVersion | SdkConflict | None:
        """Name the declaring files relative to the working directory, as findings are."""
        if sdk is None:
            return None
        if isinstance(sdk, SdkConflict):
            return SdkConflict(tuple(self._pin_from_cwd(pin) for pin in sdk.pins))
        return self._pin_from_cwd(sdk)

    def _pin_from_cwd(self, sdk: SdkVersion) -> SdkVersion:
        return SdkVersion(
            sdk.majors, display_path(self.config.declarations_root / sdk.source)
        )

    def older_python(self, version: tuple[int, int]) -> PythonVersion | None:
        """Return the lowest Python that fixed code must run on, if older than `version`.

        That Python is `target-version` in [tool.cio-fix], else the one
        declared nearest to the file. None when it is `version` or newer,
        and when none is known: fixes then write code for Python 3.9 and
        newer, as they do for a project that declares one, and
        `python_assumed` records that the run must warn about it.
        """
        declared = self._python()
        self.invalid_python = declared.invalid
        python = declared.version
        if python is None:
            self.python_assumed = True
            return None
        if python.minimum >= version:
            return None
        return python

    def declared_python(self) -> PythonVersion | None:
        """Return the lowest Python that the project declares, or None if it declares none.

        Unlike `older_python`, it does not mark the file's fixes as written
        for an assumed Python.
        """
        return self._python().version

    def python_too_old(self, version: tuple[int, int], feature: str) -> str | None:
        """Return why a fix is withheld, if the project declares a Python older than `version`.

        `feature` names the code of the fix that needs `version`. The reason
        reads "functools.lru_cache needs Python 3.2, and setup.py declares
        2.7". None when every Python that the project declares runs it.
        """
        python = self.older_python(version)
        if python is None:
            return None
        return (
            f"{feature} needs Python {version[0]}.{version[1]}, and {python.source}"
            f" declares {python.label}"
        )

    def _python(self) -> DeclaredPython:
        if self.config.target_version is not None:
            return DeclaredPython(
                PythonVersion(
                    self.config.target_version, "target-version in [tool.cio-fix]"
                )
            )
        folder = self.path.absolute().parent
        return self.project.shared(  # type: ignore[no-any-return]
            f"python-version:{folder}",
            lambda _: self._python_from_cwd(
                detect_python_version(self.config.declarations_root, folder)
            ),
        )

    def _python_from_cwd(self, declared: DeclaredPython) -> DeclaredPython:
        """Name the declaring files relative to the working directory, as findings are."""
        root = self.config.declarations_root
        python = declared.version
        if python is not None:
            python = PythonVersion(python.minimum, display_path(root / python.source))
        invalid = tuple(
            InvalidSpecifier(display_path(root / specifier.source), specifier.specifier)
            for specifier in declared.invalid
        )
        return DeclaredPython(python, invalid)

    def result_discarded(self, node: cst.Call) -> bool:
        """Tell whether a call is an expression statement, awaited or not."""
        parent = self.parent(node)
        if isinstance(parent, cst.Await):
            parent = self.parent(parent)
        return isinstance(parent, cst.Expr)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.parent_map().get(node)

    def parent_map(self) -> dict[cst.CSTNode, cst.CSTNode]:
        """Return the parent of every node of the module but the module itself."""
        if self._parents is None:
            # The index walk records them; an index built elsewhere may not.
            self._parents = (
                self.index.parents
                if self.index.module is self.module and self.index.parents
                else parents(self.module)
            )
        return self._parents

    def shared(self, key: str, compute: Callable[[FileContext], _Value]) -> _Value:
        """Return `compute(self)`, computed once per file and shared by rules under `key`."""
        if key not in self._shared:
            self._shared[key] = compute(self)
        return self._shared[key]  # type: ignore[no-any-return]

    def names_with_value(self, value: str) -> list[cst.Name]:
        """Return every `Name` node of the module that spells `value`, in source order."""
        return self.index.names.get(value, [])

    def module_names(self) -> set[str]:
        """Return every identifier that occurs in the module, in any scope."""
        return set(self.index.names)

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        current = self.parent(node)
        while current is not None:
            yield current
            current = self.parent(current)

    def finding(
        self,
        rule: Rule,
        node: cst.CSTNode,
        message: str,
        fix: Fix | None = None,
        secrets: Iterable[str] = (),
        severity: Severity = Severity.ERROR,
        fixed_message: str | None = None,
    ) -> Finding:
        """Return a finding of `rule` at `node`.

        `fixed_message` is the message a finding without a fix takes when
        another rule's fix makes it fixable.
        """
        line = column = end_line = end_column = 0
        if self.locates_findings:
            where = self.position(node)
            line, column = where.start.line, where.start.column + 1
            end_line, end_column = where.end.line, where.end.column + 1
        found = Finding(
            code=rule.code,
            name=rule.name,
            message=message,
            path=Path(self.display_path),
            line=line,
            column=column,
            end_line=end_line,
            end_column=end_column,
            severity=severity,
            fix=fix,
            secrets=tuple(secrets),
            fixed_message=fixed_message,
            python_assumed=self.python_assumed and fix is not None,
            invalid_python=self.invalid_python if fix is not None else (),
        )
        self.finding_nodes[id(found)] = node
        return found

    def import_at(
        self, node: cst.CSTNode, module: str, name: str | None = None
    ) -> ImportedName | None:
        """Return how code at `node` (replacing it or next to it) names `module` or `module.name`.

        That is the name it is already imported under at module level, if
        that import still binds it when the code runs, else the plain name
        with the import to add. When a module-level `del` unbinds the plain
        name before the code runs, the import to add binds an alias that the
        module never uses, such as `import os as _os`.

        A function or class around `node` whose only bindings of the name
        import the module itself (`import os` in the function) lends that
        name, with no import to add, when one of those imports is a
        statement of its body above the one that contains `node`.

        It is None when the plain name may mean something else at `node`.
        That is when a module-level assignment, a `global` statement or an
        import of something else binds it, or when a function or class
        around `node` binds it otherwise. An import of the module there
        that may not run first counts too, because the name is then local
        there and maybe unbound. Bindings in other functions and classes do
        not matter.
        """
        scopes = self._scopes_around(node)
        default, target = _plain_binding(module, name)
        importing = self._importing_scope(default, target, scopes)
        if importing is not None and self._imported_first(importing, default, node):
            return ImportedName(default)
        return self._import(module, name, self.import_time_index(node), scopes)

    def import_conflict(
        self, node: cst.CSTNode, module: str, name: str | None = None
    ) -> str | None:
        """Describe what else binds the name of `module` when `import_at` returns None.

        For example "the function around this code binds `os`", to tell the
        user why a fix that needs the import was not made.
        """
        default, target = _plain_binding(module, name)
        return self._other_binding(default, target, self._scopes_around(node))

    def import_in_helper(
        self, module: str, name: str | None = None, *, on_import: bool
    ) -> ImportedName | None:
        """Return how a helper that a fix inserts after the leading imports names `module`.

        As `import_at`, but the helper is module-level code, so only
        module-level bindings of the name count. `on_import` is True when
        the helper uses the name in statements that run while the module is
        imported, not only in the bodies of its functions. Then only an
        import among the leading imports runs early enough to count.
        """
        first_use = leading_imports_end(self.module) if on_import else None
        return self._import(module, name, first_use, [])

    def attribute_in_helper(
        self, module: str, name: str, *, on_import: bool
    ) -> ImportedName | None:
        """Return how a helper names `module.name`, imported as the module imports from `module`.

        An existing import of the name or of the module is used. Otherwise
        a module that imports other names with `from module import ...`
        and not `module` itself gets the name that way too (`getLogger`
        beside `from logging import INFO`), and any other module gets
        `import module`. `on_import` is as for `import_in_helper`.
        """
        direct = self.import_in_helper(module, name, on_import=on_import)
        if direct is not None and not direct.imports:
            return direct
        whole = self.import_in_helper(module, on_import=on_import)
        if whole is not None and not whole.imports:
            return ImportedName(f"{whole.local}.{name}")
        if direct is not None and self._imports_from(module):
            return direct
        if whole is None:
            return None
        return ImportedName(f"{whole.local}.{name}", whole.imports)

    def _imports_from(self, module: str) -> bool:
        """Tell whether a module-level `from module import ...` binds a name."""
        for origins in self.index.module_import_origins.values():
            if any(origin.rpartition(".")[0] == module for origin in origins):
                return True
        return False

    def type_checking_import(self, module: str, name: str) -> str | None:
        """Return the name that an import under `if TYPE_CHECKING:` binds to `module.name`.

        The `if` statement is at module level. Only type checkers run its
        imports, so the name is fit for annotations that Python never
        evaluates, such as quoted ones. None when there is no such import,
        or when the module binds or deletes the name otherwise.
        """
        qualified = f"{module}.{name}"
        index = self.index
        for local, origins in index.module_import_origins.items():
            if any(origin != qualified for origin in origins):
                continue
            if (
                local in index.module_scope.assignments
                or local in index.module_scope.deletions
                or local in index.global_names
            ):
                continue
            for statement in self._imports_binding(local):
                if self._under_type_checking(statement):
                    return local
        return None

    def _under_type_checking(self, statement: cst.Import | cst.ImportFrom) -> bool:
        """Tell whether an import is in the body of a module-level `if TYPE_CHECKING:`."""
        line = self.parent(statement)
        block = self.parent(line) if line is not None else None
        branch = self.parent(block) if block is not None else None
        if not isinstance(branch, cst.If) or branch.body is not block:
            return False
        if self.parent(branch) is not self.module:
            return False
        test = dotted_name(branch.test)
        if test is None:
            return False
        qualifier, _, last = test.rpartition(".")
        if last != "TYPE_CHECKING":
            return False
        if qualifier:
            return self.index.imports.get(qualifier) in TYPING_MODULES
        origin = self.index.imports.get(last, "")
        return origin.rpartition(".")[0] in TYPING_MODULES

    def existing_import(self, qualified: str, used_at: cst.CSTNode) -> str | None:
        """Return the module-level name that imports `qualified` for the code at `used_at`.

        The import must still bind the name when that code runs, and no
        function or class around the code may bind the name.
        """
        return self._existing_import(
            qualified, self.import_time_index(used_at), self._scopes_around(used_at)
        )

    def import_time_index(self, node: cst.CSTNode) -> int | None:
        """Return the index in the module body of the statement that runs `node` on import.

        None when `node` runs only when a function is called: it is in the
        body of a function or lambda. A class body, a decorator and a
        default value run while the module is imported.
        """
        child = node
        for parent in self.ancestors(node):
            if parent is self.module:
                break
            if isinstance(parent, (cst.FunctionDef, cst.Lambda)) and (
                child is parent.body
            ):
                return None
            child = parent
        for position, statement in enumerate(self.module.body):
            if statement is child:
                return position
        raise KeyError("the node is not in the module")

    def _scopes_around(self, node: cst.CSTNode) -> list[Scope]:
        """Return the scopes other than the module's searched for a name at `node`.

        Innermost first, as Python searches them, and without the module
        scope. A class body counts only for the code directly in it, not for
        its methods. A decorator, a default value or a base class runs in
        the scope around its function, lambda or class.
        """
        scope_of = self.shared("scopes-by-node", _scopes_by_node)
        found: list[Scope] = []
        child = node
        for parent in self.ancestors(node):
            scope = scope_of.get(parent)
            if scope is not None and (not found or scope.kind != "class"):
                in_body = not isinstance(
                    parent, (cst.FunctionDef, cst.ClassDef, cst.Lambda)
                )
                if in_body or child is parent.body:
                    found.append(scope)
            child = parent
        return found

    def imports_module_around(
        self, node: cst.CSTNode, module: str, name: str | None = None
    ) -> bool:
        """Tell whether the nearest function or class around `node` that binds the name imports it.

        The name is the one a plain import of `module` (or `module.name`)
        binds. Every binding of it in that scope must import the same thing.
        """
        default, target = _plain_binding(module, name)
        scopes = self._scopes_around(node)
        return self._importing_scope(default, target, scopes) is not None

    def _importing_scope(
        self, local: str, target: str, scopes: list[Scope]
    ) -> Scope | None:
        """Return the nearest of `scopes` that binds `local`, if only imports of `target` bind it.

        A `global` or `del` of the name leaves its value unknown, so then it
        returns None.
        """
        if local in self.index.global_names:
            return None
        scope = next((scope for scope in scopes if _binds_in([scope], local)), None)
        if scope is None or scope.kind not in ("function", "class"):
            return None
        if local in scope.assignments or local in scope.deletions:
            return None
        for statement in self._scope_imports(scope, local):
            for bound, origin in self.index.import_bindings(statement):
                if bound == local and origin != target:
                    return None
        return scope

    def _imported_first(self, scope: Scope, local: str, node: cst.CSTNode) -> bool:
        """Tell whether a statement of the body of `scope` imports `local` before `node` runs.

        The import must come before the statement of the body that contains
        `node`. An import inside a block (`if`, `try`, a loop) may not run,
        so it does not count.
        """
        body = scope.node.body
        if not isinstance(body, cst.IndentedBlock):
            return False
        position = self._position_in(body, node)
        if position is None:
            return False
        for statement in self._scope_imports(scope, local):
            line = self.parent(statement)
            if line is None or self.parent(line) is not body:
                continue
            imported_at = self._position_in(body, statement)
            if imported_at is not None and imported_at < position:
                return True
        return False

    def _scope_imports(
        self, scope: Scope, local: str
    ) -> list[cst.Import | cst.ImportFrom]:
        """Return the import statements that name `local` in `scope` itself, not in a nested one."""
        return [
            statement
            for statement in self._imports_binding(local)
            if self._scope_node_of(statement) is scope.node
        ]

    def _scope_node_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """Return the function, class or lambda whose body contains `node`, None at module level."""
        for parent in self.ancestors(node):
            if isinstance(parent, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return parent
        return None

    def _position_in(self, block: cst.IndentedBlock, node: cst.CSTNode) -> int | None:
        """Return the index of the statement of `block` that contains `node`, if one does."""
        child = node
        for parent in self.ancestors(node):
            if parent is block:
                break
            child = parent
        else:
            return None
        for position, statement in enumerate(block.body):
            if statement is child:
                return position
        return None

    def _import(
        self, module: str, name: str | None, first_use: int | None, scopes: list[Scope]
    ) -> ImportedName | None:
        """Return the name for `module` (or `module.name`) in code first run at `first_use`.

        `first_use` is the index of the first module-level statement that
        uses the name while the module is imported, or None when only
        function bodies use it, which run after the whole module ran.
        `scopes` are the function and class scopes around the code.
        """
        qualified = f"{module}.{name}" if name else module
        local = self._existing_import(qualified, first_use, scopes)
        if local is not None:
            return ImportedName(local)
        default, target = _plain_binding(module, name)
        if self._other_binding(default, target, scopes) is not None:
            return None
        add = AddImport(module, name, on_import=first_use is not None)
        if self._deleted_before(default, first_use):
            # An import of the plain name at the top would be deleted too,
            # and an existing one makes adding it a no-op.
            alias = unused_name(f"_{default}", self.module_names())
            return ImportedName(alias, (replace(add, asname=alias),))
        return ImportedName(default, (add,))

    def _existing_import(
        self, qualified: str, first_use: int | None, scopes: list[Scope]
    ) -> str | None:
        index = self.index
        for local, origin in index.imports.items():
            if origin != qualified or local in index.module_scope.assignments:
                continue
            if local in index.global_names or _binds_in(scopes, local):
                continue
            if self._bound_at(local, qualified, first_use):
                return local
        return None

    def _bound_at(self, local: str, qualified: str, end: int | None) -> bool:
        """Tell whether the module body above `end` leaves `local` bound to `qualified`.

        Only imports and `del` statements are followed here. An import in
        an `if` or `try` block may not run, so it binds nothing, but it may
        rebind the name when it imports something else. A `del` there may
        run, so it unbinds the name.
        """
        body = self.module.body
        # (statement index, index in its line, whether `local` is bound after)
        events: list[tuple[int, int, bool]] = []
        imports = [
            statement
            for statement in self._imports_binding(local)
            if self._in_module_scope(statement)
        ]
        deletions = self.index.module_scope.deletions.get(local, [])
        for statement in [*imports, *deletions]:
            binds = False
            if isinstance(statement, (cst.Import, cst.ImportFrom)):
                origins = [
                    origin
                    for bound, origin in self.index.import_bindings(statement)
                    if bound == local
                ]
                if not origins:
                    continue
                binds = origins[-1] == qualified
            position = self.import_time_index(statement)
            assert position is not None
            line = body[position]
            smalls = line.body if isinstance(line, cst.SimpleStatementLine) else []
            in_line = [small is statement for small in smalls]
            if any(in_line):
                events.append((position, in_line.index(True), binds))
            elif not binds:
                events.append((position, 0, False))
        bound = False
        for position, _, binds in sorted(events):
            if end is not None and position >= end:
                break
            bound = binds
        return bound

    def _deleted_before(self, local: str, end: int | None) -> bool:
        """Tell whether a module-level `del` of `local` runs above statement `end`."""
        for statement in self.index.module_scope.deletions.get(local, []):
            position = self.import_time_index(statement)
            if end is None or (position is not None and position < end):
                return True
        return False

    def _other_binding(
        self, local: str, target: str, scopes: list[Scope]
    ) -> str | None:
        """Describe how `local` may be bound to anything but `target` where it is used.

        That is a module-level binding of it to something else, a `global`
        statement that lets a function rebind it, or any binding in
        `scopes`, the function and class scopes around the code. None when
        nothing binds it otherwise.
        """
        index = self.index
        if local in index.global_names:
            return f"a function can rebind or delete `{local}` through `global {local}`"
        for scope in scopes:
            if not _binds_in([scope], local):
                continue
            if self._importing_scope(local, target, [scope]) is not None:
                return (
                    f"the {scope.kind} around this code imports `{local}` only after"
                    " this code or inside a block"
                )
            return f"the {scope.kind} around this code binds `{local}`"
        module_level = f"`{local}` is bound to something else at module level"
        if local in index.module_scope.assignments:
            return module_level
        for statement in self._imports_binding(local):
            if not self._in_module_scope(statement):
                continue
            for bound, origin in index.import_bindings(statement):
                if bound == local and origin != target:
                    return module_level
        return None

    def _in_module_scope(self, node: cst.CSTNode) -> bool:
        return not any(
            isinstance(parent, (cst.FunctionDef, cst.ClassDef, cst.Lambda))
            for parent in self.ancestors(node)
        )

    def _imports_binding(self, local: str) -> list[cst.Import | cst.ImportFrom]:
        """Return the import statements in which the identifier `local` occurs."""
        statements: dict[int, cst.Import | cst.ImportFrom] = {}
        for node in self.names_with_value(local):
            parent = self.parent(node)
            # `import a.b` and `import a as b` nest the name in the alias.
            while isinstance(parent, (cst.Attribute, cst.AsName, cst.ImportAlias)):
                parent = self.parent(parent)
            if isinstance(parent, (cst.Import, cst.ImportFrom)):
                statements[id(parent)] = parent
        return list(statements.values())

    @property
    def summary(self) -> ModuleSummary | None:
        return (
            self.project.module(self.index.module_name)
            if self.index.module_name
            else None
        )


def test_modules_in_production(project: ProjectIndex, root: Path) -> frozenset[str]:
    """Return the test modules that application code imports from, directly or through others.

    A module outside test code that imports from a test module runs it in
    production, and so runs what that test module imports from other test
    modules.
    NOTE: only module-level `from` imports and `import a.b` of the test
    module itself are followed.
    """
    test_modules = set()
    for summary in project.summaries:
        relative = path_in_project(summary.path, display_path(summary.path), root)
        if is_test_file(relative):
            test_modules.add(summary.module_name)
    if not test_modules:
        return frozenset()

    found: set[str] = set()
    importers = [
        summary
        for summary in project.summaries
        if summary.module_name not in test_modules
    ]
    while importers:
        newly_found = set()
        for summary in importers:
            for qualified in summary.aliases.values():
                # `app.tests.helpers` in `src/app/views.py` is `src.app.tests.helpers`.
                local = project.localise(qualified, summary.module_name)
                module = _test_module_of(local, test_modules)
                if module is not None and module not in found:
                    newly_found.add(module)
        found |= newly_found
        importers = [
            summary
            for summary in project.summaries
            if summary.module_name in newly_found
        ]
    return frozenset(found)


def _test_module_of(qualified: str, test_modules: set[str]) -> str | None:
    """Return the module of `test_modules` that `qualified` names or names a member of."""
    parts = qualified.split(".")
    for end in range(len(parts), 0, -1):
        module = ".".join(parts[:end])
        if module in test_modules:
            return module
    return None


def select_rules(select: Iterable[str], ignore: Iterable[str]) -> list[Rule]:
    registry = all_rules()
    select = tuple(selector.upper() for selector in select)
    ignore = tuple(selector.upper() for selector in ignore)
    validate_selectors(select, "select")
    validate_selectors(ignore, "ignore")
    return [registry[code]() for code in selected_codes(registry, select, ignore)]


def _scopes_by_node(context: FileContext) -> dict[cst.CSTNode, Scope]:
    """Return the function, class, lambda and comprehension scopes of a module by their nodes."""
    return {scope.node: scope for scope in context.index.inner_scopes()}


def _plain_binding(module: str, name: str | None) -> tuple[str, str]:
    """Return the name that a new import of `module` (or `module.name`) binds, and to what.

    `import concurrent.futures` binds `concurrent` to `concurrent`, and
    `from functools import cache` binds `cache` to `functools.cache`.
    """
    if name:
        return name, f"{module}.{name}"
    default = module.split(".")[0]
    return default, default


def unused_name(base: str, names_in_use: set[str]) -> str:
    """Return `base`, or `base_2`, `base_3`... when the module already uses it."""
    if base not in names_in_use:
        return base
    number = 2
    while f"{base}_{number}" in names_in_use:
        number += 1
    return f"{base}_{number}"


def _binds_in(scopes: Iterable[Scope], local: str) -> bool:
    """Tell whether any of `scopes` binds or deletes `local`, which makes it local there."""
    return any(
        local in scope.assignments or local in scope.imports or local in scope.deletions
        for scope in scopes
    )

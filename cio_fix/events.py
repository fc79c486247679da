"""Event names: how a name is built, its static form, its style, its attribute keys.

Shared by the event-name rules (CIO301, CIO302, CIO303), the SDK 3 rule
(CIO701) and `cio-fix --list-events`.
"""

from __future__ import annotations

import json
import keyword
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import libcst as cst
from rich.cells import cell_len

from cio_fix.chains import joined_strings
from cio_fix.customerio import (
    Api,
    Assignment,
    ClientCall,
    FileIndex,
    Scope,
    dotted_name,
    literal_value,
)
from cio_fix.metadata import code_of, quoted_code
from cio_fix.model import FileError, PartlyCheckedError, RunResult, one_line
from cio_fix.report import plural
from cio_fix.tlds import NON_ASCII_TLDS
from cio_fix.walk import find_all

if TYPE_CHECKING:
    from cio_fix.codemods.events import FileNames, NameFact
    from cio_fix.config import Config
    from cio_fix.discovery import Discovered
    from cio_fix.name_constants import FixedName
    from cio_fix.rules import FileContext

SNAKE_CASE = "snake_case"
DOTTED = "dotted"

# Any run of characters other than letters and digits, of any script,
# separates two words. Match these on `marks_as_letters(text)`, or a
# combining mark splits a word.
_SEPARATOR_RUN = re.compile(r"[\W_]+")
_WORD = r"[^\W_]+"
_SNAKE_NAME = re.compile(rf"^{_WORD}(?:_{_WORD})*$")
_DOTTED_NAME = re.compile(rf"^{_WORD}(?:_{_WORD})*(?:\.{_WORD}(?:_{_WORD})*)*$")

# Personal data written into a literal part of a name.
PHONE_PATTERN = re.compile(
    r"\+\d[\d ().-]{6,}\d|\(\d{3}\) ?\d{3}-\d{4}|(?<!\d)\d{3}-\d{3}-\d{4}(?!\d)"
)
# Attribute keys whose value is personal data: the key ends with one of these words.
PII_KEY_ENDINGS = ("email", "phone", "phone_number", "mobile", "address")
PERSON_NAME_ENDINGS = (
    "first_name",
    "last_name",
    "full_name",
    "username",
    "display_name",
)
PERSON_OWNERS = frozenset(
    {"user", "customer", "person", "member", "contact", "profile"}
)

# printf-style conversion specifiers: %s, %(key)s, %-5.2f, %%.
_PRINTF = re.compile(
    r"%(?P<key>\([^)]*\))?(?P<flags>[-#0 +]*)(?P<width>\*|\d+)?"
    r"(?:\.(?P<precision>\*|\d+))?[hlL]?(?P<type>[diouxXeEfFgGcrsa%])"
)

# A width or precision of four digits or more in a format spec: rendering a
# literal with it could build a text of any size, so such a literal stays a value.
_WIDE_SPEC = re.compile(r"\d{4}")


@dataclass
class NamePart:
    """A literal piece of an event name, or a value built into it."""

    text: str | None = None
    # The expression the value comes from (None for literal text).
    expression: cst.BaseExpression | None = None
    # The expression that produces the same text as the name did: the
    # value itself, or the value formatted with the name's format spec.
    value: cst.BaseExpression | None = None
    # For a value that the name formats without a spec or conversion, where
    # `value` is the value itself: the value formatted as the name formats
    # it (`f"{x}"`, `"{}".format(x)`, `"%s" % (x,)`), which gives the text
    # the name contained whatever the value's type.
    text_form: cst.BaseExpression | None = None
    # The attribute key when the expression cannot name it (personal data
    # found in a literal part).
    key: str | None = None
    # True for an operand of `+` or an item of `str.join`, whose text is
    # the value itself, where formatting would give the text of
    # `format(value)` or `str(value)`.
    operand: bool = False

    @property
    def is_value(self) -> bool:
        return self.expression is not None


@dataclass
class BuiltName:
    """An event name expression taken apart.

    `supported` is False when the form is recognised but cannot be taken
    apart (a `%(key)s` mapping of unknown keys, `*args` in `.format`): such
    a name is reported without a fix, and `parts` contains only the values
    that the name is known to contain, to look for personal data in.
    """

    node: cst.BaseExpression
    form: str
    parts: list[NamePart] = field(default_factory=list)
    supported: bool = True
    # Why an unsupported name cannot be taken apart, when its form is not the reason.
    reason: str | None = None

    @property
    def values(self) -> list[NamePart]:
        return [part for part in self.parts if part.is_value]

    @property
    def is_dynamic(self) -> bool:
        """Whether values are built into literal text (`f"{event}"` alone is only a variable)."""
        if not self.supported:
            return True
        has_text = any(part.text for part in self.parts)
        return bool(self.values) and has_text


# -- styles -------------------------------------------------------------------


def to_style(name: str, style: str) -> str:
    """Rewrite `name` in `style`: `OrderShipped` -> `order_shipped`.

    Words split at case changes and at separators; in the dotted style a
    run of separators that contains a dot stays a dot.
    """
    words = _split_camel_case(name)

    def separator(match: re.Match[str]) -> str:
        if style == DOTTED and "." in match.group(0):
            return "."
        return "_"

    joined = _replace_separators(words, separator)
    return joined.strip("._").lower()


def _replace_separators(text: str, replace: Callable[[re.Match[str]], str]) -> str:
    """Replace each run of separators in `text` with what `replace` returns for it."""
    pieces = []
    position = 0
    for match in _SEPARATOR_RUN.finditer(marks_as_letters(text)):
        pieces.append(text[position : match.start()])
        pieces.append(replace(match))
        position = match.end()
    pieces.append(text[position:])
    return "".join(pieces)


def _split_camel_case(name: str) -> str:
    """Put `_` where a word starts with a capital: `OrderShipped` -> `Order_Shipped`.

    A capital after a lowercase letter or a digit starts a word, and so
    does the last capital of a run followed by a lowercase letter
    (`HTTPRequest` -> `HTTP_Request`), in any script.
    """
    pieces = []
    for position, character in enumerate(name):
        if position and character.isupper():
            before = name[position - 1]
            after = name[position + 1 : position + 2]
            if (
                before.islower()
                or before.isdigit()
                or before.isupper()
                and after.islower()
            ):
                pieces.append("_")
        pieces.append(character)
    return "".join(pieces)


def follows_style(name: str, style: str) -> bool:
    """Tell whether `name` is in `style`: lowercase words of letters and digits."""
    pattern = _DOTTED_NAME if style == DOTTED else _SNAKE_NAME
    return name == name.lower() and pattern.match(marks_as_letters(name)) is not None


def variant_key(name: str) -> str:
    """Return what two names share when they differ only in case or separators."""
    return _replace_separators(name, lambda _: "").lower()


def static_name(built: BuiltName, style: str) -> str:
    """Join the literal parts, with a separator where a value was, in `style`."""
    pieces = []
    for part in built.parts:
        pieces.append(part.text if part.text is not None else "_")
    return to_style("".join(pieces), style)


# -- attribute keys -----------------------------------------------------------


def _snake(text: str) -> str | None:
    key = to_style(text, SNAKE_CASE)
    if not key or key[0].isdigit():
        return None
    return key


def attribute_key(expression: cst.BaseExpression) -> str | None:
    """Name an attribute after its expression; None when the name would be meaningless.

    `product_id` -> `product_id`, `product.sku` -> `product_sku`,
    `order["sku"]` -> `sku`, `user.email.lower()` -> `user_email`. Other
    calls and subscripts by a variable have no meaningful name.
    """
    expression = _same_text_source(expression)
    if isinstance(expression, cst.Name):
        return _snake(expression.value)
    if isinstance(expression, cst.Attribute):
        dotted = dotted_name(expression)
        if dotted is None:
            return _snake(expression.attr.value)
        words = dotted.split(".")
        if words[0] in ("self", "cls") and len(words) > 1:
            words = words[1:]
        return _snake("_".join(words))
    if isinstance(expression, cst.Subscript):
        if len(expression.slice) != 1:
            return None
        index = expression.slice[0].slice
        if not isinstance(index, cst.Index) or not isinstance(
            index.value, cst.SimpleString
        ):
            return None
        value = index.value.evaluated_value
        return _snake(value) if isinstance(value, str) else None
    return None


def _owner_words(expression: cst.BaseExpression) -> list[str]:
    if isinstance(expression, cst.Attribute):
        return (dotted_name(expression.value) or "").lower().split(".")
    if isinstance(expression, cst.Subscript):
        return (dotted_name(expression.value) or "").lower().split(".")
    return []


# Methods of `str` that return the same personal data in another form:
# `user.email.lower()` is still the email.
SAME_TEXT_METHODS = frozenset(
    {"lower", "upper", "strip", "lstrip", "rstrip", "casefold", "title"}
)


# The methods of SAME_TEXT_METHODS that may take an argument: the characters to strip.
STRIP_METHODS = frozenset({"strip", "lstrip", "rstrip"})


def _same_text_source(expression: cst.BaseExpression) -> cst.BaseExpression:
    """Return `x` for `x.lower()`, `x.strip("<> ").lower()` and the like, else `expression`."""
    while (
        isinstance(expression, cst.Call)
        and isinstance(expression.func, cst.Attribute)
        and expression.func.attr.value in SAME_TEXT_METHODS
        and (not expression.args or expression.func.attr.value in STRIP_METHODS)
    ):
        expression = expression.func.value
    return expression


def is_personal_data(expression: cst.BaseExpression) -> bool:
    """Return True when an expression names an email, phone number, person's name or address."""
    expression = _same_text_source(expression)
    key = attribute_key(expression)
    if key is None:
        return False
    if key.endswith(PII_KEY_ENDINGS) or key.endswith(PERSON_NAME_ENDINGS):
        return True
    # `user.name` is a person's name; `user.plan_name` is not.
    owners = _owner_words(expression)
    return _last_key(expression) == "name" and any(
        owner in PERSON_OWNERS for owner in owners
    )


def _last_key(expression: cst.BaseExpression) -> str | None:
    """Return the attribute or literal key an expression ends with."""
    if isinstance(expression, cst.Attribute):
        return expression.attr.value.lower()
    if isinstance(expression, cst.Subscript):
        return attribute_key(expression)
    return None


def personal_data_in_text(text: str) -> list[tuple[int, int, str]]:
    """Return (start, end, kind) of each email or phone number in `text`."""
    found = []
    for match in EMAIL_PATTERN.finditer(marks_as_letters(text)):
        found.append((match.start(), match.end(), "email"))
    for match in PHONE_PATTERN.finditer(text):
        if not any(start <= match.start() < end for start, end, _ in found):
            found.append((match.start(), match.end(), "phone"))
    return sorted(found)


def marks_as_letters(text: str) -> str:
    """Replace each combining mark in `text` with a letter, keeping every position.

    `re` matches no combining mark with `\\w`, so without this a word or an
    address would end at the accent of a decomposed "á" or at a Devanagari
    vowel sign. The letter is a copy of the one that the mark follows, so
    that it is of the same script ("भा" becomes "भभ"), or "a" after a
    character that is no letter.
    """
    if text.isascii():
        return text
    characters = []
    previous = "a"
    for character in text:
        if unicodedata.category(character).startswith("M"):
            character = previous
        elif character.isalpha():
            previous = character
        else:
            previous = "a"
        characters.append(character)
    return "".join(characters)


# The letters of the Latin script in the blocks that European languages
# use: ASCII, U+00C0-U+024F (Latin-1 Supplement and Latin Extended-A and
# -B) and U+1E00-U+1EFF (Latin Extended Additional). Match it on
# `marks_as_letters(text)`, where a combining mark is the letter "a".
# The code points in these ranges that are no letters (U+00D7 "×" and
# U+00F7 "÷") are left out by the `[^\W\d_]` lookahead of each use.
_LATIN = "A-Za-z\u00c0-\u024f\u1e00-\u1eff"
_LATIN_LETTER = rf"(?=[^\W\d_])[{_LATIN}]"
_OTHER_LETTER = rf"(?=[^\W\d_])[^{_LATIN}]"


def _alternatives(names: set[str]) -> str:
    """Return a regular expression that matches any of `names`, longest first."""
    longest_first = sorted(names, key=lambda name: (-len(name), name))
    return "|".join(re.escape(name) for name in longest_first)


def _domain_pattern() -> str:
    """Return the pattern of an address's domain.

    The domain ends at its top-level domain (TLD), and each branch of the
    pattern decides where that TLD ends:

    - ASCII letters end at the first character that is no Latin letter, so
      `"bob@example.com注册"` contains `bob@example.com`. Chinese and
      Japanese put no space between words, so text in another script often
      follows an address directly. A Latin letter continues the label, so
      `"bob@example.comé"` has no TLD.
    - When a letter follows the ASCII TLD, every label of the domain must
      be Latin letters, digits and `-`. ASCII TLDs are not checked against
      the root zone, so in `"注文@東京.ab店舗"` the letters `ab` would read
      as a TLD, although the text is an order at the Tokyo store (`@` for
      "at"). A Japanese domain with an ASCII TLD run into Japanese text
      cannot be distinguished from such a place name.
    - A non-ASCII TLD is one of `NON_ASCII_TLDS`. It ends at a non-letter
      or where the script changes between Latin and any other script, so
      `"東京.中国語"` has no TLD "中国" and `"x@y.рфsignup"` has the TLD
      `рф`.

    NOTE: an address that text of its own script follows with no space
    (`"用户@例子.中国注册"`), and one on a domain of another script with an
    ASCII TLD run into text (`"注文@東京.jp店舗"`), are not found.

    The names are matched on `marks_as_letters(text)`, so each is written in
    that form, precomposed and decomposed, and without regard to case.
    """
    latin = set()
    other = set()
    for name in NON_ASCII_TLDS:
        for form in (name, unicodedata.normalize("NFD", name)):
            form = marks_as_letters(form)
            if re.fullmatch(rf"[{_LATIN}]+", form):
                latin.add(form)
            else:
                other.add(form)
    return (
        rf"(?:{_LATIN_LABEL}\.)+[A-Za-z]{{2,}}(?={_OTHER_LETTER})"
        rf"|(?:{_LABEL}\.)+"
        rf"(?:[A-Za-z]{{2,}}(?![^\W\d_])"
        rf"|(?i:{_alternatives(latin)})(?!{_LATIN_LETTER})"
        rf"|(?i:{_alternatives(other)})(?!{_OTHER_LETTER}))"
    )


# An email address. It is the whole run of characters that can belong to
# it, because RFC 6531 allows letters and digits of any script in both of
# its parts. The local part may also contain `_.%+-`, and the domain `-`.
# `personal_data_in_text` counts combining marks as letters.
# The domain's last label is ASCII letters, or a non-ASCII top-level
# domain of the root zone, and `_domain_pattern` decides where it ends. A
# label in another script that is no TLD makes a name that only looks
# like an address: Japanese writes `@` for "at" a place, so "注文@東京.店舗"
# is an order at the Tokyo store. So is a test address on a fictional
# domain such as "用户@例子.广告", which no mail server receives. A TLD in
# punycode (`bob@example.xn--p1ai`) is not matched.
# NOTE: `_` is valid in the local part of an address, so in
# "signup_bob@example.com" and "registrácia_jana@example.com" the whole
# literal is the address, and the name is reported without a fix because
# no literal part remains.
_LABEL = r"(?:[^\W_]|-)+"
_LATIN_LABEL = rf"(?:{_LATIN_LETTER}|[0-9-])+"
EMAIL_PATTERN = re.compile(rf"[\w.%+-]+@(?:{_domain_pattern()})")


def split_personal_data(built: BuiltName) -> BuiltName:
    """Turn emails and phone numbers in literal parts into values of their own.

    A name with an address whose start is unclear comes back unsupported,
    so that it is reported without a fix.
    """
    parts: list[NamePart] = []
    prefix = unicode_prefix(built.node)
    spelling = NameSpelling(built.node)
    supported, reason = built.supported, built.reason
    for part in built.parts:
        if part.text is None:
            parts.append(part)
            continue
        position = 0
        for start, end, kind in personal_data_in_text(part.text):
            parts.append(NamePart(text=part.text[position:start]))
            found = part.text[start:end]
            literal = spelling.literal(found, prefix)
            parts.append(NamePart(expression=literal, value=literal, key=kind))
            position = end
            local_part = found.partition("@")[0]
            if kind == "email" and supported and _mixes_scripts(local_part):
                supported = False
                reason = (
                    f"the local part `{local_part}` mixes Latin and other letters,"
                    " so the address may start after the text before it"
                )
        parts.append(NamePart(text=part.text[position:]))
    return BuiltName(built.node, built.form, parts, supported, reason)


def _mixes_scripts(text: str) -> bool:
    """Tell whether `text` contains both Latin letters and letters of another script.

    In `"用户bob@example.com注册"` the address may be `bob@example.com`
    after the word 用户 ("user"), because Chinese and Japanese put no space
    between words, or the whole `用户bob@example.com`, which RFC 6531 allows.
    """
    letters = marks_as_letters(text)
    return bool(re.search(_LATIN_LETTER, letters) and re.search(_OTHER_LETTER, letters))


def _quote(text: str, prefix: str = "") -> str:
    return prefix + '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unicode_prefix(name: cst.BaseExpression) -> str:
    """Return "u" when a string literal of an event name has the `u` prefix, else "".

    On Python 2 `u"vrátenie_" + kind` sends a unicode name, and a new
    literal without the prefix would send a byte string, which raises
    UnicodeDecodeError where code joins it with unicode text. So literals
    built from the name's text keep the prefix.
    """
    for literal in find_all(name, cst.SimpleString):
        if "u" in literal.prefix.lower():
            return "u"
    return ""


# A backslash escape in a string literal that is not raw. The escapes of one
# character (`\n`, `\"`) never spell a character that a fixed name keeps.
_CHARACTER_ESCAPE = re.compile(
    r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\}|[0-7]{1,3}|.)",
    re.DOTALL,
)


class NameSpelling:
    """The way the string literals of an event name spell their non-ASCII characters.

    A fix writes the characters of the name's new literal the way the source
    wrote them: `"caf\xe9_%s" % x` becomes `"caf\xe9"`, not `"café"`, which a
    file declared `# -*- coding: ascii -*-` cannot contain. A non-ASCII
    character that the literals do not contain (an upper case letter that
    the style lowercased) is written as an escape, unless they contain some
    other non-ASCII character as written.
    """

    def __init__(self, name: cst.BaseExpression) -> None:
        self.escapes: dict[str, str] = {}
        self.written: set[str] = set()
        for literal in find_all(name, cst.SimpleString):
            self._read(literal.raw_value, literal.prefix)
        for formatted in find_all(name, cst.FormattedString):
            for piece in formatted.parts:
                if isinstance(piece, cst.FormattedStringText):
                    self._read(piece.value, formatted.prefix)

    def _read(self, raw: str, prefix: str) -> None:
        if "r" in prefix.lower():
            self.written.update(raw)
            return
        position = 0
        for match in _CHARACTER_ESCAPE.finditer(raw):
            self.written.update(raw[position : match.start()])
            position = match.end()
            escape = match.group(0)
            if len(escape) == 2:
                continue
            try:
                character = escape.encode("ascii").decode("unicode_escape")
            except UnicodeError:
                continue
            self.escapes.setdefault(character, escape)
        self.written.update(raw[position:])

    def literal(self, text: str, prefix: str = "") -> cst.SimpleString:
        """Return `text` as a double-quoted literal, spelled as the name's literals spell it."""
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return cst.SimpleString(prefix + '"' + self.spell(escaped) + '"')

    def spell(self, text: str) -> str:
        """Return the body of a literal that is not raw, with the escapes of the source."""
        spelled = []
        for character in text:
            if character.isascii() or character in self.written:
                spelled.append(character)
            elif character in self.escapes:
                spelled.append(self.escapes[character])
            elif any(not written.isascii() for written in self.written):
                spelled.append(character)
            else:
                spelled.append(character.encode("ascii", "backslashreplace").decode())
        return "".join(spelled)


# -- taking a name apart --------------------------------------------------------


def parse_name(node: cst.BaseExpression) -> BuiltName | None:
    """Take an event name expression apart; None when it is not a string literal or build.

    A bare variable, attribute or call is None: its value is already a
    name (events forwarded from a queue), not a name built here. Builds
    nest: a `.format` or `%` operand of `+`, an f-string placeholder or a
    formatting argument that is itself a build gives its own literal text
    and values, so every way of writing a name takes it apart the same way.
    """
    try:
        return _parse_build(node)
    except _CannotTakeApart as problem:
        values = [
            NamePart(expression=expression, value=expression)
            for expression in problem.values
        ]
        return BuiltName(node, problem.form, values, False, problem.reason)


class _CannotTakeApart(Exception):
    """Raised inside `parse_name` when a recognised form cannot be taken apart.

    `values` are the expressions the name is known to contain.
    """

    def __init__(
        self,
        form: str,
        values: Iterable[cst.BaseExpression],
        reason: str | None = None,
    ) -> None:
        super().__init__(reason or form)
        self.form = form
        self.values = list(values)
        self.reason = reason


def _parse_build(node: cst.BaseExpression) -> BuiltName | None:
    if isinstance(
        node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)
    ):
        parts = _string_parts(node)
        if parts is None:
            return None
        form = "literal" if all(part.text is not None for part in parts) else "f-string"
        return BuiltName(node, form, parts)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _parse_concatenation(node)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Modulo):
        return _parse_printf(node)
    if isinstance(node, cst.Call):
        return _parse_format_call(node)
    return None


def _value_parts(
    form: str,
    expression: cst.BaseExpression,
    value: cst.BaseExpression,
    render: Callable[[str], str] | None = None,
    text_form: cst.BaseExpression | None = None,
) -> list[NamePart]:
    """Return the parts of a value put into a name by `form`.

    `value` is `expression` when the name formats it without a spec or
    conversion, or `expression` with a format spec or conversion applied,
    which `render` applies to a text (None when it cannot). `text_form` is
    `expression` formatted as the name formats it, for `NamePart.text_form`
    when `value` is `expression`. A value that is itself a build
    gives its own parts: `"order_{}".format(s)` in `+` gives the text
    `order_` and the value `s`. A spec or conversion applies to the whole
    nested build (`{!r}` adds quotes around it, `{:>9}` pads it), so then
    its literal text cannot stay in the name by itself.
    """
    nested = _parse_build(expression)
    if nested is None and value is expression:
        return [NamePart(expression=expression, value=value, text_form=text_form)]
    if nested is None:
        return [NamePart(expression=expression, value=value)]
    if value is expression:
        return nested.parts
    if not nested.values:
        # A literal with a spec, `"{:>5}".format("ab")`, is literal text too.
        text = "".join(part.text or "" for part in nested.parts)
        if render is not None:
            try:
                return [NamePart(text=render(text))]
            except (TypeError, ValueError):
                # Python raises the same error when it builds the name, so keep the value.
                pass
        return [NamePart(expression=expression, value=value)]
    raise _CannotTakeApart(
        form,
        [part.expression for part in nested.values if part.expression is not None],
        "a format spec or conversion applies to a part that itself contains"
        " fixed text",
    )


def _string_parts(node: cst.BaseExpression) -> list[NamePart] | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return [NamePart(text=value)] if isinstance(value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        parts = []
        for string in joined_strings(node):
            string_parts = _string_parts(string)
            if string_parts is None:
                return None
            parts.extend(string_parts)
        return parts
    if isinstance(node, cst.FormattedString):
        return _fstring_parts(node)
    return None


def _fstring_parts(node: cst.FormattedString) -> list[NamePart] | None:
    if "b" in node.prefix.lower():
        return None
    raw = "r" in node.prefix.lower()
    parts = []
    for piece in node.parts:
        if isinstance(piece, cst.FormattedStringText):
            text = piece.value.replace("{{", "{").replace("}}", "}")
            if not raw:
                text = _unescape(text)
            parts.append(NamePart(text=text))
            continue
        assert isinstance(piece, cst.FormattedStringExpression)
        value: cst.BaseExpression = piece.expression
        # The placeholder alone gives the text the name had: `{price:.2f}`
        # becomes `f"{price:.2f}"`, and `{order_id}` becomes `f"{order_id}"`.
        text_form = cst.FormattedString(parts=[piece], start=node.start, end=node.end)
        if piece.conversion is not None or piece.format_spec is not None or piece.equal:
            value = text_form
        render = _fstring_render(piece)
        parts.extend(
            _value_parts("f-string", piece.expression, value, render, text_form)
        )
    return parts


def _fstring_render(
    piece: cst.FormattedStringExpression,
) -> Callable[[str], str] | None:
    """Return what a placeholder does to a text; None for `=` or a spec with placeholders."""
    if piece.equal:
        return None
    spec = ""
    for spec_part in piece.format_spec or ():
        if not isinstance(spec_part, cst.FormattedStringText):
            return None
        spec += spec_part.value
    return _format_render(piece.conversion, spec)


def _format_render(
    conversion: str | None, format_spec: str
) -> Callable[[str], str] | None:
    """Return what a `str.format` field with this conversion and spec does to a text."""
    if _WIDE_SPEC.search(format_spec):
        return None
    formatter = string.Formatter()
    return lambda text: formatter.format_field(
        formatter.convert_field(text, conversion), format_spec
    )


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return text


def _parse_concatenation(node: cst.BinaryOperation) -> BuiltName | None:
    # `a + b + c` is `(a + b) + c`: walk down the left operands. A left
    # operand in parentheses is taken apart as an operand of its own.
    operands: list[cst.BaseExpression] = [node.right]
    current = node.left
    while (
        isinstance(current, cst.BinaryOperation)
        and isinstance(current.operator, cst.Add)
        and not current.lpar
    ):
        operands.insert(0, current.right)
        current = current.left
    operands.insert(0, current)

    parts: list[NamePart] = []
    has_string = False
    for operand in operands:
        nested = _parse_build(operand)
        if nested is not None:
            has_string = True
            parts.extend(nested.parts)
        else:
            parts.append(NamePart(expression=operand, value=operand, operand=True))
    if not has_string:
        # `prefix + action` may be anything. Only a string operand (a
        # literal, an f-string, a `%` or `.format` build) makes it certain
        # that a string is being built.
        return None
    return BuiltName(node, "+", parts)


def _template_text(node: cst.BaseExpression) -> str | None:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = literal_value(node)
        return value if isinstance(value, str) else None
    return None


def _parse_printf(node: cst.BinaryOperation) -> BuiltName | None:
    template = _template_text(node.left)
    if template is None:
        return None
    mapping = None
    if isinstance(node.right, cst.Tuple):
        values = [element.value for element in node.right.elements]
        if any(
            isinstance(element, cst.StarredElement) for element in node.right.elements
        ):
            raise _CannotTakeApart("%", values)
    elif isinstance(node.right, cst.Dict):
        mapping = _literal_mapping(node.right)
        values = []
    else:
        values = [node.right]
    # Every value the name may contain, for a name that cannot be taken apart.
    operands = values + list((mapping or {}).values())

    parts: list[NamePart] = []
    position = 0
    remaining = list(values)
    for match in _PRINTF.finditer(template):
        parts.append(NamePart(text=template[position : match.start()]))
        position = match.end()
        if match.group("type") == "%":
            parts.append(NamePart(text="%"))
            continue
        if "*" in (match.group("width") or "") + (match.group("precision") or ""):
            raise _CannotTakeApart("%", operands)
        key = match.group("key")
        if key is not None and mapping is not None:
            if key[1:-1] not in mapping:
                # Python raises KeyError, so this is no name.
                return None
            expression = mapping[key[1:-1]]
        elif key is not None or mapping is not None:
            # A key with a tuple or a variable, or a dict without keys.
            raise _CannotTakeApart("%", operands)
        elif not remaining and not isinstance(node.right, cst.Tuple):
            # `"%s_%s" % pair`: the one operand may be a tuple of any length.
            raise _CannotTakeApart("%", operands)
        elif not remaining:
            # Python raises TypeError for fewer values than specifiers.
            return None
        else:
            expression = remaining.pop(0)
        specifier = _keyless(match)
        text_form = _printf_text(specifier, expression, unicode_prefix(node.left))
        value = expression if specifier == "%s" else text_form
        render = _printf_render(specifier)
        parts.extend(_value_parts("%", expression, value, render, text_form))
    parts.append(NamePart(text=template[position:]))
    if remaining:
        # Python raises TypeError for more values than specifiers, so this is no name.
        return None
    return BuiltName(node, "%", parts)


def _literal_mapping(display: cst.Dict) -> dict[str, cst.BaseExpression]:
    """Return the values of a dict display by key, for `"%(key)s" % {...}`.

    A `**` entry or a key that is not a string literal leaves the keys
    unknown, so the name cannot be taken apart.
    """
    mapping: dict[str, cst.BaseExpression] = {}
    for element in display.elements:
        key = None
        if isinstance(element, cst.DictElement):
            key = _template_text(element.key)
        if key is None:
            raise _CannotTakeApart("%", [item.value for item in display.elements])
        # A repeated key takes its last value, as in Python.
        mapping[key] = element.value
    return mapping


def _keyless(match: re.Match[str]) -> str:
    """Return a printf specifier without its mapping key: `%(n)03d` -> `%03d`."""
    specifier = match.group(0)
    key = match.group("key")
    if key is None:
        return specifier
    return "%" + specifier[len(key) + 1 :]


def _printf_render(specifier: str) -> Callable[[str], str] | None:
    """Return what a printf specifier without a mapping key does to a text."""
    if _WIDE_SPEC.search(specifier):
        return None
    return lambda text: specifier % (text,)


def _printf_text(
    specifier: str, expression: cst.BaseExpression, prefix: str
) -> cst.BaseExpression:
    """Return `"%05.1f" % (expression,)`: the one value formatted by `specifier`.

    The tuple keeps a value that is itself a tuple one value.
    """
    return cst.BinaryOperation(
        left=cst.SimpleString(_quote(specifier, prefix)),
        operator=cst.Modulo(),
        right=cst.Tuple([cst.Element(expression, comma=cst.Comma())]),
    )


def _parse_format_call(node: cst.Call) -> BuiltName | None:
    func = node.func
    if not isinstance(func, cst.Attribute):
        return None
    if func.attr.value == "join":
        joined = _parse_join(node, func)
        if joined is not None:
            return joined
    if func.attr.value != "format":
        _check_method_of_build(func)
        return None
    template = _template_text(func.value)
    if template is None:
        return None
    arguments = [argument.value for argument in node.args]
    if any(argument.star for argument in node.args):
        raise _CannotTakeApart(".format", arguments)
    positional = [argument.value for argument in node.args if argument.keyword is None]
    keywords = {
        argument.keyword.value: argument.value
        for argument in node.args
        if argument.keyword is not None
    }
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return None

    parts: list[NamePart] = []
    automatic = 0
    for literal, field_name, format_spec, conversion in fields:
        parts.append(NamePart(text=literal))
        if field_name is None:
            continue
        if field_name == "":
            field_name = str(automatic)
            automatic += 1
        if field_name.isdigit():
            number = int(field_name)
            if number >= len(positional):
                return None
            expression = positional[number]
        elif field_name.isidentifier() and field_name in keywords:
            expression = keywords[field_name]
        else:
            # `{user.email}` or `{0[sku]}`: a lookup inside the field.
            # NOTE: the looked-up value is not read, so personal data in it
            # (`{0.email}`) is reported by CIO301 as a dynamic name, not by CIO302.
            raise _CannotTakeApart(".format", arguments)
        if "{" in (format_spec or ""):
            raise _CannotTakeApart(".format", arguments)
        text_form = _format_text(
            expression, format_spec, conversion, unicode_prefix(func.value)
        )
        value = expression if not format_spec and not conversion else text_form
        render = _format_render(conversion, format_spec or "")
        parts.extend(_value_parts(".format", expression, value, render, text_form))
    return BuiltName(node, ".format", parts)


def _parse_join(node: cst.Call, func: cst.Attribute) -> BuiltName | None:
    """Take `"_".join(["shared", network])` apart: a literal separator and a list display.

    `str.join` raises TypeError for an item that is not a `str`, so each
    item's text is the item itself, as for an operand of `+`. A separator
    or list that is not written out is no build here.
    """
    separator = _template_text(func.value)
    if separator is None or len(node.args) != 1:
        return None
    argument = node.args[0]
    items = argument.value
    if argument.keyword is not None or argument.star:
        return None
    if not isinstance(items, (cst.List, cst.Tuple)):
        return None
    if any(isinstance(element, cst.StarredElement) for element in items.elements):
        return None

    parts: list[NamePart] = []
    for position, element in enumerate(items.elements):
        if position:
            parts.append(NamePart(text=separator))
        nested = _parse_build(element.value)
        if nested is not None:
            parts.extend(nested.parts)
        else:
            value = element.value
            parts.append(NamePart(expression=value, value=value, operand=True))
    return BuiltName(node, ".join", parts)


def _check_method_of_build(func: cst.Attribute) -> None:
    """Refuse a string method over a built name: `f"order_{s}".upper()`.

    The method changes the fixed text and the values together, so neither
    the name nor the attributes could keep what the call sends. A method
    over a plain literal (`"Order Placed".lower()`) builds no name here.
    """
    nested = _parse_build(func.value)
    if nested is None or not nested.values:
        return
    method = func.attr.value
    raise _CannotTakeApart(
        f".{method}()",
        [part.expression for part in nested.values if part.expression is not None],
        f"`.{method}()` applies to the fixed text and the values together",
    )


def _format_text(
    expression: cst.BaseExpression,
    format_spec: str | None,
    conversion: str | None,
    prefix: str,
) -> cst.BaseExpression:
    """Return `"{:>3}".format(expression)`: the one value formatted by a field."""
    field_text = (
        "{"
        + (f"!{conversion}" if conversion else "")
        + (f":{format_spec}" if format_spec else "")
        + "}"
    )
    return cst.Call(
        func=cst.Attribute(
            value=cst.SimpleString(_quote(field_text, prefix)),
            attr=cst.Name("format"),
        ),
        args=[cst.Arg(expression)],
    )


# -- where a call takes its event name and attributes ------------------------------


def event_name_parameter(call: ClientCall) -> str | None:
    """Return the parameter that carries the event name of a call, if it sends an event.

    A pageview's `page` is the URL or name of the page viewed, which
    segments match as it is: values in it are the point, not a pitfall.
    """
    if call.api is Api.TRACK and call.method in (
        "track",
        "track_anonymous",
        "backfill",
    ):
        return "name"
    if call.api is Api.PIPELINES and call.method == "track":
        return "event"
    return None


def event_name_argument(call: ClientCall) -> cst.Arg | None:
    parameter = event_name_parameter(call)
    if parameter is None:
        return None
    return call.arguments.get(parameter)


# The client methods whose name argument a wrapper or a partial may pass on.
RELAY_METHODS = frozenset({"track", "track_anonymous", "backfill"})


def wrapper_candidates(index: FileIndex) -> list[str]:
    """Return the module-level private functions and partials that may pass on an event name.

    A candidate is a function that passes one of its parameters to a
    method named like an event method (`x.track(..., name=name)`), or a
    name bound to `functools.partial` of such a method. The clients are
    not resolved yet when modules are summarised, so this over-reads:
    CIO301 decides later which candidates are wrappers. Other modules'
    uses of a candidate are read, so its module name is a prefilter word.
    """
    found = set()
    module_scope = index.module_scope
    for site in index.call_sites:
        func = site.node.func
        if isinstance(func, cst.Attribute) and func.attr.value in RELAY_METHODS:
            function = site.function
            if function is None or function.parent is not None:
                continue
            if function.class_info is not None:
                continue
            parameters = {
                parameter.name.value for parameter in _all_params(function.node)
            }
            if any(
                isinstance(argument.value, cst.Name)
                and argument.value.value in parameters
                for argument in site.node.args
            ):
                found.add(function.name)
        elif site.scope is module_scope and _partial_of_method(index, site.node):
            for name, assignments in module_scope.assignments.items():
                if any(assignment.value is site.node for assignment in assignments):
                    found.add(name)
    return sorted(name for name in found if name.startswith("_"))


def _all_params(function: cst.FunctionDef) -> list[cst.Param]:
    parameters = function.params
    return [
        *parameters.posonly_params,
        *parameters.params,
        *parameters.kwonly_params,
    ]


def _partial_of_method(index: FileIndex, node: cst.Call) -> bool:
    """Tell whether `node` is `functools.partial(x.track, ...)`."""
    if not node.args or index.qualified_name(node.func) != "functools.partial":
        return False
    method = node.args[0].value
    return isinstance(method, cst.Attribute) and method.attr.value in RELAY_METHODS


# -- the names a file sends ------------------------------------------------------


@dataclass(frozen=True)
class NameBranch:
    """One expression that a call's event name may be, taken apart where it is a build.

    The call's name itself, or one branch of a conditional expression in
    it, or the value of a local variable that the call names.
    """

    # The expression of the call that gives this name: the name argument,
    # or a branch of a conditional expression in it. Findings point at it.
    node: cst.BaseExpression
    # The expression of the name itself, which is `node` unless the call
    # reads it through a variable.
    expression: cst.BaseExpression
    # `expression` taken apart, or None when it is no string literal or build.
    built: BuiltName | None
    # The scope in which the build reads its values.
    scope: Scope
    # The assignment of the local variable whose value is the build, when
    # the call reads the build through one (`event_name = f"viewed_{sku}"`).
    binding: Assignment | None = None
    # True when a conditional expression picks this branch.
    conditional: bool = False


# How many variables and conditional expressions `name_branches` follows
# from a call's name to a build.
_MAX_BRANCH_DEPTH = 5


def name_branches(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> list[NameBranch]:
    """Return the expressions that a call's event name may be.

    A conditional expression gives its branches, and a local variable
    bound once to a value gives that value, when that leads to a name
    built from values (`event_name = f"viewed_{product.sku}"`). Otherwise
    the name is the one branch, as it is written at the call.
    """
    branches = _branches(context, scope, expression, expression, None, False, 0)
    if branches is None:
        return [NameBranch(expression, expression, parse_name(expression), scope)]
    return branches


def _branches(
    context: FileContext,
    scope: Scope,
    expression: cst.BaseExpression,
    node: cst.BaseExpression,
    binding: Assignment | None,
    conditional: bool,
    depth: int,
) -> list[NameBranch] | None:
    """Return the branches of `expression`, None when none of them is a name built from values.

    `node` is the expression of the call that leads to `expression`.
    """
    built = parse_name(expression)
    if built is not None:
        branch = NameBranch(node, expression, built, scope, binding, conditional)
        return [branch] if built.is_dynamic else None
    if depth > _MAX_BRANCH_DEPTH:
        return None
    if isinstance(expression, cst.IfExp):
        found: list[NameBranch] = []
        dynamic = False
        for value in (expression.body, expression.orelse):
            # A branch of the call's own conditional is where a finding points.
            branch_node = value if node is expression else node
            inner = _branches(
                context, scope, value, branch_node, binding, True, depth + 1
            )
            if inner is None:
                parsed = parse_name(value)
                inner = [NameBranch(branch_node, value, parsed, scope, binding, True)]
            else:
                dynamic = True
            found.extend(inner)
        return found if dynamic else None
    assignment = local_binding(context, scope, expression)
    if assignment is None or assignment.value is None:
        return None
    return _branches(
        context,
        assignment.scope,
        assignment.value,
        node,
        assignment,
        conditional,
        depth + 1,
    )


def local_binding(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> Assignment | None:
    """Return the one assignment of a function's variable, `name = value` or `name: T = value`."""
    from cio_fix.codemods.timestamps import only_binding

    if not isinstance(expression, cst.Name):
        return None
    assignment = only_binding(context.index, expression.value, scope)
    if assignment is None or assignment.scope.kind != "function":
        return None
    if context.index.rebound_through_global(expression.value, [assignment]):
        return None
    statement = assignment.statement
    if isinstance(statement, cst.AnnAssign):
        return assignment
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        return assignment
    return None


def name_calls(
    context: FileContext,
) -> Iterator[tuple[ClientCall, cst.Arg, NameBranch]]:
    """Yield the calls that send an event name, with each name they may send taken apart.

    Methods handed to a function that runs them later
    (`tasks.add_task(cio.track, ...)`) count as the calls they make. A name
    that is no string literal or build is left out.
    """
    index = context.index
    for call in [*index.client_calls, *index.handed_off_calls]:
        argument = event_name_argument(call)
        if argument is None:
            continue
        for branch in name_branches(context, call.site.scope, argument.value):
            if branch.built is not None:
                yield call, argument, branch


@dataclass
class NameSource:
    """One event name as a file writes it, with one call site that sends it."""

    name: str
    # The string literal to rename, when it is written in this file.
    literal: cst.SimpleString | None
    path: str
    line: int
    # The imported constant the call names, when the literal is in another file.
    constant: str | None = None
    # Whether a Data Pipelines call sends it. Data Pipelines names are Title
    # Case, and some trigger actions ("Device Created or Updated").
    pipelines: bool = False
    # The event name argument of the call. A call whose name takes one of a
    # few values gives one source per value, all with the same expression.
    expression: cst.BaseExpression | None = None

    @property
    def place(self) -> str:
        return f"{self.path}:{self.line}"


def _string_literal(node: cst.BaseExpression) -> str | None:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = literal_value(node)
        return value if isinstance(value, str) else None
    return None


def name_sources(context: FileContext) -> Iterator[NameSource]:
    """Yield each static event name this file sends, once per call and name.

    Literals and module constants give their literal, imported constants
    their qualified name. Other names are those that CIO301 and CIO302 count
    as sent (`sent_texts`): enum members, string class attributes, variables
    bound once, `a if flag else b`, and lookups such as `EVENTS["paid"]`.
    """
    for call in context.index.client_calls:
        argument = event_name_argument(call)
        if argument is None:
            continue
        line = context.position(argument.value).start.line
        for source in _name_sources(context, call, argument.value, line):
            source.pipelines = call.api is Api.PIPELINES
            source.expression = argument.value
            yield source


def _name_sources(
    context: FileContext, call: ClientCall, value: cst.BaseExpression, line: int
) -> list[NameSource]:
    index = context.index
    path = context.display_path
    name = _string_literal(value)
    if name is not None:
        literal = value if isinstance(value, cst.SimpleString) else None
        return [NameSource(name, literal, path, line)]

    head = dotted_name(value)
    if head is not None and index.rebound(head.partition(".")[0], call.site.scope):
        # A module-level name bound more than once: which binding the call
        # reads is unknown.
        return []
    if isinstance(value, cst.Name):
        assignments = index.assignments_of(value.value, call.site.scope)
        if index.rebound_through_global(value.value, assignments):
            return []
        if len(assignments) == 1 and assignments[0].scope is index.module_scope:
            if context.project.rebound_constant(index.module_name, value.value):
                # Another module or `globals()` may rebind the constant.
                return []
            assigned = assignments[0].value
            name = _string_literal(assigned) if assigned is not None else None
            if name is not None:
                literal = assigned if isinstance(assigned, cst.SimpleString) else None
                return [NameSource(name, literal, path, line)]
        if assignments:
            return _value_sources(context, call, value, line)

    qualified = index.qualified_name(value, call.site.scope)
    if qualified is None:
        return _value_sources(context, call, value, line)
    if rebound_constant(context, qualified):
        return []
    if resolve_constant(context, qualified) is None:
        # An imported class's member or attribute (`Event.SHIPPED`), which
        # is renamed in its class, not where a constant is written.
        sources = _value_sources(context, call, value, line)
        if sources:
            return sources
    return [NameSource("", None, path, line, constant=qualified)]


def _value_sources(
    context: FileContext, call: ClientCall, value: cst.BaseExpression, line: int
) -> list[NameSource]:
    """Return a source per name that a call sends through a value cio-fix can read.

    A name built from values sends a static name here only when it has one
    fixed value (`_one_fixed_name`); the catalog lists other builds as
    builds. The other branches of a conditional expression with such a
    build give their names, when cio-fix can read each of them.
    """
    from cio_fix.name_constants import sent_texts, value_texts

    texts: set[str] = set()
    for branch in name_branches(context, call.site.scope, value):
        built = branch.built
        if built is None:
            found = value_texts(context, branch.scope, branch.expression)
        elif built.is_dynamic:
            found = _one_fixed_name(context, branch.scope, built)
            if found is None:
                continue
        else:
            found = sent_texts(context, branch.scope, built)
        if found is None:
            return []
        texts.update(found)
    return [
        NameSource(text, None, context.display_path, line) for text in sorted(texts)
    ]


def _one_fixed_name(
    context: FileContext, scope: Scope, built: BuiltName
) -> frozenset[str] | None:
    """Return the name that a build of constants and literals sends, as a set of one.

    `PREFIX + "_sent"` is one event, as a constant is. A build whose values take
    several texts is a few events, which the catalog lists as a build, and
    a build that CIO301 or CIO302 reports is left to them.
    """
    from cio_fix.codemods.events import personal_data_parts
    from cio_fix.name_constants import sent_texts

    if personal_data_parts(built) or not _picked_from_few(context, scope, built):
        return None
    texts = sent_texts(context, scope, built)
    if texts is None or len(texts) != 1:
        return None
    return texts


def resolve_constant(context: FileContext, qualified: str) -> tuple[str, str] | None:
    """Return (module name, constant value) of an imported string constant of the project.

    None also when code may rebind the constant (`ProjectIndex.rebound_constant`).
    """
    found = project_constant(context, qualified)
    if found is None or not isinstance(found[1], str):
        return None
    return found[0], found[1]


def project_constant(context: FileContext, qualified: str) -> tuple[str, object] | None:
    """Return (module name, value) of an imported constant of the project, of any type.

    None when `qualified` names no constant of a project module, or code
    may rebind it.
    """
    target = context.project.resolve_value(qualified)
    if target is None:
        return None
    summary, name = target
    if context.project.rebound_constant(summary.module_name, name):
        return None
    if name not in summary.constants:
        return None
    return summary.module_name, summary.constants[name]


def rebound_constant(context: FileContext, qualified: str) -> bool:
    """Tell whether `qualified` is a constant of the project that code may rebind."""
    target = context.project.resolve_value(qualified)
    return target is not None and context.project.rebound_constant(
        target[0].module_name, target[1]
    )


def is_identifier_key(key: str) -> bool:
    return key.isidentifier() and not keyword.iskeyword(key)


# -- editing calls and dicts ------------------------------------------------------

# PEP 263: `# -*- coding: utf-8 -*-` or `# vim: set fileencoding=utf-8 :`.
CODING_DECLARATION = re.compile(r"coding[:=]\s*[-\w.]+")

SPACE = cst.SimpleWhitespace(" ")
NO_SPACE = cst.SimpleWhitespace("")


def keyword_argument(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(whitespace_before=NO_SPACE, whitespace_after=NO_SPACE),
    )


def dict_element(key: str, value: cst.BaseExpression) -> cst.DictElement:
    return cst.DictElement(key=cst.SimpleString(_quote(key)), value=value)


def append_separated(
    existing: list, new: list, opening: cst.BaseParenthesizableWhitespace | None = None
) -> list:
    """Append `new` arguments or elements to `existing`, following its layout.

    When the last item starts a line of its own (one item per line), each
    new item goes on a line of its own with the same indentation. Otherwise
    the new items join the last item's line. A trailing comma stays trailing.
    `opening` is the whitespace after the opening bracket, which shows where
    a single item starts.
    """
    if not new:
        return list(existing)
    items = list(existing)
    line_break = _line_break(items, opening)
    separator = cst.Comma(whitespace_after=line_break or SPACE)
    trailing: cst.Comma | cst.MaybeSentinel = cst.MaybeSentinel.DEFAULT
    ending: cst.BaseParenthesizableWhitespace | None = None
    if items and isinstance(items[-1].comma, cst.Comma):
        trailing = items[-1].comma
        last_separator = separator
        if line_break is not None:
            last_separator, trailing = _keep_comment(trailing, separator)
        items[-1] = items[-1].with_changes(comma=last_separator)
    elif items and isinstance(items[-1], cst.Arg):
        items[-1], ending = _hand_over_ending(items[-1], separator)
    elif items:
        items[-1] = items[-1].with_changes(comma=separator)
    for number, item in enumerate(new):
        last = number == len(new) - 1
        items.append(item.with_changes(comma=trailing if last else separator))
    if ending is not None:
        items[-1] = items[-1].with_changes(whitespace_after_arg=ending)
    return items


def _line_break(
    items: list, opening: cst.BaseParenthesizableWhitespace | None
) -> cst.ParenthesizedWhitespace | None:
    """Return the line break before the last item without its comment, or None.

    None means that the last item shares its line with what comes before it.
    """
    if len(items) >= 2:
        comma = items[-2].comma
        before = comma.whitespace_after if isinstance(comma, cst.Comma) else None
    elif items:
        before = opening
    else:
        return None
    if not isinstance(before, cst.ParenthesizedWhitespace):
        return None
    return before.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=())


def _hand_over_ending(
    last: cst.Arg, separator: cst.Comma
) -> tuple[cst.Arg, cst.BaseParenthesizableWhitespace]:
    """Return the old last argument with a comma, and the new last one's ending.

    Without a trailing comma, the whitespace after the last argument contains
    its comment and the line break before `)`. The new last argument takes
    it over, so that `)` stays where it was. A comment stays on the old
    argument's line when the new arguments go on lines of their own.
    """
    ending = last.whitespace_after_arg
    comma = separator
    line_break = separator.whitespace_after
    if (
        isinstance(ending, cst.ParenthesizedWhitespace)
        and ending.first_line.comment is not None
        and isinstance(line_break, cst.ParenthesizedWhitespace)
    ):
        comma = separator.with_changes(
            whitespace_after=line_break.with_changes(first_line=ending.first_line)
        )
        ending = ending.with_changes(first_line=cst.TrailingWhitespace())
    return last.with_changes(comma=comma, whitespace_after_arg=NO_SPACE), ending


def _keep_comment(
    trailing: cst.Comma, separator: cst.Comma
) -> tuple[cst.Comma, cst.Comma]:
    """Return the commas after the old last item and after the new one.

    A comment after the old last item's comma (`a=1,  # why`) stays on the
    old item's line. The new last item gets the old line break before the
    closing bracket.
    """
    after = trailing.whitespace_after
    opening = separator.whitespace_after
    if not isinstance(after, cst.ParenthesizedWhitespace) or not isinstance(
        opening, cst.ParenthesizedWhitespace
    ):
        return separator, trailing
    after_old_item = trailing.with_changes(
        whitespace_after=after.with_changes(
            empty_lines=(), indent=opening.indent, last_line=opening.last_line
        )
    )
    closing = trailing.with_changes(
        whitespace_after=after.with_changes(first_line=cst.TrailingWhitespace())
    )
    return after_old_item, closing


def extend_dict(display: cst.Dict, new: list) -> cst.Dict:
    """Append `new` elements to a dict display, following its comma style.

    A comment after the last element sits in the closing brace's
    whitespace. It stays on that element's line when the new elements go on
    lines of their own.
    """
    elements = append_separated(
        list(display.elements), new, display.lbrace.whitespace_after
    )
    closing = display.rbrace.whitespace_before
    if (
        not new
        or not display.elements
        or not isinstance(closing, cst.ParenthesizedWhitespace)
        or closing.first_line.comment is None
    ):
        return display.with_changes(elements=elements)
    position = len(display.elements) - 1
    separator = elements[position].comma
    assert isinstance(separator, cst.Comma)
    opening = separator.whitespace_after
    if not isinstance(opening, cst.ParenthesizedWhitespace):
        return display.with_changes(elements=elements)
    elements[position] = elements[position].with_changes(
        comma=separator.with_changes(
            whitespace_after=opening.with_changes(first_line=closing.first_line)
        )
    )
    return display.with_changes(
        elements=elements,
        rbrace=display.rbrace.with_changes(
            whitespace_before=closing.with_changes(first_line=cst.TrailingWhitespace())
        ),
    )


def prepend_dict(display: cst.Dict, new: list) -> cst.Dict:
    """Insert `new` elements at the start of a dict display, following its layout.

    The new elements take the line break after the opening brace (one
    element per line) or a space, and a comment after the brace stays there.
    """
    if not new or not display.elements:
        return extend_dict(display, new)
    opening = display.lbrace.whitespace_after
    gap: cst.BaseParenthesizableWhitespace = SPACE
    if isinstance(opening, cst.ParenthesizedWhitespace):
        gap = opening.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=())
    separator = cst.Comma(whitespace_after=gap)
    added = [element.with_changes(comma=separator) for element in new]
    return display.with_changes(elements=[*added, *display.elements])


def insert_after(items: list, anchor: object, new: list) -> list:
    """Insert `new` arguments or elements right after `anchor`, which is not the last item.

    The new items follow the anchor's layout: each starts a line of its
    own when the item after the anchor does. A comment after the anchor's
    comma stays on the anchor's line, and the empty lines after it go
    after the new items.
    """
    position = next(number for number, item in enumerate(items) if item is anchor)
    comma = anchor.comma
    assert isinstance(comma, cst.Comma), "the anchor must not be the last item"
    after = comma.whitespace_after
    anchor_comma = comma
    separator = comma
    if isinstance(after, cst.ParenthesizedWhitespace):
        anchor_comma = comma.with_changes(
            whitespace_after=after.with_changes(empty_lines=())
        )
        separator = comma.with_changes(
            whitespace_after=after.with_changes(first_line=cst.TrailingWhitespace())
        )
    added = [item.with_changes(comma=separator) for item in new]
    return [
        *items[:position],
        anchor.with_changes(comma=anchor_comma),
        *added,
        *items[position + 1 :],
    ]


def remove_items(items: list, removed: set[int]) -> list:
    """Drop the items whose id is in `removed`.

    The new last item takes the old last one's comma, and an argument also
    its whitespace, which contains the line break before `)`.
    """
    if not removed:
        return list(items)
    remaining = [item for item in items if id(item) not in removed]
    if remaining and id(items[-1]) in removed:
        old_last = items[-1]
        new_last = remaining[-1].with_changes(comma=old_last.comma)
        if isinstance(old_last, cst.Arg):
            new_last = new_last.with_changes(
                whitespace_after_arg=old_last.whitespace_after_arg
            )
        remaining[-1] = new_last
    return remaining


def new_dict(elements: list) -> cst.Dict:
    return cst.Dict(append_separated([], elements))


# Expressions that `**` in a dict display takes without parentheses. Others
# that it would take too (`a | b`) get parentheses, which change nothing.
_SPREADABLE = (
    cst.Name,
    cst.Attribute,
    cst.Subscript,
    cst.Call,
    cst.Dict,
    cst.DictComp,
    cst.Await,
)


def spread(value: cst.BaseExpression, may_be_none: bool) -> cst.StarredDictElement:
    """Return `**value` for a dict display, as `**(value or {})` when it may be None.

    `data` is None when a caller leaves it out, and `{**None}` raises
    TypeError. An expression that binds less tightly than `**` allows,
    such as `data or {}`, gets parentheses.
    """
    if _or_empty_dict(value):
        may_be_none = False
    if may_be_none:
        left = value
        if isinstance(left, (cst.IfExp, cst.Lambda, cst.NamedExpr)) and not left.lpar:
            left = _parenthesised(left)
        value = cst.BooleanOperation(
            left=left,
            operator=cst.Or(),
            right=cst.Dict([]),
            lpar=[cst.LeftParen()],
            rpar=[cst.RightParen()],
        )
    elif not isinstance(value, _SPREADABLE) and not value.lpar:
        value = _parenthesised(value)
    return cst.StarredDictElement(value)


def spread_too_old(context: FileContext, value: cst.BaseExpression) -> str | None:
    """Return why `{**value, ...}` cannot be written, if the project declares a Python before 3.5.

    Unpacking with `**` in a dict display is new in Python 3.5.
    """
    return context.python_too_old((3, 5), f"`{{**{quoted_code(value)}, ...}}`")


def non_ascii_too_old(
    context: FileContext, name: str, replaced: cst.CSTNode
) -> str | None:
    """Return why the event name `name` cannot replace `replaced`, if the project declares Python 2.

    Python 2 reads a file as ASCII unless a PEP 263 coding declaration on
    its first two lines names another encoding. None for an ASCII name, and
    for code that was not ASCII already, because Python 2 could not read it.
    """
    if name.isascii() or not code_of(replaced).isascii():
        return None
    if _declares_encoding(context.module):
        return None
    feature = f"the non-ASCII name {name!r} in a file without a coding declaration"
    return context.python_too_old((3, 0), feature)


def _declares_encoding(module: cst.Module) -> bool:
    for line in module.header[:2]:
        if line.comment is not None and CODING_DECLARATION.search(line.comment.value):
            return True
    return False


def _parenthesised(value: cst.BaseExpression) -> cst.BaseExpression:
    return value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


def _or_empty_dict(value: cst.BaseExpression) -> bool:
    """Tell whether `value` is `something or {}`, which is never None."""
    return (
        isinstance(value, cst.BooleanOperation)
        and isinstance(value.operator, cst.Or)
        and isinstance(value.right, cst.Dict)
        and not value.right.elements
    )


def may_be_none(
    index: FileIndex, value: cst.BaseExpression, scope: Scope | None
) -> bool:
    """Tell whether `data=value` may be None: anything but a dict display or `dict(...)`.

    A name counts as a dict only when every binding of it in scope is one.
    """
    if _is_dict(index, value):
        return False
    if isinstance(value, cst.Name) and scope is not None:
        assignments = index.assignments_of(value.value, scope)
        return not assignments or not all(
            assignment.value is not None and _is_dict(index, assignment.value)
            for assignment in assignments
        )
    return True


def _is_dict(index: FileIndex, value: cst.BaseExpression) -> bool:
    if isinstance(value, (cst.Dict, cst.DictComp)):
        return True
    if isinstance(value, cst.Call):
        return dotted_name(value.func) == "dict" and not index.binds_anywhere("dict")
    return False


# -- the event catalog (`cio-fix --list-events`) -----------------------------------


@dataclass
class CatalogEntry:
    """One event name the project sends, or one dynamic name expression."""

    name: str
    dynamic: bool
    # "path:line" of each call that sends it.
    places: list[str] = field(default_factory=list)
    # The name in the configured style, when the name breaks it (for a
    # dynamic name: the static name its fix would send).
    suggested: str | None = None
    # Other names of the project that differ only in case or separators.
    variants: list[str] = field(default_factory=list)
    # Whether a Track API call sends it; Data Pipelines names have no style check.
    track_api: bool = False
    # For a dynamic name whose fix would merge its events into others: the
    # name they would merge into (a name sent, a variant of it, or the fixed
    # name of a different build), and why, as a clause.
    merges_into: str | None = None
    merge_reason: str | None = None
    # For a dynamic name: whether each value in it is one of a few fixed
    # ones (`f"seats_{kind}"` with kind "added" or "removed"), which CIO301
    # accepts as a few distinct events.
    bounded: bool = False
    # For such a name: the names it sends, or None when cio-fix cannot list
    # those of every call.
    picked: list[str] | None = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return sorted({_file_of(place) for place in self.places})


@dataclass
class Catalog:
    """The event names that the files of one project send."""

    # The project's root, as `display_path` shows it ("." for the current folder).
    project: str
    style: str
    entries: list[CatalogEntry]
    # (path, message) of files that could not be read or parsed.
    errors: list[tuple[str, str]]
    # Hard-coded keys, which no output may show.
    secrets: frozenset[str] = frozenset()
    # Files named on the command line that are not Python, which are not read.
    not_python: list[Path] = field(default_factory=list)
    # The calls that send the entries, and those of `unread`. A call whose
    # name takes one of a few values is a call site of each of them, but one
    # call here.
    calls: int = 0
    # "path:line" of each call whose event name cio-fix cannot read.
    unread: list[str] = field(default_factory=list)
    # (name, "path:line") of each name sent through a wrapper function or a
    # `functools.partial`.
    relayed: list[tuple[str, str]] = field(default_factory=list)


def build_catalogs(paths: list[Path], config: Config) -> list[Catalog]:
    """Find every event name that the files under `paths` send, one catalog per project.

    The projects are those that a run over `paths` checks, each with its
    own configuration. A project in which no file was found is left out,
    unless no project has a file. Raises ConfigError when the configuration
    of one of the projects is invalid.
    """
    from cio_fix.engine import split_projects

    catalogs = []
    first = None
    for project, discovered in split_projects(paths, config):
        catalog = _project_catalog(discovered, project)
        if first is None:
            first = catalog
        if discovered.files or discovered.errors or discovered.not_python:
            catalogs.append(catalog)
    if not catalogs and first is not None:
        return [first]
    return catalogs


def _project_catalog(discovered: Discovered, config: Config) -> Catalog:
    """Find every event name that the files of one project send."""
    from cio_fix.checker import NESTED_TOO_DEEPLY, Checker
    from cio_fix.config import client_name_words
    from cio_fix.discovery import build_prefilter
    from cio_fix.engine import display_path, files_to_read

    # Named files list only what they send. The rest of the project is read
    # as a run over them reads it, so that wrappers and constants count.
    all_files, named = files_to_read(discovered, config)
    config = config.with_options(
        select=("CIO303",), ignore=(), unsafe_fixes=False, whole_project=True
    )
    result = RunResult()
    pattern = build_prefilter(
        [*config.client_modules, *client_name_words(config.client_names)]
    )
    raw_files: dict[Path, bytes] = {}
    for path in all_files:
        try:
            raw = path.read_bytes()
        except OSError as error:
            result.errors.append(
                FileError(
                    Path(display_path(path)),
                    f"cannot read: {error.strerror}; check the file's permissions",
                )
            )
            continue
        if pattern.search(raw):
            raw_files[path] = raw

    checker = Checker(config)
    if raw_files:
        checker.check(all_files, raw_files, result)
    entries, calls, too_deep, unread = _catalog_entries(
        checker.contexts.values(), config.event_name_style, named
    )
    for path in too_deep:
        message = (
            f"event names not listed: {NESTED_TOO_DEEPLY}; exclude it if it is"
            " generated code"
        )
        result.errors.append(FileError(path, message))
    # The listing reports no finding, so a rule that did not finish this
    # file leaves the list complete, unless the listing itself did not.
    # The other files were read but are not listed, so their errors are
    # left out, as a run over the named files leaves them out.
    if named is not None:
        result.errors = [
            error for error in result.errors if display_path(error.path) in named
        ]
        for file in result.files:
            file.errors = [
                error for error in file.errors if display_path(error.path) in named
            ]
    result.errors.extend(discovered.errors)
    errors = [
        (error.path.as_posix(), error.message)
        for error in result.all_errors
        if not isinstance(error, PartlyCheckedError)
    ]
    return Catalog(
        display_path(config.root),
        config.event_name_style,
        entries,
        errors,
        frozenset(result.secrets),
        list(discovered.not_python),
        calls,
        unread,
    )


@dataclass
class _DynamicCall:
    """A call of one file that sends a dynamic name, as the catalog lists it."""

    code: str
    place: str
    # For a name picked from a few values: the names it sends, or None
    # when cio-fix cannot list them.
    picked: set[str] | None = None
    bounded: bool = False
    suggested: str | None = None
    signature: str | None = None
    # The attribute keys that the call writes out once its name is fixed.
    keys: frozenset[str] = frozenset()


@dataclass
class _FileNames:
    """The names, call sites and calls that one file adds to the catalog."""

    # The file's names as CIO301 collects them, for the uses of wrappers
    # of other modules.
    facts: FileNames
    # The facts of `facts`, with imported constants read from the project.
    sent: list[NameFact] = field(default_factory=list)
    # (name, place, whether the call goes to the Track API directly).
    static: list[tuple[str, str, bool]] = field(default_factory=list)
    dynamic: list[_DynamicCall] = field(default_factory=list)
    calls: int = 0
    # "path:line" of each call whose event name cio-fix cannot read.
    unread: list[str] = field(default_factory=list)
    # (name, place) of each name sent through a wrapper or a partial, at a
    # place that no source or dynamic call of the file lists.
    relayed: list[tuple[str, str]] = field(default_factory=list)


def _catalog_entries(
    contexts: Iterable[FileContext], style: str, named: set[str] | None = None
) -> tuple[list[CatalogEntry], int, list[Path], list[str]]:
    """Return the catalog entries of the names that `contexts` send.

    Also returns the number of calls, the files that are nested too
    deeply to read (past Python's recursion limit), and the places of the
    calls whose names cio-fix cannot read. Those add no entry, and neither
    does test code. With `named`, only the calls in the files of those
    display paths are listed and counted. The other files still count for
    the wrappers the listed files call and for other spellings.
    """
    from cio_fix.codemods.events import (
        SentNames,
        find_merge,
        pass_through_uses,
        wrapper_use_names,
    )

    static: dict[str, CatalogEntry] = {}
    dynamic: dict[str, CatalogEntry] = {}
    # The names that CIO301 and CIO302 do not fix onto, as they collect them.
    sent = SentNames()
    signatures: dict[str, str] = {}
    fixed_keys: dict[str, frozenset[str]] = {}
    calls = 0
    too_deep = []
    unread: list[str] = []
    wrapped: set[str] = set()
    # The static names of the whole project, listed or not.
    project_names: set[str] = set()
    facts = []
    # Test code's events do not reach the workspace, so CIO303 does not
    # compare its names either.
    workspace = [
        context
        for context in sorted(contexts, key=lambda item: item.display_path)
        if not context.in_test_code
    ]
    # The public pass-through wrappers that the project uses, as (module, name).
    used: set[tuple[str, str]] = set()
    for context in workspace:
        uses = context.shared("pass-through wrapper uses", pass_through_uses)
        used.update(wrapper for wrapper, _ in uses)
    for context in workspace:
        # The file is read in full before any of it enters the catalog, so
        # that a file that stops halfway adds nothing.
        try:
            names = _file_names(context, used)
        except RecursionError:
            too_deep.append(Path(context.display_path))
            continue
        facts.append((context.index.module_name, names.facts))
        for fact in names.sent:
            sent.add(fact)
        project_names.update(name for name, _, _ in names.static)
        project_names.update(name for name, _ in names.relayed)
        if named is not None and context.display_path not in named:
            # Read for the wrappers, merges and variants of the files listed.
            names = _FileNames(names.facts)
        calls += names.calls
        unread.extend(names.unread)
        for name, place, track_api in names.static:
            entry = static.setdefault(name, CatalogEntry(name, dynamic=False))
            entry.places.append(place)
            entry.track_api = entry.track_api or track_api
        for call in names.dynamic:
            entry = dynamic.setdefault(call.code, CatalogEntry(call.code, dynamic=True))
            entry.places.append(call.place)
            if call.bounded:
                entry.bounded = True
                if entry.picked is None or call.picked is None:
                    entry.picked = None
                else:
                    entry.picked = sorted(set(entry.picked) | call.picked)
            elif call.signature is not None:
                entry.suggested = call.suggested
                signatures[call.code] = call.signature
                fixed_keys[call.code] = call.keys
        # The names that a wrapper function or a `functools.partial` sends,
        # which CIO301 reads but `name_sources` does not.
        for name, place in names.relayed:
            _add_relayed(static, name, place)
            if place not in wrapped:
                wrapped.add(place)
                calls += 1

    # The names that other modules pass to this project's wrappers.
    relayed, relayed_unread = wrapper_use_names(facts)
    if named is not None:
        relayed_unread = [place for place in relayed_unread if _file_of(place) in named]
    unread.extend(relayed_unread)
    calls += len(relayed_unread)
    project_names.update(name for name, _ in relayed)
    for name, place in relayed:
        sent.add((name, "", place, "", "", frozenset()))
        if named is not None and _file_of(place) not in named:
            continue
        if _add_relayed(static, name, place):
            calls += 1

    for code, entry in dynamic.items():
        if entry.suggested is None:
            continue
        merge = find_merge(sent, entry.suggested, signatures[code], fixed_keys[code])
        if merge is not None:
            entry.merges_into = merge.name
            entry.merge_reason = merge.summary
            entry.suggested = None

    for entry in static.values():
        personal = personal_data_in_text(entry.name)
        if entry.track_api and (personal or not follows_style(entry.name, style)):
            # As CIO302 does, the personal data leaves the suggested name.
            text = entry.name
            for start, end, _ in reversed(personal):
                text = text[:start] + "_" + text[end:]
            entry.suggested = to_style(text, style) or None
        entry.variants = sorted(
            other
            for other in project_names
            if other != entry.name and variant_key(other) == variant_key(entry.name)
        )
    entries = sorted(static.values(), key=lambda entry: entry.name) + sorted(
        dynamic.values(), key=lambda entry: entry.name
    )
    return entries, calls, too_deep, unread


def _file_of(place: str) -> str:
    """Return the display path of a "path:line" place."""
    return place.rsplit(":", 1)[0]


def _add_relayed(static: dict[str, CatalogEntry], name: str, place: str) -> bool:
    """Add a place that sends `name` through a wrapper; False when it is listed."""
    entry = static.setdefault(name, CatalogEntry(name, dynamic=False))
    if place in entry.places:
        return False
    entry.places.append(place)
    entry.track_api = True
    return True


def _file_names(context: FileContext, used: set[tuple[str, str]]) -> _FileNames:
    """Read what one file adds to the catalog. Raises RecursionError on a deeply nested file.

    `used` contains the public pass-through wrappers, as (module, name),
    that the project uses (`pass_through_places`).
    """
    from cio_fix.codemods.events import (
        build_signature,
        fixed_call_keys,
        pass_through_places,
        sent_name_facts,
        unfollowed_wrapper_uses,
    )
    from cio_fix.name_constants import sent_texts

    file_names = sent_name_facts(context)
    names = _FileNames(file_names)
    for fact in file_names.facts:
        if fact[1]:
            resolved = resolve_constant(context, fact[1])
            if resolved is None:
                continue
            fact = (resolved[1], *fact[1:])
        names.sent.append(fact)
    sources = list(name_sources(context))
    # A build with one fixed value is a source of that name (`_value_sources`).
    built_names = [
        (call, argument, branch)
        for call, argument, branch in name_calls(context)
        if branch.built is not None
        and branch.built.is_dynamic
        and _one_fixed_name(context, branch.scope, branch.built) is None
    ]
    # A call whose name is a conditional expression may give sources,
    # builds and an unread branch, and is one call.
    counted = {id(source.expression) for source in sources}
    names.calls += len(counted)
    listed = {source.place for source in sources}
    built_places = {_place(context, argument.value) for _, argument, _ in built_names}
    relayed = {place for _, place in file_names.relayed}
    # A public pass-through wrapper's event name is a parameter. The calls
    # of the wrapper are the call sites of the names it sends.
    forwarded = pass_through_places(context, used)
    for place in file_names.unread:
        if place in forwarded:
            continue
        if place in listed and place not in file_names.mutable:
            continue
        names.unread.append(place)
        if place not in relayed and place not in listed and place not in built_places:
            names.calls += 1
    for place in unfollowed_wrapper_uses(context):
        if place not in names.unread:
            names.unread.append(place)
            names.calls += 1
    for source in sources:
        name = source.name
        if source.constant is not None:
            resolved = resolve_constant(context, source.constant)
            if resolved is None:
                continue
            name = resolved[1]
        names.static.append((name, source.place, not source.pipelines))
    for call, argument, branch in built_names:
        built = branch.built
        assert built is not None
        if id(argument.value) not in counted:
            counted.add(id(argument.value))
            names.calls += 1
        # The catalog lists each name on one line, without the comments that
        # would hide the code after them once its lines are joined.
        code = one_line(quoted_code(built.node, context.module))
        dynamic = _DynamicCall(code, _place(context, argument.value))
        if _picked_from_few(context, branch.scope, built):
            dynamic.bounded = True
            dynamic.picked = sent_texts(context, branch.scope, built)
        elif built.supported:
            split = split_personal_data(built)
            fixed = _fixed_name(context, branch.scope, split)
            if fixed is not None and fixed.text:
                dynamic.suggested = fixed.text
                dynamic.keys = fixed_call_keys(context, call, split, fixed)
            dynamic.signature = build_signature(split)
        names.dynamic.append(dynamic)
        listed.add(dynamic.place)
    names.relayed = [
        (name, place) for name, place in file_names.relayed if place not in listed
    ]
    return names


def _place(context: FileContext, node: cst.CSTNode) -> str:
    return f"{context.display_path}:{context.position(node).start.line}"


def _fixed_name(
    context: FileContext, scope: Scope, built: BuiltName
) -> FixedName | None:
    """Return the name that the CIO301 or CIO302 fix makes of `built`, or None if unreadable."""
    from cio_fix.name_constants import UnknownPart, fixed_name

    try:
        return fixed_name(context, scope, built)
    except UnknownPart:
        return None


def _picked_from_few(context: FileContext, scope: Scope, built: BuiltName) -> bool:
    """Tell whether each value in a name is one of a few fixed ones, as CIO301 accepts."""
    from cio_fix.codemods.events import is_bounded

    return built.supported and all(
        is_bounded(context, scope, part.expression) for part in built.values
    )


def catalog_json(catalogs: list[Catalog]) -> str:
    """Return the catalogs of one or more projects as one JSON document."""
    return json.dumps(catalog_document(catalogs), indent=2)


def catalog_document(catalogs: list[Catalog]) -> dict[str, object]:
    """Build the JSON object of the catalogs of one or more projects.

    Each event names its project. The top-level `style` is the style that
    every project uses, or null when the projects use different ones. With
    no catalogs, it is the object that a configuration error fills in.
    """
    events = []
    for catalog in catalogs:
        for entry in catalog.entries:
            events.append(_entry_json(entry, catalog.project))
    errors = [
        {"path": path, "message": message}
        for catalog in catalogs
        for path, message in catalog.errors
    ]
    styles = {catalog.style for catalog in catalogs}
    return {
        "version": 1,
        "style": styles.pop() if len(styles) == 1 else None,
        "projects": [
            {"path": catalog.project, "style": catalog.style} for catalog in catalogs
        ],
        "events": events,
        "unread": [
            _place_json(place, catalog.project)
            for catalog in catalogs
            for place in catalog.unread
        ],
        "errors": errors,
    }


def _place_json(place: str, project: str) -> dict[str, object]:
    path, _, line = place.rpartition(":")
    return {"path": path, "line": int(line), "project": project}


def _entry_json(entry: CatalogEntry, project: str) -> dict[str, object]:
    places = []
    for place in entry.places:
        path, _, line = place.rpartition(":")
        places.append({"path": path, "line": int(line)})
    return {
        "name": entry.name,
        "project": project,
        "dynamic": entry.dynamic,
        "bounded": entry.bounded,
        "calls": len(entry.places),
        "files": entry.files,
        "places": places,
        "follows_style": None if entry.dynamic else entry.suggested is None,
        "suggested": entry.suggested,
        "merges_into": entry.merges_into,
        "picked": entry.picked if entry.bounded else None,
        "variants": entry.variants,
    }


def catalog_lines(catalogs: list[Catalog]) -> list[str]:
    """Return the catalogs as text, under a heading per project when there are several."""
    if len(catalogs) == 1:
        return _project_lines(catalogs[0])
    lines = []
    for catalog in catalogs:
        if lines:
            lines.append("")
        lines.append(f"Project {catalog.project}:")
        lines.extend(_project_lines(catalog))
    return lines


# The places of calls with unread names that `--list-events` shows.
MAX_UNREAD_SHOWN = 5


def _project_lines(catalog: Catalog) -> list[str]:
    """Return one project's catalog as text: one line per name, then what is wrong with it."""
    if not catalog.entries:
        return ["No event names found.", *_unread_lines(catalog, listed=False)]
    width = max(cell_len(entry.name) for entry in catalog.entries)
    lines = []
    for entry in catalog.entries:
        calls = plural(len(entry.places), "call")
        name = _pad_cells(entry.name, width)
        lines.append(f"{name}  {calls:<8}  {', '.join(entry.files)}")
        notes = []
        if entry.dynamic and entry.bounded and entry.picked and len(entry.picked) == 1:
            notes.append(f"one fixed value: {entry.picked[0]!r}")
        elif entry.dynamic and entry.bounded and entry.picked:
            notes.append(
                "picked from a few fixed values, a few distinct events: "
                + ", ".join(repr(name) for name in entry.picked)
            )
        elif entry.dynamic and entry.bounded:
            notes.append("picked from a few fixed values, a few distinct events")
        elif entry.dynamic and entry.merge_reason is not None:
            notes.append(
                f"built from values; {entry.merge_reason}, so it needs a name of"
                " its own"
            )
        elif entry.dynamic:
            built_as = (
                f"; a fixed name would be {entry.suggested!r}"
                if entry.suggested
                else ""
            )
            notes.append(f"built from values{built_as}")
        elif entry.suggested is not None:
            notes.append(
                f"breaks the {catalog.style} style; would be {entry.suggested!r}"
            )
        if entry.variants:
            notes.append(
                "other spellings: " + ", ".join(repr(name) for name in entry.variants)
            )
        for note in notes:
            lines.append(f"{' ' * width}  {note}")
    lines.append("")
    lines.append(
        f"{plural(len(catalog.entries), 'event name')},"
        f" {plural(catalog.calls, 'call site')}, style {catalog.style}."
    )
    lines.extend(_unread_lines(catalog))
    return lines


def _pad_cells(text: str, width: int) -> str:
    """Pad `text` with spaces to `width` terminal cells, as rich measures them.

    A wide character (CJK, full-width forms) takes two cells and a
    combining mark none, so a padded character count would misalign them.
    """
    return text + " " * (width - cell_len(text))


def _unread_lines(catalog: Catalog, listed: bool = True) -> list[str]:
    """Say which calls send names that cio-fix cannot read, which no entry lists.

    `listed` is whether names are listed above the lines.
    """
    if not catalog.unread:
        return []
    shown = ", ".join(catalog.unread[:MAX_UNREAD_SHOWN])
    more = len(catalog.unread) - MAX_UNREAD_SHOWN
    if more > 0:
        shown += f" and {more} more"
    if not listed:
        return [
            f"cio-fix cannot read the event names sent at {shown}, so the project"
            " may send names there that this list cannot show."
        ]
    return [
        f"cio-fix cannot read the event names sent at {shown}, so a fixed name"
        " above may already be sent there."
    ]

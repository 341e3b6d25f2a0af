"""The policy language's regular expressions are RE2, the syntax the cluster engines use.

Kyverno's CEL `matches()`, policy-controller's `subjectRegExp` and OPA's `regex.match` are all Go
`regexp`, i.e. RE2: no lookaround, no backreferences, no possessive or atomic groups. Checking
(and matching) with RE2 here means a policy that loads in sccheck is one the cluster accepts, and
that both read a pattern the same way (`\\d` is ASCII digits, `.` does not match a newline).
"""

from __future__ import annotations

import functools
from typing import Any, Protocol, cast

import re2  # type: ignore[import-untyped]

from supplychain.errors import PolicyError

# Constructs that Python's `re` accepts and RE2 refuses, with the words to explain them.
_PYTHON_ONLY = (
    ("(?=", "lookahead (?=...)"), ("(?!", "negative lookahead (?!...)"),
    ("(?<=", "lookbehind (?<=...)"), ("(?<!", "negative lookbehind (?<!...)"),
    ("(?>", "atomic group (?>...)"), ("(?P=", "named backreference (?P=name)"),
    ("(?#", "comment group (?#...)"),
)


class Compiled(Protocol):
    def fullmatch(self, text: str) -> object | None: ...


def _options() -> Any:
    opts = re2.Options()
    opts.log_errors = False        # the reason goes into the PolicyError, not onto stderr
    return opts


def _explain(pattern: str, message: str) -> str:
    for token, words in _PYTHON_ONLY:
        if token in pattern:
            return f"{words} is not RE2"
    for digit in "123456789":
        if "\\" + digit in pattern:
            return f"backreference \\{digit} is not RE2"
    return message


@functools.lru_cache(maxsize=512)
def compile_re2(pattern: str) -> Compiled:
    """Compile with RE2 or raise a PolicyError saying what RE2 refused."""
    try:
        return cast(Compiled, re2.compile(pattern, _options()))
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) \
            else str(exc)
        raise PolicyError(
            f"regular expression {pattern!r} is not valid RE2: {_explain(pattern, reason)}",
            expected="RE2 syntax (as Go's regexp, Kyverno, policy-controller and OPA read it)",
            found=reason,
            fix="rewrite without lookaround or backreferences; e.g. list the allowed values as "
                "alternatives (a|b|c)",
        ) from None


def fullmatch(pattern: str, text: str) -> bool:
    return compile_re2(pattern).fullmatch(text) is not None

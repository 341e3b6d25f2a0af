"""A yes-or-unsure check of a document against the policy schema, without jsonschema.

    conforms(policy_schema(), doc)  # True: valid under Draft 2020-12; False: ask jsonschema

Loading jsonschema costs more than the rest of a policy load (its format module and the
libraries it probes), and most policies a command reads are valid. So the loader asks this
check first and only a document it does not vouch for goes to jsonschema, which then decides
and words the error exactly as before.

Only `True` is ever trusted, so the check may be incomplete but never lenient: a keyword it
does not know, a `$ref` it cannot follow, or a value that is not a JSON value (a YAML date, a
non-string key) makes it answer False. It implements the keywords of our schema with
Draft 2020-12's meaning: `format` is an annotation (the loader builds its validator without a
format checker), `integer` admits 2.0, and `true`/`1` are different values.
"""

from __future__ import annotations

import re
from typing import Any

_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "title", "description", "default",
                          "examples", "format", "deprecated", "readOnly", "writeOnly", "$defs"})


class _Unsure(Exception):
    """The check cannot decide; jsonschema will."""


def conforms(schema: dict[str, Any], doc: Any) -> bool:
    """True only if `doc` is valid under `schema` (the policy schema's subset of Draft 2020-12)."""
    try:
        return _Checker(schema).valid(doc, schema, 0)
    except (_Unsure, RecursionError, re.error):
        return False


_KINDS = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in _KINDS:   # bool before int: True is not a number here
        if isinstance(value, kind):
            return name
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return "object"
    raise _Unsure   # not a JSON value


def _is_type(value: Any, name: str) -> bool:
    kind = _json_type(value)
    if name == "number":
        return kind in ("integer", "number")
    if name == "integer":
        return kind == "integer" or (kind == "number" and float(value).is_integer())
    if name not in ("null", "boolean", "string", "array", "object"):
        raise _Unsure
    return kind == name


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true is not 1, and containers compare member by member."""
    ka, kb = _json_type(a), _json_type(b)
    if {ka, kb} <= {"integer", "number"}:
        return bool(a == b)
    if ka != kb:
        return False
    if ka == "array":
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if ka == "object":
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


class _Checker:
    MAX_DEPTH = 64
    MAX_UNIQUE = 512

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.patterns: dict[str, re.Pattern[str]] = {}

    def _ref(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise _Unsure
        node: Any = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise _Unsure
            node = node[part]
        return node

    def _search(self, pattern: str, text: str) -> bool:
        compiled = self.patterns.get(pattern)
        if compiled is None:
            compiled = self.patterns[pattern] = re.compile(pattern)
        return compiled.search(text) is not None

    def valid(self, value: Any, schema: Any, depth: int) -> bool:
        if schema is True:
            return True
        if schema is False:
            return False
        if not isinstance(schema, dict) or depth > self.MAX_DEPTH:
            raise _Unsure
        for key, arg in schema.items():
            if key in _ANNOTATIONS:
                continue
            check = self.k_ref if key == "$ref" else (
                None if key.startswith("$") or key == "ref" else getattr(self, "k_" + key, None))
            if check is None:
                raise _Unsure   # a keyword this check does not implement
            if not check(value, arg, schema, depth):
                return False
        return True

    # One method per keyword: (instance, the keyword's value, the schema, depth) -> valid?

    def k_ref(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return self.valid(value, self._ref(arg), depth + 1)

    def k_type(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        names = arg if isinstance(arg, list) else [arg]
        return any(_is_type(value, n) for n in names)

    def k_const(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return _equal(value, arg)

    def k_enum(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return any(_equal(value, option) for option in arg)

    def k_pattern(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not isinstance(value, str) or self._search(arg, value)

    def k_minLength(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not isinstance(value, str) or len(value) >= arg

    def k_maxLength(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not isinstance(value, str) or len(value) <= arg

    def _number(self, value: Any) -> bool:
        return _json_type(value) in ("integer", "number")

    def k_minimum(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not self._number(value) or value >= arg

    def k_maximum(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not self._number(value) or value <= arg

    def k_minItems(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not isinstance(value, list) or len(value) >= arg

    def k_maxItems(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not isinstance(value, list) or len(value) <= arg

    def k_uniqueItems(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        if not arg or not isinstance(value, list):
            return True
        if len(value) > self.MAX_UNIQUE:
            raise _Unsure   # quadratic here; jsonschema has its own way
        return not any(_equal(value[i], value[j]) for i in range(len(value)) for j in range(i))

    def k_items(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        if "prefixItems" in schema or not isinstance(arg, (dict, bool)):
            raise _Unsure
        return not isinstance(value, list) or all(self.valid(v, arg, depth + 1) for v in value)

    def k_minProperties(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not isinstance(value, dict) or len(value) >= arg

    def k_maxProperties(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not isinstance(value, dict) or len(value) <= arg

    def k_required(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not isinstance(value, dict) or all(name in value for name in arg)

    def k_properties(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        if not isinstance(value, dict):
            return True
        return all(self.valid(value[name], sub, depth + 1) for name, sub in arg.items() if name in value)

    def k_additionalProperties(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        if "patternProperties" in schema:
            raise _Unsure
        if not isinstance(value, dict):
            return True
        known = schema.get("properties", {})
        return all(self.valid(v, arg, depth + 1) for k, v in value.items() if k not in known)

    def k_propertyNames(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not isinstance(value, dict) or all(self.valid(k, arg, depth + 1) for k in value)

    def k_oneOf(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return sum(1 for sub in arg if self.valid(value, sub, depth + 1)) == 1

    def k_anyOf(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return any(self.valid(value, sub, depth + 1) for sub in arg)

    def k_allOf(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return all(self.valid(value, sub, depth + 1) for sub in arg)

    def k_not(self, value: Any, arg: Any, schema: dict[str, Any], depth: int) -> bool:
        return not self.valid(value, arg, depth + 1)

"""The YAML loader of `supplychain.strictdoc.load_yaml`: PyYAML's SafeLoader without aliases,
merge keys, duplicate keys or implicit timestamps, and with a nesting cap. A module of its own
so that commands that read no YAML file do not import the parser."""

from __future__ import annotations

from typing import Any

import yaml

from supplychain.strictdoc import MAX_YAML_DEPTH


class Refused(yaml.YAMLError):
    def __init__(self, message: str, node_or_event: Any = None, fix: str | None = None) -> None:
        mark = getattr(node_or_event, "start_mark", None)
        super().__init__(f"{message} (line {mark.line + 1})" if mark is not None else message)
        self.message = str(self.args[0])
        self.fix = fix


class StrictYamlLoader(yaml.SafeLoader):
    """SafeLoader without aliases, merge keys, duplicate keys or implicit timestamps, and with
    a nesting cap (the composer recurses once per level)."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    max_depth = MAX_YAML_DEPTH

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise Refused("YAML aliases are not supported", self.peek_event(),  # type: ignore[no-untyped-call]
                           fix="write the value out in full")
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise Refused(f"the document nests more than {self.max_depth} levels",
                               self.peek_event())  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise Refused("YAML merge keys (<<) are not supported", key_node)
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                fresh = key not in seen
            except TypeError:  # an unhashable key: SafeLoader refuses it with its own words
                break
            if not fresh:
                raise Refused(f"duplicate key {key!r}", key_node, fix="a key may appear once; remove one")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

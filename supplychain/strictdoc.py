"""The two readers of untrusted documents: strict JSON and strict YAML.

`load_json` reads everything that comes over the network or out of an image (manifests,
indexes, configs, referrer lists, bundles, statements, token answers): size capped, nesting
depth capped, duplicate keys and the non-JSON constants NaN/Infinity refused.

`load_yaml` reads every configuration file (policies, sccheck.yaml, harden config, promotion
batches, Kubernetes manifests): size and depth capped, and no aliases, merge keys, duplicate keys,
implicit timestamps or Python tags. A file reads the same to people and to the tool.

Both raise the `Error` subclass the caller names, so a policy file is a PolicyError (exit 2)
and a manifest an ImageError, with the place of the problem in the message.
"""

from __future__ import annotations

import json
from typing import Any

from supplychain.errors import Error, ImageError, UsageError

MAX_JSON_BYTES = 16 << 20
MAX_JSON_DEPTH = 100
MAX_YAML_BYTES = 1 << 20
MAX_YAML_DEPTH = 64


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(f"duplicate JSON key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_depth(doc: Any) -> int:
    """How deeply arrays and objects nest in a parsed document (iterative: never recurses)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def load_json(data: bytes | str, what: str = "document", *, max_bytes: int = MAX_JSON_BYTES,
              max_depth: int = MAX_JSON_DEPTH, error: type[Error] = ImageError) -> Any:
    """Parse untrusted JSON. Refuses: more than `max_bytes`, nesting deeper than `max_depth`,
    duplicate keys, NaN/Infinity, invalid UTF-8. Raises `error` saying which."""
    size = len(data)
    if size > max_bytes:
        raise error(f"{what} is too large", expected=f"at most {max_bytes} bytes", found=f"{size} bytes")
    try:
        doc = json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _Duplicate as exc:
        raise error(f"{what} has a {exc}",
                    fix="refuse ambiguous documents: each key may appear once") from None
    except RecursionError:
        raise error(f"{what} is nested too deeply", expected=f"at most {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{what} is not valid JSON: {str(exc)[:200]}") from None
    depth = json_depth(doc)
    if depth > max_depth:
        raise error(f"{what} is nested too deeply", expected=f"at most {max_depth} levels",
                    found=f"{depth} levels")
    return doc


def load_yaml(data: bytes | str, source: str, *, multi: bool = False, max_bytes: int = MAX_YAML_BYTES,
              error: type[Error] = UsageError) -> Any:
    """Parse a configuration file strictly. `multi` returns the list of its documents."""
    import yaml  # only commands that read a YAML file pay for the parser (~25 ms)

    from supplychain._strictyaml import Refused, StrictYamlLoader

    if len(data) > max_bytes:
        raise error(f"{source} is too large", expected=f"at most {max_bytes} bytes",
                    found=f"{len(data)} bytes")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        loader = StrictYamlLoader(text)
        try:
            if multi:
                docs = []
                while loader.check_data():  # type: ignore[no-untyped-call]
                    docs.append(loader.get_data())  # type: ignore[no-untyped-call]
                return docs
            return loader.get_single_data()  # type: ignore[no-untyped-call]
        finally:
            loader.dispose()  # type: ignore[no-untyped-call]
    except Refused as exc:
        raise error(f"{source}: {exc.message}", fix=exc.fix or "write plain YAML") from None
    except RecursionError:
        raise error(f"{source}: the document nests too deeply",
                    expected=f"at most {MAX_YAML_DEPTH} levels") from None
    except UnicodeDecodeError as exc:
        raise error(f"{source} is not valid YAML: not UTF-8 ({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise error(f"{source} is not valid YAML: {str(exc)[:400]}",
                    fix="check indentation and quoting") from None


def read_config_file(path: str, what: str, max_bytes: int = MAX_YAML_BYTES) -> bytes:
    """A user's file (a batch list, ...) read whole, refused when larger than `max_bytes`."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(raw) > max_bytes:
        raise UsageError(f"{what} {path} is too large", expected=f"at most {max_bytes} bytes")
    return raw

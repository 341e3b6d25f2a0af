"""The quick policy-schema check agrees with jsonschema: it vouches for exactly the documents
jsonschema accepts (never for one it refuses), on every shipped and test policy and on
thousands of seeded mutations of them, and it leaves to jsonschema whatever it cannot judge."""

from __future__ import annotations

import copy
import datetime as dt
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from supplychain.policy.loader import policy_schema
from supplychain.policy.schemacheck import conforms
from tests.conftest import ROOT

VALUES: list[Any] = [None, True, False, 0, 1, -1, 2.0, 1.5, 10**12, "", "x", "sha256:" + "a" * 64,
                     "https://accounts.example.com", "a" * 300, [], [1], ["a", "a"], ["a", "b"], {},
                     {"unknown": 1}, {"name": "x"}, "1h", "720h", "2027-01-01", [{"id": "GO-1"}]]


def corpus() -> list[dict[str, Any]]:
    docs = []
    places = [ROOT / "policies", ROOT / "supplychain" / "policies", ROOT / "tests" / "policy" / "assets"]
    for path in sorted(p for place in places for p in place.rglob("*.yaml")):
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            continue
        if isinstance(doc, dict):
            docs.append(doc)
    assert len(docs) >= 10
    return docs


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, (*at, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _paths(v, (*at, i))
    return found


def mutate(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        path = rng.choice(_paths(out)[1:] or [()])
        if not path:
            continue
        parent = out
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        op = rng.randrange(5)
        if op == 0 and isinstance(parent, dict):
            del parent[last]
        elif op == 1 and isinstance(parent, dict):
            parent[rng.choice(["extra", "builderID", "name", "every", "allow"])] = rng.choice(VALUES)
        elif op == 2 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
        else:
            parent[last] = copy.deepcopy(rng.choice(VALUES))
    return out


def test_agrees_with_jsonschema_on_policies_and_their_mutations() -> None:
    schema = policy_schema()
    validator = jsonschema.Draft202012Validator(schema)
    rng = random.Random(20261203)
    docs = corpus()
    verdicts = {True: 0, False: 0}
    for doc in docs + [mutate(rng.choice(docs), rng) for _ in range(8000)]:
        expected = validator.is_valid(doc)
        assert conforms(schema, doc) is expected, yaml.safe_dump(doc)[:2000]
        verdicts[expected] += 1
    # Both answers occur often, so agreement is not the trivial kind.
    assert verdicts[True] > 300 and verdicts[False] > 300, verdicts


@pytest.mark.parametrize(("schema", "doc"), [
    ({"type": "object", "unevaluatedProperties": False}, {}),        # a keyword it does not implement
    ({"$ref": "https://example.com/other.json"}, {}),                  # a reference it cannot follow
    ({"type": "string"}, dt.date(2027, 1, 1)),                         # not a JSON value
    ({"type": "object"}, {1: "x"}),                                    # a key that is not a string
    ({"items": [{"type": "string"}]}, ["a"]),                          # the old array form of items
])
def test_what_it_cannot_judge_goes_to_jsonschema(schema: dict[str, Any], doc: Any) -> None:
    assert conforms(schema, doc) is False


@pytest.mark.parametrize(("schema", "doc", "valid"), [
    ({"const": 1}, True, False),
    ({"const": 1}, 1.0, True),
    ({"enum": [False]}, 0, False),
    ({"type": "integer"}, 2.0, True),
    ({"type": "integer"}, True, False),
    ({"type": "number"}, False, False),
    ({"uniqueItems": True}, [1, True], True),
    ({"uniqueItems": True}, [{"a": 1}, {"a": 1.0}], False),
    ({"pattern": "^a"}, 5, True),
    ({"pattern": "b"}, "abc", True),
    ({"format": "date"}, "not a date", True),   # an annotation, as the loader's validator treats it
    ({"oneOf": [{"type": "string"}, {"minLength": 1}]}, "x", False),
    ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}, False),
])
def test_draft_2020_12_meanings(schema: dict[str, Any], doc: Any, valid: bool) -> None:
    assert jsonschema.Draft202012Validator(schema).is_valid(doc) is valid   # the reference first
    assert conforms(schema, doc) is valid


def test_a_valid_policy_loads_without_jsonschema_and_a_bad_one_is_worded_by_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "policies" / "examples" / "key-based.yaml").read_text() + "surprise: 1\n")
    script = ("import sys\n"
              "from supplychain.policy.loader import load_policy\n"
              f"load_policy({str(ROOT / 'policies' / 'examples' / 'release-gate.yaml')!r})\n"
              "print('jsonschema' in sys.modules)\n"
              "try:\n"
              f"    load_policy({str(bad)!r})\n"
              "except Exception as exc:\n"
              "    print('jsonschema' in sys.modules, exc)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    first, second = out.stdout.splitlines()[:2]
    assert first == "False"
    assert second.startswith("True") and "unknown field 'surprise'" in second

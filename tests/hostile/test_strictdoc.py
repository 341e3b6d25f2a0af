"""The two readers of untrusted documents refuse what is ambiguous, huge or nested without end."""

from __future__ import annotations

import pytest

from supplychain.errors import ImageError, PolicyError, UsageError
from supplychain.policy.loader import parse_policy
from supplychain.strictdoc import MAX_JSON_DEPTH, json_depth, load_json, load_yaml


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 1_000_000])
def test_json_nested_past_the_cap_is_refused_not_a_recursion_error(depth: int) -> None:
    with pytest.raises(ImageError, match="nested too deeply"):
        load_json(b"[" * depth + b"]" * depth, "manifest")


def test_json_at_the_cap_is_read() -> None:
    doc = load_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert json_depth(doc) == MAX_JSON_DEPTH


@pytest.mark.parametrize(("data", "message"), [
    (b'{"a": 1, "a": 2}', "duplicate JSON key 'a'"),
    (b'{"a": NaN}', "not valid JSON"),
    (b'[Infinity]', "not valid JSON"),
    (b'\xff\xfe', "not valid JSON"),
    (b'{"a": 1', "not valid JSON"),
])
def test_json_ambiguities_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        load_json(data)


def test_json_size_cap_is_checked_before_parsing() -> None:
    with pytest.raises(UsageError, match="too large"):
        load_json(b" " * 101, "thing", max_bytes=100, error=UsageError)


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    "".join(" " * i + "k:\n" for i in range(3000)),
    "- " * 100_000 + "x",
])
def test_yaml_nested_100000_levels_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match=r"nests more than|not valid YAML"):
        load_yaml(text.encode(), "sccheck.yaml", max_bytes=10 << 20)


@pytest.mark.parametrize(("text", "message"), [
    ("a: 1\na: 2\n", "duplicate key 'a' (line 2)"),
    ("a: &x 1\nb: *x\n", "YAML aliases are not supported"),
    ("a: {x: 1}\nb:\n  <<: {x: 2}\n", "merge keys"),
    ("a: !!python/object:os.system x\n", "not valid YAML"),
])
def test_yaml_strictness_is_the_same_for_every_file(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_yaml(text, "f.yaml")


def test_yaml_dates_stay_strings() -> None:
    assert load_yaml("d: 2026-01-01\n", "f.yaml") == {"d": "2026-01-01"}


def test_a_deep_policy_is_a_policy_error() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(b"name: " + b"[" * 100_000 + b"]" * 100_000)
    assert info.value.exit_code == 2

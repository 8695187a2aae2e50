"""Loading requests: positions in JSON and YAML, nulls, and bad input."""
from __future__ import annotations

import json

import pytest

from smlint.findings import Span
from smlint.job import source
from smlint.job.source import RequestError, json_positions, parse_request

JSON_TEXT = """{
  "ProcessingJobName": "churn",
  "AppSpecification": {
    "ImageUri": "img:1",
    "ContainerArguments": ["--in", "x"]
  },
  "Environment": {"A/B": "1", "T~X": "2", "\\u00e9t\\u00e9": "3"}
}
"""

YAML_TEXT = """# comment line
ProcessingJobName: churn
AppSpecification:
  ImageUri: "img:1"
  ContainerArguments:
    - --in
    - x
Environment: {A/B: "1"}
"""


def test_json_positions_point_at_key_through_value():
    request = parse_request(JSON_TEXT.encode(), "r.json")
    assert request.span("/ProcessingJobName") == Span(2, 3, 2, 31)
    assert request.span("/AppSpecification/ImageUri") == Span(4, 5, 4, 24)
    # array items: the item itself
    assert request.span("/AppSpecification/ContainerArguments/1") == Span(5, 36, 5, 39)
    # containers: their member name only
    assert request.span("/AppSpecification") == Span(3, 3, 3, 21)
    # escaped pointer tokens and escaped names
    assert request.span("/Environment/A~1B").line == 7
    assert request.span("/Environment/T~0X").column == 31
    assert request.span("/Environment/\u00e9t\u00e9").column == 43
    # a missing field falls back to its parent object
    assert request.span("/AppSpecification/ContainerEntrypoint") == request.span("/AppSpecification")


def test_yaml_positions():
    request = parse_request(YAML_TEXT.encode(), "r.yaml")
    assert request.syntax == "yaml"
    assert request.span("/ProcessingJobName") == Span(2, 1, 2, 25)
    assert request.span("/AppSpecification/ImageUri") == Span(4, 3, 4, 20)
    assert request.span("/AppSpecification/ContainerArguments/1") == Span(7, 7, 7, 8)
    assert request.span("/AppSpecification/ContainerArguments") == Span(5, 3, 5, 21)
    assert request.span("/Environment/A~1B") == Span(8, 15, 8, 23)


def test_yaml_keys_keep_their_text_and_values_their_type():
    request = parse_request(b"Environment:\n  1: yes\n  B: 2\n", "r.yml")
    assert request.data == {"Environment": {"1": True, "B": 2}}


def test_nulls_are_absent_processingjobconfig_shape():
    text = json.dumps({"ProcessingJobArn": "arn:x", "AppSpecification": {"ImageUri": "i", "ContainerEntrypoint": None},
                       "ProcessingOutputConfig": {"Outputs": [], "KmsKeyId": None}})
    request = parse_request(text.encode(), "processingjobconfig.json")
    assert request.data == {"ProcessingJobArn": "arn:x", "AppSpecification": {"ImageUri": "i"},
                            "ProcessingOutputConfig": {"Outputs": []}}


def test_positions_of_crlf_and_bom_files():
    text = '\ufeff{\r\n  "ProcessingJobName": "x"\r\n}\r\n'
    request = parse_request(text.encode("utf-8"), "r.json")
    assert request.span("/ProcessingJobName") == Span(2, 3, 2, 27)


@pytest.mark.parametrize(
    "raw,name,words,span",
    [
        (b'{\n  "ProcessingJobName": "x",\n}', "r.json", "not valid JSON", Span(3, 1)),
        (b'{"a": tru}', "r.json", "not valid JSON", Span(1, 7)),
        (b"[1, 2]", "r.json", "holds an array at the top level", Span(1, 1)),
        (b"42", "r.json", "holds an integer at the top level", Span(1, 1)),
        (b'"x"', "r.json", "holds a string", Span(1, 1)),
        (b"", "r.json", "is empty", None),
        (b"  \n\n", "r.yaml", "is empty", None),
        (b"a: [1,\nb: 2\n", "r.yaml", "not valid YAML", Span(3, 1)),
        (b"a: b: c\n", "r.yaml", "not valid YAML", Span(1, 5)),
        (b"- 1\n- 2\n", "r.yaml", "holds an array", Span(1, 1)),
        (b"a: 1\n---\nb: 2\n", "r.yaml", "not valid YAML", Span(2, 1)),
        (b"a: !!python/object:os.system x\n", "r.yaml", "not a plain YAML request", Span(1, 4)),
        (b"{\x00}", "r.json", "binary", None),
        (b'{"a": "\xff"}', "r.json", "not valid UTF-8", Span(1, 1)),
        (b"# only a comment\n", "r.yaml", "holds no YAML document", None),
    ],
)
def test_bad_input_is_a_request_error_with_position(raw, name, words, span):
    with pytest.raises(RequestError) as caught:
        parse_request(raw, name)
    assert words in caught.value.reason
    if span is not None:
        assert caught.value.span == span


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
def test_ten_thousand_deep_nesting_is_refused_without_recursion(name):
    raw = b"[" * 10_000 + b"]" * 10_000
    with pytest.raises(RequestError) as caught:
        parse_request(raw, name)
    assert "nested 10000 levels deep" in caught.value.reason


def test_yaml_alias_bomb_is_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(RequestError) as caught:
        parse_request("\n".join(lines).encode(), "bomb.yaml")
    assert "YAML aliases" in caught.value.reason


def test_ten_megabyte_request_is_refused_before_it_is_parsed(monkeypatch):
    env = {f"VAR_{i}": "v" * 90 for i in range(100_000)}
    raw = json.dumps({"ProcessingJobName": "big", "Environment": env}, indent=1).encode()
    assert len(raw) > 10_000_000

    def never(text):
        raise AssertionError("parsed a request over the size bound")

    monkeypatch.setattr(source, "_load_json", never)
    monkeypatch.setattr(source, "_load_yaml", never)
    with pytest.raises(RequestError) as caught:
        parse_request(raw, "big.json")
    assert "MiB; a CreateProcessingJob request is at most a few hundred KB" in caught.value.reason


def test_positions_of_ten_megabytes():
    # Its time and memory are bench/attack_bench.py's json_request case, not an assertion here.
    env = {f"VAR_{i}": "v" * 90 for i in range(100_000)}
    text = json.dumps({"ProcessingJobName": "big", "Environment": env}, indent=1)
    positions = json_positions(text)
    assert positions["/Environment/VAR_99999"].start[0] == text.count("\n") - 1


def test_json_scanner_matches_the_parser_on_every_value():
    text = json.dumps({"a": [1, {"b": [], "c": {}}, "x\\\"y"], "d": {"e": None, "f": -1.5e3, "g": True}}, indent=2)
    positions = json_positions(text)
    assert set(positions) == {"", "/a", "/a/0", "/a/1", "/a/1/b", "/a/1/c", "/a/2", "/d", "/d/e", "/d/f", "/d/g"}
    lines = text.splitlines()
    for pointer in ("/a/2", "/d/f", "/d/g"):
        located = positions[pointer]
        line = lines[located.start[0] - 1]
        value = line[located.start[1] - 1: located.end[1] - 1]
        expected = {"/a/2": '"x\\\\\\"y"', "/d/f": "-1500.0", "/d/g": "true"}[pointer]
        assert value == expected

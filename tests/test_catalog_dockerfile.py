"""Every rules/SM1xx.md example: failing ones fire their rule, passing ones don't."""
import pytest
from registries import registered

from smlint import catalog, lint_text

DOCKERFILE_RULES = [doc for doc in catalog.load().values() if doc.scope == "dockerfile"]


def _cases(heading):
    for doc in DOCKERFILE_RULES:
        examples = [text for lang, text in doc.examples(heading) if lang == "dockerfile"]
        for number, text in enumerate(examples, 1):
            yield pytest.param(doc.id, text, id=f"{doc.id}-{number}")


def test_every_dockerfile_rule_has_examples():
    assert [doc.id for doc in DOCKERFILE_RULES] == registered("dockerfile")
    for doc in DOCKERFILE_RULES:
        assert any(lang == "dockerfile" for lang, _ in doc.examples("Example")), doc.id
        assert any(lang == "dockerfile" for lang, _ in doc.examples("Use instead")), doc.id


@pytest.mark.parametrize("rule_id, text", list(_cases("Example")))
def test_failing_example_fires(rule_id, text):
    findings = lint_text(text, "Dockerfile")
    assert rule_id in {f.rule_id for f in findings}, [f"{f.rule_id}: {f.message}" for f in findings]
    assert not [f for f in findings if f.rule_id in ("SM001", "SM003")]


@pytest.mark.parametrize("rule_id, text", list(_cases("Use instead")))
def test_passing_example_is_clean_of_its_rule(rule_id, text):
    findings = lint_text(text, "Dockerfile")
    assert rule_id not in {f.rule_id for f in findings}, [f"{f.rule_id}: {f.message}" for f in findings]
    assert not [f for f in findings if f.rule_id in ("SM001", "SM003")]

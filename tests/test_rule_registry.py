"""A rule is one check plus one catalog file: the registries and rules/ agree."""
from __future__ import annotations

import pytest
from registries import ENGINE_SCOPE, REGISTRIES, registered

from smlint import catalog
from smlint.config import build_policy
from smlint.engine import MissingRuleDoc, Registry, run_checks
from smlint.findings import Problem

DOCS = catalog.load()


@pytest.mark.parametrize("scope", sorted(REGISTRIES))
def test_every_registered_check_has_a_catalog_file_of_its_scope(scope):
    checks = registered(scope)
    assert checks, f"the {scope} registry is empty"
    for rule_id in checks:
        assert rule_id in DOCS, f"{rule_id} has a check but no rules/{rule_id}.md"
        assert DOCS[rule_id].scope == scope, f"{rule_id}: catalog scope {DOCS[rule_id].scope!r}, registry {scope!r}"


def test_every_catalog_rule_has_a_check_or_is_an_engine_rule():
    owners = {rule_id: scope for scope in REGISTRIES for rule_id in registered(scope)}
    for rule_id, doc in DOCS.items():
        if doc.scope == ENGINE_SCOPE:
            assert rule_id not in owners, f"{rule_id} is an engine rule but has a check"
        else:
            assert owners.get(rule_id) == doc.scope, f"{rule_id} ({doc.scope}) has no check in the {doc.scope} registry"


def test_no_rule_is_registered_twice_across_registries():
    ids = [rule_id for scope in REGISTRIES for rule_id in registered(scope)]
    assert len(ids) == len(set(ids))


def test_a_check_without_a_catalog_file_is_a_clear_error():
    registry = Registry()

    @registry.check("SM999")
    def undocumented(subject):
        yield Problem("fires")

    with pytest.raises(MissingRuleDoc, match=r"rule SM999 has a check but no catalog file rules/SM999\.md"):
        run_checks(registry, object(), "Dockerfile", build_policy({}))


# ------------------------------------------------------------- rule options


def test_every_declared_option_has_a_known_kind_and_a_valid_default():
    from smlint.config import OPTION_KINDS, Policy

    declared = catalog.options()
    assert "large-image-size" in declared and declared["large-image-size"].rule_id == "SM241"
    for name, option in declared.items():
        assert option.kind in OPTION_KINDS, f"{option.rule_id}: option {name} has an unknown kind {option.kind!r}"
        assert Policy().option(name) is not None
    assert Policy().option("large-image-size") == 10 * 1024**3


def test_config_validation_reads_the_option_declarations(tmp_path):
    from smlint.config import ConfigError, read_file, schema

    assert "large-image-size" in schema()["properties"]
    good = tmp_path / ".smlint.yaml"
    good.write_text("large-image-size: 2GiB\n")
    assert read_file(str(good)) == {"large-image-size": "2GiB"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("large-image-sise: 2GiB\n")
    with pytest.raises(ConfigError, match="unknown key.*large-image-size"):
        read_file(str(bad))


def test_smlint_rule_shows_the_rule_options():
    from smlint.docs import show_rule

    shown = show_rule("SM241")
    assert "option large-image-size (size, default 10GiB): " in shown
    assert "option " not in show_rule("SM101")

"""Label and field selector parsing and matching (API-08)."""

import pytest

from kubesim.errors import BadRequest
from kubesim.selectors import (format_label_selector, parse_field_selector, parse_label_selector,
                               selector_from_label_selector)


@pytest.mark.parametrize("sel,labels,want", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("app!=web", {"app": "web"}, False),
    ("tier in (a,b)", {"tier": "b"}, True),
    ("tier in (a, b)", {"tier": "c"}, False),
    ("tier notin (a,b)", {}, True),
    ("app", {"app": ""}, True),
    ("!app", {"app": "x"}, False),
    ("!app", {}, True),
    ("app=web,tier in (fe)", {"app": "web", "tier": "fe"}, True),
    ("app=web,tier in (fe)", {"app": "web", "tier": "be"}, False),
    ("example.com/role=pet", {"example.com/role": "pet"}, True),
    ("", {"x": "y"}, True),
])
def test_label_selectors(sel, labels, want):
    assert parse_label_selector(sel).matches(labels) is want


@pytest.mark.parametrize("bad", ["app=", "=web", "app in a", "tier in (a", "app=web,", "app=we b"])
def test_bad_label_selectors_are_400(bad):
    if bad == "app=":
        assert parse_label_selector(bad).matches({"app": ""})
        return
    with pytest.raises(BadRequest):
        parse_label_selector(bad)


def test_field_selectors_and_unsupported_fields():
    sel = parse_field_selector("spec.nodeName=n1,status.phase!=Failed", lambda f: f.startswith(("spec", "status")))
    assert sel.matches({"spec.nodeName": "n1", "status.phase": "Running"})
    assert not sel.matches({"spec.nodeName": "n1", "status.phase": "Failed"})
    assert sel.value_of("spec.nodeName") == "n1"
    with pytest.raises(BadRequest) as err:
        parse_field_selector("spec.bogus=1", lambda f: f == "metadata.name")
    assert "field label not supported: spec.bogus" in err.value.message


def test_metav1_label_selector_forms():
    sel = {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}
    m = selector_from_label_selector(sel)
    assert m.matches({"app": "web", "tier": "a"}) and not m.matches({"app": "web"})
    assert format_label_selector(sel) == "app=web,tier in (a,b)"
    assert selector_from_label_selector({}).matches({"anything": "x"})
    assert not selector_from_label_selector(None).matches({})

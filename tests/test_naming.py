"""Keys to file names: safe on every platform, reversible, bounded (pure)."""
from __future__ import annotations

from urllib.parse import unquote

import pytest
from configsync import naming


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("gpt-4o-mini", "gpt-4o-mini.yaml"),
        ("a/b", "a%2Fb.yaml"),
        ("../x", "%2E.%2Fx.yaml"),
        ("..", "%2E%2E.yaml"),
        (".hidden", "%2Ehidden.yaml"),
        ("CON", "CO%4E.yaml"),
        ("nul.txt", "nu%6C.txt.yaml"),
        ("trailing.", "trailing%2E.yaml"),
        ("a\x00b", "a%00b.yaml"),
        ("with space", "with%20space.yaml"),
        ("100%", "100%25.yaml"),
        ("é", "%C3%A9.yaml"),
    ],
)
def test_unsafe_characters_are_encoded_reversibly(key: str, expected: str) -> None:
    name = naming.file_name("{k}", {"k": key})
    assert name == expected
    assert unquote(name.removesuffix(".yaml")) == key
    assert "/" not in name and "\\" not in name and not name.startswith(".")


def test_composite_default_template() -> None:
    template = naming.default_template(("name", "version"))
    assert naming.file_name(template, {"name": "api", "version": 2}) == "api__2.yaml"


@pytest.mark.parametrize(
    ("key", "fragment"),
    [("x" * 300, "limit is 200"), ("", "is empty"), (None, "is empty")],
)
def test_unusable_keys_are_refused(key: object, fragment: str) -> None:
    with pytest.raises(naming.NamingError, match=fragment):
        naming.file_name("{k}", {"k": key})  # type: ignore[dict-item]


def test_templates_must_be_plain_fields() -> None:
    with pytest.raises(naming.NamingError):
        naming.template_fields("{k!r}")
    with pytest.raises(naming.NamingError):
        naming.template_fields("{k:>10}")
    assert naming.template_fields("{name}@{version}") == ["name", "version"]


def test_case_only_collisions_are_detectable() -> None:
    assert naming.collision_key("Flag.yaml") == naming.collision_key("flag.yaml")

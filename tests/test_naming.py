"""Keys to file names: safe on every platform, reversible, bounded (pure)."""
from __future__ import annotations

from urllib.parse import unquote

import pytest
from configsync import naming
from hypothesis import given, settings
from hypothesis import strategies as st


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


# file_name takes an integer key, or text of safe characters, as it is (the
# usual keys, asked for every record file a cold validate reads); the full rule
# decides any other. Both must give the same name, or refuse with the same words.
_NEAR_EDGES = st.text(alphabet=st.sampled_from(list("aZ09._-+=@,~%/ \\\x00éCONULPTM1")), max_size=8)
_KEY_VALUES = st.one_of(
    st.integers(), st.integers(-(10**200), 10**200), st.sampled_from([0, -1, 10**194, 10**195, -(10**194)]),
    st.booleans(), st.none(), st.decimals(allow_nan=False), _NEAR_EDGES,
    st.sampled_from(["", ".", "..", "a.", ".a", "CON", "con.txt", "Com1", "LPT9.x", "NUL", "a" * 195, "a" * 196,
                     "é" * 10, "key_0001", "1.0.1"]),
    st.lists(st.integers(), max_size=1),
)


def _named(name_of: object, template: str, key: dict[str, object]) -> str:
    try:
        return name_of(template, key)  # type: ignore[operator,no-any-return]
    except naming.NamingError as exc:
        return "NamingError: " + str(exc)


@given(_KEY_VALUES, _KEY_VALUES, st.sampled_from(["{k}", "{k}__{v}", "{k}.x", "x{k}", "{v}"]))
@settings(max_examples=3000, deadline=None)
def test_a_keys_name_is_the_full_rules(k: object, v: object, template: str) -> None:
    key = {"k": k, "v": v}
    assert _named(naming.file_name, template, key) == _named(naming._file_name, template, key)

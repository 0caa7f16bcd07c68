import pytest

from churnops.config import (
    ConfigError,
    StrictConfig,
    apply_overrides,
    deep_merge,
    expand_shorthands,
    load_config,
)


class Inner(StrictConfig):
    epochs: int = 1


class Outer(StrictConfig):
    name: str = "x"
    inner: Inner = Inner()


def test_unknown_key_is_an_error_naming_it(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  epochz: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'inner.epochz'"):
        load_config(Outer, path)


def test_overrides_are_parsed_as_yaml_and_validated():
    cfg = load_config(Outer, None, ["inner.epochs=5", "name=abc"])
    assert cfg.inner.epochs == 5 and cfg.name == "abc"
    with pytest.raises(ConfigError, match=r"inner.epochs='many'"):
        load_config(Outer, None, ["inner.epochs=many"])


def test_deep_merge_keeps_siblings_and_replaces_lists_and_values():
    base = {"model": {"name": "mlp", "mlp": {"dropout": 0.1, "hidden_sizes": [256, 256]}}}
    over = {"model": {"mlp": {"dropout": 0.3, "hidden_sizes": [64]}}, "seed": 7}
    merged = deep_merge(base, over)
    assert merged == {
        "model": {"name": "mlp", "mlp": {"dropout": 0.3, "hidden_sizes": [64]}},
        "seed": 7,
    }
    assert base["model"]["mlp"]["dropout"] == 0.1  # the inputs are left as they were
    assert deep_merge({"a": {"b": 1}}, {"a": None}) == {"a": None}  # a value replaces a section


def test_override_without_equals_sign_is_rejected():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["inner.epochs"])


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_config(Outer, tmp_path / "nope.yaml")


def test_an_override_that_is_not_yaml_is_taken_as_text():
    from churnops.config import parse_override

    assert parse_override("source.date_format=%Y%m%d") == (["source", "date_format"], "%Y%m%d")
    assert parse_override("a.b=5") == (["a", "b"], 5)


def test_features_config_names_unknown_categorical_and_transform_columns():
    from churnops.config import ConfigError
    from churnops.trainers.config import load_train_config

    with pytest.raises(ConfigError, match=r"features\.categorical: \['gender'\] not among"):
        load_train_config(["features.columns=[tenure]", "features.categorical=[gender]"])
    with pytest.raises(ConfigError, match=r"features\.transforms"):
        load_train_config(["features.columns=[tenure]", "features.transforms={total: log1p}"])
    cfg = load_train_config(["features.columns=[a, b]", "features.categorical={a: 3}"])
    assert cfg.features.categorical == ["a"]  # the old {column: codes} form still reads


def test_a_yaml_syntax_error_names_the_place_not_the_line(tmp_path):
    # The offending line may hold a secret (an endpoint's bearer token): it is not quoted.
    from churnops.config import ConfigError, load_yaml

    path = tmp_path / "endpoint.yaml"
    path.write_text('name: churn\nauth:\n  tokens: ["yaml-secret-TOKEN-abc123"\n')
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+") as err:
        load_yaml(path)
    assert "yaml-secret-TOKEN" not in str(err.value)


class Picked(StrictConfig):
    shorthand = "name"

    name: str = "a"
    size: int = 1


class WithSection(StrictConfig):
    picked: Picked = Picked()
    maybe: Picked | None = None


def test_a_bare_value_for_a_shorthand_section_means_its_key_and_overrides_may_follow(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("picked: b\nmaybe: c\n")  # an older file: the name alone
    cfg = load_config(WithSection, path, ["picked.size=3", "maybe.size=4"])
    assert cfg.picked == Picked(name="b", size=3) and cfg.maybe == Picked(name="c", size=4)
    # A bare value set on a written-out section sets its name and keeps its other settings.
    cfg = load_config(WithSection, None, ["picked.size=5", "picked=d"])
    assert cfg.picked == Picked(name="d", size=5)
    assert WithSection(picked="e").picked.name == "e"  # constructors take it too
    assert expand_shorthands(WithSection, {"picked": "f", "maybe": None}) == {
        "picked": {"name": "f"},
        "maybe": None,
    }
    with pytest.raises(ConfigError, match=r"'name' is a value, not a section"):
        apply_overrides({"picked": {"name": "x"}}, ["picked.name.deeper=1"], WithSection)

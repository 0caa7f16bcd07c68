import pytest

from churnops.config import ConfigError, StrictConfig, apply_overrides, load_config


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


def test_override_without_equals_sign_is_rejected():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["inner.epochs"])


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_config(Outer, tmp_path / "nope.yaml")

"""Typed, strict configuration: YAML files under configs/ plus `a.b=value` overrides.

Every config class forbids unknown keys, so a typo is an error that names the key instead of a
silent default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from types import UnionType
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

# The default configs ship inside the package, so an installed wheel finds them from any folder.
CONFIG_DIR = Path(__file__).resolve().parent / "configs"

T = TypeVar("T", bound="StrictConfig")


class ConfigError(ValueError):
    """A config file or override that does not fit its schema."""


# What a credential looks like in text: the password of a URI (`scheme://user:PASSWORD@host`),
# a bearer token, and the value of any key named like a secret (`tokens.0`, `account_key`,
# `AWS_SECRET_ACCESS_KEY`, a SAS query's `sig` ...) written `key=value`, `key: value` or as a
# Python repr `'key': 'value'`.
_SECRET_WORD = (
    r"(?:password|passwd|pwd|secret|secrets|token|tokens|api_?key|access_?key|account_?key"
    r"|private_?key|secret_?key|sas|sig|credential|credentials)"
)
_VALUE = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^\s,;&})\]'"]+)"""
_MASKS = [
    (re.compile(r"(\b[a-zA-Z][\w+.-]*://[^/\s:@'\"]*:)[^@\s'\"]+@"), r"\1***@"),
    (re.compile(r"(?i)(\bbearer\s+)[^\s'\",;]+"), r"\1***"),
    (
        re.compile(rf"(?i)(['\"]?\b[\w.-]*{_SECRET_WORD}(?:\.\d+)?['\"]?\s*[:=]\s*){_VALUE}"),
        r"\1'***'",
    ),
]


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every credential masked as `***`: the known `secrets` (and their reprs, as
    errors quote values) and whatever looks like one (URI passwords, secret query parameters,
    bearer tokens, values of secret-named keys). Every error, log line and answer that may
    quote a config passes through here."""
    for secret in sorted(set(filter(None, map(str, secrets))), key=len, reverse=True):
        for form in (repr(secret)[1:-1], secret):
            text = text.replace(form, "***")
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class StrictConfig(BaseModel):
    """Base for every config: unknown keys are errors, values are validated on assignment.

    A section may name a `shorthand` key: a bare value given for the whole section means that
    key (see `expand_shorthands`).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())
    # With `shorthand = "name"`, `engine: spark` means `engine: {name: spark}`: older configs
    # wrote the name alone where a section now stands.
    shorthand: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _expand_shorthands(cls, data: Any) -> Any:
        # Every way a config is built (a file, overrides, a task's inputs, a constructor call)
        # meets this one function.
        return expand_shorthands(cls, data)


def expand_shorthands(cls: type[BaseModel] | None, data: Any) -> Any:
    """`data` (for config class `cls`) with each bare value given for a section that has a
    `shorthand` key written out as `{shorthand: value}`, at any depth.

    `expand_shorthands(FeaturesJobConfig, {"engine": "spark"})` is
    `{"engine": {"name": "spark"}}`; dicts are copied, anything else is returned as it is.
    """
    if cls is None:
        return data
    shorthand = getattr(cls, "shorthand", None)
    if shorthand and isinstance(data, str | int | float | bool):
        return {shorthand: data}
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key, value in data.items():
        model = _nested_model(cls, key)
        if model is not None:
            out[key] = expand_shorthands(model, value)
    return out


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b=value` into (["a", "b"], value) with the value parsed as YAML."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE, e.g. trainer.max_epochs=5")
    if not raw:
        return key.strip().split("."), None
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw  # not YAML (e.g. date_format=%Y%m%d, '%' is reserved): the text itself
    return key.strip().split("."), value


def apply_overrides(
    data: dict[str, Any], overrides: list[str], cls: type[BaseModel] | None = None
) -> dict[str, Any]:
    """Return a copy of `data` with each `a.b=value` override set.

    Given the config class `cls`, shorthands are written out first (`engine: spark` becomes
    `engine: {name: spark}`, so `engine.spark.master=...` can follow it), and a bare value
    set on such a section sets its shorthand key, keeping the section's other settings.
    """
    out = expand_shorthands(cls, _deep_copy(data))
    for text in overrides:
        path, value = parse_override(text)
        node, model = out, cls
        for part in path[:-1]:
            model = _nested_model(model, part)
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    f"override {mask_secrets(text)!r}: {part!r} is a value, not a section"
                )
            node = child
        section = _nested_model(model, path[-1])
        shorthand = getattr(section, "shorthand", None)
        if shorthand and isinstance(node.get(path[-1]), dict) and not isinstance(value, dict):
            node[path[-1]][shorthand] = value  # `engine=spark` on a section: its name only
        else:
            node[path[-1]] = expand_shorthands(section, value)
    return out


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`: sections (dicts) merge key by key at every depth, so a nested
    override keeps its siblings; anything else in `over` (a value, a list, null) replaces what
    `base` held. Neither input is changed."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def build_config(cls: type[T], data: dict[str, Any], source: str = "config") -> T:
    """Validate `data` against `cls`, turning pydantic's report into one readable error."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "<root>"
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown key {where!r}{_suggestion(cls, err['loc'])}")
            else:
                problems.append(f"{where}={err.get('input')!r}: {err['msg']}")
        raise ConfigError(mask_secrets(f"{source}: " + "; ".join(problems))) from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing file or a non-mapping is an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        # Only where and what: PyYAML's own message quotes the offending line, which may hold
        # a secret (a bearer token in an endpoint config).
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        # ... nor the token it failed on: `!TOKEN` is quoted as a tag, `*TOKEN` as an alias.
        problem = re.sub(r"'(?!<)[^']{3,}'", "'***'", problem)
        raise ConfigError(f"config file {str(path)!r}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {str(path)!r}: expected a mapping, got {type(data).__name__}"
        )
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] = ()) -> T:  # type: ignore[assignment]
    """Load `cls` from an optional YAML file, apply overrides, validate strictly."""
    data = load_yaml(path) if path else {}
    return build_config(
        cls, apply_overrides(data, list(overrides), cls), source=str(path or cls.__name__)
    )


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def _suggestion(cls: type[BaseModel], loc: tuple) -> str:
    """`; did you mean 'x'?` for an unknown key close to a known one of its config class."""
    import difflib

    model: Any = cls
    for part in loc[:-1]:  # walk down nested configs; stop at lists and dicts
        model = _nested_model(model, part)
        if model is None:
            return ""
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (expected one of {known})"


def _nested_model(cls: type[BaseModel] | None, key: Any) -> type[BaseModel] | None:
    """The config class of field `key` of `cls` (through Optional), or None when the field is
    not a config section (a value, a list, a dict) or `cls` has no such field."""
    field = cls.model_fields.get(key) if cls is not None and isinstance(key, str) else None
    annotation = getattr(field, "annotation", None)
    options = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    nested = [a for a in (annotation, *options) if isinstance(a, type) and issubclass(a, BaseModel)]
    return nested[0] if nested else None

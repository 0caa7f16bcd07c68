"""`ModelRegistry`: register versions with lineage, move aliases, transition stages, resolve URIs.

Aliases (`champion`, `challenger`) are the primary mechanism, as in current MLflow and Unity
Catalog; stages still work through `transition_stage` where the MLflow server offers them. Every
lookup of a missing model, version or alias raises `RegistryError` naming it.
"""

from __future__ import annotations

import re
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHAMPION = "champion"
CHALLENGER = "challenger"
STATUS_TAG = "validation_status"
STAGES = ("None", "Staging", "Production", "Archived")
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<ref>[^/]+))$")


class RegistryError(ValueError, LookupError):
    """A registered model, version or alias that does not exist, or a bad registry request."""


@dataclass(frozen=True)
class VersionInfo:
    """One registered version as `list` shows it."""

    name: str
    version: str
    aliases: list[str]
    stage: str
    status: str | None  # the gate's validation_status tag
    run_id: str | None
    description: str
    tags: dict[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


class ModelRegistry:
    """The MLflow registry at `registry_uri`, or at `tracking_uri` (the tracking store doubles as
    the registry by default).

    Args:
        tracking_uri: e.g. `sqlite:///.churnops/train/mlflow.db`; None keeps MLflow's current one.
        registry_uri: a separate registry (a server, `databricks-uc`); None: the tracking URI.
    """

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None):
        import mlflow
        from mlflow import MlflowClient

        if tracking_uri is not None:
            mlflow.set_tracking_uri(tracking_uri)
        self.tracking_uri = mlflow.get_tracking_uri()
        self.registry_uri = registry_uri or tracking_uri or self.tracking_uri
        mlflow.set_registry_uri(self.registry_uri)
        self.client = MlflowClient(self.tracking_uri, registry_uri=self.registry_uri)

    # ---- lookups ------------------------------------------------------------------------

    def get_model(self, name: str) -> Any:
        """The registered model; a missing one is a `RegistryError` naming it."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_registered_model(name)
        except MlflowException:
            known = ", ".join(m.name for m in self.client.search_registered_models()) or "none"
            raise RegistryError(
                f"registered model {name!r} does not exist (registered: {known})"
            ) from None

    def get_version(self, name: str, ref: str | int) -> Any:
        """A version by number, or by alias (`champion`, `challenger`, ...)."""
        from mlflow.exceptions import MlflowException

        model = self.get_model(name)
        text = str(ref)
        if text.isdigit():
            try:
                return self.client.get_model_version(name, text)
            except MlflowException:
                versions = sorted(
                    int(v.version) for v in self.client.search_model_versions(f"name='{name}'")
                )
                raise RegistryError(
                    f"model {name!r} has no version {text} (versions: {versions or 'none'})"
                ) from None
        aliases = dict(model.aliases or {})
        if text not in aliases:
            known = ", ".join(f"{a} -> v{v}" for a, v in sorted(aliases.items())) or "none"
            raise RegistryError(f"model {name!r} has no alias {text!r} (aliases: {known})")
        return self.client.get_model_version(name, str(aliases[text]))

    def resolve(self, model_uri: str) -> Any:
        """The version a `models:/name/<version>` or `models:/name@alias` URI points at."""
        match = _MODELS_URI.match(model_uri)
        if not match:
            raise RegistryError(
                f"model_uri={model_uri!r}: expected models:/<name>/<version> or "
                "models:/<name>@<alias>"
            )
        return self.get_version(match["name"], match["alias"] or match["ref"])

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version an alias points at, or None when it is unset (the model must exist)."""
        version = (self.get_model(name).aliases or {}).get(alias)
        return None if version is None else str(version)

    def list_versions(self, name: str | None = None) -> list[VersionInfo]:
        """Every version (of `name`, or of every model), newest first within a model."""
        names = [name] if name else [m.name for m in self.client.search_registered_models()]
        out = []
        for model_name in names:
            model = self.get_model(model_name)
            by_version: dict[str, list[str]] = {}
            for alias, version in (model.aliases or {}).items():
                by_version.setdefault(str(version), []).append(alias)
            versions = self.client.search_model_versions(f"name='{model_name}'")
            for v in sorted(versions, key=lambda v: -int(v.version)):
                out.append(
                    VersionInfo(
                        name=model_name,
                        version=str(v.version),
                        aliases=sorted(by_version.get(str(v.version), [])),
                        stage=v.current_stage or "None",
                        status=(v.tags or {}).get(STATUS_TAG),
                        run_id=v.run_id,
                        description=v.description or "",
                        tags=dict(v.tags or {}),
                    )
                )
        return out

    # ---- changes ------------------------------------------------------------------------

    def register(
        self,
        model_uri: str,
        name: str,
        description: str | None = None,
        tags: dict[str, Any] | None = None,
        alias: str | None = None,
    ) -> Any:
        """Register `model_uri` as a new version of `name` with a description and tags.

        The tags always include the run id, the run's test metrics, the feature tables and
        their versions (from the model's feature spec) and the code version (git commit).
        """
        import mlflow

        lineage = self.lineage_tags(model_uri)
        all_tags = {**lineage, **{k: str(v) for k, v in (tags or {}).items()}}
        version = mlflow.register_model(model_uri, name, tags=all_tags)
        if description:
            self.client.update_model_version(name, str(version.version), description=description)
        if alias:
            self.set_alias(name, alias, str(version.version))
        return self.client.get_model_version(name, str(version.version))

    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point `alias` at `version` (which must exist)."""
        self.get_version(name, str(version))
        self.client.set_registered_model_alias(name, alias, str(version))

    def promote(self, name: str, version: str | int, alias: str = CHAMPION) -> Any:
        """Point `alias` (champion by default) at `version`; drop `challenger` if it pointed
        there. Returns the version."""
        mv = self.get_version(name, str(version))
        self.client.set_registered_model_alias(name, alias, str(mv.version))
        if alias == CHAMPION and self.alias_version(name, CHALLENGER) == str(mv.version):
            self.client.delete_registered_model_alias(name, CHALLENGER)
        return mv

    def set_status(self, name: str, version: str | int, status: str, **tags: Any) -> None:
        """Tag a version with the gate's `validation_status` (and any other tags)."""
        self.get_version(name, str(version))
        for key, value in {STATUS_TAG: status, **tags}.items():
            self.client.set_model_version_tag(name, str(version), key, str(value))

    def transition_stage(
        self, name: str, version: str | int, stage: str, archive_existing: bool = False
    ) -> Any:
        """Move a version to a stage (deprecated in MLflow in favour of aliases, still served)."""
        if stage not in STAGES:
            raise RegistryError(f"stage={stage!r}: expected one of {STAGES}")
        self.get_version(name, str(version))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            try:
                return self.client.transition_model_version_stage(
                    name, str(version), stage, archive_existing_versions=archive_existing
                )
            except AttributeError:
                raise RegistryError(
                    "this MLflow no longer offers stage transitions; use aliases"
                ) from None

    # ---- lineage ------------------------------------------------------------------------

    def lineage_tags(self, model_uri: str) -> dict[str, str]:
        """Run id, test metrics, feature tables and versions, and code version for a model."""
        from churnops.models.feature_spec import FeatureSpecError
        from churnops.models.pyfunc import load_feature_spec

        tags: dict[str, str] = {}
        run_id = _run_id_of(model_uri)
        if run_id:
            tags["run_id"] = run_id
            run = self.client.get_run(run_id)
            for metric, number in run.data.metrics.items():
                if metric.startswith(("test/", "val/")):
                    tags[f"metric.{metric}"] = f"{number:.6g}"
            for tag, text in run.data.tags.items():
                if tag.startswith(("lineage.", "feature_table.")):
                    tags[tag] = text[:5000]
        try:
            spec = load_feature_spec(model_uri)
            for table, version in spec.table_versions.items():
                tags[f"feature_table.{table}"] = str(version)
            tags["feature_spec.flavor"] = str(spec.flavor)
        except FeatureSpecError:
            pass  # a model not packaged by churnops: registered without a feature spec
        tags["code_version"] = code_version()
        return tags


def _run_id_of(model_uri: str) -> str | None:
    """The run a `runs:/<id>/...` or logged-model (`models:/m-...`) URI came from."""
    if model_uri.startswith("runs:/"):
        return model_uri.removeprefix("runs:/").split("/", 1)[0]
    if model_uri.startswith("models:/m-"):
        import mlflow

        try:
            return mlflow.get_logged_model(model_uri.removeprefix("models:/")).source_run_id
        except Exception:
            return None
    return None


def code_version() -> str:
    """The git commit of the churnops checkout (with `-dirty` when it has changes), or unknown."""
    root = Path(__file__).resolve().parents[3]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
            timeout=5, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha

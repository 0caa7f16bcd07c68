"""One storage helper: a table or artifact location (a local path, `file://`, `s3://`, `gs://`,
`abfss://`, a Databricks `/Volumes/...` path) turned into what each I/O library needs.

Arrow gets a `pyarrow.fs` file system and a path, delta-rs its `storage_options`, DuckDB a local
path where it can read one (DuckDB's httpfs extension is not assumed: object-store data reaches
DuckDB as Arrow datasets). Credentials and endpoint come from the `storage:` setting
(`StorageConfig`) or the standard environment variables; an object-store URI without
credentials fails before any I/O with an error naming the missing setting. Secrets are never
printed: they are `SecretStr` in the config and masked in every error.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlparse

from pydantic import SecretStr

from churnops.config import StrictConfig

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs as pa_fs
    from deltalake import DeltaTable

OBJECT_STORE_SCHEMES = ("s3", "gs", "abfss", "az")
_SCHEME_ALIASES = {"s3a": "s3", "gcs": "gs", "abfs": "abfss", "azure": "az"}
StorageTarget = str | Path  # what every path argument of churnops accepts


class StorageError(ValueError):
    """A location that cannot be reached as given: a bad URI or missing credentials."""


class StorageConfig(StrictConfig):
    """Credentials and endpoint for object-store URIs; an unset field falls back to its
    standard environment variable (named in each comment)."""

    # "keys": access keys must be given (here or in the environment), else an early error;
    # "ambient": the SDK finds them (instance profile, IRSA, workload identity, AWS_PROFILE);
    # "anonymous": public buckets, unsigned requests.
    credentials: Literal["keys", "ambient", "anonymous"] = "keys"
    endpoint_url: str | None = None  # AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (MinIO, moto, R2)
    region: str | None = None  # AWS_REGION / AWS_DEFAULT_REGION
    access_key_id: SecretStr | None = None  # AWS_ACCESS_KEY_ID
    secret_access_key: SecretStr | None = None  # AWS_SECRET_ACCESS_KEY
    session_token: SecretStr | None = None  # AWS_SESSION_TOKEN
    allow_http: bool | None = None  # AWS_ALLOW_HTTP; None: true for an http:// endpoint
    azure_account_name: str | None = None  # AZURE_STORAGE_ACCOUNT_NAME (or the abfss host)
    azure_account_key: SecretStr | None = None  # AZURE_STORAGE_ACCOUNT_KEY
    azure_sas_token: SecretStr | None = None  # AZURE_STORAGE_SAS_TOKEN
    azure_client_id: str | None = None  # AZURE_CLIENT_ID (service principal)
    azure_client_secret: SecretStr | None = None  # AZURE_CLIENT_SECRET
    azure_tenant_id: str | None = None  # AZURE_TENANT_ID
    google_application_credentials: str | None = None  # GOOGLE_APPLICATION_CREDENTIALS

    def resolved(self) -> StorageConfig:
        """This config with every unset field taken from its environment variable."""
        update: dict[str, Any] = {}
        for field, names in _ENV.items():
            if getattr(self, field) is None:
                value = next((os.environ[n] for n in names if os.environ.get(n)), None)
                if value is not None:
                    update[field] = value
        if self.allow_http is None and "allow_http" not in update:
            endpoint = update.get("endpoint_url", self.endpoint_url) or ""
            update["allow_http"] = endpoint.startswith("http://")
        return self.model_validate({**self.model_dump(), **update})


_ENV: dict[str, tuple[str, ...]] = {
    "endpoint_url": ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "region": ("AWS_REGION", "AWS_DEFAULT_REGION"),
    "access_key_id": ("AWS_ACCESS_KEY_ID",),
    "secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "session_token": ("AWS_SESSION_TOKEN",),
    "allow_http": ("AWS_ALLOW_HTTP",),
    "azure_account_name": ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT"),
    "azure_account_key": ("AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_KEY"),
    "azure_sas_token": ("AZURE_STORAGE_SAS_TOKEN",),
    "azure_client_id": ("AZURE_CLIENT_ID",),
    "azure_client_secret": ("AZURE_CLIENT_SECRET",),
    "azure_tenant_id": ("AZURE_TENANT_ID",),
    "google_application_credentials": ("GOOGLE_APPLICATION_CREDENTIALS",),
}
_configured: StorageConfig | None = None


def configure_storage(cfg: StorageConfig | None) -> None:
    """Make `cfg` the storage setting of this process (None: environment variables only).

    Entry points call it with their config's `storage:` section, so every path below them,
    however deep, reaches the object store with the same credentials.
    """
    global _configured
    _configured = cfg


def active_storage() -> StorageConfig:
    """The process's storage setting, with unset fields from the environment."""
    return (_configured or StorageConfig()).resolved()


@dataclass(frozen=True)
class Location:
    """A parsed table or artifact location.

    Attributes:
        uri: the normalised text: an absolute local path, or `scheme://authority/key`.
        scheme: "" for local (including /Volumes), else one of `OBJECT_STORE_SCHEMES`.
        authority: the bucket (s3, gs) or `container@account...` (abfss); "" when local.
        key: the path inside the bucket, no leading slash; the absolute path when local.
    """

    uri: str
    scheme: str
    authority: str
    key: str

    def __str__(self) -> str:
        return self.uri

    @property
    def is_local(self) -> bool:
        return not self.scheme

    @property
    def name(self) -> str:
        return self.key.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> Location:
        return self._with_key(self.key.rstrip("/").rsplit("/", 1)[0] if "/" in self.key else "")

    def join(self, *parts: str) -> Location:
        """This location with `parts` appended (`/`-separated on every store)."""
        pieces = [p.strip("/") for p in parts if p and p.strip("/")]
        if self.is_local:
            return location(os.path.join(self.key, *pieces))
        return self._with_key("/".join([self.key.rstrip("/"), *pieces]).lstrip("/"))

    def local_path(self) -> Path:
        """The local `Path`; an object-store location is an error naming it."""
        if not self.is_local:
            raise StorageError(f"{self.uri!r}: expected a local path here, got an object-store URI")
        return Path(self.key)

    def filesystem(self) -> tuple[pa_fs.FileSystem, str]:
        """A `pyarrow.fs` file system and this location's path on it."""
        import pyarrow.fs as pa_fs

        if self.is_local:
            return pa_fs.LocalFileSystem(), self.key
        cfg = _checked(self, active_storage())
        if self.scheme == "s3":
            return _s3_filesystem(cfg, self.authority), f"{self.authority}/{self.key}".rstrip("/")
        if self.scheme in ("abfss", "az"):
            container, account = _azure_parts(self, cfg)
            secrets = _secrets(
                cfg, account_key="azure_account_key", sas_token="azure_sas_token",
                client_secret="azure_client_secret",
            )  # fmt: skip
            ids = {"client_id": cfg.azure_client_id, "tenant_id": cfg.azure_tenant_id}
            fs = pa_fs.AzureFileSystem(account, **secrets, **{k: v for k, v in ids.items() if v})
            return fs, f"{container}/{self.key}".rstrip("/")
        # gs: Arrow's GCS file system reads GOOGLE_APPLICATION_CREDENTIALS itself; a credentials
        # file named only in the config goes through delta-rs's object store, with the same
        # options as the Delta tables.
        if cfg.google_application_credentials and not os.environ.get(
            "GOOGLE_APPLICATION_CREDENTIALS"
        ):
            from deltalake.fs import DeltaStorageHandler

            root = f"gs://{self.authority}"
            handler = DeltaStorageHandler(root, self.storage_options())
            return pa_fs.PyFileSystem(handler), self.key
        return pa_fs.GcsFileSystem(anonymous=cfg.credentials == "anonymous"), (
            f"{self.authority}/{self.key}".rstrip("/")
        )

    def storage_options(self) -> dict[str, str] | None:
        """delta-rs (object_store) `storage_options`; None for a local path."""
        if self.is_local:
            return None
        cfg = _checked(self, active_storage())
        options: dict[str, str] = {}
        if self.scheme == "s3":
            options.update(
                _secrets(cfg, AWS_ACCESS_KEY_ID="access_key_id",
                         AWS_SECRET_ACCESS_KEY="secret_access_key",
                         AWS_SESSION_TOKEN="session_token")
            )  # fmt: skip
            options["AWS_REGION"] = _s3_region(cfg, self.authority)
            if cfg.endpoint_url:
                options["AWS_ENDPOINT_URL"] = cfg.endpoint_url
            if cfg.allow_http:
                options["AWS_ALLOW_HTTP"] = "true"
            if cfg.credentials == "anonymous":
                options["AWS_SKIP_SIGNATURE"] = "true"
            # Two writers committing the same version: S3's conditional put makes the second
            # fail (and retry) instead of overwriting the first's commit.
            options["AWS_CONDITIONAL_PUT"] = "etag"
        elif self.scheme in ("abfss", "az"):
            _, account = _azure_parts(self, cfg)
            options["AZURE_STORAGE_ACCOUNT_NAME"] = account
            options.update(
                _secrets(cfg, AZURE_STORAGE_ACCOUNT_KEY="azure_account_key",
                         AZURE_STORAGE_SAS_TOKEN="azure_sas_token",
                         AZURE_CLIENT_SECRET="azure_client_secret")
            )  # fmt: skip
            for key, value in (
                ("AZURE_CLIENT_ID", cfg.azure_client_id),
                ("AZURE_TENANT_ID", cfg.azure_tenant_id),
            ):
                if value:
                    options[key] = value
        elif cfg.google_application_credentials:
            options["GOOGLE_SERVICE_ACCOUNT"] = cfg.google_application_credentials
        return options

    def _with_key(self, key: str) -> Location:
        if self.is_local:
            return location(key or "/")
        return Location(f"{self.scheme}://{self.authority}/{key}", self.scheme, self.authority, key)


def location(target: StorageTarget | Location) -> Location:
    """Parse a path or URI; a local path is made absolute, `~` expanded.

    Raises:
        StorageError: an unknown scheme or an object-store URI without a bucket.
    """
    if isinstance(target, Location):
        return target
    text = os.fspath(target)
    if text.startswith("dbfs:/Volumes/"):  # Unity Catalog volumes are mounted at /Volumes
        text = text.removeprefix("dbfs:")
    parsed = urlparse(text)
    scheme = parsed.scheme.lower()
    if len(scheme) <= 1:  # no scheme, or a Windows drive letter
        return _local(Path(text).expanduser())
    if scheme == "file":
        return _local(Path(unquote(parsed.path)))
    scheme = _SCHEME_ALIASES.get(scheme, scheme)
    if scheme not in OBJECT_STORE_SCHEMES:
        raise StorageError(
            f"{text!r}: unsupported storage scheme {parsed.scheme!r}; expected a local path, "
            "file://, s3://, gs://, abfss:// or a /Volumes/... path"
        )
    if not parsed.netloc:
        raise StorageError(f"{text!r}: no bucket or container after {parsed.scheme}://")
    key = unquote(parsed.path).lstrip("/")
    return Location(f"{scheme}://{parsed.netloc}/{key}", scheme, parsed.netloc, key)


def _local(path: Path) -> Location:
    text = os.path.abspath(path)
    return Location(text, "", "", text)


def is_local(target: StorageTarget | Location) -> bool:
    """Whether `target` is on the local file system (a path, `file://` or `/Volumes`)."""
    return location(target).is_local


def join(base: StorageTarget | Location, *parts: str) -> str:
    """`base` with `parts` appended, as text: the one way to build a path under a root."""
    return str(location(base).join(*parts))


def native(target: StorageTarget | Location) -> Path | str:
    """A local location as a `Path`, an object-store one as its URI text (never `Path`, which
    would fold `s3://b` into `s3:/b`)."""
    loc = location(target)
    return Path(loc.key) if loc.is_local else loc.uri


def sibling(target: StorageTarget | Location, name: str) -> Path | str:
    """The location `name` beside `target` (in the same folder), as `native` gives it."""
    return native(location(target).parent.join(name))


def delta_options(target: StorageTarget | Location) -> dict[str, str] | None:
    """delta-rs `storage_options` for `target` (None when local)."""
    return location(target).storage_options()


def open_delta(target: StorageTarget | Location, version: int | None = None) -> DeltaTable:
    """A `DeltaTable` at `target` with its credentials."""
    from deltalake import DeltaTable

    loc = location(target)
    with masked_errors():
        return DeltaTable(str(loc), version=version, storage_options=loc.storage_options())


def is_delta_table(target: StorageTarget | Location) -> bool:
    """Whether a Delta table (a `_delta_log`) is at `target`."""
    from deltalake import DeltaTable

    loc = location(target)
    if loc.is_local and not (Path(loc.key) / "_delta_log").is_dir():
        return False  # a file, or nothing: delta-rs would raise on a file
    with masked_errors():
        return DeltaTable.is_deltatable(str(loc), storage_options=loc.storage_options())


def exists(target: StorageTarget | Location) -> bool:
    """Whether a file or folder (a prefix with objects under it) is at `target`."""
    import pyarrow.fs as pa_fs

    fs, path = location(target).filesystem()
    info = fs.get_file_info(path)
    if info.type != pa_fs.FileType.NotFound:
        return True
    if location(target).is_local:
        return False
    # An object store has no folders: a prefix exists when some object lies under it.
    try:
        return bool(fs.get_file_info(pa_fs.FileSelector(path, recursive=False)))
    except (FileNotFoundError, OSError):
        return False


def is_file(target: StorageTarget | Location) -> bool:
    """Whether a file (an object) is at `target`."""
    import pyarrow.fs as pa_fs

    fs, path = location(target).filesystem()
    return fs.get_file_info(path).type == pa_fs.FileType.File


def makedirs(target: StorageTarget | Location) -> None:
    """Create the folder and its parents (object stores need none: a no-op there)."""
    loc = location(target)
    if loc.is_local:
        Path(loc.key).mkdir(parents=True, exist_ok=True)


def remove(target: StorageTarget | Location) -> None:
    """Delete the file or folder tree at `target`; nothing there is fine."""
    import pyarrow.fs as pa_fs

    loc = location(target)
    if loc.is_local:
        path = Path(loc.key)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        return
    fs, path = loc.filesystem()
    info = fs.get_file_info(path)
    if info.type == pa_fs.FileType.File:
        fs.delete_file(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            fs.delete_dir(path)


def list_dirs(target: StorageTarget | Location) -> list[str]:
    """Names of the folders (object-store prefixes) directly under `target`, sorted."""
    import pyarrow.fs as pa_fs

    fs, path = location(target).filesystem()
    try:
        infos = fs.get_file_info(pa_fs.FileSelector(path, recursive=False))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(i.base_name for i in infos if i.type == pa_fs.FileType.Directory)


def fingerprint_files(target: StorageTarget | Location) -> str:
    """One line per file at or under `target`: its URI, size and modification time (a cheap
    key that changes when any file does)."""
    import pyarrow.fs as pa_fs

    loc = location(target)
    fs, path = loc.filesystem()
    info = fs.get_file_info(path)
    if info.type == pa_fs.FileType.Directory or (
        info.type == pa_fs.FileType.NotFound and not loc.is_local
    ):
        infos = fs.get_file_info(pa_fs.FileSelector(path, recursive=True, allow_not_found=True))
    else:
        infos = [info]
    files = sorted((i for i in infos if i.type == pa_fs.FileType.File), key=lambda i: i.path)
    return "".join(f"{i.path}\t{i.size}\t{i.mtime_ns}\n" for i in files)


def read_bytes(target: StorageTarget | Location) -> bytes:
    """The whole file at `target` (small files: records, reports, JSON)."""
    fs, path = location(target).filesystem()
    with fs.open_input_stream(path) as f:
        return f.read()


def write_bytes_atomic(target: StorageTarget | Location, data: bytes) -> None:
    """Write a small file all at once: readers see the old content or the new, never half."""
    with staged_output(target) as local:
        local.write_bytes(data)


@contextlib.contextmanager
def staged_output(target: StorageTarget | Location, suffix: str = "") -> Iterator[Path]:
    """A local temporary file to write; on success it becomes `target` whole.

    Locally the file is renamed into place (`os.replace`, atomic on one file system). On an
    object store it is uploaded to a temporary key beside `target` and then copied onto it
    (a copy appears whole or not at all); a writer that fails leaves nothing at `target`.
    """
    loc = location(target)
    if loc.is_local:
        final = Path(loc.key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")
        try:
            yield tmp
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return
    with tempfile.TemporaryDirectory(prefix="churnops-stage-") as folder:
        tmp = Path(folder) / (loc.name or "object")
        yield tmp
        upload(tmp, loc)


def upload(local: StorageTarget, target: StorageTarget | Location) -> None:
    """Copy a local file to `target` through a temporary key, so no reader sees part of it."""
    import pyarrow.fs as pa_fs

    loc = location(target)
    fs, path = loc.filesystem()
    parent, _, name = path.rpartition("/")
    tmp = f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        pa_fs.copy_files(str(local), tmp, source_filesystem=pa_fs.LocalFileSystem(),
                         destination_filesystem=fs)  # fmt: skip
        fs.move(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            if fs.get_file_info(tmp).type != pa_fs.FileType.NotFound:
                fs.delete_file(tmp)


def download(target: StorageTarget | Location, local: StorageTarget) -> Path:
    """Copy the file or folder at `target` to the local path `local`; returns `local`."""
    import pyarrow.fs as pa_fs

    fs, path = location(target).filesystem()
    local = Path(local)
    if fs.get_file_info(path).type == pa_fs.FileType.File:
        local.parent.mkdir(parents=True, exist_ok=True)
    else:
        local.mkdir(parents=True, exist_ok=True)
    pa_fs.copy_files(path, str(local), source_filesystem=fs,
                     destination_filesystem=pa_fs.LocalFileSystem())  # fmt: skip
    return local


def local_copy(target: StorageTarget | Location, cache_dir: StorageTarget) -> Path:
    """`target` as a local path: itself when local, else a copy under `cache_dir` made once
    per version of the object(s) (keyed by URI, sizes and modification times), for readers
    that need a file (memory-mapped training sets, the streaming loader)."""
    import hashlib

    loc = location(target)
    if loc.is_local:
        return Path(loc.key)
    key = hashlib.sha256(f"{loc.uri}\n{fingerprint_files(loc)}".encode()).hexdigest()[:16]
    folder = Path(cache_dir).expanduser() / key
    copy = folder / (loc.name or "object")
    if not copy.exists():
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
        try:
            download(loc, staging / copy.name)
            os.replace(staging / copy.name, copy)  # whole, or not there at all
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return copy


def write_parquet_atomic(table: pa.Table | pa.RecordBatchReader, target: StorageTarget) -> None:
    """Write Parquet through a temporary name so readers never see a half-written file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with staged_output(target) as tmp:
        if isinstance(table, pa.Table):
            pq.write_table(table, tmp)
        else:
            with pq.ParquetWriter(tmp, table.schema) as writer:
                for batch in table:
                    writer.write_batch(batch)


def parquet_dataset(target: StorageTarget | Location) -> ds.Dataset:
    """A lazy Arrow dataset over a Parquet file or folder of Parquet files."""
    import pyarrow.dataset as ds

    fs, path = location(target).filesystem()
    return ds.dataset(path, filesystem=fs, format="parquet")


def read_parquet(target: StorageTarget | Location, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file or folder as one Arrow table (for tables that fit in memory)."""
    return parquet_dataset(target).to_table(columns=columns)


def read_parquet_frame(engine: Any, target: StorageTarget) -> Any:
    """A DataFrame of `engine` over the Parquet at `target`, wherever it lives.

    Spark reads the URI itself (`s3a://` for `s3://`, see docs/storage.md for its jars); DuckDB
    reads a local path itself and an object store through a lazy Arrow dataset, streamed.
    """
    loc = location(target)
    if loc.is_local:
        return engine.read_parquet(loc.key)
    if engine.name == "spark":
        return engine.read_parquet(spark_uri(loc))
    return engine.from_arrow(parquet_dataset(loc))


def spark_uri(target: StorageTarget | Location) -> str:
    """The URI Spark's Hadoop file systems take: `s3a://` for `s3://`, others as they are."""
    loc = location(target)
    if loc.scheme == "s3":
        return f"s3a://{loc.authority}/{loc.key}"
    return loc.uri if not loc.is_local else loc.key


def mask(text: str, cfg: StorageConfig | None = None) -> str:
    """`text` with every secret of the storage setting replaced by `***`."""
    cfg = cfg or active_storage()
    for field in type(cfg).model_fields:
        value = getattr(cfg, field)
        if isinstance(value, SecretStr) and value.get_secret_value():
            text = text.replace(value.get_secret_value(), "***")
    return text


@contextlib.contextmanager
def masked_errors() -> Iterator[None]:
    """Re-raise an error whose message quotes a storage secret (an Azure SAS token in a URL)
    with the secret masked, as the same type where it allows, else as `StorageError`."""
    try:
        yield
    except Exception as exc:
        text = str(exc)
        masked = mask(text)
        if masked == text:
            raise
        try:
            clean = type(exc)(masked)
        except Exception:
            clean = StorageError(masked)
        raise clean from None


def _checked(loc: Location, cfg: StorageConfig) -> StorageConfig:
    """`cfg`, or an error naming the missing credential setting for `loc`'s store."""
    if cfg.credentials != "keys":
        return cfg
    missing: list[str] = []
    if loc.scheme == "s3":
        missing = [
            f"storage.{f} (or {_ENV[f][0]})"
            for f in ("access_key_id", "secret_access_key")
            if getattr(cfg, f) is None
        ]
    elif loc.scheme in ("abfss", "az"):
        has_secret = (
            cfg.azure_account_key
            or cfg.azure_sas_token
            or (cfg.azure_client_id and cfg.azure_client_secret and cfg.azure_tenant_id)
        )
        if not has_secret:
            missing = [
                "storage.azure_account_key (or AZURE_STORAGE_ACCOUNT_KEY), storage.azure_sas_token"
                " (or AZURE_STORAGE_SAS_TOKEN), or storage.azure_client_id/azure_client_secret/"
                "azure_tenant_id (or AZURE_CLIENT_ID/AZURE_CLIENT_SECRET/AZURE_TENANT_ID)"
            ]
    elif loc.scheme == "gs" and not cfg.google_application_credentials:
        missing = ["storage.google_application_credentials (or GOOGLE_APPLICATION_CREDENTIALS)"]
    if missing:
        raise StorageError(
            f"{loc.uri!r}: no credentials for {loc.scheme}://: set {' and '.join(missing)}; or "
            "storage.credentials=ambient to let the SDK find them (instance profile, workload "
            "identity), or storage.credentials=anonymous for a public bucket"
        )
    return cfg


def _secrets(cfg: StorageConfig, **names: str) -> dict[str, str]:
    """{option: secret value} for each set `SecretStr` field named in `names`."""
    out = {}
    for option, field in names.items():
        value = getattr(cfg, field)
        if value is not None:
            out[option] = value.get_secret_value()
    return out


def _s3_region(cfg: StorageConfig, bucket: str) -> str:
    """The configured region; else, on AWS itself, the bucket's own (asked once per bucket);
    else us-east-1 (what S3-compatible servers expect)."""
    if cfg.region:
        return cfg.region
    if cfg.endpoint_url:
        return "us-east-1"
    return _bucket_region(bucket)


@functools.lru_cache(maxsize=64)
def _bucket_region(bucket: str) -> str:
    import pyarrow.fs as pa_fs

    try:
        return pa_fs.resolve_s3_region(bucket)
    except OSError:  # not reachable or not allowed: the SDK's default, and S3 will say
        return "us-east-1"


def _s3_filesystem(cfg: StorageConfig, bucket: str) -> pa_fs.S3FileSystem:
    import pyarrow.fs as pa_fs

    kwargs: dict[str, Any] = {
        "region": _s3_region(cfg, bucket),
        "connect_timeout": 10,
        "request_timeout": 60,
        "retry_strategy": pa_fs.AwsStandardS3RetryStrategy(max_attempts=3),
    }
    if cfg.credentials == "anonymous":
        kwargs["anonymous"] = True
    else:
        kwargs.update(_secrets(cfg, access_key="access_key_id", secret_key="secret_access_key",
                               session_token="session_token"))  # fmt: skip
    if cfg.endpoint_url:
        endpoint = urlparse(cfg.endpoint_url)
        kwargs["endpoint_override"] = endpoint.netloc or cfg.endpoint_url
        kwargs["scheme"] = endpoint.scheme or ("http" if cfg.allow_http else "https")
    return pa_fs.S3FileSystem(**kwargs)


def _azure_parts(loc: Location, cfg: StorageConfig) -> tuple[str, str]:
    """(container, account) of an `abfss://container@account.dfs.core.windows.net/` or
    `az://container/` location (the account then from the setting)."""
    container, _, host = loc.authority.partition("@")
    account = host.split(".", 1)[0] if host else cfg.azure_account_name
    if not account:
        raise StorageError(
            f"{loc.uri!r}: no Azure storage account: use abfss://container@ACCOUNT.dfs.core."
            "windows.net/... or set storage.azure_account_name (or AZURE_STORAGE_ACCOUNT_NAME)"
        )
    return container, account

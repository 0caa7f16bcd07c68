"""churnops' own wheel, for a logged model to carry: an environment built from the model's
requirements alone then has the classes the model was pickled against."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import tempfile
import zipfile
from pathlib import Path

import churnops

CACHE_ENV = "CHURNOPS_WHEEL_CACHE"  # where built wheels are kept; default ~/.cache/churnops


def churnops_wheel() -> Path:
    """A wheel of the churnops code running now (cached by its content; built in-process).

    The wheel holds the package files as they are and the installed distribution's metadata
    (name, version, Python and dependency requirements), so `pip install` gives a model's
    environment exactly the code that logged it.
    """
    root = Path(churnops.__file__).parent
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    digest = hashlib.sha256()
    for p in files:
        digest.update(str(p.relative_to(root)).encode())
        digest.update(p.read_bytes())
    version = churnops.__version__
    cache = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "churnops" / "wheels")
    target = cache / digest.hexdigest()[:16] / f"churnops-{version}-py3-none-any.whl"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False) as tmp:
            _write_wheel(Path(tmp.name), root, files, version)
        # NamedTemporaryFile is 0600: a model logged with it could not be read by an image
        # built as another user. A wheel holds no secret: readable by all, as pip writes one.
        os.chmod(tmp.name, 0o644)
        os.replace(tmp.name, target)  # atomic: a concurrent logger never sees half a wheel
    return target


def _write_wheel(path: Path, root: Path, files: list[Path], version: str) -> None:
    info = f"churnops-{version}.dist-info"
    entries: list[tuple[str, bytes]] = [
        (f"churnops/{p.relative_to(root).as_posix()}", p.read_bytes()) for p in files
    ]
    entries += [
        (f"{info}/METADATA", _metadata(version).encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: churnops\nRoot-Is-Purelib: true\n"
         b"Tag: py3-none-any\n"),
        (f"{info}/top_level.txt", b"churnops\n"),
    ]  # fmt: skip
    record = [f"{name},sha256={_hash(data)},{len(data)}" for name, data in entries]
    record.append(f"{info}/RECORD,,")
    entries.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def _metadata(version: str) -> str:
    lines = ["Metadata-Version: 2.1", "Name: churnops", f"Version: {version}"]
    try:
        installed = importlib.metadata.metadata("churnops")
        requires = importlib.metadata.requires("churnops") or []
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        installed, requires = None, []
    if installed is not None and installed.get("Requires-Python"):
        lines.append(f"Requires-Python: {installed['Requires-Python']}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n"


def _hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()

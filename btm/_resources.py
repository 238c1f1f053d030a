"""Locate btm's data files.

Order of resolution (as pooch does for its caches): an explicit path given by the caller,
then an environment variable, then the copy installed inside the package (wheels carry
``reference_ranges/`` as ``btm/_reference_ranges``), then the repository checkout (an
editable install sees the source tree, where the folder sits beside ``btm/``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import BTMError

__all__ = ["data_path", "reference_ranges_dir", "sha256_of"]

_PACKAGE_DIR = Path(__file__).resolve().parent
ENV_REFERENCE_RANGES = "BTM_REFERENCE_RANGES"


def data_path(name: str) -> Path:
    """Path of a data file shipped inside the package (``btm/data/<name>``)."""
    path = _PACKAGE_DIR / "data" / name
    if not path.is_file():
        raise BTMError(f"btm data file {name!r} is missing from {path.parent}; reinstall btm")
    return path


def reference_ranges_dir() -> Path:
    """Folder holding the shipped reference intervals and biological variation tables."""
    env = os.environ.get(ENV_REFERENCE_RANGES)
    candidates = []
    if env:
        candidates.append(Path(env))
    candidates += [_PACKAGE_DIR / "_reference_ranges", _PACKAGE_DIR.parent / "reference_ranges"]
    for folder in candidates:
        if (folder / "intervals.csv").is_file():
            return folder
    tried = ", ".join(str(c) for c in candidates)
    raise BTMError(f"reference_ranges folder not found (tried {tried}); reinstall btm or set {ENV_REFERENCE_RANGES}")


def sha256_of(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()

"""Loads verireward's compiled module, ``verireward._C``, for every other module
(``from verireward._native import _C``): the one place that knows where it lives, so no module
needs the package's public ``__init__`` to reach it."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any


def _installed_package_dir() -> Any:
    """The folder of the installed verireward distribution that holds the compiled module, when this
    package is a source tree without one (Python started in the clone's root, where verireward/
    shadows the installed package), else None."""
    from importlib import metadata

    here = os.path.dirname(os.path.abspath(__file__))
    try:
        dist = metadata.distribution("verireward")
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or ():
        if len(f.parts) == 2 and f.parts[0] == "verireward" and f.name.startswith("_C."):
            folder = os.path.dirname(os.path.abspath(str(dist.locate_file(f))))
            if folder != here and os.path.exists(os.path.join(folder, f.name)):
                return folder
    return None


try:
    _C = importlib.import_module("verireward._C")
except ImportError as e:
    # The source tree has no compiled module: take the installed one (a run from the clone's root,
    # e.g. `python -m verireward.examples.trl_grca`, then works like a run from anywhere else).
    _folder = _installed_package_dir()
    if _folder is None:
        raise ImportError(
            f"verireward's compiled module could not be imported ({e}). Install the package with "
            "`pip install .` (the source tree's verireward/ folder has no compiled module)."
        ) from e
    sys.modules["verireward"].__path__.append(_folder)
    _C = importlib.import_module("verireward._C")

__all__ = ["_C"]

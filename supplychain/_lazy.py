"""A package's exports loaded on first use (PEP 562 module `__getattr__`), so importing the
package for one light name does not import its heavy modules."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """The `__getattr__` of `package`: `where` maps an exported name to the submodule that
    defines it. The first lookup imports that submodule and keeps the name in the package."""

    def load(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return load

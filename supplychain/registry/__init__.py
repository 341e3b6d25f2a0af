"""OCI distribution client (issue 4). Placeholder until the registry layer lands."""

from __future__ import annotations

from typing import Any

from supplychain.errors import NotBuiltYet
from supplychain.image.reference import ImageRef
from supplychain.image.store import ContentStore


def open_repository(ref: ImageRef, options: Any = None) -> ContentStore:
    raise NotBuiltYet(
        f"cannot open {ref.name}: the registry layer is not built yet",
        fix="use an OCI layout (oci:DIR) until issue 4 lands",
    )

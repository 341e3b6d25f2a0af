"""A publish that fails half-way leaves nothing: no new layout, an existing one untouched."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from supplychain.build import BuildResult, PublishTarget, publish
from supplychain.errors import ImageNotFound
from tests.build.conftest import make_base_layout


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _broken(result: BuildResult) -> BuildResult:
    """The same image with its last platform's binary layer missing: writing fails late."""
    missing = result.images[-1].app_layer.descriptor.digest
    return dataclasses.replace(result, blobs={k: v for k, v in result.blobs.items() if k != missing})


def test_new_layout_is_not_created(hello_multi: BuildResult, tmp_path: Path) -> None:
    with pytest.raises(ImageNotFound, match="is not in build hello"):
        publish(_broken(hello_multi), PublishTarget(output=f"oci:{tmp_path / 'oci'}",
                                                    tarball=str(tmp_path / "img.tar")))
    assert os.listdir(tmp_path) == []


def test_existing_layout_is_left_as_it_was(hello_multi: BuildResult, tmp_path: Path) -> None:
    out = tmp_path / "oci"
    make_base_layout(out)  # a layout holding another image
    before = _snapshot(out)
    with pytest.raises(ImageNotFound, match="is not in build hello"):
        publish(_broken(hello_multi), PublishTarget(output=f"oci:{out}", tag="app:new"))
    # the amd64 blobs written before the failure are gone again, index.json is the old one
    assert _snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["oci"]


def test_failed_tarball_leaves_no_file(hello_multi: BuildResult, tmp_path: Path) -> None:
    with pytest.raises(ImageNotFound):
        publish(_broken(hello_multi), PublishTarget(output=None, tarball=str(tmp_path / "img.tar")))
    assert os.listdir(tmp_path) == []

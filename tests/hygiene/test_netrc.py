"""~/.netrc never adds credentials to sccheck's requests, its own or the Sigstore client's
(requests would attach a netrc entry over the bearer token Fulcio expects); child processes
still see NETRC as the user set it, for go and git."""

from __future__ import annotations

import json
import os
from pathlib import Path

from supplychain import tools
from supplychain.image.layout import OCILayout
from tests.helpers.devstack import DevStack
from tests.signing.images import push_tiny_image

NETRC = "default login netrc-user password netrc-password-3f1\n"


def test_keyless_signing_ignores_a_netrc_default_entry(sccheck, dev_stack: DevStack, tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "oci", create=True)
    digest = push_tiny_image(layout, "v1", text="netrc").digest
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text(NETRC)
    (home / ".netrc").chmod(0o600)
    env = {"HOME": str(home), "SCCHECK_TRUST_CONFIG": str(dev_stack.trust_config),
           "SCCHECK_DEV_TOKEN_URL": dev_stack.token_url, "SIGSTORE_ID_TOKEN": "",
           "SCCHECK_IDENTITY_TOKEN": ""}
    proc = sccheck("--json", "sign", f"oci:{tmp_path / 'oci'}:v1", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["digest"] == digest and doc["mode"] == "keyless"
    assert "netrc-password" not in proc.stdout + proc.stderr


def test_children_get_netrc_back(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tools, "_FOUND_NETRC", [])
    monkeypatch.setenv("NETRC", str(tmp_path / "my-netrc"))
    tools.shield_netrc()
    assert os.environ["NETRC"] == os.devnull
    assert tools.child_env()["NETRC"] == str(tmp_path / "my-netrc")
    monkeypatch.setattr(tools, "_FOUND_NETRC", [None])
    assert "NETRC" not in tools.child_env()
    assert tools.child_env({"NETRC": "/elsewhere"})["NETRC"] == "/elsewhere"

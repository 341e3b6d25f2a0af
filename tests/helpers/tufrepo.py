"""A minimal TUF repository on 127.0.0.1 that serves one target, `trusted_root.json`.

Kyverno (and policy-controller's `TrustRoot.spec.remote`) initialise a TUF client before they
read any Sigstore trust material, so a private Sigstore needs one. Made with python-tuf's
metadata API: one ed25519 key for every role, version 1 of each role, no consistent snapshots.
"""

from __future__ import annotations

import datetime as dt
import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization.json import JSONSerializer

from tests.helpers.procs import free_port


@dataclass(frozen=True)
class TufRepo:
    directory: Path
    url: str
    root_json: Path


def write_repository(directory: Path, trusted_root: bytes) -> Path:
    """Write signed metadata and the target under `directory`; returns the initial root.json."""
    signer = CryptoSigner.generate_ed25519()
    expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=30)
    root = Root(expires=expires, consistent_snapshot=False)
    for role in ("root", "targets", "snapshot", "timestamp"):
        root.add_key(signer.public_key, role)
    targets = Targets(expires=expires)
    targets.targets["trusted_root.json"] = TargetFile.from_data("trusted_root.json", trusted_root)
    snapshot = Snapshot(expires=expires)
    snapshot.meta["targets.json"] = MetaFile(version=1)
    timestamp = Timestamp(expires=expires)
    timestamp.snapshot_meta = MetaFile(version=1)
    (directory / "targets").mkdir(parents=True, exist_ok=True)
    (directory / "targets" / "trusted_root.json").write_bytes(trusted_root)
    serializer = JSONSerializer(compact=False)
    for name, signed in (("root", root), ("targets", targets), ("snapshot", snapshot),
                         ("timestamp", timestamp)):
        md = Metadata(signed)
        md.sign(signer)
        data = md.to_bytes(serializer)
        (directory / f"{name}.json").write_bytes(data)
        if name == "root":
            (directory / "1.root.json").write_bytes(data)
    return directory / "1.root.json"


@contextmanager
def serve_repository(directory: Path, trusted_root: bytes) -> Iterator[TufRepo]:
    root_json = write_repository(directory, trusted_root)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                             functools.partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TufRepo(directory, f"http://127.0.0.1:{port}", root_json)
    finally:
        server.shutdown()
        server.server_close()

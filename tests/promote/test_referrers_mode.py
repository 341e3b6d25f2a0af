"""`sccheck registry probe` on the real registries, and `--referrers-mode` deciding where a
referrer is listed."""

from __future__ import annotations

import json

import pytest

from supplychain.errors import Error
from supplychain.image.descriptor import Descriptor
from supplychain.registry import RegistryOptions
from supplychain.registry.referrers import fallback_listed
from supplychain.signing.storage import attach_bundle
from supplychain.stores import open_store
from tests.conftest import run_sccheck
from tests.helpers.faultproxy import FaultProxy
from tests.helpers.registries import Registry
from tests.signing.images import push_tiny_image


def test_probe_reports_what_each_registry_can_do(any_registry: Registry) -> None:
    out = run_sccheck("--json", "registry", "probe", any_registry.host)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    caps = {k: v["supported"] for k, v in doc["capabilities"].items()}
    assert caps["referrersApi"] is any_registry.referrers_api
    assert caps["fallbackTagSchema"] is True and caps["chunkedUpload"] is True
    assert caps["oci11MediaTypes"] is True
    # distribution 2.8 mounts across repositories; go-containerregistry's registry answers 202
    assert caps["crossRepositoryMount"] is (not any_registry.referrers_api)
    # go-containerregistry's registry takes a blob in one POST; distribution 2.8 opens a session
    assert caps["singleRequestUpload"] is any_registry.referrers_api
    limit = doc["manifestSizeLimit"]
    assert limit["largestAccepted"] >= 4 << 20
    assert doc["recommendedReferrersMode"] == ("api" if any_registry.referrers_api else "tag")
    human = run_sccheck("registry", "probe", any_registry.host)
    assert human.returncode == 0 and "referrersApi" in human.stdout and "recommended" in human.stdout


def test_probe_of_an_unreachable_registry_is_exit_3() -> None:
    out = run_sccheck("--json", "--quiet", "registry", "probe", "127.0.0.1:1", "--retries", "0")
    assert out.returncode == 3, out.stdout + out.stderr
    assert json.loads(out.stdout)["ok"] is False


def _subject(reg: Registry, name: str) -> tuple[str, Descriptor]:
    ref = reg.ref(name, "v1")
    return ref, push_tiny_image(open_store(ref), "v1", text=name)


@pytest.mark.parametrize("mode", ["auto", "api", "tag", "both"])
def test_referrers_mode_decides_where_a_referrer_is_listed(mode: str, any_registry: Registry) -> None:
    ref, subject = _subject(any_registry, f"mode/{mode}")
    store = open_store(ref, RegistryOptions(referrers_mode=mode))
    if mode == "api" and not any_registry.referrers_api:
        with pytest.raises(Error) as refused:
            attach_bundle(store, subject, b'{"mode": "api"}', "https://example.com/m/v1")
        assert "has no OCI 1.1 referrers API" in f"{refused.value.message} {refused.value.found}"
        assert store.referrers(subject.digest) == []      # refused before anything was written
        return
    written = attach_bundle(store, subject, f'{{"mode": "{mode}"}}'.encode(), "https://example.com/m/v1")
    in_index = written in fallback_listed(store, subject.digest)  # type: ignore[arg-type]
    assert in_index is (mode in ("tag", "both") or (mode == "auto" and not any_registry.referrers_api))
    assert written in {d.digest for d in store.referrers(subject.digest)}


def test_the_capability_question_is_asked_once_per_registry(referrers_registry: Registry) -> None:
    from supplychain.registry import capabilities

    proxy = FaultProxy(referrers_registry.host)
    try:
        capabilities.forget(proxy.host)
        for i in range(3):
            ref = f"{proxy.host}/once/app{i}:v1"
            subject = push_tiny_image(open_store(ref), "v1", text=f"once-{i}")
            attach_bundle(open_store(ref), subject, f'{{"n": {i}}}'.encode(), "https://example.com/o/v1")
        probes = [p for _, _, p, _ in proxy.log if "/referrers/sha256:" + "0" * 64 in p]
        assert len(probes) == 1, probes
    finally:
        proxy.stop()


@pytest.mark.parametrize("refuse", [None, 405])
def test_a_small_blob_goes_up_in_one_request_where_the_registry_takes_it(
        any_registry: Registry, refuse: int | None) -> None:
    """The go-containerregistry registry stores a blob POSTed with ?digest= (201); distribution 2.8
    opens an upload session instead (202) and gets the bytes by PUT; a registry that refuses the
    request (405) gets the usual POST and PUT. Each blob is stored whole, and a registry that
    declined is not asked again in this process."""
    from supplychain.registry import capabilities

    proxy = FaultProxy(any_registry.host)
    try:
        capabilities.forget(proxy.host)
        if refuse:
            proxy.fail("blob", nth=1, status=refuse)
        store = open_store(f"{proxy.host}/single/post:v1")
        blobs = [f"small blob {i} {refuse}".encode() for i in range(2)]
        proxy.reset()
        first = store.write_blob(blobs[0])
        first_log = list(proxy.log)
        proxy.reset()
        second = store.write_blob(blobs[1])
        second_log = list(proxy.log)
        for desc, data in ((first, blobs[0]), (second, blobs[1])):
            assert open_store(f"{any_registry.host}/single/post:v1").read_blob(desc) == data
        posts_with_bytes = [p for _, m, p, _ in first_log + second_log if m == "POST" and "digest=" in p]
        uploads = [(m, s) for _, m, p, s in first_log if "/uploads" in p]
        if any_registry.referrers_api and not refuse:
            assert uploads == [("POST", 201)] and len(posts_with_bytes) == 2
            assert not capabilities.declines_single_post(proxy.host)
        else:
            assert capabilities.declines_single_post(proxy.host)
            assert len(posts_with_bytes) == 1    # asked once; the second blob goes POST, PUT
            assert [m for _, m, p, _ in second_log if "/uploads" in p] == ["POST", "PUT"]
            refused = [("POST", 405)] if refuse else []
            assert uploads == [*refused, ("POST", 202), ("PUT", 201)]
    finally:
        capabilities.forget(proxy.host)
        proxy.stop()

"""SBOMs of OCI images: Go programs found in the layers, OS packages, per-platform BOMs, schema
validity (CycloneDX 1.6 and 1.5), the CLI, and bad input that leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from supplychain.errors import ImageError, SbomError, UsageError
from supplychain.image.layout import OCILayout
from supplychain.sbom.cyclonedx import validate_json
from supplychain.sbom.generate import SbomDocument, generate_sbom, write_sboms
from tests.sbom.conftest import COBRA_VERSION, HELLO_VERSION, LOGTEXT_TAG, Built, Images
from tests.sbom.images import CREATED, PlatformSpec, alpine_base, write_image


def _doc(doc: SbomDocument) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(doc.text)
    return data


def _props(comp: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in comp.get("properties", [])}


def _deps(bom: dict[str, Any]) -> dict[str, list[str]]:
    return {d["ref"]: sorted(d.get("dependsOn", [])) for d in bom["dependencies"]}


def test_alpine_image_with_hello(images: Images) -> None:
    [doc] = generate_sbom(f"oci:{images.hello_alpine}", validate=True)
    bom = _doc(doc)
    digest = OCILayout(images.hello_alpine).resolve("latest").digest
    subject = bom["metadata"]["component"]
    assert (subject["type"], subject["bom-ref"]) == ("container", digest)
    assert subject["name"] == f"oci:{images.hello_alpine}"
    assert subject["hashes"] == [{"alg": "SHA-256", "content": digest.split(":")[1]}]
    assert bom["metadata"]["timestamp"] == CREATED.replace("Z", "+00:00")
    assert bom["metadata"]["tools"]["components"][0]["name"] == "sccheck"
    purls = sorted(c["purl"] for c in bom["components"] if "purl" in c)
    assert purls == [
        "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3",
        "pkg:apk/alpine/ca-certificates-bundle@20240705-r0?arch=x86_64&distro=alpine-3.20.3",
        "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3",
        "pkg:golang/github.com/google/uuid@v1.6.0",
        f"pkg:golang/github.com/sccheck/examples/hello@v{HELLO_VERSION}",
        f"pkg:golang/stdlib@{doc_go(bom)[2:]}",
    ]
    main_ref = f"pkg:golang/github.com/sccheck/examples/hello@v{HELLO_VERSION}#/app/hello"
    main = next(c for c in bom["components"] if c["bom-ref"] == main_ref)
    props = _props(main)
    assert props["sccheck:go:build:-trimpath"] == "true"
    assert props["sccheck:go:build:GOOS"] == "linux" and props["sccheck:go:build:GOARCH"] == "amd64"
    assert props["sccheck:go:build:CGO_ENABLED"] == "0"
    assert props["sccheck:location"] == "/app/hello"
    assert len(main["hashes"][0]["content"]) == 64
    uuid = next(c for c in bom["components"] if c["name"] == "github.com/google/uuid")
    assert _props(uuid)["sccheck:go:module:h1"] == "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="
    deps = _deps(bom)
    stdlib = f"pkg:golang/stdlib@{doc_go(bom)[2:]}"
    assert deps[main_ref] == sorted(["pkg:golang/github.com/google/uuid@v1.6.0", stdlib])
    assert main_ref in deps[digest] and "os:alpine@3.20.3" in deps[digest]
    assert deps["pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3"] == [
        "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"]
    assert doc.summary()["os_packages"] == 3 and doc.main_versions == (f"v{HELLO_VERSION}",)


def doc_go(bom: dict[str, Any]) -> str:
    return str(next(c["version"] for c in bom["components"] if c["name"] == "stdlib"))


def test_debian_image_with_cobra(images: Images) -> None:
    [doc] = generate_sbom(f"oci:{images.cobra_debian}")
    bom = _doc(doc)
    debs = sorted((c["name"], c["version"]) for c in bom["components"]
                  if c.get("purl", "").startswith("pkg:deb/"))
    assert debs == [("base-files", "12.4+deb12u7"), ("libc6", "2.36-9+deb12u8"),
                    ("libgcc-s1", "12.2.0-14"), ("tzdata", "2024a-0+deb12u1")]
    golang = {c["name"]: c["version"] for c in bom["components"]
              if c.get("purl", "").startswith("pkg:golang/")}
    assert golang == {
        "example.com/sccheck/cobrayaml": COBRA_VERSION, "github.com/spf13/cobra": "v1.10.2",
        "github.com/spf13/pflag": "v1.0.9", "gopkg.in/yaml.v3": "v3.0.1", "stdlib": doc_go(bom)}
    main = next(c for c in bom["components"] if c["name"] == "example.com/sccheck/cobrayaml")
    assert _props(main)["sccheck:go:build:-ldflags"] == f"-s -w -X main.version={COBRA_VERSION}"
    assert _props(main)["sccheck:location"] == "/usr/local/bin/cobrayaml"


def test_multi_platform_gives_one_bom_per_platform(images: Images) -> None:
    docs = generate_sbom(f"oci:{images.logtext_multi}")
    index = OCILayout(images.logtext_multi).resolve("latest").digest
    assert [d.subject.platform for d in docs] == ["linux/amd64", "linux/arm64"]
    for doc in docs:
        bom = _doc(doc)
        subject = bom["metadata"]["component"]
        assert subject["bom-ref"] == doc.subject.digest != index
        assert _props(subject) == {"sccheck:image:platform": doc.subject.platform,
                                   "sccheck:image:index-digest": index}
        main = next(c for c in bom["components"] if c["name"] == "example.com/sccheck/logtext")
        props = _props(main)
        assert main["version"] == LOGTEXT_TAG
        assert props["sccheck:go:build:GOARCH"] == doc.subject.platform.split("/")[1]
        assert props["sccheck:go:build:vcs.modified"] == "false"
        assert props["sccheck:go:build:vcs.time"] == "2026-01-02T03:04:05Z"
        assert len(props["sccheck:go:build:vcs.revision"]) == 40
        text = next(c for c in bom["components"] if c["name"] == "golang.org/x/text")
        assert (text["version"], text["purl"]) == ("v0.37.0", "pkg:golang/golang.org/x/text@v0.37.0")
        assert _props(text)["sccheck:go:replaces"] == "golang.org/x/text@v0.38.0"
    [arm] = generate_sbom(f"oci:{images.logtext_multi}", platform="linux/arm64")
    assert arm.text == docs[1].text
    with pytest.raises(UsageError, match="no image for platform linux/s390x") as err:
        generate_sbom(f"oci:{images.logtext_multi}", platform="linux/s390x")
    assert err.value.found == "linux/amd64, linux/arm64"


def test_image_without_go_programs(tmp_path: Path) -> None:
    write_image(tmp_path / "base", [PlatformSpec("amd64", [alpine_base()], entrypoint=["/bin/sh"])])
    [doc] = generate_sbom(str(tmp_path / "base"), validate=True)
    assert (doc.go_programs, doc.os_packages) == (0, 3)


@pytest.mark.parametrize("spec", ["1.6", "1.5"])
def test_every_kind_of_bom_is_schema_valid(images: Images, built: Built, spec: str) -> None:
    targets = [f"oci:{images.hello_alpine}", f"oci:{images.cobra_debian}", f"oci:{images.logtext_multi}",
               str(built.cobrayaml), str(built.logtext),
               str(Path(__file__).parents[2] / "examples" / "hello")]
    for target in targets:
        for doc in generate_sbom(target, spec_version=spec):
            validate_json(doc.text, spec)
            assert _doc(doc)["specVersion"] == spec


def test_same_input_same_bom(images: Images) -> None:
    first = generate_sbom(f"oci:{images.cobra_debian}")[0].text
    assert generate_sbom(f"oci:{images.cobra_debian}")[0].text == first


def test_cli_writes_per_platform_files(images: Images, tmp_path: Path, sccheck: Any) -> None:
    out = tmp_path / "sbom.cdx.json"
    done = sccheck("--json", "sbom", f"oci:{images.logtext_multi}", "--output", str(out),
                   "--spec-version", "1.5")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    expected = [str(tmp_path / "sbom.linux-amd64.cdx.json"), str(tmp_path / "sbom.linux-arm64.cdx.json")]
    assert result["outputs"] == expected
    assert [s["main_versions"] for s in result["sboms"]] == [[LOGTEXT_TAG], [LOGTEXT_TAG]]
    assert [s["go_modules"] for s in result["sboms"]] == [3, 3]
    for path in expected:
        validate_json(Path(path).read_text(), "1.5")
    assert sorted(p.name for p in tmp_path.iterdir()) == [Path(p).name for p in expected]


def test_cli_stdout_and_usage_errors(images: Images, built: Built, sccheck: Any) -> None:
    done = sccheck("sbom", str(built.hello))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["metadata"]["component"]["version"] == f"v{HELLO_VERSION}"
    done = sccheck("sbom", f"oci:{images.logtext_multi}")
    assert done.returncode == 2
    assert "has 2 platforms" in done.stderr and "--platform" in done.stderr
    done = sccheck("sbom", "/no/such/thing:::")
    assert done.returncode == 2 and "neither a file, a directory nor an image reference" in done.stderr


def test_bad_inputs_fail_clearly_and_write_nothing(images: Images, tmp_path: Path, sccheck: Any) -> None:
    out = tmp_path / "out.json"
    done = sccheck("sbom", "/bin/true", "--output", str(out))
    assert done.returncode == 3 and "has no Go build info" in done.stderr and "fix:" in done.stderr
    done = sccheck("sbom", f"oci:{tmp_path / 'missing'}", "--output", str(out))
    assert done.returncode == 3 and "is not an OCI layout" in done.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    done = sccheck("--json", "sbom", f"oci:{images.hello_alpine}", "--output", str(blocker / "sbom.json"))
    assert done.returncode == 2 and json.loads(done.stdout)["kind"] == "usage error"
    assert "cannot write the SBOM" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_corrupt_layer_is_refused(images: Images, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "corrupt"
    shutil.copytree(images.hello_alpine, copy)
    biggest = max((copy / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
    data = bytearray(biggest.read_bytes())
    data[100] ^= 0xFF
    biggest.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="does not match its digest"):
        generate_sbom(f"oci:{copy}")


def test_write_is_all_or_nothing(images: Images, tmp_path: Path) -> None:
    docs = generate_sbom(f"oci:{images.logtext_multi}")
    (tmp_path / "s.linux-arm64.json").mkdir()  # the second target cannot be written
    with pytest.raises(UsageError, match="cannot write the SBOM"):
        write_sboms(docs, str(tmp_path / "s.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.linux-arm64.json"]
    with pytest.raises(SbomError, match="is not an ELF"):
        generate_sbom(str(images.hello_alpine / "index.json"))

"""Turn an Inventory into a CycloneDX BOM (1.6 JSON by default, 1.5 on request), validated.

Layout of the BOM:
- metadata: tool sccheck, timestamp = the subject's build time, component = the subject (the
  image platform manifest with its digest, or the binary's / source tree's main module);
- components: per Go program its main module (an application with the build settings as
  `sccheck:go:build:<key>` properties and the binary's SHA-256), every module it uses
  (`pkg:golang/<path>@<version>`, the go.sum `h1:` hash as the property `sccheck:go:module:h1`,
  replacements named by the module really used with `sccheck:go:replaces`), the Go standard
  library (`pkg:golang/stdlib@<version>`); the OS and its packages (`pkg:apk/...`, `pkg:deb/...`);
- dependencies: subject -> programs and OS packages; main -> modules (the module graph in
  source mode) and stdlib; OS package -> the installed packages it depends on.
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from datetime import UTC, datetime
from typing import Any

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL

from supplychain import __version__
from supplychain.errors import SbomError, UsageError
from supplychain.sbom.buildinfo import Module
from supplychain.sbom.model import DEVEL, GoProgram, Inventory, Subject
from supplychain.sbom.ospkgs import OsPackage

SPEC_VERSIONS = {"1.6": SchemaVersion.V1_6, "1.5": SchemaVersion.V1_5}
PROP = "sccheck"


def schema_version(spec: str) -> Any:
    if spec not in SPEC_VERSIONS:
        raise UsageError(f"unsupported CycloneDX spec version {spec!r}", expected="1.6 or 1.5",
                         fix="pass --spec-version 1.6 (the default) or 1.5")
    return SPEC_VERSIONS[spec]


def golang_purl(path: str, version: str, subpath: str = "") -> PackageURL:
    """`pkg:golang/<module path>@<version>[#<package below the module root>]`, as the purl spec
    (and syft, grype, trivy) have it for a main package in `cmd/server`."""
    namespace, _, name = path.rpartition("/")
    return PackageURL(type="golang", namespace=namespace or None, name=name, version=version or None,
                      subpath=subpath or None)


def _local_dir(mod: Module) -> bool:
    return mod.replace is not None and mod.replace.path.startswith((".", "/"))


def _module_component(mod: Module) -> Component:
    used = mod if mod.replace is None or _local_dir(mod) else mod.replace
    version = DEVEL if _local_dir(mod) else used.version
    purl = golang_purl(used.path, version)
    props = []
    if used.sum:
        props.append(Property(name=f"{PROP}:go:module:h1", value=used.sum))
    if mod.replace is not None:
        props.append(Property(name=f"{PROP}:go:replaces", value=f"{mod.path}@{mod.version}"))
        if _local_dir(mod):
            props.append(Property(name=f"{PROP}:go:replacement-dir", value=mod.replace.path))
    return Component(type=ComponentType.LIBRARY, name=used.path, version=version, purl=purl,
                     bom_ref=purl.to_string(), properties=props)


def _stdlib_component(go_version: str) -> Component:
    bare = go_version.removeprefix("go")
    purl = PackageURL(type="golang", name="stdlib", version=bare)
    return Component(type=ComponentType.LIBRARY, name="stdlib", version=go_version, purl=purl,
                     bom_ref=purl.to_string(), description="the Go standard library")


def _main_component(prog: GoProgram, *, in_image: bool) -> Component:
    purl = golang_purl(prog.main.path, prog.main.version, prog.subpath)
    props = [Property(name=f"{PROP}:go:version-source", value=prog.version_source),
             Property(name=f"{PROP}:location", value=prog.location)]
    if prog.go_version:
        props.append(Property(name=f"{PROP}:go:toolchain", value=prog.go_version))
    props += [Property(name=f"{PROP}:go:build:{key}", value=value) for key, value in prog.settings]
    hashes = [HashType(alg=HashAlgorithm.SHA_256, content=prog.sha256)] if prog.sha256 else []
    ref = f"{golang_purl(prog.main.path, prog.main.version).to_string()}#{prog.location}" if in_image \
        else purl.to_string()
    return Component(type=ComponentType.APPLICATION, name=prog.main.path, version=prog.main.version,
                     purl=purl, bom_ref=ref, hashes=hashes, properties=props)



def _os_component(pkg: OsPackage) -> Component:
    purl = pkg.purl
    props = [Property(name=f"{PROP}:os:database", value=pkg.db_path)]
    if pkg.source:
        props.append(Property(name=f"{PROP}:os:source-package", value=pkg.source))
    if pkg.license:
        props.append(Property(name=f"{PROP}:os:license", value=pkg.license))
    return Component(type=ComponentType.LIBRARY, name=pkg.name, version=pkg.version, purl=purl,
                     bom_ref=purl.to_string(), properties=props)


def _subject_component(subject: Subject) -> Component:
    props = []
    if subject.platform:
        props.append(Property(name=f"{PROP}:image:platform", value=subject.platform))
    if subject.index_digest:
        props.append(Property(name=f"{PROP}:image:index-digest", value=subject.index_digest))
    hashes = []
    purl = None
    if subject.digest:
        hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=subject.digest.split(":", 1)[1]))
        qualifiers = {"arch": subject.platform.split("/")[1]} if subject.platform.count("/") >= 1 else {}
        purl = PackageURL(type="oci", name=subject.name.rsplit("/", 1)[-1].lower() or "image",
                          version=subject.digest, qualifiers=qualifiers)
    return Component(type=ComponentType.CONTAINER, name=subject.name,
                     version=subject.version or subject.digest,
                     bom_ref=subject.digest or f"image:{subject.name}", hashes=hashes, purl=purl,
                     properties=props)


def build_bom(inv: Inventory) -> Any:
    """The cyclonedx-python-lib Bom of an inventory (deterministic serial number)."""
    components: dict[str, Component] = {}
    edges: dict[str, list[str]] = {}

    def add(comp: Component) -> Component:
        ref = str(comp.bom_ref.value)
        if ref in components:
            return components[ref]
        components[ref] = comp
        return comp

    def depend(src: Component, dst: Component) -> None:
        targets = edges.setdefault(str(src.bom_ref.value), [])
        if str(dst.bom_ref.value) not in targets and dst is not src:
            targets.append(str(dst.bom_ref.value))

    subject = inv.subject
    in_image = subject.kind == "image"
    if in_image:
        root = _subject_component(subject)
    elif inv.programs:
        root = _main_component(inv.programs[0], in_image=False)
    else:
        raise SbomError("nothing to describe: no Go program was found")

    for prog in inv.programs:
        main = _main_component(prog, in_image=True) if in_image else root
        if in_image:
            add(main)
            depend(root, main)
        by_path: dict[str, Component] = {}
        for mod in prog.deps:
            comp = add(_module_component(mod))
            comp.properties.add(Property(name=f"{PROP}:location", value=prog.location))
            if mod.path in prog.indirect:
                comp.properties.add(Property(name=f"{PROP}:go:indirect", value="true"))
            by_path[mod.path] = comp
        if prog.graph is None:
            for comp in by_path.values():
                depend(main, comp)
        else:
            for src_path, dst_paths in prog.graph.items():
                src = main if src_path == prog.main.path else by_path.get(src_path)
                for dst_path in dst_paths:
                    if src is not None and dst_path in by_path:
                        depend(src, by_path[dst_path])
        if prog.go_version:
            depend(main, add(_stdlib_component(prog.go_version)))

    if inv.os_release is not None:
        distro, distro_version = inv.os_release
        os_comp = add(Component(type=ComponentType.OPERATING_SYSTEM, name=distro,
                                version=distro_version or None, bom_ref=f"os:{distro}@{distro_version}"))
        depend(root, os_comp)
    by_name: dict[tuple[str, str], Component] = {}
    for pkg in inv.os_packages:
        comp = add(_os_component(pkg))
        by_name[(pkg.ecosystem, pkg.name)] = comp
        depend(root, comp)
    for pkg in inv.os_packages:
        for name in pkg.depends:
            target = by_name.get((pkg.ecosystem, name))
            if target is not None:
                depend(by_name[(pkg.ecosystem, pkg.name)], target)

    identity = "\n".join([__version__, subject.kind, subject.name, subject.digest, subject.platform,
                          *(p.sha256 or p.location for p in inv.programs), *sorted(components)])
    serial = uuid.uuid5(uuid.NAMESPACE_URL, "sccheck-sbom:" + hashlib.sha256(identity.encode()).hexdigest())
    bom = Bom(serial_number=serial)
    bom.metadata.timestamp = subject.timestamp or datetime.now(UTC)
    bom.metadata.tools.components.add(Component(type=ComponentType.APPLICATION, name="sccheck",
                                                version=__version__))
    bom.metadata.component = root
    for comp in components.values():
        bom.components.add(comp)
    everything = {str(root.bom_ref.value): root, **components}
    for ref in [str(root.bom_ref.value), *components]:
        bom.register_dependency(everything[ref], [everything[t] for t in edges.get(ref, [])])
    return bom


def render(bom: Any, spec: str = "1.6", *, validate: bool = False) -> str:
    """JSON text of the BOM; with `validate`, checked against the CycloneDX schema of `spec`
    (off by default: loading the schema validator costs seconds, and the tests validate every
    kind of BOM sccheck writes)."""
    version = schema_version(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text: str = make_outputter(bom, OutputFormat.JSON, version).output_as_string(indent=2)
    if validate:
        validate_json(text, spec)
    return text + "\n"


def validate_json(text: str, spec: str) -> None:
    """Raise SbomError unless `text` is valid CycloneDX `spec` JSON."""
    from cyclonedx.validation.json import JsonStrictValidator

    problem = JsonStrictValidator(schema_version(spec)).validate_str(text)
    if problem is not None:
        raise SbomError(f"the generated SBOM is not valid CycloneDX {spec} (a bug in sccheck)",
                        found=str(problem)[:1000], fix="report it with the input that caused it")

"""CycloneDX SBOMs from Go build info, go.mod trees and base-image package databases.

`generate_sbom(target)` is the one entry point (see `supplychain.sbom.generate`).
"""

from supplychain.sbom.generate import SbomDocument, generate_sbom, write_sboms

__all__ = ["SbomDocument", "generate_sbom", "write_sboms"]

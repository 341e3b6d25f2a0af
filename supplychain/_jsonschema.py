"""jsonschema, imported without its 2-second detour.

`import jsonschema` imports `rfc3987_syntax` when it is installed (it comes with
cyclonedx-python-lib's validation extra), and that module compiles some forty Lark grammars at
import time: about two seconds before `sccheck verify` could say what is wrong with a policy
(a valid policy skips jsonschema altogether: policy/schemacheck.py). Our policy schema uses no
`iri`/`iri-reference` formats, so the gate imports jsonschema with that module hidden.
A process that already imported jsonschema (e.g. to validate SBOMs) keeps what it has.
"""

from __future__ import annotations

import sys

if "jsonschema" not in sys.modules and "rfc3987_syntax" not in sys.modules:
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # makes its import fail fast
    try:
        import jsonschema
    finally:
        del sys.modules["rfc3987_syntax"]
else:
    import jsonschema

__all__ = ["jsonschema"]

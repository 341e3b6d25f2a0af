"""sccheck: from Go source to a signed, verified, promoted container image.

The library lives here; `supplychain.cli` is a thin click layer on top of it and is the only
module allowed to import click.
"""

__version__ = "0.1.0"

"""Type stubs of the Rust extension ``mzero._core``."""

__version__: str

"""qualitylib: annotator quality and agreement analytics on a DuckDB label store."""

__version__ = "0.1.0"

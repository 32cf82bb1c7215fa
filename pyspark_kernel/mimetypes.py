"""The kernel's versioned mime types (documented in docs/mimetypes.md)."""

TABLE = "application/vnd.pyspark-kernel.table.v1+json"
PROGRESS = "application/vnd.pyspark-kernel.progress.v1+json"
STREAM = "application/vnd.pyspark-kernel.stream.v1+json"

RECORD_METADATA_KEY = "pyspark_kernel"

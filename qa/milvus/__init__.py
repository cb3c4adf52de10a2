"""The Milvus storage backend: the same index on a Milvus server (milvus-lite, Standalone, Distributed, managed)."""

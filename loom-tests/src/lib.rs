//! loom models of kobj's concurrent races (filled by the loom work).

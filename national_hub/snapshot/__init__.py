"""Hub snapshots: one file holding the DuckDB store and the serving index at one point in the log,
taken while the hub serves and ingests, and laid down again to start a replica from it."""

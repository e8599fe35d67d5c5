"""`refuge keyd`: the one process that holds the root key, and its client (see docs/sealing.md)."""

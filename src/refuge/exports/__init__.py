"""Unredacted bulk exports under a two-person rule (a second coordinator approves)."""

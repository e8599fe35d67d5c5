"""Encrypted backups and restore (`refuge backup`, `refuge restore`); see docs/backups.md.

In the security layer because it needs nothing above it: it dumps every model generically
through django.apps, and works with keys only through refuge.security.crypto and sealing."""

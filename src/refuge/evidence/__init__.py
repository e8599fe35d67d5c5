"""Evidence files: encrypted at rest with a streaming AEAD, SHA-256 from intake, served only
through access-checked views."""

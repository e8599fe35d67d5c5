"""Evidence files: encrypted at rest with a streaming AEAD, SHA-256 from intake, access-checked serving."""

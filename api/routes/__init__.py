"""HTTP API routes (contract section 7)."""

"""Pure pieces shared across layers (no torch, no pandas), importable from anywhere."""

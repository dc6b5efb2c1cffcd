"""recommend (rules x models x arbitration), the HTTP API, weekly plans, persistence, review."""

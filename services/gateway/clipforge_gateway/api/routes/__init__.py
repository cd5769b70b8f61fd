"""REST routes under /v1 (thin: validate, call a use case or the read model, shape the answer)."""

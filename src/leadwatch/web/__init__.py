"""HTTP layer: middleware, error envelope, auth dependencies and the core routes."""

"""Templates: the admin-owned description of a form (schema, loading, import)."""

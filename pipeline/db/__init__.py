"""The service's state database: table definitions, migrations and connection set-up."""

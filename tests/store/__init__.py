"""Storage tests: every repository on SQLite and PostgreSQL, migrations, races."""

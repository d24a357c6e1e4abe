"""Who is calling: carrier request tokens checked against each carrier's registered JWKS."""

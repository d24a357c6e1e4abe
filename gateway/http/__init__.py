"""The carrier-facing HTTP transport (aiohttp): /v1 API, problem+json errors, spec files."""

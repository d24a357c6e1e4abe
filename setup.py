"""The one packaging fact pyproject.toml cannot state: the top-level `schemas/` directory (the
published spec, which stays at the repository's top level) ships as package data of
`gateway._schemas`, i.e. as gateway/_schemas/v1 in the wheel. The rest is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

PACKAGES = find_namespace_packages(include=["gateway*", "adapters*", "connectors*"])
# Its folders are listed too (v1, v1.examples...): setuptools warns about folders of package
# data that Python could import but the configuration does not name.
SPEC = ["gateway._schemas", *(f"gateway._schemas.{p}" for p in find_namespace_packages("schemas"))]

setup(packages=[*PACKAGES, *SPEC], package_dir={"gateway._schemas": "schemas"})

"""Every admin answer checked against openapi.yaml: operation, status and body documented."""

from __future__ import annotations

import functools
import re
from typing import Any

import httpx
import yaml
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gateway.spec import Spec

BASE = "https://openlocker.dev/olp/v1/"
DOC_URI = BASE + "openapi.yaml"


class OpenApiCheck:
    """`await check(response)`: raises AssertionError when the answer is not documented."""

    def __init__(self, spec: Spec) -> None:
        self.doc: dict[str, Any] = yaml.safe_load((spec.spec_dir / "openapi.yaml").read_text())
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self._registry: Registry[Any] = spec.registry.with_resource(DOC_URI, resource)
        self._paths = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in self.doc["paths"]
            if path.startswith("/v1/admin/")
        ]
        self.checked = 0

    def template(self, path: str) -> str | None:
        for pattern, template in self._paths:
            if pattern.match(path):
                return str(template)
        return None

    async def __call__(self, response: httpx.Response) -> None:
        request = response.request
        path = request.url.path
        if not path.startswith("/v1/admin/"):
            return
        template = self.template(path)
        assert template is not None, f"{path} is not documented"
        operation = self.doc["paths"][template].get(request.method.lower())
        assert operation is not None, f"{request.method} {template} is not documented"
        status = str(response.status_code)
        responses = operation["responses"]
        key = status if status in responses else status[0] + "XX"
        assert key in responses, f"{request.method} {template} answers {status}, undocumented"
        # A JSON pointer to the documented response, so the schema resolves in its document.
        pointer = "#/paths/" + _escape(template) + f"/{request.method.lower()}/responses/{key}"
        documented = responses[key]
        while "$ref" in documented:
            pointer = documented["$ref"]
            documented = self._deref({"$ref": pointer}, once=True)
        await response.aread()
        if "content" not in documented:
            assert not response.content, f"{request.method} {template} {status} has a body"
            return
        media = response.headers["Content-Type"].split(";")[0]
        assert media in documented["content"], f"{request.method} {template} {status}: {media}"
        schema_at = f"{DOC_URI}{pointer}/content/{_escape(media)}/schema"
        validator = Draft202012Validator(
            {"$ref": schema_at}, registry=self._registry, format_checker=FormatChecker()
        )
        errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.path))
        assert not errors, f"{request.method} {template} {status}: {errors[0].message}"
        self.checked += 1

    def _deref(self, node: dict[str, Any], *, once: bool = False) -> dict[str, Any]:
        ref = node.get("$ref", "")
        target: Any = self.doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        return target if once else self._deref(target)


def _escape(token: str) -> str:
    """One JSON-pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


@functools.cache
def checker() -> OpenApiCheck:
    return OpenApiCheck(Spec.load())

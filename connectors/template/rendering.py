"""Jinja2 in a sandbox: compiled once at start-up, rendered per event, failures as MappingError.

Templates come from operators' files, so they run sandboxed with StrictUndefined (a typo is an
error, not an empty string) and without autoescaping (the output is JSON or a URL, not HTML).
In a URL every `{{ }}` value is percent-encoded, so a parcel id can never add a path segment,
a query or another host. Error texts name the template and the fault, never the values: the
context may hold a recipient's personal data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jinja2 import (
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    Undefined,
    UndefinedError,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from gateway.sdk.connectors import ConnectorConfigError, MappingError

__all__ = ["CompiledTemplate", "compile_template", "parse_json", "tojson"]


def _not_json(value: Any) -> Any:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError, naming what is undefined
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def tojson(value: Any) -> str:
    """A JSON literal for any context value; unlike Jinja's own, it does not HTML-escape."""
    return json.dumps(value, ensure_ascii=False, default=_not_json)


def _url_part(value: Any) -> str:
    if value is None:
        raise ValueError("a URL part is null")
    return quote(value if isinstance(value, str) else tojson(value), safe="")


def _environment(*, url: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        finalize=_url_part if url else None,
    )
    env.filters["tojson"] = tojson
    return env


_TEXT = _environment(url=False)
_URL = _environment(url=True)


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """One template of the config, with the JSON pointer of the setting it came from."""

    where: str
    template: Template

    def render(self, context: Mapping[str, Any], *, explain: bool = False) -> str:
        """The rendered text. `explain` adds Jinja's own message to a failure: it may quote
        a value (an unknown key is named by its value), so only sample data is explained."""
        try:
            return self.template.render(context)
        except (UndefinedError, SecurityError) as err:
            why = f": {err.message}" if explain else " (an undefined value or unsafe access)"
            raise MappingError(
                f"{self.where}: the template failed{why}", pointer=self.where
            ) from err
        except (TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as err:
            why = f": {type(err).__name__}: {err}" if explain else f" with {type(err).__name__}"
            raise MappingError(
                f"{self.where}: the template failed{why}", pointer=self.where
            ) from err


def compile_template(source: str, where: str, *, url: bool = False) -> CompiledTemplate:
    """Compile now so that a syntax error stops the start-up and names the setting."""
    try:
        template = (_URL if url else _TEXT).from_string(source)
    except TemplateSyntaxError as err:
        raise ConnectorConfigError(
            f"{where}: the template does not compile: {err.message} (line {err.lineno})"
        ) from err
    return CompiledTemplate(where, template)


def parse_json(text: str, where: str) -> Any:
    """The rendered text as JSON; MappingError (without the text) when it is not."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise MappingError(
            f"{where}: the rendered text is not valid JSON: {err.msg} "
            f"(line {err.lineno}, column {err.colno})",
            pointer=where,
        ) from err

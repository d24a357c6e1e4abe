"""`{name}` templates in connector configs (topics, URIs): checked once, at construction."""

from __future__ import annotations

import string

from gateway.sdk.connectors.errors import ConnectorConfigError

__all__ = ["template_placeholders"]


def template_placeholders(where: str, template: str, allowed: frozenset[str]) -> set[str]:
    """The placeholder names of a `str.format`-style template.

    `where` prefixes every message ("cloudevents: topic"). Anything but plain `{name}` with a
    name from `allowed` is a ConnectorConfigError: a format spec or a conversion could turn a
    carrier's id into something else than what the mapping author saw.
    """
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ConnectorConfigError(f"{where}: bad template ({err})") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed:
            known = ", ".join("{" + n + "}" for n in sorted(allowed))
            raise ConnectorConfigError(f"{where}: unknown placeholder {{{name}}} (known: {known})")
        if spec or conversion:
            raise ConnectorConfigError(
                f"{where}: placeholder {{{name}}} takes no format spec or conversion"
            )
        names.add(name)
    return names

"""SMS notifications through any HTTP SMS API: a JSON body built from config, sent by the engine.

The body is a JSON template from config whose string leaves are Jinja2 expressions over
`to` (E.164), `sender`, `text` and `event_id`; the default is `{"to", "from", "text"}`.
Credentials come from the attachment's auth plugin (API key, OAuth2), never from here.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlsplit

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import Field, field_validator

from connectors.notify_common import Notifier, NotifierConfig, sms_size
from connectors.standard_webhooks.connector import HEADER_NAME, HEADER_VALUE
from gateway.sdk.connectors import (
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorEvent,
    HttpRequest,
    MappingError,
    Outbound,
    SkipEvent,
)

__all__ = ["SmsConfig", "SmsNotifier"]

_DEFAULT_BODY: dict[str, Any] = {"to": "{{ to }}", "from": "{{ sender }}", "text": "{{ text }}"}
_SAMPLE = {"to": "+48123456789", "sender": "SENDER", "text": "sample", "event_id": "e-1"}


class SmsConfig(NotifierConfig):
    url: str = Field(min_length=8, max_length=2048)
    """The SMS API's send endpoint (https; http only for a local relay)."""
    method: str = Field(default="POST", pattern=r"^(POST|PUT)$")
    sender: str = Field(pattern=r"^([A-Za-z0-9 ]{1,11}|\+[1-9][0-9]{6,14})$")
    """Alphanumeric sender id (up to 11 characters) or an E.164 number."""
    body: dict[str, Any] = Field(default_factory=lambda: dict(_DEFAULT_BODY))
    """The JSON body; string leaves are templates over `to`, `sender`, `text`, `event_id`."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra static headers (not credentials: those belong to the auth plugin)."""
    max_parts: int = Field(default=3, ge=1, le=10)
    """Longest message allowed, in concatenated parts (160/153 GSM-7, 70/67 UCS-2 each)."""

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value


class SmsNotifier(Notifier):
    name: ClassVar[str] = "sms"
    config_model: ClassVar[type[ConnectorConfig]] = SmsConfig
    parts: ClassVar[tuple[str, ...]] = ("sms.txt",)

    def __init__(self, *, config: ConnectorConfig) -> None:
        super().__init__(config=config)
        assert isinstance(config, SmsConfig)  # checked by Notifier against config_model
        self.sms_config = config
        env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
        try:
            self._body = _compile(config.body, env)
            _fill(self._body, _SAMPLE)
        except TemplateError as err:
            raise ConnectorConfigError(
                f"sms: body template: {err}", details={"pointer": "/body"}
            ) from err
        if "{{" in json.dumps(config.headers):
            raise ConnectorConfigError("sms: headers are static", details={"pointer": "/headers"})
        for name, value in config.headers.items():
            if not HEADER_NAME.fullmatch(name) or not HEADER_VALUE.fullmatch(value):
                raise ConnectorConfigError(
                    f"sms: headers.{name}: not a header a request can carry (a name of letters, "
                    "digits and !#$%&'*+.^_`|~-; a value of visible ASCII, spaces and tabs)",
                    details={"pointer": "/headers"},
                )

    def render(self, event: ConnectorEvent) -> Outbound:
        recipient = self.recipient(event)
        if not recipient.phone:
            raise SkipEvent("the carrier gave no phone number for this recipient")
        text = " ".join(self.render_parts(event, recipient).parts["sms.txt"].split())
        size = sms_size(text)
        if size.parts > self.sms_config.max_parts:
            # Sizes only: the text itself is personal (a name, a code).
            raise MappingError(
                f"the SMS needs {size.parts} parts ({size.units} {size.encoding} units), "
                f"more than max_parts {self.sms_config.max_parts}",
                pointer="/max_parts",
            )
        values = {
            "to": recipient.phone,
            "sender": self.sms_config.sender,
            "text": text,
            "event_id": event.event_id,
        }
        try:
            body = _fill(self._body, values)
        except TemplateError as err:
            raise MappingError(
                f"body template failed: {type(err).__name__}", pointer="/body"
            ) from err
        # For correlation only, not an idempotency key: a retry carries a newer code, which a
        # provider that deduplicated it would never deliver.
        headers = {
            "Content-Type": "application/json",
            "X-OpenLocker-Event-Id": event.event_id,
            **self.sms_config.headers,
        }
        return HttpRequest(
            url=self.sms_config.url,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            method=self.sms_config.method,
            headers=headers,
        )


def _compile(node: Any, env: SandboxedEnvironment) -> Any:
    """The body with every string leaf compiled; numbers, booleans and null stay as they are."""
    if isinstance(node, dict):
        return {key: _compile(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_compile(value, env) for value in node]
    if isinstance(node, str):
        return env.from_string(node)
    return node


def _fill(node: Any, values: dict[str, str]) -> Any:
    # Leaves are rendered one by one and the JSON is built afterwards: a quote in a name
    # cannot break out of its string.
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(value, values) for value in node]
    if isinstance(node, Template):
        return node.render(values)
    return node

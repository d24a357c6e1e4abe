"""`openlocker connectors list | show | add | test | disable | enable`: connector attachments.

`add` checks an attachment exactly as the gateway does at start-up; `test` renders a sample
event through it and prints the request it would send (secrets masked), and with `--send`
sends it once through the real transport. `show` prints an attachment's config and auth as
stored, a sealed literal secret as `<sealed>`: no command prints a secret.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tomllib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from gateway.cli.common import Subparsers, open_store
from gateway.cli.custody import keyring_for
from gateway.delivery.attachment_secrets import redacted
from gateway.errors import FieldIssue, ValidationFailed
from gateway.sdk.connectors import OLP_EVENT_TYPES, HttpRequest, MqttPublish, Outbound, SkipEvent
from gateway.sdk.connectors.samples import sample_event
from gateway.service.connectors import AttachmentSummary, ConnectorService, NewAttachment
from gateway.settings import Settings
from gateway.tokens.network_keys import NetworkKeys

MASK = "****"
# Headers whose values are credentials or signatures, whatever the auth plugin.
_SECRET_HEADER = re.compile(r"auth|cookie|signature|secret|token|key|pass|credential|session", re.I)
_MAX_BODY_SHOWN = 16 * 1024


def register(sub: Subparsers) -> None:
    group = sub.add_parser("connectors", help="attach connectors to carriers")
    commands = group.add_subparsers(required=True, metavar="COMMAND")
    commands.add_parser("list", help="list attachments").set_defaults(func=_list)

    show = commands.add_parser("show", help="an attachment as JSON, secrets shown <sealed>")
    show.add_argument("attachment_id", metavar="ID")
    show.set_defaults(func=_show)

    add = commands.add_parser("add", help="attach a connector to a carrier (checked first)")
    add.add_argument("--id", required=True, dest="attachment_id", help="the attachment's name")
    add.add_argument("--carrier", required=True, help="carrier id")
    add.add_argument("--connector", required=True, help="connector name, e.g. epcis")
    # Own dests: the global --config (the settings file) must keep its own.
    add.add_argument(
        "--config",
        dest="connector_config",
        type=Path,
        required=True,
        help="its config, .toml or .json",
    )
    add.add_argument("--auth", dest="auth_file", type=Path, help="auth block (type = ...)")
    add.add_argument("--delivery", dest="delivery_file", type=Path, help="delivery options")
    add.add_argument("--events", help="comma-separated OLP event types (default: all)")
    add.set_defaults(func=_add)

    disable = commands.add_parser("disable", help="stop sending to an attachment")
    disable.add_argument("attachment_id", metavar="ID")
    disable.add_argument("--reason", required=True)
    disable.set_defaults(func=_disable)

    enable = commands.add_parser("enable", help="send to a disabled attachment again")
    enable.add_argument("attachment_id", metavar="ID")
    enable.set_defaults(func=_enable)

    test = commands.add_parser("test", help="show (or --send) what a sample event becomes")
    test.add_argument("attachment_id", metavar="ID")
    test.add_argument(
        "--event-type",
        default="parcel.ready_for_pickup",
        choices=OLP_EVENT_TYPES,
        metavar="TYPE",
        help="the sample event's type (default parcel.ready_for_pickup)",
    )
    test.add_argument("--send", action="store_true", help="send it once and print the outcome")
    test.set_defaults(func=_test)


@contextlib.asynccontextmanager
async def _service(settings: Settings) -> AsyncIterator[ConnectorService]:
    async with open_store(settings) as store:
        keyring = await keyring_for(store, settings)
        keys = NetworkKeys(
            store=store,
            issuer=settings.network_id,
            publish_lead=settings.tokens.key_publish_lead,
            keyring=keyring,
        )
        await keys.ensure(actor="operator")
        # The keyring seals literal secrets before `add` stores them and opens them to build.
        yield ConnectorService.from_settings(
            settings, store=store, sign_olp=keys.sign_detached, keyring=keyring
        )


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    async with _service(settings) as service:
        summaries = await service.list()
    for line in format_list(summaries):
        print(line)
    return 0


def format_list(summaries: Iterable[AttachmentSummary]) -> list[str]:
    """One tab-separated line per attachment; config and auth are never shown."""
    lines = []
    for s in summaries:
        r = s.record
        caps = "not-installed" if s.capabilities is None else ",".join(s.capabilities) or "-"
        state = "active" if r.active else f"disabled ({r.disabled_reason or 'no reason'})"
        lines.append(
            f"{r.id}\t{r.carrier_id}\t{r.connector}\t{caps}\t{state}\t"
            f"pending={_count(s.pending)} dead={_count(s.dead)}\tsource={r.source}"
        )
    return lines


async def _show(args: argparse.Namespace, settings: Settings) -> int:
    async with _service(settings) as service:
        r = await service.get(args.attachment_id)
    shown = {
        "id": r.id,
        "carrier": r.carrier_id,
        "connector": r.connector,
        "events": None if r.events is None else list(r.events),
        "active": r.active,
        "disabled_reason": r.disabled_reason,
        "source": str(r.source),
        **redacted(r),
        "delivery": r.delivery,
    }
    print(json.dumps(shown, indent=2, sort_keys=False))
    return 0


def _count(n: int) -> str:
    return f"{n}+" if n >= 1000 else str(n)


async def _add(args: argparse.Namespace, settings: Settings) -> int:
    events = None
    if args.events:
        events = tuple(e.strip() for e in args.events.split(",") if e.strip())
    attachment = NewAttachment(
        id=args.attachment_id,
        carrier_id=args.carrier,
        connector=args.connector,
        config=read_table(args.connector_config, "config"),
        auth=read_table(args.auth_file, "auth") if args.auth_file else None,
        delivery=read_table(args.delivery_file, "delivery") if args.delivery_file else None,
        events=events,
    )
    async with _service(settings) as service:
        built = await service.add(attachment)
    caps = ", ".join(built.connector.capabilities)
    print(
        f"attached {built.record.connector!r} to carrier {built.record.carrier_id!r} "
        f"as {built.record.id!r} ({caps})"
    )
    return 0


def read_table(path: Path, what: str) -> dict[str, Any]:
    """A TOML or JSON file holding one table (object); errors name the file, never values."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise _bad_file(what, f"cannot read {path}: {type(err).__name__}") from None
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise _bad_file(what, f"{path} must end in .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise _bad_file(what, f"{path} is not valid {path.suffix[1:]}: {err}") from None
    if not isinstance(data, dict):
        raise _bad_file(what, f"{path} must hold one table (a JSON object)")
    return data


def _bad_file(what: str, detail: str) -> ValidationFailed:
    return ValidationFailed(f"--{what}: {detail}", issues=(FieldIssue(f"/{what}", detail),))


async def _disable(args: argparse.Namespace, settings: Settings) -> int:
    async with _service(settings) as service:
        record = await service.disable(args.attachment_id, args.reason)
    print(f"attachment {record.id!r} disabled: {record.disabled_reason}")
    return 0


async def _enable(args: argparse.Namespace, settings: Settings) -> int:
    async with _service(settings) as service:
        record = await service.enable(args.attachment_id)
    print(f"attachment {record.id!r} active")
    return 0


async def _test(args: argparse.Namespace, settings: Settings) -> int:
    async with _service(settings) as service:
        built = await service.build(args.attachment_id)
        record = built.record
        event = sample_event(
            args.event_type, carrier_id=record.carrier_id, network_id=settings.network_id
        )
        state = "active" if record.active else "disabled"
        print(
            f"attachment {record.id}: {record.connector} for carrier {record.carrier_id} ({state})"
        )
        print(f"sample event {event.type} (eventId {event.event_id})")
        if not built.connector.wants(event.type):
            print(f"not sent: the attachment's events filter leaves out {event.type}")
            return 0
        try:
            outbound = built.connector.render(event)
        except SkipEvent as skip:
            print(f"skipped by the connector: {skip.reason}")
            return 0
        secrets = service.secret_values(built)
        preview = await service.preview(built, outbound, event_id=event.event_id)
        print(mask(describe(preview.outbound), secrets))
        if preview.note:
            print(f"({preview.note})")
        if not args.send:
            return 0
        outcome = await service.send_once(built, outbound, event_id=event.event_id)
    status = f" status {outcome.status}" if outcome.status is not None else ""
    error = f": {mask(outcome.error, secrets)}" if outcome.error else ""
    print(f"{'delivered' if outcome.ok else 'failed'}{status}{error}")
    return 0 if outcome.ok else 1


def describe(outbound: Outbound) -> str:
    """The request as an operator reads it, credentials and signatures masked."""
    if isinstance(outbound, HttpRequest):
        head = [f"{outbound.method} {outbound.url}", *_headers(outbound.headers)]
        return "\n".join([*head, "", _body(outbound.body)])
    if isinstance(outbound, MqttPublish):
        head = [
            f"MQTT publish to {outbound.broker.url} topic {outbound.topic} qos {outbound.qos}",
            *(f"content-type: {outbound.content_type}" for _ in [0] if outbound.content_type),
            *_headers(outbound.user_properties),
        ]
        return "\n".join([*head, "", _body(outbound.payload)])
    smtp = outbound.smtp
    head = [
        f"SMTP {smtp.host}:{smtp.port}",
        f"From: {outbound.sender}",
        f"To: {outbound.to}",
        f"Subject: {outbound.subject}",
        *_headers(outbound.headers),
    ]
    parts = [*head, "", outbound.text]
    if outbound.html is not None:
        parts += ["", "-- html --", outbound.html]
    parts += [
        f"-- inline {name} ({kind}, {len(data)} bytes)" for name, kind, data in outbound.inline
    ]
    return "\n".join(parts)


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every known secret value replaced; longest first, so none leaks partly."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


def _headers(headers: Any) -> list[str]:
    return [
        f"{name}: {MASK if _SECRET_HEADER.search(name) else value}"
        for name, value in headers.items()
    ]


def _body(body: bytes) -> str:
    shown = body[:_MAX_BODY_SHOWN].decode("utf-8", "replace")
    more = len(body) - _MAX_BODY_SHOWN
    return shown + (f"\n... ({more} more bytes)" if more > 0 else "")

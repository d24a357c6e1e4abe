"""The `openlocker` command: run the gateway, and provision carriers and lockers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from gateway.app import Gateway
from gateway.domain.locker import availability
from gateway.errors import OpenLockerError
from gateway.service.carriers import CarrierService
from gateway.service.layouts import parse_layout
from gateway.service.lockers import LockerService
from gateway.settings import Settings, load_settings
from gateway.store import Store, ensure_sqlite_folder

log = logging.getLogger("openlocker")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # Third-party chatter (the embedded broker logs every packet at INFO) only with -v.
        for noisy in ("amqtt", "transitions", "aiohttp.access", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        if args.func is _demo:
            logging.getLogger().setLevel(logging.WARNING)
    try:
        settings = load_settings(
            args.config,
            database_url=args.database_url,
            **{k: getattr(args, k, None) for k in ("http_host", "http_port", "network_id")},
        )
        code: int = asyncio.run(args.func(args, settings))
        return code
    except OpenLockerError as err:
        print(f"error: {err}", file=sys.stderr)
        for issue in err.issues:
            print(f"  at {issue.pointer}: {issue.detail}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="openlocker", description=__doc__)
    p.add_argument("--config", type=Path, help="TOML settings file (env OPENLOCKER_* overrides)")
    p.add_argument("--database-url", help="sqlite+aiosqlite:///path or postgresql://...")
    p.add_argument("--network-id", help="this network's id (the `aud` of carrier tokens)")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the gateway (HTTP API) until interrupted")
    serve.add_argument("--http-host")
    serve.add_argument("--http-port", type=int)
    serve.set_defaults(func=_serve)

    sub.add_parser(
        "demo", help="a whole site in one process: broker, gateway, emulated lockers, a carrier"
    ).set_defaults(func=_demo)

    sub.add_parser("migrate", help="create or upgrade the database schema").set_defaults(
        func=_migrate
    )

    carrier = sub.add_parser("carrier", help="register carriers").add_subparsers(required=True)
    add = carrier.add_parser("add", help="register a carrier with its public JWKS")
    add.add_argument("name", help="carrier id: the `iss` of its tokens")
    add.add_argument("--jwks", type=Path, required=True, help="file with the public JWKS")
    add.add_argument("--display-name")
    add.set_defaults(func=_carrier_add)
    keys = carrier.add_parser("set-keys", help="replace a carrier's JWKS (key rotation)")
    keys.add_argument("name")
    keys.add_argument("--jwks", type=Path, required=True)
    keys.set_defaults(func=_carrier_set_keys)
    carrier.add_parser("list", help="list carriers").set_defaults(func=_carrier_list)

    locker = sub.add_parser("locker", help="provision lockers").add_subparsers(required=True)
    ladd = locker.add_parser("add", help="provision a locker from a YAML/JSON layout file")
    ladd.add_argument("layout", type=Path)
    ladd.set_defaults(func=_locker_add)
    locker.add_parser("list", help="list lockers").set_defaults(func=_locker_list)
    show = locker.add_parser("show", help="a locker's compartments and their states")
    show.add_argument("locker_id")
    show.set_defaults(func=_locker_show)
    return p


@contextlib.asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[Store]:
    ensure_sqlite_folder(settings.database_url)
    async with Store.connect(settings.database_url) as store:
        await store.migrate()
        yield store


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Gateway(settings=settings) as gateway:
        print(f"OpenLocker gateway for network {settings.network_id!r} on {gateway.base_url}")
        print(f"  database: {settings.database_url}")
        print(f"  spec:     {gateway.base_url}/v1/spec/openapi.yaml   (Ctrl-C stops)")
        await stop.wait()
    return 0


async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.demo import run_demo

    return await run_demo()


async def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    async with _store(settings):
        print("database schema is up to date")
    return 0


async def _carrier_add(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.auth.jwks import load_jwks_file

    jwks = load_jwks_file(args.jwks.read_text())
    async with _store(settings) as store:
        record = await CarrierService(store=store).register(args.name, jwks, args.display_name)
    kids = ", ".join(k["kid"] for k in record.jwks["keys"])
    print(f"carrier {record.id!r} registered with key(s) {kids}")
    return 0


async def _carrier_set_keys(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.auth.jwks import load_jwks_file

    jwks = load_jwks_file(args.jwks.read_text())
    async with _store(settings) as store:
        await CarrierService(store=store).replace_keys(args.name, jwks)
    print(f"carrier {args.name!r} now verifies with {len(jwks['keys'])} key(s)")
    return 0


async def _carrier_list(args: argparse.Namespace, settings: Settings) -> int:
    async with _store(settings) as store:
        for c in await CarrierService(store=store).list():
            kids = ",".join(k["kid"] for k in c.jwks["keys"])
            print(f"{c.id}\t{c.name}\tkeys={kids}")
    return 0


async def _locker_add(args: argparse.Namespace, settings: Settings) -> int:
    layout = parse_layout(args.layout.read_text())
    locker, doors = layout.to_domain()
    async with _store(settings) as store:
        await LockerService(store=store).provision(locker, doors)
    sizes = ", ".join(f"{a.total}x{a.size_class}" for a in availability(doors))
    print(f"locker {locker.id!r} provisioned with {len(doors)} compartments ({sizes})")
    return 0


async def _locker_list(args: argparse.Namespace, settings: Settings) -> int:
    async with _store(settings) as store:
        for lk in await LockerService(store=store).all():
            print(f"{lk.id}\t{lk.name}\t{lk.location.lat},{lk.location.lon}\tadapter={lk.adapter}")
    return 0


async def _locker_show(args: argparse.Namespace, settings: Settings) -> int:
    async with _store(settings) as store:
        doors = await LockerService(store=store).compartments(args.locker_id)
    rows = [
        {
            "code": c.code,
            "sizeClass": c.size_class,
            "state": c.state,
            "door": c.door,
            "itemSensor": c.item,
            "parcel": c.parcel_uid,
        }
        for c in doors
    ]
    print(json.dumps(rows, indent=2))
    return 0

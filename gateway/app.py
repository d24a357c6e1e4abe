"""The gateway process: store, spec, services, HTTP server and background loops, as one unit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from datetime import timedelta
from types import TracebackType
from typing import Any

from aiohttp import web

from gateway.auth.carrier_tokens import CarrierAuthenticator
from gateway.clock import Clock, utc_now
from gateway.delivery.engine import DeliveryEngine, EngineSettings
from gateway.delivery.routes import DeliveryPolicy
from gateway.delivery.transports.http import HttpTransport
from gateway.delivery.transports.mqtt import MqttTransport
from gateway.delivery.transports.smtp import SmtpTransport
from gateway.delivery.webhook_routes import CompositeRoutes, WebhookRoutes
from gateway.domain.keypad import KeypadPolicy
from gateway.http.app import build_http_app
from gateway.http.context import HttpDeps
from gateway.mqtt.embedded import EmbeddedBroker
from gateway.sdk import load_adapter_class
from gateway.sdk.connectors import EmailMessage, HttpRequest, MqttPublish
from gateway.sdk.keys import KeySet
from gateway.service.adapters import AdapterDirectory
from gateway.service.carriers import CarrierService
from gateway.service.codes import CodeService
from gateway.service.connectors import ConnectorService
from gateway.service.deliveries import DeliveryService
from gateway.service.doors import DoorService
from gateway.service.event_router import EventRouter
from gateway.service.grants import GrantService
from gateway.service.housekeeping import Housekeeping
from gateway.service.key_distribution import KeyDistributor
from gateway.service.lockers import LockerService
from gateway.service.notify_access import NotifyAccess
from gateway.service.parcels import ParcelService
from gateway.service.reminders import ReminderScheduler
from gateway.service.webhooks import WebhookService
from gateway.settings import Settings
from gateway.spec import Spec
from gateway.store import Store, ensure_sqlite_folder
from gateway.tokens.network_keys import NetworkKeys

log = logging.getLogger(__name__)


class Gateway:
    """`async with Gateway(settings=...) as gw:` runs one gateway instance until the block ends."""

    def __init__(self, *, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self._stack = contextlib.AsyncExitStack()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def __aenter__(self) -> Gateway:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def _start(self) -> None:
        s = self.settings
        ensure_sqlite_folder(s.database_url)
        self.spec = Spec.load(s.spec_dir)
        self.store = await self._stack.enter_async_context(Store.connect(s.database_url))
        await self.store.migrate()
        self.parcels = ParcelService(
            store=self.store,
            reservation_ttl=timedelta(seconds=s.reservation_ttl_s),
            pickup_window=timedelta(seconds=s.pickup_window_s),
            clock=self.clock,
            network_id=s.network_id,
        )
        self.lockers = LockerService(store=self.store)
        self.carriers = CarrierService(store=self.store, clock=self.clock)
        self.codes = CodeService(store=self.store, clock=self.clock)
        self.adapters = AdapterDirectory(store=self.store, adapters={})
        self.doors = DoorService(
            store=self.store,
            parcels=self.parcels,
            codes=self.codes,
            adapters=self.adapters,
            open_timeout=timedelta(seconds=s.open_timeout_s),
            heartbeat_interval_s=s.heartbeat_interval_s,
            keypad_policy=KeypadPolicy(
                max_failures=s.keypad_max_failures,
                window=timedelta(seconds=s.keypad_failure_window_s),
                backoff_base=timedelta(seconds=s.keypad_lockout_base_s),
                backoff_cap=timedelta(seconds=max(s.keypad_lockout_cap_s, s.keypad_lockout_base_s)),
                quiet_reset=timedelta(seconds=s.keypad_quiet_reset_s),
            ),
            clock=self.clock,
        )
        await self._start_locker_side()
        self.network_keys = NetworkKeys(
            store=self.store,
            issuer=s.network_id,
            publish_lead=timedelta(seconds=s.key_publish_lead_s),
            clock=self.clock,
        )
        await self.network_keys.ensure(actor=f"gateway:{s.instance}")
        self.grants = GrantService(
            store=self.store,
            keys=self.network_keys,
            max_lifetime=timedelta(seconds=s.grant_max_lifetime_s),
            clock=self.clock,
        )
        self.webhooks = WebhookService(
            store=self.store, max_subscriptions=s.webhook_max_subscriptions, clock=self.clock
        )
        await self._start_connectors()
        authenticator = CarrierAuthenticator(
            store=self.store,
            network_id=s.network_id,
            max_lifetime=timedelta(seconds=s.carrier_token_max_lifetime_s),
            leeway=timedelta(seconds=s.clock_skew_s),
            max_token_bytes=s.max_token_bytes,
            clock=self.clock,
        )
        deps = HttpDeps(
            store=self.store,
            spec=self.spec,
            parcels=self.parcels,
            lockers=self.lockers,
            authenticator=authenticator,
            doors=self.doors,
            codes=self.codes,
            grants=self.grants,
            webhooks=self.webhooks,
            network_keys=self.network_keys,
            deliveries=DeliveryService(store=self.store, clock=self.clock),
            connectors=self.connectors,
        )
        app = build_http_app(deps, max_body_bytes=s.max_body_bytes)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._stack.push_async_callback(self._runner.cleanup)
        site = web.TCPSite(self._runner, s.http_host, s.http_port)
        await site.start()
        self.port = _bound_port(self._runner, s.http_port)
        housekeeping = Housekeeping(
            store=self.store,
            parcels=self.parcels,
            idempotency_retention=timedelta(seconds=s.idempotency_retention_s),
            network_keys=self.network_keys,
            clock_skew=timedelta(seconds=s.clock_skew_s),
            clock=self.clock,
        )
        await self._stack.enter_async_context(
            _background(housekeeping.run_forever(s.housekeeping_interval_s), "housekeeping")
        )
        if s.reminder_lead_s > 0:
            reminders = ReminderScheduler(
                store=self.store,
                lead=timedelta(seconds=s.reminder_lead_s),
                network_id=s.network_id,
                clock=self.clock,
            )
            await self._stack.enter_async_context(
                _background(reminders.run_forever(s.housekeeping_interval_s), "pickup-reminders")
            )
        await self._start_key_distribution()
        await self._start_delivery()
        log.info("gateway %s serving on http://%s:%s", s.network_id, s.http_host, self.port)

    async def _start_connectors(self) -> None:
        """Sync and build every connector attachment before serving: a bad one stops here."""
        self.connectors = ConnectorService.from_settings(
            self.settings,
            store=self.store,
            sign_olp=self.network_keys.sign_detached,
            clock=self.clock,
        )
        await self.connectors.start(self.settings.connectors)

    async def _start_key_distribution(self) -> None:
        """SetKeySet to every booted locker whose key set is older than the network's."""
        s = self.settings
        keys = self.network_keys

        async def current() -> KeySet:
            await keys.refresh()  # another instance may have rotated
            return keys.key_set()

        self.key_distributor = KeyDistributor(
            store=self.store,
            adapters=self.adapters,
            key_set=current,
            sweep_interval_s=s.key_push_interval_s,
            poll_interval_s=s.key_version_poll_s,
            push_timeout_s=s.key_push_timeout_s,
            actor=f"gateway:{s.instance}",
            clock=self.clock,
        )
        self.doors.on_booted = self.key_distributor.locker_booted
        await self._stack.enter_async_context(
            _background(self.key_distributor.run_forever(), "key-distribution")
        )

    async def _start_delivery(self) -> None:
        """The delivery engine: every instance runs one; they share the outbox through the DB."""
        s = self.settings
        webhook_policy = DeliveryPolicy(
            timeout_s=s.webhook_timeout_s,
            max_attempts=s.webhook_max_attempts,
            backoff_base_s=s.webhook_backoff_base_s,
            backoff_cap_s=s.webhook_backoff_cap_s,
            breaker_failures=s.webhook_breaker_failures,
            breaker_reset_s=s.webhook_breaker_reset_s,
        )
        routes = CompositeRoutes(
            webhooks=WebhookRoutes(
                store=self.store, sign=self.network_keys.sign_detached, policy=webhook_policy
            ),
            connectors=self.connectors.routes,
        )
        engine = DeliveryEngine(
            store=self.store,
            routes=routes,
            transports={
                HttpRequest: HttpTransport(
                    max_connections=s.webhook_max_in_flight, clock=self.clock
                ),
                MqttPublish: MqttTransport(client_id_prefix=f"openlocker-{s.instance}"),
                EmailMessage: SmtpTransport(),
            },
            settings=EngineSettings(
                poll_interval_s=s.webhook_poll_interval_s,
                lease_s=s.webhook_lease_s,
                max_in_flight=s.webhook_max_in_flight,
                retention=timedelta(seconds=s.webhook_retention_s),
            ),
            network_id=s.network_id,
            actor=f"gateway:{s.instance}",
            # Notifiers get a pickup code and QR grant issued as each message goes out.
            access=NotifyAccess(codes=self.codes, grants=self.grants),
            clock=self.clock,
        )
        await self._stack.enter_async_context(engine)
        await self._stack.enter_async_context(_background(engine.run_forever(), "delivery-engine"))
        # Rows this process queues are attempted as soon as their transaction commits; rows
        # queued by other instances wait for the poll (ROADMAP: LISTEN/NOTIFY).
        self.store.on_outbox_due(engine.wake)
        self._stack.callback(self.store.on_outbox_due, None)

    async def _start_locker_side(self) -> None:
        """The MQTT broker (embedded unless one is configured), the adapters, the event flow."""
        s = self.settings
        mqtt_url, shared, protocol = s.mqtt_url, s.mqtt_shared_subscriptions, s.mqtt_protocol
        if mqtt_url is None:
            broker = EmbeddedBroker(host=s.embedded_mqtt_host, port=s.embedded_mqtt_port)
            await self._stack.enter_async_context(broker)
            # amqtt speaks MQTT 3.1.1 and has no shared subscriptions.
            mqtt_url, shared, protocol = broker.url, False, 4
        self.mqtt_url = mqtt_url
        router = await self._stack.enter_async_context(EventRouter(handler=self.doors.handle))
        olp_defaults: dict[str, Any] = {
            "mqtt_url": mqtt_url,
            "instance": s.instance,
            "protocol_version": protocol,
            "shared_subscriptions": shared,
            # The broker's identity and ours (docs/mqtt-security.md); unset = anonymous, no TLS.
            "username": s.mqtt_username,
            "password": s.mqtt_password,
            "tls_ca_file": s.mqtt_tls_ca_file,
            "tls_cert_file": s.mqtt_tls_cert_file,
            "tls_key_file": s.mqtt_tls_key_file,
            "tls_insecure": s.mqtt_tls_insecure,
        }
        names = {"olp", *s.adapters}
        for name in sorted(names):
            cls = load_adapter_class(name)
            options = {**(olp_defaults if name == "olp" else {}), **s.adapters.get(name, {})}
            adapter = cls(config=cls.config_model(**options), host=self.doors)  # type: ignore[call-arg]
            await self._stack.enter_async_context(adapter)
            self.adapters.add(name, adapter)
            router.follow(name, adapter)

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.port}"


@contextlib.asynccontextmanager
async def _background(coro: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """Run one named background loop for the lifetime of the block, inside a TaskGroup."""
    async with asyncio.TaskGroup() as group:
        task = group.create_task(coro, name=name)
        try:
            yield
        finally:
            task.cancel()


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return configured

"""The gateway process: store, spec, services, HTTP server and background loops, as one unit."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from types import TracebackType
from typing import Any

from aiohttp import web

from gateway.auth.carrier_tokens import CarrierAuthenticator
from gateway.auth.operator_secrets import PasswordHashing
from gateway.auth.operator_sessions import OperatorAuth
from gateway.clock import Clock, utc_now
from gateway.console import ConsoleDeps, ConsoleReads, LiveFeed, ParcelReads, mount_console
from gateway.console.audit_check import AuditCheck
from gateway.delivery.attachment_secrets import AttachmentSecrets
from gateway.delivery.engine import DeliveryEngine, EngineSettings
from gateway.delivery.routes import DeliveryPolicy
from gateway.delivery.transports.http import HttpTransport
from gateway.delivery.transports.mqtt import MqttTransport
from gateway.delivery.transports.smtp import SmtpTransport
from gateway.delivery.wake import OutboxWakeUps
from gateway.delivery.webhook_routes import CompositeRoutes, WebhookRoutes
from gateway.domain.hold_policy import settings_hold
from gateway.domain.keypad import KeypadPolicy
from gateway.domain.operators import LoginPolicy, SessionPolicy
from gateway.domain.scan import ScanRules
from gateway.http.app import build_http_app, server_limits
from gateway.http.client_address import ClientAddresses
from gateway.http.context import HttpDeps
from gateway.http.discovery import Discovery
from gateway.http.operator_auth import AdminDeps, CookiePolicy
from gateway.http.telemetry import Ops
from gateway.mqtt.embedded import EmbeddedBroker
from gateway.observability.figures import NetworkFigures
from gateway.observability.health import Readiness
from gateway.observability.loop_lag import monitor_loop_lag
from gateway.observability.metrics import Metrics
from gateway.observability.runtime import RuntimeCounters
from gateway.observability.tracing import installed as tracing_installed
from gateway.sdk import background, load_adapter_class
from gateway.sdk.connectors import EmailMessage, HttpRequest, MqttPublish
from gateway.sdk.keys import KeySet
from gateway.service.adapters import AdapterDirectory
from gateway.service.admin_actions import AdminActions
from gateway.service.admin_views import AdminViews
from gateway.service.audit import AuditService
from gateway.service.availability import AvailabilitySync
from gateway.service.bus_lease import BusOwner
from gateway.service.carriers import CarrierService
from gateway.service.codes import CodeService
from gateway.service.connectors import ConnectorService
from gateway.service.courier_sessions import CourierSessions
from gateway.service.deliveries import DeliveryService
from gateway.service.grants import GrantService
from gateway.service.hold_policies import HoldPolicies
from gateway.service.holds import HoldService
from gateway.service.housekeeping import Housekeeping
from gateway.service.key_distribution import KeyDistributor
from gateway.service.keypad import KeypadLockouts
from gateway.service.lane_overloads import LaneOverloads
from gateway.service.locker_host import LockerHost, LockerSide
from gateway.service.lockers import LockerService
from gateway.service.notify_access import NotifyAccess
from gateway.service.operators import OperatorService
from gateway.service.parcel_batch import BatchBooking
from gateway.service.parcels import ParcelService
from gateway.service.recovery import Recovery
from gateway.service.reminders import ReminderScheduler
from gateway.service.scan_asks import ScanAsker
from gateway.service.self_service import SelfService
from gateway.service.webhooks import WebhookService
from gateway.settings import KeypadSettings, Settings
from gateway.spec import Spec
from gateway.store import Store, ensure_sqlite_folder
from gateway.tokens.custody import Custody, load_keyring
from gateway.tokens.network_keys import NetworkKeys
from gateway.tokens.root_key import RootKey

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
        """Each concern in order, built from the ones before it; none is patched afterwards."""
        s = self.settings
        self.spec = Spec.load(s.spec_dir)
        self.metrics = Metrics()  # this instance's own registry (several may share a process)
        # First: every span below has a tracer; a missing `tracing` extra stops start-up here.
        await self._stack.enter_async_context(tracing_installed(s.tracing, instance=s.instance))
        await self._open_store()
        self._build_services()
        await self._start_trust()
        self._build_key_distributor()  # before the boot gate, which tells it of every boot
        await self._start_locker_side()
        await self._start_connectors()
        await self._start_http()
        await self._start_housekeeping()
        await self._start_key_distribution()
        await self._start_delivery()
        log.info("gateway %s serving on http://%s:%s", s.network_id, s.http.host, self.port)

    async def _open_store(self) -> None:
        url = self.settings.store.database_url
        ensure_sqlite_folder(url)
        self.store = await self._stack.enter_async_context(Store.connect(url))
        await self.store.migrate()
        # Secrets at rest: every sealed row must open under the configured KEK(s) before
        # anything is served (SealError otherwise); rows still in clear are sealed now.
        keyring = await load_keyring(self.settings.secrets, database_url=url, store=self.store)
        # Connector attachments' literal secrets too (gateway/delivery/attachment_secrets.py).
        self.custody = Custody(store=self.store, keyring=keyring, rows=(AttachmentSecrets(),))
        await self.custody.check(actor=f"gateway:{self.settings.instance}")

    def _build_services(self) -> None:
        """The services over the store that the locker side and the HTTP API share."""
        s = self.settings
        # Hold-time policies per network, carrier and locker over the [parcels] defaults.
        self.hold_policies = HoldPolicies(
            store=self.store,
            base=settings_hold(
                s.parcels.pickup_window,
                s.parcels.reminder_lead,
                timedelta(days=s.parcels.recipient_extension_days),
            ),
            network_id=s.network_id,
            clock=self.clock,
        )
        self.parcels = ParcelService(
            store=self.store,
            reservation_ttl=s.parcels.reservation_ttl,
            pickup_window=s.parcels.pickup_window,
            clock=self.clock,
            network_id=s.network_id,
            hold_policies=self.hold_policies,
        )
        self.lockers = LockerService(store=self.store)
        # Pre-check and soft holds; their capacity is kept by every allocation (parcels.py).
        self.holds = HoldService(store=self.store, default_ttl=s.parcels.hold_ttl, clock=self.clock)
        self.carriers = CarrierService(store=self.store, clock=self.clock)
        self.codes = CodeService(store=self.store, clock=self.clock, keyring=self.custody.keyring)
        self.adapters = AdapterDirectory(store=self.store, adapters={})
        self.webhooks = WebhookService(
            store=self.store,
            max_subscriptions=s.webhooks.max_subscriptions,
            clock=self.clock,
            allow_private=s.webhooks.allow_private_targets,
        )

    async def _start_trust(self) -> None:
        """The network's signing keys (one is made if there is none) and the grants they sign."""
        s = self.settings
        self.network_keys = NetworkKeys(
            store=self.store,
            issuer=s.network_id,
            publish_lead=s.tokens.key_publish_lead,
            clock=self.clock,
            keyring=self.custody.keyring,
        )
        await self.network_keys.ensure(actor=f"gateway:{s.instance}")
        # Signs every SetKeySet; lockers pin its public half (`openlocker keys root`).
        self.root_key = RootKey(store=self.store, keyring=self.custody.keyring, clock=self.clock)
        await self.root_key.ensure(actor=f"gateway:{s.instance}")
        self.grants = GrantService(
            store=self.store,
            keys=self.network_keys,
            max_lifetime=s.tokens.grant_max_lifetime,
            clock=self.clock,
        )

    async def _start_http(self) -> None:
        """The carriers' API, serving until the gateway stops."""
        s = self.settings
        authenticator = CarrierAuthenticator(
            store=self.store,
            network_id=s.network_id,
            max_lifetime=s.tokens.carrier_token_max_lifetime,
            leeway=s.tokens.clock_skew,
            max_token_bytes=s.tokens.max_token_bytes,
            clock=self.clock,
        )
        deps = HttpDeps(
            store=self.store,
            spec=self.spec,
            parcels=self.parcels,
            lockers=self.lockers,
            authenticator=authenticator,
            unlocks=self.locker_side.unlocks,
            codes=self.codes,
            grants=self.grants,
            webhooks=self.webhooks,
            network_keys=self.network_keys,
            deliveries=DeliveryService(store=self.store, clock=self.clock),
            connectors=self.connectors,
            batches=BatchBooking(store=self.store, parcels=self.parcels, clock=self.clock),
            holds=self.holds,
            hold_policies=self.hold_policies,
            self_service=SelfService(
                store=self.store,
                parcels=self.parcels,
                codes=self.codes,
                keys=self.network_keys,
                network_id=s.network_id,
                link_ttl=s.parcels.self_service_link_ttl,
                clock=self.clock,
            ),
        )
        app = build_http_app(
            deps,
            max_body_bytes=s.http.max_body_bytes,
            operations=self._operations(),
            discovery=Discovery.from_settings(s),
            admin=self._admin(deps.deliveries),
        )
        # The operators' web console on the same app; one live-feed poller per instance.
        reads = ConsoleReads(store=self.store, clock=self.clock)
        self.console_feed = LiveFeed(reads=reads)
        parcels = ParcelReads(store=self.store)
        audit_check = AuditCheck(audit=AuditService(store=self.store), clock=self.clock)
        mount_console(
            app,
            ConsoleDeps(
                reads=reads, feed=self.console_feed, parcels=parcels, audit_check=audit_check
            ),
        )
        self._runner = web.AppRunner(app, access_log=None, **server_limits())
        await self._runner.setup()
        self._stack.push_async_callback(self._runner.cleanup)
        site = web.TCPSite(self._runner, s.http.host, s.http.port)
        await site.start()
        self.port = _bound_port(self._runner, s.http.port)
        await self._stack.enter_async_context(
            background(self.console_feed.run_forever(), "console-live-feed")
        )

    def _admin(self, deliveries: DeliveryService) -> AdminDeps:
        """The operators' sign-in and services, for the admin API (and the console)."""
        s, o = self.settings, self.settings.operators
        passwords = PasswordHashing(cost=o.password_cost)
        logins = LoginPolicy(
            max_failures=o.login_max_failures,
            window=o.login_window,
            lockout_base=o.login_lockout_base,
            lockout_cap=o.login_lockout_cap,
        )
        self.operator_auth = OperatorAuth(
            store=self.store,
            sessions=SessionPolicy(idle=o.session_idle, absolute=o.session_absolute),
            logins=logins,
            clock=self.clock,
            passwords=passwords,
        )
        return AdminDeps(
            auth=self.operator_auth,
            cookie=CookiePolicy.decide(o.cookie_secure, s.http.host, o.cookie_samesite),
            clock=self.clock,
            operators=OperatorService(
                store=self.store, clock=self.clock, passwords=passwords, logins=logins
            ),
            views=AdminViews(store=self.store, clock=self.clock),
            actions=AdminActions(
                store=self.store,
                parcels=self.parcels,
                unlocks=self.locker_side.unlocks,
                availability=self.availability,
                clock=self.clock,
            ),
            deliveries=deliveries,
            audit=AuditService(store=self.store),
            keypads=KeypadLockouts(store=self.store, clock=self.clock),
            clients=ClientAddresses(trusted_proxies=o.trusted_proxies),
        )

    def _operations(self) -> Ops:
        """/metrics (this instance's counters, the network's figures), /readyz's checks."""
        s = self.settings
        figures = NetworkFigures(
            store=self.store, max_age_s=s.metrics.figures_max_age.total_seconds(), clock=self.clock
        )
        registry = self.metrics.registry
        registry.register(figures)
        pipeline = self.locker_side.pipeline
        registry.register(
            RuntimeCounters(
                pipeline=lambda: dataclasses.asdict(pipeline.counts),
                adapters=lambda: self.adapters.running,
            )
        )

        def broker_connected() -> bool | None:
            olp = self.adapters.running.get("olp")
            connected = getattr(olp, "broker_connected", None)
            return connected if isinstance(connected, bool) else None

        token = s.metrics.bearer_token
        return Ops(
            metrics=self.metrics,
            figures=figures,
            readiness=Readiness(ping_database=self.store.ping, broker_connected=broker_connected),
            metrics_token=None if token is None else token.get_secret_value(),
        )

    async def _start_housekeeping(self) -> None:
        """Expiries, purges and pickup reminders, on one interval."""
        s = self.settings
        housekeeping = Housekeeping(
            store=self.store,
            parcels=self.parcels,
            holds=self.holds,
            courier_sessions=CourierSessions(store=self.store, codes=self.codes, clock=self.clock),
            idempotency_retention=s.parcels.idempotency_retention,
            network_keys=self.network_keys,
            operator_auth=self.operator_auth,
            clock_skew=s.tokens.clock_skew,
            clock=self.clock,
        )
        interval_s = s.housekeeping.interval.total_seconds()
        await self._stack.enter_async_context(
            background(housekeeping.run_forever(interval_s), "housekeeping")
        )
        # What a crash left in flight (door sessions), finished or reconciled; then each pass.
        recovery = Recovery(
            store=self.store,
            adapters=self.adapters,
            doors=self.locker_side.doors,
            actor=f"gateway:{s.instance}",
            clock=self.clock,
        )
        await self._stack.enter_async_context(
            background(recovery.run_forever(interval_s), "recovery")
        )
        await self._stack.enter_async_context(
            background(monitor_loop_lag(self.metrics.loop_lag), "event-loop-lag")
        )
        # Always on: a carrier's or locker's hold-time policy may name reminders even when the
        # network's `reminder_lead` is 0 (which then only leaves pre-0016 parcels without).
        reminders = ReminderScheduler(
            store=self.store,
            lead=s.parcels.reminder_lead or None,
            network_id=s.network_id,
            clock=self.clock,
        )
        await self._stack.enter_async_context(
            background(reminders.run_forever(interval_s), "pickup-reminders")
        )

    async def _start_connectors(self) -> None:
        """Sync and build every connector attachment before serving: a bad one stops here."""
        self.connectors = ConnectorService.from_settings(
            self.settings,
            store=self.store,
            sign_olp=self.network_keys.sign_detached,
            clock=self.clock,
            keyring=self.custody.keyring,
        )
        await self.connectors.start(self.settings.connectors)
        # Query on scan, policy `ask`: the carriers' scan-query connectors are asked through
        # the attachments just built (a scan before this point gets `[scan] ask_fallback`).
        s = self.settings
        asker = ScanAsker(
            store=self.store,
            routes=self.connectors.routes,
            timeout=s.scan.ask_timeout,
            network_id=s.network_id,
            clock=self.clock,
            allow_private=s.webhooks.allow_private_targets,
        )
        self._stack.push_async_callback(asker.aclose)
        self.locker_side.scans.asker = asker

    def _build_key_distributor(self) -> None:
        """SetKeySet to every booted locker whose key set is older than the network's."""
        s = self.settings
        keys = self.network_keys

        async def current() -> KeySet:
            if await keys.refresh():  # another instance may have rotated
                await self.root_key.refresh()  # a root rotation moves the version too
            return keys.key_set()

        self.key_distributor = KeyDistributor(
            store=self.store,
            adapters=self.adapters,
            key_set=current,
            sweep_interval_s=s.tokens.key_push_interval.total_seconds(),
            poll_interval_s=s.tokens.key_version_poll.total_seconds(),
            push_timeout_s=s.tokens.key_push_timeout.total_seconds(),
            actor=f"gateway:{s.instance}",
            clock=self.clock,
            repair=lambda locker_id, held: keys.advance_past(
                held, locker_id=locker_id, actor=f"gateway:{s.instance}"
            ),
            sign=self.root_key.sign_key_set,
        )

    async def _start_key_distribution(self) -> None:
        await self._stack.enter_async_context(
            background(self.key_distributor.run_forever(), "key-distribution")
        )

    async def _start_delivery(self) -> None:
        """The delivery engine: every instance runs one; they share the outbox through the DB."""
        s = self.settings
        hooks = s.webhooks
        webhook_policy = DeliveryPolicy(
            timeout_s=hooks.timeout.total_seconds(),
            max_attempts=hooks.max_attempts,
            backoff_base_s=hooks.backoff_base.total_seconds(),
            backoff_cap_s=hooks.backoff_cap.total_seconds(),
            breaker_failures=hooks.breaker_failures,
            breaker_reset_s=hooks.breaker_reset.total_seconds(),
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
                    max_connections=hooks.max_in_flight,
                    clock=self.clock,
                    allow_private=hooks.allow_private_targets,
                ),
                MqttPublish: MqttTransport(client_id_prefix=f"openlocker-{s.instance}"),
                EmailMessage: SmtpTransport(),
            },
            settings=EngineSettings(
                poll_interval_s=hooks.poll_interval.total_seconds(),
                lease_s=hooks.lease.total_seconds(),
                max_in_flight=hooks.max_in_flight,
                retention=hooks.retention,
            ),
            network_id=s.network_id,
            actor=f"gateway:{s.instance}",
            # Notifiers get a pickup code and QR grant issued as each message goes out.
            access=NotifyAccess(codes=self.codes, grants=self.grants),
            clock=self.clock,
            metrics=self.metrics,
        )
        await self._stack.enter_async_context(engine)
        await self._stack.enter_async_context(background(engine.run_forever(), "delivery-engine"))
        # Rows this process queues are attempted as soon as their transaction commits; on
        # PostgreSQL rows queued by other instances too (NOTIFY at their commit, LISTEN here).
        self.store.on_outbox_due(engine.wake)
        self._stack.callback(self.store.on_outbox_due, None)
        if self.store.dialect == "postgresql":
            self.outbox_wake_ups = OutboxWakeUps(engine=self.store.engine, wake=engine.wake)
            await self._stack.enter_async_context(
                background(self.outbox_wake_ups.run_forever(), "outbox-wake-ups")
            )

    async def _start_broker(self) -> dict[str, Any]:
        """The embedded broker unless one is configured; the `olp` adapter's MQTT options."""
        s = self.settings
        mqtt = s.mqtt
        mqtt_url, shared, protocol = mqtt.url, mqtt.shared_subscriptions, mqtt.protocol
        if mqtt_url is None:
            broker = EmbeddedBroker(host=mqtt.embedded_host, port=mqtt.embedded_port)
            await self._stack.enter_async_context(broker)
            # amqtt speaks MQTT 3.1.1 and has no shared subscriptions.
            mqtt_url, shared, protocol = broker.url, False, 4
        self.mqtt_url = mqtt_url
        return {
            "mqtt_url": mqtt_url,
            "instance": s.instance,
            "protocol_version": protocol,
            "shared_subscriptions": shared,
            "session_expiry_s": int(mqtt.session_expiry.total_seconds()),
            "lane_capacity": s.lockers.lane_capacity,
            # The broker's identity and ours (docs/mqtt-security.md); unset = anonymous, no TLS.
            "username": mqtt.username,
            "password": mqtt.password,
            "tls_ca_file": mqtt.tls_ca_file,
            "tls_cert_file": mqtt.tls_cert_file,
            "tls_key_file": mqtt.tls_key_file,
            "tls_insecure": mqtt.tls_insecure,
        }

    async def _start_locker_side(self) -> None:
        """The MQTT broker, the event pipeline and its boot gate, the adapters."""
        s = self.settings
        olp_defaults = await self._start_broker()
        self.availability = AvailabilitySync(
            store=self.store, adapters=self.adapters, clock=self.clock
        )
        await self._stack.enter_async_context(
            background(self.availability.run_forever(), "compartment-availability")
        )

        def booted(locker_id: str, key_set_version: int | None) -> None:
            self.key_distributor.locker_booted(locker_id, key_set_version)
            self.availability.locker_booted(locker_id)

        # Lockers' overload episodes, audited by one writer; entered before the adapters, so
        # the episodes they end when stopping are still written (at this block's exit).
        overloads = LaneOverloads(store=self.store, actor=f"gateway:{s.instance}")
        await self._stack.enter_async_context(overloads)
        await self._stack.enter_async_context(
            background(overloads.run_forever(), "lane-overloads")
        )
        self.locker_side = LockerSide.build(
            store=self.store,
            parcels=self.parcels,
            codes=self.codes,
            adapters=self.adapters,
            on_booted=booted,
            open_timeout=s.lockers.open_timeout,
            heartbeat_interval_s=int(s.lockers.heartbeat_interval.total_seconds()),
            boot_concurrency=s.lockers.boot_concurrency,
            keypad_policy=_keypad_policy(s.keypad),
            clock=self.clock,
            metrics=self.metrics,
            scan_rules=ScanRules.of(
                s.scan.policy, s.scan.carriers, s.scan.confirm_window, s.scan.ask_fallback
            ),
            overloads=overloads,
        )
        host = self.locker_side.host
        # Parked events an operator flagged (`openlocker events retry`) are applied here.
        await self._stack.enter_async_context(
            background(self.locker_side.pipeline.sweep_forever(), "parked-events")
        )
        # Replay requests that got no answer are asked again from here (SPEC §9).
        await self._stack.enter_async_context(self.locker_side.order.retries())
        await self._start_adapters(host, olp_defaults)

    async def _start_adapters(self, host: LockerHost, olp_defaults: dict[str, Any]) -> None:
        """Every configured adapter (`olp` always); a bus-bound one only while leased."""
        s = self.settings
        names = {"olp", *s.adapters}
        self.bus_owners: dict[str, BusOwner] = {}
        for name in sorted(names):
            cls = load_adapter_class(name)
            options = {**(olp_defaults if name == "olp" else {}), **s.adapters.get(name, {})}
            config = cls.config_model(**options)

            def drive(cls: Any = cls, config: Any = config, name: str = name) -> Any:
                return self._adapter_running(name, cls(config=config, host=host), host)

            if getattr(cls, "bus_bound", False):
                # Configured on every instance, run by the one holding the bus's lease. Lease
                # time is wall time between processes, not the gateway's (testable) clock.
                self.adapters.leased(name)
                owner = BusOwner(
                    store=self.store,
                    bus=f"adapter:{name}",
                    owner=s.instance,
                    drive=drive,
                    ttl=s.lockers.bus_lease,
                )
                self.bus_owners[name] = await self._stack.enter_async_context(owner)
            else:
                await self._stack.enter_async_context(drive())

    @contextlib.asynccontextmanager
    async def _adapter_running(
        self, name: str, adapter: Any, host: LockerHost
    ) -> AsyncIterator[None]:
        """The adapter runs and serves its lockers for the block (bus-bound: while leased)."""
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(adapter)
            self.adapters.add(name, adapter)
            stack.callback(self.adapters.remove, name)
            yield

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.http.host}:{self.port}"


def _keypad_policy(keypad: KeypadSettings) -> KeypadPolicy:
    return KeypadPolicy(
        max_failures=keypad.max_failures,
        window=keypad.failure_window,
        backoff_base=keypad.lockout_base,
        # A cap below the base means "no growth", as it always has; backoff_s wants cap >= base.
        backoff_cap=max(keypad.lockout_cap, keypad.lockout_base),
        quiet_reset=keypad.quiet_reset,
        daily_max_failures=keypad.daily_max_failures,
        entry_max_age=keypad.entry_max_age,
    )


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return configured

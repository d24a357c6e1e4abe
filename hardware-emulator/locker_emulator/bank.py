"""A bank of emulated lockers run concurrently in one TaskGroup, with the optional control API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from locker_emulator.control_api import ControlApi
from locker_emulator.faults import FaultError, FaultFlag, LockerFaults, Outage
from locker_emulator.faults import update_compartment_faults as _compartment_changes
from locker_emulator.faults import update_locker_faults as _locker_changes
from locker_emulator.layout import LockerConfig, preset_lockers
from locker_emulator.locker_state import LockerModel
from locker_emulator.olp_client import EmulatedLocker, Timing
from locker_emulator.physics import CompartmentFaults
from locker_emulator.spec import OutgoingCheck, ReplyCheck, Spec
from locker_emulator.transport import BrokerAddress, MqttVersion, TlsOptions

logger = logging.getLogger("locker_emulator.bank")
# How long lockers get to say goodbye (Status offline, DISCONNECT) before they are cancelled.
STOP_GRACE_SECONDS = 5.0


class EmulatorBank:
    """`async with EmulatorBank(mqtt_url=...) as bank:` runs every locker until the block ends.

    One slow or offline locker never blocks the others: each runs as its own task, and a
    locker that fails is logged and left stopped instead of taking the bank down.
    """

    def __init__(
        self,
        *,
        mqtt_url: str,
        lockers: Sequence[LockerConfig] | None = None,
        count: int = 3,
        preset: str = "standard",
        id_prefix: str = "EMU",
        mqtt_version: MqttVersion | str = MqttVersion.V5,
        spec: Spec | None = None,
        spec_dir: Path | None = None,
        timing: Timing | None = None,
        faults: Sequence[FaultFlag] = (),
        password: str | None = None,
        passwords: Mapping[str, str] | None = None,
        tls: TlsOptions | None = None,
        control_host: str = "127.0.0.1",
        control_port: int | None = None,
        check_outgoing: str = "every",
        root_key: Mapping[str, Any] | None = None,
        check_replies: str = "every",
    ) -> None:
        """`root_key`: the network root key's public JWK every locker pins (SPEC §9 "Signed
        key sets"); without one a locker installs no key set."""
        self.broker = BrokerAddress.parse(mqtt_url)
        if tls is not None and not self.broker.tls:
            raise ValueError(f"TLS files are set but the broker URL {mqtt_url} is not mqtts://")
        # Built once, here: a missing or unreadable certificate file fails before any locker runs.
        self._tls_context = tls.context() if tls is not None else None
        # Per-locker passwords (SPEC §9: each locker is its own MQTT user) win over `password`.
        self._passwords = dict(passwords or {})
        self.configs = (
            list(lockers) if lockers else preset_lockers(count, preset, id_prefix=id_prefix)
        )
        self.mqtt_version = MqttVersion(mqtt_version)
        self.timing = timing or Timing()
        self._spec = spec
        self._spec_dir = spec_dir
        self._password = password
        self._control_host = control_host
        self._control_port = control_port
        if check_outgoing not in OutgoingCheck.MODES:
            raise ValueError(f"check_outgoing must be one of {', '.join(OutgoingCheck.MODES)}")
        self._check_outgoing = check_outgoing
        if check_replies not in ReplyCheck.MODES:
            raise ValueError(f"check_replies must be one of {', '.join(ReplyCheck.MODES)}")
        self._check_replies = check_replies
        self._root_key = root_key
        self._settings = _fault_settings(self.configs, faults)
        self._lockers: dict[str, EmulatedLocker] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._control: ControlApi | None = None

    @property
    def lockers(self) -> Mapping[str, EmulatedLocker]:
        """The running lockers by id (empty before the bank is entered)."""
        return self._lockers

    def __getitem__(self, locker_id: str) -> EmulatedLocker:
        return self._lockers[locker_id]

    def __iter__(self) -> Iterator[EmulatedLocker]:
        return iter(list(self._lockers.values()))

    def __len__(self) -> int:
        return len(self._lockers)

    def models(self) -> Iterator[LockerModel]:
        """Each running locker's state, for fleet reports."""
        return (locker.model for locker in self._lockers.values())

    @property
    def control_url(self) -> str | None:
        """Base URL of the control API, when it runs."""
        return self._control.url if self._control else None

    async def wait_all_booted(self) -> None:
        """Until every locker's Boot was accepted; bound it with `asyncio.timeout`."""
        await asyncio.gather(*(locker.wait_booted() for locker in self._lockers.values()))

    async def __aenter__(self) -> Self:
        # Schema files are read in a worker thread: the event loop never blocks on disk.
        spec = self._spec
        if spec is None:
            spec = await asyncio.to_thread(Spec.load, self._spec_dir)
        outgoing = OutgoingCheck(spec, self._check_outgoing)  # shared by the whole bank
        replies = ReplyCheck(spec, self._check_replies)
        for config in self.configs:
            locker_faults, compartment_faults, outage = self._settings[config.locker_id]
            self._lockers[config.locker_id] = EmulatedLocker(
                config=config,
                broker=self.broker,
                spec=spec,
                mqtt_version=self.mqtt_version,
                timing=self.timing,
                faults=locker_faults,
                compartment_faults=compartment_faults,
                outage_after_boot=outage,
                password=self._passwords.get(config.locker_id, self._password),
                tls_context=self._tls_context,
                outgoing=outgoing,
                root_key=self._root_key,
                replies=replies,
            )
        # The TaskGroup lives inside one supervisor task, so that entering and leaving the bank
        # may happen in different tasks (as pytest-asyncio fixtures do).
        self._supervisor = asyncio.create_task(self._supervise(), name="emulator-bank")
        if self._control_port is not None:
            self._control = ControlApi(
                lockers=self._lockers, host=self._control_host, port=self._control_port
            )
            try:
                await self._control.start()
            except BaseException:
                await self._shutdown()
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()

    async def _shutdown(self) -> None:
        if self._control is not None:
            await self._control.stop()
            self._control = None
        for locker in self._lockers.values():
            locker.stop()
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is None:
            return
        _, late = await asyncio.wait([supervisor], timeout=STOP_GRACE_SECONDS)
        if late:
            logger.warning("lockers did not stop within %g s; cancelling", STOP_GRACE_SECONDS)
            supervisor.cancel()
            _, stuck = await asyncio.wait([supervisor], timeout=STOP_GRACE_SECONDS)
            if stuck:
                # Never hang the caller's shutdown: a leaked task is the lesser evil.
                logger.error("lockers ignored cancellation; abandoning them")

    async def _supervise(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for locker_id, locker in self._lockers.items():
                tg.create_task(self._run(locker), name=f"locker-{locker_id}")

    async def _run(self, locker: EmulatedLocker) -> None:
        try:
            await locker.run()
        except Exception:
            logger.exception("%s: stopped by an unexpected error", locker.locker_id)


_Settings = tuple[LockerFaults, dict[str, CompartmentFaults], Outage | None]


def _fault_settings(
    configs: Sequence[LockerConfig], flags: Sequence[FaultFlag]
) -> dict[str, _Settings]:
    """Fold `--fault` flags into start-up settings per locker; FaultError names a bad flag."""
    settings: dict[str, _Settings] = {c.locker_id: (LockerFaults(), {}, None) for c in configs}
    codes = {c.locker_id: {comp.code for comp in c.compartments} for c in configs}
    for flag in flags:
        if flag.locker_id not in settings:
            raise FaultError(
                f"--fault names locker {flag.locker_id!r}, which this bank does not have"
            )
        locker_faults, per_compartment, outage = settings[flag.locker_id]
        if flag.compartment_code is None:
            locker_faults, new_outage = _locker_changes(locker_faults, {flag.name: flag.value})
            outage = new_outage or outage
        else:
            code = flag.compartment_code
            if code not in codes[flag.locker_id]:
                raise FaultError(
                    f"--fault names compartment {flag.locker_id}/{code}, which does not exist"
                )
            current = per_compartment.get(code, CompartmentFaults())
            per_compartment[code] = _compartment_changes(current, {flag.name: flag.value})
        settings[flag.locker_id] = (locker_faults, per_compartment, outage)
    return settings

"""An attachment id never changes hands between carriers, since its queued rows are one's."""

from __future__ import annotations

import pytest

from gateway.sdk.connectors import ConnectorConfigError
from gateway.service.connectors import ConnectorService
from tests.connectors.test_attachments import Clock, clock, entry, service

__all__ = ["clock", "service"]


async def test_the_settings_file_cannot_move_an_attachment_to_another_carrier(
    service: ConnectorService, clock: Clock
) -> None:
    await service.start([entry()])
    clock.tick()

    with pytest.raises(ConnectorConfigError) as caught:
        await service.start([entry(carrier="globex")])

    assert "connectors[acme-hooks].carrier: the attachment belongs to carrier 'acme'" in str(
        caught.value
    )
    # Nothing written: the row, and the rows queued for it, stay acme's.
    assert (await service.get("acme-hooks")).carrier_id == "acme"
    built = await service.routes.attachment("acme-hooks")
    assert built is not None
    assert built.record.carrier_id == "acme"


async def test_a_new_id_for_the_other_carrier_is_fine(service: ConnectorService) -> None:
    await service.start([entry()])
    await service.start([entry(), entry("globex-hooks", carrier="globex")])
    assert (await service.get("globex-hooks")).carrier_id == "globex"

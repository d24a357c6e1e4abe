"""Two notifiers of one carrier (e-mail and SMS, say): every message's pickup code opens."""

from __future__ import annotations

import re

from gateway.domain.door import OpenPurpose
from tests.connectors.notify_world import (
    LOCKER,
    World,
    no_personal_data_in_logs,
    recipient,
    world,
)

__all__ = ["no_personal_data_in_logs", "world"]  # fixtures, used by name

CODE = re.compile(r"Kod odbioru: (\d+)")


async def redeemable(world: World, code: str) -> bool:
    async with world.store.transaction() as tx:
        used = await world.codes.redeem(tx, LOCKER, code)
    return used is not None and used.purpose is OpenPurpose.PICKUP


async def test_each_channels_code_opens_the_door(world: World) -> None:
    await world.attach_email()
    smtp = {"host": world.smtp.host, "port": world.smtp.port, "starttls": False}
    await world.attach("mail-2", "email", {"smtp": smtp, "from_address": "b@network.example"})
    await world.ready("NP-2CH", recipient())

    assert await world.deliver() == 2

    first, second = world.smtp.received
    codes = []
    for mail in (first, second):
        text = mail.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        codes.append(CODE.search(text).group(1))  # type: ignore[union-attr]
    # The recipient may type either message's code: each must work, not only the last one.
    assert await redeemable(world, codes[0])
    assert await redeemable(world, codes[1])

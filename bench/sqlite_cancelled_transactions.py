"""Cancelled transactions on a shared SQLite file: does the write lock go with them?

Two Stores (two gateway instances) on one SQLite file. In each round the first holds a short
transaction, the second starts one and is cancelled at a random moment (once or twice, as a
stopping TaskSet does), then the first must get the write lock again within the busy
timeout. A round where it does not is a write lock left behind by a cancelled transaction
(gateway/store/sqlite_connection.py says how). The busy timeout is shortened to 1 s for the
run, so that such a round costs one second, not thirty.

Usage: python -m bench.sqlite_cancelled_transactions [--rounds 1000] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
from pathlib import Path
from tempfile import TemporaryDirectory

import gateway.store.engine as engine_module
from gateway.errors import Unavailable
from gateway.store import Store


async def one_round(first: Store, second: Store, rng: random.Random) -> bool:
    """True when the first store got the write lock back in time."""
    held = asyncio.Event()

    async def hold() -> None:
        async with first.transaction() as tx:
            await tx.audit.count()
            held.set()
            await asyncio.sleep(rng.uniform(0, 0.004))

    async def cancelled_work() -> None:
        async with second.transaction() as tx:
            await tx.audit.count()
            await asyncio.sleep(rng.uniform(0, 0.002))
            await tx.audit.count()

    holder = asyncio.create_task(hold())
    await held.wait()
    victim = asyncio.create_task(cancelled_work())
    await asyncio.sleep(rng.uniform(0, 0.006))
    victim.cancel()
    if rng.random() < 0.5:
        await asyncio.sleep(rng.uniform(0, 0.003))
        victim.cancel()
    with contextlib.suppress(BaseException):
        await victim
    await holder
    try:
        async with first.transaction() as tx:
            await tx.audit.count()
    except Unavailable:
        gc.collect()  # frees what held the lock, so that the next round starts clean
        return False
    return True


async def main(rounds: int, seed: int) -> int:
    engine_module.SQLITE_BUSY_TIMEOUT_MS = 1000
    rng = random.Random(seed)
    with TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'shared.db'}"
        async with Store.connect(url) as first, Store.connect(url) as second:
            await first.migrate()
            left = sum([not await one_round(first, second, rng) for _ in range(rounds)])
    print(
        f"{left} of {rounds} rounds: the write lock outlived a cancelled transaction (seed {seed})"
    )
    return 1 if left else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.rounds, args.seed)))

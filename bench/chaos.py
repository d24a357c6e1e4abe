"""Chaos run: SIGKILLs, broker and PostgreSQL restarts, partitions, two instances; then checks.

A private PostgreSQL cluster (Debian's initdb/pg_ctl, never the machine's server), a private
Mosquitto, two `openlocker serve` processes, emulated lockers behind a faulty TCP link, a
webhook receiver; carriers work through full lifecycles while faults are injected. Afterwards
the database, the emulated hardware and the receiver are checked (tests/chaos/invariants.py)
and the figures printed; the exit status is 1 on any violation.

Usage: python -m bench.chaos [--short | --long] [--seed N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from tests.chaos.runner import Plan, run


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--short", action="store_true", help="the test command's form (default)")
    form.add_argument(
        "--long", action="store_true", help=">= 20 kills, every fault kind, 240 parcels"
    )
    parser.add_argument("--seed", type=int, default=1, help="orders the faults and the workload")
    args = parser.parse_args()
    plan = Plan.long(args.seed) if args.long else Plan.short(args.seed)
    # The lockers complain, rightly, about every cut link: the figures are what counts here.
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("mqtt").setLevel(logging.CRITICAL)
    print(f"plan: {plan}", flush=True)
    report = asyncio.run(run(plan))
    for line in report.lines():
        print(line)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: grant verifications per second beside the raw Ed25519 check they are built on.

Both loops check the same grants in the same run: the verifier does every check of SPEC.md
§11 (size, parsing, alg/typ, kid, signature, claims, window, replay lookup), the raw loop only
`Ed25519PublicKey.verify` over the same signing input and signature. The ratio is what the
JOSE parsing and the claim checks cost on top of the cryptography.
Usage: python -m bench.grants [--grants 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.tokens.grants import GrantAction, GrantClaims, GrantVerifier, encode_grant, new_jti

NETWORK = "bench-net"
LOCKER = "WAW-CENTRAL-01"


def make_grants(count: int, key: Ed25519PrivateKey, now: datetime) -> list[str]:
    grants = []
    for i in range(count):
        claims = GrantClaims(
            iss=NETWORK,
            aud=LOCKER,
            sub=f"4f1c2a9e-7d3b-4c8a-9e21-{i:012d}",
            cmp=f"A{i % 40:02d}",
            act=GrantAction.PICKUP,
            nbf=now,
            exp=now + timedelta(hours=1),
            iat=now,
            jti=new_jti(),
        )
        grants.append(encode_grant(claims, kid="bench-kid", key=key))
    return grants


def split(token: str) -> tuple[bytes, bytes]:
    head, payload, sig = token.split(".")
    return f"{head}.{payload}".encode(), base64.urlsafe_b64decode(sig + "==")


def best_rates(rounds: int, count: int, *loops: Callable[[], None]) -> list[float]:
    """Checks per second of each loop's fastest round; rounds interleave the loops, so a
    burst of load from elsewhere hits all of them alike."""
    best = [float("inf")] * len(loops)
    for _ in range(rounds):
        for i, loop in enumerate(loops):
            start = time.perf_counter()
            loop()
            best[i] = min(best[i], time.perf_counter() - start)
    return [count / elapsed for elapsed in best]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--grants", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    now = datetime.now(UTC).replace(microsecond=0)
    grants = make_grants(args.grants, key, now)
    raw = [split(token) for token in grants]
    used: set[str] = set()  # a replay lookup as a locker would do, never hit here
    verifier = GrantVerifier(
        keys={"bench-kid": public}, issuer=NETWORK, clock=lambda: now, seen=used.__contains__
    )

    def full() -> None:
        for token in grants:
            verifier.verify(
                token, locker_id=LOCKER, compartment_code=None, action=GrantAction.PICKUP
            )

    def bare() -> None:
        for signing_input, signature in raw:
            public.verify(signature, signing_input)

    full()  # warm up, and prove every grant verifies before timing anything
    verified, signature_only = best_rates(args.rounds, args.grants, full, bare)
    print(f"{args.grants} grants of ~{len(grants[0])} characters, best of {args.rounds} rounds")
    print(f"  GrantVerifier.verify (all checks): {verified:10,.0f} /s")
    print(f"  Ed25519 verify only:               {signature_only:10,.0f} /s")
    print(f"  ratio (full / raw):                {verified / signature_only:10.2f}")


if __name__ == "__main__":
    main()

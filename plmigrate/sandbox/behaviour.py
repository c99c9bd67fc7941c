"""How the emulated Azure behaves today: throttling, injected faults and latencies.

Token buckets follow ARM's documented model: one bucket per subscription, principal and kind of
call (reads, writes, deletes), refilled continuously; an empty bucket answers 429 with
`Retry-After`. Faults and latencies are rules matched on HTTP method and resource type.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field

from plmigrate.sandbox.scenario import FaultSeed, LatencySeed, ThrottlingSeed


def call_kind(method: str) -> str:
    method = method.upper()
    if method in {"GET", "HEAD"}:
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


@dataclass
class Bucket:
    burst: int
    per_second: float
    tokens: float
    stamp: float

    def take(self, now: float) -> tuple[bool, float]:
        """Take one token; returns (granted, seconds until one is available if not)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True, 0.0
        return False, (1 - self.tokens) / self.per_second


class Throttle:
    def __init__(self, config: ThrottlingSeed) -> None:
        self.config = config
        self.buckets: dict[tuple[str, str, str], Bucket] = {}
        self.lock = threading.Lock()

    def charge(self, subscription: str, principal: str, method: str) -> tuple[bool, dict[str, str]]:
        """Charge one call; returns (allowed, headers to send)."""
        kind = call_kind(method)
        seed = getattr(self.config, kind)
        now = time.monotonic()
        with self.lock:
            bucket = self.buckets.get((subscription.lower(), principal, kind))
            if bucket is None:
                bucket = Bucket(seed.burst, seed.per_second, float(seed.burst), now)
                self.buckets[(subscription.lower(), principal, kind)] = bucket
            if not self.config.enabled:
                return True, {}
            granted, wait = bucket.take(now)
            remaining = int(bucket.tokens)
        header = f"x-ms-ratelimit-remaining-subscription-{kind}"
        headers = {header: str(remaining)}
        if not granted:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return granted, headers


@dataclass
class FaultRule:
    seed: FaultSeed
    rng: random.Random = field(init=False)
    position: int = 0
    injected: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed.seed)

    def matches(self, method: str, resource_type: str) -> bool:
        return _match(self.seed.method, method) and _match(self.seed.resource_type, resource_type)

    def fires(self) -> bool:
        if self.seed.sequence is not None:
            if self.position >= len(self.seed.sequence):
                return False
            fired = self.seed.sequence[self.position]
            self.position += 1
        elif self.seed.rate is not None:
            fired = self.rng.random() < self.seed.rate
        else:
            fired = True
        if fired:
            self.injected += 1
        return fired


def _match(pattern: str, value: str) -> bool:
    return pattern == "*" or pattern.lower() == value.lower()


class Behaviour:
    """Faults, latencies and throttling, replaceable at run time through the admin API."""

    def __init__(self, faults: list[FaultSeed], latencies: list[LatencySeed], throttling: ThrottlingSeed) -> None:
        self.lock = threading.Lock()
        self.faults = [FaultRule(f) for f in faults]
        self.latencies = list(latencies)
        self.throttle = Throttle(throttling)

    def set_faults(self, faults: list[FaultSeed]) -> None:
        with self.lock:
            self.faults = [FaultRule(f) for f in faults]

    def set_latencies(self, latencies: list[LatencySeed]) -> None:
        with self.lock:
            self.latencies = list(latencies)

    def set_throttling(self, throttling: ThrottlingSeed) -> None:
        self.throttle = Throttle(throttling)

    def fault_for(self, method: str, resource_type: str, *, lro: bool) -> FaultSeed | None:
        """The first matching rule that fires for this call. LRO-failure rules only apply to
        long-running calls."""
        with self.lock:
            for rule in self.faults:
                if rule.seed.lro_failure and not lro:
                    continue
                if rule.matches(method, resource_type) and rule.fires():
                    return rule.seed
        return None

    def latency_for(self, method: str, resource_type: str) -> float:
        with self.lock:
            return sum(
                x.seconds for x in self.latencies if _match(x.method, method) and _match(x.resource_type, resource_type)
            )

    def injected(self) -> int:
        with self.lock:
            return sum(r.injected for r in self.faults)

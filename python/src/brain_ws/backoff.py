"""The retry and reconnect delay policy: exponential growth with full jitter.

The same policy as the Rust SDK (`client-sdk/src/backoff.rs`): attempt `n`
(from 1) waits a uniformly random time in `[0, min(max, initial *
factor**(n-1))]` ("full jitter", as in AWS's "Exponential Backoff And
Jitter"), so a herd of clients disconnected at once comes back as a ramp, not
a spike.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays between attempts, in seconds.

    Defaults (the Rust SDK's): 0.5 s initial ceiling, 30 s maximum, factor 2,
    no attempt limit, full jitter, schedule reset after 10 s connected.

    Attributes:
        initial: ceiling of the first delay (s).
        max: largest delay (s).
        factor: growth of the ceiling per attempt.
        max_attempts: give up after this many failed attempts in a row
            (`None`: never).
        jitter: full jitter when true; exactly the ceiling when false.
        reset_after: a connection that stayed up this long (s) starts the
            schedule over (used by `BrainClient`).
    """

    initial: float = 0.5
    max: float = 30.0
    factor: float = 2.0
    max_attempts: int | None = None
    jitter: bool = True
    reset_after: float = 10.0

    def __post_init__(self) -> None:
        if self.initial < 0 or self.max < 0 or self.factor < 1:
            raise ValueError("Backoff needs initial >= 0, max >= 0 and factor >= 1")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("Backoff.max_attempts must be at least 1 or None")

    def ceiling(self, attempt: int) -> float:
        """The largest delay before attempt `attempt` (from 1), in seconds."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        # min() before the power would overflow on long outages.
        exponent = min(attempt - 1, 64)
        return float(min(self.max, self.initial * self.factor**exponent))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """The delay before attempt `attempt` (from 1), in seconds."""
        ceiling = self.ceiling(attempt)
        if not self.jitter:
            return ceiling
        return (rng or _RNG).uniform(0.0, ceiling)

    def exhausted(self, failed_attempts: int) -> bool:
        """Whether `failed_attempts` failures in a row reach `max_attempts`."""
        return self.max_attempts is not None and failed_attempts >= self.max_attempts


_RNG = random.Random()

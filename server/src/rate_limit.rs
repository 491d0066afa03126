//! The per-connection inbound rate limit: a token bucket over the frames a
//! client sends (text, binary, WebSocket pings and pongs: every frame but
//! the close), kept in the session itself so it costs no lock and no timer.
//!
//! A frame over the limit is dropped and answered with `error rate_limited`.
//! A client that keeps going -- `max_violations` dropped frames within
//! [`VIOLATION_WINDOW`] -- is closed with 4501 (policy violation).

use std::time::{Duration, Instant};

/// The window over which dropped frames are counted towards a 4501 close.
pub const VIOLATION_WINDOW: Duration = Duration::from_secs(10);

/// Inbound rate limit of one connection (`--rate-limit`, `--rate-burst`,
/// `--rate-limit-violations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained frames per second a client may send.
    pub per_second: u32,
    /// Frames a client may send at once (the bucket's size); an idle
    /// connection can send this many back to back.
    pub burst: u32,
    /// Dropped frames within [`VIOLATION_WINDOW`] after which the connection
    /// is closed with 4501.
    pub max_violations: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 100,
            burst: 200,
            max_violations: 50,
        }
    }
}

/// What to do with one inbound frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the limit: handle it.
    Allow,
    /// Over the limit: drop it and tell the client.
    Drop,
    /// Over the limit for too long: close with 4501.
    Close,
}

/// One connection's bucket.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
    window_start: Instant,
    violations: u32,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            limit,
            tokens: f64::from(limit.burst),
            last: now,
            window_start: now,
            violations: 0,
        }
    }

    /// Takes one token for a frame that arrived at `now`.
    pub(crate) fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * f64::from(self.limit.per_second))
            .min(f64::from(self.limit.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allow;
        }
        if now.saturating_duration_since(self.window_start) > VIOLATION_WINDOW {
            self.window_start = now;
            self.violations = 0;
        }
        self.violations += 1;
        if self.violations >= self.limit.max_violations {
            Verdict::Close
        } else {
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_sustained_rate_then_close() {
        let limit = RateLimit {
            per_second: 10,
            burst: 5,
            max_violations: 3,
        };
        let t0 = Instant::now();
        let mut l = Limiter::new(limit, t0);
        for _ in 0..5 {
            assert_eq!(l.check(t0), Verdict::Allow);
        }
        assert_eq!(l.check(t0), Verdict::Drop);
        // 100 ms refills one token at 10/s.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(l.check(t1), Verdict::Allow);
        assert_eq!(l.check(t1), Verdict::Drop);
        assert_eq!(l.check(t1), Verdict::Close);
    }

    #[test]
    fn violations_are_forgotten_after_the_window() {
        let limit = RateLimit {
            per_second: 1,
            burst: 1,
            max_violations: 2,
        };
        let t0 = Instant::now();
        let mut l = Limiter::new(limit, t0);
        assert_eq!(l.check(t0), Verdict::Allow);
        assert_eq!(l.check(t0), Verdict::Drop);
        let later = t0 + VIOLATION_WINDOW + Duration::from_millis(1);
        assert_eq!(l.check(later), Verdict::Allow);
        assert_eq!(l.check(later), Verdict::Drop);
    }
}

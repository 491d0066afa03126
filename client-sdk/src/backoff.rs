//! The reconnect delay policy: exponential growth computed by `backon`, with
//! "full jitter" applied on top.
//!
//! `backon`'s own jitter adds a random part to the exponential delay (delay
//! in `[d, 2d)`), which keeps every client's first retry at least `d` after a
//! mass disconnect. Full jitter (a uniform delay in `[0, d]`, as AWS's
//! "Exponential Backoff And Jitter" recommends) spreads a herd of clients
//! over the whole window, so the server sees a ramp instead of a spike.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// How long a client waits between reconnect attempts.
///
/// Attempt `n` (from 1) waits a random time in `[0, min(max, initial *
/// factor^(n-1))]` with full jitter, or exactly that ceiling without it. The
/// schedule starts over once a connection has stayed up for
/// [`reset_after`](Backoff::reset_after).
///
/// Defaults: 500 ms initial, 30 s maximum, factor 2, no attempt limit, full
/// jitter, reset after 10 s connected.
///
/// ```no_run
/// use std::time::Duration;
/// use brain_ws_client::{Backoff, Client};
///
/// # async fn demo() -> Result<(), brain_ws_client::ConnectError> {
/// let client = Client::builder("ws://127.0.0.1:8000/ws/connect")
///     .backoff(Backoff::default().initial(Duration::from_secs(1)).max(Duration::from_secs(60)))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    factor: f32,
    max_attempts: Option<usize>,
    jitter: bool,
    reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            factor: 2.0,
            max_attempts: None,
            jitter: true,
            reset_after: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The ceiling of the first delay; smaller means faster recovery from a
    /// blip, larger means gentler on a struggling server.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// let backoff = brain_ws_client::Backoff::default().initial(Duration::from_millis(100));
    /// ```
    pub fn initial(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// The largest delay, so a long outage is noticed within this time of
    /// the server's return.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// let backoff = brain_ws_client::Backoff::default().max(Duration::from_secs(10));
    /// ```
    pub fn max(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// How much the ceiling grows per failed attempt (values below 1 make no
    /// sense and are treated as 1).
    ///
    /// ```no_run
    /// let backoff = brain_ws_client::Backoff::default().factor(1.5);
    /// ```
    pub fn factor(mut self, factor: f32) -> Self {
        self.factor = factor.max(1.0);
        self
    }

    /// Give up after this many consecutive failed attempts: the client then
    /// closes with [`ConnectErrorKind::RetriesExhausted`](crate::ConnectErrorKind::RetriesExhausted).
    /// Unlimited by default, because a service usually wants to outlive outages.
    ///
    /// ```no_run
    /// let backoff = brain_ws_client::Backoff::default().max_attempts(20);
    /// ```
    pub fn max_attempts(mut self, attempts: usize) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Whether to randomise each delay (full jitter). Turn it off only for
    /// a single client whose exact delays matter (tests, demos): without
    /// jitter, clients dropped together reconnect together.
    ///
    /// ```no_run
    /// let predictable = brain_ws_client::Backoff::default().jitter(false);
    /// ```
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// How long a connection must stay up before the schedule starts over,
    /// so a server that accepts and immediately drops connections still
    /// sees growing delays.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// let backoff = brain_ws_client::Backoff::default().reset_after(Duration::from_secs(30));
    /// ```
    pub fn reset_after(mut self, reset_after: Duration) -> Self {
        self.reset_after = reset_after;
        self
    }

    /// How long a connection must stay up before the schedule starts over.
    pub(crate) fn reset_period(&self) -> Duration {
        self.reset_after
    }

    /// The delays this policy would wait, attempt after attempt, for logs
    /// and for checking a configuration.
    ///
    /// ```
    /// use std::time::Duration;
    /// use brain_ws_client::Backoff;
    ///
    /// let delays: Vec<Duration> = Backoff::default().jitter(false).delays().take(8).collect();
    /// let secs = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0].map(Duration::from_secs_f64);
    /// assert_eq!(delays, secs);
    /// ```
    pub fn delays(&self) -> impl Iterator<Item = Duration> + Send + 'static {
        Schedule::new(self)
    }
}

/// One run of the policy: `backon` yields the exponential ceilings, and full
/// jitter picks a point below each.
pub(crate) struct Schedule {
    ceilings: ExponentialBackoff,
    rng: Option<fastrand::Rng>,
}

impl Schedule {
    pub(crate) fn new(policy: &Backoff) -> Self {
        let builder = ExponentialBuilder::new()
            .with_min_delay(policy.initial)
            .with_max_delay(policy.max)
            .with_factor(policy.factor);
        let builder = match policy.max_attempts {
            Some(n) => builder.with_max_times(n),
            None => builder.without_max_times(),
        };
        Self {
            ceilings: builder.build(),
            rng: policy.jitter.then(fastrand::Rng::new),
        }
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        // backon multiplies by an f32 factor (200 ms becomes 200.000003 ms):
        // round to whole microseconds so configured delays come out exact.
        let ceiling = self.ceilings.next()?;
        let ceiling = Duration::from_micros((ceiling.as_secs_f64() * 1e6).round() as u64);
        Some(match &mut self.rng {
            Some(rng) => ceiling.mul_f64(rng.f64()),
            None => ceiling,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_below_the_exponential_ceiling_and_uses_the_whole_window() {
        let policy = Backoff::default();
        let ceilings: Vec<Duration> = policy.clone().jitter(false).delays().take(10).collect();
        let mut low_halves = 0;
        for _ in 0..200 {
            for (delay, ceiling) in policy.delays().zip(&ceilings) {
                assert!(delay <= *ceiling, "{delay:?} > {ceiling:?}");
                if delay < *ceiling / 2 {
                    low_halves += 1;
                }
            }
        }
        // Uniform in [0, ceiling]: about half of 2000 draws fall in the low
        // half; backon's own jitter ([d, 2d)) would put none there.
        assert!((700..1300).contains(&low_halves), "{low_halves}");
    }

    #[test]
    fn attempt_limit_ends_the_schedule() {
        let n = Backoff::default().max_attempts(3).delays().count();
        assert_eq!(n, 3);
    }
}

//! Idempotency keys (`idempotency_key` in a broadcast body): a publisher
//! that retries after an error or a timeout sends the same key, and an event
//! whose key was already published within [`WINDOW`] is not delivered again.
//!
//! The Redis broker remembers keys in Redis (`SET NX PX`, inside the publish
//! script, so the check and the publish are one atomic step for the whole
//! cluster); the in-memory broker remembers them here.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// How long a key is remembered after the publish that used it.
pub const WINDOW: Duration = Duration::from_secs(600);

/// Most keys the in-memory broker remembers at once; beyond it the oldest
/// are forgotten early (a memory bound: 100,000 keys of up to 128 bytes).
const MAX_KEYS: usize = 100_000;

/// Longest accepted key, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 128;

/// Keys seen within the window, oldest first.
#[derive(Default)]
pub(crate) struct Remembered {
    inner: Mutex<Keys>,
}

#[derive(Default)]
struct Keys {
    set: HashSet<String>,
    /// (key, when it is forgotten in clock ms), in insertion order, which
    /// with a fixed window is also expiry order.
    order: VecDeque<(String, u64)>,
}

impl Keys {
    fn prune(&mut self, now_ms: u64) {
        while let Some((key, until)) = self.order.front() {
            if *until > now_ms && self.order.len() <= MAX_KEYS {
                break;
            }
            self.set.remove(key);
            self.order.pop_front();
        }
    }
}

fn window_ms() -> u64 {
    u64::try_from(WINDOW.as_millis()).unwrap_or(u64::MAX)
}

impl Remembered {
    /// Records `key`; `true` when it was not seen within the window.
    pub(crate) fn first_time(&self, key: &str, now_ms: u64) -> bool {
        let mut keys = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        keys.prune(now_ms);
        if keys.set.contains(key) {
            return false;
        }
        keys.set.insert(key.to_owned());
        keys.order
            .push_back((key.to_owned(), now_ms.saturating_add(window_ms())));
        true
    }

    /// Forgets keys older than the window.
    pub(crate) fn prune(&self, now_ms: u64) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .prune(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_counts_once_within_the_window_and_again_after_it() {
        let r = Remembered::default();
        assert!(r.first_time("k", 0));
        assert!(!r.first_time("k", 1));
        assert!(r.first_time("other", 1));
        assert!(!r.first_time("k", window_ms() - 1));
        assert!(r.first_time("k", window_ms() + 1));
    }
}

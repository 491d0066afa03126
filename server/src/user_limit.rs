//! The per-user connection limit (`--max-connections-per-user`), enforced
//! before the upgrade with a reservation, like the global limit's slot: two
//! handshakes racing for a user's last place cannot both win. The count is
//! per node; with several nodes a user may hold the limit on each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The reservations of every connected user on this node.
#[derive(Debug, Default)]
pub(crate) struct UserSlots {
    counts: Mutex<HashMap<Arc<str>, usize>>,
}

impl UserSlots {
    /// Reserves a place for one more connection of `user`, or `None` when
    /// the user already holds `max`. Released when the guard drops.
    pub(crate) fn reserve(self: &Arc<Self>, user: &Arc<str>, max: usize) -> Option<UserSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(user.clone()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(UserSlot {
            slots: self.clone(),
            user: user.clone(),
        })
    }
}

/// One reserved place, released on drop.
#[derive(Debug)]
pub(crate) struct UserSlot {
    slots: Arc<UserSlots>,
    user: Arc<str>,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut counts = self.slots.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = counts.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_counted_and_released() {
        let slots = Arc::new(UserSlots::default());
        let alice: Arc<str> = Arc::from("alice");
        let a = slots.reserve(&alice, 2).expect("first");
        let _b = slots.reserve(&alice, 2).expect("second");
        assert!(slots.reserve(&alice, 2).is_none());
        assert!(slots.reserve(&Arc::from("bob"), 2).is_some());
        drop(a);
        assert!(slots.reserve(&alice, 2).is_some());
    }
}

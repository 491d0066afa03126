//! Per-channel history for the in-memory broker: a bounded ring of recent
//! frames with increasing offsets, so a client that reconnects can ask for
//! what it missed (`subscribe` with `since`).
//!
//! The ring holds the already-serialized frames, so a replay costs no
//! serialization. Its `epoch` is random per incarnation: a restarted node has
//! a new epoch, and clients then learn (recovered: false) that offsets from
//! before mean nothing.

use std::collections::VecDeque;
use std::sync::Arc;

use brain_ws_protocol::StreamPosition;

use crate::connection::Frame;

/// A channel's history.
pub(crate) struct History {
    epoch: Arc<str>,
    /// Offset of the latest event; 0 before the first.
    top: u64,
    events: VecDeque<Entry>,
    capacity: usize,
    ttl_ms: u64,
}

struct Entry {
    offset: u64,
    at_ms: u64,
    frame: Frame,
}

/// The outcome of a recovery request.
pub(crate) enum Recovery {
    /// Every event after the client's position, in order (possibly none).
    Complete(Vec<Frame>),
    /// The history does not reach back far enough, or the epoch changed.
    Lost,
}

/// A fresh random epoch: 12 hex digits, unique enough that a client never
/// mistakes a new history for the one it knew (shared with the Redis broker).
pub(crate) fn new_epoch() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

impl History {
    pub(crate) fn new(capacity: usize, ttl_ms: u64) -> Self {
        Self {
            epoch: Arc::from(new_epoch()),
            top: 0,
            events: VecDeque::with_capacity(capacity.min(16)),
            capacity,
            ttl_ms,
        }
    }

    /// The epoch and the latest offset, as sent in `subscribed`.
    pub(crate) fn position(&self) -> (Arc<str>, u64) {
        (self.epoch.clone(), self.top)
    }

    /// Reserves the next offset; the caller builds the frame with it and
    /// then calls [`History::push`].
    pub(crate) fn next_offset(&self) -> u64 {
        self.top + 1
    }

    /// Appends the frame for the offset returned by [`History::next_offset`].
    pub(crate) fn push(&mut self, offset: u64, now_ms: u64, frame: Frame) {
        self.top = offset;
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(Entry {
            offset,
            at_ms: now_ms,
            frame,
        });
        self.prune(now_ms);
    }

    /// Drops events older than the TTL.
    pub(crate) fn prune(&mut self, now_ms: u64) {
        while let Some(front) = self.events.front() {
            if now_ms.saturating_sub(front.at_ms) > self.ttl_ms {
                self.events.pop_front();
            } else {
                break;
            }
        }
    }

    /// Whether nothing is retained (all events expired or none published).
    pub(crate) fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The frames after `since`, if the history still covers them.
    pub(crate) fn recover(&mut self, since: &StreamPosition, now_ms: u64) -> Recovery {
        self.prune(now_ms);
        if *since.epoch != *self.epoch || since.offset > self.top {
            return Recovery::Lost;
        }
        if since.offset == self.top {
            return Recovery::Complete(Vec::new());
        }
        match self.events.front() {
            Some(first) if first.offset <= since.offset + 1 => Recovery::Complete(
                self.events
                    .iter()
                    .filter(|e| e.offset > since.offset)
                    .map(|e| e.frame.clone())
                    .collect(),
            ),
            _ => Recovery::Lost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(capacity: usize, n: u64) -> History {
        let mut h = History::new(capacity, 60_000);
        for _ in 0..n {
            let offset = h.next_offset();
            h.push(offset, 0, Frame::from(format!("e{offset}")));
        }
        h
    }

    fn since(h: &History, offset: u64) -> StreamPosition {
        StreamPosition {
            epoch: h.position().0.to_string(),
            offset,
        }
    }

    fn texts(r: Recovery) -> Option<Vec<String>> {
        match r {
            Recovery::Complete(frames) => Some(frames.iter().map(|f| f.to_string()).collect()),
            Recovery::Lost => None,
        }
    }

    #[test]
    fn recovers_exactly_the_missed_events_in_order() {
        let mut h = filled(5, 8);
        assert_eq!(h.position().1, 8);
        let p = since(&h, 5);
        assert_eq!(
            texts(h.recover(&p, 0)),
            Some(vec!["e6".into(), "e7".into(), "e8".into()])
        );
        let p = since(&h, 8);
        assert_eq!(texts(h.recover(&p, 0)), Some(vec![]));
        // The ring holds 4..=8: since 3 needs 4 onwards, still complete.
        let p = since(&h, 3);
        assert_eq!(texts(h.recover(&p, 0)).map(|v| v.len()), Some(5));
    }

    #[test]
    fn reports_loss_when_history_does_not_reach_back_or_epoch_differs() {
        let mut h = filled(5, 8);
        let p = since(&h, 2);
        assert!(texts(h.recover(&p, 0)).is_none());
        let other = StreamPosition {
            epoch: "other".into(),
            offset: 7,
        };
        assert!(texts(h.recover(&other, 0)).is_none());
        let future = since(&h, 9);
        assert!(texts(h.recover(&future, 0)).is_none());
    }

    #[test]
    fn expired_events_are_lost() {
        let mut h = History::new(10, 1_000);
        let o = h.next_offset();
        h.push(o, 0, Frame::from("e1"));
        let p = since(&h, 0);
        assert!(texts(h.recover(&p, 2_000)).is_none());
        assert!(h.is_empty());
    }
}

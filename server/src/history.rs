//! Stream positions and the recovery rules, shared by both brokers, and the
//! bounded ring in which the in-memory broker keeps a channel's history.
//!
//! A history channel's events carry increasing offsets within an epoch. The
//! epoch names one incarnation of the channel's stream (random per ring in
//! memory, per stream in Redis): a restarted node or a Redis that lost its
//! data starts a new epoch, and offsets from before mean nothing in it.
//!
//! [`recover`] is the one implementation of "can the events after `since`
//! still be replayed": the in-memory ring and the Redis stream both hand it
//! their entries, so both brokers answer a `subscribe` with `since` alike.

use std::collections::VecDeque;
use std::sync::Arc;

use brain_ws_protocol::StreamPosition;

use crate::frames::Frame;

/// An event's place in a channel's stream (Protocol Specification, "History
/// and recovery"): its epoch and its offset within that epoch. A channel's
/// position is that of its latest event (offset 0 before the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The stream's incarnation.
    pub epoch: Arc<str>,
    /// 1 for the first event of the epoch, then one more per event.
    pub offset: u64,
}

impl Position {
    /// The position `offset` in `epoch`.
    pub fn new(epoch: impl Into<Arc<str>>, offset: u64) -> Self {
        Self {
            epoch: epoch.into(),
            offset,
        }
    }

    /// Whether `self` is in the same epoch as `other`, at or before it.
    pub(crate) fn is_at_or_before(&self, other: &Position) -> bool {
        self.epoch == other.epoch && self.offset <= other.offset
    }
}

/// A fresh random epoch: 12 hex digits, unique enough that a client never
/// mistakes a new history for the one it knew.
pub(crate) fn new_epoch() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// The recovery rule: the events after `since`, if `entries` (offset, time
/// in ms, frame; ascending, starting after `since`) still hold every one of
/// them up to `top`, none older than `ttl_ms` at `now_ms`. `None` means the
/// client lost events: other epoch, a position beyond the top, or history
/// trimmed or expired.
pub fn recover(
    since: &StreamPosition,
    top: &Position,
    now_ms: u64,
    ttl_ms: u64,
    entries: impl IntoIterator<Item = (u64, u64, Frame)>,
) -> Option<Vec<Frame>> {
    if *since.epoch != *top.epoch || since.offset > top.offset {
        return None;
    }
    let mut expected = since.offset + 1;
    let mut frames = Vec::new();
    for (offset, at, frame) in entries {
        if offset <= since.offset {
            continue;
        }
        if offset != expected || now_ms.saturating_sub(at) > ttl_ms {
            return None;
        }
        frames.push(frame);
        expected += 1;
    }
    (expected == top.offset + 1).then_some(frames)
}

/// A channel's history in the in-memory broker: the latest `capacity`
/// events, none older than the TTL, as serialized frames (a replay costs
/// no serialization).
pub(crate) struct Ring {
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

impl Ring {
    pub(crate) fn new(capacity: usize, ttl_ms: u64) -> Self {
        Self {
            epoch: Arc::from(new_epoch()),
            top: 0,
            events: VecDeque::with_capacity(capacity.min(16)),
            capacity,
            ttl_ms,
        }
    }

    /// The position of the latest event, as sent in `subscribed`.
    pub(crate) fn position(&self) -> Position {
        Position::new(self.epoch.clone(), self.top)
    }

    /// Takes the next offset, builds its frame with `build` and appends it;
    /// returns the frame and its position.
    pub(crate) fn append(
        &mut self,
        now_ms: u64,
        build: impl FnOnce(u64) -> Frame,
    ) -> (Frame, Position) {
        let offset = self.top + 1;
        let frame = build(offset);
        self.top = offset;
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(Entry {
            offset,
            at_ms: now_ms,
            frame: frame.clone(),
        });
        self.prune(now_ms);
        (frame, Position::new(self.epoch.clone(), offset))
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

    /// The frames after `since`, by [`recover`]'s rule.
    pub(crate) fn recover(&mut self, since: &StreamPosition, now_ms: u64) -> Option<Vec<Frame>> {
        self.prune(now_ms);
        let entries = self
            .events
            .iter()
            .map(|e| (e.offset, e.at_ms, e.frame.clone()));
        recover(since, &self.position(), now_ms, self.ttl_ms, entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(capacity: usize, n: u64) -> Ring {
        let mut h = Ring::new(capacity, 60_000);
        for _ in 0..n {
            h.append(0, |offset| Frame::from(format!("e{offset}")));
        }
        h
    }

    fn since(h: &Ring, offset: u64) -> StreamPosition {
        StreamPosition {
            epoch: h.position().epoch.to_string(),
            offset,
        }
    }

    fn texts(r: Option<Vec<Frame>>) -> Option<Vec<String>> {
        r.map(|frames| frames.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn recovers_exactly_the_missed_events_in_order() {
        let mut h = filled(5, 8);
        assert_eq!(h.position().offset, 8);
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
        let mut h = Ring::new(10, 1_000);
        h.append(0, |_| Frame::from("e1"));
        let p = since(&h, 0);
        assert!(texts(h.recover(&p, 2_000)).is_none());
        assert!(h.is_empty());
    }

    fn entries(range: std::ops::RangeInclusive<u64>, at: u64) -> Vec<(u64, u64, Frame)> {
        range
            .map(|o| (o, at, Frame::from(format!("e{o}"))))
            .collect()
    }

    fn at(epoch: &str, offset: u64) -> StreamPosition {
        StreamPosition {
            epoch: epoch.into(),
            offset,
        }
    }

    /// The rule as the Redis broker applies it to the entries it read.
    #[test]
    fn the_rule_on_stream_entries() {
        let top = Position::new("e", 8);
        let got = recover(&at("e", 5), &top, 0, 1000, entries(6..=8, 0)).unwrap();
        assert_eq!(
            got,
            vec![Frame::from("e6"), Frame::from("e7"), Frame::from("e8")]
        );
        assert_eq!(recover(&at("e", 8), &top, 0, 1000, vec![]), Some(vec![]));
        // Trimmed: the stream starts after the first missed offset.
        assert_eq!(recover(&at("e", 2), &top, 0, 1000, entries(4..=8, 0)), None);
        // Other epoch, or a position beyond the top.
        assert_eq!(recover(&at("x", 5), &top, 0, 1000, entries(6..=8, 0)), None);
        assert_eq!(recover(&at("e", 9), &top, 0, 1000, vec![]), None);
        // Expired entries; a hole in the middle.
        assert_eq!(
            recover(&at("e", 5), &top, 5000, 1000, entries(6..=8, 0)),
            None
        );
        let mut holed = entries(6..=8, 0);
        holed.remove(1);
        assert_eq!(recover(&at("e", 5), &top, 0, 1000, holed), None);
    }
}

//! Stream positions and the recovery rules, shared by both brokers, and the
//! bounded ring in which the in-memory broker keeps a channel's history.
//!
//! A history channel's events carry increasing offsets within an epoch. The
//! epoch names one incarnation of the channel's stream (random per ring in
//! memory, per stream in Redis): a restarted node or a Redis that lost its
//! data starts a new epoch, and offsets from before mean nothing in it.
//!
//! [`page`] is the one implementation of "which retained events answer this
//! read, and is anything missing": the in-memory ring and the Redis stream
//! both hand it their entries, so both brokers answer a `subscribe` with
//! `since` ([`recover`]) or `rewind`, and `GET
//! /api/ws/channels/{channel}/history`, alike.

use std::collections::VecDeque;
use std::sync::Arc;

use brain_ws_protocol::StreamPosition;

use crate::frames::Frame;
use crate::hub::Joined;

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

/// A fresh random epoch: 12 hex digits (48 random bits, as the first 12
/// digits of a v4 UUID were), unique enough that a client never mistakes a
/// new history for the one it knew. From the thread's generator, not the
/// operating system's: the Redis broker sends one with every history
/// publication (the script uses it only when the stream starts), and a
/// `getrandom` system call per event showed in the node's CPU per event.
pub(crate) fn new_epoch() -> String {
    format!("{:012x}", rand::random::<u64>() >> 16)
}

/// What a subscriber asks to be replayed before live events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// `since`: every event after this position, or word that some are lost.
    Since(StreamPosition),
    /// `rewind`: the channel's latest retained events, at most this many.
    Rewind(u64),
}

/// Where a history read starts.
#[derive(Debug, Clone, Copy)]
pub enum Start<'a> {
    /// The latest `limit` events.
    Latest,
    /// The first `limit` events after this position; when it is not in the
    /// retained window (other epoch, beyond the top, trimmed or expired),
    /// the oldest retained ones, and the page is incomplete.
    After(&'a StreamPosition),
}

/// Retained events that answer a read, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Offset and frame of each event.
    pub events: Vec<(u64, Frame)>,
    /// No event between the requested start and the first returned is lost
    /// (see `page`).
    pub complete: bool,
}

/// The history read rule. `entries` (offset, time in ms, frame; ascending,
/// none above `top`) are what the broker retains; events older than
/// `ttl_ms` at `now_ms` count as gone.
///
/// - [`Start::Latest`]: the latest `limit` events; complete when they are
///   consecutive, end at the top and number `limit` (or every event of the
///   epoch, when it has fewer).
/// - [`Start::After`]: the first `limit` events after the position;
///   complete when the position is in this epoch at or below the top and
///   the events are consecutive from the one after it, up to `limit` of
///   them or the top. A position outside the retained window gives the
///   oldest retained events, incomplete.
pub(crate) fn page(
    start: Start<'_>,
    top: &Position,
    now_ms: u64,
    ttl_ms: u64,
    limit: usize,
    entries: impl IntoIterator<Item = (u64, u64, Frame)>,
) -> Page {
    let live = entries
        .into_iter()
        .filter(|(offset, at, _)| *offset <= top.offset && now_ms.saturating_sub(*at) <= ttl_ms)
        .map(|(offset, _, frame)| (offset, frame));
    let consecutive = |events: &[(u64, Frame)], first: u64| {
        events
            .iter()
            .enumerate()
            .all(|(i, (offset, _))| *offset == first + i as u64)
    };
    match start {
        Start::Latest => {
            let mut events: Vec<(u64, Frame)> = live.collect();
            events.drain(..events.len().saturating_sub(limit));
            let wanted = top.offset.min(limit as u64);
            let first = top.offset + 1 - wanted;
            let complete = events.len() as u64 == wanted && consecutive(&events, first);
            Page { events, complete }
        }
        Start::After(since) if *since.epoch == *top.epoch && since.offset <= top.offset => {
            let events: Vec<(u64, Frame)> = live
                .skip_while(|(offset, _)| *offset <= since.offset)
                .take(limit)
                .collect();
            let last = since.offset + events.len() as u64;
            let complete = consecutive(&events, since.offset + 1)
                && (events.len() == limit || last == top.offset);
            Page { events, complete }
        }
        Start::After(_) => Page {
            events: live.take(limit).collect(),
            complete: false,
        },
    }
}

/// The recovery rule: the events after `since`, if `entries` (as for
/// [`page`]) still hold every one of them up to `top`. `None` means the
/// client lost events: other epoch, a position beyond the top, or history
/// trimmed or expired.
pub fn recover(
    since: &StreamPosition,
    top: &Position,
    now_ms: u64,
    ttl_ms: u64,
    entries: impl IntoIterator<Item = (u64, u64, Frame)>,
) -> Option<Vec<Frame>> {
    let read = page(
        Start::After(since),
        top,
        now_ms,
        ttl_ms,
        usize::MAX,
        entries,
    );
    read.complete
        .then(|| read.events.into_iter().map(|(_, frame)| frame).collect())
}

/// The answer to a subscription asking for `replay` on a history channel
/// at `top`, from the `entries` (as for [`page`]) the broker read for it:
/// `since` by [`recover`]'s rule, `rewind` as the latest events by
/// [`page`]'s.
pub(crate) fn joined(
    top: Position,
    replay: Option<&Replay>,
    now_ms: u64,
    ttl_ms: u64,
    entries: impl IntoIterator<Item = (u64, u64, Frame)>,
) -> Joined {
    let mut answer = Joined {
        position: None,
        recovered: None,
        replayed: None,
        replay: Vec::new(),
    };
    match replay {
        None => {}
        Some(Replay::Since(since)) => {
            let replay = recover(since, &top, now_ms, ttl_ms, entries);
            answer.recovered = Some(replay.is_some());
            answer.replay = replay.unwrap_or_default();
        }
        Some(Replay::Rewind(n)) => {
            let limit = usize::try_from(*n).unwrap_or(usize::MAX);
            let read = page(Start::Latest, &top, now_ms, ttl_ms, limit, entries);
            answer.replayed = Some(read.events.len() as u64);
            answer.replay = read.events.into_iter().map(|(_, f)| f).collect();
        }
    }
    answer.position = Some(top);
    answer
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
    #[cfg(test)]
    fn recover(&mut self, since: &StreamPosition, now_ms: u64) -> Option<Vec<Frame>> {
        self.prune(now_ms);
        recover(since, &self.position(), now_ms, self.ttl_ms, self.entries())
    }

    /// The answer to a subscription asking for `replay` ([`joined`]).
    pub(crate) fn join(&mut self, replay: Option<&Replay>, now_ms: u64) -> Joined {
        self.prune(now_ms);
        joined(self.position(), replay, now_ms, self.ttl_ms, self.entries())
    }

    /// A history read by [`page`]'s rule.
    pub(crate) fn page(&mut self, start: Start<'_>, limit: usize, now_ms: u64) -> Page {
        self.prune(now_ms);
        page(
            start,
            &self.position(),
            now_ms,
            self.ttl_ms,
            limit,
            self.entries(),
        )
    }

    fn entries(&self) -> impl Iterator<Item = (u64, u64, Frame)> + '_ {
        self.events
            .iter()
            .map(|e| (e.offset, e.at_ms, e.frame.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_twelve_lowercase_hex_digits_and_differ() {
        let epochs: std::collections::HashSet<String> = (0..1000).map(|_| new_epoch()).collect();
        assert_eq!(epochs.len(), 1000);
        for e in &epochs {
            assert_eq!(e.len(), 12, "{e}");
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{e}"
            );
        }
        // Leading zeros are kept: some of 1000 start with `0` (1 in 16 each).
        assert!(epochs.iter().any(|e| e.starts_with('0')));
    }

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

    fn offsets(p: &Page) -> Vec<u64> {
        p.events.iter().map(|(o, _)| *o).collect()
    }

    #[test]
    fn latest_pages_end_at_the_top() {
        let top = Position::new("e", 8);
        let p = page(Start::Latest, &top, 0, 1000, 3, entries(4..=8, 0));
        assert_eq!((offsets(&p), p.complete), (vec![6, 7, 8], true));
        // Asking for more than is retained: what is there, incomplete.
        let p = page(Start::Latest, &top, 0, 1000, 10, entries(4..=8, 0));
        assert_eq!((offsets(&p), p.complete), (vec![4, 5, 6, 7, 8], false));
        // The whole epoch is retained: complete even though fewer than asked.
        let top = Position::new("e", 2);
        let p = page(Start::Latest, &top, 0, 1000, 10, entries(1..=2, 0));
        assert_eq!((offsets(&p), p.complete), (vec![1, 2], true));
        let empty = page(Start::Latest, &Position::new("e", 0), 0, 1000, 5, vec![]);
        assert_eq!((offsets(&empty), empty.complete), (vec![], true));
        // Expired events are gone.
        let p = page(Start::Latest, &top, 5000, 1000, 10, entries(1..=2, 0));
        assert_eq!((offsets(&p), p.complete), (vec![], false));
    }

    #[test]
    fn pages_after_a_position_go_forward_and_say_when_it_is_outside_the_window() {
        let top = Position::new("e", 8);
        let p = page(
            Start::After(&at("e", 4)),
            &top,
            0,
            1000,
            2,
            entries(4..=8, 0),
        );
        assert_eq!((offsets(&p), p.complete), (vec![5, 6], true));
        let p = page(
            Start::After(&at("e", 6)),
            &top,
            0,
            1000,
            5,
            entries(4..=8, 0),
        );
        assert_eq!((offsets(&p), p.complete), (vec![7, 8], true));
        let p = page(
            Start::After(&at("e", 8)),
            &top,
            0,
            1000,
            5,
            entries(4..=8, 0),
        );
        assert_eq!((offsets(&p), p.complete), (vec![], true));
        // Trimmed past the position, another epoch, beyond the top: the
        // oldest retained, incomplete.
        for since in [at("e", 1), at("x", 6), at("e", 9)] {
            let p = page(Start::After(&since), &top, 0, 1000, 2, entries(4..=8, 0));
            assert_eq!((offsets(&p), p.complete), (vec![4, 5], false), "{since:?}");
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

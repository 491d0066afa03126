//! The shared half of a WebSocket connection: what the hub, the heartbeat
//! and the fan-out need to reach a connection without touching its socket.
//!
//! The socket itself belongs to the connection's session task
//! (`session.rs`). Everyone else talks to it through its outbox: a bounded
//! queue of pre-serialized frames plus a close request, behind one short
//! mutex and one waker. No lock is ever held across a socket write, and a
//! slow client can never block a broadcast.
//!
//! The outbox replaced a tokio `mpsc` channel plus a `Notify`: on the fan-out
//! path that was a semaphore, a block list and two wakers per delivery; this
//! is one uncontended lock and one wake (docs/benchmarks.md).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use axum::extract::ws::Utf8Bytes;
use brain_ws_protocol::CloseCode;
use uuid::Uuid;

use crate::clock::Clock;

/// A frame shared by every recipient: serialized once, cloned by reference count.
pub(crate) type Frame = Utf8Bytes;

/// The shared state of one connection.
pub(crate) struct Connection {
    /// Internal key, cheaper to hash than the UUID.
    pub(crate) key: u64,
    /// The id the client sees in its welcome message.
    pub(crate) id: Uuid,
    /// The authenticated user, if any.
    pub(crate) user_id: Option<Arc<str>>,
    /// When the connection was registered, in clock milliseconds.
    pub(crate) registered_at: u64,
    /// Most frames the outbox holds before the connection is a slow consumer.
    capacity: usize,
    outbox: Mutex<Outbox>,
    last_activity: AtomicU64,
}

#[derive(Default)]
struct Outbox {
    frames: VecDeque<Frame>,
    /// The session task, when it waits for frames or a close request.
    waker: Option<Waker>,
    /// The first close requested; later ones are ignored.
    close: Option<CloseCode>,
    /// The session has ended: nothing is queued any more.
    finished: bool,
}

impl Outbox {
    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    fn register(&mut self, cx: &Context<'_>) {
        match &self.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.waker = Some(cx.waker().clone()),
        }
    }
}

/// What happened to a frame offered to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Queued.
    Queued,
    /// The queue was full: the connection is now closing as a slow consumer.
    Slow,
    /// The connection is closing or gone.
    Gone,
}

/// What the session should do next.
pub(crate) enum Next {
    /// Write this frame (and whatever else [`Connection::try_next`] yields).
    Frame(Frame),
    /// Close with this code.
    Close(CloseCode),
}

/// A poisoned outbox only means a thread panicked while holding the lock;
/// its state is still consistent, so keep serving.
fn lock(m: &Mutex<Outbox>) -> MutexGuard<'_, Outbox> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Connection {
    pub(crate) fn new(
        key: u64,
        user_id: Option<Arc<str>>,
        capacity: usize,
        clock: &Clock,
    ) -> Arc<Self> {
        let now = clock.now_ms();
        Arc::new(Self {
            key,
            id: Uuid::new_v4(),
            user_id,
            registered_at: now,
            capacity,
            outbox: Mutex::new(Outbox::default()),
            last_activity: AtomicU64::new(now),
        })
    }

    /// Queues a frame without waiting. A full queue means the client is not
    /// keeping up: rather than grow memory, the connection is closed with
    /// [`CloseCode::SLOW_CONSUMER`].
    pub(crate) fn offer(&self, frame: Frame) -> Offer {
        let mut outbox = lock(&self.outbox);
        if outbox.finished || outbox.close.is_some() {
            return Offer::Gone;
        }
        if outbox.frames.len() >= self.capacity {
            outbox.close = Some(CloseCode::SLOW_CONSUMER);
            outbox.wake();
            return Offer::Slow;
        }
        outbox.frames.push_back(frame);
        let waker = outbox.waker.take();
        drop(outbox);
        if let Some(waker) = waker {
            waker.wake();
        }
        Offer::Queued
    }

    /// Asks the session to close with `code`. The first code wins.
    pub(crate) fn close(&self, code: CloseCode) {
        let mut outbox = lock(&self.outbox);
        if outbox.close.is_none() {
            outbox.close = Some(code);
            outbox.wake();
        }
    }

    /// The session's next step: a close request first (a slow consumer's
    /// backlog is not worth writing), else the oldest queued frame.
    pub(crate) fn poll_next(&self, cx: &Context<'_>) -> Poll<Next> {
        let mut outbox = lock(&self.outbox);
        if let Some(code) = outbox.close {
            return Poll::Ready(Next::Close(code));
        }
        match outbox.frames.pop_front() {
            Some(frame) => Poll::Ready(Next::Frame(frame)),
            None => {
                outbox.register(cx);
                Poll::Pending
            }
        }
    }

    /// Resolves when a close is requested (while the session is busy writing).
    pub(crate) fn poll_close(&self, cx: &Context<'_>) -> Poll<CloseCode> {
        let mut outbox = lock(&self.outbox);
        match outbox.close {
            Some(code) => Poll::Ready(code),
            None => {
                outbox.register(cx);
                Poll::Pending
            }
        }
    }

    /// The next queued frame, if any and no close is requested.
    pub(crate) fn try_next(&self) -> Option<Frame> {
        let mut outbox = lock(&self.outbox);
        if outbox.close.is_some() {
            return None;
        }
        outbox.frames.pop_front()
    }

    /// Everything still queued, for a graceful close (shutdown) that lets
    /// already-published events out before the close frame.
    pub(crate) fn take_remaining(&self) -> VecDeque<Frame> {
        std::mem::take(&mut lock(&self.outbox).frames)
    }

    /// Marks the session ended: later offers are refused and the backlog freed.
    pub(crate) fn finish(&self) {
        let mut outbox = lock(&self.outbox);
        outbox.finished = true;
        outbox.frames = VecDeque::new();
        outbox.waker = None;
    }

    /// Records that the client showed a sign of life.
    pub(crate) fn touch(&self, clock: &Clock) {
        self.last_activity.store(clock.now_ms(), Ordering::Relaxed);
    }

    /// When the client last showed a sign of life, in clock milliseconds.
    pub(crate) fn last_activity(&self) -> u64 {
        self.last_activity.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(capacity: usize) -> Arc<Connection> {
        Connection::new(1, None, capacity, &Clock::new())
    }

    fn next(conn: &Connection) -> Option<Result<String, u16>> {
        let waker = Waker::noop();
        match conn.poll_next(&Context::from_waker(waker)) {
            Poll::Ready(Next::Frame(f)) => Some(Ok(f.to_string())),
            Poll::Ready(Next::Close(code)) => Some(Err(code.0)),
            Poll::Pending => None,
        }
    }

    #[test]
    fn frames_come_out_in_order_and_a_full_outbox_closes_as_slow() {
        let c = conn(2);
        assert_eq!(c.offer(Frame::from("a")), Offer::Queued);
        assert_eq!(c.offer(Frame::from("b")), Offer::Queued);
        assert_eq!(next(&c), Some(Ok("a".into())));
        assert_eq!(c.offer(Frame::from("c")), Offer::Queued);
        assert_eq!(c.offer(Frame::from("d")), Offer::Slow);
        // The close request overtakes the backlog, and later offers are refused.
        assert_eq!(next(&c), Some(Err(4001)));
        assert_eq!(c.offer(Frame::from("e")), Offer::Gone);
    }

    #[test]
    fn the_first_close_wins_and_a_finished_connection_takes_nothing() {
        let c = conn(8);
        assert_eq!(next(&c), None);
        c.close(CloseCode::GOING_AWAY);
        c.close(CloseCode::HEARTBEAT_TIMEOUT);
        assert_eq!(next(&c), Some(Err(1001)));
        let d = conn(8);
        d.offer(Frame::from("x"));
        d.finish();
        assert_eq!(d.offer(Frame::from("y")), Offer::Gone);
        assert!(d.take_remaining().is_empty());
    }
}

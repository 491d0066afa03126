//! The shared half of a WebSocket connection: what the hub, the heartbeat
//! and the fan-out need to reach a connection without touching its socket.
//!
//! The socket itself belongs to the connection's session task
//! (`session.rs`). Everyone else talks to it through a bounded queue of
//! pre-serialized frames and a close signal, so no lock is ever held across a
//! socket write and a slow client can never block a broadcast.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use axum::extract::ws::Utf8Bytes;
use brain_ws_protocol::CloseCode;
use tokio::sync::{Notify, mpsc};
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
    queue: mpsc::Sender<Frame>,
    last_activity: AtomicU64,
    close_code: AtomicU16,
    close_signal: Notify,
}

/// What happened to a frame offered to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offer {
    /// Queued.
    Queued,
    /// The queue was full: the connection is now closing as a slow consumer.
    Slow,
    /// The connection is already gone.
    Gone,
}

impl Connection {
    /// A connection and the receiving end of its outbound queue.
    pub(crate) fn new(
        key: u64,
        user_id: Option<Arc<str>>,
        queue_len: usize,
        clock: &Clock,
    ) -> (Arc<Self>, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(queue_len);
        let now = clock.now_ms();
        let conn = Arc::new(Self {
            key,
            id: Uuid::new_v4(),
            user_id,
            registered_at: now,
            queue: tx,
            last_activity: AtomicU64::new(now),
            close_code: AtomicU16::new(0),
            close_signal: Notify::new(),
        });
        (conn, rx)
    }

    /// Queues a frame without waiting. A full queue means the client is not
    /// keeping up: rather than grow memory, the connection is closed with
    /// [`CloseCode::SLOW_CONSUMER`].
    pub(crate) fn offer(&self, frame: Frame) -> Offer {
        match self.queue.try_send(frame) {
            Ok(()) => Offer::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(CloseCode::SLOW_CONSUMER);
                Offer::Slow
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Offer::Gone,
        }
    }

    /// Asks the session to close with `code`. The first code wins.
    pub(crate) fn close(&self, code: CloseCode) {
        if self
            .close_code
            .compare_exchange(0, code.0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // notify_one stores a permit if the session is not waiting yet.
            self.close_signal.notify_one();
        }
    }

    /// The code the connection was asked to close with, if any.
    pub(crate) fn close_requested(&self) -> Option<CloseCode> {
        match self.close_code.load(Ordering::Acquire) {
            0 => None,
            code => Some(CloseCode(code)),
        }
    }

    /// Resolves when [`Connection::close`] has been called.
    pub(crate) async fn closing(&self) -> CloseCode {
        loop {
            if let Some(code) = self.close_requested() {
                return code;
            }
            self.close_signal.notified().await;
        }
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

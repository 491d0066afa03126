//! The shared half of a WebSocket connection: what the hub, the heartbeat
//! and the fan-out need to reach a connection without touching its socket.
//!
//! The socket itself belongs to the connection's session task
//! (`session.rs`). Everyone else talks to it through its outbox: a bounded
//! queue of pre-serialized frames plus a close request, behind one short
//! mutex and one waker. No lock is held across an `.await`. With direct
//! writes the outbox lock *is* held across a socket write, on purpose: the
//! write is a non-blocking `try_write` (it never waits: what the kernel does
//! not take stays queued), and holding the lock is what keeps two writers
//! from interleaving frames. During fan-out the hub's channel shard lock is
//! held around it too (the lock order is written once, in `hub.rs`). A slow
//! client can never block a broadcast: its full outbox closes it (4008).
//!
//! The outbox replaced a tokio `mpsc` channel plus a `Notify`: on the fan-out
//! path that was a semaphore, a block list and two wakers per delivery; this
//! is one uncontended lock and one wake (docs/benchmarks.md).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use brain_ws_protocol::CloseCode;
use bytes::Bytes;
use tokio::net::TcpStream;
use uuid::Uuid;

use crate::clock::Clock;
use crate::frames::{self, Frame};

/// One entry of the outbox: a shared frame, or bytes written as they are
/// on a direct-write connection: several frames merged into one
/// (batching), or what tungstenite wrote itself (pong replies, close
/// frames).
enum Out {
    Frame(Frame),
    Merged(Bytes),
    Raw(Bytes),
}

impl Out {
    fn bytes(&self) -> &[u8] {
        match self {
            Out::Frame(f) => f.wire(),
            Out::Merged(b) | Out::Raw(b) => b,
        }
    }

    /// A shared frame's JSON text length; `None` for the others, which no
    /// batch merges across.
    fn text_len(&self) -> Option<usize> {
        match self {
            Out::Frame(f) => Some(f.len()),
            Out::Merged(_) | Out::Raw(_) => None,
        }
    }
}

/// Most outbox entries handed to one `writev`.
const MAX_IOV: usize = 64;
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
    frames: VecDeque<Out>,
    /// Direct-write mode: the socket every write goes to, always under this
    /// lock so that writes from the fan-out and from the session never
    /// interleave. `None` when the session writes through axum.
    stream: Option<Arc<TcpStream>>,
    /// Bytes of the front entry already written (a partial write).
    written: usize,
    /// A direct write failed: the session ends as if the client went away.
    failed: bool,
    /// The session task, when it waits for frames or a close request.
    waker: Option<Waker>,
    /// The first close requested; later ones are ignored.
    close: Option<CloseCode>,
    /// The session has ended: nothing is queued any more.
    finished: bool,
    /// Message batching (the client asked with `?batch=1`): frames queued
    /// together go out as one frame, and the fan-out queues rather than
    /// writes, so that what arrives while the session is scheduled joins
    /// the next write.
    batch: bool,
}

impl Outbox {
    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Writes queued entries until the queue is empty (`Ok(true)`) or the
    /// kernel refuses more (`Ok(false)`). Never blocks: `try_write_vectored`.
    fn drain(&mut self) -> io::Result<bool> {
        let Some(stream) = self.stream.clone() else {
            return Ok(self.frames.is_empty());
        };
        while !self.frames.is_empty() {
            if self.batch && self.written == 0 {
                self.merge_front();
            }
            let result = if self.frames.len() == 1 {
                // The common case (an idle subscriber): plain `write`, which
                // the kernel takes a little faster than a one-entry `writev`.
                let bytes = self.frames.front().map_or(&[][..], Out::bytes);
                stream.try_write(&bytes[self.written..])
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOV];
                let mut n = 0;
                for (i, out) in self.frames.iter().take(MAX_IOV).enumerate() {
                    let bytes = out.bytes();
                    slices[i] = IoSlice::new(if i == 0 {
                        &bytes[self.written..]
                    } else {
                        bytes
                    });
                    n += 1;
                }
                stream.try_write_vectored(&slices[..n])
            };
            match result {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Batching: replaces the frames at the front of the queue (two or more,
    /// none written yet) by one frame of their messages, `\n`-separated.
    fn merge_front(&mut self) {
        let count = frames::batch_count(self.frames.iter().map_while(Out::text_len));
        if count < 2 {
            return;
        }
        let texts = self.frames.iter().take(count).filter_map(|out| match out {
            Out::Frame(frame) => Some(frame.as_str()),
            Out::Merged(_) | Out::Raw(_) => None,
        });
        let merged = frames::batch_wire(texts);
        self.frames.drain(..count);
        self.frames.push_front(Out::Merged(merged));
    }

    /// Drops the `n` bytes just written from the front of the queue.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.frames.front() else {
                return;
            };
            let left = front.bytes().len() - self.written;
            if n >= left {
                n -= left;
                self.written = 0;
                self.frames.pop_front();
            } else {
                self.written += n;
                return;
            }
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
        if outbox.stream.is_some() && outbox.frames.is_empty() && !outbox.failed && !outbox.batch {
            // The common case: nothing queued, so write now, from the
            // publishing thread, without waking the session (the floor's loop).
            outbox.frames.push_back(Out::Frame(frame));
            match outbox.drain() {
                Ok(true) => return Offer::Queued,
                Ok(false) => {}
                Err(_) => outbox.failed = true,
            }
        } else {
            outbox.frames.push_back(Out::Frame(frame));
        }
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
            Some(Out::Frame(frame)) => Poll::Ready(Next::Frame(frame)),
            // Raw entries exist only in direct mode, which never calls this.
            Some(Out::Merged(_) | Out::Raw(_)) | None => {
                outbox.register(cx);
                Poll::Pending
            }
        }
    }

    /// Turns on message batching (docs/protocol.md, Batched frames), before
    /// anything is written.
    pub(crate) fn batch(&self) {
        lock(&self.outbox).batch = true;
    }

    /// Direct mode: switches this connection to writing straight to
    /// `stream`. Whatever was queued before (the welcome) goes out first.
    pub(crate) fn attach(&self, stream: Arc<TcpStream>) {
        lock(&self.outbox).stream = Some(stream);
    }

    /// Direct mode, the session's side: writes the backlog when the socket
    /// is writable. Resolves with a close request, or with `Err` when the
    /// socket failed; stays pending otherwise.
    pub(crate) fn poll_direct(&self, cx: &mut Context<'_>) -> Poll<Result<CloseCode, ()>> {
        let mut outbox = lock(&self.outbox);
        if let Some(code) = outbox.close {
            return Poll::Ready(Ok(code));
        }
        loop {
            if outbox.failed {
                return Poll::Ready(Err(()));
            }
            outbox.register(cx);
            match outbox.drain() {
                Ok(true) => return Poll::Pending,
                Ok(false) => {}
                Err(_) => {
                    outbox.failed = true;
                    continue;
                }
            }
            let Some(stream) = outbox.stream.clone() else {
                return Poll::Pending;
            };
            match stream.poll_write_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => outbox.failed = true,
            }
        }
    }

    /// Direct mode: bytes tungstenite writes itself (pong replies, close
    /// frames) join the same queue, after everything already queued, and
    /// are written as soon as the socket takes them.
    pub(crate) fn write_raw(&self, bytes: &[u8]) -> io::Result<()> {
        let mut outbox = lock(&self.outbox);
        outbox
            .frames
            .push_back(Out::Raw(Bytes::copy_from_slice(bytes)));
        outbox.drain().map(|_| ())
    }

    /// Direct mode: writes what is queued; ready once the queue is empty.
    pub(crate) fn poll_flush_direct(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut outbox = lock(&self.outbox);
        loop {
            if outbox.drain()? {
                return Poll::Ready(Ok(()));
            }
            let Some(stream) = outbox.stream.clone() else {
                return Poll::Ready(Ok(()));
            };
            std::task::ready!(stream.poll_write_ready(cx))?;
        }
    }

    /// Direct mode, before a close frame that is not graceful: drops the
    /// backlog except a partly written frame, whose rest must still go out
    /// or the close frame would land in the middle of it, and except what
    /// tungstenite wrote (a pong, the echo of the client's close).
    pub(crate) fn discard_backlog(&self) {
        let mut outbox = lock(&self.outbox);
        let partial = outbox.written > 0;
        let mut index = 0;
        outbox.frames.retain(|out| {
            let keep = (index == 0 && partial) || matches!(out, Out::Raw(_));
            index += 1;
            keep
        });
    }

    /// Direct mode: the client sent its close frame, and tungstenite queued
    /// the echo behind the backlog. The client asked to stop, so the echo
    /// goes out at once instead of after the backlog (RFC 6455 section
    /// 5.5.1), and nothing more is queued: a stalled backlog would hold the
    /// echo until the close timeout cut the connection mid-frame.
    pub(crate) fn client_closed(&self) {
        self.close(CloseCode::NORMAL);
        self.discard_backlog();
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
        match outbox.frames.pop_front() {
            Some(Out::Frame(frame)) => Some(frame),
            Some(Out::Merged(_) | Out::Raw(_)) | None => None,
        }
    }

    /// Batching on axum's path: moves into `batch` the queued frames that
    /// join it in one batched frame ([`frames::batch_count`]), in order;
    /// nothing once a close is requested.
    pub(crate) fn try_extend_batch(&self, batch: &mut Vec<Frame>) {
        let mut outbox = lock(&self.outbox);
        if outbox.close.is_some() {
            return;
        }
        let lengths = batch
            .iter()
            .map(|frame| frame.len())
            .chain(outbox.frames.iter().map_while(Out::text_len));
        let more = frames::batch_count(lengths) - batch.len();
        for _ in 0..more {
            match outbox.frames.pop_front() {
                Some(Out::Frame(frame)) => batch.push(frame),
                // Raw entries exist only in direct mode, which never calls this.
                Some(Out::Merged(_) | Out::Raw(_)) | None => break,
            }
        }
    }

    /// Everything still queued, for a graceful close (shutdown) that lets
    /// already-published events out before the close frame.
    pub(crate) fn take_remaining(&self) -> Vec<Frame> {
        std::mem::take(&mut lock(&self.outbox).frames)
            .into_iter()
            .filter_map(|out| match out {
                Out::Frame(frame) => Some(frame),
                Out::Merged(_) | Out::Raw(_) => None,
            })
            .collect()
    }

    /// Marks the session ended: later offers are refused and the backlog freed.
    pub(crate) fn finish(&self) {
        let mut outbox = lock(&self.outbox);
        outbox.finished = true;
        outbox.frames = VecDeque::new();
        outbox.waker = None;
        // Drop our handle so the socket closes with the session.
        outbox.stream = None;
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

    /// The three length encodings of RFC 6455, at their boundaries.
    #[test]
    fn frames_are_encoded_once_as_unmasked_text_frames() {
        let wire = |len: usize| Frame::from("x".repeat(len)).wire().clone();
        assert_eq!(&wire(0)[..], &[0x81, 0][..]);
        assert_eq!(&wire(125)[..2], &[0x81, 125][..]);
        assert_eq!(wire(125).len(), 127);
        assert_eq!(&wire(126)[..4], &[0x81, 126, 0, 126][..]);
        assert_eq!(&wire(65535)[..4], &[0x81, 126, 0xff, 0xff][..]);
        assert_eq!(&wire(65536)[..10], &[0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0][..]);
        assert_eq!(wire(65536).len(), 65546);
        assert_eq!(Frame::from("{}").as_str(), "{}");
        // The text is the wire frame's payload, at each header size.
        for (len, header) in [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            let f = Frame::from("é".repeat(len / 2) + &"x".repeat(len % 2));
            assert_eq!(f.as_str().len(), len);
            assert_eq!(f.wire().len(), header + len);
            assert_eq!(&f.wire()[header..], f.as_str().as_bytes());
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

    /// Batching with a client that never reads: merged entries do not let
    /// the outbox outgrow its bound. It still holds `capacity` entries when
    /// the connection is closed as slow, and at most one of them is a
    /// merged frame (a private copy of at most 64 KiB of payload); the rest
    /// are shared frames, as without batching.
    #[tokio::test]
    async fn a_stalled_batched_outbox_stays_within_its_bound_in_entries_and_bytes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let peer = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (stream, _) = listener.accept().await.expect("accept");
        let c = conn(64);
        c.batch();
        c.attach(Arc::new(stream));
        let frame = Frame::from("x".repeat(1000));
        let mut cx = Context::from_waker(Waker::noop());
        let mut accepted = 0;
        loop {
            match c.offer(frame.clone()) {
                Offer::Queued => accepted += 1,
                Offer::Slow => break,
                Offer::Gone => panic!("gone after {accepted}"),
            }
            // The session runs after every offer: it merges what is queued
            // and writes what the kernel takes.
            let _ = c.poll_direct(&mut cx);
        }
        let outbox = lock(&c.outbox);
        assert_eq!(outbox.frames.len(), 64);
        let merged: Vec<usize> = outbox
            .frames
            .iter()
            .filter_map(|out| match out {
                Out::Merged(bytes) => Some(bytes.len()),
                _ => None,
            })
            .collect();
        assert!(merged.len() <= 1, "{merged:?}");
        assert!(
            merged.iter().all(|&len| len <= 64 * 1024 + 10),
            "{merged:?}"
        );
        // The kernel took the rest: far more than the outbox holds.
        assert!(accepted > 64 + 256, "{accepted}");
        drop(peer);
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

//! What an application can see of the connection's life: the current
//! [`ConnectionState`] (a `watch`) and the [`ConnectionEvent`] stream.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use brain_ws_protocol::{ChannelName, CloseCode, ErrorCode};
use futures_util::Stream;
use futures_util::stream::BoxStream;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::{ConnectError, SubscribeError};

/// Where the connection is now, for a status indicator (like the seed's
/// React example) or to wait for a state with
/// [`watch::Receiver::wait_for`](tokio::sync::watch::Receiver::wait_for).
///
/// The usual path after a loss is `Connected` -> `Disconnected` ->
/// `Reconnecting` -> `Connecting` -> `Connected`, with `Reconnecting` ->
/// `Connecting` repeated while attempts fail. `Closed` is final.
///
/// ```no_run
/// # async fn demo(client: brain_ws_client::Client) {
/// use brain_ws_client::ConnectionState;
///
/// let mut state = client.state();
/// while state.changed().await.is_ok() {
///     match &*state.borrow() {
///         ConnectionState::Connected { connection_id } => println!("online as {connection_id}"),
///         ConnectionState::Reconnecting { attempt, delay } => println!("retry {attempt} in {delay:?}"),
///         other => println!("{other:?}"),
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionState {
    /// Opening a connection and waiting for the server's welcome.
    Connecting,
    /// The server welcomed this connection.
    Connected {
        /// The id the server gave the connection (in its stats and logs).
        connection_id: Uuid,
    },
    /// The connection was lost; a reconnect follows.
    Disconnected {
        /// The server's close code; `None` when the connection dropped without
        /// a close frame or the server went silent.
        code: Option<CloseCode>,
        /// The close reason, or what was observed.
        reason: String,
    },
    /// Waiting `delay` before reconnect attempt `attempt` (from 1).
    Reconnecting {
        /// Consecutive attempt number since the last stable connection.
        attempt: usize,
        /// How long the client waits before this attempt.
        delay: Duration,
    },
    /// Closed for good: by [`Client::close`](crate::Client::close), because
    /// every handle was dropped, or after a terminal error
    /// ([`Client::closed`](crate::Client::closed) returns it).
    Closed,
}

/// Something that happened to the connection, in order.
///
/// The state transitions appear here too, so a log of events shows every
/// step the `watch` may have coalesced.
///
/// ```no_run
/// # async fn demo(client: brain_ws_client::Client) {
/// use futures_util::StreamExt;
/// use brain_ws_client::ConnectionEvent;
///
/// let mut events = client.connection_events();
/// while let Some(event) = events.next().await {
///     if let ConnectionEvent::Resubscribed { channel, recovered: false } = &event {
///         println!("{channel}: events may have been missed, reloading");
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectionEvent {
    /// A connection attempt starts.
    Connecting,
    /// The server welcomed a connection.
    Connected {
        /// The connection's id.
        connection_id: Uuid,
        /// The authenticated user, when the token named one.
        user_id: Option<String>,
        /// The server's ping period, from the welcome.
        heartbeat_interval: Duration,
    },
    /// The connection was lost and will be reopened.
    Disconnected {
        /// The server's close code, if it sent one.
        code: Option<CloseCode>,
        /// The close reason, or what was observed.
        reason: String,
    },
    /// A reconnect attempt is scheduled.
    Reconnecting {
        /// Consecutive attempt number.
        attempt: usize,
        /// The wait before it.
        delay: Duration,
    },
    /// A live subscription was renewed on a new connection.
    Resubscribed {
        /// The channel.
        channel: ChannelName,
        /// Whether every event published meanwhile is replayed.
        recovered: bool,
    },
    /// A live subscription's stream broke without a reconnect (see
    /// [`SubscriptionEvent::Gap`](crate::SubscriptionEvent::Gap)).
    Gap {
        /// The channel.
        channel: ChannelName,
        /// Offsets skipped, or `None` when the stream restarted.
        missed: Option<u64>,
    },
    /// The server refused to renew a subscription after a reconnect; its
    /// stream has ended.
    ResubscribeFailed {
        /// The channel.
        channel: ChannelName,
        /// The server's refusal.
        error: SubscribeError,
    },
    /// A subscription's (or, with `channel: None`, an [`Events`](crate::Events)
    /// stream's) buffer was full, so an event was dropped for it.
    SlowConsumer {
        /// The channel, or `None` for events without a channel.
        channel: Option<ChannelName>,
    },
    /// The server sent an `error` that answers no request of this client.
    ServerError {
        /// The error code.
        code: ErrorCode,
        /// The server's message.
        message: String,
    },
    /// The client stopped for good; `error` says why when it was not asked to.
    Closed {
        /// The terminal error, or `None` after [`Client::close`](crate::Client::close).
        error: Option<ConnectError>,
    },
    /// This stream fell behind and `missed` events were skipped.
    Lagged {
        /// How many events were skipped.
        missed: u64,
    },
}

/// The stream of [`ConnectionEvent`]s from [`Client::connection_events`](crate::Client::connection_events).
///
/// It starts at the moment it is created and ends when the client's task
/// ends. The connection opened by [`ClientBuilder::connect`](crate::ClientBuilder::connect)
/// is not reported (it happened before the stream could exist;
/// [`Client::state`](crate::Client::state) already shows it); every later
/// transition is.
///
/// ```no_run
/// # async fn demo(client: brain_ws_client::Client) {
/// use futures_util::StreamExt;
/// let mut events = client.connection_events();
/// let first = events.next().await;
/// # }
/// ```
pub struct ConnectionEvents {
    inner: BoxStream<'static, ConnectionEvent>,
}

impl ConnectionEvents {
    pub(crate) fn new(rx: broadcast::Receiver<ConnectionEvent>) -> Self {
        let inner = futures_util::stream::unfold(rx, |mut rx| async move {
            match rx.recv().await {
                Ok(event) => Some((event, rx)),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Some((ConnectionEvent::Lagged { missed }, rx))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        Self {
            inner: Box::pin(inner),
        }
    }
}

impl Stream for ConnectionEvents {
    type Item = ConnectionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ConnectionEvent>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for ConnectionEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionEvents").finish_non_exhaustive()
    }
}

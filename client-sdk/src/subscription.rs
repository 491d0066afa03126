//! The application's ends of the client task's queues: [`Subscription`] for
//! one channel and [`Events`] for events without a channel.

use std::pin::Pin;
use std::task::{Context, Poll};

use brain_ws_protocol::{ChannelName, PresenceInfo};
use futures_util::Stream;
use tokio::sync::{mpsc, oneshot};

use crate::client::Command;
use crate::{Message, SubscribeError};

/// One item of a [`Subscription`]: an event, the news that the
/// subscription was renewed after a reconnect, or a gap in a live stream.
///
/// `Resubscribed` sits at the exact point of the stream where the gap was:
/// with `recovered: true` the events after it continue without loss (the
/// server replayed what was missed, each event once); with `recovered:
/// false` some events may be missing (the channel keeps no history, the
/// history no longer reaches back, or the server restarted), so an
/// application that needs the full state should reload it.
///
/// `Gap` sits where a live stream broke without a reconnect: the channel's
/// history restarted (a new epoch, e.g. Redis restarted empty, so offsets
/// start again from 1) or offsets jumped (events were lost on the way).
/// Every event after it is delivered; none is ever taken for a duplicate
/// because its offset is not above the last one.
///
/// ```no_run
/// # async fn demo(mut sub: brain_ws_client::Subscription) {
/// use futures_util::StreamExt;
/// use brain_ws_client::SubscriptionEvent;
///
/// while let Some(item) = sub.next().await {
///     match item {
///         SubscriptionEvent::Event(message) => println!("{:?}", message.event),
///         SubscriptionEvent::Resubscribed { recovered: false } => println!("gap: reload state"),
///         SubscriptionEvent::Resubscribed { recovered: true } => {}
///         SubscriptionEvent::Gap { missed } => println!("gap of {missed:?} events: reload state"),
///         SubscriptionEvent::Join(who) | SubscriptionEvent::Leave(who) => println!("{who:?}"),
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionEvent {
    /// An event published on the channel.
    Event(Message),
    /// The subscription was renewed on a new connection.
    Resubscribed {
        /// Whether every event published while disconnected follows.
        recovered: bool,
    },
    /// The live stream broke: events published before this point may be
    /// missing, and the application should reload the channel's state.
    Gap {
        /// How many offsets were skipped, when known (a jump within one
        /// epoch); `None` when the stream restarted (a new epoch, offsets
        /// going back), where the loss cannot be counted.
        missed: Option<u64>,
    },
    /// Presence: another connection subscribed to the channel. Only for a
    /// subscription made with [`SubscribeOptions::presence`] on a channel
    /// that keeps presence (docs/protocol.md, "Presence"); this
    /// connection's own join is not reported.
    Join(PresenceInfo),
    /// Presence: a connection left the channel (unsubscribed, closed, or
    /// its server node died). As for [`SubscriptionEvent::Join`].
    Leave(PresenceInfo),
}

/// How to subscribe ([`Client::subscribe_with`](crate::Client::subscribe_with)).
///
/// ```no_run
/// # async fn demo(client: brain_ws_client::Client) -> Result<(), brain_ws_client::SubscribeError> {
/// use brain_ws_client::SubscribeOptions;
///
/// let agents = client
///     .subscribe_with("agents", SubscribeOptions::new().presence(true))
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscribeOptions {
    /// Receive the channel's `join` and `leave` ([`SubscriptionEvent::Join`],
    /// [`SubscriptionEvent::Leave`]).
    pub presence: bool,
    /// Replay this many of the channel's latest retained events first.
    pub rewind: Option<u64>,
}

impl SubscribeOptions {
    /// The defaults: no presence events, no rewind.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for the channel's `join` and `leave` events (`"presence": true`
    /// in `subscribe`). On a channel without presence the subscription
    /// holds and no such event comes.
    pub fn presence(mut self, presence: bool) -> Self {
        self.presence = presence;
        self
    }

    /// Replay the channel's last `n` retained events before live ones: at
    /// most the server's `history.max_rewind` (`GET /api/ws/info`).
    pub fn rewind(mut self, n: u64) -> Self {
        self.rewind = Some(n);
        self
    }
}

/// A live subscription to one channel: a [`Stream`] of [`SubscriptionEvent`]s.
///
/// It survives reconnects (the client resubscribes and, on channels with
/// history, recovers missed events). Dropping it unsubscribes;
/// [`unsubscribe`](Subscription::unsubscribe) does the same and waits for
/// the server's confirmation. The stream ends when the client closes.
///
/// ```no_run
/// # async fn demo(client: brain_ws_client::Client) -> Result<(), brain_ws_client::SubscribeError> {
/// use futures_util::StreamExt;
///
/// let mut agents = client.subscribe("agents").await?;
/// if let Some(item) = agents.next().await {
///     println!("{item:?}");
/// }
/// agents.unsubscribe().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Subscription {
    channel: ChannelName,
    sid: u64,
    rx: mpsc::Receiver<SubscriptionEvent>,
    commands: mpsc::UnboundedSender<Command>,
    active: bool,
}

impl Subscription {
    pub(crate) fn new(
        channel: ChannelName,
        sid: u64,
        rx: mpsc::Receiver<SubscriptionEvent>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> Self {
        Self {
            channel,
            sid,
            rx,
            commands,
            active: true,
        }
    }

    /// The channel this subscription receives.
    ///
    /// ```no_run
    /// # fn demo(sub: brain_ws_client::Subscription) {
    /// assert_eq!(sub.channel().as_str(), "missions");
    /// # }
    /// ```
    pub fn channel(&self) -> &ChannelName {
        &self.channel
    }

    /// Leaves the channel and waits until the server confirms it (when this
    /// was the client's last subscription to the channel; other
    /// subscriptions to the same channel keep it open).
    ///
    /// If the client is closed or disconnected, nothing is subscribed on
    /// the server any more and this returns `Ok` at once.
    ///
    /// ```no_run
    /// # async fn demo(client: brain_ws_client::Client) -> Result<(), brain_ws_client::SubscribeError> {
    /// let sub = client.subscribe("metrics").await?;
    /// sub.unsubscribe().await?;
    /// # Ok(()) }
    /// ```
    pub async fn unsubscribe(mut self) -> Result<(), SubscribeError> {
        self.active = false;
        let (reply, answer) = oneshot::channel();
        let command = Command::Unsubscribe {
            channel: self.channel.clone(),
            sid: self.sid,
            reply: Some(reply),
        };
        if self.commands.send(command).is_err() {
            return Ok(());
        }
        answer.await.unwrap_or(Ok(()))
    }
}

impl Stream for Subscription {
    type Item = SubscriptionEvent;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<SubscriptionEvent>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if self.active {
            // Fire and forget: if the task is gone, so is the subscription.
            let _ = self.commands.send(Command::Unsubscribe {
                channel: self.channel.clone(),
                sid: self.sid,
                reply: None,
            });
        }
    }
}

/// Events addressed to this connection rather than a channel: messages sent
/// to the token's user (`POST /api/ws/users/{id}/send`) and broadcasts to
/// every connection (`POST /api/ws/broadcast/all`).
///
/// It receives what arrives after it was created; drop it to stop.
///
/// ```no_run
/// # async fn demo(client: brain_ws_client::Client) {
/// use futures_util::StreamExt;
///
/// let mut inbox = client.events();
/// while let Some(message) = inbox.next().await {
///     println!("{}: {:?}", message.event_type, message.event);
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<Message>,
}

impl Events {
    pub(crate) fn new(rx: mpsc::Receiver<Message>) -> Self {
        Self { rx }
    }
}

impl Stream for Events {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        self.rx.poll_recv(cx)
    }
}

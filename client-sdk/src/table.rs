//! The subscription table: which channels the application wants, who
//! receives each, what the server has confirmed on the current connection,
//! and each channel's history position for recovery after a reconnect.
//!
//! It never touches the socket. Each operation records the frames to send
//! and the connection events to emit in [`Effects`], which the task carries
//! out; this keeps the bookkeeping testable and the I/O in one place.

use std::collections::{HashMap, VecDeque};

use brain_ws_protocol::{
    ChannelName, ClientMessage, ErrorCode, ErrorMessage, EventEnvelope, StreamPosition, Subscribed,
};
use tokio::sync::{mpsc, oneshot};

use crate::error::{SubscribeError, SubscribeErrorKind};
use crate::{ConnectionEvent, Message, SubscriptionEvent};

type Reply = oneshot::Sender<Result<(), SubscribeError>>;

/// What the task must do after a table operation.
#[derive(Default)]
pub(crate) struct Effects {
    /// Frames to send, in order.
    pub(crate) frames: Vec<ClientMessage>,
    /// Connection events to emit.
    pub(crate) events: Vec<ConnectionEvent>,
}

/// A subscribe call waiting for the server's `subscribed`.
struct Waiter {
    sid: u64,
    /// It asked for `join` and `leave`.
    presence: bool,
    tx: mpsc::Sender<SubscriptionEvent>,
    reply: Reply,
}

/// One channel the application is subscribed to (or subscribing to).
struct Entry {
    subscribers: Vec<(u64, mpsc::Sender<SubscriptionEvent>)>,
    waiters: Vec<Waiter>,
    /// A `subscribe` is on the wire on the current connection, unanswered.
    requested: bool,
    /// That pending `subscribe` carried `since`.
    since_sent: bool,
    /// The server confirmed at least once, so a new confirmation is a renewal.
    established: bool,
    /// `subscribe` asks for presence: some subscriber wants `join`/`leave`.
    presence: bool,
    /// The subscribers (by id) that receive `join` and `leave`.
    watchers: Vec<u64>,
    /// The `rewind` of the first subscribe, until the server confirms it.
    rewind: Option<u64>,
    /// The channel history's epoch, from the last `subscribed`; `None`
    /// once the live stream restarted in an epoch not yet announced.
    epoch: Option<String>,
    /// The position to resume from: the last event seen, or the channel's
    /// latest offset at subscribe time when none was seen. The next event
    /// continues the stream only at `resume + 1`.
    resume: Option<u64>,
}

impl Entry {
    fn new() -> Self {
        Self {
            subscribers: Vec::new(),
            waiters: Vec::new(),
            requested: false,
            since_sent: false,
            established: false,
            presence: false,
            watchers: Vec::new(),
            rewind: None,
            epoch: None,
            resume: None,
        }
    }

    fn is_wanted(&self) -> bool {
        !self.subscribers.is_empty() || !self.waiters.is_empty()
    }

    /// The `since` to send when renewing this subscription.
    fn since(&self) -> Option<StreamPosition> {
        if !self.established {
            return None;
        }
        match (&self.epoch, self.resume) {
            (Some(epoch), Some(offset)) => Some(StreamPosition {
                epoch: epoch.clone(),
                offset,
            }),
            _ => None,
        }
    }
}

/// Every subscription of one client.
pub(crate) struct Table {
    channels: HashMap<ChannelName, Entry>,
    /// Unsubscribes on the wire, per channel, answered in order. `None` for
    /// a dropped subscription nobody waits on.
    unsubscribing: HashMap<ChannelName, VecDeque<Option<Reply>>>,
    /// Subscribes on the wire, in the order sent, to place an error that
    /// names no channel.
    requested: VecDeque<ChannelName>,
    inboxes: Vec<mpsc::Sender<Message>>,
}

impl Table {
    pub(crate) fn new() -> Self {
        Self {
            channels: HashMap::new(),
            unsubscribing: HashMap::new(),
            requested: VecDeque::new(),
            inboxes: Vec::new(),
        }
    }

    /// Adds an [`Events`](crate::Events) receiver.
    pub(crate) fn add_inbox(&mut self, tx: mpsc::Sender<Message>) {
        self.inboxes.push(tx);
    }

    /// A subscribe call. Joins a confirmed channel at once; otherwise waits
    /// for the server, sending `subscribe` now if `online`. `rewind` is
    /// only for the channel's first subscriber. The first subscriber asking
    /// for presence on a confirmed channel subscribes again, with
    /// `presence: true`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn subscribe(
        &mut self,
        channel: ChannelName,
        sid: u64,
        presence: bool,
        tx: mpsc::Sender<SubscriptionEvent>,
        reply: Reply,
        rewind: Option<u64>,
        online: bool,
        fx: &mut Effects,
    ) {
        if rewind.is_some() && self.channels.contains_key(&channel) {
            let _ = reply.send(Err(SubscribeError::new(
                SubscribeErrorKind::RewindOnShared,
                format!(
                    "this client already subscribes to {channel}: rewind applies to a \
                     channel's first subscription only"
                ),
            )));
            return;
        }
        let entry = self
            .channels
            .entry(channel.clone())
            .or_insert_with(|| Entry {
                rewind,
                ..Entry::new()
            });
        let upgrade = presence && !entry.presence;
        entry.presence |= presence;
        if entry.established && !entry.requested && online && !upgrade {
            entry.subscribers.push((sid, tx));
            if presence {
                entry.watchers.push(sid);
            }
            let _ = reply.send(Ok(()));
            return;
        }
        entry.waiters.push(Waiter {
            sid,
            presence,
            tx,
            reply,
        });
        if online && !entry.requested {
            Self::request(&mut self.requested, channel, entry, fx);
        }
    }

    fn request(
        requested: &mut VecDeque<ChannelName>,
        channel: ChannelName,
        entry: &mut Entry,
        fx: &mut Effects,
    ) {
        let since = entry.since();
        entry.requested = true;
        entry.since_sent = since.is_some();
        requested.push_back(channel.clone());
        let rewind = if since.is_none() { entry.rewind } else { None };
        fx.frames.push(ClientMessage::Subscribe {
            channel,
            since,
            presence: entry.presence,
            rewind,
        });
    }

    /// Removes subscriber `sid`. The last one out sends `unsubscribe` (when
    /// `online` and the server has, or is getting, the subscription).
    pub(crate) fn unsubscribe(
        &mut self,
        channel: ChannelName,
        sid: u64,
        reply: Option<Reply>,
        online: bool,
        fx: &mut Effects,
    ) {
        let Some(entry) = self.channels.get_mut(&channel) else {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(()));
            }
            return;
        };
        entry.subscribers.retain(|(s, _)| *s != sid);
        entry.watchers.retain(|s| *s != sid);
        entry.waiters.retain(|w| w.sid != sid);
        if entry.is_wanted() {
            if let Some(reply) = reply {
                let _ = reply.send(Ok(()));
            }
            return;
        }
        let on_server = entry.established || entry.requested;
        self.channels.remove(&channel);
        if online && on_server {
            self.unsubscribing
                .entry(channel.clone())
                .or_default()
                .push_back(reply);
            fx.frames.push(ClientMessage::Unsubscribe { channel });
        } else if let Some(reply) = reply {
            let _ = reply.send(Ok(()));
        }
    }

    /// A fresh connection: request every wanted channel, with `since` where
    /// a history position is known.
    pub(crate) fn resubscribe_all(&mut self, fx: &mut Effects) {
        for (channel, entry) in &mut self.channels {
            Self::request(&mut self.requested, channel.clone(), entry, fx);
        }
    }

    /// The connection is gone, and with it every server-side subscription.
    pub(crate) fn connection_lost(&mut self) {
        for entry in self.channels.values_mut() {
            entry.requested = false;
            entry.since_sent = false;
        }
        self.requested.clear();
        for (_, replies) in self.unsubscribing.drain() {
            for reply in replies.into_iter().flatten() {
                let _ = reply.send(Ok(()));
            }
        }
    }

    /// The client stopped: fail waiting subscribes and end every stream.
    pub(crate) fn close_all(&mut self) {
        self.connection_lost();
        for (_, entry) in self.channels.drain() {
            for waiter in entry.waiters {
                let _ = waiter.reply.send(Err(SubscribeError::closed()));
            }
        }
        self.inboxes.clear();
    }

    /// `subscribed`: confirm waiters, and tell existing subscribers about a
    /// renewal and whether it recovered everything.
    pub(crate) fn on_subscribed(&mut self, msg: Subscribed, fx: &mut Effects) {
        let channel = msg.channel;
        if let Some(i) = self.requested.iter().position(|c| *c == channel) {
            self.requested.remove(i);
        }
        let Some(entry) = self.channels.get_mut(&channel) else {
            return;
        };
        if !entry.requested {
            // Unasked: the server renews a live subscription itself, e.g.
            // after its stream restarted. A new epoch, or an admitted loss,
            // is a break the application must hear about.
            let restarted = msg.epoch.is_some() && msg.epoch != entry.epoch;
            if entry.established && (restarted || msg.recovered == Some(false)) {
                entry.resume = msg.offset;
                entry.epoch = msg.epoch;
                let item = SubscriptionEvent::Resubscribed { recovered: false };
                entry
                    .subscribers
                    .retain(|(_, tx)| deliver(tx, item.clone(), &channel, fx));
                fx.events.push(ConnectionEvent::Resubscribed {
                    channel,
                    recovered: false,
                });
            }
            return;
        }
        entry.requested = false;
        let recovered = entry.since_sent
            && msg.recovered == Some(true)
            && msg.epoch.is_some()
            && msg.epoch == entry.epoch;
        if !recovered {
            // New epoch or lost history: offsets restart from the server's,
            // or before the `replayed` events of a rewind that precede them.
            let replayed = msg.replayed.unwrap_or(0);
            entry.resume = msg.offset.map(|top| top.saturating_sub(replayed));
        }
        entry.rewind = None;
        entry.epoch = msg.epoch;
        if entry.established {
            let item = SubscriptionEvent::Resubscribed { recovered };
            entry
                .subscribers
                .retain(|(_, tx)| deliver(tx, item.clone(), &channel, fx));
            fx.events.push(ConnectionEvent::Resubscribed {
                channel: channel.clone(),
                recovered,
            });
        }
        entry.established = true;
        for waiter in entry.waiters.drain(..) {
            if waiter.reply.send(Ok(())).is_ok() {
                entry.subscribers.push((waiter.sid, waiter.tx));
                if waiter.presence {
                    entry.watchers.push(waiter.sid);
                }
            }
        }
        if entry.subscribers.is_empty() {
            // Everyone gave up while the subscribe was in flight.
            self.channels.remove(&channel);
            self.unsubscribing
                .entry(channel.clone())
                .or_default()
                .push_back(None);
            fx.frames.push(ClientMessage::Unsubscribe { channel });
        }
    }

    /// `unsubscribed`: answer the oldest unsubscribe of that channel.
    pub(crate) fn on_unsubscribed(&mut self, channel: &ChannelName) {
        if let Some(Some(reply)) = self.pop_unsubscribing(channel) {
            let _ = reply.send(Ok(()));
        }
    }

    fn pop_unsubscribing(&mut self, channel: &ChannelName) -> Option<Option<Reply>> {
        let queue = self.unsubscribing.get_mut(channel)?;
        let reply = queue.pop_front();
        if queue.is_empty() {
            self.unsubscribing.remove(channel);
        }
        reply
    }

    /// `error`: fail the request it answers. Returns the error back when it
    /// answers none of this table's requests.
    pub(crate) fn on_error(&mut self, err: ErrorMessage, fx: &mut Effects) -> Option<ErrorMessage> {
        let named = err
            .channel
            .as_deref()
            .and_then(|c| ChannelName::new(c).ok());
        if err.code == ErrorCode::NOT_SUBSCRIBED {
            if let Some(channel) = &named {
                if let Some(Some(reply)) = self.pop_unsubscribing(channel) {
                    let _ = reply.send(Err(SubscribeError::from_server(err.code, err.message)));
                }
                return None;
            }
            return Some(err);
        }
        let channel = match named {
            Some(channel) if self.requested.contains(&channel) => channel,
            Some(_) => return Some(err),
            // No channel named: a refusal of a subscribe answers the oldest one.
            None if is_subscribe_refusal(&err.code) => match self.requested.front() {
                Some(channel) => channel.clone(),
                None => return Some(err),
            },
            None => return Some(err),
        };
        if let Some(i) = self.requested.iter().position(|c| *c == channel) {
            self.requested.remove(i);
        }
        let entry = self.channels.get_mut(&channel)?;
        if !entry.requested {
            return None;
        }
        entry.requested = false;
        let error = SubscribeError::from_server(err.code, err.message);
        for waiter in entry.waiters.drain(..) {
            let _ = waiter.reply.send(Err(error.clone()));
        }
        if entry.established && !entry.subscribers.is_empty() {
            fx.events.push(ConnectionEvent::ResubscribeFailed {
                channel: channel.clone(),
                error,
            });
        }
        // Dropping the entry ends its subscribers' streams.
        self.channels.remove(&channel);
        None
    }

    /// An event: to the channel's subscribers, or to the inboxes when it
    /// has no channel. Every event is delivered; one that does not continue
    /// the stream (offset not `resume + 1`) is preceded by a
    /// [`SubscriptionEvent::Gap`]. Events carry no epoch, so an offset at or
    /// below the last one is a restarted stream, never a duplicate: the
    /// server sends each offset of an epoch once (the hub's floor).
    /// `join` or `leave` (`item`) on `channel`: to the subscribers that
    /// asked for presence.
    pub(crate) fn on_presence(
        &mut self,
        channel: &ChannelName,
        item: SubscriptionEvent,
        fx: &mut Effects,
    ) {
        let Some(entry) = self.channels.get_mut(channel) else {
            return;
        };
        let watchers = &entry.watchers;
        entry
            .subscribers
            .retain(|(sid, tx)| !watchers.contains(sid) || deliver(tx, item.clone(), channel, fx));
    }

    pub(crate) fn on_event(&mut self, envelope: EventEnvelope, fx: &mut Effects) {
        let Some(channel) = envelope.channel.clone() else {
            let message = Message::from(envelope);
            let mut full = false;
            self.inboxes
                .retain(|tx| match tx.try_send(message.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        full = true;
                        true
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                });
            if full {
                fx.events
                    .push(ConnectionEvent::SlowConsumer { channel: None });
            }
            return;
        };
        let Some(entry) = self.channels.get_mut(&channel) else {
            return;
        };
        if let Some(offset) = envelope.offset {
            if let Some(missed) = entry.resume.and_then(|last| discontinuity(last, offset)) {
                tracing::warn!(%channel, offset, ?missed, "the channel's stream broke");
                if missed.is_none() {
                    // A new epoch nobody named yet: no `since` can resume it.
                    entry.epoch = None;
                }
                let gap = SubscriptionEvent::Gap { missed };
                entry
                    .subscribers
                    .retain(|(_, tx)| deliver(tx, gap.clone(), &channel, fx));
                fx.events.push(ConnectionEvent::Gap {
                    channel: channel.clone(),
                    missed,
                });
            }
            entry.resume = Some(offset);
        }
        let item = SubscriptionEvent::Event(Message::from(envelope));
        entry
            .subscribers
            .retain(|(_, tx)| deliver(tx, item.clone(), &channel, fx));
    }
}

/// Whether an event at `offset` after one at `last` breaks the stream:
/// `None` when it continues it (`last + 1`), `Some(Some(n))` when `n`
/// offsets were skipped, `Some(None)` when offsets went back (the stream
/// restarted in a new epoch).
fn discontinuity(last: u64, offset: u64) -> Option<Option<u64>> {
    match offset.checked_sub(last) {
        Some(1) => None,
        Some(0) | None => Some(None),
        Some(step) => Some(Some(step - 1)),
    }
}

/// Codes that refuse a subscribe, for placing an error that names no channel.
fn is_subscribe_refusal(code: &ErrorCode) -> bool {
    [
        ErrorCode::SUBSCRIPTION_LIMIT,
        ErrorCode::FORBIDDEN,
        ErrorCode::UNAUTHORIZED,
        ErrorCode::INVALID_CHANNEL,
    ]
    .contains(code)
}

/// Hands `item` to one subscriber without waiting. Returns whether the
/// subscriber is still there; a full buffer drops the item and reports a
/// slow consumer.
fn deliver(
    tx: &mpsc::Sender<SubscriptionEvent>,
    item: SubscriptionEvent,
    channel: &ChannelName,
    fx: &mut Effects,
) -> bool {
    match tx.try_send(item) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            fx.events.push(ConnectionEvent::SlowConsumer {
                channel: Some(channel.clone()),
            });
            true
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

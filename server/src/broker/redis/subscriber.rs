//! The node's Redis subscription, supervised: connects, subscribes the
//! node-wide channel and every channel with local subscribers, delivers what
//! arrives to the hub in arrival order, and when the connection is lost (or
//! a ping goes unanswered) marks the broker down, backs off (50 ms doubling
//! to 200 ms, with jitter) and starts over, with a fresh command connection
//! too, and the channel set as it is then. The short ceiling is what brings
//! a node back within 250 ms of Redis answering again (issue 14.3); an
//! attempt against a Redis that is down costs one refused TCP connect. Interest
//! changes keep being applied while disconnected, so the next connection
//! subscribes exactly the channels that have local subscribers.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use brain_ws_protocol::ChannelName;
use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::wire::{self, ChannelPayload, NodeWidePayload};
use super::{CONNECT_TIMEOUT, Shared, failure, timed};
use crate::broker::BrokerFailure;
use crate::frames::Frame;
use crate::history::Position;
use crate::hub::{Interest, Outcome, Recipients, Sequenced};

const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// The ceiling for every cause, a refused configuration included (an
/// operator may fix Redis, and the node is back at its next attempt; the
/// log says so once per change, not per attempt: `State::set_down`).
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// How often the connections are pinged, to notice a silent outage.
const PING_INTERVAL: Duration = Duration::from_secs(1);

/// Why a connection's loop ended.
enum Exit {
    Shutdown,
    Lost(BrokerFailure),
}

pub(super) async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Interest>) {
    let mut channels: HashSet<ChannelName> = HashSet::new();
    let mut backoff = MIN_BACKOFF;
    loop {
        let failure = match connect(&shared, &channels).await {
            Ok((sink, stream)) => {
                backoff = MIN_BACKOFF;
                shared.state.set_up();
                catch_up(&shared, &channels).await;
                match serve(&shared, &mut rx, &mut channels, sink, stream).await {
                    Exit::Shutdown => return,
                    Exit::Lost(failure) => failure,
                }
            }
            Err(failure) => failure,
        };
        shared.state.set_down(failure);
        // Full jitter over the upper half: nodes that lost Redis together
        // do not all come back in the same millisecond.
        let until = Instant::now() + backoff.mul_f64(rand::random_range(0.5..=1.0));
        backoff = (backoff * 2).min(MAX_BACKOFF);
        loop {
            tokio::select! {
                _ = shared.shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(until) => break,
                interest = rx.recv() => match interest {
                    None => return,
                    Some(i) => apply_offline(&mut channels, i),
                },
            }
        }
    }
}

fn apply_offline(channels: &mut HashSet<ChannelName>, interest: Interest) {
    match interest {
        Interest::Join(c) => {
            channels.insert(c);
        }
        Interest::Leave(c) => {
            channels.remove(&c);
        }
        Interest::Sync(reply) => {
            let _ = reply.send(false);
        }
    }
}

async fn connect(
    shared: &Shared,
    channels: &HashSet<ChannelName>,
) -> Result<(PubSubSink, PubSubStream), BrokerFailure> {
    let pubsub = match tokio::time::timeout(CONNECT_TIMEOUT, shared.client.get_async_pubsub()).await
    {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return Err(failure::classify("connecting", e)),
        Err(_) => return Err(BrokerFailure::Timeout { what: "connecting" }),
    };
    let (mut sink, stream) = pubsub.split();
    let mut names = vec![shared.keys.node_wide()];
    names.extend(channels.iter().map(|c| shared.keys.channel(c)));
    timed("subscribing", sink.subscribe(&names)).await?;
    // A fresh command connection with every session: the old one's socket
    // is dead if Redis went away.
    shared.reconnect_commands().await?;
    Ok((sink, stream))
}

async fn serve(
    shared: &Shared,
    rx: &mut mpsc::UnboundedReceiver<Interest>,
    channels: &mut HashSet<ChannelName>,
    mut sink: PubSubSink,
    mut stream: PubSubStream,
) -> Exit {
    let mut ping = tokio::time::interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let Ok(mut commands) = shared.commands() else {
        return Exit::Lost(BrokerFailure::NotConnected);
    };
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return Exit::Shutdown,
            message = stream.next() => match message {
                None => return Exit::Lost(BrokerFailure::ConnectionLost),
                Some(m) => dispatch(shared, &m).await,
            },
            interest = rx.recv() => match interest {
                None => return Exit::Shutdown,
                Some(Interest::Join(c)) => {
                    let name = shared.keys.channel(&c);
                    channels.insert(c);
                    if let Err(e) = timed("subscribing", sink.subscribe(&name)).await {
                        return Exit::Lost(e);
                    }
                }
                Some(Interest::Leave(c)) => {
                    let name = shared.keys.channel(&c);
                    channels.remove(&c);
                    if let Err(e) = timed("unsubscribing", sink.unsubscribe(&name)).await {
                        return Exit::Lost(e);
                    }
                }
                Some(Interest::Sync(reply)) => {
                    let _ = reply.send(true);
                }
            },
            _ = ping.tick() => {
                if let Err(e) = timed("ping", sink.ping::<redis::Value>()).await {
                    return Exit::Lost(e);
                }
                if let Err(e) = timed("ping", redis::cmd("PING").query_async::<String>(&mut commands)).await {
                    return Exit::Lost(e);
                }
            }
        }
    }
}

/// Delivers one message to the hub.
async fn dispatch(shared: &Shared, message: &redis::Msg) {
    let name = message.get_channel_name();
    let Ok(payload) = std::str::from_utf8(message.get_payload_bytes()) else {
        tracing::warn!(
            channel = name,
            "redis broker: payload is not UTF-8, dropped"
        );
        return;
    };
    if shared.keys.is_node_wide(name) {
        match wire::decode_node_wide(payload) {
            Ok(NodeWidePayload::User(user, frame)) => {
                shared.hub.deliver(Recipients::User(&user), &frame);
            }
            Ok(NodeWidePayload::All(frame)) => {
                shared.hub.deliver(Recipients::All, &frame);
            }
            Err(e) => tracing::warn!(error = %e, "redis broker: dropped a node-wide message"),
        }
        return;
    }
    let Some(channel) = shared
        .keys
        .channel_of(name)
        .and_then(|c| ChannelName::new(c).ok())
    else {
        return;
    };
    match wire::decode_channel(payload) {
        Ok(ChannelPayload::Plain(frame)) => {
            shared
                .hub
                .deliver(Recipients::Channel(&channel, None), &frame);
        }
        Ok(ChannelPayload::Positioned(epoch, offset, frame)) => {
            deliver_in_order(shared, &channel, Position::new(epoch, offset), &frame).await;
        }
        Ok(ChannelPayload::Presence(about, frame)) => {
            shared.presence.notify(&channel, about, &frame);
        }
        Err(e) => tracing::warn!(%channel, error = %e, "redis broker: dropped a message"),
    }
}

/// Delivers a history event, first reading back from the stream any events
/// this node missed before it (its subscription was down while another
/// node published, or the stream restarted and this node joins it late).
async fn deliver_in_order(
    shared: &Shared,
    channel: &ChannelName,
    position: Position,
    frame: &Frame,
) {
    let mut sequenced = Sequenced {
        position,
        accept_gap: false,
    };
    let to = Recipients::Channel(channel, Some(&sequenced));
    let Outcome::Gap { from } = shared.hub.deliver(to, frame) else {
        return;
    };
    let position = &sequenced.position;
    fill(shared, channel, &position.epoch, from, position.offset - 1).await;
    // What could not be read back is reported to the subscribers, with
    // `subscribed` and `recovered: false`, before this event.
    sequenced.accept_gap = true;
    shared
        .hub
        .deliver(Recipients::Channel(channel, Some(&sequenced)), frame);
}

/// Reads `from..=to` of the channel's stream in `epoch` and delivers it in
/// order. Entries that are gone (trimmed, expired, or the read failed) are
/// skipped, and the hub tells the subscribers so when it delivers the next.
async fn fill(shared: &Shared, channel: &ChannelName, epoch: &Arc<str>, from: u64, to: u64) {
    shared.state.gap_fills.fetch_add(1, Ordering::Relaxed);
    match shared.range(channel, from, to).await {
        Ok(entries) => {
            for (offset, frame) in entries {
                let sequenced = Sequenced {
                    position: Position::new(epoch.clone(), offset),
                    accept_gap: true,
                };
                shared
                    .hub
                    .deliver(Recipients::Channel(channel, Some(&sequenced)), &frame);
            }
        }
        Err(e) => shared.state.error("reading a gap from history", &e),
    }
}

/// After a reconnection: for each history channel with local subscribers,
/// deliver what was published while this node was not subscribed. When the
/// stream restarted meanwhile (Redis came back empty, or its keys expired),
/// the subscribers are told at once, with the new epoch, and get what the
/// new stream already holds.
async fn catch_up(shared: &Shared, channels: &HashSet<ChannelName>) {
    for channel in channels {
        if !shared.config.keeps_history(channel.as_str()) {
            continue;
        }
        let Some(last) = shared.hub.last_position(channel) else {
            continue;
        };
        let current = match shared.position(channel, None).await {
            Ok(joined) => joined.position,
            Err(e) => {
                shared.state.error("catching up", &e);
                continue;
            }
        };
        let Some(current) = current else { continue };
        if current.epoch == last.epoch {
            if current.offset > last.offset {
                fill(
                    shared,
                    channel,
                    &last.epoch,
                    last.offset + 1,
                    current.offset,
                )
                .await;
            }
            continue;
        }
        // A new stream: announce it at its start, then deliver its events.
        shared
            .hub
            .restart(channel, &Position::new(current.epoch.clone(), 0));
        if current.offset > 0 {
            fill(shared, channel, &current.epoch, 1, current.offset).await;
        }
    }
}

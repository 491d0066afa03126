//! What the Redis broker writes to Redis: key names under the configured
//! prefix, and the payloads of pub/sub messages.
//!
//! Payloads carry the frame exactly as clients receive it, serialized once by
//! the publishing node, so a receiving node only slices the text and never
//! parses or re-serializes JSON:
//! - a channel event without history: the frame itself (starts with `{`);
//! - a channel event with history: `h<epoch> <offset>\n<frame>` (the Lua
//!   publish script writes it, see `scripts.rs`);
//! - a presence `join` or `leave`: `p<connection id>\n<frame>` (the
//!   connection it is about, which does not receive it);
//! - on the node-wide channel, an event for one user: `u<len> <user><frame>`
//!   (`len` = the user id's length in bytes, so any user id is safe);
//!   an event for every connection: `a<frame>`.

use std::sync::Arc;

use crate::frames::Frame;

/// Key and channel names of one deployment (one prefix).
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// Pub/sub channel of a BRAiN channel.
    pub(crate) fn channel(&self, channel: impl AsRef<str>) -> String {
        let channel = channel.as_ref();
        format!("{}:c:{channel}", self.prefix)
    }

    /// The BRAiN channel of a pub/sub channel name, if it is one of ours.
    pub(crate) fn channel_of<'a>(&self, redis_channel: &'a str) -> Option<&'a str> {
        redis_channel
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix(":c:")
    }

    /// The stream holding a channel's history.
    pub(crate) fn stream(&self, channel: impl AsRef<str>) -> String {
        let channel = channel.as_ref();
        format!("{}:h:{channel}", self.prefix)
    }

    /// The hash holding a channel's epoch and latest offset (`epoch`, `top`).
    pub(crate) fn meta(&self, channel: impl AsRef<str>) -> String {
        let channel = channel.as_ref();
        format!("{}:m:{channel}", self.prefix)
    }

    /// The marker of a used idempotency key (expires after the window).
    pub(crate) fn idempotency(&self, key: &str) -> String {
        format!("{}:idem:{key}", self.prefix)
    }

    /// The pub/sub channel every node subscribes to, for user-directed and
    /// broadcast-all events.
    pub(crate) fn node_wide(&self) -> String {
        format!("{}:node-wide", self.prefix)
    }

    /// Whether `redis_channel` is [`Keys::node_wide`] (without building it:
    /// the subscriber asks for every message).
    pub(crate) fn is_node_wide(&self, redis_channel: &str) -> bool {
        redis_channel
            .strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest == ":node-wide")
    }

    /// The set of registered node ids.
    pub(crate) fn nodes(&self) -> String {
        format!("{}:nodes", self.prefix)
    }

    /// A node's report (JSON `NodeStats`), expiring unless refreshed.
    pub(crate) fn node(&self, node_id: &str) -> String {
        format!("{}:node:{node_id}", self.prefix)
    }

    /// Presence: the marker that a node is alive, expiring unless refreshed.
    pub(crate) fn presence_alive(&self, node_id: &str) -> String {
        format!("{}:pa:{node_id}", self.prefix)
    }

    /// Presence: the set of node ids with members recorded.
    pub(crate) fn presence_nodes(&self) -> String {
        format!("{}:pnodes", self.prefix)
    }

    /// Presence: the set of channels a node has members on.
    pub(crate) fn presence_channels(&self, node_id: &str) -> String {
        format!("{}:pch:{node_id}", self.prefix)
    }

    /// Presence: a node's members of a channel (hash connection id ->
    /// `PresenceInfo` JSON).
    pub(crate) fn presence_members(&self, node_id: &str, channel: &str) -> String {
        format!("{}:pm:{node_id}:{channel}", self.prefix)
    }

    /// Presence: a node's connections per user on a channel (hash user ->
    /// count).
    pub(crate) fn presence_node_users(&self, node_id: &str, channel: &str) -> String {
        format!("{}:pnu:{node_id}:{channel}", self.prefix)
    }

    /// Presence: a channel's users across the cluster (hash user -> number
    /// of nodes the user is a member on); its length is the distinct users.
    pub(crate) fn presence_users(&self, channel: &str) -> String {
        format!("{}:pu:{channel}", self.prefix)
    }

    /// The prefix itself (for scripts that build presence keys).
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A node's connections per user (hash user -> count), expiring with it.
    pub(crate) fn node_users(&self, node_id: &str) -> String {
        format!("{}:node:{node_id}:users", self.prefix)
    }
}

/// A decoded channel message.
#[derive(Debug, PartialEq)]
pub(crate) enum ChannelPayload {
    /// Carries no stream position.
    Plain(Frame),
    /// A history event at `(epoch, offset)`.
    Positioned(Arc<str>, u64, Frame),
    /// A `join` or `leave` about a connection, for the channel's watchers.
    Presence(uuid::Uuid, Frame),
}

/// A decoded node-wide message.
#[derive(Debug, PartialEq)]
pub(crate) enum NodeWidePayload {
    /// For every connection of one user.
    User(String, Frame),
    /// For every connection.
    All(Frame),
}

/// Why a payload could not be decoded (a foreign publisher on our prefix,
/// or a version mismatch between nodes).
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("malformed broker payload: {0}")]
pub(crate) struct Malformed(&'static str);

fn frame(text: &str) -> Frame {
    Frame::from(text.to_owned())
}

pub(crate) fn decode_channel(payload: &str) -> Result<ChannelPayload, Malformed> {
    if payload.starts_with('{') {
        return Ok(ChannelPayload::Plain(frame(payload)));
    }
    if let Some(rest) = payload.strip_prefix('p') {
        let (about, body) = rest.split_once('\n').ok_or(Malformed("no header end"))?;
        let about = about.parse().map_err(|_| Malformed("bad connection id"))?;
        return Ok(ChannelPayload::Presence(about, frame(body)));
    }
    let rest = payload.strip_prefix('h').ok_or(Malformed("unknown kind"))?;
    let (header, body) = rest.split_once('\n').ok_or(Malformed("no header end"))?;
    let (epoch, offset) = header.split_once(' ').ok_or(Malformed("no offset"))?;
    let offset = offset.parse().map_err(|_| Malformed("bad offset"))?;
    Ok(ChannelPayload::Positioned(
        Arc::from(epoch),
        offset,
        frame(body),
    ))
}

pub(crate) fn encode_presence(about: uuid::Uuid, frame: &str) -> String {
    format!("p{about}\n{frame}")
}

pub(crate) fn encode_user(user: &str, frame: &str) -> String {
    format!("u{} {user}{frame}", user.len())
}

pub(crate) fn encode_all(frame: &str) -> String {
    format!("a{frame}")
}

pub(crate) fn decode_node_wide(payload: &str) -> Result<NodeWidePayload, Malformed> {
    if let Some(body) = payload.strip_prefix('a') {
        return Ok(NodeWidePayload::All(frame(body)));
    }
    let rest = payload.strip_prefix('u').ok_or(Malformed("unknown kind"))?;
    let (len, rest) = rest.split_once(' ').ok_or(Malformed("no length"))?;
    let len: usize = len.parse().map_err(|_| Malformed("bad length"))?;
    if !rest.is_char_boundary(len) {
        return Err(Malformed("bad length"));
    }
    let (user, body) = rest.split_at(len);
    Ok(NodeWidePayload::User(user.to_owned(), frame(body)))
}

/// The frame of a history event without its closing brace: the Lua script
/// appends `,"offset":N}`, which is what `frames::event` writes last.
pub(crate) fn open_frame(frame: &str) -> Option<&str> {
    frame.strip_suffix('}')
}

/// The offset in a stream entry id `<offset>-0`.
pub(crate) fn offset_of_id(id: &str) -> Option<u64> {
    id.split_once('-')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_payloads_round_trip() {
        let id = uuid::Uuid::new_v4();
        let text = encode_presence(id, r#"{"type":"join"}"#);
        assert_eq!(
            decode_channel(&text),
            Ok(ChannelPayload::Presence(id, frame(r#"{"type":"join"}"#)))
        );
        assert_eq!(
            decode_channel("pnot-a-uuid\n{}"),
            Err(Malformed("bad connection id"))
        );
    }

    #[test]
    fn channel_payloads_round_trip() {
        assert_eq!(
            decode_channel(r#"{"type":"x"}"#),
            Ok(ChannelPayload::Plain(frame(r#"{"type":"x"}"#)))
        );
        assert_eq!(
            decode_channel("hab12 42\n{\"type\":\"x\",\"offset\":42}"),
            Ok(ChannelPayload::Positioned(
                Arc::from("ab12"),
                42,
                frame("{\"type\":\"x\",\"offset\":42}")
            ))
        );
        assert!(decode_channel("hab12 x\n{}").is_err());
        assert!(decode_channel("zzz").is_err());
    }

    #[test]
    fn node_wide_payloads_round_trip_any_user_id() {
        for user in ["alice", "with space", "new\nline", "ünï", ""] {
            let encoded = encode_user(user, "{\"type\":\"t\"}");
            assert_eq!(
                decode_node_wide(&encoded),
                Ok(NodeWidePayload::User(
                    user.to_owned(),
                    frame("{\"type\":\"t\"}")
                ))
            );
        }
        assert_eq!(
            decode_node_wide(&encode_all("{}")),
            Ok(NodeWidePayload::All(frame("{}")))
        );
        assert!(decode_node_wide("u99 x{}").is_err());
    }

    #[test]
    fn keys_are_prefixed_and_channels_map_back() {
        let k = Keys::new("p1");
        assert_eq!(k.channel("missions"), "p1:c:missions");
        assert_eq!(k.channel_of("p1:c:missions"), Some("missions"));
        assert_eq!(k.channel_of("p2:c:missions"), None);
        assert!(k.is_node_wide(&k.node_wide()));
        assert!(!k.is_node_wide("p2:node-wide"));
        assert!(!k.is_node_wide("p1:c:node-wide"));
        assert_eq!(k.stream("a"), "p1:h:a");
        assert_eq!(k.meta("a"), "p1:m:a");
        assert_eq!(offset_of_id("17-0"), Some(17));
    }
}

//! [`Message`]: one event as the application receives it.

use brain_ws_protocol::catalog::Event;
use brain_ws_protocol::{ChannelName, EventEnvelope, EventType};

/// An event delivered by the server, decoded into the typed catalogue.
///
/// Events of the standard channels decode into their enums
/// ([`Event::Mission`], [`Event::Agent`], ...); any other type, or a payload
/// that does not fit its type, arrives as [`Event::Other`] with the raw JSON,
/// never as an error.
///
/// ```no_run
/// # async fn demo(client: brain_ws_client::Client) -> Result<(), brain_ws_client::SubscribeError> {
/// use futures_util::StreamExt;
/// use brain_ws_client::SubscriptionEvent;
/// use brain_ws_protocol::catalog::{Event, MissionEvent};
///
/// let mut missions = client.subscribe("missions").await?;
/// while let Some(SubscriptionEvent::Event(message)) = missions.next().await {
///     match message.event {
///         Event::Mission(MissionEvent::MissionCompleted(done)) => println!("{} done", done.mission_id),
///         Event::Other(raw) => println!("{}: {}", raw.event_type, raw.data),
///         other => println!("{other:?}"),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Message {
    /// The event's wire `type`.
    pub event_type: EventType,
    /// The decoded event.
    pub event: Event,
    /// The channel it was published on; `None` for events sent to a user or
    /// to every connection.
    pub channel: Option<ChannelName>,
    /// When it was published, in seconds since the Unix epoch.
    pub timestamp: f64,
    /// Its position in the channel history, on channels that keep one.
    pub offset: Option<u64>,
}

impl From<EventEnvelope> for Message {
    fn from(envelope: EventEnvelope) -> Self {
        let event = Event::decode(envelope.event_type.as_str(), envelope.data);
        Self {
            event_type: envelope.event_type,
            event,
            channel: envelope.channel,
            timestamp: envelope.timestamp,
            offset: envelope.offset,
        }
    }
}

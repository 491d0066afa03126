//! The JSON form of every message, snapshotted, and the seed's own examples
//! reproduced key for key.

use brain_ws_protocol::catalog::{Event, MissionCreated, MissionEvent, StandardChannel};
use brain_ws_protocol::http::*;
use brain_ws_protocol::*;
use serde_json::{Value, json};
use uuid::Uuid;

const TS: f64 = 1703001234.56;

fn ch(name: &str) -> ChannelName {
    ChannelName::new(name).expect("valid channel")
}

fn et(name: &str) -> EventType {
    EventType::new(name).expect("valid type")
}

fn id() -> Uuid {
    Uuid::parse_str("7c9e6679-7425-40de-944b-e07fc1f90ae7").expect("uuid")
}

/// Every key and value of `seed` appears in `ours` (ours may add fields the
/// seed did not show, such as `protocol`).
fn assert_contains_seed(ours: &Value, seed: &Value) {
    let (Value::Object(ours_map), Value::Object(seed_map)) = (ours, seed) else {
        assert_eq!(ours, seed);
        return;
    };
    for (key, seed_value) in seed_map {
        let our_value = ours_map
            .get(key)
            .unwrap_or_else(|| panic!("key {key:?} of the seed is missing from {ours}"));
        assert_contains_seed(our_value, seed_value);
    }
}

fn server_samples() -> Vec<(&'static str, ServerMessage)> {
    vec![
        (
            "connected",
            ServerMessage::Connected(Connected {
                connection_id: id(),
                timestamp: TS,
                user_id: Some("user-42".into()),
                heartbeat_interval: 30.0,
                protocol: PROTOCOL_VERSION.into(),
            }),
        ),
        ("ping", ServerMessage::Ping(Ping { timestamp: TS })),
        ("pong", ServerMessage::Pong(Pong { timestamp: TS })),
        (
            "subscribed",
            ServerMessage::Subscribed(Subscribed {
                channel: ch("missions"),
                timestamp: TS,
                epoch: Some("e1".into()),
                offset: Some(7),
                recovered: Some(true),
                presence: None,
                replayed: None,
            }),
        ),
        (
            "subscribed_rewind",
            ServerMessage::Subscribed(Subscribed {
                channel: ch("missions"),
                timestamp: TS,
                epoch: Some("e1".into()),
                offset: Some(7),
                recovered: None,
                presence: None,
                replayed: Some(3),
            }),
        ),
        (
            "unsubscribed",
            ServerMessage::Unsubscribed(Unsubscribed {
                channel: ch("missions"),
                timestamp: TS,
            }),
        ),
        (
            "error",
            ServerMessage::Error(ErrorMessage {
                code: ErrorCode::INVALID_CHANNEL,
                message: "channel name is empty".into(),
                channel: Some(String::new()),
            }),
        ),
        (
            "event",
            ServerMessage::Event(EventEnvelope {
                event_type: et("mission_update"),
                channel: Some(ch("missions")),
                data: json!({"mission_id": "mission_123", "status": "completed"}),
                timestamp: TS,
                offset: Some(8),
            }),
        ),
    ]
}

#[test]
fn every_server_message_snapshot() {
    for (name, msg) in server_samples() {
        insta::assert_json_snapshot!(format!("server_{name}"), msg);
        let back = ServerMessage::from_json(&msg.to_json()).expect("decodes");
        assert_eq!(back, msg, "{name} round trip");
    }
}

#[test]
fn every_client_message_snapshot() {
    let samples = vec![
        ClientMessage::Subscribe {
            channel: ch("missions"),
            since: Some(StreamPosition {
                epoch: "e1".into(),
                offset: 7,
            }),
            presence: true,
            rewind: None,
        },
        ClientMessage::Subscribe {
            channel: ch("missions"),
            since: None,
            presence: false,
            rewind: Some(10),
        },
        ClientMessage::Unsubscribe {
            channel: ch("missions"),
        },
        ClientMessage::Ping,
        ClientMessage::Pong,
        ClientMessage::Publish {
            channel: ch("chat"),
            event: et("chat_message"),
            data: json!({"text": "hi"}),
        },
    ];
    for msg in samples {
        let name = match &msg {
            ClientMessage::Subscribe {
                rewind: Some(_), ..
            } => "subscribe_rewind",
            other => other.type_name(),
        };
        insta::assert_json_snapshot!(format!("client_{name}"), msg);
        assert_eq!(decode_client_message(&msg.to_json()), Ok(msg));
    }
}

#[test]
fn seed_client_messages_decode() {
    assert_eq!(
        decode_client_message(r#"{"type": "subscribe", "channel": "missions"}"#),
        Ok(ClientMessage::Subscribe {
            channel: ch("missions"),
            since: None,
            presence: false,
            rewind: None,
        })
    );
    assert_eq!(
        decode_client_message(r#"{"type": "unsubscribe", "channel": "missions"}"#),
        Ok(ClientMessage::Unsubscribe {
            channel: ch("missions")
        })
    );
    assert_eq!(
        decode_client_message(r#"{"type": "pong"}"#),
        Ok(ClientMessage::Pong)
    );
}

#[test]
fn seed_server_examples_come_out_key_for_key() {
    let welcome = ServerMessage::Connected(Connected {
        connection_id: id(),
        timestamp: TS,
        user_id: None,
        heartbeat_interval: 30.0,
        protocol: PROTOCOL_VERSION.into(),
    });
    assert_contains_seed(
        &serde_json::to_value(&welcome).expect("json"),
        &json!({"type": "connected", "connection_id": id(), "timestamp": TS}),
    );
    assert_eq!(
        serde_json::to_value(ServerMessage::Ping(Ping { timestamp: TS })).expect("json"),
        json!({"type": "ping", "timestamp": TS})
    );
    assert_eq!(
        serde_json::to_value(ServerMessage::Subscribed(Subscribed {
            channel: ch("missions"),
            timestamp: TS,
            epoch: None,
            offset: None,
            recovered: None,
            presence: None,
            replayed: None,
        }))
        .expect("json"),
        json!({"type": "subscribed", "channel": "missions", "timestamp": TS})
    );
    assert_eq!(
        serde_json::to_value(ServerMessage::Unsubscribed(Unsubscribed {
            channel: ch("missions"),
            timestamp: TS,
        }))
        .expect("json"),
        json!({"type": "unsubscribed", "channel": "missions", "timestamp": TS})
    );
}

#[test]
fn seed_http_examples_come_out_key_for_key() {
    let seed_request = json!({
        "channel": "missions",
        "message": {"mission_id": "mission_123", "status": "completed"},
        "type": "mission_update"
    });
    let request: BroadcastRequest = serde_json::from_value(seed_request.clone()).expect("decodes");
    assert_eq!(request.event_type, Some(et("mission_update")));
    assert_eq!(serde_json::to_value(&request).expect("json"), seed_request);

    let response = BroadcastResponse {
        status: BroadcastStatus::Broadcasted,
        channel: ch("missions"),
        subscribers: 15,
    };
    assert_eq!(
        serde_json::to_value(&response).expect("json"),
        json!({"status": "broadcasted", "channel": "missions", "subscribers": 15})
    );
    insta::assert_json_snapshot!("http_broadcast_response", response);

    let seed_all = json!({"type": "system_announcement", "data": {"message": "System maintenance in 5 minutes"}});
    let all: BroadcastAllRequest = serde_json::from_value(seed_all.clone()).expect("decodes");
    assert_eq!(serde_json::to_value(&all).expect("json"), seed_all);
    let all_response = BroadcastAllResponse {
        status: BroadcastStatus::Broadcasted,
        total_connections: 42,
    };
    insta::assert_json_snapshot!("http_broadcast_all_response", all_response);

    let seed_stats = json!({
        "total_connections": 42, "total_users": 15, "total_channels": 5,
        "channels": {"missions": 20, "agents": 12, "system": 42}
    });
    let stats: StatsResponse = serde_json::from_value(seed_stats.clone()).expect("decodes");
    assert_eq!(serde_json::to_value(&stats).expect("json"), seed_stats);
    insta::assert_json_snapshot!("http_stats", stats);

    let channel = ChannelSubscribersResponse {
        channel: ch("missions"),
        subscribers: 1,
        connection_ids: vec![id()],
    };
    assert_eq!(
        serde_json::to_value(&channel).expect("json"),
        json!({"channel": "missions", "subscribers": 1, "connection_ids": [id()]})
    );

    let send = SendToUserResponse {
        status: SendStatus::Sent,
        user_id: "user-42".into(),
        connections: 2,
    };
    insta::assert_json_snapshot!("http_send_to_user_response", send);
    insta::assert_json_snapshot!(
        "http_error_body",
        ErrorBody::new(
            ErrorCode::INVALID_BODY,
            "field `channel`: channel name is empty"
        )
    );
}

#[test]
fn catalogue_events_decode_typed_and_unknown_types_stay_raw() {
    let created = Event::decode(
        "mission_created",
        json!({"mission_id": "mission_123", "name": "Deploy Application", "priority": "high"}),
    );
    let Event::Mission(MissionEvent::MissionCreated(MissionCreated {
        mission_id,
        mission_data,
    })) = &created
    else {
        panic!("expected a typed mission_created, got {created:?}");
    };
    assert_eq!(mission_id, "mission_123");
    assert_eq!(mission_data.get("priority"), Some(&json!("high")));
    assert_eq!(created.channel(), Some(StandardChannel::Missions));

    let (t, data) = created.into_parts();
    assert_eq!(t.as_str(), "mission_created");
    assert_eq!(
        data,
        json!({"mission_id": "mission_123", "name": "Deploy Application", "priority": "high"})
    );

    let unknown = Event::decode("quantum_flux", json!({"x": 1}));
    assert_eq!(unknown.channel(), None);
    assert_eq!(unknown.into_parts().1, json!({"x": 1}));

    // A known type with a payload that does not fit is kept raw, not dropped.
    let bad = Event::decode("mission_failed", json!({"mission_id": 5}));
    assert!(matches!(&bad, Event::Other(raw) if raw.data == json!({"mission_id": 5})));

    for (event_type, channel) in Event::catalogue() {
        assert!(EventType::new(event_type).is_ok(), "{event_type}");
        assert!(ChannelName::new(channel.as_str()).is_ok());
    }
    assert_eq!(Event::catalogue().count(), 19);
}

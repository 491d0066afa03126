//! Property tests: every message survives encode/decode unchanged, and no
//! input, however broken, panics the decoder.

use brain_ws_protocol::*;
use proptest::prelude::*;
use serde_json::Value;

fn channel() -> impl Strategy<Value = ChannelName> {
    "[A-Za-z0-9_.:@-]{1,128}".prop_map(|s| ChannelName::new(&s).expect("pattern is valid"))
}

fn event_type() -> impl Strategy<Value = EventType> {
    "[a-z_]{1,20}x".prop_map(|s| EventType::new(&s).expect("pattern is valid"))
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn timestamp() -> impl Strategy<Value = f64> {
    0.0f64..4_000_000_000.0
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        (
            channel(),
            prop::option::of(("[a-z0-9]{1,12}", any::<u64>())),
            prop::option::of(any::<u64>()),
            any::<bool>()
        )
            .prop_map(
                |(channel, since, rewind, presence)| ClientMessage::Subscribe {
                    channel,
                    // `since` and `rewind` exclude each other on the wire.
                    rewind: rewind.filter(|_| since.is_none()),
                    since: since.map(|(epoch, offset)| StreamPosition { epoch, offset }),
                    presence,
                }
            ),
        channel().prop_map(|channel| ClientMessage::Unsubscribe { channel }),
        Just(ClientMessage::Ping),
        Just(ClientMessage::Pong),
        (channel(), event_type(), json_value()).prop_map(|(channel, event, data)| {
            ClientMessage::Publish {
                channel,
                event,
                data,
            }
        }),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (
            any::<u128>(),
            timestamp(),
            prop::option::of("[a-z0-9-]{1,20}"),
            0.1f64..3600.0
        )
            .prop_map(|(id, timestamp, user_id, hb)| {
                ServerMessage::Connected(Connected {
                    connection_id: uuid::Builder::from_random_bytes(id.to_le_bytes()).into_uuid(),
                    timestamp,
                    user_id,
                    heartbeat_interval: hb,
                    protocol: PROTOCOL_VERSION.into(),
                })
            }),
        timestamp().prop_map(|timestamp| ServerMessage::Ping(Ping { timestamp })),
        timestamp().prop_map(|timestamp| ServerMessage::Pong(Pong { timestamp })),
        (
            channel(),
            timestamp(),
            prop::option::of("[a-z0-9]{1,12}"),
            prop::option::of(any::<u64>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<u64>())
        )
            .prop_map(
                |(channel, timestamp, epoch, offset, recovered, presence, replayed)| {
                    ServerMessage::Subscribed(Subscribed {
                        channel,
                        timestamp,
                        epoch,
                        offset,
                        recovered,
                        presence,
                        replayed,
                    })
                }
            ),
        (
            channel(),
            timestamp(),
            timestamp(),
            prop::option::of("[a-z0-9]{1,12}"),
            any::<bool>()
        )
            .prop_map(|(channel, timestamp, joined_at, user_id, join)| {
                let info = PresenceInfo {
                    connection_id: uuid::Uuid::from_u128(joined_at.to_bits().into()),
                    user_id,
                    node_id: "node-1".into(),
                    joined_at,
                };
                if join {
                    ServerMessage::Join(Join {
                        channel,
                        info,
                        timestamp,
                    })
                } else {
                    ServerMessage::Leave(Leave {
                        channel,
                        info,
                        timestamp,
                    })
                }
            }),
        (channel(), timestamp()).prop_map(|(channel, timestamp)| {
            ServerMessage::Unsubscribed(Unsubscribed { channel, timestamp })
        }),
        (
            prop::sample::select(ErrorCode::ALL),
            ".{0,40}",
            prop::option::of(".{0,10}")
        )
            .prop_map(|(code, message, channel)| {
                ServerMessage::Error(ErrorMessage {
                    code: code.clone(),
                    message,
                    channel,
                })
            }),
        (
            event_type(),
            prop::option::of(channel()),
            json_value(),
            timestamp(),
            prop::option::of(any::<u64>())
        )
            .prop_map(|(event_type, channel, data, timestamp, offset)| {
                ServerMessage::Event(EventEnvelope {
                    event_type,
                    channel,
                    data,
                    timestamp,
                    offset,
                })
            }),
    ]
}

proptest! {
    #[test]
    fn client_messages_round_trip(msg in client_message()) {
        prop_assert_eq!(decode_client_message(&msg.to_json()), Ok(msg));
    }

    #[test]
    fn server_messages_round_trip(msg in server_message()) {
        prop_assert_eq!(ServerMessage::from_json(&msg.to_json()).expect("decodes"), msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_yield_a_typed_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = decode_client_message(&text) {
            prop_assert!(ErrorCode::ALL.contains(&e.code()));
        }
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value(), kind in prop::sample::select(vec!["subscribe", "unsubscribe", "publish", "ping", "pong", "other"])) {
        // Arbitrary JSON, and arbitrary JSON dressed as each message type.
        let _ = decode_client_message(&value.to_string());
        let mut obj = serde_json::Map::new();
        obj.insert("type".into(), Value::from(kind));
        obj.insert("channel".into(), value.clone());
        obj.insert("since".into(), value.clone());
        obj.insert("event".into(), value);
        match decode_client_message(&Value::Object(obj).to_string()) {
            // It may be valid (`{"type":"unsubscribe","channel":"A",...}`);
            // then it is the message its `type` names, never another.
            Ok(m) => prop_assert_eq!(m.type_name(), kind),
            Err(e) => prop_assert!(ErrorCode::ALL.contains(&e.code())),
        }
    }

    #[test]
    fn http_bodies_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_slice::<http::BroadcastRequest>(&bytes);
        let _ = serde_json::from_slice::<http::BroadcastAllRequest>(&bytes);
        let _ = serde_json::from_slice::<http::SendToUserRequest>(&bytes);
    }
}

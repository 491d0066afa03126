use brain_ws_bench::envelope::{Inbound, broadcast_body, classify, event_json};
use brain_ws_protocol::http::BroadcastRequest;

#[test]
fn classify_reads_compact_server_json() {
    assert_eq!(
        classify(
            br#"{"type":"bench","channel":"b","data":{"seq":4711,"pad":"xx"},"timestamp":1.5}"#
        ),
        Inbound::Bench(4711)
    );
    assert_eq!(
        classify(br#"{"type":"ping","timestamp":1.5}"#),
        Inbound::Ping
    );
    assert_eq!(
        classify(br#"{"type":"subscribed","channel":"b","timestamp":1.5}"#),
        Inbound::Subscribed
    );
    assert_eq!(
        classify(br#"{"type":"connected","connection_id":"x"}"#),
        Inbound::Other
    );
}

#[test]
fn classify_falls_back_to_a_real_parse_for_spaced_json() {
    assert_eq!(
        classify(br#"{ "type": "bench", "data": { "seq": 12 } }"#),
        Inbound::Bench(12)
    );
    assert_eq!(classify(br#"{ "type" : "ping" }"#), Inbound::Ping);
    assert_eq!(classify(b"not json"), Inbound::Other);
}

#[test]
fn broadcast_body_makes_a_frame_of_about_the_asked_size() {
    for (seq, frame_bytes) in [(0u64, 150usize), (123_456, 150), (7, 300)] {
        let body = broadcast_body("bench", seq, frame_bytes);
        let request: BroadcastRequest = serde_json::from_str(&body).unwrap();
        assert_eq!(
            request.event_type.as_ref().map(|t| t.as_str()),
            Some("bench")
        );
        assert_eq!(request.message["seq"], seq);
        let frame_len = event_json(&request).len() + 2;
        assert!(
            frame_len.abs_diff(frame_bytes) <= 8,
            "seq {seq}: frame {frame_len} bytes for {frame_bytes} asked"
        );
        assert_eq!(
            classify(event_json(&request).as_bytes()),
            Inbound::Bench(seq)
        );
    }
}

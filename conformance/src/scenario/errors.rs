//! Bad input: each class of malformed client frame is answered with its
//! error code, and the connection stays usable afterwards.

use brain_ws_protocol::{ErrorCode, MAX_CHANNEL_LEN};
use serde_json::json;

use super::{Scenario, body, section};
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure};

pub(super) fn scenarios() -> Vec<Scenario> {
    let s = |id, summary, run| Scenario::new(id, section::ERROR_CODES, summary, run);
    vec![
        s(
            "errors.invalid_json",
            "a frame that is not JSON gets invalid_json",
            body!(invalid_json),
        ),
        s(
            "errors.not_object",
            "a JSON array gets invalid_message",
            body!(not_object),
        ),
        s(
            "errors.missing_type",
            "an object without `type` gets invalid_message",
            body!(missing_type),
        ),
        s(
            "errors.type_not_string",
            "a non-string `type` gets invalid_message",
            body!(type_not_string),
        ),
        s(
            "errors.unknown_type",
            "an unknown `type` gets unknown_type",
            body!(unknown_type),
        ),
        s(
            "errors.invalid_field",
            "a malformed `since` gets invalid_message",
            body!(invalid_field),
        ),
        s(
            "errors.invalid_channel.missing",
            "subscribe without `channel` gets invalid_channel",
            body!(channel_missing),
        ),
        s(
            "errors.invalid_channel.empty",
            "subscribe to \"\" gets invalid_channel",
            body!(channel_empty),
        ),
        s(
            "errors.invalid_channel.too_long",
            "subscribe to a 129-byte name gets invalid_channel",
            body!(channel_too_long),
        ),
        s(
            "errors.invalid_channel.bad_chars",
            "subscribe to a name with a space gets invalid_channel",
            body!(channel_bad_chars),
        ),
        s(
            "errors.invalid_channel.wrong_type",
            "subscribe with a numeric channel gets invalid_channel",
            body!(channel_wrong_type),
        ),
        s(
            "errors.binary",
            "a binary frame gets binary_not_supported",
            body!(binary),
        ),
    ]
}

/// A bad frame to send.
enum Input {
    Text(String),
    Binary(Vec<u8>),
}

/// Sends `input`, expects error `code` (echoing `channel` when it echoes
/// one), then proves the connection still works: a ping gets its pong.
async fn answered_and_usable(
    ctx: Ctx,
    input: Input,
    code: ErrorCode,
    channel: Option<&str>,
) -> Outcome {
    let mut a = ctx.connect("A").await?;
    match input {
        Input::Text(text) => a.send_text(text).await?,
        Input::Binary(bytes) => a.send_binary(bytes).await?,
    }
    let error = a.expect_error(&code).await?;
    ensure!(
        !error.message.is_empty(),
        "the error message for {code} is empty; it should say what was wrong"
    );
    if let (Some(expected), Some(echo)) = (channel, &error.channel) {
        ensure!(
            echo == expected,
            "error.channel is {echo:?}, expected the channel sent, {expected:?}"
        );
    }
    a.barrier().await?;
    a.close().await;
    Ok(())
}

macro_rules! bad_text {
    ($name:ident, $text:expr, $code:expr) => {
        bad_text!($name, $text, $code, None);
    };
    ($name:ident, $text:expr, $code:expr, $channel:expr) => {
        async fn $name(ctx: Ctx) -> Outcome {
            let text: String = $text;
            let channel: Option<String> = $channel;
            answered_and_usable(ctx, Input::Text(text), $code, channel.as_deref()).await
        }
    };
}

bad_text!(
    invalid_json,
    "{\"type\": \"subscribe\", ".into(),
    ErrorCode::INVALID_JSON
);
bad_text!(
    not_object,
    "[\"subscribe\", \"missions\"]".into(),
    ErrorCode::INVALID_MESSAGE
);
bad_text!(
    missing_type,
    json!({"channel": "missions"}).to_string(),
    ErrorCode::INVALID_MESSAGE
);
bad_text!(
    type_not_string,
    json!({"type": 7}).to_string(),
    ErrorCode::INVALID_MESSAGE
);
bad_text!(
    unknown_type,
    json!({"type": "conformance_unknown", "channel": "missions"}).to_string(),
    ErrorCode::UNKNOWN_TYPE
);
bad_text!(
    invalid_field,
    json!({"type": "subscribe", "channel": "missions", "since": {"epoch": 1}}).to_string(),
    ErrorCode::INVALID_MESSAGE
);
bad_text!(
    channel_missing,
    json!({"type": "subscribe"}).to_string(),
    ErrorCode::INVALID_CHANNEL
);
bad_text!(
    channel_empty,
    json!({"type": "subscribe", "channel": ""}).to_string(),
    ErrorCode::INVALID_CHANNEL,
    Some(String::new())
);
bad_text!(
    channel_too_long,
    json!({"type": "subscribe", "channel": "x".repeat(MAX_CHANNEL_LEN + 1)}).to_string(),
    ErrorCode::INVALID_CHANNEL,
    Some("x".repeat(MAX_CHANNEL_LEN + 1))
);
bad_text!(
    channel_bad_chars,
    json!({"type": "subscribe", "channel": "bad channel"}).to_string(),
    ErrorCode::INVALID_CHANNEL,
    Some("bad channel".to_owned())
);
bad_text!(
    channel_wrong_type,
    json!({"type": "subscribe", "channel": 42}).to_string(),
    ErrorCode::INVALID_CHANNEL
);

async fn binary(ctx: Ctx) -> Outcome {
    let bytes = json!({"type": "ping"}).to_string().into_bytes();
    answered_and_usable(
        ctx,
        Input::Binary(bytes),
        ErrorCode::BINARY_NOT_SUPPORTED,
        None,
    )
    .await
}

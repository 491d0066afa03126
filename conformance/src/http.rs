//! The suite's HTTP client for the server's API: every request and answer
//! goes into the transcript, every body is checked against its schema
//! (`http/error-body.json` for 4xx and 5xx), and the typed helpers check the
//! fields the protocol fixes.

use brain_ws_protocol::http::{
    BroadcastAllResponse, BroadcastResponse, BroadcastStatus, ChannelSubscribersResponse,
    SendStatus, SendToUserResponse, StatsResponse,
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail};
use crate::report::Direction;
use crate::schema;

/// An HTTP answer.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    /// The status code.
    pub(crate) status: u16,
    /// The body as JSON (`Value::String` with the raw text when it is not JSON).
    pub(crate) body: Value,
    /// Whether the body parsed as JSON.
    pub(crate) is_json: bool,
}

impl Reply {
    /// A reply from its status and body text, parsing the body as JSON when
    /// it is JSON.
    pub(crate) fn from_text(status: u16, text: String) -> Self {
        match serde_json::from_str(&text) {
            Ok(body) => Self {
                status,
                body,
                is_json: true,
            },
            Err(_) => Self {
                status,
                body: Value::String(text),
                is_json: false,
            },
        }
    }
}

/// A request body.
pub(crate) enum Body {
    /// A JSON document.
    Json(Value),
    /// Raw bytes sent as `application/json` (for malformed and oversize bodies).
    Raw(String),
}

impl Ctx {
    /// Sends one request to `path` (such as `/api/ws/stats`) and returns the
    /// answer without judging it.
    pub(crate) async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Body>,
    ) -> Outcome<Reply> {
        let url = format!("{}{path}", self.config().http_base());
        let mut request = self.shared.http.request(method.clone(), &url);
        if let Some(key) = &self.config().api_key {
            request = request.bearer_auth(key);
        }
        let shown = match &body {
            Some(Body::Json(v)) => v.to_string(),
            Some(Body::Raw(s)) => s.clone(),
            None => String::new(),
        };
        self.transcript
            .record("http", Direction::Sent, &format!("{method} {path} {shown}"));
        request = match body {
            Some(Body::Json(v)) => request.json(&v),
            Some(Body::Raw(s)) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(s),
            None => request,
        };
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let text = format!("{method} {path} failed: {e}");
                self.transcript.record("http", Direction::Note, &text);
                fail!("{text}")
            }
        };
        let status = response.status().as_u16();
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => fail!("{method} {path}: reading the body failed: {e}"),
        };
        self.transcript
            .record("http", Direction::Received, &format!("{status} {text}"));
        Ok(Reply::from_text(status, text))
    }

    /// Expects `status` and a body matching `schema_path`; decodes it as `T`.
    pub(crate) fn expect_body<T: DeserializeOwned>(
        &self,
        what: &str,
        reply: &Reply,
        status: u16,
        schema_path: &str,
    ) -> Outcome<T> {
        ensure!(
            reply.status == status,
            "{what} answered {}, expected {status}: {}",
            reply.status,
            reply.body
        );
        ensure!(
            reply.is_json,
            "{what}: the body is not JSON: {}",
            reply.body
        );
        if let Err(e) = self.shared.schemas.check(schema_path, &reply.body) {
            fail!("{what}: the body {e}");
        }
        match serde_json::from_value(reply.body.clone()) {
            Ok(v) => Ok(v),
            Err(e) => fail!("{what}: the body matches {schema_path} but does not decode: {e}"),
        }
    }

    /// Expects an error answer with `status` and a valid error body; returns
    /// the error code.
    pub(crate) fn expect_error_body(
        &self,
        what: &str,
        reply: &Reply,
        status: u16,
    ) -> Outcome<String> {
        let body: brain_ws_protocol::http::ErrorBody =
            self.expect_body(what, reply, status, schema::ERROR_BODY)?;
        Ok(body.error.code.as_str().to_owned())
    }

    /// `GET path`, expecting 200 and a body matching `schema_path`.
    pub(crate) async fn get_ok<T: DeserializeOwned>(
        &self,
        path: &str,
        schema_path: &str,
    ) -> Outcome<T> {
        let reply = self.request(reqwest::Method::GET, path, None).await?;
        self.expect_body(&format!("GET {path}"), &reply, 200, schema_path)
    }

    /// `POST /api/ws/broadcast`; checks the answer's status and channel.
    pub(crate) async fn broadcast(
        &self,
        channel: &str,
        event_type: Option<&str>,
        message: &Value,
    ) -> Outcome<BroadcastResponse> {
        let mut body = json!({"channel": channel, "message": message});
        if let Some(t) = event_type {
            body["type"] = json!(t);
        }
        let reply = self
            .request(
                reqwest::Method::POST,
                "/api/ws/broadcast",
                Some(Body::Json(body)),
            )
            .await?;
        let answer: BroadcastResponse = self.expect_body(
            "POST /api/ws/broadcast",
            &reply,
            200,
            schema::BROADCAST_RESPONSE,
        )?;
        ensure!(
            answer.status == BroadcastStatus::Broadcasted && answer.channel.as_str() == channel,
            "POST /api/ws/broadcast answered {}, expected status broadcasted and channel {channel}",
            reply.body
        );
        Ok(answer)
    }

    /// `POST /api/ws/broadcast/all`.
    pub(crate) async fn broadcast_all(
        &self,
        event_type: &str,
        data: &Value,
    ) -> Outcome<BroadcastAllResponse> {
        let body = json!({"type": event_type, "data": data});
        let reply = self
            .request(
                reqwest::Method::POST,
                "/api/ws/broadcast/all",
                Some(Body::Json(body)),
            )
            .await?;
        let answer: BroadcastAllResponse = self.expect_body(
            "POST /api/ws/broadcast/all",
            &reply,
            200,
            schema::BROADCAST_ALL_RESPONSE,
        )?;
        ensure!(
            answer.status == BroadcastStatus::Broadcasted,
            "POST /api/ws/broadcast/all answered status {:?}, expected broadcasted",
            answer.status
        );
        Ok(answer)
    }

    /// `POST /api/ws/users/{user}/send`; checks the status and user echo.
    pub(crate) async fn send_to_user(
        &self,
        user: &str,
        event_type: &str,
        data: &Value,
    ) -> Outcome<SendToUserResponse> {
        let path = format!("/api/ws/users/{user}/send");
        let body = json!({"type": event_type, "data": data});
        let reply = self
            .request(reqwest::Method::POST, &path, Some(Body::Json(body)))
            .await?;
        let answer: SendToUserResponse = self.expect_body(
            &format!("POST {path}"),
            &reply,
            200,
            schema::SEND_TO_USER_RESPONSE,
        )?;
        ensure!(
            answer.status == SendStatus::Sent && answer.user_id == user,
            "POST {path} answered {}, expected status sent and user_id {user}",
            reply.body
        );
        Ok(answer)
    }

    /// `GET /api/ws/stats`.
    pub(crate) async fn stats(&self) -> Outcome<StatsResponse> {
        self.get_ok("/api/ws/stats", schema::STATS_RESPONSE).await
    }

    /// Stats once they stop changing (two reads 200 ms apart agree), so a
    /// baseline is not taken while earlier connections are still closing.
    pub(crate) async fn settled_stats(&self) -> Outcome<StatsResponse> {
        let mut last = self.stats().await?;
        let deadline = std::time::Instant::now() + self.step();
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let now = self.stats().await?;
            if now == last || std::time::Instant::now() > deadline {
                return Ok(now);
            }
            last = now;
        }
    }

    /// `GET /api/ws/channels/{channel}`; checks the channel echo.
    pub(crate) async fn channel_info(&self, channel: &str) -> Outcome<ChannelSubscribersResponse> {
        let path = format!("/api/ws/channels/{channel}");
        let answer: ChannelSubscribersResponse =
            self.get_ok(&path, schema::CHANNEL_RESPONSE).await?;
        ensure!(
            answer.channel.as_str() == channel,
            "GET {path} answered channel {}, expected {channel}",
            answer.channel
        );
        Ok(answer)
    }
}

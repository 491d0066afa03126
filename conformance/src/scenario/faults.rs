//! Faults found by trying real-world bug reports (issue 14), each as a
//! client sees it from outside: WebSocket protocol errors end with a close
//! frame (1007, 1002), not a bare TCP drop; bad bytes in a URL path get the
//! documented JSON error body; an empty token carrier never hides a valid
//! one.
//!
//! The raw-frame scenarios write their bytes on a connection of their own
//! (through the suite's proxy, with TLS for `wss://`), since no WebSocket
//! client library sends malformed frames.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

use super::{Scenario, body, section};
use crate::config::Feature;
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail, skip};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "errors.protocol.invalid_utf8",
            section::CLOSE_CODES,
            "a text frame that is not UTF-8 gets a close frame 1007, not a bare TCP drop",
            body!(invalid_utf8),
        ),
        Scenario::new(
            "errors.protocol.violations",
            section::CLOSE_CODES,
            "reserved bits, a reserved opcode and a fragmented ping each get a close frame 1002",
            body!(violations),
        ),
        Scenario::new(
            "http.bad_path_bytes",
            section::HTTP_API,
            "GET /api/ws/channels/%FF answers 400 with the JSON error body, code invalid_channel",
            body!(bad_path_bytes),
        ),
        Scenario::new(
            "auth.empty_carrier",
            section::DECISIONS,
            "an empty ?token= does not hide a valid Authorization: Bearer or token.<jwt> subprotocol",
            body!(empty_carrier),
        )
        .requires(Feature::Authentication),
    ]
}

/// A byte stream to the server: plain TCP, or TLS on top of it.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Opens the connection a raw-frame scenario writes its bytes on: through
/// the configured proxy like every other connection of the suite, and for a
/// `wss://` URL with TLS (the suite's trust roots, HTTP/1.1, no ALPN).
/// Returns it with the `Host` header value.
async fn raw_connect(ctx: &Ctx) -> Outcome<(Box<dyn Io>, String)> {
    let base = ctx.config().ws_base();
    let url = match reqwest::Url::parse(&base) {
        Ok(url) => url,
        Err(e) => fail!("invalid URL {base}: {e}"),
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        fail!("cannot find host and port in {base}");
    };
    let authority = format!("{host}:{port}");
    let tls = match url.scheme() {
        "ws" => false,
        "wss" => true,
        other => fail!("{base}: unknown scheme {other}"),
    };
    let uri = match base.parse() {
        Ok(uri) => uri,
        Err(e) => fail!("invalid URL {base}: {e}"),
    };
    let tcp = match ctx.config().proxy.connect(&uri).await {
        Ok(tcp) => tcp,
        Err(e) => fail!("cannot connect to {authority}: {e}"),
    };
    if !tls {
        return Ok((Box::new(tcp), authority));
    }
    let name = match ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']')) {
        Ok(name) => name.to_owned(),
        Err(e) => fail!("{host} is not a TLS server name: {e}"),
    };
    let connector = tokio_rustls::TlsConnector::from(ctx.config().tls.client_config());
    match connector.connect(name, tcp).await {
        Ok(stream) => Ok((Box::new(stream), authority)),
        Err(e) => fail!("TLS handshake with {authority} failed: {e}"),
    }
}

/// One frame from the server: `(opcode, payload)`; `None` at the end.
async fn read_frame(stream: &mut (impl AsyncRead + Unpin + ?Sized)) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 2];
    stream.read_exact(&mut header).await.ok()?;
    let len = match header[1] & 0x7f {
        126 => usize::from(stream.read_u16().await.ok()?),
        127 => usize::try_from(stream.read_u64().await.ok()?).ok()?,
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.ok()?;
    Some((header[0] & 0x0f, payload))
}

/// A masked client frame (zero mask key) with first byte `first`.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first, 0x80 | (payload.len() as u8 & 0x7f), 0, 0, 0, 0];
    out.extend_from_slice(payload);
    out
}

/// Opens a WebSocket by hand (with the configured token), sends `bytes`
/// after the welcome, and returns the code of the server's close frame:
/// `Ok(None)` when the connection ended without one.
async fn close_code_after(ctx: &Ctx, what: &str, bytes: &[u8]) -> Outcome<Option<u16>> {
    let base = reqwest::Url::parse(&ctx.config().ws_base()).ok();
    let prefix = base.as_ref().map_or("", |u| u.path().trim_end_matches('/'));
    let query = match &ctx.config().token {
        Some(token) => format!("?token={}", encode(token)),
        None => String::new(),
    };
    let step = ctx.step();
    let (mut stream, authority) = match tokio::time::timeout(step, raw_connect(ctx)).await {
        Ok(opened) => opened?,
        Err(_) => fail!("{what}: no connection within {step:?}"),
    };
    ctx.note(&format!("raw connection to {authority}: {what}"));
    let exchange = async {
        let request = format!(
            "GET {prefix}/ws/connect{query} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        stream.flush().await.ok()?;
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.ok()?);
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            return Some(Err(String::from_utf8_lossy(&head).into_owned()));
        }
        // The welcome first, then the bad frame.
        read_frame(&mut stream).await?;
        stream.write_all(bytes).await.ok()?;
        stream.flush().await.ok()?;
        while let Some((opcode, payload)) = read_frame(&mut stream).await {
            if opcode == 8 {
                return Some(Ok(payload
                    .get(..2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))));
            }
        }
        Some(Ok(None))
    };
    match tokio::time::timeout(step * 2, exchange).await {
        Err(_) => fail!("{what}: no close frame and no end within {:?}", step * 2),
        Ok(None) => Ok(None),
        Ok(Some(Err(head))) => fail!("{what}: the upgrade was not accepted: {head}"),
        Ok(Some(Ok(code))) => Ok(code),
    }
}

/// Percent-encodes a token for a query string.
fn encode(token: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", [("t", token)])
        .ok()
        .and_then(|u| u.query().map(|q| q.trim_start_matches("t=").to_owned()))
        .unwrap_or_default()
}

async fn expect_close(ctx: &Ctx, what: &str, bytes: &[u8], want: u16) -> Outcome {
    let code = close_code_after(ctx, what, bytes).await?;
    ensure!(
        code == Some(want),
        "{what}: expected a close frame {want}, got {}",
        code.map_or_else(
            || "a TCP drop without a close frame".to_owned(),
            |c| c.to_string()
        )
    );
    Ok(())
}

async fn invalid_utf8(ctx: Ctx) -> Outcome {
    expect_close(
        &ctx,
        "a text frame with bytes FF FE",
        &frame(0x81, &[0x7b, 0xff, 0xfe]),
        1007,
    )
    .await
}

async fn violations(ctx: Ctx) -> Outcome {
    for (what, bytes) in [
        ("a text frame with RSV1 set", frame(0xc1, b"{}")),
        ("a frame with reserved opcode 0x3", frame(0x83, b"x")),
        (
            "a ping without FIN (fragmented control frame)",
            frame(0x09, b"p"),
        ),
    ] {
        expect_close(&ctx, what, &bytes, 1002).await?;
    }
    Ok(())
}

async fn bad_path_bytes(ctx: Ctx) -> Outcome {
    let reply = ctx
        .request(reqwest::Method::GET, "/api/ws/channels/%FF", None)
        .await?;
    let code = ctx.expect_error_body("GET /api/ws/channels/%FF", &reply, 400)?;
    ensure!(
        code == "invalid_channel",
        "GET /api/ws/channels/%FF answered code {code:?}, expected invalid_channel"
    );
    Ok(())
}

/// Opens `/ws/connect?token=` (empty) with `header` and returns the
/// welcome's `user_id`.
async fn welcome_user(
    ctx: &Ctx,
    what: &str,
    header: (&'static str, String),
) -> Outcome<Option<String>> {
    let url = format!("{}/ws/connect?token=", ctx.config().ws_base());
    let mut request = match url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => fail!("invalid URL {url}: {e}"),
    };
    match header.1.parse() {
        Ok(value) => {
            request.headers_mut().insert(header.0, value);
        }
        Err(e) => fail!("the token does not fit in a header: {e}"),
    }
    ctx.note(&format!("open {url} with {what}"));
    let opened = tokio::time::timeout(ctx.step(), ctx.upgrade(request)).await;
    let mut ws = match opened {
        Err(_) => fail!(
            "{what}: the upgrade was not answered within {:?}",
            ctx.step()
        ),
        Ok(Err(tungstenite::Error::Http(response))) => fail!(
            "{what}: refused with HTTP {} {}; an empty ?token= must count as no token",
            response.status().as_u16(),
            String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
        ),
        Ok(Err(e)) => fail!("{what}: {e}"),
        Ok(Ok((ws, _))) => ws,
    };
    let user = loop {
        match tokio::time::timeout(ctx.step(), ws.next()).await {
            Ok(Some(Ok(tungstenite::Message::Text(text)))) => {
                let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                if value["type"] == "connected" {
                    break value["user_id"].as_str().map(str::to_owned);
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => fail!("{what}: no welcome"),
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    Ok(user)
}

async fn empty_carrier(ctx: Ctx) -> Outcome {
    let Some(token) = ctx.config().token.clone() else {
        skip!("no --token was given");
    };
    let bearer = welcome_user(
        &ctx,
        "an empty ?token= and a valid Authorization: Bearer",
        ("authorization", format!("Bearer {token}")),
    )
    .await?;
    ensure!(
        bearer.as_deref().is_some_and(|u| !u.is_empty()),
        "an empty ?token= hid the valid Authorization: Bearer token (welcomed as {bearer:?})"
    );
    let protocol = welcome_user(
        &ctx,
        "an empty ?token= and a valid token.<jwt> subprotocol",
        ("sec-websocket-protocol", format!("brain.v1, token.{token}")),
    )
    .await?;
    ensure!(
        protocol == bearer,
        "with the token in Sec-WebSocket-Protocol the welcome named {protocol:?}, with Bearer {bearer:?}"
    );
    Ok(())
}

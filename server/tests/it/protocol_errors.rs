//! WebSocket protocol errors end with a close frame (RFC 6455 section 7.4.1),
//! not a bare TCP drop: 1007 for a text frame that is not UTF-8, 1002 for
//! every other violation. Raw frames over a raw socket, on our own accept
//! loop (direct writes) and on the router served by axum.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

/// Opens a WebSocket by hand and reads past the `101` answer and the
/// `connected` welcome.
async fn raw_socket(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /ws/connect HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.expect("101 answer");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let (opcode, payload) = read_frame(&mut tcp).await.expect("the welcome");
    assert_eq!(opcode, 1);
    assert!(String::from_utf8_lossy(&payload).contains("\"connected\""));
    tcp
}

/// One server frame: `(opcode, payload)`; `None` at the end of the stream.
async fn read_frame(tcp: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 2];
    tcp.read_exact(&mut header).await.ok()?;
    let len = match header[1] & 0x7f {
        126 => usize::from(tcp.read_u16().await.ok()?),
        127 => usize::try_from(tcp.read_u64().await.ok()?).ok()?,
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.ok()?;
    Some((header[0] & 0x0f, payload))
}

/// A client frame: `first` is FIN/RSV/opcode; masked with a zero key
/// unless `masked` is false.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let len = u8::try_from(payload.len()).expect("short payload");
    let mut out = vec![first, if masked { 0x80 | len } else { len }];
    if masked {
        out.extend_from_slice(&[0, 0, 0, 0]);
    }
    out.extend_from_slice(payload);
    out
}

/// Sends `bytes` and returns the close code of the server's close frame
/// (events and pings before it are skipped), and whether the server then
/// ended the TCP connection within a second.
async fn close_code_after(addr: SocketAddr, bytes: &[u8]) -> (Option<u16>, bool) {
    let mut tcp = raw_socket(addr).await;
    tcp.write_all(bytes).await.expect("send");
    let code = tokio::time::timeout(PATIENCE, async {
        while let Some((opcode, payload)) = read_frame(&mut tcp).await {
            if opcode == 8 {
                return Some(u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
        None
    })
    .await
    .expect("an answer in time");
    let ended = tokio::time::timeout(Duration::from_secs(1), async {
        let mut rest = [0u8; 64];
        loop {
            match tcp.read(&mut rest).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok();
    (code, ended)
}

/// Every case: a name, the bytes, the close code expected.
fn cases() -> Vec<(&'static str, Vec<u8>, u16)> {
    let mut fragmented_text = frame(0x01, b"{\"type\":", true);
    fragmented_text.extend(frame(0x80, &[0xff, 0xfe], true));
    vec![
        (
            "text frame with invalid UTF-8",
            frame(0x81, &[0x7b, 0xff, 0xfe], true),
            1007,
        ),
        ("fragmented text with invalid UTF-8", fragmented_text, 1007),
        ("reserved data opcode 0x3", frame(0x83, b"x", true), 1002),
        ("reserved control opcode 0xB", frame(0x8b, b"", true), 1002),
        (
            "RSV1 bit without an extension",
            frame(0xc1, b"{}", true),
            1002,
        ),
        (
            "RSV3 bit without an extension",
            frame(0x91, b"{}", true),
            1002,
        ),
        ("fragmented ping", frame(0x09, b"p", true), 1002),
        (
            "continuation without a start",
            frame(0x80, b"x", true),
            1002,
        ),
        ("unmasked client frame", frame(0x81, b"{}", false), 1002),
    ]
}

#[tokio::test]
async fn protocol_errors_get_a_close_frame_1002_or_1007_and_the_connection_ends() {
    let server = start(|_| {}).await;
    let mut got = Vec::new();
    let mut expected = Vec::new();
    for (name, bytes, code) in cases() {
        let (answer, ended) = close_code_after(server.local_addr(), &bytes).await;
        got.push((name, answer, ended));
        expected.push((name, Some(code), true));
    }
    assert_eq!(got, expected);
    assert_eq!(
        metric(&server, "brain_ws_protocol_error_disconnects_total").await,
        expected.len() as f64
    );
    // The server is fine: a new connection works.
    let (_client, welcome) = Client::connect(&server).await;
    assert_eq!(welcome["type"], "connected");
}

#[tokio::test]
async fn protocol_errors_get_the_same_close_frames_from_the_router_served_by_axum() {
    let server = start(|_| {}).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = brain_ws_server::router(server.node());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let mut got = Vec::new();
    let mut expected = Vec::new();
    for (name, bytes, code) in cases() {
        let (answer, ended) = close_code_after(addr, &bytes).await;
        got.push((name, answer, ended));
        expected.push((name, Some(code), true));
    }
    assert_eq!(got, expected);
}

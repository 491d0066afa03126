//! A minimal keep-alive HTTP/1.1 client for triggering broadcasts: one
//! request, one write, so the time taken just before it is the time the
//! server could first see the request.

use crate::stream::{Connector, Stream};
use bytes::{Buf as _, BytesMut};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Why an HTTP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Connecting, writing or reading failed.
    #[error("http i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The response could not be parsed.
    #[error("malformed http response: {0}")]
    Malformed(String),
    /// The server closed the connection before the response was complete.
    #[error("connection closed mid-response")]
    Closed,
}

/// A response: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body bytes (Content-Length framed).
    pub body: Vec<u8>,
}

/// One keep-alive connection to the server's HTTP API, reconnecting when the
/// server closes it.
pub struct HttpClient {
    connector: Connector,
    stream: Option<Stream>,
    buf: BytesMut,
}

impl HttpClient {
    /// A client for the server `connector` reaches; connects lazily.
    pub fn new(connector: Connector) -> Self {
        Self {
            connector,
            stream: None,
            buf: BytesMut::with_capacity(1024),
        }
    }

    /// Opens the connection now, so the first measured request does not pay
    /// for the TCP handshake.
    pub async fn connect(&mut self) -> Result<(), HttpError> {
        if self.stream.is_none() {
            self.stream = Some(self.connector.connect().await?);
            self.buf.clear();
        }
        Ok(())
    }

    /// Sends `POST path` with a JSON body and reads the whole response. A
    /// connection the server closed while idle is reopened once.
    pub async fn post_json(&mut self, path: &str, body: &[u8]) -> Result<Response, HttpError> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.connector.addr(),
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        let reused = self.stream.is_some();
        match self.exchange(&request).await {
            Err(HttpError::Io(_) | HttpError::Closed) if reused => {
                self.stream = None;
                self.exchange(&request).await
            }
            other => other,
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Response, HttpError> {
        self.connect().await?;
        let result = self.exchange_on_open(request).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange_on_open(&mut self, request: &[u8]) -> Result<Response, HttpError> {
        let Some(stream) = self.stream.as_mut() else {
            return Err(HttpError::Closed);
        };
        stream.write_all(request).await?;
        loop {
            if let Some((response, used, close)) = parse_response(&self.buf)? {
                self.buf.advance(used);
                if close {
                    self.stream = None;
                }
                return Ok(response);
            }
            self.buf.reserve(1024);
            if stream.read_buf(&mut self.buf).await? == 0 {
                return Err(HttpError::Closed);
            }
        }
    }
}

/// Parses one complete Content-Length-framed response from `buf`: the
/// response, the bytes it used, and whether the server will close.
fn parse_response(buf: &[u8]) -> Result<Option<(Response, usize, bool)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(HttpError::Malformed(e.to_string())),
    };
    let status = parsed.code.unwrap_or(0);
    let mut content_length = 0usize;
    let mut close = false;
    for h in parsed.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            content_length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| HttpError::Malformed("bad content-length".into()))?;
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HttpError::Malformed(
                "chunked responses are not supported".into(),
            ));
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        }
    }
    let total = head_len + content_length;
    if buf.len() < total {
        return Ok(None);
    }
    let response = Response {
        status,
        body: buf[head_len..total].to_vec(),
    };
    Ok(Some((response, total, close)))
}

//! [`Proxy`]: reaching the server through an HTTP proxy, as curl and
//! browsers do.
//!
//! By default the environment decides, with curl's rules (`HTTPS_PROXY` for
//! `wss://` and `https://`, `HTTP_PROXY` for `ws://` and `http://`,
//! `ALL_PROXY` for both, `NO_PROXY` for exceptions; lower-case names too),
//! as read by hyper-util's matcher, the same rules reqwest applies to the
//! [`Publisher`](crate::Publisher). A WebSocket goes through the proxy as an
//! HTTP `CONNECT` tunnel, so TLS stays end to end with the server.

use std::io;

use hyper_util::client::proxy::matcher::Matcher;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::http::Uri;

/// Which proxy, if any, the client and the publisher go through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proxy {
    /// `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` from the
    /// environment, read when a connection opens (the default).
    #[default]
    FromEnv,
    /// Always connect directly, whatever the environment says.
    Direct,
    /// Every connection through this `http://host:port` proxy
    /// (`http://user:password@host:port` for basic authentication).
    Url(String),
}

impl Proxy {
    /// The proxy for `url` (`ws://`, `wss://`, `http://` or `https://`),
    /// `None` to connect directly.
    fn intercept(&self, url: &Uri) -> Option<hyper_util::client::proxy::matcher::Intercept> {
        let matcher = match self {
            Self::Direct => return None,
            Self::FromEnv => Matcher::from_env(),
            Self::Url(proxy) => Matcher::builder().all(proxy.clone()).build(),
        };
        // The matcher knows HTTP schemes; a WebSocket follows its HTTP twin.
        let scheme = match url.scheme_str() {
            Some("wss") => "https",
            Some("ws") => "http",
            Some(other) => other,
            None => return None,
        };
        let as_http = Uri::builder()
            .scheme(scheme)
            .authority(url.authority()?.as_str())
            .path_and_query("/")
            .build()
            .ok()?;
        matcher.intercept(&as_http)
    }

    /// Applies this setting to a reqwest client (what
    /// [`Publisher`](crate::Publisher) does), for other HTTP clients that
    /// should go the same way. Fails on a proxy URL reqwest cannot parse.
    pub fn apply_to(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, reqwest::Error> {
        Ok(match self {
            Self::FromEnv => builder,
            Self::Direct => builder.no_proxy(),
            Self::Url(url) => builder.proxy(reqwest::Proxy::all(url)?),
        })
    }

    /// Opens the TCP connection for `url` (`ws://`, `wss://`, `http://`,
    /// `https://`): to the server, or to the proxy with an HTTP `CONNECT`
    /// tunnel to the server established, ready for TLS and the upgrade.
    /// Only `http://` proxies are supported.
    pub async fn connect(&self, url: &Uri) -> io::Result<TcpStream> {
        connect(url, self).await
    }
}

/// Longest proxy answer to `CONNECT` read before giving up.
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;
/// The port of a proxy URL without one, as curl assumes.
const DEFAULT_PROXY_PORT: u16 = 1080;

/// Opens the TCP connection for `url`: to the server, or to the proxy with
/// a `CONNECT` tunnel to the server established.
async fn connect(url: &Uri, proxy: &Proxy) -> io::Result<TcpStream> {
    let host = url
        .host()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URL without a host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_u16().unwrap_or(match url.scheme_str() {
        Some("wss" | "https") => 443,
        _ => 80,
    });
    let Some(intercept) = proxy.intercept(url) else {
        return TcpStream::connect((host, port)).await;
    };
    let proxy_uri = intercept.uri();
    if proxy_uri.scheme_str() != Some("http") {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("proxy {proxy_uri}: only http:// proxies are supported"),
        ));
    }
    let proxy_host = proxy_uri
        .host()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "proxy URL without a host"))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let proxy_port = proxy_uri.port_u16().unwrap_or(DEFAULT_PROXY_PORT);
    let mut stream = TcpStream::connect((proxy_host, proxy_port))
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("proxy {proxy_host}:{proxy_port}: {e}")))?;
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = intercept.basic_auth().and_then(|v| v.to_str().ok()) {
        request.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    read_connect_response(&mut stream, &target).await?;
    Ok(stream)
}

/// Reads the proxy's answer head (nothing of the tunnel after it: the
/// server speaks only once the client's TLS or HTTP request arrives).
async fn read_connect_response(stream: &mut TcpStream, target: &str) -> io::Result<()> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_CONNECT_RESPONSE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "proxy answer to CONNECT too long",
            ));
        }
        // Byte by byte so that nothing past the head is consumed.
        if stream.read(&mut byte).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "proxy closed the connection during CONNECT",
            ));
        }
        head.push(byte[0]);
    }
    let status_line = head
        .split(|b| *b == b'\r')
        .next()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let status = status_line.split(' ').nth(1).unwrap_or("");
    if status_line.starts_with("HTTP/1.") && status == "200" {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("proxy refused CONNECT {target}: {status_line}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().expect("uri")
    }

    #[test]
    fn an_explicit_proxy_applies_to_ws_and_wss_and_direct_to_none() {
        let proxy = Proxy::Url("http://proxy.local:3128".into());
        let wss = proxy.intercept(&uri("wss://brain.example:443/ws/connect"));
        assert_eq!(
            wss.map(|i| i.uri().to_string()),
            Some("http://proxy.local:3128/".into())
        );
        assert!(proxy.intercept(&uri("ws://brain.example/x")).is_some());
        assert!(
            Proxy::Direct
                .intercept(&uri("wss://brain.example/"))
                .is_none()
        );
    }
}

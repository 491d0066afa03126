//! URL building for the WebSocket endpoint and the HTTP API: the default
//! path, the `token` query parameter and percent-encoding of path segments.

/// The WebSocket path used when the URL names only a host.
pub(crate) const DEFAULT_WS_PATH: &str = "/ws/connect";

/// The URL to open: `base` with `/ws/connect` when it has no path, and
/// `token` appended as the `token` query parameter.
pub(crate) fn ws_url(base: &str, token: Option<&str>) -> Result<String, String> {
    let rest = base
        .strip_prefix("ws://")
        .or_else(|| base.strip_prefix("wss://"))
        .ok_or_else(|| format!("{base:?} is not a ws:// or wss:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{base:?} has no host"));
    }
    let mut url = base.to_owned();
    let path_start = rest.find(['/', '?', '#']);
    match path_start.map(|i| &rest[i..]) {
        None => url.push_str(DEFAULT_WS_PATH),
        Some("/") => {
            url.pop();
            url.push_str(DEFAULT_WS_PATH);
        }
        Some(_) => {}
    }
    if let Some(token) = token {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str("token=");
        url.push_str(&percent_encode(token));
    }
    Ok(url)
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so a
/// token or a user id survives as one query value or path segment.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_only_urls_get_the_default_path_and_tokens_are_encoded() {
        assert_eq!(
            ws_url("ws://h:1", None).as_deref(),
            Ok("ws://h:1/ws/connect")
        );
        assert_eq!(
            ws_url("ws://h:1/", Some("a b")).as_deref(),
            Ok("ws://h:1/ws/connect?token=a%20b")
        );
        assert_eq!(
            ws_url("wss://h/ws/channel/missions?x=1", Some("t.k-1")).as_deref(),
            Ok("wss://h/ws/channel/missions?x=1&token=t.k-1")
        );
        assert!(ws_url("http://h", None).is_err());
        assert!(ws_url("ws://", None).is_err());
    }
}

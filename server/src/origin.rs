//! The `Origin` check on WebSocket upgrades (`--allowed-origins`), against
//! cross-site WebSocket hijacking: a page on another site opening a socket
//! with the user's cookies or network position.
//!
//! Browsers always send `Origin` on a WebSocket handshake; other clients
//! usually do not, and are let through (they are not a browser acting for a
//! user, and could forge the header anyway). With no allowed origins
//! configured every origin is allowed.

use axum::http::HeaderValue;

/// Whether `origin` is acceptable: well-formed (`*`, or `scheme://host` with
/// an optional port and nothing after it).
pub(crate) fn is_valid_entry(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !rest.contains(['/', '?', '#', ' '])
}

/// Whether an upgrade carrying `origin` is allowed by `allowed`.
/// Comparison is ASCII case-insensitive, as origins are.
pub(crate) fn allows(allowed: &[String], origin: Option<&HeaderValue>) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(origin) = origin else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim().trim_end_matches('/');
    allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_is_exact_and_case_insensitive() {
        let allowed = vec!["https://app.example.com".to_owned()];
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert!(allows(&allowed, None));
        assert!(allows(&allowed, Some(&h("https://app.example.com"))));
        assert!(allows(&allowed, Some(&h("HTTPS://APP.example.com"))));
        assert!(!allows(&allowed, Some(&h("https://evil.example.com"))));
        assert!(!allows(
            &allowed,
            Some(&h("https://app.example.com.evil.io"))
        ));
        assert!(!allows(&allowed, Some(&h("http://app.example.com"))));
        assert!(!allows(&allowed, Some(&h("null"))));
        assert!(allows(&[], Some(&h("https://anything"))));
        assert!(allows(&["*".to_owned()], Some(&h("null"))));
    }

    #[test]
    fn entries_are_validated() {
        assert!(is_valid_entry("https://app.example.com"));
        assert!(is_valid_entry("http://localhost:3000"));
        assert!(is_valid_entry("*"));
        assert!(!is_valid_entry("app.example.com"));
        assert!(!is_valid_entry("https://app.example.com/path"));
        assert!(!is_valid_entry("https://"));
    }
}

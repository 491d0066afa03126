//! Authentication refusals: bad tokens are refused before the upgrade,
//! `required` mode refuses anonymous connections, the admin API checks its
//! key.

use brain_ws_protocol::http::AuthMode;
use reqwest::Method;

use super::{Scenario, body, section};
use crate::config::Feature;
use crate::context::Ctx;
use crate::http::Reply;
use crate::outcome::{Outcome, ensure, fail, skip};
use crate::ws::Opened;

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "auth.invalid_token",
            section::DECISIONS,
            "a connection with an invalid token is refused before the upgrade with 401 unauthorized",
            body!(invalid_token),
        )
        .requires(Feature::Authentication),
        Scenario::new(
            "auth.required",
            section::DECISIONS,
            "in auth mode `required`, a connection without a token is refused with 401",
            body!(required),
        )
        .requires(Feature::Authentication),
        Scenario::new(
            "auth.user_id",
            section::DECISIONS,
            "a connection with a valid token is welcomed with its user_id",
            body!(user_id),
        )
        .requires(Feature::Authentication),
        Scenario::new(
            "auth.expired_token",
            section::DECISIONS,
            "a token whose exp has passed is refused at the upgrade with 401 unauthorized, while a fresh one signed with the same key is welcomed",
            body!(expired_token),
        )
        .requires(Feature::Authentication),
        Scenario::new(
            "auth.admin_api_key",
            section::HTTP_API,
            "the admin API refuses requests without a key (401) and with a wrong key (403)",
            body!(admin_api_key),
        ),
    ]
}

/// Expects the upgrade of `/ws/connect` with `token` to be refused with 401
/// and error code unauthorized.
async fn refused(ctx: &Ctx, token: Option<&str>, what: &str) -> Outcome {
    match ctx.try_open("A", "/ws/connect", token).await? {
        Opened::Conn(mut conn) => {
            let welcome = conn.read_welcome().await;
            conn.close().await;
            welcome?;
            fail!("{what} was accepted; it must be refused with 401 before the upgrade")
        }
        Opened::Refused { status, body } => {
            let reply = Reply::from_text(status, body);
            let code = ctx.expect_error_body(what, &reply, 401)?;
            ensure!(
                code == "unauthorized",
                "{what} was refused with error code {code:?}, expected unauthorized"
            );
            Ok(())
        }
    }
}

async fn invalid_token(ctx: Ctx) -> Outcome {
    refused(
        &ctx,
        Some("conformance.invalid.token"),
        "a connection with an invalid token",
    )
    .await
}

async fn required(ctx: Ctx) -> Outcome {
    let mode = ctx.info()?.auth;
    if mode != AuthMode::Required && !ctx.forced(Feature::Authentication) {
        skip!("the server's auth mode is {mode:?}, so anonymous connections are allowed");
    }
    refused(&ctx, None, "a connection without a token").await
}

async fn user_id(ctx: Ctx) -> Outcome {
    if ctx.config().token.is_none() {
        skip!("no --token was given");
    }
    let a = ctx.connect("A").await?;
    let user = a.welcome.as_ref().and_then(|w| w.user_id.clone());
    a.close().await;
    ensure!(
        user.as_deref().is_some_and(|u| !u.is_empty()),
        "the connection made with --token was welcomed with user_id {user:?}"
    );
    Ok(())
}

/// How long ago the expired token's `exp` is: far beyond any sensible
/// leeway (the reference server's default is 30 s), so a server refuses it
/// whatever its leeway and clock skew.
const EXPIRED_FOR: u64 = 3600;

/// An HS256 token for user `sub` with `exp` at `exp` (seconds since the Unix
/// epoch), signed with `secret`.
fn sign(secret: &str, sub: &str, exp: u64) -> Outcome<String> {
    let claims = serde_json::json!({"sub": sub, "exp": exp});
    match jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    ) {
        Ok(token) => Ok(token),
        Err(e) => fail!("cannot sign a token with --jwt-secret: {e}"),
    }
}

async fn expired_token(ctx: Ctx) -> Outcome {
    let Some(secret) = ctx.config().jwt_secret.clone() else {
        skip!("no --jwt-secret was given, so the suite cannot sign an expired token");
    };
    let now = brain_ws_protocol::unix_timestamp() as u64;
    let user = ctx.unique("expiry");
    // First the control: the same key and claims, not expired, must be
    // welcomed; otherwise a 401 below would prove nothing.
    let fresh = sign(&secret, &user, now + 600)?;
    match ctx.try_open("A", "/ws/connect", Some(&fresh)).await? {
        Opened::Conn(mut conn) => {
            let welcome = conn.read_welcome().await;
            let welcomed = conn.welcome.as_ref().and_then(|w| w.user_id.clone());
            conn.close().await;
            welcome?;
            ensure!(
                welcomed.as_deref() == Some(user.as_str()),
                "a fresh token for {user:?} signed with --jwt-secret was welcomed as user_id {welcomed:?}"
            );
        }
        Opened::Refused { status, body } => fail!(
            "a fresh token signed with --jwt-secret was refused with HTTP {status} {body}: \
             is --jwt-secret the server's key (and does the server require iss/aud)?"
        ),
    }
    let expired = sign(&secret, &user, now - EXPIRED_FOR)?;
    refused(
        &ctx,
        Some(&expired),
        "a connection with a token that expired an hour ago",
    )
    .await
}

async fn admin_api_key(ctx: Ctx) -> Outcome {
    let Some(key) = ctx.config().api_key.clone() else {
        skip!(
            "no --api-key was given, so the server is assumed to serve its admin API without keys"
        );
    };
    let url = format!("{}/api/ws/stats", ctx.config().http_base());
    for (what, header, status) in [
        ("without a key", None, 401),
        ("with a wrong key", Some(format!("{key}-wrong")), 403),
    ] {
        let mut request = ctx.shared.http.request(Method::GET, &url);
        if let Some(wrong) = &header {
            request = request.bearer_auth(wrong);
        }
        ctx.note(&format!("GET /api/ws/stats {what}"));
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => fail!("GET /api/ws/stats {what} failed: {e}"),
        };
        let got = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        ctx.note(&format!("{got} {text}"));
        let reply = Reply::from_text(got, text);
        ctx.expect_error_body(&format!("GET /api/ws/stats {what}"), &reply, status)?;
    }
    Ok(())
}

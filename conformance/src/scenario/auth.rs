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

//! Messages to one user through `POST /api/ws/users/{user_id}/send`.

use serde_json::json;

use super::{Scenario, body, section};
use crate::context::Ctx;
use crate::outcome::{Outcome, ensure, fail, skip};

pub(super) fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::new(
            "user.send",
            section::EVENT_ENVELOPE,
            "a message to a user reaches exactly that user's connections, without a channel, and counts them",
            body!(send),
        )
        .exclusive(),
        Scenario::new(
            "user.send_unknown",
            section::HTTP_API,
            "a message to a user with no connection is accepted and counts 0 connections",
            body!(send_unknown),
        ),
    ]
}

async fn send(ctx: Ctx) -> Outcome {
    if ctx.config().token.is_none() {
        let auth = match &ctx.shared.info {
            Ok(info) if !info.features.authentication => "the server's authentication is off and ",
            _ => "",
        };
        skip!("{auth}no --token was given, so no connection has a user");
    }
    // The user's connections from earlier scenarios must be gone first.
    ctx.settled_stats().await?;
    let mut user_conn = ctx.connect("U").await?;
    let Some(user) = user_conn.welcome.as_ref().and_then(|w| w.user_id.clone()) else {
        fail!("the connection made with --token was welcomed without a user_id");
    };
    // An anonymous connection (when allowed) must not receive it.
    let mut other = match ctx.try_open("A", "/ws/connect", None).await? {
        crate::ws::Opened::Conn(mut conn) => {
            conn.read_welcome().await?;
            Some(conn)
        }
        crate::ws::Opened::Refused { .. } => None,
    };
    let data = json!({"private": ctx.unique("user")});
    let answer = ctx.send_to_user(&user, "conformance.direct", &data).await?;
    ensure!(
        answer.connections == 1,
        "POST /api/ws/users/{user}/send counted {} connections, expected 1",
        answer.connections
    );
    user_conn
        .expect_exact_event("conformance.direct", None, &data)
        .await?;
    user_conn.barrier().await?;
    if let Some(conn) = other.as_mut() {
        conn.barrier().await?;
    }
    user_conn.close().await;
    if let Some(conn) = other {
        conn.close().await;
    }
    Ok(())
}

async fn send_unknown(ctx: Ctx) -> Outcome {
    let user = ctx.unique("nobody");
    let answer = ctx
        .send_to_user(&user, "conformance.direct", &json!({"n": 1}))
        .await?;
    ensure!(
        answer.connections == 0,
        "a user with no connection was counted with {} connections",
        answer.connections
    );
    Ok(())
}

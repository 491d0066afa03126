//! Channel authorization: who may subscribe to and publish on which channel.
//! The security rules (private channels, roles) extend `check`.

use brain_ws_protocol::ChannelName;

use crate::auth::Identity;
use crate::config::Config;
use crate::pattern::ChannelPattern;

/// Whether `identity` may use `channel`; the error is the reason to report.
pub(crate) fn check(
    _config: &Config,
    identity: &Identity,
    channel: &ChannelName,
) -> Result<(), String> {
    if let Some(allowed) = &identity.channels {
        let permitted = allowed.iter().any(|p| {
            p.parse::<ChannelPattern>()
                .is_ok_and(|p| p.matches(channel.as_str()))
        });
        if !permitted {
            return Err(format!("the token does not grant channel {channel}"));
        }
    }
    Ok(())
}

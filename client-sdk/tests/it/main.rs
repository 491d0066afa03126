//! Integration tests of `brain-ws-client`: stub servers for failure modes a
//! real server rarely shows, the real server library (port 0) for the rest.

mod backoff;
mod close_codes;
mod heartbeat;
mod jitter;
mod presence;
mod reconnect;
mod recovery;
mod restart;
mod rewind;
mod server;
mod stream_restart;
mod subscriptions;
mod support;

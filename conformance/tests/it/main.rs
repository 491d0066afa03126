//! Integration tests of the conformance suite: it passes a correct server,
//! catches each defect of deliberately broken ones, and its command line
//! exits and reports accordingly.

// Test code: a failed setup step should panic loudly, and the stub's
// handlers return axum responses as errors, as axum handlers do.
#![allow(clippy::unwrap_used, clippy::result_large_err)]

mod broken_servers;
mod cli;
mod docs;
mod reference_server;
mod stub;

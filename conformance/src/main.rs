//! brain-ws-conformance binary.
fn main() {}

//! brain-ws-bench binary.
fn main() {}

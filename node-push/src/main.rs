//! `node-push` binary entry point.
fn main() {}

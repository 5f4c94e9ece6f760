//! `cargo xtask`: build, test and benchmark tasks.
fn main() {}

//! `cassandra-snapshotter` binary entry point.
fn main() {}

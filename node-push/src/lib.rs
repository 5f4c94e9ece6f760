//! node-push's commands: the command line ([`cli`]) and what each command does with it. The work itself
//! is in the `engine` crate; the types shared with the coordinator are in the `contract` crate.
//!
//! - [`agent`]: `node-push upload` (and its incremental planning against a committed manifest);
//! - [`restore_command`]: `node-push restore`;
//! - [`stream_command`]: `node-push stream`;
//! - [`session`]: what every command does around its work: JSON lines on stdin, the store;
//! - [`watch`]: the stdin watch (credential refreshes, cancel when the coordinator goes away);
//! - [`metrics_job`]: `--metrics-file` labels and values of an upload job.

pub mod agent;
pub mod cli;
pub mod metrics_job;
pub mod restore_command;
pub mod session;
pub mod stream_command;
pub mod watch;

//! node-push builds compiled into this program: with the cargo feature `embed-node-push`, `build.rs`
//! includes each `$NODE_PUSH_EMBED_DIR/node-push-<arch>` it finds; without it the list is empty and a
//! normal build needs no cross-compiled node-push.

use super::locate::EmbeddedBuild;

include!(concat!(env!("OUT_DIR"), "/embedded_node_push.rs"));

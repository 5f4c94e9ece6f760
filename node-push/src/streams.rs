//! Backup streams on a node (in progress).

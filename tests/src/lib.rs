//! Test stack.

//! TODO: local

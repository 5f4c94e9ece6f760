//! TODO: ratelimit

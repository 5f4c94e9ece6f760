//! TODO: seaweed

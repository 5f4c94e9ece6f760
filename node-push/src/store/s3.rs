//! TODO: s3

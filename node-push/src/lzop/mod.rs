//! TODO lzop

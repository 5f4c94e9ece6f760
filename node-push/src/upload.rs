//! TODO: upload

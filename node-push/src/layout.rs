//! TODO: layout

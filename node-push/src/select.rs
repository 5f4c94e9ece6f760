//! TODO: select

//! TODO: cassandra

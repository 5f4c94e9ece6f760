//! TODO: sshd

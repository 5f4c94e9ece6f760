//! Exit codes, one table for both binaries. Scripts and the coordinator read them, so they are part of
//! the contract: a code never changes meaning.

/// How a run ended. `node-push` exits with [`ExitStatus::code`]; the coordinator maps a node-push exit
/// status back with [`ExitStatus::from_code`] and exits with the same codes for its own runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// Everything asked was done (files skipped for a stated reason count as done).
    Success,
    /// Some work failed and the rest was done; or bad input, named in one line, before anything changed.
    Failed,
    /// The run could not start: a fatal error before any work (node-push's `fatal` message says why), or
    /// the command line or config file could not be parsed (clap's usage errors exit 2 as well).
    Fatal,
    /// Stopped because the other side went away (stdin closed) or was told to stop.
    Cancelled,
    /// Interrupted by the user (Ctrl-C), as shells report SIGINT.
    Interrupted,
}

impl ExitStatus {
    /// The process exit code.
    pub const fn code(self) -> i32 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failed => 1,
            ExitStatus::Fatal => 2,
            ExitStatus::Cancelled => 3,
            ExitStatus::Interrupted => 130,
        }
    }

    /// The status an exit code stands for; codes outside the table (a crash, a signal) are `None`.
    pub const fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            0 => ExitStatus::Success,
            1 => ExitStatus::Failed,
            2 => ExitStatus::Fatal,
            3 => ExitStatus::Cancelled,
            130 => ExitStatus::Interrupted,
            _ => return None,
        })
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        // Every code in the table fits a byte.
        std::process::ExitCode::from(status.code() as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_code() {
        use ExitStatus::*;
        for status in [Success, Failed, Fatal, Cancelled, Interrupted] {
            assert_eq!(ExitStatus::from_code(status.code()), Some(status));
        }
        assert_eq!(ExitStatus::from_code(134), None);
    }
}

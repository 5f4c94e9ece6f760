//! The one writer of node-push's stdout.
//!
//! Every part of the pipeline sends [`Message`]s through a [`Reporter`]; a single task writes them as JSON
//! lines, so lines never interleave. Progress messages are throttled per file.

use contract::message::Message;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where messages go: stdout as JSON lines, or a collector (tests, embedding).
#[derive(Clone)]
pub struct Reporter {
    sink: Arc<Mutex<Sink>>,
}

enum Sink {
    Stdout(std::io::Stdout),
    Collect(Vec<Message>),
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reporter")
    }
}

impl Reporter {
    /// Writes JSON lines to stdout.
    pub fn stdout() -> Self {
        Reporter {
            sink: Arc::new(Mutex::new(Sink::Stdout(std::io::stdout()))),
        }
    }

    /// Keeps messages in memory; read them with [`Reporter::collected`].
    pub fn collector() -> Self {
        Reporter {
            sink: Arc::new(Mutex::new(Sink::Collect(Vec::new()))),
        }
    }

    pub fn emit(&self, message: Message) {
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &mut *sink {
            Sink::Stdout(out) => {
                let mut out = out.lock();
                // A closed stdout means the coordinator is gone; stdin EOF handling stops the run.
                let _ = writeln!(out, "{}", message.to_line()).and_then(|_| out.flush());
            }
            Sink::Collect(messages) => messages.push(message),
        }
    }

    /// Messages kept by a collector (empty for stdout).
    pub fn collected(&self) -> Vec<Message> {
        match &*self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            Sink::Collect(messages) => messages.clone(),
            Sink::Stdout(_) => Vec::new(),
        }
    }
}

/// One human line on stderr, prefixed `node-push: `. Unlike `eprintln!`, it never panics: when the SSH
/// connection drops, stderr is gone, and the run must still abort its uploads and stop in order.
pub fn log_line(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "node-push: {line}");
}

/// Emits a file's progress at most every [`ProgressThrottle::INTERVAL`].
#[derive(Debug)]
pub struct ProgressThrottle {
    last: Instant,
}

impl ProgressThrottle {
    pub const INTERVAL: Duration = Duration::from_millis(500);

    pub fn new() -> Self {
        ProgressThrottle {
            last: Instant::now(),
        }
    }

    /// True when enough time passed since the last progress message.
    pub fn ready(&mut self) -> bool {
        if self.last.elapsed() >= Self::INTERVAL {
            self.last = Instant::now();
            true
        } else {
            false
        }
    }
}

impl Default for ProgressThrottle {
    fn default() -> Self {
        Self::new()
    }
}

//! Per-host upload counters behind the progress bars, and the one byte formatting of every report.

use std::collections::HashMap;

/// What one host's node-push has done so far.
#[derive(Debug, Clone, Default)]
pub struct HostProgress {
    files_total: u64,
    bytes_total: u64,
    files_done: u64,
    bytes_completed: u64,
    in_flight: HashMap<String, u64>,
}

impl HostProgress {
    pub fn new(files_total: u64, bytes_total: u64) -> Self {
        HostProgress {
            files_total,
            bytes_total,
            ..Self::default()
        }
    }

    pub fn file_progress(&mut self, path: &str, bytes_read: u64) {
        self.in_flight.insert(path.to_string(), bytes_read);
    }

    pub fn file_finished(&mut self, path: &str, size: u64) {
        self.in_flight.remove(path);
        self.files_done += 1;
        self.bytes_completed += size;
    }

    /// Bytes of finished files plus the bytes read of files in flight, never above the plan's total.
    pub fn bytes_done(&self) -> u64 {
        let in_flight: u64 = self.in_flight.values().sum();
        (self.bytes_completed + in_flight).min(self.bytes_total.max(self.bytes_completed))
    }

    pub fn files_text(&self) -> String {
        format!("files {}/{}", self.files_done, self.files_total)
    }
}

/// Bytes for people, as the progress bars show them (indicatif's `HumanBytes`: `512 B`, `1.50 KiB`,
/// `3.00 GiB`), so a report's sizes read like the bars above it.
pub fn human_bytes(bytes: u64) -> String {
    indicatif::HumanBytes(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_finished_and_in_flight_bytes() {
        let mut p = HostProgress::new(2, 100);
        p.file_progress("/a", 30);
        assert_eq!(p.bytes_done(), 30);
        p.file_finished("/a", 40);
        p.file_progress("/b", 10);
        assert_eq!(p.bytes_done(), 50);
        assert_eq!(p.files_text(), "files 1/2");
    }

    #[test]
    fn formats_bytes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.50 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.00 GiB");
    }
}

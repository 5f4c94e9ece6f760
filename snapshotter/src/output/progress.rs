//! Per-host upload counters behind the progress bars, and byte formatting.

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

/// `1.5 GiB`, `512 B`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
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
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
    }
}

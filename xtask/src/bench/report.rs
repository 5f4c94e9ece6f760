//! The benchmark's Markdown: tables of measured runs, ratios to the reference tool, and the targets.

use std::fmt::Write;

use super::measure::Measurement;

const MIB: f64 = 1024.0 * 1024.0;
/// Throughput is in decimal megabytes per second, as `lzop` and most tools print it.
const MB: f64 = 1_000_000.0;

/// One run of one tool.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub measured: Measurement,
    /// What the tool left in the store (object sizes summed, or file sizes for a local directory).
    pub stored_bytes: u64,
    /// CPU seconds the S3 server spent while the tool ran (it shares the two cores with the client).
    pub server_cpu_secs: Option<f64>,
}

/// One tool's runs, summarised: every figure is the median of its runs, taken figure by figure.
#[derive(Debug, Clone)]
pub struct Row {
    pub tool: String,
    pub measured: Measurement,
    /// The highest peak RSS of any run.
    pub max_rss_kib: u64,
    pub runs: usize,
    pub stored_bytes: u64,
    pub server_cpu_secs: Option<f64>,
}

impl Row {
    /// The medians of `samples` (at least one).
    pub fn from_samples(tool: impl Into<String>, samples: &[Sample]) -> Row {
        assert!(!samples.is_empty(), "a row needs at least one run");
        let of = |figure: &dyn Fn(&Sample) -> f64| median(samples.iter().map(figure).collect());
        let server_cpu_secs = samples
            .iter()
            .all(|sample| sample.server_cpu_secs.is_some())
            .then(|| of(&|sample| sample.server_cpu_secs.unwrap_or_default()));
        Row {
            tool: tool.into(),
            measured: Measurement {
                wall_secs: of(&|sample| sample.measured.wall_secs),
                user_secs: of(&|sample| sample.measured.user_secs),
                system_secs: of(&|sample| sample.measured.system_secs),
                max_rss_kib: of(&|sample| sample.measured.max_rss_kib as f64).round() as u64,
            },
            max_rss_kib: samples
                .iter()
                .map(|sample| sample.measured.max_rss_kib)
                .max()
                .unwrap_or_default(),
            runs: samples.len(),
            stored_bytes: of(&|sample| sample.stored_bytes as f64).round() as u64,
            server_cpu_secs,
        }
    }

    /// Peak RSS in MiB: the median, and the highest run's when several runs differ.
    fn rss_cell(&self) -> String {
        let median = self.measured.max_rss_mib();
        let max = self.max_rss_kib as f64 / 1024.0;
        if self.runs > 1 && max - median >= 0.05 {
            format!("{median:.1} (max {max:.1})")
        } else {
            format!("{median:.1}")
        }
    }
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The S3 table (uploads or restores); ratios are to `reference` (rclone). `bytes_column` names what
/// [`Row::stored_bytes`] counts.
pub fn s3_table(rows: &[Row], reference: &Row, bytes_column: &str) -> String {
    // The reference's program name ("rclone"), not its whole label, heads the ratio columns.
    let reference_name = reference.tool.split_whitespace().next().unwrap_or_default();
    let mut table = format!(
        "| tool | wall s | client CPU s | peak RSS MiB | {bytes_column} | wall/{reference_name} \
         | CPU/{reference_name} | S3 server CPU s |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    for row in rows {
        let server = row
            .server_cpu_secs
            .map_or_else(|| "n/a".to_string(), |secs| format!("{secs:.1}"));
        let _ = writeln!(
            table,
            "| {} | {:.1} | {:.2} | {} | {:.1} | {:.2} | {:.2} | {server} |",
            row.tool,
            row.measured.wall_secs,
            row.measured.cpu_secs(),
            row.rss_cell(),
            row.stored_bytes as f64 / MIB,
            ratio(row.measured.wall_secs, reference.measured.wall_secs),
            ratio(row.measured.cpu_secs(), reference.measured.cpu_secs()),
        );
    }
    table
}

/// The local compression table: throughput over `source_bytes`, ratio to `reference` (`lzop -1`) if any.
pub fn local_table(rows: &[Row], source_bytes: u64, reference: Option<&Row>) -> String {
    let mut table = match reference {
        Some(reference) => format!(
            "| tool | wall s | CPU s | peak RSS MiB | stored MiB | MB/s | throughput/({}) |\n\
             |---|---:|---:|---:|---:|---:|---:|\n",
            reference.tool
        ),
        None => "| tool | wall s | CPU s | peak RSS MiB | stored MiB | MB/s |\n\
                 |---|---:|---:|---:|---:|---:|\n"
            .to_string(),
    };
    for row in rows {
        let _ = write!(
            table,
            "| {} | {:.2} | {:.2} | {} | {:.1} | {:.0} |",
            row.tool,
            row.measured.wall_secs,
            row.measured.cpu_secs(),
            row.rss_cell(),
            row.stored_bytes as f64 / MIB,
            throughput_mb_s(source_bytes, &row.measured),
        );
        if let Some(reference) = reference {
            let _ = write!(table, " {:.2} |", throughput_ratio(row, reference));
        }
        table.push('\n');
    }
    table
}

/// Source megabytes per wall-clock second.
pub fn throughput_mb_s(source_bytes: u64, measured: &Measurement) -> f64 {
    ratio(source_bytes as f64 / MB, measured.wall_secs)
}

/// How many times faster than `reference` a row moved the same bytes.
pub fn throughput_ratio(row: &Row, reference: &Row) -> f64 {
    ratio(reference.measured.wall_secs, row.measured.wall_secs)
}

/// `numerator / denominator`, infinite when the denominator rounded to zero (GNU time has 10 ms steps).
pub fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        f64::INFINITY
    }
}

/// Which side of its limit a target's value must be on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    AtMost(f64),
    AtLeast(f64),
}

/// One of the targets with what was measured for it.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub measured: f64,
    pub bound: Bound,
}

impl Target {
    pub fn new(name: impl Into<String>, measured: f64, bound: Bound) -> Self {
        Target {
            name: name.into(),
            measured,
            bound,
        }
    }

    pub fn met(&self) -> bool {
        match self.bound {
            Bound::AtMost(limit) => self.measured <= limit,
            Bound::AtLeast(limit) => self.measured >= limit,
        }
    }
}

/// A Markdown list, one target a line: "met" or "NOT met", the value, the bound.
pub fn target_list(targets: &[Target]) -> String {
    let mut list = String::new();
    for target in targets {
        let (sign, limit) = match target.bound {
            Bound::AtMost(limit) => ("≤", limit),
            Bound::AtLeast(limit) => ("≥", limit),
        };
        let verdict = if target.met() { "met" } else { "NOT met" };
        let _ = writeln!(
            list,
            "- {verdict}: {} = {:.2} (target {sign} {limit})",
            target.name, target.measured
        );
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(wall_secs: f64, cpu_secs: f64, rss_mib: u64, stored_mib: u64) -> Sample {
        Sample {
            measured: Measurement {
                wall_secs,
                user_secs: cpu_secs,
                system_secs: 0.0,
                max_rss_kib: rss_mib * 1024,
            },
            stored_bytes: stored_mib << 20,
            server_cpu_secs: Some(3.0),
        }
    }

    fn row(tool: &str, wall_secs: f64, cpu_secs: f64, rss_mib: u64, stored_mib: u64) -> Row {
        Row::from_samples(tool, &[sample(wall_secs, cpu_secs, rss_mib, stored_mib)])
    }

    #[test]
    fn rows_hold_the_median_of_each_figure_and_the_highest_peak() {
        let samples = [
            sample(12.0, 5.0, 60, 100),
            sample(10.0, 7.0, 90, 100),
            sample(30.0, 6.0, 64, 100),
        ];
        let row = Row::from_samples("node-push", &samples);
        assert_eq!(row.measured.wall_secs, 12.0);
        assert_eq!(row.measured.cpu_secs(), 6.0);
        assert_eq!(row.measured.max_rss_kib, 64 * 1024);
        assert_eq!(row.max_rss_kib, 90 * 1024);
        assert_eq!((row.runs, row.stored_bytes), (3, 100 << 20));
        assert_eq!(row.server_cpu_secs, Some(3.0));
        assert_eq!(row.rss_cell(), "64.0 (max 90.0)");
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        let mut without_server = samples;
        without_server[1].server_cpu_secs = None;
        assert_eq!(
            Row::from_samples("lzop", &without_server).server_cpu_secs,
            None
        );
    }

    #[test]
    fn s3_table_shows_ratios_to_the_reference() {
        let rclone = row("rclone copy --transfers 4", 20.0, 10.0, 80, 1024);
        let rows = [row("node-push", 10.0, 4.0, 30, 960), rclone.clone()];
        let table = s3_table(&rows, &rclone, "stored MiB");
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[0].contains("| stored MiB | wall/rclone | CPU/rclone |"),
            "{table}"
        );
        assert_eq!(
            lines[2],
            "| node-push | 10.0 | 4.00 | 30.0 | 960.0 | 0.50 | 0.40 | 3.0 |"
        );
        assert_eq!(
            lines[3],
            "| rclone copy --transfers 4 | 20.0 | 10.00 | 80.0 | 1024.0 | 1.00 | 1.00 | 3.0 |"
        );
    }

    #[test]
    fn local_table_shows_throughput_in_decimal_megabytes() {
        let lzop = row("lzop -1", 4.0, 7.0, 2, 1000);
        let node_push = row("node-push", 2.0, 3.0, 40, 990);
        let table = local_table(std::slice::from_ref(&node_push), 1_000_000_000, Some(&lzop));
        assert!(
            table.contains("| node-push | 2.00 | 3.00 | 40.0 | 990.0 | 500 | 2.00 |\n"),
            "{table}"
        );
        let alone = local_table(&[node_push], 1_000_000_000, None);
        assert!(
            alone.ends_with("| node-push | 2.00 | 3.00 | 40.0 | 990.0 | 500 |\n"),
            "{alone}"
        );
    }

    #[test]
    fn targets_say_met_or_not() {
        let targets = [
            Target::new("wall", 0.7, Bound::AtMost(0.8)),
            Target::new("rss", 70.0, Bound::AtMost(64.0)),
            Target::new("speed", 0.8, Bound::AtLeast(0.8)),
        ];
        let list = target_list(&targets);
        assert_eq!(
            list,
            "- met: wall = 0.70 (target ≤ 0.8)\n\
             - NOT met: rss = 70.00 (target ≤ 64)\n\
             - met: speed = 0.80 (target ≥ 0.8)\n"
        );
        assert_eq!(ratio(1.0, 0.0), f64::INFINITY);
    }
}

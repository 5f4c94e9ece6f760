//! What a purge did or would do: the JSON outcome, and the table people read, grouped by selection so
//! that every backup's line sits under what it covers.

use super::plan::{Decision, PurgePlan};
use crate::output::human_bytes;
use crate::output::table::{Column, Table};
use contract::manifest::Selection;
use serde::Serialize;
use std::fmt::Write as _;

/// What was removed from one backup.
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    pub name: String,
    pub objects: usize,
    pub bytes: u64,
    /// Objects under its prefix (or listed by its manifest) left in place because a remaining backup's
    /// manifest lists them.
    pub shared_kept: usize,
    pub error: Option<String>,
}

impl Removed {
    pub fn new(name: &str) -> Self {
        Removed {
            name: name.to_string(),
            objects: 0,
            bytes: 0,
            shared_kept: 0,
            error: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PurgeOutcome {
    pub dry_run: bool,
    pub plan: PurgePlan,
    pub removed: Vec<Removed>,
    pub uploads_aborted: usize,
    pub errors: Vec<String>,
}

/// The decisions grouped by selection, each group in the order of its newest backup; backups whose
/// selection is unknown (no readable manifest or run record) last.
fn groups(backups: &[Decision]) -> Vec<(Option<&Selection>, Vec<&Decision>)> {
    let mut groups: Vec<(Option<&Selection>, Vec<&Decision>)> = Vec::new();
    for d in backups {
        let key = d.selection.as_ref();
        match groups.iter_mut().find(|(s, _)| *s == key) {
            Some((_, members)) => members.push(d),
            None => groups.push((key, vec![d])),
        }
    }
    groups.sort_by_key(|(s, _)| s.is_none());
    groups
}

impl PurgeOutcome {
    pub fn table(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run {
            "would remove"
        } else {
            "remove"
        };
        for (selection, members) in groups(&self.plan.backups) {
            let _ = match selection {
                Some(s) => writeln!(out, "selection {s}:"),
                None => writeln!(
                    out,
                    "selection unknown (no readable manifest or run record):"
                ),
            };
            // The decision and its reason are one cell: the reason follows its verb, unaligned.
            let mut table = Table::without_header(vec![
                Column::left("NAME"),
                Column::left("STATE").min_width("incomplete".len()),
                Column::left("DECISION"),
            ])
            .indented("  ");
            for d in members {
                table.row([
                    d.name.clone(),
                    if d.complete { "complete" } else { "incomplete" }.to_string(),
                    format!("{}  ({})", if d.delete { verb } else { "keep" }, d.reason),
                ]);
            }
            out.push_str(&table.render());
        }
        for u in &self.plan.abort_uploads {
            let _ = writeln!(
                out,
                "multipart upload {} (started {}): {}",
                u.key,
                u.initiated.as_deref().unwrap_or("?"),
                match (u.abort, self.dry_run) {
                    (true, true) => "would abort",
                    (true, false) => "abort",
                    (false, _) => "keep",
                }
            );
        }
        for r in &self.removed {
            let _ = writeln!(
                out,
                "removed {}: {} objects, {}{}{}",
                r.name,
                r.objects,
                human_bytes(r.bytes),
                match r.shared_kept {
                    0 => String::new(),
                    n => format!(", {n} kept (a remaining backup lists them)"),
                },
                r.error
                    .as_ref()
                    .map(|e| format!(" (incomplete: {e})"))
                    .unwrap_or_default()
            );
        }
        for e in &self.errors {
            let _ = writeln!(out, "error: {e}");
        }
        out
    }
}

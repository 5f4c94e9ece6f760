//! What a purge did or would do: the JSON outcome, and the table people read, grouped by selection so
//! that every backup's line sits under what it covers.

use super::plan::{Decision, PurgePlan};
use crate::output::human_bytes;
use crate::output::table::{Column, Table};
use contract::manifest::Selection;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// What was removed from one backup.
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    pub name: String,
    pub objects: usize,
    pub bytes: u64,
    /// Objects under its prefix (or listed by its manifest) left in place because a remaining backup
    /// references them.
    pub shared_kept: usize,
    /// The backups whose references kept objects of it.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub kept_for: BTreeSet<String>,
    /// Every object kept: a backup in progress (`kept_for`) names it as its reference.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub kept_all: bool,
    pub error: Option<String>,
}

impl Removed {
    pub fn new(name: &str) -> Self {
        Removed {
            name: name.to_string(),
            objects: 0,
            bytes: 0,
            shared_kept: 0,
            kept_for: BTreeSet::new(),
            kept_all: false,
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
                    match (d.complete, d.purged) {
                        (true, _) => "complete",
                        (false, true) => "purged",
                        (false, false) => "incomplete",
                    }
                    .to_string(),
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
        let done = if self.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for r in &self.removed {
            let for_whom = r.kept_for.iter().cloned().collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                out,
                "{done} {}: {} objects, {}{}{}",
                r.name,
                r.objects,
                human_bytes(r.bytes),
                match (r.kept_all, r.shared_kept) {
                    (true, _) => format!(
                        ", every object kept (backup in progress {for_whom} may reference it)"
                    ),
                    (false, 0) => String::new(),
                    (false, n) => format!(", {n} kept (referenced by {for_whom})"),
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

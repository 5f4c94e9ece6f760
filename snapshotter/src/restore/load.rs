//! `--mode refresh` on a running Cassandra: how restored SSTables get loaded, by version.
//!
//! - Cassandra 4.0 and later: `nodetool import --keep-level KS TABLE <staging dirs>`. Cassandra reads the
//!   verified staging directory itself (it is in the data dir, so its moves are renames), gives every
//!   SSTable a new generation, keeps compaction levels, and (with `incremental_backups`) hard-links them
//!   into `backups/`. Nothing of ours is moved into the live directory. A directory it could not import is
//!   named on its stderr and it exits 1; its files stay where they were.
//! - Before 4.0: the files are moved into the live table directory (see [`super::placement`]) and
//!   `nodetool refresh KS TABLE` loads them; 4.0 deprecates that.
//!
//! Either way Cassandra builds the table's secondary indexes from the loaded SSTables, so their
//! `.<index>/` files are not restored at all (see [`super::tables::TableGroup::leave_out_indexes`]).
//! What nodetool prints is shown with `-v`, and a deprecation notice always.

use super::node::table_report;
use super::report::{TableState, TargetReport};
use super::scripts;
use super::tables::TableGroup;
use crate::nodetool::CassandraVersion;
use crate::output::Output;
use crate::remote::{CommandOutput, Remote};
use crate::stages::preflight::NodeBasics;
use anyhow::Result;
use engine::restore::sstable::SstableName;

/// How a refresh loads the files into Cassandra.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// Move into the live directory, then `nodetool refresh`.
    Refresh,
    /// `nodetool import` from the staging directory.
    Import,
}

impl Loader {
    /// The loader of `--mode refresh` for the node's version (`refresh` when it is unknown); `None` for
    /// the modes that do not load into a running Cassandra.
    pub fn for_version(
        mode: crate::cli::ModeArg,
        version: Option<CassandraVersion>,
    ) -> Option<Loader> {
        if mode != crate::cli::ModeArg::Refresh {
            return None;
        }
        Some(match version {
            Some(v) if v.major >= 4 => Loader::Import,
            _ => Loader::Refresh,
        })
    }

    /// One line for the log: which loader, and why.
    pub fn describe(self, version: Option<CassandraVersion>) -> String {
        let version = version
            .map(|v| format!("Cassandra {v}"))
            .unwrap_or_else(|| "Cassandra of unknown version".to_string());
        match self {
            Loader::Import => format!(
                "{version}: loading with `nodetool import` from the verified staging directory"
            ),
            Loader::Refresh => format!(
                "{version}: moving into the live table directories, then `nodetool refresh`"
            ),
        }
    }
}

/// nodetool's output: every line with `-v`, a line that says something is deprecated always.
pub fn show_nodetool_output(output: &Output, host: &str, out: &CommandOutput) {
    for line in out.stdout.lines().chain(out.stderr.lines()) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.contains("deprecated") {
            output.warn(format!("{host}: nodetool: {line}"));
        } else {
            output.verbose(format!("{host}: nodetool: {line}"));
        }
    }
}

/// `nodetool import` for each complete table; returns the groups whose staged files Cassandra took (their
/// staging dirs may go). A table whose import failed, or left SSTables behind, keeps them in staging.
pub async fn import_tables(
    remote: &dyn Remote,
    basics: &NodeBasics,
    groups: &[TableGroup],
    complete: &[usize],
    report: &mut TargetReport,
    output: &Output,
) -> Result<Vec<usize>> {
    let host = remote.host();
    let mut imported = Vec::new();
    for &index in complete {
        let group = &groups[index];
        let dirs = group.staged_dirs();
        let command = basics.nodetool.import(&group.keyspace, &group.table, &dirs);
        output.verbose(format!("{host}: $ {}", command.shown()));
        let out = remote.run(&command, None).await?;
        show_nodetool_output(output, host, &out);
        let mut table = table_report(group, TableState::Imported, None);
        let left = if out.success() {
            let privilege = basics.nodetool.privilege;
            let listing = scripts::list_files(remote, privilege, &dirs).await?;
            listing
                .into_iter()
                .filter(|(_, file)| !file.contains('/') && SstableName::parse(file).is_some())
                .map(|(dir, file)| format!("{dir}/{file}"))
                .collect::<Vec<_>>()
        } else {
            Vec::new()
        };
        let error = if !out.success() {
            Some(format!(
                "{host}: `{}` failed: {} (the verified files stay in {})",
                command.shown(),
                out.reason(),
                dirs.join(", ")
            ))
        } else if !left.is_empty() {
            Some(format!(
                "{host}: `{}` left {} file(s) it did not load, e.g. {} (they stay in staging; see Cassandra's log)",
                command.shown(),
                left.len(),
                left[0]
            ))
        } else {
            None
        };
        match error {
            Some(error) => {
                output.error(&error);
                table.state = TableState::Failed;
                table.error = Some(error);
            }
            None => {
                output.info(format!(
                    "{host}: {}.{}: {} SSTables ({} files) imported into {}",
                    group.keyspace,
                    group.table,
                    table.sstables,
                    table.files,
                    group.live_dir.as_deref().unwrap_or("the table")
                ));
                imported.push(index);
            }
        }
        report.tables.push(table);
    }
    Ok(imported)
}

//! The node modes on one target node: check it (Cassandra running for `refresh`, stopped for `in-place`),
//! install node-push, restore into the staging area, and for `refresh`/`in-place` move each complete
//! table into its live directory (all or nothing), then `nodetool refresh` or print the tokens.
//!
//! A table with any file that node-push could not restore (missing, corrupt, disk full) is never moved:
//! its verified files stay in staging, where Cassandra does not look, and the error names the object.

use super::agent;
use super::load;
use super::placement::{place, Renumber, StagedFile, REFRESH_GENERATION_MARGIN};
use super::report::{TableReport, TableState, TargetReport};
use super::scripts::{self, ProcessCheck};
use super::settings::RestoreSettings;
use super::tables::{self, TableGroup};
use crate::cli::ModeArg;
use crate::nodetool::CassandraVersion;
use crate::output::Output;
use crate::remote::{Connector, Remote};
use crate::stages::install::{self, NodePushBinary};
use crate::stages::preflight::{self, NodeBasics};
use anyhow::{bail, Result};
use contract::message::RestoreFailure;
use contract::request::{RestoreFilesRequest, StoreRequest};
use engine::restore::PlannedFile;
use engine::store::Destination;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// What every node of a run shares.
pub struct NodeRestore {
    pub settings: Arc<RestoreSettings>,
    pub output: Arc<Output>,
    pub binary: NodePushBinary,
    pub connector: Arc<dyn Connector>,
    pub backup_name: String,
    /// The backup's `ring` object, for in-place tokens.
    pub ring: Option<String>,
}

impl NodeRestore {
    /// Restore `files` (planned relative to `/`) onto `target`.
    pub async fn run(&self, target: &str, files: &[PlannedFile]) -> TargetReport {
        let mut report = TargetReport::new(target);
        let mut groups = tables::group(files);
        if let Err(error) = self.run_groups(target, &mut groups, &mut report).await {
            let error = format!("{error:#}");
            self.output.error(&error);
            report.fail(error);
        }
        report.settle();
        report
    }

    async fn run_groups(
        &self,
        target: &str,
        groups: &mut [TableGroup],
        report: &mut TargetReport,
    ) -> Result<()> {
        let s = &self.settings;
        let remote = self.connector.connect(target).await?;
        let remote = remote.as_ref();
        let basics = preflight::inspect(remote, &s.nodes.preflight).await?;
        let version = self.check_cassandra_state(remote, &basics).await?;
        let loader = load::Loader::for_version(s.mode, version);
        if let Some(loader) = loader {
            self.output
                .info(format!("{target}: {}", loader.describe(version)));
        }
        let loading = loader.is_some();
        let active = self
            .place_groups(remote, target, &basics, loading, groups, report)
            .await?;
        if active.is_empty() {
            return Ok(());
        }
        let complete = self
            .restore_active(remote, target, &basics, groups, &active, report)
            .await?;
        if s.mode == ModeArg::Stage {
            for &index in &complete {
                report
                    .tables
                    .push(table_report(&groups[index], TableState::Staged, None));
            }
            return Ok(());
        }
        let moved = match loader {
            Some(load::Loader::Import) => {
                load::import_tables(remote, &basics, groups, &complete, report, &self.output)
                    .await?
            }
            _ => {
                self.move_tables(remote, &basics, groups, &complete, report)
                    .await?
            }
        };
        self.clean_staging(remote, groups, &active, &moved).await;
        if s.mode == ModeArg::InPlace {
            self.report_tokens(target, &basics, groups, &active, report)
                .await;
        }
        Ok(())
    }

    /// Finds each table's live directory and where its files go; returns the groups to restore. A table
    /// `refresh` cannot load (no live directory) is reported failed; with a loader, index SSTables are left
    /// for Cassandra to rebuild.
    async fn place_groups(
        &self,
        remote: &dyn Remote,
        target: &str,
        basics: &NodeBasics,
        loading: bool,
        groups: &mut [TableGroup],
        report: &mut TargetReport,
    ) -> Result<Vec<usize>> {
        let s = &self.settings;
        let dirs = scripts::table_dirs(
            remote,
            s.nodes.preflight.privilege,
            &s.keyspace,
            &basics.data_dirs,
        )
        .await?;
        let missing_live = match s.mode {
            ModeArg::InPlace => tables::MissingLiveDir::Create,
            _ => tables::MissingLiveDir::Leave,
        };
        let mut active: Vec<usize> = Vec::new();
        for (index, group) in groups.iter_mut().enumerate() {
            let backup_dirs: Vec<String> = group
                .files
                .iter()
                .map(|f| f.backup_table_dir.clone())
                .collect();
            let backup_dirs: Vec<&str> = backup_dirs.iter().map(String::as_str).collect();
            let live = tables::live_dir(&dirs, &group.table, &backup_dirs);
            tables::place_group(
                group,
                &basics.data_dirs,
                live,
                &self.backup_name,
                missing_live,
            );
            if s.mode == ModeArg::Refresh && group.live_dir.is_none() {
                report.tables.push(table_report(
                    group,
                    TableState::Failed,
                    Some(format!(
                        "no directory of table {}.{} in {} on {target}: create the table (schema) first",
                        group.keyspace,
                        group.table,
                        basics.data_dirs.join(", ")
                    )),
                ));
                continue;
            }
            if loading {
                let indexes = group.leave_out_indexes().to_vec();
                if !indexes.is_empty() {
                    self.output.info(format!(
                        "{target}: {}.{}: index {} not restored: Cassandra builds it from the loaded SSTables",
                        group.keyspace,
                        group.table,
                        indexes.join(", ")
                    ));
                }
                if group.files.is_empty() {
                    continue;
                }
            }
            active.push(index);
        }
        Ok(active)
    }

    /// Installs node-push and restores the `active` groups' files into staging; returns the groups whose
    /// every file was restored and reports the others failed, naming the first real failure.
    async fn restore_active(
        &self,
        remote: &dyn Remote,
        target: &str,
        basics: &NodeBasics,
        groups: &[TableGroup],
        active: &[usize],
        report: &mut TargetReport,
    ) -> Result<Vec<usize>> {
        let s = &self.settings;
        let path = self
            .binary
            .remote_path(s.nodes.node_push_path.as_deref(), &basics.home);
        install::install(remote, &self.binary, &path, &basics.arch).await?;
        let mut request = self.node_push_request(basics);
        request.files = active
            .iter()
            .flat_map(|&i| groups[i].files.iter().map(|f| f.file.clone()))
            .collect();
        let input = s.common.s3.credentials.node_input();
        let privilege = s.nodes.preflight.privilege;
        let run = agent::run(remote, privilege, &path, request, &input, &self.output).await?;
        if let Some(summary) = &run.summary {
            report.files_restored = summary.files_done;
            report.files_failed = summary.files_failed;
            report.bytes_written = summary.bytes_written;
        }
        let broken = run.broken(target);
        let done: BTreeSet<PathBuf> = run.done.iter().cloned().collect();
        let failures: BTreeMap<PathBuf, &agent::FailedFile> =
            run.failed.iter().map(|f| (f.target.clone(), f)).collect();
        let mut complete: Vec<usize> = Vec::new();
        for &index in active {
            let group = &groups[index];
            let missing: Vec<&tables::TableFile> = group
                .files
                .iter()
                .filter(|f| !done.contains(&f.file.target))
                .collect();
            if missing.is_empty() {
                complete.push(index);
                continue;
            }
            let reason = self.failure_reason(&missing, &failures, broken.as_deref());
            report
                .tables
                .push(table_report(group, TableState::Failed, Some(reason)));
        }
        if let Some(broken) = broken {
            report.fail(broken);
        }
        Ok(complete)
    }

    /// Why a table with `missing` files failed: its first file that failed on its own, else the broken
    /// session, else the count; outside `stage`, that its verified files stay in staging.
    fn failure_reason(
        &self,
        missing: &[&tables::TableFile],
        failures: &BTreeMap<PathBuf, &agent::FailedFile>,
        broken: Option<&str>,
    ) -> String {
        let failed: Vec<&agent::FailedFile> = missing
            .iter()
            .filter_map(|f| failures.get(&f.file.target).copied())
            .collect();
        let first = failed
            .iter()
            .find(|f| f.failure != RestoreFailure::TableFailed)
            .or(failed.first());
        let reason = match (first, broken) {
            (Some(f), _) => f.error.clone(),
            (None, Some(broken)) => broken.to_string(),
            (None, None) => format!("{} file(s) were not restored", missing.len()),
        };
        let where_ = if self.settings.mode == ModeArg::Stage {
            ""
        } else {
            "; nothing of it was moved into the live table (verified files stay in staging)"
        };
        format!("{reason}{where_}")
    }

    /// Removes the staging directories of the `moved` tables and the staging roots left empty; a failure
    /// is a warning (the data is live already).
    async fn clean_staging(
        &self,
        remote: &dyn Remote,
        groups: &[TableGroup],
        active: &[usize],
        moved: &[usize],
    ) {
        let staged_tables: Vec<String> = moved
            .iter()
            .flat_map(|&i| groups[i].staged_dirs())
            .collect();
        let roots: BTreeSet<String> = active
            .iter()
            .map(|&i| groups[i].staging_root.clone())
            .collect();
        let roots: Vec<String> = roots.into_iter().collect();
        let privilege = self.settings.nodes.preflight.privilege;
        if let Err(error) = scripts::clean_staging(remote, privilege, &staged_tables, &roots).await
        {
            self.output.warn(format!("{error:#}"));
        }
    }

    /// `in-place`: the tokens each source host had, for the operator to set as `initial_token`.
    async fn report_tokens(
        &self,
        target: &str,
        basics: &NodeBasics,
        groups: &[TableGroup],
        active: &[usize],
        report: &mut TargetReport,
    ) {
        let sources: BTreeSet<String> = active
            .iter()
            .flat_map(|&i| groups[i].source_hosts())
            .collect();
        report.tokens = super::ring::tokens_of(
            self.ring.as_deref(),
            target,
            &basics.yaml_text,
            &sources,
            &self.settings.nodes.ssh,
            &self.output,
        )
        .await;
        for token in &report.tokens {
            self.output.info(format!(
                "{target}: tokens of {} ({}): initial_token: {}",
                token.source_host,
                token.address.as_deref().unwrap_or("address unknown"),
                token.tokens.join(",")
            ));
        }
    }

    /// `refresh` needs Cassandra up (its version is returned, `None` when nodetool does not say it);
    /// `in-place` needs it down (nodetool silent, and no CassandraDaemon process holding the node's files).
    async fn check_cassandra_state(
        &self,
        remote: &dyn Remote,
        basics: &NodeBasics,
    ) -> Result<Option<CassandraVersion>> {
        let host = remote.host();
        let version = basics.nodetool.version();
        match self.settings.mode {
            ModeArg::Refresh => {
                let out = remote.run(&version, None).await?;
                if !out.success() {
                    bail!(
                        "{host}: --mode refresh needs Cassandra running, but `{}` failed: {} \
                         (for a stopped node use --mode in-place)",
                        version.shown(),
                        out.reason()
                    );
                }
                return Ok(CassandraVersion::parse(&out.stdout));
            }
            ModeArg::InPlace => {
                let out = remote.run(&version, None).await?;
                if out.success() {
                    bail!(
                        "{host}: Cassandra is running (`{}` answers): stop it before an in-place restore, \
                         or use --mode refresh",
                        version.shown()
                    );
                }
                let mut dirs = basics.data_dirs.clone();
                if let Some(commitlog) =
                    scripts::yaml_scalar(&basics.yaml_text, "commitlog_directory")
                {
                    dirs.push(commitlog);
                }
                let privilege = self.settings.nodes.preflight.privilege;
                match scripts::cassandra_processes(remote, privilege, &basics.yaml_path, &dirs).await? {
                    ProcessCheck::NoneFound => {}
                    ProcessCheck::InUse { pid, what } => bail!(
                        "{host}: Cassandra (process {pid}) is still running with {what}: stop it before an \
                         in-place restore"
                    ),
                    ProcessCheck::Unknown { pid } => bail!(
                        "{host}: cannot tell whether Cassandra process {pid} uses this node's files (its open \
                         files are not readable): run with --use-sudo"
                    ),
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// The node-push restore request for this node, without its files.
    fn node_push_request(&self, basics: &NodeBasics) -> RestoreFilesRequest {
        let s3 = &self.settings.common.s3;
        let from = Destination::S3 {
            bucket: s3.bucket.clone(),
            prefix: s3.base_path.clone(),
        };
        let store = StoreRequest {
            url: from.to_string(),
            endpoint: s3.endpoint.clone(),
            region: s3.region.clone(),
            profile: None,
        };
        let mut request = RestoreFilesRequest::new(store, Vec::new());
        request.owner_of = basics.data_dirs.first().map(PathBuf::from);
        request.concurrency = self.settings.concurrency;
        request.rate_limit_kib = self.settings.rate_limit;
        request
    }

    /// Moves each complete table into its live dir (and refreshes it); returns the groups moved.
    async fn move_tables(
        &self,
        remote: &dyn Remote,
        basics: &NodeBasics,
        groups: &[TableGroup],
        complete: &[usize],
        report: &mut TargetReport,
    ) -> Result<Vec<usize>> {
        let s = &self.settings;
        let privilege = s.nodes.preflight.privilege;
        let live_dirs: Vec<String> = complete
            .iter()
            .filter_map(|&i| groups[i].live_dir.clone())
            .collect();
        let listing = scripts::list_files(remote, privilege, &live_dirs).await?;
        let renumber = match s.mode {
            ModeArg::Refresh => Renumber::Always {
                margin: REFRESH_GENERATION_MARGIN,
            },
            _ => Renumber::OnCollision,
        };
        let mut moved = Vec::new();
        for &index in complete {
            let group = &groups[index];
            let live_dir = group
                .live_dir
                .clone()
                .expect("complete groups have a live dir");
            let live_files: Vec<String> = listing
                .iter()
                .filter(|(dir, _)| *dir == live_dir)
                .map(|(_, file)| file.clone())
                .collect();
            let staged: Vec<StagedFile> = group
                .files
                .iter()
                .map(|f| StagedFile {
                    source_host: f.source_host.clone(),
                    path: f.file.target.display().to_string(),
                    relative: f.relative.clone(),
                })
                .collect();
            let placement = place(&live_dir, &live_files, &staged, renumber);
            for path in &placement.not_sstables {
                self.output.verbose(format!(
                    "{}: not an SSTable, left out: {path}",
                    remote.host()
                ));
            }
            let new_dirs =
                super::placement::dirs_to_create(&group.data_dir, &live_dir, &placement.moves);
            let moves: Vec<(String, String)> = placement
                .moves
                .iter()
                .map(|m| (m.from.clone(), m.to.clone()))
                .collect();
            let mut table = table_report(group, TableState::Moved, None);
            table.renumbered = placement.renumbered;
            table.sstables = placement.sstables;
            table.files = placement.moves.len();
            table.left_out = placement.not_sstables.len() + placement.already_live.len();
            match scripts::move_files(remote, privilege, &group.data_dir, &new_dirs, &moves).await {
                Ok(count) => {
                    self.output.info(format!(
                        "{}: {}.{}: {count} files moved into {live_dir}",
                        remote.host(),
                        group.keyspace,
                        group.table
                    ));
                    moved.push(index);
                }
                Err(error) => {
                    let error = format!("{error:#}");
                    self.output.error(&error);
                    table.state = TableState::Failed;
                    table.error = Some(error);
                    report.tables.push(table);
                    continue;
                }
            }
            if s.mode == ModeArg::Refresh {
                let refresh = basics.nodetool.refresh(&group.keyspace, &group.table);
                let out = remote.run(&refresh, None).await?;
                load::show_nodetool_output(&self.output, remote.host(), &out);
                if out.success() {
                    table.state = TableState::Refreshed;
                } else {
                    let error = format!(
                        "{}: the files are in {live_dir} but `{}` failed: {} (run it again, or restart Cassandra)",
                        remote.host(),
                        refresh.shown(),
                        out.reason()
                    );
                    self.output.error(&error);
                    table.state = TableState::Failed;
                    table.error = Some(error);
                }
            }
            report.tables.push(table);
        }
        Ok(moved)
    }
}

pub(super) fn table_report(
    group: &TableGroup,
    state: TableState,
    error: Option<String>,
) -> TableReport {
    let counts = group.counts();
    TableReport {
        keyspace: group.keyspace.clone(),
        table: group.table.clone(),
        source_hosts: group.source_hosts(),
        state,
        sstables: counts.sstables,
        files: counts.files,
        left_out: counts.other,
        indexes_rebuilt: group.indexes_left_out.clone(),
        staged_in: group.staged_dirs(),
        live_dir: group.live_dir.clone(),
        renumbered: 0,
        error,
    }
}

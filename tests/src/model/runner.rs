//! One seeded sequence: a generated cluster of scripted nodes, random operations applied to the nodes
//! (directly, as Cassandra and operators would) and to the coordinator (the real binary), the model
//! following along, and the checks after each step.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use super::env::{Env, Run, Transport};
use super::ops::{self, Op, RestoreMode, Shape};
use super::restored::read_local_restore;
use super::rng::Rng;
use super::{Model, Rows, Selection, TableKey};
use crate::scripted::node::index_entries;
use crate::scripted::{Format, Node, NodeSpec, NodetoolCall, TableSpec, Version};
use crate::sshd::{HostSpec, SshCluster};

/// How one sequence runs.
#[derive(Debug, Clone, Copy)]
pub struct SequenceConfig {
    pub seed: u64,
    pub steps: usize,
    pub transport: Transport,
}

/// What a finished sequence did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub coordinator_runs: usize,
    pub coordinator_time: Duration,
    pub backups: usize,
    pub restores: usize,
    pub history: Vec<String>,
}

/// A failed sequence: its seed, its cluster and everything that happened up to the failure.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub report: String,
}

/// Run one sequence; a failure carries the whole history.
pub fn run_sequence(env: &Env, config: SequenceConfig) -> Result<Summary, Failure> {
    let mut sequence = match Sequence::new(env, config) {
        Ok(sequence) => sequence,
        Err(error) => {
            return Err(Failure {
                seed: config.seed,
                report: format!("setup failed: {error:#}"),
            })
        }
    };
    match sequence.run() {
        Ok(()) => Ok(sequence.summary),
        Err(error) => Err(Failure {
            seed: config.seed,
            report: sequence.report(&error),
        }),
    }
}

struct Sequence<'e> {
    env: &'e Env,
    config: SequenceConfig,
    rng: Rng,
    shape: Shape,
    description: String,
    dir: tempfile::TempDir,
    hosts_dir: PathBuf,
    nodes: BTreeMap<String, Node>,
    indexed: BTreeSet<(String, String)>,
    model: Model,
    log_seen: BTreeMap<String, usize>,
    selections: Vec<(String, Selection)>,
    row_counter: u64,
    clock_ms: u64,
    summary: Summary,
    ssh: Option<SshCluster>,
}

impl<'e> Sequence<'e> {
    fn new(env: &'e Env, config: SequenceConfig) -> Result<Self> {
        let mut rng = Rng::new(config.seed);
        let version = *rng.pick(&Version::ALL);
        let format = match version == Version::V50 && rng.chance(50) {
            true => Format::Bti,
            false => Format::Big,
        };
        let uuid_ids = version.supports_uuid_ids() && rng.chance(50);
        let data_dirs = 1 + rng.below(2);
        let host_count = 1 + rng.below(2);
        let hosts: Vec<String> = (1..=host_count).map(|n| format!("node{n}")).collect();
        let tables = vec![
            TableSpec {
                keyspace: "ks1".into(),
                table: "t1".into(),
                index: Some("t1_idx".into()),
            },
            TableSpec {
                keyspace: "ks1".into(),
                table: "t2".into(),
                index: None,
            },
            TableSpec {
                keyspace: "ks2".into(),
                table: "t1".into(),
                index: None,
            },
        ];
        let dir = tempfile::Builder::new()
            .prefix("model-seq-")
            .tempdir_in(env.dir())?;
        let hosts_dir = dir.path().join("hosts");
        fs_err::create_dir_all(&hosts_dir)?;
        let mut nodes = BTreeMap::new();
        for (i, host) in hosts.iter().enumerate() {
            let spec = NodeSpec {
                version,
                format,
                uuid_ids,
                data_dirs,
                tables: tables.clone(),
                salt: config.seed ^ (i as u64 + 1),
            };
            let node_dir = dir.path().join(host);
            let node = Node::create(&node_dir, spec, &env.nodetool)?;
            std::os::unix::fs::symlink(&node_dir, hosts_dir.join(host))?;
            nodes.insert(host.clone(), node);
        }
        let ssh = match config.transport {
            Transport::Local => None,
            Transport::Sshd => {
                let specs: Vec<HostSpec> = hosts
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        let ip = std::net::Ipv4Addr::new(127, 0, 0, 100 + i as u8);
                        HostSpec::new(h.clone(), ip, dir.path().join(h))
                    })
                    .collect();
                Some(SshCluster::start_in(&dir.path().join("ssh"), &specs)?)
            }
        };
        let pairs: Vec<(String, String)> = tables
            .iter()
            .map(|t| (t.keyspace.clone(), t.table.clone()))
            .collect();
        let description = format!(
            "Cassandra {} ({:?}{}), {} data dir(s), hosts {}, tables ks1.t1 (index t1_idx), ks1.t2, \
             ks2.t1, transport {:?}",
            version.release(),
            format,
            if uuid_ids { ", ULID-like ids" } else { "" },
            data_dirs,
            hosts.join(","),
            config.transport
        );
        Ok(Sequence {
            env,
            config,
            rng,
            model: Model::new(&hosts, &pairs),
            indexed: [("ks1".to_string(), "t1".to_string())].into(),
            shape: Shape {
                hosts,
                tables: pairs,
            },
            description,
            dir,
            hosts_dir,
            nodes,
            log_seen: BTreeMap::new(),
            selections: Vec::new(),
            row_counter: 0,
            clock_ms: 1_764_000_000_000,
            summary: Summary::default(),
            ssh,
        })
    }

    fn run(&mut self) -> Result<()> {
        for _ in 0..self.config.steps {
            let op = ops::pick(
                &mut self.rng,
                &self.shape,
                self.model.backups.len(),
                &self.selections,
            );
            self.summary.history.push(format!("{op}"));
            let note = self.step(&op).with_context(|| format!("step `{op}`"))?;
            if !note.is_empty() {
                let last = self.summary.history.last_mut().expect("pushed");
                let _ = write!(last, "  => {note}");
            }
            self.check_nodes()
                .with_context(|| format!("after `{op}`"))?;
        }
        // The end: every backup still there restores what the model says, for every keyspace.
        for index in 0..self.model.backups.len() {
            if self.model.backups[index].purged {
                continue;
            }
            let (base, name) = {
                let b = &self.model.backups[index];
                (b.base.clone(), b.name.clone())
            };
            self.summary
                .history
                .push(format!("(final) verify backup #{index} {name}"));
            let run = self.coordinator(
                &base,
                vec!["verify".into(), format!("--snapshot-name={name}")],
            )?;
            ensure!(
                run.success(),
                "verify of #{index} {name} failed: {}",
                run.describe()
            );
            for keyspace in ["ks1", "ks2"] {
                let op = Op::Restore {
                    backup: index,
                    keyspace: keyspace.into(),
                    mode: RestoreMode::Local,
                    until: None,
                };
                self.summary.history.push(format!("(final) {op}"));
                let note = self.step(&op).with_context(|| format!("final `{op}`"))?;
                let last = self.summary.history.last_mut().expect("pushed");
                let _ = write!(last, "  => {note}");
            }
        }
        Ok(())
    }

    fn report(&self, error: &anyhow::Error) -> String {
        let mut out = format!(
            "MODEL_SEED={} ({} steps): {}\nhistory:\n",
            self.config.seed, self.config.steps, self.description
        );
        for (i, line) in self.summary.history.iter().enumerate() {
            let _ = writeln!(out, "  {:>3}. {line}", i + 1);
        }
        let _ = writeln!(out, "error: {error:#}");
        out
    }

    fn base(&self, base: &str) -> String {
        format!("model-{}/{base}", self.config.seed)
    }

    fn step(&mut self, op: &Op) -> Result<String> {
        match op {
            Op::Write {
                host,
                keyspace,
                table,
                rows,
            } => {
                let mut lines = Vec::new();
                for _ in 0..*rows {
                    self.row_counter += 1;
                    let n = self.row_counter;
                    lines.push(format!("{host}.{keyspace}.{table}.{n:04}\tv{n}"));
                }
                self.nodes[host].write(keyspace, table, &lines)?;
                self.model.write(&key(host, keyspace, table), &lines);
                Ok(String::new())
            }
            Op::Flush { host, keyspace } => {
                self.nodes[host].flush(keyspace.as_deref(), None)?;
                for k in self.model.tables_of(host, keyspace.as_deref(), None) {
                    self.model.flush(&k);
                }
                Ok(String::new())
            }
            Op::Compact {
                host,
                keyspace,
                table,
            } => {
                self.nodes[host].compact(keyspace, table)?;
                Ok(String::new())
            }
            Op::Truncate { keyspace, table } => {
                self.clock_ms += 1;
                for (host, node) in &self.nodes {
                    node.truncate(keyspace, table, self.clock_ms)?;
                    self.model.truncate(&key(host, keyspace, table));
                }
                Ok(String::new())
            }
            Op::Rebuild {
                host,
                keyspace,
                table,
            } => {
                self.nodes[host].rebuild(keyspace, table)?;
                self.model.rebuild(&key(host, keyspace, table));
                Ok(String::new())
            }
            Op::Restart { host } => {
                self.nodes[host].restart()?;
                for k in self.model.tables_of(host, None, None) {
                    self.model.flush(&k);
                }
                Ok(String::new())
            }
            Op::Backup {
                base,
                selection,
                new_snapshot,
            } => self.backup(base, selection, *new_snapshot),
            Op::Purge { base, keep_last } => self.purge(base, *keep_last),
            Op::Restore {
                backup,
                keyspace,
                mode,
                until,
            } => match mode {
                RestoreMode::Local => self.restore_local(*backup, keyspace, *until),
                RestoreMode::Refresh => self.restore_refresh(*backup, keyspace),
            },
        }
    }

    fn coordinator(&mut self, base: &str, args: Vec<String>) -> Result<Run> {
        let run = self.env.coordinator(
            &self.base(base),
            &args,
            &self.hosts_dir,
            self.config.transport,
        )?;
        self.summary.coordinator_runs += 1;
        self.summary.coordinator_time += run.took;
        Ok(run)
    }

    /// Flags that reach the nodes.
    fn node_args(&self) -> Vec<String> {
        let mut args = vec![format!(
            "--node-push-binary={}",
            self.env.node_push().display()
        )];
        if let Some(ssh) = &self.ssh {
            args.push(format!("--ssh-config={}", ssh.ssh_config_path().display()));
        }
        args
    }

    /// The nodetool calls the coordinator made since the last look, applied to the model.
    fn replay_nodetool(&mut self) -> Result<Vec<(String, NodetoolCall)>> {
        let mut calls = Vec::new();
        for (host, node) in &self.nodes {
            let lines = node.log_lines()?;
            let seen = self.log_seen.entry(host.clone()).or_insert(0);
            for line in &lines[*seen..] {
                calls.push((host.clone(), NodetoolCall::from_log_line(line)?));
            }
            *seen = lines.len();
        }
        for (host, call) in &calls {
            match call {
                NodetoolCall::Flush { keyspace, tables } => {
                    let tables: Vec<Option<&str>> = match tables.is_empty() {
                        true => vec![None],
                        false => tables.iter().map(|t| Some(t.as_str())).collect(),
                    };
                    for table in tables {
                        for k in self.model.tables_of(host, keyspace.as_deref(), table) {
                            self.model.flush(&k);
                        }
                    }
                }
                NodetoolCall::Snapshot {
                    tag,
                    keyspaces,
                    table,
                } => {
                    let mut keys = Vec::new();
                    if keyspaces.is_empty() {
                        keys = self.model.tables_of(host, None, table.as_deref());
                    }
                    for ks in keyspaces {
                        keys.extend(self.model.tables_of(host, Some(ks), table.as_deref()));
                    }
                    self.model.snapshot(host, tag, &keys);
                }
                NodetoolCall::ClearSnapshot { .. }
                | NodetoolCall::Refresh { .. }
                | NodetoolCall::Import { .. }
                | NodetoolCall::Compact { .. } => {}
            }
        }
        Ok(calls)
    }

    fn backup(&mut self, base: &str, selection: &Selection, new_snapshot: bool) -> Result<String> {
        let expected = match new_snapshot {
            true => None,
            false => self
                .model
                .continued(base, selection)
                .map(|b| b.name.clone()),
        };
        let mut args = vec!["--json".to_string(), "backup".to_string()];
        args.extend(selection.args());
        args.extend(self.node_args());
        if new_snapshot {
            args.push("--new-snapshot".into());
        }
        let run = self.coordinator(base, args)?;
        let calls = self.replay_nodetool()?;
        ensure!(run.success(), "backup failed: {}", run.describe());
        let json = run.json()?;
        let name = json["backup"]
            .as_str()
            .context("no backup name")?
            .to_string();
        let kind = json["kind"].as_str().context("no kind")?.to_string();
        ensure!(
            json["complete"] == serde_json::Value::Bool(true),
            "backup {name} is not complete: {}",
            run.describe()
        );
        match (kind.as_str(), &expected) {
            ("incremental", Some(into)) => {
                ensure!(
                    &name == into,
                    "incremental went into {name}, the model expected {into}"
                );
                self.model.incremental(base, &name);
            }
            ("snapshot", None) => {
                let tags: BTreeSet<&str> = calls
                    .iter()
                    .filter_map(|(_, c)| match c {
                        NodetoolCall::Snapshot { tag, .. } => Some(tag.as_str()),
                        _ => None,
                    })
                    .collect();
                ensure!(
                    tags.len() == 1,
                    "a snapshot backup took snapshot tags {tags:?} (one expected)"
                );
                let tag = tags.into_iter().next().expect("one").to_string();
                self.model.snapshot_backup(base, &name, &tag, selection);
            }
            _ => bail!(
                "backup did a {kind} ({name}), the model expected {}",
                match &expected {
                    Some(into) => format!("an incremental into {into}"),
                    None => "a snapshot".to_string(),
                }
            ),
        }
        if !self
            .selections
            .contains(&(base.to_string(), selection.clone()))
        {
            self.selections.push((base.to_string(), selection.clone()));
        }
        self.summary.backups += 1;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        self.model.mark_point(base, &name, now);
        let index = self
            .model
            .backups
            .iter()
            .position(|b| b.base == base && b.name == name)
            .expect("recorded");
        Ok(format!(
            "{kind} #{index} {name} ({:.2}s)",
            run.took.as_secs_f64()
        ))
    }

    fn purge(&mut self, base: &str, keep_last: usize) -> Result<String> {
        let run = self.coordinator(
            base,
            vec![
                "--json".into(),
                "purge".into(),
                format!("--keep-last={keep_last}"),
            ],
        )?;
        ensure!(run.success(), "purge failed: {}", run.describe());
        let kept = self.model.purge(base, keep_last);
        let list = self.coordinator(base, vec!["--json".into(), "list".into()])?;
        ensure!(list.success(), "list failed: {}", list.describe());
        let mut listed = Vec::new();
        collect_complete(&list.json()?, &mut listed);
        listed.sort_by(|a, b| b.cmp(a));
        ensure!(
            listed == kept,
            "after purge --keep-last={keep_last} the store lists {listed:?}, the model keeps {kept:?}\n{}",
            run.describe()
        );
        Ok(format!("kept {kept:?}"))
    }

    fn restore_local(
        &mut self,
        index: usize,
        keyspace: &str,
        until: Option<usize>,
    ) -> Result<String> {
        let mut backup = self.model.backups[index].clone();
        if backup.purged {
            return Ok("skipped: purged".into());
        }
        // `--until` the end of an earlier run: the backup as it was then.
        let until = until.filter(|run| run + 1 < backup.points.len());
        let mut until_arg = None;
        if let Some(run) = until {
            let point = backup.points[run].clone();
            backup.must = point.must;
            backup.may = point.may;
            until_arg = Some(format!("--until={}", point.time));
        }
        let dir = self
            .dir
            .path()
            .join(format!("restore-{}", self.summary.history.len()));
        let mut args = vec![
            "--json".into(),
            "restore".into(),
            format!("--snapshot-name={}", backup.name),
            format!("--keyspace={keyspace}"),
            "--local".into(),
            format!("--restore-dir={}", dir.display()),
        ];
        args.extend(until_arg);
        let run = self.coordinator(&backup.base, args)?;
        self.summary.restores += 1;
        let expected_rows: usize = backup
            .must
            .iter()
            .filter(|(k, _)| k.1 == keyspace)
            .map(|(_, rows)| rows.len())
            .sum();
        if !run.success() {
            // A restore of a keyspace the backup holds no rows of may refuse; anything else is a failure.
            ensure!(
                expected_rows == 0,
                "restore of #{index} failed: {}",
                run.describe()
            );
            return Ok("refused (nothing to restore)".into());
        }
        let found = read_local_restore(&dir)?;
        let mut total = 0;
        for (key, got) in &found {
            ensure!(
                key.1 == keyspace,
                "restore of keyspace {keyspace} wrote files of {key:?}"
            );
            ensure!(
                backup.must.contains_key(key) || got.rows.is_empty(),
                "restore of #{index} {} wrote rows of {key:?}, which the backup does not cover: {:?}",
                backup.name,
                got.rows
            );
            total += got.rows.len();
        }
        for (key, must) in backup.must.iter().filter(|(k, _)| k.1 == keyspace) {
            let got = found.get(key).cloned().unwrap_or_default();
            let may = &backup.may[key];
            check_between(&got.rows, must, may)
                .with_context(|| format!("restore of #{index} {}: {key:?}", backup.name))?;
            if self.indexed.contains(&(key.1.clone(), key.2.clone())) {
                let want = index_entries(&got.rows);
                ensure!(
                    got.index == want,
                    "restore of #{index} {}: {key:?} index entries {:?} do not match its rows \
                     (missing {:?}, extra {:?})",
                    backup.name,
                    got.index.len(),
                    want.difference(&got.index).collect::<Vec<_>>(),
                    got.index.difference(&want).collect::<Vec<_>>()
                );
            }
        }
        fs_err::remove_dir_all(&dir).ok();
        let until_note = match until {
            Some(run) => format!(" as of run {run}"),
            None => String::new(),
        };
        Ok(format!(
            "{total} rows{until_note} ({:.2}s)",
            run.took.as_secs_f64()
        ))
    }

    fn restore_refresh(&mut self, index: usize, keyspace: &str) -> Result<String> {
        let backup = self.model.backups[index].clone();
        if backup.purged {
            return Ok("skipped: purged".into());
        }
        let keys: Vec<TableKey> = backup
            .must
            .keys()
            .filter(|k| k.1 == keyspace)
            .cloned()
            .collect();
        if keys.iter().all(|k| backup.must[k].is_empty()) {
            return Ok("skipped: nothing of this keyspace in the backup".into());
        }
        let before: BTreeMap<TableKey, Rows> = keys
            .iter()
            .map(|k| Ok((k.clone(), self.nodes[&k.0].live_rows(&k.1, &k.2)?)))
            .collect::<Result<_>>()?;
        let mut args = vec![
            "--json".into(),
            "restore".into(),
            format!("--snapshot-name={}", backup.name),
            format!("--keyspace={keyspace}"),
            "--mode=refresh".into(),
        ];
        args.extend(self.node_args());
        let run = self.coordinator(&backup.base, args)?;
        self.summary.restores += 1;
        self.replay_nodetool()?;
        ensure!(
            run.success(),
            "restore --mode refresh failed: {}",
            run.describe()
        );
        for k in &keys {
            let after = self.nodes[&k.0].live_rows(&k.1, &k.2)?;
            let must = &backup.must[k];
            let may = &backup.may[k];
            let old = &before[k];
            let low: Rows = old.union(must).cloned().collect();
            let high: Rows = old.union(may).cloned().collect();
            check_between(&after, &low, &high).with_context(|| {
                format!(
                    "refresh restore of #{index} {}: live rows of {k:?}",
                    backup.name
                )
            })?;
            let loaded: Rows = after.difference(old).chain(must.iter()).cloned().collect();
            if !loaded.is_empty() {
                self.model.load(k, loaded);
            }
        }
        Ok(format!("({:.2}s)", run.took.as_secs_f64()))
    }

    /// The scripted nodes hold what the model says (this checks the harness itself).
    fn check_nodes(&self) -> Result<()> {
        for (host, node) in &self.nodes {
            for (ks, t) in &self.shape.tables {
                let k = key(host, ks, t);
                let live = node.live_rows(ks, t)?;
                ensure!(
                    &live == self.model.live(&k),
                    "harness: {k:?} holds {live:?} on disk, the model says {:?}",
                    self.model.live(&k)
                );
                if self.indexed.contains(&(ks.clone(), t.clone())) {
                    let index = node.live_index_rows(ks, t)?;
                    ensure!(
                        index == index_entries(&live),
                        "harness: {k:?} index entries differ from its rows"
                    );
                }
            }
        }
        Ok(())
    }
}

fn key(host: &str, keyspace: &str, table: &str) -> TableKey {
    (host.to_string(), keyspace.to_string(), table.to_string())
}

/// `must ⊆ got ⊆ may`, with the differences named.
fn check_between(got: &Rows, must: &Rows, may: &Rows) -> Result<()> {
    let missing: Vec<&String> = must.difference(got).collect();
    let extra: Vec<&String> = got.difference(may).collect();
    ensure!(
        missing.is_empty() && extra.is_empty(),
        "restored {} rows; missing {} the model requires: {missing:?}; {} the model does not allow: \
         {extra:?}",
        got.len(),
        missing.len(),
        extra.len()
    );
    Ok(())
}

/// The names of complete backups in `list --json` output.
fn collect_complete(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_complete(v, out)),
        serde_json::Value::Object(map) => {
            if let (Some(name), Some(true)) = (
                map.get("name").and_then(|v| v.as_str()),
                map.get("complete").and_then(|v| v.as_bool()),
            ) {
                out.push(name.to_string());
                return;
            }
            map.values().for_each(|v| collect_complete(v, out));
        }
        _ => {}
    }
}

/// How long `steps` took, for the test's report.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = f();
    (value, started.elapsed())
}

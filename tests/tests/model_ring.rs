//! The model-based workflow check on the real Cassandra 1.2 ring (issue 9): a short fixed sequence of
//! writes, flushes, a compaction, a full backup, a scoped `--table` backup under another base path,
//! incrementals into both, TRUNCATE and `restore --mode refresh` of each backup, every restore compared
//! with what `testkit::model` says the backup must and may hold. Rows are read back through Cassandra.
//!
//! The ring binds 127.0.0.2-4: run it as `flock /tmp/ring.lock cargo test -p testkit --test model_ring`.
//! Needs `cargo build --workspace` and `cargo xtask setup`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use testkit::fixture::NodeFixture;
use testkit::model::env::{Env, Run, Transport};
use testkit::model::{Model, Rows, Selection, TableKey};

const SCHEMA: &str = "\
create keyspace mk with placement_strategy = 'SimpleStrategy' and strategy_options = {replication_factor:1};
use mk;
create column family a with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
create column family b with comparator = UTF8Type and key_validation_class = UTF8Type and default_validation_class = UTF8Type;
";

/// The model sees the ring as one host: every operation here acts on all nodes at once.
const RING: &str = "ring";

struct Ring {
    nodes: NodeFixture,
    env: Env,
    model: Model,
    counter: usize,
    history: Vec<String>,
}

impl Ring {
    fn key(table: &str) -> TableKey {
        (RING.into(), "mk".into(), table.into())
    }

    fn write(&mut self, table: &str, count: usize) -> Result<()> {
        let mut script = String::from("use mk;\n");
        let mut rows = Vec::new();
        for _ in 0..count {
            self.counter += 1;
            let key = format!("{table}{:04}", self.counter);
            script.push_str(&format!("set {table}['{key}']['v'] = 'value {key}';\n"));
            rows.push(key);
        }
        self.nodes.cassandra.cli(0, &script)?;
        self.model.write(&Self::key(table), &rows);
        self.history
            .push(format!("write {count} rows to mk.{table}"));
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        for i in 0..self.nodes.cassandra.len() {
            self.flush_node(i)?;
        }
        for table in ["a", "b"] {
            self.model.flush(&Self::key(table));
        }
        self.history.push("nodetool flush mk on every node".into());
        Ok(())
    }

    /// `nodetool flush mk` on node `i`, then wait until each SSTable file it wrote that still exists
    /// (a compaction may have taken it) has its `backups/` link: 1.2 makes them in the background.
    fn flush_node(&self, i: usize) -> Result<()> {
        let data = self.nodes.cassandra.data_dir(i).join("mk");
        let before = live_files(&data)?;
        self.nodes.cassandra.nodetool(i, &["flush", "mk"])?;
        let new: Vec<PathBuf> = live_files(&data)?.difference(&before).cloned().collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let missing: Vec<&PathBuf> = new
                .iter()
                .filter(|f| f.exists())
                .filter(|f| {
                    let link = f
                        .parent()
                        .unwrap()
                        .join("backups")
                        .join(f.file_name().unwrap());
                    !link.exists()
                })
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "node{}: no backups/ link after 30 s for {missing:?}",
                i + 1
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn coordinator(&mut self, base: &str, args: &[String]) -> Result<Run> {
        let mut full = args.to_vec();
        full.push(format!(
            "--ssh-config={}",
            self.nodes.ssh_config_path().display()
        ));
        full.push(format!(
            "--node-push-binary={}",
            self.env.node_push().display()
        ));
        let run = self
            .env
            .coordinator(base, &full, Path::new("/nonexistent"), Transport::Sshd)?;
        self.history.push(format!(
            "--s3-base-path={base} {} => exit {:?} ({:.1}s)",
            args.join(" "),
            run.code,
            run.took.as_secs_f64()
        ));
        ensure!(run.success(), "{}", run.describe());
        Ok(run)
    }

    /// A backup of `selection` (ring hosts) after a flush of ours, so that the coordinator's own flush
    /// finds empty memtables (1.2 links flushed files into backups/ in the background).
    fn backup(&mut self, base: &str, table: Option<&str>, new_snapshot: bool) -> Result<String> {
        self.flush()?;
        let hosts = self.nodes.aliases().join(",");
        let mut args = vec![
            "--json".into(),
            "backup".into(),
            format!("--hosts={hosts}"),
            "--keyspaces=mk".into(),
        ];
        if let Some(table) = table {
            args.push(format!("--table={table}"));
        }
        if new_snapshot {
            args.push("--new-snapshot".into());
        }
        let selection = Selection {
            hosts: vec![RING.into()],
            keyspaces: vec!["mk".into()],
            table: table.map(str::to_string),
            exclude: Vec::new(),
        };
        let expected = match new_snapshot {
            true => None,
            false => self
                .model
                .continued(base, &selection)
                .map(|b| b.name.clone()),
        };
        let run = self.coordinator(base, &args)?;
        let json = run.json()?;
        let name = json["backup"].as_str().context("backup name")?.to_string();
        let kind = json["kind"].as_str().context("kind")?;
        match (kind, expected) {
            ("snapshot", None) => {
                let tables: Vec<TableKey> = ["a", "b"]
                    .iter()
                    .filter(|t| table.is_none_or(|only| only == **t))
                    .map(|t| Self::key(t))
                    .collect();
                self.model.snapshot(RING, &name, &tables);
                self.model.snapshot_backup(base, &name, &name, &selection);
            }
            ("incremental", Some(into)) if into == name => self.model.incremental(base, &name),
            (kind, expected) => {
                anyhow::bail!("backup did a {kind} into {name}, the model expected {expected:?}")
            }
        }
        Ok(name)
    }

    fn live_keys(&self, table: &str) -> Result<Rows> {
        let mut keys = BTreeSet::new();
        for i in 0..self.nodes.cassandra.len() {
            let out = self.nodes.cassandra.cli(
                i,
                &format!("use mk;\nconsistencylevel as ONE;\nlist {table} limit 10000;\n"),
            )?;
            keys.extend(
                out.lines()
                    .filter_map(|l| l.trim().strip_prefix("RowKey: "))
                    .map(str::to_string),
            );
        }
        Ok(keys)
    }

    fn truncate(&mut self, table: &str) -> Result<()> {
        self.nodes
            .cassandra
            .cli(0, &format!("use mk;\ntruncate {table};\n"))?;
        self.model.truncate(&Self::key(table));
        self.history.push(format!("TRUNCATE mk.{table}"));
        ensure!(
            self.live_keys(table)?.is_empty(),
            "{table} not empty after TRUNCATE"
        );
        Ok(())
    }

    /// TRUNCATE `table`, then `restore --mode refresh` of backup `name`: the table must hold what the
    /// model says that backup holds.
    fn truncate_and_restore(&mut self, base: &str, name: &str, table: &str) -> Result<()> {
        self.truncate(table)?;
        let args = vec![
            "--json".into(),
            "restore".into(),
            format!("--snapshot-name={name}"),
            "--keyspace=mk".into(),
            format!("--table={table}"),
            "--mode=refresh".into(),
        ];
        self.coordinator(base, &args)?;
        let backup = self
            .model
            .backup(base, name)
            .context("known backup")?
            .clone();
        let key = Self::key(table);
        let got = self.live_keys(table)?;
        let must = &backup.must[&key];
        let may = &backup.may[&key];
        let missing: Vec<&String> = must.difference(&got).collect();
        let extra: Vec<&String> = got.difference(may).collect();
        ensure!(
            missing.is_empty() && extra.is_empty(),
            "restore of {name} ({base}) into mk.{table}: {} rows; missing {missing:?}; not allowed {extra:?}",
            got.len()
        );
        self.model.load(&key, got.clone());
        self.history.push(format!(
            "  restored {} rows of mk.{table} as the model says",
            got.len()
        ));
        Ok(())
    }
}

/// The finished SSTable files directly in each table dir below `keyspace_dir` (no `-tmp-` files).
fn live_files(keyspace_dir: &Path) -> Result<BTreeSet<PathBuf>> {
    let mut files = BTreeSet::new();
    for table in fs_err::read_dir(keyspace_dir)? {
        let table = table?;
        if !table.file_type()?.is_dir() {
            continue;
        }
        for entry in fs_err::read_dir(table.path())? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_file() && !name.contains("-tmp-") {
                files.insert(entry.path());
            }
        }
    }
    Ok(files)
}

#[test]
fn a_short_sequence_on_the_real_ring() -> Result<()> {
    let env = Env::start(Path::new(env!("CARGO_BIN_EXE_scripted-nodetool")))?;
    let nodes = NodeFixture::start(3)?;
    nodes.cassandra.cli(0, SCHEMA)?;
    // No minor compactions: their output is never linked into backups/, and a flush that triggers one
    // would leave the wait for the flush's links hanging on it. `nodetool compact` still runs.
    for i in 0..nodes.cassandra.len() {
        for table in ["a", "b"] {
            nodes
                .cassandra
                .nodetool(i, &["setcompactionthreshold", "mk", table, "0", "0"])?;
        }
    }
    let mut ring = Ring {
        nodes,
        env,
        model: Model::new(
            &[RING.to_string()],
            &[("mk".into(), "a".into()), ("mk".into(), "b".into())],
        ),
        counter: 0,
        history: Vec::new(),
    };
    let outcome = sequence(&mut ring);
    if let Err(error) = &outcome {
        testkit::log!(
            "history:\n  {}\nerror: {error:#}",
            ring.history.join("\n  ")
        );
    }
    outcome
}

fn sequence(ring: &mut Ring) -> Result<()> {
    ring.write("a", 20)?;
    ring.write("b", 20)?;
    let full = ring.backup("main", None, false)?;
    ring.write("a", 10)?;
    ring.flush()?;
    let scoped = ring.backup("other", Some("a"), true)?;
    ring.write("a", 10)?;
    ring.write("b", 10)?;
    ensure!(
        ring.backup("main", None, false)? == full,
        "incremental into the full backup"
    );
    for i in 0..ring.nodes.cassandra.len() {
        ring.nodes.cassandra.nodetool(i, &["compact", "mk", "a"])?;
    }
    ring.history
        .push("nodetool compact mk a on every node".into());
    ring.write("a", 5)?;
    ensure!(
        ring.backup("other", Some("a"), false)? == scoped,
        "incremental into the scoped backup"
    );
    ring.write("a", 5)?;
    ensure!(
        ring.backup("main", None, false)? == full,
        "second incremental into the full backup"
    );
    ring.truncate_and_restore("main", &full, "a")?;
    ring.truncate_and_restore("other", &scoped, "a")?;
    // The refreshed SSTables are in backups/ now; the next incrementals must still give exactly the model.
    ring.write("a", 3)?;
    ensure!(
        ring.backup("main", None, false)? == full,
        "incremental after the restores"
    );
    ensure!(
        ring.backup("other", Some("a"), false)? == scoped,
        "scoped incremental after the restores"
    );
    ring.truncate_and_restore("main", &full, "a")?;
    ring.truncate_and_restore("other", &scoped, "a")?;
    ring.truncate_and_restore("main", &full, "b")?;
    testkit::log!("history:\n  {}", ring.history.join("\n  "));
    Ok(())
}

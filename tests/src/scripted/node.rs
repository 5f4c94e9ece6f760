//! One scripted node: its config, its tree and the operations Cassandra performs on it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::naming::{table_dir_name, uuid_id, Format, Generation, Namer, Version};
use super::sstable::{self, INDEX_LINE_PREFIX};

/// One table of the schema, with at most one secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub keyspace: String,
    pub table: String,
    pub index: Option<String>,
}

/// What a node is: its Cassandra version and SSTable format, data dirs and schema.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub version: Version,
    pub format: Format,
    /// 4.1+ `uuid_sstable_identifiers_enabled`.
    pub uuid_ids: bool,
    pub data_dirs: usize,
    pub tables: Vec<TableSpec>,
    /// Varies table ids and ULID-like ids between nodes.
    pub salt: u64,
}

/// A node directory: `bin/nodetool`, `conf/cassandra.yaml`, `data<N>/`, `scripted/` (state).
#[derive(Debug, Clone)]
pub struct Node {
    dir: PathBuf,
    spec: NodeSpec,
}

/// A column family store: a table, or one of its secondary indexes.
#[derive(Debug, Clone, Copy)]
struct Cfs<'a> {
    table: &'a TableSpec,
    index: Option<&'a str>,
}

impl Node {
    /// Create the node's tree, config and `bin/nodetool` (a wrapper around `nodetool_bin`).
    pub fn create(dir: &Path, spec: NodeSpec, nodetool_bin: &Path) -> Result<Node> {
        let node = Node {
            dir: dir.to_path_buf(),
            spec,
        };
        fs_err::create_dir_all(dir.join("bin"))?;
        fs_err::create_dir_all(dir.join("conf"))?;
        fs_err::create_dir_all(dir.join("scripted"))?;
        fs_err::write(dir.join("scripted/config"), node.config_text())?;
        let wrapper = dir.join("bin/nodetool");
        fs_err::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec '{}' --node '{}' \"$@\"\n",
                nodetool_bin.display(),
                dir.display()
            ),
        )?;
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
        let dirs: Vec<String> = node
            .data_dirs()
            .iter()
            .map(|d| format!("    - {}\n", d.display()))
            .collect();
        fs_err::write(
            dir.join("conf/cassandra.yaml"),
            format!(
                "cluster_name: 'scripted'\nincremental_backups: true\nauto_snapshot: true\n\
                 data_file_directories:\n{}",
                dirs.concat()
            ),
        )?;
        for table in &node.spec.tables {
            for d in 0..node.spec.data_dirs {
                fs_err::create_dir_all(node.table_dir(table, d))?;
            }
        }
        Ok(node)
    }

    /// Open a node made by [`Node::create`].
    pub fn open(dir: &Path) -> Result<Node> {
        let text = fs_err::read_to_string(dir.join("scripted/config"))?;
        let mut spec = NodeSpec {
            version: Version::V40,
            format: Format::Big,
            uuid_ids: false,
            data_dirs: 1,
            tables: Vec::new(),
            salt: 0,
        };
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["version", v] => {
                    spec.version = Version::parse(v).with_context(|| format!("version {v}"))?
                }
                ["format", "bti"] => spec.format = Format::Bti,
                ["format", _] => spec.format = Format::Big,
                ["uuid", v] => spec.uuid_ids = *v == "true",
                ["data_dirs", n] => spec.data_dirs = n.parse()?,
                ["salt", n] => spec.salt = n.parse()?,
                ["table", ks, t, idx] => spec.tables.push(TableSpec {
                    keyspace: ks.to_string(),
                    table: t.to_string(),
                    index: (*idx != "-").then(|| idx.to_string()),
                }),
                _ => bail!("bad line in {}/scripted/config: {line}", dir.display()),
            }
        }
        Ok(Node {
            dir: dir.to_path_buf(),
            spec,
        })
    }

    fn config_text(&self) -> String {
        let s = &self.spec;
        let mut text = format!(
            "version {}\nformat {}\nuuid {}\ndata_dirs {}\nsalt {}\n",
            s.version.release(),
            if s.format == Format::Bti {
                "bti"
            } else {
                "big"
            },
            s.uuid_ids,
            s.data_dirs,
            s.salt
        );
        for t in &s.tables {
            text.push_str(&format!(
                "table {} {} {}\n",
                t.keyspace,
                t.table,
                t.index.as_deref().unwrap_or("-")
            ));
        }
        text
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    pub fn data_dirs(&self) -> Vec<PathBuf> {
        (1..=self.spec.data_dirs)
            .map(|n| self.dir.join(format!("data{n}")))
            .collect()
    }

    /// `<data dir d>/<ks>/<table>-<id>`.
    pub fn table_dir(&self, table: &TableSpec, d: usize) -> PathBuf {
        self.dir
            .join(format!("data{}", d + 1))
            .join(&table.keyspace)
            .join(table_dir_name(
                &table.keyspace,
                &table.table,
                self.spec.salt,
            ))
    }

    /// The tables `nodetool <cmd> [ks [table]]` means; unknown names fail as nodetool does.
    pub fn tables(&self, keyspace: Option<&str>, table: Option<&str>) -> Result<Vec<TableSpec>> {
        if let Some(ks) = keyspace {
            if !self.spec.tables.iter().any(|t| t.keyspace == ks) {
                bail!("Keyspace [{ks}] does not exist.");
            }
        }
        let found: Vec<TableSpec> = self
            .spec
            .tables
            .iter()
            .filter(|t| keyspace.is_none_or(|ks| t.keyspace == ks))
            .filter(|t| table.is_none_or(|name| t.table == name))
            .cloned()
            .collect();
        if found.is_empty() {
            bail!("Unknown table/cf {}", table.unwrap_or("?"));
        }
        Ok(found)
    }

    fn table(&self, keyspace: &str, table: &str) -> Result<TableSpec> {
        Ok(self.tables(Some(keyspace), Some(table))?.remove(0))
    }

    fn cfses<'a>(&self, table: &'a TableSpec) -> Vec<Cfs<'a>> {
        let mut all = vec![Cfs { table, index: None }];
        if let Some(index) = &table.index {
            all.push(Cfs {
                table,
                index: Some(index),
            });
        }
        all
    }

    fn namer(&self, cfs: Cfs<'_>) -> Namer {
        Namer {
            version: self.spec.version,
            format: self.spec.format,
            keyspace: cfs.table.keyspace.clone(),
            table: match cfs.index {
                Some(index) if self.spec.version == Version::V21 => {
                    format!("{}.{index}", cfs.table.table)
                }
                _ => cfs.table.table.clone(),
            },
        }
    }

    /// Where `sub` (`""`, `backups`, `snapshots/<tag>`) of this CFS is in data dir `d`: 3.0+ puts an
    /// index's files in `.<index>/` below it, 2.1 next to the table's own.
    fn cfs_dir(&self, cfs: Cfs<'_>, d: usize, sub: &str) -> PathBuf {
        let mut dir = self.table_dir(cfs.table, d);
        if !sub.is_empty() {
            dir = dir.join(sub);
        }
        match cfs.index {
            Some(index) if self.spec.version != Version::V21 => dir.join(format!(".{index}")),
            _ => dir,
        }
    }

    fn state_dir(&self, cfs: Cfs<'_>) -> PathBuf {
        let name = match cfs.index {
            Some(index) => format!("{}.{}.{index}", cfs.table.keyspace, cfs.table.table),
            None => format!("{}.{}", cfs.table.keyspace, cfs.table.table),
        };
        self.dir.join("scripted").join(name)
    }

    fn read_state(&self, cfs: Cfs<'_>, file: &str) -> Result<String> {
        let path = self.state_dir(cfs).join(file);
        if !path.exists() {
            return Ok(String::new());
        }
        Ok(fs_err::read_to_string(path)?)
    }

    fn write_state(&self, cfs: Cfs<'_>, file: &str, text: &str) -> Result<()> {
        fs_err::create_dir_all(self.state_dir(cfs))?;
        fs_err::write(self.state_dir(cfs).join(file), text)?;
        Ok(())
    }

    /// The live SSTables of a CFS: (data dir, generation).
    fn live(&self, cfs: Cfs<'_>) -> Result<Vec<(usize, Generation)>> {
        self.read_state(cfs, "live")?
            .lines()
            .map(|line| {
                let (d, generation) = line.split_once(' ').context("bad live line")?;
                Ok((d.parse()?, parse_generation(generation)))
            })
            .collect()
    }

    fn set_live(&self, cfs: Cfs<'_>, live: &[(usize, Generation)]) -> Result<()> {
        let text: String = live.iter().map(|(d, g)| format!("{d} {g}\n")).collect();
        self.write_state(cfs, "live", &text)
    }

    fn next_generation(&self, cfs: Cfs<'_>) -> Result<Generation> {
        if self.spec.uuid_ids && self.spec.version.supports_uuid_ids() {
            let path = self.dir.join("scripted/uuid_seq");
            let seq: u64 = match path.exists() {
                true => fs_err::read_to_string(&path)?.trim().parse()?,
                false => 0,
            } + 1;
            fs_err::write(&path, seq.to_string())?;
            return Ok(Generation::Uuid(uuid_id(seq, self.spec.salt)));
        }
        let last: u64 = self.read_state(cfs, "counter")?.trim().parse().unwrap_or(0);
        self.write_state(cfs, "counter", &(last + 1).to_string())?;
        Ok(Generation::Seq(last + 1))
    }

    /// Write a new SSTable of `rows` for a CFS, make it live, and link it into `backups/` when asked.
    fn new_sstable(&self, cfs: Cfs<'_>, rows: &BTreeSet<String>, link: bool) -> Result<()> {
        let generation = self.next_generation(cfs)?;
        let d = (fnv(generation.to_string().as_bytes()) % self.spec.data_dirs as u64) as usize;
        let namer = self.namer(cfs);
        let prefix = namer.prefix(&generation);
        let files = sstable::write(&self.cfs_dir(cfs, d, ""), &prefix, namer.components(), rows)?;
        if link {
            self.link_all(&files, &self.cfs_dir(cfs, d, "backups"))?;
        }
        let mut live = self.live(cfs)?;
        live.push((d, generation));
        self.set_live(cfs, &live)
    }

    fn link_all(&self, files: &[PathBuf], into: &Path) -> Result<()> {
        fs_err::create_dir_all(into)?;
        for file in files {
            let name = file.file_name().context("file name")?;
            fs_err::hard_link(file, into.join(name))?;
        }
        Ok(())
    }

    fn sstable_files(&self, cfs: Cfs<'_>, d: usize, generation: &Generation) -> Vec<PathBuf> {
        let namer = self.namer(cfs);
        let prefix = namer.prefix(generation);
        let dir = self.cfs_dir(cfs, d, "");
        namer
            .components()
            .iter()
            .map(|c| dir.join(format!("{prefix}{c}")))
            .collect()
    }

    fn rows_of(&self, cfs: Cfs<'_>) -> Result<BTreeSet<String>> {
        let mut rows = BTreeSet::new();
        for (d, generation) in self.live(cfs)? {
            let data = self.sstable_files(cfs, d, &generation).remove(0);
            rows.extend(sstable::read_rows(&data)?);
        }
        Ok(rows)
    }

    /// The rows of a table on disk (its memtable not included).
    pub fn live_rows(&self, keyspace: &str, table: &str) -> Result<BTreeSet<String>> {
        let table = self.table(keyspace, table)?;
        self.rows_of(Cfs {
            table: &table,
            index: None,
        })
    }

    /// The index entries of a table on disk.
    pub fn live_index_rows(&self, keyspace: &str, table: &str) -> Result<BTreeSet<String>> {
        let table = self.table(keyspace, table)?;
        match &table.index {
            Some(index) => self.rows_of(Cfs {
                table: &table,
                index: Some(index),
            }),
            None => Ok(BTreeSet::new()),
        }
    }

    /// Writes that stay in the memtable until a flush.
    pub fn write(&self, keyspace: &str, table: &str, rows: &[String]) -> Result<()> {
        let table = self.table(keyspace, table)?;
        let cfs = Cfs {
            table: &table,
            index: None,
        };
        let mut memtable = self.read_state(cfs, "memtable")?;
        for row in rows {
            memtable.push_str(row);
            memtable.push('\n');
        }
        self.write_state(cfs, "memtable", &memtable)
    }

    /// `nodetool flush [ks [table]]`.
    pub fn flush(&self, keyspace: Option<&str>, table: Option<&str>) -> Result<()> {
        for table in self.tables(keyspace, table)? {
            self.flush_table(&table)?;
        }
        Ok(())
    }

    fn flush_table(&self, table: &TableSpec) -> Result<()> {
        let base = Cfs { table, index: None };
        let rows: BTreeSet<String> = self
            .read_state(base, "memtable")?
            .lines()
            .map(str::to_string)
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        self.new_sstable(base, &rows, true)?;
        if let Some(index) = &table.index {
            let entries = index_entries(&rows);
            self.new_sstable(
                Cfs {
                    table,
                    index: Some(index),
                },
                &entries,
                true,
            )?;
        }
        self.write_state(base, "memtable", "")
    }

    /// A major compaction of one table (and of its index): one new SSTable, not linked into backups/.
    pub fn compact(&self, keyspace: &str, table: &str) -> Result<()> {
        let table = self.table(keyspace, table)?;
        for cfs in self.cfses(&table) {
            let live = self.live(cfs)?;
            if live.len() < 2 {
                continue;
            }
            let rows = self.rows_of(cfs)?;
            self.set_live(cfs, &[])?;
            self.new_sstable(cfs, &rows, false)?;
            for (d, generation) in live {
                for file in self.sstable_files(cfs, d, &generation) {
                    fs_err::remove_file(file)?;
                }
            }
        }
        Ok(())
    }

    /// `nodetool snapshot -t TAG [ks...] [--table t]`: flush, then hard links of the live SSTables.
    pub fn snapshot(&self, tag: &str, keyspaces: &[String], table: Option<&str>) -> Result<()> {
        let mut tables = Vec::new();
        if keyspaces.is_empty() {
            tables = self.tables(None, table)?;
        }
        for ks in keyspaces {
            tables.extend(self.tables(Some(ks), table)?);
        }
        for t in &tables {
            for d in 0..self.spec.data_dirs {
                if self.table_dir(t, d).join("snapshots").join(tag).exists() {
                    bail!("Snapshot {tag} already exists.");
                }
            }
        }
        for t in &tables {
            self.snapshot_table(t, tag)?;
        }
        Ok(())
    }

    fn snapshot_table(&self, table: &TableSpec, tag: &str) -> Result<()> {
        self.flush_table(table)?;
        let mut data_files = Vec::new();
        for cfs in self.cfses(table) {
            for (d, generation) in self.live(cfs)? {
                let files = self.sstable_files(cfs, d, &generation);
                self.link_all(&files, &self.cfs_dir(cfs, d, &format!("snapshots/{tag}")))?;
                if cfs.index.is_none() {
                    data_files.push(files[0].file_name().unwrap().to_string_lossy().into_owned());
                }
            }
        }
        if self.spec.version.snapshot_manifest() {
            for d in 0..self.spec.data_dirs {
                let dir = self.table_dir(table, d).join("snapshots").join(tag);
                fs_err::create_dir_all(&dir)?;
                let files: Vec<String> = data_files.iter().map(|f| format!("\"{f}\"")).collect();
                fs_err::write(
                    dir.join("manifest.json"),
                    format!("{{\"files\":[{}]}}\n", files.join(",")),
                )?;
                fs_err::write(
                    dir.join("schema.cql"),
                    format!(
                        "CREATE TABLE IF NOT EXISTS {}.{} (key text PRIMARY KEY, value text);\n",
                        table.keyspace, table.table
                    ),
                )?;
            }
        }
        Ok(())
    }

    /// `nodetool clearsnapshot -t TAG`.
    pub fn clear_snapshot(&self, tag: &str) -> Result<()> {
        for table in &self.spec.tables {
            for d in 0..self.spec.data_dirs {
                let dir = self.table_dir(table, d).join("snapshots").join(tag);
                if dir.exists() {
                    fs_err::remove_dir_all(dir)?;
                }
            }
        }
        Ok(())
    }

    /// TRUNCATE: flush, `truncated-<ms>-<table>` snapshot (auto_snapshot), then the live SSTables go.
    pub fn truncate(&self, keyspace: &str, table: &str, millis: u64) -> Result<()> {
        let table = self.table(keyspace, table)?;
        self.snapshot_table(&table, &format!("truncated-{millis}-{}", table.table))?;
        for cfs in self.cfses(&table) {
            for (d, generation) in self.live(cfs)? {
                for file in self.sstable_files(cfs, d, &generation) {
                    fs_err::remove_file(file)?;
                }
            }
            self.set_live(cfs, &[])?;
        }
        Ok(())
    }

    /// A restart: every SSTable in the live dirs is loaded, each counter is set to the highest
    /// generation in the live and backups/ dirs, and the commit log's writes are flushed.
    pub fn restart(&self) -> Result<()> {
        for table in self.spec.tables.clone() {
            for cfs in self.cfses(&table) {
                let namer = self.namer(cfs);
                let mut live = Vec::new();
                let mut highest = 0;
                for d in 0..self.spec.data_dirs {
                    for (sub, is_live) in [("", true), ("backups", false)] {
                        for generation in data_generations(&self.cfs_dir(cfs, d, sub), &namer)? {
                            if let Generation::Seq(n) = generation {
                                highest = highest.max(n);
                            }
                            if is_live {
                                live.push((d, generation));
                            }
                        }
                    }
                }
                self.set_live(cfs, &live)?;
                self.write_state(cfs, "counter", &highest.to_string())?;
            }
            self.flush_table(&table)?;
        }
        Ok(())
    }

    /// The table's directories wiped (a replaced node): no SSTables, snapshots, backups or memtable.
    pub fn rebuild(&self, keyspace: &str, table: &str) -> Result<()> {
        let table = self.table(keyspace, table)?;
        for d in 0..self.spec.data_dirs {
            let dir = self.table_dir(&table, d);
            if dir.exists() {
                fs_err::remove_dir_all(&dir)?;
            }
            fs_err::create_dir_all(&dir)?;
        }
        for cfs in self.cfses(&table) {
            fs_err::remove_dir_all(self.state_dir(cfs)).or_else(ignore_missing)?;
        }
        Ok(())
    }

    /// `nodetool refresh ks table`: load new SSTables of the table dirs under new generations, link them
    /// into backups/, and build their index entries (files put in index dirs wait for a restart).
    pub fn refresh(&self, keyspace: &str, table: &str) -> Result<()> {
        let table = self.table(keyspace, table)?;
        let base = Cfs {
            table: &table,
            index: None,
        };
        let namer = self.namer(base);
        let known: BTreeSet<(usize, Generation)> = self.live(base)?.into_iter().collect();
        let mut loaded_rows = BTreeSet::new();
        for d in 0..self.spec.data_dirs {
            let dir = self.cfs_dir(base, d, "");
            for generation in data_generations(&dir, &namer)? {
                if known.contains(&(d, generation.clone())) {
                    continue;
                }
                let old_prefix = namer.prefix(&generation);
                let rows = sstable::read_rows(&dir.join(format!("{old_prefix}Data.db")))?;
                loaded_rows.extend(rows.iter().cloned());
                let new_generation = self.next_generation(base)?;
                let new_prefix = namer.prefix(&new_generation);
                let mut files = Vec::new();
                for entry in fs_err::read_dir(&dir)? {
                    let name = entry?.file_name().to_string_lossy().into_owned();
                    if let Some(component) = name.strip_prefix(&old_prefix) {
                        let to = dir.join(format!("{new_prefix}{component}"));
                        fs_err::rename(dir.join(&name), &to)?;
                        files.push(to);
                    }
                }
                self.link_all(&files, &self.cfs_dir(base, d, "backups"))?;
                let mut live = self.live(base)?;
                live.push((d, new_generation));
                self.set_live(base, &live)?;
            }
        }
        if let Some(index) = &table.index {
            let entries = index_entries(&loaded_rows);
            if !entries.is_empty() {
                self.new_sstable(
                    Cfs {
                        table: &table,
                        index: Some(index),
                    },
                    &entries,
                    true,
                )?;
            }
        }
        Ok(())
    }

    /// `nodetool import ks table DIR` (4.0+): the SSTables in DIR are moved (copied with `copy`) into the
    /// table under new generations, linked into backups/, and their index entries built.
    pub fn import(&self, keyspace: &str, table: &str, src: &Path, copy: bool) -> Result<()> {
        if !matches!(
            self.spec.version,
            Version::V40 | Version::V41 | Version::V50
        ) {
            bail!(
                "nodetool: import is not a command in Cassandra {}",
                self.spec.version.release()
            );
        }
        let table = self.table(keyspace, table)?;
        let base = Cfs {
            table: &table,
            index: None,
        };
        let namer = self.namer(base);
        let mut loaded_rows = BTreeSet::new();
        for generation in data_generations(src, &namer)? {
            let old_prefix = namer.prefix(&generation);
            loaded_rows.extend(sstable::read_rows(
                &src.join(format!("{old_prefix}Data.db")),
            )?);
            let new_generation = self.next_generation(base)?;
            let d =
                (fnv(new_generation.to_string().as_bytes()) % self.spec.data_dirs as u64) as usize;
            let dest = self.cfs_dir(base, d, "");
            fs_err::create_dir_all(&dest)?;
            let new_prefix = namer.prefix(&new_generation);
            let mut files = Vec::new();
            for entry in fs_err::read_dir(src)? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if let Some(component) = name.strip_prefix(&old_prefix) {
                    let to = dest.join(format!("{new_prefix}{component}"));
                    match copy {
                        true => drop(fs_err::copy(src.join(&name), &to)?),
                        false => fs_err::rename(src.join(&name), &to)?,
                    }
                    files.push(to);
                }
            }
            self.link_all(&files, &self.cfs_dir(base, d, "backups"))?;
            let mut live = self.live(base)?;
            live.push((d, new_generation));
            self.set_live(base, &live)?;
        }
        if let Some(index) = &table.index {
            let entries = index_entries(&loaded_rows);
            if !entries.is_empty() {
                self.new_sstable(
                    Cfs {
                        table: &table,
                        index: Some(index),
                    },
                    &entries,
                    true,
                )?;
            }
        }
        Ok(())
    }

    /// Append one line to `<node>/nodetool.log`.
    pub fn log(&self, line: &str) -> Result<()> {
        use std::io::Write;
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("nodetool.log"))?;
        writeln!(file, "{line}")?;
        Ok(())
    }

    /// The lines of `<node>/nodetool.log`.
    pub fn log_lines(&self) -> Result<Vec<String>> {
        let path = self.dir.join("nodetool.log");
        if !path.exists() {
            return Ok(Vec::new());
        }
        Ok(fs_err::read_to_string(path)?
            .lines()
            .map(str::to_string)
            .collect())
    }

    /// Every file of the tree below the data dirs, with its size: for failure reports.
    pub fn listing(&self) -> Result<BTreeMap<PathBuf, u64>> {
        let mut out = BTreeMap::new();
        for dir in self.data_dirs() {
            list_files(&dir, &mut out)?;
        }
        Ok(out)
    }
}

/// The index entries for a table's rows.
pub fn index_entries(rows: &BTreeSet<String>) -> BTreeSet<String> {
    rows.iter()
        .map(|row| {
            let key = row.split('\t').next().unwrap_or(row);
            format!("{INDEX_LINE_PREFIX}{key}")
        })
        .collect()
}

fn data_generations(dir: &Path, namer: &Namer) -> Result<Vec<Generation>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in fs_err::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(generation) = namer.parse_data(&name) {
            found.push(generation);
        }
    }
    found.sort();
    Ok(found)
}

fn parse_generation(text: &str) -> Generation {
    match text.parse() {
        Ok(n) => Generation::Seq(n),
        Err(_) => Generation::Uuid(text.to_string()),
    }
}

fn list_files(dir: &Path, out: &mut BTreeMap<PathBuf, u64>) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.is_dir() {
            list_files(&path, out)?;
        } else {
            out.insert(path, entry.metadata()?.len());
        }
    }
    Ok(())
}

fn ignore_missing(error: std::io::Error) -> std::io::Result<()> {
    match error.kind() {
        std::io::ErrorKind::NotFound => Ok(()),
        _ => Err(error),
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

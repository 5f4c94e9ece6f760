//! Deterministic Cassandra-like data trees for tests and benchmarks.
//!
//! Only Cassandra 1.2 can run here, so the layouts of 2.1 to 5.0 are built on disk with realistic names:
//! `<ks>/<table>-<32 hex id>/`, `nb-1-big-Data.db`, ULID-style 4.1+ generations, secondary-index dirs
//! `.<index>/`, and Cassandra's own `manifest.json`/`schema.cql` in snapshot dirs (3.0+). `Data.db` files
//! are incompressible (like LZ4-compressed SSTables); Index, Summary and Statistics are compressible.
//! The same spec always writes the same bytes.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The on-disk naming of one Cassandra generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 1.2: `<ks>/<cf>/<ks>-<cf>-ia-<N>-Data.db`.
    V12,
    /// 2.1: `<ks>/<table>-<id>/<ks>-<table>-ka-<N>-Data.db`.
    V21,
    /// 3.x: `<ks>/<table>-<id>/mc-<N>-big-Data.db`, snapshot manifest.json + schema.cql.
    V3,
    /// 4.0: `nb-<N>-big-Data.db`.
    V40,
    /// 4.1+: ULID-style generations `nb-3gll_1kke_…-big-Data.db`.
    V41,
}

/// Where the SSTables go below each table directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// `snapshots/<tag>/`.
    Snapshot(String),
    /// `backups/` (incremental backups).
    Backups,
    /// The live table directory.
    Live,
}

/// What to write.
#[derive(Debug, Clone)]
pub struct TreeSpec {
    pub layout: Layout,
    pub placement: Placement,
    pub keyspaces: Vec<String>,
    pub tables: Vec<String>,
    pub sstables_per_table: usize,
    /// Size of each `Data.db`; the other components are a fraction of it.
    pub data_size: u64,
    /// Add a secondary index `.<table>_idx/` to the first table of each keyspace.
    pub with_index: bool,
    /// Varies the bytes between trees of the same shape.
    pub seed: u64,
}

impl TreeSpec {
    pub fn new(layout: Layout, placement: Placement) -> Self {
        TreeSpec {
            layout,
            placement,
            keyspaces: vec!["ks1".into(), "ks2".into()],
            tables: vec!["users".into(), "events".into()],
            sstables_per_table: 2,
            data_size: 64 * 1024,
            with_index: true,
            seed: 1,
        }
    }
}

/// The directory name of `table` in `layout` (with a stable fake id for 2.1+).
pub fn table_dir_name(layout: Layout, keyspace: &str, table: &str) -> String {
    match layout {
        Layout::V12 => table.to_string(),
        _ => {
            let mut id = String::new();
            let mut state = fnv(format!("{keyspace}.{table}").as_bytes());
            while id.len() < 32 {
                state = xorshift(state);
                id.push_str(&format!("{:016x}", state));
            }
            id.truncate(32);
            format!("{table}-{id}")
        }
    }
}

/// Write the tree under `data_dir`; returns every file written, sorted.
pub fn write_tree(data_dir: &Path, spec: &TreeSpec) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let mut seed = spec.seed;
    for ks in &spec.keyspaces {
        for (t, table) in spec.tables.iter().enumerate() {
            let table_dir = data_dir
                .join(ks)
                .join(table_dir_name(spec.layout, ks, table));
            let target = match &spec.placement {
                Placement::Snapshot(tag) => table_dir.join("snapshots").join(tag),
                Placement::Backups => table_dir.join("backups"),
                Placement::Live => table_dir.clone(),
            };
            for generation in 1..=spec.sstables_per_table {
                seed = seed.wrapping_add(1);
                written.extend(write_sstable(&target, spec, ks, table, generation, seed)?);
                if spec.with_index && t == 0 {
                    let index_dir = target.join(format!(".{table}_idx"));
                    written.extend(write_sstable(
                        &index_dir,
                        spec,
                        ks,
                        table,
                        generation,
                        seed ^ 0xff,
                    )?);
                }
            }
            if matches!(spec.placement, Placement::Snapshot(_))
                && spec.layout != Layout::V12
                && spec.layout != Layout::V21
            {
                let manifest = target.join("manifest.json");
                let files: Vec<String> = (1..=spec.sstables_per_table)
                    .map(|g| {
                        format!(
                            "\"{}\"",
                            component_name(spec.layout, ks, table, g, "Data.db")
                        )
                    })
                    .collect();
                write_file(
                    &manifest,
                    format!("{{\"files\":[{}]}}\n", files.join(",")).as_bytes(),
                )?;
                let schema = target.join("schema.cql");
                write_file(
                    &schema,
                    format!(
                        "CREATE TABLE IF NOT EXISTS {ks}.{table} (id uuid PRIMARY KEY, v text);\n"
                    )
                    .as_bytes(),
                )?;
                written.push(manifest);
                written.push(schema);
            }
        }
    }
    written.sort();
    Ok(written)
}

/// The file name of one SSTable component.
pub fn component_name(
    layout: Layout,
    keyspace: &str,
    table: &str,
    generation: usize,
    component: &str,
) -> String {
    match layout {
        Layout::V12 => format!("{keyspace}-{table}-ia-{generation}-{component}"),
        Layout::V21 => format!("{keyspace}-{table}-ka-{generation}-{component}"),
        Layout::V3 => format!("mc-{generation}-big-{component}"),
        Layout::V40 => format!("nb-{generation}-big-{component}"),
        Layout::V41 => format!("nb-3gll_1kke_{generation:0>4}o2i4kzfpt3cqcy-big-{component}"),
    }
}

fn write_sstable(
    dir: &Path,
    spec: &TreeSpec,
    ks: &str,
    table: &str,
    generation: usize,
    seed: u64,
) -> Result<Vec<PathBuf>> {
    let size = spec.data_size;
    let components: [(&str, u64, Content); 7] = [
        ("Data.db", size, Content::Random),
        ("Index.db", size / 8, Content::Text),
        ("Filter.db", size / 64 + 16, Content::Random),
        ("Summary.db", size / 256 + 64, Content::Text),
        ("Statistics.db", 4096, Content::Text),
        ("CompressionInfo.db", size / 1024 + 43, Content::Text),
        ("TOC.txt", 0, Content::Toc),
    ];
    let mut written = Vec::new();
    for (component, len, content) in components {
        let path = dir.join(component_name(
            spec.layout,
            ks,
            table,
            generation,
            component,
        ));
        match content {
            Content::Random => write_generated(&path, len, seed, random_fill)?,
            Content::Text => write_generated(&path, len, seed, text_fill)?,
            Content::Toc => {
                let toc: Vec<&str> = components.iter().map(|c| c.0).collect();
                write_file(&path, format!("{}\n", toc.join("\n")).as_bytes())?;
            }
        }
        written.push(path);
    }
    Ok(written)
}

#[derive(Clone, Copy)]
enum Content {
    Random,
    Text,
    Toc,
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent)?;
    }
    fs_err::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Write `len` bytes made by `fill` in 1 MiB chunks, so large files never sit in memory.
pub fn write_generated(
    path: &Path,
    len: u64,
    seed: u64,
    fill: fn(&mut [u8], &mut u64),
) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs_err::create_dir_all(parent)?;
    }
    let file = fs_err::File::create(path)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut state = fnv(&seed.to_le_bytes()) | 1;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        fill(&mut chunk[..n], &mut state);
        out.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    Ok(())
}

/// Incompressible bytes (xorshift64).
pub fn random_fill(buf: &mut [u8], state: &mut u64) {
    for chunk in buf.chunks_mut(8) {
        *state = xorshift(*state);
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
}

/// Compressible, index-like text: keys and offsets.
pub fn text_fill(buf: &mut [u8], state: &mut u64) {
    let mut line = Vec::with_capacity(64);
    let mut pos = 0;
    while pos < buf.len() {
        *state = xorshift(*state);
        line.clear();
        line.extend_from_slice(
            format!(
                "key-{:08}\toffset={:012}\n",
                *state % 100_000,
                *state % 1_000_000_007
            )
            .as_bytes(),
        );
        let n = line.len().min(buf.len() - pos);
        buf[pos..pos + n].copy_from_slice(&line[..n]);
        pos += n;
    }
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_are_deterministic_and_realistic() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let spec = TreeSpec::new(Layout::V41, Placement::Snapshot("t1".into()));
        let files_a = write_tree(a.path(), &spec).unwrap();
        let files_b = write_tree(b.path(), &spec).unwrap();
        assert_eq!(files_a.len(), files_b.len());
        for (fa, fb) in files_a.iter().zip(&files_b) {
            assert_eq!(fs_err::read(fa).unwrap(), fs_err::read(fb).unwrap());
        }
        let names: Vec<String> = files_a.iter().map(|p| p.display().to_string()).collect();
        assert!(
            names
                .iter()
                .any(|n| n.contains("/snapshots/t1/.users_idx/nb-3gll_1kke_")),
            "{names:?}"
        );
        assert!(names
            .iter()
            .any(|n| n.ends_with("/snapshots/t1/manifest.json")));
        let dir = table_dir_name(Layout::V40, "ks1", "users");
        assert_eq!(dir.len(), "users-".len() + 32);
        assert_eq!(table_dir_name(Layout::V12, "ks1", "users"), "users");
    }
}

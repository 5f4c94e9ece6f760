//! The data the benchmark pushes: a Cassandra-like snapshot tree and one big sparse file.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use testkit::tree::{random_fill, write_tree, Layout, Placement, TreeSpec};

/// Of each SSTable, everything but `Data.db` adds about this fraction of `Data.db`'s size
/// (Index 1/8, Filter 1/64, Summary 1/256, CompressionInfo 1/1024; see testkit::tree).
const COMPONENTS_PER_DATA_BYTE: f64 = 1.0 + 1.0 / 8.0 + 1.0 / 64.0 + 1.0 / 256.0 + 1.0 / 1024.0;
const KEYSPACES: [&str; 2] = ["ks1", "ks2"];
const TABLES: [&str; 4] = ["users", "events", "sessions", "metrics"];
const SSTABLES_PER_TABLE: usize = 4;
/// Bumped when the tree's shape changes, so a kept tree of the old shape is rewritten.
const SEED: u64 = 2024;

/// A generated snapshot tree, on disk.
#[derive(Debug, Clone)]
pub struct SourceTree {
    pub root: PathBuf,
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    /// Bytes in `Data.db` and `Filter.db` files: random, incompressible.
    pub incompressible_bytes: u64,
}

impl SourceTree {
    /// One sentence for the results.
    pub fn describe(&self) -> String {
        format!(
            "{} files, {:.0} MiB in a Cassandra 4.0 snapshot layout ({} keyspaces × {} tables, the first \
             with a secondary index, {SSTABLES_PER_TABLE} SSTables each); {:.0}% of the bytes are random \
             (Data.db, Filter.db: incompressible like LZ4-compressed SSTables), the rest compressible text \
             (Index, Summary, Statistics, CompressionInfo)",
            self.files.len(),
            self.bytes as f64 / (1024.0 * 1024.0),
            KEYSPACES.len(),
            TABLES.len(),
            100.0 * self.incompressible_bytes as f64 / self.bytes.max(1) as f64,
        )
    }

    /// Reads every file once so that every tool starts with the tree in the page cache.
    pub fn warm_page_cache(&self) -> Result<()> {
        self.files.iter().try_for_each(|path| warm_page_cache(path))
    }
}

/// Reads the file once, so that the page cache holds it when a tool is measured.
pub fn warm_page_cache(path: &Path) -> Result<()> {
    let mut buffer = vec![0u8; 1 << 20];
    let mut file = fs_err::File::open(path)?;
    while file.read(&mut buffer)? > 0 {}
    Ok(())
}

/// The tree of about `total_mib` under `root`: kept if a tree of the same spec is there, else written.
pub fn ensure_tree(root: &Path, total_mib: u64) -> Result<SourceTree> {
    let spec = spec_for(total_mib);
    let stamp_path = root.with_extension("spec");
    let stamp = format!("{spec:?}\n");
    let kept = root.is_dir() && fs_err::read_to_string(&stamp_path).ok().as_deref() == Some(&stamp);
    if kept {
        println!("bench: reusing the tree in {}", root.display());
    } else {
        println!(
            "bench: writing a {total_mib} MiB snapshot tree to {}",
            root.display()
        );
        if root.exists() {
            fs_err::remove_dir_all(root)?;
        }
        write_tree(root, &spec).context("writing the benchmark tree")?;
        fs_err::write(&stamp_path, stamp)?;
    }
    let files = files_under(root)?;
    let mut tree = SourceTree {
        root: root.to_path_buf(),
        files,
        bytes: 0,
        incompressible_bytes: 0,
    };
    for path in &tree.files {
        let len = fs_err::metadata(path)?.len();
        tree.bytes += len;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with("Data.db") || name.ends_with("Filter.db") {
            tree.incompressible_bytes += len;
        }
    }
    Ok(tree)
}

fn spec_for(total_mib: u64) -> TreeSpec {
    let mut spec = TreeSpec::new(Layout::V40, Placement::Snapshot("bench".into()));
    spec.keyspaces = KEYSPACES.iter().map(|name| name.to_string()).collect();
    spec.tables = TABLES.iter().map(|name| name.to_string()).collect();
    spec.sstables_per_table = SSTABLES_PER_TABLE;
    spec.with_index = true;
    spec.seed = SEED;
    // Each keyspace's first table has an index, so a keyspace holds one table's SSTables more.
    let sstables = KEYSPACES.len() * (TABLES.len() + 1) * SSTABLES_PER_TABLE;
    let data_size = (total_mib << 20) as f64 / (sstables as f64 * COMPONENTS_PER_DATA_BYTE);
    // Whole 64 KiB blocks, as SSTables of a compressed table roughly are.
    spec.data_size = ((data_size as u64) >> 16).max(1) << 16;
    spec
}

/// Every regular file below `root`, sorted.
pub fn files_under(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Sum of the sizes of every file below `root`.
pub fn bytes_under(root: &Path) -> Result<u64> {
    files_under(root)?
        .iter()
        .try_fold(0, |sum, path| Ok(sum + fs_err::metadata(path)?.len()))
}

/// Random stretches in the big file: this many bytes...
const BIG_FILE_STRETCH: u64 = 16 << 20;
/// ...at the start of every such interval; the rest are holes (zeros).
const BIG_FILE_INTERVAL: u64 = 256 << 20;

/// A sparse file of `gib` GiB in `dir` (alone there): random stretches between holes. Returns what it holds.
pub fn write_big_file(dir: &Path, gib: u64) -> Result<(PathBuf, String)> {
    if dir.exists() {
        fs_err::remove_dir_all(dir)?;
    }
    fs_err::create_dir_all(dir)?;
    let path = dir.join(format!("big-{gib}GiB-Data.db"));
    let size = gib << 30;
    let file = fs_err::File::create(&path)?;
    file.set_len(size)?;
    let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut stretch = vec![0u8; BIG_FILE_STRETCH as usize];
    let mut state = SEED;
    let mut random_bytes = 0;
    for offset in (0..size).step_by(BIG_FILE_INTERVAL as usize) {
        let len = BIG_FILE_STRETCH.min(size - offset) as usize;
        random_fill(&mut stretch[..len], &mut state);
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(&stretch[..len])?;
        random_bytes += len as u64;
    }
    file.flush()?;
    let description = format!(
        "one sparse {gib} GiB file: {} MiB of random bytes at the start of every {} MiB, zeros (holes) \
         in between, {} MiB random in all",
        BIG_FILE_STRETCH >> 20,
        BIG_FILE_INTERVAL >> 20,
        random_bytes >> 20
    );
    Ok((path, description))
}

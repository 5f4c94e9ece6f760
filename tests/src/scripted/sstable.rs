//! The bytes of one scripted SSTable. Rows live in `Data.db`, one `key\tvalue` line each (an index
//! SSTable's lines start with `i:`); every other component is derived from them deterministically, and
//! `TOC.txt` is the same for every SSTable of a format, as in Cassandra.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;

/// The marker of an index entry line in a secondary index's `Data.db`.
pub const INDEX_LINE_PREFIX: &str = "i:";

/// Write every component of one SSTable into `dir` (created if missing); returns the paths, Data.db first.
pub fn write(
    dir: &Path,
    prefix: &str,
    components: &[&str],
    rows: &BTreeSet<String>,
) -> Result<Vec<PathBuf>> {
    fs_err::create_dir_all(dir)?;
    let data: String = rows.iter().map(|row| format!("{row}\n")).collect();
    let mut written = Vec::new();
    for component in components {
        let bytes = component_bytes(component, components, &data, rows);
        let path = dir.join(format!("{prefix}{component}"));
        fs_err::write(&path, bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// The rows of a `Data.db` file.
pub fn read_rows(data_file: &Path) -> Result<BTreeSet<String>> {
    Ok(fs_err::read_to_string(data_file)?
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect())
}

fn component_bytes(
    component: &str,
    components: &[&str],
    data: &str,
    rows: &BTreeSet<String>,
) -> Vec<u8> {
    let keys = || rows.iter().map(|row| row.split('\t').next().unwrap_or(row));
    match component {
        "Data.db" => data.as_bytes().to_vec(),
        "Index.db" | "Partitions.db" => {
            let mut offset = 0usize;
            let mut out = String::new();
            for (key, row) in keys().zip(rows) {
                out.push_str(&format!("{key} {offset}\n"));
                offset += row.len() + 1;
            }
            out.into_bytes()
        }
        "Rows.db" => format!("rows {}\n", rows.len()).into_bytes(),
        "Filter.db" => {
            let mut out = Vec::new();
            for key in keys() {
                out.extend_from_slice(&fnv(key.as_bytes()).to_le_bytes());
            }
            out.extend_from_slice(&(rows.len() as u64).to_le_bytes());
            out
        }
        "Summary.db" => format!(
            "first={}\nlast={}\n",
            keys().next().unwrap_or(""),
            keys().next_back().unwrap_or("")
        )
        .into_bytes(),
        "Statistics.db" => format!(
            "partitions={}\nbytes={}\nmin={}\nmax={}\n",
            rows.len(),
            data.len(),
            keys().next().unwrap_or(""),
            keys().next_back().unwrap_or("")
        )
        .into_bytes(),
        "CompressionInfo.db" => format!(
            "LZ4Compressor\nchunk_length=16384\ndata_length={}\n",
            data.len()
        )
        .into_bytes(),
        "Digest.crc32" => crc32(data.as_bytes()).to_string().into_bytes(),
        "Digest.sha1" => format!(
            "{:016x}{:016x}{:08x}",
            fnv(data.as_bytes()),
            fnv(&data.as_bytes().iter().rev().copied().collect::<Vec<_>>()),
            crc32(data.as_bytes())
        )
        .into_bytes(),
        "TOC.txt" => components
            .iter()
            .map(|c| format!("{c}\n"))
            .collect::<String>()
            .into_bytes(),
        other => format!("{other}\n").into_bytes(),
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// CRC-32 (IEEE), as Cassandra's `Digest.crc32` holds it (in decimal).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xcbf4_3926);
    }
}

//! The lzop container (what `lzop` 1.04 writes and reads) on top of the `lzo1x` crate.
//!
//! - [`LzopEncoder`] turns any `Read` into lzop file bytes, compressing blocks in parallel on a
//!   rayon pool with bounded memory; output is accepted by `lzop -t` / `lzop -d`.
//! - [`LzopDecoder`] reads everything lzop 1.04 writes (methods 1-3, all levels, with or without
//!   name/mode/time, Adler-32 or CRC-32 checksums or none, CRC-32 headers, delta filters, extra
//!   fields, pre-0.94 headers) and verifies every checksum present; [`verify`] does that without
//!   keeping the data.
//!
//! Deliberate differences from lzop when reading: blocks up to lzop's format limit of 64 MiB are
//! accepted (lzop 1.04 stops at 256 KiB), and any byte after the end-of-stream marker is an error
//! ([`LzopError::TrailingData`]) where lzop would read a second archive member or warn about
//! garbage: a backup object must be exactly one stream, and decoding something other than what
//! `lzop -dc` would produce must never pass silently.
//!
//! File format reference: `/work/shared/LZOP-FORMAT.md` (written from lzop's `src/lzop.c` and
//! `src/p_lzo.c`). All integers are big-endian.

mod checksum;
mod decoder;
mod encoder;
mod error;
mod filter;
mod header;
mod input;
mod simple_writer;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io::Read;

pub use checksum::{adler32, crc32, ADLER32_INIT, CRC32_INIT};
pub use decoder::{LzopDecoder, MAX_DECODE_BLOCK_SIZE};
pub use encoder::LzopEncoder;
pub use error::{ChecksummedData, LzopError};
pub use header::{flags, Header, MAGIC};
pub use simple_writer::encode_with_header;

/// The largest block we write: lzop 1.04 refuses files with larger blocks ("block size too small
/// -- recompile lzop").
pub const MAX_BLOCK_SIZE: usize = 256 * 1024;

/// Which checksum the encoder stores for each block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checksum {
    /// lzop's default, and the faster one.
    #[default]
    Adler32,
    /// lzop's `--crc32`.
    Crc32,
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Adler32 => "Adler-32",
            Self::Crc32 => "CRC-32",
        })
    }
}

/// How [`LzopEncoder`] writes a file.
#[derive(Debug, Clone)]
pub struct EncoderOptions {
    /// Stored for both the uncompressed (`_D`) and the compressed (`_C`) data of every block.
    pub checksum: Checksum,
    /// Bytes per block, clamped to 1..=[`MAX_BLOCK_SIZE`]; the default is the maximum, like lzop.
    pub block_size: usize,
    /// Stored file name (cut to 255 bytes at a character boundary); `None` stores no name. lzop
    /// stores a base name.
    pub name: Option<String>,
    /// Seconds since the epoch; negative values are stored as 0 (unknown), as lzop does.
    pub mtime: i64,
    /// `st_mode` of the source; 0 means "don't restore".
    pub mode: u32,
    /// Blocks compressed at the same time; 0 (the default) means twice the pool's threads.
    pub blocks_in_flight: usize,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            checksum: Checksum::default(),
            block_size: MAX_BLOCK_SIZE,
            name: None,
            mtime: 0,
            mode: 0,
            blocks_in_flight: 0,
        }
    }
}

/// What [`verify`] (or a finished [`LzopDecoder`]) saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifyStats {
    /// Bytes the stream decompresses to.
    pub uncompressed_bytes: u64,
    /// Bytes of the lzop stream itself, header and end marker included.
    pub compressed_bytes: u64,
    /// Data blocks (the end marker not counted).
    pub blocks: u64,
}

/// Reads a whole lzop stream, decompressing every block and checking every checksum, without
/// keeping the data. Fails on the first problem, with its offset.
pub fn verify<R: Read>(reader: R) -> Result<VerifyStats, LzopError> {
    let mut decoder = LzopDecoder::new(reader)?;
    while decoder.decode_next_block()? {}
    Ok(decoder.stats())
}

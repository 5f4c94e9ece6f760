//! Errors of the lzop reader.
//!
//! Every variant carries the byte offset in the compressed stream where the problem was found, so a
//! report like "backup.lzo: block checksum mismatch at offset 1234 (...)" points at the damage.
//! Messages start in lower case and name no file: callers prefix the file or object name.

use std::fmt;
use std::io;

use super::Checksum;

/// Which data a block checksum covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksummedData {
    /// The original bytes (lzop's `_D` checksums).
    Uncompressed,
    /// The stored LZO bytes of a compressed block (lzop's `_C` checksums).
    Compressed,
}

impl fmt::Display for ChecksummedData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Uncompressed => "uncompressed",
            Self::Compressed => "compressed",
        })
    }
}

/// Why an lzop stream could not be read. Only [`LzopError::Io`] may succeed on a retry; every other
/// variant describes the bytes themselves (see [`LzopError::is_retryable`]).
#[derive(Debug, thiserror::Error)]
pub enum LzopError {
    /// The underlying reader failed.
    #[error("read error at offset {offset} of the lzop stream: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// The stream ended in the middle of a header or block.
    #[error("truncated lzop stream: it ends at offset {offset}, inside the {part}")]
    Truncated { offset: u64, part: &'static str },
    /// The first nine bytes are not the lzop signature.
    #[error("not an lzop file (bad magic bytes at offset {offset})")]
    BadMagic { offset: u64 },
    /// The header's version fields are out of the range lzop accepts.
    #[error("unsupported lzop header at offset {offset}: {problem}")]
    UnsupportedVersion { offset: u64, problem: String },
    /// A method other than the LZO1X ones lzop writes (1, 2, 3).
    #[error("unknown lzop compression method {method} at offset {offset}")]
    UnknownMethod { offset: u64, method: u8 },
    /// A compression level outside 1..=9.
    #[error("unknown lzop compression level {level} at offset {offset}")]
    UnknownLevel { offset: u64, level: u8 },
    /// Reserved header flag bits are set.
    #[error("unknown lzop header flags {flags:#010x} at offset {offset}")]
    UnknownFlags { offset: u64, flags: u32 },
    /// A compressed-data checksum flag without the matching uncompressed-data one (lzop itself
    /// asserts on this).
    #[error("inconsistent lzop checksum flags {flags:#010x} at offset {offset}")]
    InconsistentFlags { offset: u64, flags: u32 },
    /// A filter number lzop does not know (it knows 1..=16).
    #[error("unknown lzop filter {filter} at offset {offset}")]
    UnknownFilter { offset: u64, filter: u32 },
    /// The header checksum does not match the header bytes.
    #[error(
        "lzop header checksum mismatch at offset {offset} (stored {stored:#010x}, computed {computed:#010x})"
    )]
    HeaderChecksum {
        offset: u64,
        stored: u32,
        computed: u32,
    },
    /// The optional header extra field's checksum does not match.
    #[error(
        "lzop header extra field checksum mismatch at offset {offset} (stored {stored:#010x}, computed {computed:#010x})"
    )]
    ExtraFieldChecksum {
        offset: u64,
        stored: u32,
        computed: u32,
    },
    /// A block's lengths are impossible (zero or larger than the uncompressed length, or a
    /// split-file marker).
    #[error("corrupt lzop block header at offset {offset} (block {block}): {problem}")]
    BadBlockHeader {
        offset: u64,
        block: u64,
        problem: String,
    },
    /// A block claims more than lzop's hard limit of 64 MiB.
    #[error(
        "corrupt lzop block header at offset {offset} (block {block}): uncompressed length {length} exceeds the 64 MiB limit"
    )]
    BlockTooLarge {
        offset: u64,
        block: u64,
        length: u32,
    },
    /// A stored block checksum does not match the data.
    #[error(
        "block checksum mismatch at offset {offset} (block {block}, {algorithm} of the {data} data: stored {stored:#010x}, computed {computed:#010x})"
    )]
    BlockChecksum {
        offset: u64,
        block: u64,
        algorithm: Checksum,
        data: ChecksummedData,
        stored: u32,
        computed: u32,
    },
    /// The LZO data of a block does not decompress to its stated length.
    #[error("corrupt compressed data in block {block} at offset {offset}: {problem}")]
    CorruptBlock {
        offset: u64,
        block: u64,
        problem: lzo1x::DecompressError,
    },
    /// Bytes follow the end-of-stream marker. lzop would read them as another archive member (or
    /// warn about garbage); a backup object must hold exactly one stream, so this is an error.
    #[error(
        "unexpected data after the end of the lzop stream at offset {offset} (concatenated or padded file?)"
    )]
    TrailingData { offset: u64 },
    /// A read was attempted after an earlier error.
    #[error("the lzop stream already failed at offset {offset}; it cannot be read further")]
    AlreadyFailed { offset: u64 },
}

impl LzopError {
    /// Whether trying again could help: only a failing underlying reader; corrupt data stays corrupt.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Io { .. })
    }

    /// The offset in the compressed stream where the problem was found.
    pub fn offset(&self) -> u64 {
        match self {
            Self::Io { offset, .. }
            | Self::Truncated { offset, .. }
            | Self::BadMagic { offset }
            | Self::UnsupportedVersion { offset, .. }
            | Self::UnknownMethod { offset, .. }
            | Self::UnknownLevel { offset, .. }
            | Self::UnknownFlags { offset, .. }
            | Self::InconsistentFlags { offset, .. }
            | Self::UnknownFilter { offset, .. }
            | Self::HeaderChecksum { offset, .. }
            | Self::ExtraFieldChecksum { offset, .. }
            | Self::BadBlockHeader { offset, .. }
            | Self::BlockTooLarge { offset, .. }
            | Self::BlockChecksum { offset, .. }
            | Self::CorruptBlock { offset, .. }
            | Self::TrailingData { offset }
            | Self::AlreadyFailed { offset } => *offset,
        }
    }

    /// The `LzopError` inside an `io::Error` returned by [`super::LzopDecoder`]'s `Read`, if any.
    pub fn from_io_error(error: &io::Error) -> Option<&LzopError> {
        error.get_ref()?.downcast_ref::<LzopError>()
    }
}

impl From<LzopError> for io::Error {
    /// Keeps the reader's own error kind for I/O failures, `UnexpectedEof` for truncation and
    /// `InvalidData` for everything wrong with the bytes.
    fn from(error: LzopError) -> Self {
        let kind = match &error {
            LzopError::Io { source, .. } => source.kind(),
            LzopError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, error)
    }
}

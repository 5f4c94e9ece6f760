//! The streaming lzop reader: validates the header up front, then decodes block by block,
//! verifying every checksum the header announces, and insists the stream ends right after its
//! end marker.

use std::io::{self, BufRead, BufReader, Read};

use super::checksum::{adler32, crc32, ADLER32_INIT, CRC32_INIT};
use super::error::ChecksummedData;
use super::filter::undo_delta_filter;
use super::header::{flags, Header};
use super::input::TrackedReader;
use super::{Checksum, LzopError, VerifyStats};

/// lzop's hard limit on a block's uncompressed length (its `MAX_BLOCK_SIZE`, "DO NOT CHANGE").
/// lzop 1.04 itself only reads blocks up to 256 KiB; we accept what its format allows.
pub const MAX_DECODE_BLOCK_SIZE: u32 = 64 * 1024 * 1024;

/// An uncompressed length of all ones marks a split file, which lzop never implemented.
const SPLIT_FILE_MARKER: u32 = u32::MAX;

/// Streaming decoder: parses and validates the header on construction, then `Read` yields the
/// original bytes, verifying every checksum present. Read errors are `io::Error`s wrapping an
/// [`LzopError`] (see [`LzopError::from_io_error`]).
pub struct LzopDecoder<R: Read> {
    /// Buffered because block framing is read a few bytes at a time; block data reads are larger
    /// than the buffer and go straight to the source.
    input: TrackedReader<BufReader<R>>,
    header: Header,
    /// Decoded bytes of the current block and how many were handed out.
    block: Vec<u8>,
    block_position: usize,
    /// Stored bytes of the current block when it is compressed.
    stored: Vec<u8>,
    blocks: u64,
    uncompressed_bytes: u64,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Blocks,
    Finished,
    /// An error was returned; the offset where it happened.
    Failed(u64),
}

/// The checksums stored in front of one block (absent ones are `None`).
#[derive(Default)]
struct StoredChecksums {
    adler_uncompressed: Option<u32>,
    crc_uncompressed: Option<u32>,
    adler_compressed: Option<u32>,
    crc_compressed: Option<u32>,
}

impl<R: Read> LzopDecoder<R> {
    /// Reads and validates the header. The source is buffered internally.
    pub fn new(inner: R) -> Result<Self, LzopError> {
        let mut input = TrackedReader::new(BufReader::new(inner));
        let header = Header::read_from(&mut input)?;
        Ok(Self {
            input,
            header,
            block: Vec::new(),
            block_position: 0,
            stored: Vec::new(),
            blocks: 0,
            uncompressed_bytes: 0,
            state: State::Blocks,
        })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Counts so far; final once the decoder has returned end of file.
    pub fn stats(&self) -> VerifyStats {
        VerifyStats {
            uncompressed_bytes: self.uncompressed_bytes,
            compressed_bytes: self.input.offset(),
            blocks: self.blocks,
        }
    }

    /// Gives back the source; bytes read ahead into the internal buffer are lost.
    pub fn into_inner(self) -> R {
        self.input.into_inner().into_inner()
    }

    /// Decodes the next block into the internal buffer; `false` once the end marker has been
    /// read (and nothing follows it).
    pub(crate) fn decode_next_block(&mut self) -> Result<bool, LzopError> {
        match self.state {
            State::Blocks => {}
            State::Finished => return Ok(false),
            State::Failed(offset) => return Err(LzopError::AlreadyFailed { offset }),
        }
        match self.read_block() {
            Ok(more) => {
                if !more {
                    self.state = State::Finished;
                }
                Ok(more)
            }
            Err(error) => {
                self.state = State::Failed(error.offset());
                Err(error)
            }
        }
    }

    fn read_block(&mut self) -> Result<bool, LzopError> {
        let offset = self.input.offset();
        let block = self.blocks;
        let uncompressed_len = self.input.read_u32("block header")?;
        if uncompressed_len == 0 {
            if !self.input.at_end()? {
                return Err(LzopError::TrailingData {
                    offset: self.input.offset() - 1,
                });
            }
            return Ok(false);
        }
        let bad_header = |problem: String| LzopError::BadBlockHeader {
            offset,
            block,
            problem,
        };
        if uncompressed_len == SPLIT_FILE_MARKER {
            return Err(bad_header("split lzop files are not supported".to_owned()));
        }
        if uncompressed_len > MAX_DECODE_BLOCK_SIZE {
            return Err(LzopError::BlockTooLarge {
                offset,
                block,
                length: uncompressed_len,
            });
        }
        let stored_len = self.input.read_u32("block header")?;
        if stored_len == 0 || stored_len > uncompressed_len {
            return Err(bad_header(format!(
                "stored length {stored_len} is not in 1..={uncompressed_len}"
            )));
        }
        let compressed = stored_len < uncompressed_len;
        let checksums = self.read_checksums(compressed)?;

        let data_offset = self.input.offset();
        let mismatch = |Mismatch(algorithm, stored, computed), data| LzopError::BlockChecksum {
            offset: data_offset,
            block,
            algorithm,
            data,
            stored,
            computed,
        };
        let (uncompressed_len, stored_len) = (uncompressed_len as usize, stored_len as usize);
        // Only grows (zero-fills) the first time; blocks after that have the same size.
        self.block.resize(uncompressed_len, 0);
        if compressed {
            self.stored.resize(stored_len, 0);
            self.input.read_exact(&mut self.stored, "block data")?;
            check(
                &self.stored,
                checksums.adler_compressed,
                checksums.crc_compressed,
            )
            .map_err(|m| mismatch(m, ChecksummedData::Compressed))?;
            lzo1x::decompress(&self.stored, &mut self.block).map_err(|problem| {
                LzopError::CorruptBlock {
                    offset: data_offset,
                    block,
                    problem,
                }
            })?;
        } else {
            // A raw block has no _C checksums of its own (lzop stores none): checking the _D ones
            // below covers its bytes. (lzop 1.04 compares the _D checksum with the stored bytes
            // here, which fails for its own filtered files; we do not copy that.)
            self.input.read_exact(&mut self.block, "block data")?;
        }
        undo_delta_filter(&mut self.block, self.header.filter);
        check(
            &self.block,
            checksums.adler_uncompressed,
            checksums.crc_uncompressed,
        )
        .map_err(|m| mismatch(m, ChecksummedData::Uncompressed))?;

        self.block_position = 0;
        self.blocks += 1;
        self.uncompressed_bytes += uncompressed_len as u64;
        Ok(true)
    }

    /// Reads the checksums the header's flags put in front of a block, in lzop's order.
    fn read_checksums(&mut self, compressed: bool) -> Result<StoredChecksums, LzopError> {
        let has = |flag| self.header.has(flag);
        let (adler_d, crc_d) = (has(flags::ADLER32_D), has(flags::CRC32_D));
        let (adler_c, crc_c) = (has(flags::ADLER32_C), has(flags::CRC32_C));
        let mut checksums = StoredChecksums::default();
        let part = "block checksums";
        if adler_d {
            checksums.adler_uncompressed = Some(self.input.read_u32(part)?);
        }
        if crc_d {
            checksums.crc_uncompressed = Some(self.input.read_u32(part)?);
        }
        if compressed && adler_c {
            checksums.adler_compressed = Some(self.input.read_u32(part)?);
        }
        if compressed && crc_c {
            checksums.crc_compressed = Some(self.input.read_u32(part)?);
        }
        Ok(checksums)
    }
}

/// A stored checksum that does not match: which algorithm, stored and computed values.
struct Mismatch(Checksum, u32, u32);

/// Compares `data` with the stored Adler-32 and CRC-32, where present.
fn check(data: &[u8], adler: Option<u32>, crc: Option<u32>) -> Result<(), Mismatch> {
    if let Some(stored) = adler {
        let computed = adler32(ADLER32_INIT, data);
        if computed != stored {
            return Err(Mismatch(Checksum::Adler32, stored, computed));
        }
    }
    if let Some(stored) = crc {
        let computed = crc32(CRC32_INIT, data);
        if computed != stored {
            return Err(Mismatch(Checksum::Crc32, stored, computed));
        }
    }
    Ok(())
}

impl<R: Read> BufRead for LzopDecoder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.block_position >= self.block.len() && self.decode_next_block()? {
            // Blocks are never empty, so one decoded block always has bytes to give.
            debug_assert!(!self.block.is_empty());
        }
        Ok(&self.block[self.block_position.min(self.block.len())..])
    }

    fn consume(&mut self, amount: usize) {
        self.block_position = (self.block_position + amount).min(self.block.len());
    }
}

impl<R: Read> Read for LzopDecoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

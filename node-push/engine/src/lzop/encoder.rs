//! The streaming, parallel lzop writer.
//!
//! The source is read on the caller's thread one block at a time; each block is handed to a rayon
//! pool as its own job, and up to `blocks_in_flight` jobs run while the caller drains finished
//! blocks in order. That overlaps reading, compressing and the caller's own work (uploading),
//! instead of stopping the pool whenever the caller is busy, which a batch-then-drain `par_iter`
//! would do. Memory stays at about `blocks_in_flight` x (input + compressed) block buffers.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use rayon::{ThreadPool, Yield};

use super::checksum::{adler32, crc32, ADLER32_INIT, CRC32_INIT};
use super::header::Header;
use super::{Checksum, EncoderOptions, MAX_BLOCK_SIZE};

/// lzo1x level 3 is LZO1X-1 (14-bit dictionary), the method lzop records as 1.
const LZO1X_1: lzo1x::CompressLevel = lzo1x::CompressLevel::new(3);

/// Blocks at least this long are tried on a sample first ([`worth_compressing`]).
const SAMPLE_FROM: usize = 64 * 1024;
/// Bytes taken from each of the three places a block is sampled at.
const SAMPLE_SLICE: usize = 2048;

/// Largest block header: uncompressed length, compressed length, two checksums.
const MAX_BLOCK_PREFIX: usize = 16;

/// Streaming encoder: wraps a source reader and is itself a `Read` (and `BufRead`) producing the
/// lzop file bytes. Blocks are compressed in parallel on the given rayon pool (or the global pool)
/// and emitted in order; a block that does not shrink is stored raw.
///
/// Reading the source fails the encoder for good: later reads repeat an error.
pub struct LzopEncoder<R: Read> {
    inner: R,
    pool: Option<Arc<ThreadPool>>,
    checksum: Checksum,
    block_size: usize,
    blocks_in_flight: usize,
    /// Blocks handed to the pool, oldest first; each answers on its own channel.
    in_flight: VecDeque<Receiver<EncodedBlock>>,
    /// The bytes being handed out now (the file header, a block, or the end marker).
    current: OutputChunk,
    /// Block-sized buffers ready to be read into again.
    spare_buffers: Vec<Vec<u8>>,
    stage: Stage,
    /// The source has returned end of file; it is not read again (a terminal or pipe might block
    /// or produce more).
    source_exhausted: bool,
    uncompressed_bytes: u64,
    compressed_bytes: u64,
    /// An error to report on the next read, because the read that hit it had already copied data.
    deferred_error: Option<io::Error>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Blocks are still coming (the source may or may not be exhausted).
    Blocks,
    /// The end marker has been queued.
    EndMarker,
    /// Everything has been handed out.
    Done,
    /// The source failed; the output is unusable.
    Failed,
}

impl<R: Read> LzopEncoder<R> {
    /// Starts encoding `inner`. Nothing is read until the first read of the encoder.
    pub fn new(inner: R, opts: EncoderOptions, pool: Option<Arc<ThreadPool>>) -> Self {
        let threads = match &pool {
            Some(pool) => pool.current_num_threads(),
            None => rayon::current_num_threads(),
        };
        let blocks_in_flight = match opts.blocks_in_flight {
            0 => 2 * threads.max(1),
            n => n,
        };
        let header = Header::for_encoder(&opts).to_bytes();
        Self {
            inner,
            pool,
            checksum: opts.checksum,
            block_size: opts.block_size.clamp(1, MAX_BLOCK_SIZE),
            blocks_in_flight,
            in_flight: VecDeque::with_capacity(blocks_in_flight),
            current: OutputChunk::whole(header),
            spare_buffers: Vec::new(),
            stage: Stage::Blocks,
            source_exhausted: false,
            uncompressed_bytes: 0,
            compressed_bytes: 0,
            deferred_error: None,
        }
    }

    /// Bytes read from the source so far (all of it once the encoder has reached its end).
    pub fn uncompressed_bytes(&self) -> u64 {
        self.uncompressed_bytes
    }

    /// lzop bytes handed out so far (the file size once the encoder has reached its end).
    pub fn compressed_bytes(&self) -> u64 {
        self.compressed_bytes
    }

    /// Gives back the source. Blocks still being compressed are abandoned.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Replaces the exhausted current chunk with the next one; leaves it empty at the end.
    fn advance(&mut self) -> io::Result<()> {
        let finished = std::mem::take(&mut self.current);
        self.recycle(finished.body);
        match self.stage {
            Stage::Blocks => {
                self.fill_pipeline()?;
                match self.in_flight.pop_front() {
                    Some(next) => {
                        // Refill the freed slot before waiting so the pool never runs dry.
                        self.fill_pipeline()?;
                        let block = self.wait_for(next)?;
                        if let Some(buffer) = block.spare {
                            self.recycle(buffer);
                        }
                        self.current = block.chunk;
                    }
                    None => {
                        self.current = OutputChunk::with_prefix(&[0; 4], Vec::new());
                        self.stage = Stage::EndMarker;
                    }
                }
            }
            Stage::EndMarker => self.stage = Stage::Done,
            Stage::Done => {}
            Stage::Failed => {
                return Err(io::Error::other(
                    "lzop encoder: reading the source failed earlier",
                ));
            }
        }
        Ok(())
    }

    /// Reads source blocks and hands them to the pool until `blocks_in_flight` are under way or
    /// the source is exhausted.
    fn fill_pipeline(&mut self) -> io::Result<()> {
        while self.in_flight.len() < self.blocks_in_flight {
            let Some(block) = self.read_source_block()? else {
                break;
            };
            let checksum = self.checksum;
            let (sender, receiver) = mpsc::sync_channel(1);
            let job = move || {
                // The receiver is gone if the encoder was dropped; the result is then unwanted.
                let _ = sender.send(encode_block(block, checksum));
            };
            match &self.pool {
                Some(pool) => pool.spawn(job),
                None => rayon::spawn(job),
            }
            self.in_flight.push_back(receiver);
        }
        Ok(())
    }

    /// The next block of the source, or `None` at its end.
    fn read_source_block(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.source_exhausted {
            return Ok(None);
        }
        let mut buffer = self.spare_buffers.pop().unwrap_or_default();
        // Recycled buffers already have this length, so this only zeroes fresh ones.
        buffer.resize(self.block_size, 0);
        let mut filled = 0;
        while filled < buffer.len() {
            match self.inner.read(&mut buffer[filled..]) {
                Ok(0) => {
                    self.source_exhausted = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.stage = Stage::Failed;
                    return Err(e);
                }
            }
        }
        self.uncompressed_bytes += filled as u64;
        if filled == 0 {
            self.recycle(buffer);
            return Ok(None);
        }
        buffer.truncate(filled);
        Ok(Some(buffer))
    }

    /// Keeps a full-size block buffer for reuse; drops anything else (compressed outputs, short
    /// final blocks) and anything beyond what the pipeline can use at once.
    fn recycle(&mut self, buffer: Vec<u8>) {
        if buffer.len() == self.block_size && self.spare_buffers.len() <= self.blocks_in_flight {
            self.spare_buffers.push(buffer);
        }
    }

    /// Waits for a block's job to finish without deadlocking when the caller itself runs on the
    /// pool: a pool thread helps with pending jobs instead of blocking.
    fn wait_for(&self, receiver: Receiver<EncodedBlock>) -> io::Result<EncodedBlock> {
        let worker_died = || io::Error::other("lzop encoder: a compression job panicked");
        loop {
            match receiver.try_recv() {
                Ok(block) => return Ok(block),
                Err(TryRecvError::Disconnected) => return Err(worker_died()),
                Err(TryRecvError::Empty) => {}
            }
            let helped = match &self.pool {
                Some(pool) => pool.yield_now(),
                None => rayon::yield_now(),
            };
            match helped {
                None => return receiver.recv().map_err(|_| worker_died()),
                Some(Yield::Executed) => {}
                Some(Yield::Idle) => match receiver.recv_timeout(Duration::from_micros(200)) {
                    Ok(block) => return Ok(block),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return Err(worker_died()),
                },
            }
        }
    }
}

impl<R: Read> BufRead for LzopEncoder<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if let Some(error) = self.deferred_error.take() {
            return Err(error);
        }
        while self.current.is_empty() && self.stage != Stage::Done {
            self.advance()?;
        }
        Ok(self.current.remaining())
    }

    fn consume(&mut self, amount: usize) {
        self.current.consume(amount);
        self.compressed_bytes += amount as u64;
    }
}

impl<R: Read> Read for LzopEncoder<R> {
    /// Fills as much of `buf` as possible, so large reads need few calls.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < buf.len() {
            let available = match self.fill_buf() {
                Ok(available) => available,
                Err(error) if written > 0 => {
                    self.deferred_error = Some(error);
                    break;
                }
                Err(error) => return Err(error),
            };
            if available.is_empty() {
                break;
            }
            let n = available.len().min(buf.len() - written);
            buf[written..written + n].copy_from_slice(&available[..n]);
            written += n;
            self.consume(n);
        }
        Ok(written)
    }
}

/// Bytes to hand out: a short prefix (a block header) followed by a body.
#[derive(Default)]
struct OutputChunk {
    prefix: [u8; MAX_BLOCK_PREFIX],
    prefix_len: usize,
    body: Vec<u8>,
    position: usize,
}

impl OutputChunk {
    fn whole(body: Vec<u8>) -> Self {
        Self {
            body,
            ..Self::default()
        }
    }

    fn with_prefix(prefix: &[u8], body: Vec<u8>) -> Self {
        let mut chunk = Self {
            body,
            prefix_len: prefix.len(),
            ..Self::default()
        };
        chunk.prefix[..prefix.len()].copy_from_slice(prefix);
        chunk
    }

    fn is_empty(&self) -> bool {
        self.position >= self.prefix_len + self.body.len()
    }

    fn remaining(&self) -> &[u8] {
        if self.position < self.prefix_len {
            &self.prefix[self.position..self.prefix_len]
        } else {
            &self.body[self.position - self.prefix_len..]
        }
    }

    fn consume(&mut self, amount: usize) {
        self.position = (self.position + amount).min(self.prefix_len + self.body.len());
    }
}

/// One block, compressed and framed, with the buffer it no longer needs.
struct EncodedBlock {
    chunk: OutputChunk,
    /// The input buffer when the block was stored compressed (free for the next source read).
    spare: Option<Vec<u8>>,
}

/// Checksums and compresses one block; stores it raw if compression does not shrink it.
/// Whether a block may shrink: LZO1X-1 on 3 x 2 KiB taken from its start, middle and end must save at
/// least 1/32. Already-compressed data (LZ4/Snappy/Zstd SSTable chunks, most of a Cassandra data
/// directory's bytes) fails this and is stored raw without a full compression pass, whose cost is mostly
/// the zeroed output and dictionary the `lzo1x` crate allocates for every call. The choice depends on
/// the block's bytes only, so the same file always encodes to the same bytes. A block that is random at
/// all three places but compressible elsewhere is stored raw: valid lzop, a little larger.
fn worth_compressing(input: &[u8]) -> bool {
    if input.len() < SAMPLE_FROM {
        return true;
    }
    let mut sample = Vec::with_capacity(3 * SAMPLE_SLICE);
    for start in [0, input.len() / 2, input.len() - SAMPLE_SLICE] {
        sample.extend_from_slice(&input[start..start + SAMPLE_SLICE]);
    }
    let compressed = lzo1x::compress(&sample, LZO1X_1);
    compressed.len() < sample.len() - sample.len() / 32
}

fn encode_block(input: Vec<u8>, checksum: Checksum) -> EncodedBlock {
    let digest = |data: &[u8]| match checksum {
        Checksum::Adler32 => adler32(ADLER32_INIT, data),
        Checksum::Crc32 => crc32(CRC32_INIT, data),
    };
    let uncompressed_len = u32::try_from(input.len()).expect("blocks are at most 256 KiB");
    let uncompressed_digest = digest(&input);
    let compressed = match worth_compressing(&input) {
        true => lzo1x::compress(&input, LZO1X_1),
        false => Vec::new(),
    };

    let mut prefix = [0u8; MAX_BLOCK_PREFIX];
    prefix[0..4].copy_from_slice(&uncompressed_len.to_be_bytes());
    prefix[8..12].copy_from_slice(&uncompressed_digest.to_be_bytes());
    if !compressed.is_empty() && compressed.len() < input.len() {
        prefix[4..8].copy_from_slice(&(compressed.len() as u32).to_be_bytes());
        prefix[12..16].copy_from_slice(&digest(&compressed).to_be_bytes());
        EncodedBlock {
            chunk: OutputChunk::with_prefix(&prefix, compressed),
            spare: Some(input),
        }
    } else {
        // Stored raw: the compressed length equals the uncompressed one and no _C checksum follows.
        prefix[4..8].copy_from_slice(&uncompressed_len.to_be_bytes());
        EncodedBlock {
            chunk: OutputChunk::with_prefix(&prefix[..12], input),
            spare: None,
        }
    }
}

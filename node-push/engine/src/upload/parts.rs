//! Turning a source file into upload parts: read → BLAKE3 → lzop → fixed-size parts with their CRC32C
//! (and MD5, where the store checks Content-MD5).
//!
//! This runs on a blocking thread: [`PartProducer`] reads the file through a [`HashingReader`] into an
//! [`LzopEncoder`] (which compresses batches of blocks in parallel on the shared rayon pool) and cuts the
//! compressed stream into parts. Memory per file is one part plus the encoder's batch, whatever the file size.

use crate::digest::HashingReader;
use crate::lzop::{EncoderOptions, LzopEncoder};
use crate::store::BodyDigest;
use bytes::Bytes;
use md5::{Digest as _, Md5};
use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};

/// S3 refuses more parts than this in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;
/// S3's smallest part (all but the last).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The part size to use for a source file of `source_size` bytes: the configured one, grown (in whole MiB)
/// so that even incompressible data, plus lzop's per-block overhead, fits in [`MAX_PARTS`] parts.
pub fn part_size_for(source_size: u64, configured: u64) -> u64 {
    let worst_case = source_size + source_size / (64 * 1024) * 16 + 4096;
    let needed = worst_case.div_ceil(MAX_PARTS - 1);
    let mib = 1024 * 1024;
    configured
        .max(MIN_PART_SIZE)
        .max(needed.div_ceil(mib) * mib)
}

/// One part of compressed data with its digests.
#[derive(Debug, Clone)]
pub struct Part {
    /// 1-based.
    pub number: u32,
    pub body: Bytes,
    pub digest: BodyDigest,
}

/// Part-sized buffers reused across parts and files, so that a part costs no allocation, no page faults
/// and no zero-filling: the memory semaphore bounds how many are out at once, and that many are kept.
#[derive(Debug)]
pub struct PartBuffers {
    spare: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl PartBuffers {
    /// A pool that keeps at most `keep` idle buffers.
    pub fn new(keep: usize) -> Arc<Self> {
        Arc::new(PartBuffers {
            spare: Mutex::new(Vec::new()),
            keep,
        })
    }

    /// An empty buffer with room for `capacity` bytes.
    fn take(&self, capacity: usize) -> Vec<u8> {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        match spare.iter().position(|buf| buf.capacity() >= capacity) {
            Some(index) => spare.swap_remove(index),
            None => Vec::with_capacity(capacity),
        }
    }

    fn give_back(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < self.keep {
            spare.push(buf);
        }
    }
}

/// A part's body: returns its buffer to the pool when the last `Bytes` pointing at it is dropped.
struct PooledBody {
    buf: Vec<u8>,
    pool: Arc<PartBuffers>,
}

impl AsRef<[u8]> for PooledBody {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

/// Cuts the lzop stream of a source into parts.
pub struct PartProducer<R: Read> {
    encoder: LzopEncoder<HashingReader<R>>,
    part_size: usize,
    with_md5: bool,
    buffers: Arc<PartBuffers>,
    next_number: u32,
    compressed_bytes: u64,
    done: bool,
}

impl<R: Read> std::fmt::Debug for PartProducer<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartProducer")
            .field("next_number", &self.next_number)
            .finish()
    }
}

impl<R: Read> PartProducer<R> {
    /// Parts of `part_size` bytes, each with its CRC32C, and its MD5 too if `with_md5`.
    pub fn new(
        source: R,
        part_size: u64,
        options: EncoderOptions,
        pool: Option<Arc<rayon::ThreadPool>>,
        with_md5: bool,
        buffers: Arc<PartBuffers>,
    ) -> Self {
        PartProducer {
            encoder: LzopEncoder::new(HashingReader::new(source), options, pool),
            part_size: usize::try_from(part_size).expect("part size fits in memory"),
            with_md5,
            buffers,
            next_number: 1,
            compressed_bytes: 0,
            done: false,
        }
    }

    /// The next part, or `None` after the last one. A part is always full except the last; an empty source
    /// still yields one part (the lzop header and end marker).
    ///
    /// The encoder's output is copied once, into a pooled buffer, and digested chunk by chunk while the
    /// chunk is still in the cache.
    pub fn next_part(&mut self) -> io::Result<Option<Part>> {
        if self.done {
            return Ok(None);
        }
        let mut buf = self.buffers.take(self.part_size);
        let mut crc = 0u32;
        let mut md5 = self.with_md5.then(Md5::new);
        while buf.len() < self.part_size {
            let available = match self.encoder.fill_buf() {
                Ok(available) => available,
                Err(e) => {
                    self.buffers.give_back(buf);
                    return Err(e);
                }
            };
            if available.is_empty() {
                self.done = true;
                break;
            }
            let n = available.len().min(self.part_size - buf.len());
            let chunk = &available[..n];
            crc = crc32c::crc32c_append(crc, chunk);
            if let Some(md5) = md5.as_mut() {
                md5.update(chunk);
            }
            buf.extend_from_slice(chunk);
            self.encoder.consume(n);
        }
        if buf.is_empty() && self.next_number > 1 {
            self.buffers.give_back(buf);
            return Ok(None);
        }
        let len = buf.len();
        let body = Bytes::from_owner(PooledBody {
            buf,
            pool: self.buffers.clone(),
        });
        let part = Part {
            number: self.next_number,
            body,
            digest: BodyDigest {
                crc32c: crc,
                md5: md5.map(|md5| md5.finalize().into()),
            },
        };
        self.next_number += 1;
        self.compressed_bytes += len as u64;
        Ok(Some(part))
    }

    /// Compressed bytes produced so far.
    pub fn compressed_bytes(&self) -> u64 {
        self.compressed_bytes
    }

    /// Source bytes read so far.
    pub fn source_bytes(&self) -> u64 {
        self.encoder.uncompressed_bytes()
    }

    /// (source bytes, hex BLAKE3 of the source). Call after the last part.
    pub fn finish(self) -> (u64, String) {
        self.encoder.into_inner().finish()
    }
}

/// The ETag S3 gives a multipart object: MD5 of the concatenated part MD5s, then `-<parts>`.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    let mut hasher = Md5::new();
    for md5 in part_md5s {
        hasher.update(md5);
    }
    format!("{}-{}", hex::encode(hasher.finalize()), part_md5s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_to_fit_the_part_limit() {
        let mib = 1024 * 1024;
        assert_eq!(part_size_for(100, 8 * mib), 8 * mib);
        assert_eq!(part_size_for(100, mib), MIN_PART_SIZE);
        for size in [80 * 1024 * mib, 5 * 1024 * 1024 * mib] {
            let part = part_size_for(size, 8 * mib);
            let worst_case = size + size / (64 * 1024) * 16 + 4096;
            assert!(worst_case.div_ceil(part) <= MAX_PARTS, "{size}: {part}");
        }
    }

    #[test]
    fn multipart_etag_matches_s3s_rule() {
        // md5(md5("a") ++ md5("b")) computed independently with Python's hashlib.
        let parts = [Md5::digest(b"a").into(), Md5::digest(b"b").into()];
        assert_eq!(multipart_etag(&parts), "96e024ba2074fe77e8e965ba43a704be-2");
    }
}

//! Round trips through [`LzopEncoder`] and [`LzopDecoder`]: sizes around block boundaries, both
//! checksums, pools and buffer sizes, and source errors.

use std::io::{self, Read};
use std::sync::Arc;

use super::*;

#[test]
fn round_trips_every_interesting_size_with_both_checksums() {
    let block = MAX_BLOCK_SIZE;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("one byte", vec![42]),
        ("exactly one block", mixed_bytes(block)),
        ("one block plus one byte", mixed_bytes(block + 1)),
        ("random", random_bytes(3 * block + 1234, 1)),
        ("zeros", vec![0; 5 * block]),
        ("mixed", mixed_bytes(7 * block + 99)),
    ];
    for checksum in [Checksum::Adler32, Checksum::Crc32] {
        for (name, data) in &cases {
            let opts = EncoderOptions {
                checksum,
                ..EncoderOptions::default()
            };
            let lzop = encode(data, opts);
            assert_eq!(&decode(&lzop).unwrap(), data, "{name} with {checksum}");
            let stats = verify(lzop.as_slice()).unwrap();
            assert_eq!(stats.uncompressed_bytes, data.len() as u64, "{name}");
            assert_eq!(stats.compressed_bytes, lzop.len() as u64, "{name}");
            assert_eq!(stats.blocks, data.len().div_ceil(block) as u64, "{name}");
        }
    }
}

#[test]
fn incompressible_blocks_are_stored_raw_and_compressible_ones_shrink() {
    let random = random_bytes(2 * MAX_BLOCK_SIZE, 2);
    let lzop = encode(&random, EncoderOptions::default());
    let header_len = Header::for_encoder(&EncoderOptions::default())
        .to_bytes()
        .len();
    // Raw blocks: 4+4 lengths and one checksum (no _C checksum), then the bytes; 4-byte end.
    assert_eq!(lzop.len(), header_len + 2 * (12 + MAX_BLOCK_SIZE) + 4);

    let zeros = vec![0u8; 2 * MAX_BLOCK_SIZE];
    assert!(encode(&zeros, EncoderOptions::default()).len() < 10_000);
}

#[test]
fn a_block_is_compressed_only_when_its_samples_shrink_and_always_round_trips() {
    // Text-like: compressible at every sampled place, so the whole block is compressed.
    let text: Vec<u8> = (0..MAX_BLOCK_SIZE)
        .map(|i| b"key-000123,value=alpha;"[i % 23] ^ ((i / 4096) as u8 & 1))
        .collect();
    let lzop = encode(&text, EncoderOptions::default());
    assert!(lzop.len() < MAX_BLOCK_SIZE / 4, "{}", lzop.len());
    assert_eq!(decode(&lzop).unwrap(), text);

    // Random where the block is sampled (start, middle, end), zeros elsewhere: stored raw, as the
    // encoder documents, and still decodes to the same bytes.
    let mut sampled_random = vec![0u8; MAX_BLOCK_SIZE];
    let noise = random_bytes(MAX_BLOCK_SIZE, 9);
    for start in [0, MAX_BLOCK_SIZE / 2, MAX_BLOCK_SIZE - 2048] {
        sampled_random[start..start + 2048].copy_from_slice(&noise[start..start + 2048]);
    }
    let lzop = encode(&sampled_random, EncoderOptions::default());
    let header_len = Header::for_encoder(&EncoderOptions::default())
        .to_bytes()
        .len();
    assert_eq!(lzop.len(), header_len + 12 + MAX_BLOCK_SIZE + 4);
    assert_eq!(decode(&lzop).unwrap(), sampled_random);

    // Encoding depends on the bytes only: the same input gives the same file.
    assert_eq!(
        encode(&text, EncoderOptions::default()),
        encode(&text, EncoderOptions::default())
    );
}

#[test]
fn writes_the_header_plain_lzop_would() {
    let opts = EncoderOptions {
        name: Some("mc-1-big-Data.db".to_owned()),
        mtime: 1_700_000_000,
        mode: 0o100644,
        ..EncoderOptions::default()
    };
    let lzop = encode(b"hello", opts);
    assert_eq!(&lzop[..9], &MAGIC);
    let header = LzopDecoder::new(lzop.as_slice()).unwrap().header().clone();
    assert_eq!(header.version, 0x1040);
    assert_eq!(header.lib_version, 0x20A0);
    assert_eq!(header.version_needed, 0x0940);
    assert_eq!((header.method, header.level), (1, 5));
    assert_eq!(header.flags, 0x0300_0003);
    assert_eq!(header.mode, 0o100644);
    assert_eq!(header.mtime, 1_700_000_000);
    assert_eq!(header.name, "mc-1-big-Data.db");

    let crc = encode(b"hello", small_blocks(Checksum::Crc32));
    assert_eq!(
        LzopDecoder::new(crc.as_slice()).unwrap().header().flags,
        0x0300_0300
    );
}

#[test]
fn long_names_are_cut_at_a_character_boundary_and_negative_times_stored_as_zero() {
    let opts = EncoderOptions {
        name: Some("é".repeat(200)),
        mtime: -5,
        ..EncoderOptions::default()
    };
    let lzop = encode(b"x", opts);
    let decoder = LzopDecoder::new(lzop.as_slice()).unwrap();
    assert_eq!(decoder.header().name, "é".repeat(127));
    assert_eq!(decoder.header().mtime, 0);
}

#[test]
fn tiny_blocks_custom_pool_and_one_block_in_flight_still_round_trip() {
    let data = mixed_bytes(300_000);
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap(),
    );
    for (block_size, in_flight) in [(1, 1), (7, 3), (1000, 1), (65_536, 16)] {
        let data = &data[..if block_size == 1 { 3000 } else { data.len() }];
        let opts = EncoderOptions {
            block_size,
            blocks_in_flight: in_flight,
            ..Default::default()
        };
        let mut encoder = LzopEncoder::new(data, opts, Some(pool.clone()));
        let mut lzop = Vec::new();
        encoder.read_to_end(&mut lzop).unwrap();
        assert_eq!(encoder.uncompressed_bytes(), data.len() as u64);
        assert_eq!(encoder.compressed_bytes(), lzop.len() as u64);
        assert_eq!(decode(&lzop).unwrap(), data, "block size {block_size}");
    }
}

#[test]
fn encoder_used_from_inside_its_own_pool_does_not_deadlock() {
    // Every pool thread runs an encoder that waits for jobs queued on the same pool.
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap(),
    );
    let data = mixed_bytes(2 * 1024 * 1024);
    let outputs: Vec<Vec<u8>> = pool.install(|| {
        use rayon::prelude::*;
        (0..4)
            .into_par_iter()
            .map(|_| {
                let opts = small_blocks(Checksum::Adler32);
                let mut out = Vec::new();
                LzopEncoder::new(data.as_slice(), opts, Some(pool.clone()))
                    .read_to_end(&mut out)
                    .unwrap();
                out
            })
            .collect()
    });
    for lzop in outputs {
        assert_eq!(decode(&lzop).unwrap(), data);
    }
}

#[test]
fn reads_through_small_caller_buffers() {
    let data = mixed_bytes(600_000);
    let mut encoder = LzopEncoder::new(data.as_slice(), small_blocks(Checksum::Crc32), None);
    let mut lzop = Vec::new();
    let mut buf = [0u8; 3];
    loop {
        let n = encoder.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        lzop.extend_from_slice(&buf[..n]);
    }
    let mut decoder = LzopDecoder::new(lzop.as_slice()).unwrap();
    let mut decoded = Vec::new();
    loop {
        let n = decoder.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        decoded.extend_from_slice(&buf[..n]);
    }
    assert_eq!(decoded, data);
}

/// A source that fails after some bytes.
struct FailingSource {
    remaining: usize,
}

impl Read for FailingSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.remaining);
        buf[..n].fill(7);
        self.remaining -= n;
        Ok(n)
    }
}

#[test]
fn source_errors_reach_the_caller_and_stick() {
    let source = FailingSource { remaining: 100_000 };
    let mut encoder = LzopEncoder::new(source, small_blocks(Checksum::Adler32), None);
    let mut out = Vec::new();
    let error = encoder.read_to_end(&mut out).unwrap_err();
    assert!(error.to_string().contains("disk on fire"), "{error}");
    assert!(
        encoder.read(&mut [0u8; 10]).is_err(),
        "a failed encoder must not resume"
    );
}

/// A source that must not be read again once it has reported end of file (like a terminal).
struct EndsOnce {
    data: Vec<u8>,
    position: usize,
    ended: bool,
}

impl Read for EndsOnce {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        assert!(!self.ended, "read again after end of file");
        // Short reads, to exercise filling a block from several calls.
        let n = buf.len().min(1000).min(self.data.len() - self.position);
        buf[..n].copy_from_slice(&self.data[self.position..self.position + n]);
        self.position += n;
        self.ended = n == 0;
        Ok(n)
    }
}

#[test]
fn source_is_not_read_after_its_end_and_short_reads_fill_blocks() {
    let data = mixed_bytes(100_000);
    let source = EndsOnce {
        data: data.clone(),
        position: 0,
        ended: false,
    };
    let mut lzop = Vec::new();
    LzopEncoder::new(source, small_blocks(Checksum::Adler32), None)
        .read_to_end(&mut lzop)
        .unwrap();
    let stats = verify(lzop.as_slice()).unwrap();
    // Full 4096-byte blocks despite 1000-byte reads.
    assert_eq!(stats.blocks, data.len().div_ceil(4096) as u64);
    assert_eq!(decode(&lzop).unwrap(), data);
}

//! Unit tests of the lzop container: round trips through our encoder and decoder, the header
//! variants lzop writes, and every kind of damage the decoder must report (with its offset).
//! Compatibility with the real `lzop` binary is tested in `tests/lzop_compat.rs`.

use std::io::{self, Read};
use std::sync::Arc;

use super::*;

fn encode(data: &[u8], opts: EncoderOptions) -> Vec<u8> {
    let mut out = Vec::new();
    LzopEncoder::new(data, opts, None)
        .read_to_end(&mut out)
        .expect("encoding from memory");
    out
}

fn decode(lzop: &[u8]) -> Result<Vec<u8>, io::Error> {
    let mut out = Vec::new();
    LzopDecoder::new(lzop)?.read_to_end(&mut out)?;
    Ok(out)
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// Text-like data that compresses well, interleaved with random runs that do not.
fn mixed_bytes(len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(99);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        if rng.bool() {
            for i in 0..rng.usize(100..40_000) {
                out.extend_from_slice(format!("row {i} value {} ", i % 17).as_bytes());
            }
        } else {
            out.extend((0..rng.usize(100..300_000)).map(|_| rng.u8(..)));
        }
    }
    out.truncate(len);
    out
}

fn small_blocks(checksum: Checksum) -> EncoderOptions {
    EncoderOptions {
        checksum,
        block_size: 4096,
        ..EncoderOptions::default()
    }
}

/// The error inside a decoder `io::Error`.
fn lzop_error(error: &io::Error) -> &LzopError {
    LzopError::from_io_error(error).unwrap_or_else(|| panic!("not an lzop error: {error}"))
}

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

// ---- damage ----------------------------------------------------------------------------------

/// Offset of the first block header in a stream written by our encoder with no name.
fn first_block_offset() -> usize {
    Header::for_encoder(&EncoderOptions::default())
        .to_bytes()
        .len()
}

#[test]
fn bad_magic_is_not_an_lzop_file() {
    let mut lzop = encode(b"data", EncoderOptions::default());
    lzop[1] = b'X';
    let error = LzopDecoder::new(lzop.as_slice()).err().unwrap();
    assert!(
        matches!(error, LzopError::BadMagic { offset: 0 }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "not an lzop file (bad magic bytes at offset 0)"
    );
}

#[test]
fn every_header_byte_is_protected() {
    let lzop = encode(
        b"data",
        EncoderOptions {
            name: Some("n".into()),
            ..Default::default()
        },
    );
    let header_len = Header::for_encoder(&EncoderOptions {
        name: Some("n".into()),
        ..Default::default()
    })
    .to_bytes()
    .len();
    for position in 9..header_len {
        let mut damaged = lzop.clone();
        damaged[position] ^= 0x01;
        let error = verify(damaged.as_slice()).expect_err("damage must be detected");
        // A flipped length field can also make the header read run into the blocks; whatever
        // the error, it must be about the header region.
        assert!(
            error.offset() <= header_len as u64 + 4,
            "position {position}: {error}"
        );
        if position + 4 >= header_len {
            assert!(
                matches!(error, LzopError::HeaderChecksum { .. }),
                "{position}: {error}"
            );
            assert_eq!(error.offset(), header_len as u64 - 4);
            assert!(error
                .to_string()
                .starts_with("lzop header checksum mismatch at offset "));
        }
    }
}

#[test]
fn damaged_compressed_block_data_is_a_checksum_mismatch_with_its_offset() {
    let data = b"some text that compresses ".repeat(30_000);
    for checksum in [Checksum::Adler32, Checksum::Crc32] {
        let mut lzop = encode(
            &data,
            EncoderOptions {
                checksum,
                ..Default::default()
            },
        );
        let first = first_block_offset();
        let stored_len = u32::from_be_bytes(lzop[first + 4..first + 8].try_into().unwrap());
        assert!(
            (stored_len as usize) < MAX_BLOCK_SIZE,
            "test data must compress"
        );
        let data_offset = first + 16;
        lzop[data_offset + 100] ^= 0x40;
        let error = verify(lzop.as_slice()).unwrap_err();
        match &error {
            LzopError::BlockChecksum {
                offset,
                block,
                algorithm,
                data,
                ..
            } => {
                assert_eq!(*offset, data_offset as u64);
                assert_eq!(
                    (*block, *algorithm, *data),
                    (0, checksum, ChecksummedData::Compressed)
                );
            }
            other => panic!("unexpected {other}"),
        }
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("block checksum mismatch at offset {data_offset} (block 0, {checksum} of the compressed data")),
            "{message}"
        );
        // Through the Read interface it is InvalidData carrying the same error.
        let io_error = decode(&lzop).unwrap_err();
        assert_eq!(io_error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(lzop_error(&io_error).offset(), data_offset as u64);
    }
}

#[test]
fn damaged_raw_block_is_an_uncompressed_checksum_mismatch() {
    let data = random_bytes(MAX_BLOCK_SIZE + 10, 5);
    let mut lzop = encode(&data, EncoderOptions::default());
    let first = first_block_offset();
    let data_offset = first + 12;
    lzop[data_offset + 5000] ^= 0xff;
    let error = verify(lzop.as_slice()).unwrap_err();
    assert!(
        matches!(
            error,
            LzopError::BlockChecksum { data: ChecksummedData::Uncompressed, block: 0, offset, .. }
                if offset == data_offset as u64
        ),
        "{error}"
    );
}

#[test]
fn damaged_checksum_field_is_detected() {
    let data = mixed_bytes(2 * MAX_BLOCK_SIZE);
    let mut lzop = encode(&data, EncoderOptions::default());
    let first = first_block_offset();
    // The uncompressed-data checksum of block 0 (after the two lengths).
    lzop[first + 9] ^= 0x10;
    let error = verify(lzop.as_slice()).unwrap_err();
    assert!(
        matches!(
            error,
            LzopError::BlockChecksum {
                data: ChecksummedData::Uncompressed,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn damaged_lzo_data_with_no_checksums_is_caught_by_the_decompressor_or_length() {
    // lzop -F writes no checksums at all: only the LZO decoder stands between damage and output.
    let header = Header {
        flags: flags::OS_UNIX,
        ..Header::for_encoder(&EncoderOptions::default())
    };
    let data = vec![b'a'; 100_000];
    let mut lzop = encode_with_header(&header, &data, MAX_BLOCK_SIZE, None);
    let first = header.to_bytes().len();
    // Cut the LZO stream's end marker (the last three bytes of the block data).
    let stored_len = u32::from_be_bytes(lzop[first + 4..first + 8].try_into().unwrap()) as usize;
    let last = first + 8 + stored_len - 1;
    lzop[last] ^= 0xff;
    let error = verify(lzop.as_slice()).unwrap_err();
    assert!(
        matches!(error, LzopError::CorruptBlock { block: 0, .. }),
        "{error}"
    );
}

#[test]
fn truncation_anywhere_is_reported_as_truncated_at_the_end_offset() {
    let data = mixed_bytes(2 * MAX_BLOCK_SIZE + 77);
    let lzop = encode(&data, EncoderOptions::default());
    let mut cuts: Vec<usize> = (0..60).collect();
    cuts.extend([
        lzop.len() / 3,
        lzop.len() / 2,
        lzop.len() - 5,
        lzop.len() - 4,
        lzop.len() - 1,
    ]);
    for cut in cuts {
        let error = verify(&lzop[..cut]).unwrap_err();
        match &error {
            LzopError::Truncated { offset, .. } => assert_eq!(*offset, cut as u64, "{error}"),
            other => panic!("cut at {cut}: {other}"),
        }
        assert!(error
            .to_string()
            .starts_with("truncated lzop stream: it ends at offset "));
        let io_error = decode(&lzop[..cut]).unwrap_err();
        assert_eq!(
            io_error.kind(),
            io::ErrorKind::UnexpectedEof,
            "cut at {cut}"
        );
    }
}

#[test]
fn trailing_bytes_after_the_end_marker_are_rejected() {
    let mut lzop = encode(b"payload", EncoderOptions::default());
    let end = lzop.len();
    lzop.push(0);
    let error = verify(lzop.as_slice()).unwrap_err();
    assert!(
        matches!(error, LzopError::TrailingData { offset } if offset == end as u64),
        "{error}"
    );
    // A second concatenated stream is trailing data too.
    let mut twice = encode(b"a", EncoderOptions::default());
    twice.extend(encode(b"b", EncoderOptions::default()));
    assert!(matches!(
        verify(twice.as_slice()),
        Err(LzopError::TrailingData { .. })
    ));
}

/// Our encoder's output with the first block header's two length fields replaced.
fn with_block_lengths(uncompressed: u32, stored: u32) -> Vec<u8> {
    let mut lzop = encode(&mixed_bytes(10_000), EncoderOptions::default());
    let first = first_block_offset();
    lzop[first..first + 4].copy_from_slice(&uncompressed.to_be_bytes());
    lzop[first + 4..first + 8].copy_from_slice(&stored.to_be_bytes());
    lzop
}

#[test]
fn impossible_block_lengths_are_corrupt_headers() {
    let first = first_block_offset() as u64;
    let error = verify(with_block_lengths(10_000, 0).as_slice()).unwrap_err();
    assert!(
        matches!(error, LzopError::BadBlockHeader { offset, .. } if offset == first),
        "{error}"
    );
    let error = verify(with_block_lengths(10_000, 10_001).as_slice()).unwrap_err();
    assert!(matches!(error, LzopError::BadBlockHeader { .. }), "{error}");
    let error = verify(with_block_lengths(64 * 1024 * 1024 + 1, 10).as_slice()).unwrap_err();
    assert!(
        matches!(error, LzopError::BlockTooLarge { offset, .. } if offset == first),
        "{error}"
    );
    let error = verify(with_block_lengths(u32::MAX, 10).as_slice()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("split lzop files are not supported"),
        "{error}"
    );
}

#[test]
fn reads_after_an_error_keep_failing() {
    let mut lzop = encode(&mixed_bytes(3 * MAX_BLOCK_SIZE), EncoderOptions::default());
    let position = lzop.len() / 2;
    lzop[position] ^= 1;
    let mut decoder = LzopDecoder::new(lzop.as_slice()).unwrap();
    let mut sink = Vec::new();
    assert!(decoder.read_to_end(&mut sink).is_err());
    let again = decoder.read(&mut [0u8; 100]).unwrap_err();
    assert!(
        matches!(lzop_error(&again), LzopError::AlreadyFailed { .. }),
        "{again}"
    );
}

// ---- header variants -------------------------------------------------------------------------

/// A header like lzop 1.04's own, to modify per test.
fn lzop_like_header() -> Header {
    Header {
        version: 0x1040,
        lib_version: 0x20A0,
        version_needed: 0x0940,
        method: 1,
        level: 5,
        flags: flags::OS_UNIX | flags::ADLER32_D,
        filter: 0,
        mode: 0o100600,
        mtime: 1_600_000_000,
        name: "file.db".to_owned(),
    }
}

#[test]
fn header_variants_lzop_writes_are_all_read() {
    let data = mixed_bytes(700_000);
    let base = lzop_like_header();
    let variants: Vec<(&str, Header)> = vec![
        ("plain", base.clone()),
        (
            "-1",
            Header {
                method: 2,
                level: 1,
                ..base.clone()
            },
        ),
        (
            "-9",
            Header {
                method: 3,
                level: 9,
                ..base.clone()
            },
        ),
        (
            "-F",
            Header {
                flags: flags::OS_UNIX,
                ..base.clone()
            },
        ),
        (
            "stdin",
            Header {
                flags: base.flags | flags::STDIN | flags::STDOUT,
                name: String::new(),
                ..base.clone()
            },
        ),
        (
            "--crc32",
            Header {
                version_needed: 0x1001,
                flags: flags::OS_UNIX | flags::H_CRC32 | flags::CRC32_D,
                ..base.clone()
            },
        ),
        (
            "all checksums",
            Header {
                flags: flags::OS_UNIX
                    | flags::ADLER32_D
                    | flags::ADLER32_C
                    | flags::CRC32_D
                    | flags::CRC32_C,
                ..base.clone()
            },
        ),
        (
            "--filter=3",
            Header {
                version_needed: 0x0950,
                flags: base.flags | flags::H_FILTER,
                filter: 3,
                ..base.clone()
            },
        ),
        (
            "filter with compressed checksums",
            Header {
                flags: flags::OS_UNIX | flags::H_FILTER | flags::ADLER32_D | flags::ADLER32_C,
                filter: 1,
                ..base.clone()
            },
        ),
        (
            "0.93 header",
            Header {
                version: 0x0930,
                version_needed: 0x0900,
                level: 3,
                ..base.clone()
            },
        ),
        (
            "path",
            Header {
                version_needed: 0x1001,
                flags: base.flags | flags::H_PATH,
                name: "a/b.db".into(),
                ..base.clone()
            },
        ),
    ];
    for (name, header) in variants {
        let lzop = encode_with_header(&header, &data, 65_536, None);
        let decoder = LzopDecoder::new(lzop.as_slice()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut expected = header.clone();
        if header.has(flags::STDIN) {
            expected.mode = 0;
        }
        assert_eq!(decoder.header(), &expected, "{name}");
        assert_eq!(
            decode(&lzop).unwrap_or_else(|e| panic!("{name}: {e}")),
            data,
            "{name}"
        );
    }
}

#[test]
fn extra_field_is_skipped_after_checking_its_checksum() {
    let data = mixed_bytes(100_000);
    for header_flags in [flags::H_EXTRA_FIELD, flags::H_EXTRA_FIELD | flags::H_CRC32] {
        let header = Header {
            flags: lzop_like_header().flags | header_flags,
            ..lzop_like_header()
        };
        let lzop = encode_with_header(&header, &data, MAX_BLOCK_SIZE, Some(b"extra bytes"));
        assert_eq!(decode(&lzop).unwrap(), data);

        let mut damaged = lzop.clone();
        let extra_start = header.to_bytes().len() + 4;
        damaged[extra_start + 2] ^= 1;
        let error = verify(damaged.as_slice()).unwrap_err();
        assert!(
            matches!(error, LzopError::ExtraFieldChecksum { .. }),
            "{error}"
        );
    }
}

/// `header` serialised, with a valid checksum, followed by an empty stream.
fn empty_stream_with(header: &Header) -> Vec<u8> {
    encode_with_header(header, b"", MAX_BLOCK_SIZE, None)
}

#[test]
fn header_values_lzop_rejects_are_rejected() {
    let base = lzop_like_header();
    let cases: Vec<(Header, &str)> = vec![
        (
            Header {
                flags: base.flags | 0x0000_4000,
                ..base.clone()
            },
            "unknown lzop header flags 0x03004001",
        ),
        (
            Header {
                flags: flags::OS_UNIX | flags::ADLER32_C,
                ..base.clone()
            },
            "inconsistent lzop checksum flags",
        ),
        (
            Header {
                flags: flags::OS_UNIX | flags::CRC32_C,
                ..base.clone()
            },
            "inconsistent lzop checksum flags",
        ),
        (
            Header {
                method: 4,
                ..base.clone()
            },
            "unknown lzop compression method 4",
        ),
        (
            Header {
                method: 0,
                ..base.clone()
            },
            "unknown lzop compression method 0",
        ),
        (
            Header {
                level: 10,
                ..base.clone()
            },
            "unknown lzop compression level 10",
        ),
        (
            Header {
                version: 0x0899,
                ..base.clone()
            },
            "predates lzop 0.90",
        ),
        (
            Header {
                version_needed: 0x1050,
                ..base.clone()
            },
            "needs lzop version 0x1050",
        ),
        (
            Header {
                version_needed: 0x0800,
                ..base.clone()
            },
            "invalid version-needed-to-extract",
        ),
        (
            Header {
                flags: base.flags | flags::H_FILTER,
                filter: 17,
                ..base.clone()
            },
            "unknown lzop filter 17",
        ),
    ];
    for (header, message) in cases {
        let lzop = empty_stream_with(&header);
        let error = LzopDecoder::new(lzop.as_slice())
            .err()
            .unwrap_or_else(|| panic!("{header:?} accepted"));
        assert!(
            error.to_string().contains(message),
            "{error} does not contain {message}"
        );
        assert!(!error.is_retryable());
    }
}

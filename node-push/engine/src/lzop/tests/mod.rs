//! Unit tests of the lzop container: round trips through our encoder and decoder
//! ([`round_trip`]), every kind of damage the decoder must report with its offset ([`damage`]),
//! and the header variants lzop writes or rejects ([`headers`]). Compatibility with the real
//! `lzop` binary is tested in `node-push/tests/lzop_compat.rs`.

mod damage;
mod headers;
mod round_trip;

use std::io::{self, Read};

use super::*;

pub(super) fn encode(data: &[u8], opts: EncoderOptions) -> Vec<u8> {
    let mut out = Vec::new();
    LzopEncoder::new(data, opts, None)
        .read_to_end(&mut out)
        .expect("encoding from memory");
    out
}

pub(super) fn decode(lzop: &[u8]) -> Result<Vec<u8>, io::Error> {
    let mut out = Vec::new();
    LzopDecoder::new(lzop)?.read_to_end(&mut out)?;
    Ok(out)
}

pub(super) fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// Text-like data that compresses well, interleaved with random runs that do not.
pub(super) fn mixed_bytes(len: usize) -> Vec<u8> {
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

pub(super) fn small_blocks(checksum: Checksum) -> EncoderOptions {
    EncoderOptions {
        checksum,
        block_size: 4096,
        ..EncoderOptions::default()
    }
}

/// The error inside a decoder `io::Error`.
pub(super) fn lzop_error(error: &io::Error) -> &LzopError {
    LzopError::from_io_error(error).unwrap_or_else(|| panic!("not an lzop error: {error}"))
}

/// Offset of the first block header in a stream written by our encoder with no name.
pub(super) fn first_block_offset() -> usize {
    Header::for_encoder(&EncoderOptions::default())
        .to_bytes()
        .len()
}

/// A header like lzop 1.04's own, to modify per test.
pub(super) fn lzop_like_header() -> Header {
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

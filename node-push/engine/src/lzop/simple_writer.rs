//! A plain, single-threaded writer that honours any [`Header`]: every checksum flag combination,
//! delta filters, CRC-32 headers, an extra field, pre-0.94 header layouts.
//!
//! [`super::LzopEncoder`] only writes our one header; this exists so tests can build each variant
//! lzop can write (and a few only its reader knows) and check that both `lzop` and
//! [`super::LzopDecoder`] accept them. It keeps the whole file in memory.

use super::checksum::{adler32, crc32, ADLER32_INIT, CRC32_INIT};
use super::header::{flags, Header};

/// Encodes `data` as one lzop stream with `header` (its method is only recorded: blocks are always
/// compressed with LZO1X-1, which every method's decompressor reads). With
/// [`flags::H_EXTRA_FIELD`] set, `extra_field` (or nothing) is written after the header.
pub fn encode_with_header(
    header: &Header,
    data: &[u8],
    block_size: usize,
    extra_field: Option<&[u8]>,
) -> Vec<u8> {
    let mut out = header.to_bytes();
    if header.has(flags::H_EXTRA_FIELD) {
        let extra = extra_field.unwrap_or_default();
        let mut covered = (extra.len() as u32).to_be_bytes().to_vec();
        covered.extend_from_slice(extra);
        let checksum = if header.has(flags::H_CRC32) {
            crc32(CRC32_INIT, &covered)
        } else {
            adler32(ADLER32_INIT, &covered)
        };
        out.extend_from_slice(&covered);
        out.extend_from_slice(&checksum.to_be_bytes());
    }
    let put = |out: &mut Vec<u8>, value: u32| out.extend_from_slice(&value.to_be_bytes());
    for block in data.chunks(block_size.max(1)) {
        let mut filtered = block.to_vec();
        super::filter::apply_delta_filter(&mut filtered, header.filter);
        let compressed = lzo1x::compress(&filtered, lzo1x::CompressLevel::new(3));
        let stored_compressed = compressed.len() < filtered.len();
        let stored: &[u8] = if stored_compressed {
            &compressed
        } else {
            &filtered
        };

        put(&mut out, block.len() as u32);
        put(&mut out, stored.len() as u32);
        // Uncompressed checksums cover the original bytes, compressed ones the stored bytes.
        if header.has(flags::ADLER32_D) {
            put(&mut out, adler32(ADLER32_INIT, block));
        }
        if header.has(flags::CRC32_D) {
            put(&mut out, crc32(CRC32_INIT, block));
        }
        if stored_compressed && header.has(flags::ADLER32_C) {
            put(&mut out, adler32(ADLER32_INIT, stored));
        }
        if stored_compressed && header.has(flags::CRC32_C) {
            put(&mut out, crc32(CRC32_INIT, stored));
        }
        out.extend_from_slice(stored);
    }
    put(&mut out, 0);
    out
}

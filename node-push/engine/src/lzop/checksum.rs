//! Adler-32 and CRC-32, the two checksums lzop stores (the same functions as liblzo's `lzo_adler32`
//! and `lzo_crc32`, which equal zlib's).
//!
//! No crate for them is in the dependency tree, and both sit on the hot path (every block is
//! checksummed before and after compression), so they are written for speed in safe Rust (no
//! intrinsics: the workspace forbids `unsafe`): Adler-32 keeps one pair of sums per byte lane in
//! u16 so the compiler vectorises the inner loop (about 3x a plain loop), CRC-32 uses "slicing by
//! 16" tables built at compile time.

/// Adler-32's modulus, the largest prime below 2^16.
const ADLER_MOD: u32 = 65_521;

/// Byte lanes summed side by side; 32 lanes of u16 fill four SSE2 (or NEON) registers per sum.
const ADLER_LANES: usize = 32;

/// Rows summed in u16 lanes before widening: a lane's weighted sum grows by at most
/// 255 * rows * (rows + 1) / 2, which for 22 rows (64,515) still fits in a u16.
const ADLER_ROWS_PER_BLOCK: usize = 22;

/// Blocks summed in u32 lanes before reducing modulo 65521: a lane's weighted sum over the chunk's
/// 5,544 rows stays below 255 * 5544 * 5545 / 2 < 2^32 (zlib's NMAX bound, per lane).
const ADLER_BLOCKS_PER_CHUNK: usize = 252;

/// The starting value of an Adler-32 (what liblzo calls `ADLER32_INIT_VALUE`).
pub const ADLER32_INIT: u32 = 1;

/// The starting value of a CRC-32 (what liblzo calls `CRC32_INIT_VALUE`).
pub const CRC32_INIT: u32 = 0;

/// Continues the Adler-32 `state` over `data`; start from [`ADLER32_INIT`].
pub fn adler32(state: u32, data: &[u8]) -> u32 {
    let mut a = state & 0xffff;
    let mut b = state >> 16;
    let block_len = ADLER_LANES * ADLER_ROWS_PER_BLOCK;

    let mut chunks = data.chunks_exact(block_len * ADLER_BLOCKS_PER_CHUNK);
    for chunk in &mut chunks {
        (a, b) = adler_blocks(a, b, chunk);
    }
    let rest = chunks.remainder();
    let whole_blocks = rest.len() / block_len * block_len;
    (a, b) = adler_blocks(a, b, &rest[..whole_blocks]);
    // Fewer than 704 bytes are left: neither sum can overflow before the final reduction.
    for &byte in &rest[whole_blocks..] {
        a += u32::from(byte);
        b += a;
    }
    (b % ADLER_MOD) << 16 | (a % ADLER_MOD)
}

/// Adds `data` (whole blocks, at most one chunk) to the reduced sums `a` and `b`, returning them
/// reduced again.
///
/// With n bytes split into W lanes over m rows, lane l accumulates S_l (its bytes) and T_l (each
/// byte weighted by the rows left, its own included). The byte at j = kW + l adds
/// n - j = W(m - k) - l to B, so B grows by n*A + W*sum(T_l) - sum(l*S_l) and A by sum(S_l).
/// T_l is built per block of rows in u16 (cheap to vectorise) and carried over blocks in u32.
fn adler_blocks(a: u32, b: u32, data: &[u8]) -> (u32, u32) {
    let mut lane_sum = [0u32; ADLER_LANES];
    let mut lane_weighted = [0u32; ADLER_LANES];
    for block in data.chunks_exact(ADLER_LANES * ADLER_ROWS_PER_BLOCK) {
        let mut block_sum = [0u16; ADLER_LANES];
        let mut block_weighted = [0u16; ADLER_LANES];
        for row in block.chunks_exact(ADLER_LANES) {
            for lane in 0..ADLER_LANES {
                block_sum[lane] += u16::from(row[lane]);
                block_weighted[lane] += block_sum[lane];
            }
        }
        for lane in 0..ADLER_LANES {
            // Rows before this block are weighted by this block's rows too.
            lane_weighted[lane] +=
                lane_sum[lane] * ADLER_ROWS_PER_BLOCK as u32 + u32::from(block_weighted[lane]);
            lane_sum[lane] += u32::from(block_sum[lane]);
        }
    }
    let modulus = u64::from(ADLER_MOD);
    let n = data.len() as u64;
    let mut sum = 0u64;
    let mut weighted = 0u64;
    let mut lane_offsets = 0u64;
    for lane in 0..ADLER_LANES {
        sum += u64::from(lane_sum[lane]);
        weighted += u64::from(lane_weighted[lane]);
        lane_offsets += lane as u64 * u64::from(lane_sum[lane]);
    }
    let a = u64::from(a);
    let new_a = (a + sum) % modulus;
    // Add the modulus before subtracting so the sum cannot go negative.
    let new_b =
        (u64::from(b) + (n % modulus) * a + ADLER_LANES as u64 * (weighted % modulus) + modulus
            - lane_offsets % modulus)
            % modulus;
    (new_a as u32, new_b as u32)
}

/// The reflected IEEE 802.3 polynomial used by zlib, liblzo and lzop.
const CRC32_POLY: u32 = 0xEDB8_8320;

/// `CRC32_TABLES[k][x]` is the CRC contribution of byte `x` followed by `k` zero bytes.
static CRC32_TABLES: [[u32; 256]; 16] = build_crc32_tables();

const fn build_crc32_tables() -> [[u32; 256]; 16] {
    let mut tables = [[0u32; 256]; 16];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = byte as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ CRC32_POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut k = 1;
    while k < 16 {
        let mut byte = 0;
        while byte < 256 {
            let previous = tables[k - 1][byte];
            tables[k][byte] = (previous >> 8) ^ tables[0][(previous & 0xff) as usize];
            byte += 1;
        }
        k += 1;
    }
    tables
}

/// Continues the CRC-32 `state` over `data`; start from [`CRC32_INIT`]. Like zlib's `crc32()`,
/// the state is the finished CRC of what came before, so calls can be chained.
pub fn crc32(state: u32, data: &[u8]) -> u32 {
    let t = &CRC32_TABLES;
    let mut crc = !state;
    let mut chunks = data.chunks_exact(16);
    for chunk in &mut chunks {
        let low = crc ^ u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        crc = t[15][(low & 0xff) as usize]
            ^ t[14][((low >> 8) & 0xff) as usize]
            ^ t[13][((low >> 16) & 0xff) as usize]
            ^ t[12][(low >> 24) as usize]
            ^ t[11][usize::from(chunk[4])]
            ^ t[10][usize::from(chunk[5])]
            ^ t[9][usize::from(chunk[6])]
            ^ t[8][usize::from(chunk[7])]
            ^ t[7][usize::from(chunk[8])]
            ^ t[6][usize::from(chunk[9])]
            ^ t[5][usize::from(chunk[10])]
            ^ t[4][usize::from(chunk[11])]
            ^ t[3][usize::from(chunk[12])]
            ^ t[2][usize::from(chunk[13])]
            ^ t[1][usize::from(chunk[14])]
            ^ t[0][usize::from(chunk[15])];
    }
    for &byte in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ u32::from(byte)) & 0xff) as usize];
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook definition, to check the fast versions against.
    fn adler32_reference(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in data {
            a = (a + u32::from(byte)) % ADLER_MOD;
            b = (b + a) % ADLER_MOD;
        }
        b << 16 | a
    }

    fn crc32_reference(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in data {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ CRC32_POLY
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..len).map(|_| rng.u8(..)).collect()
    }

    #[test]
    fn known_vectors() {
        assert_eq!(adler32(ADLER32_INIT, b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(ADLER32_INIT, b""), 1);
        assert_eq!(crc32(CRC32_INIT, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(CRC32_INIT, b""), 0);
    }

    #[test]
    fn fast_versions_match_reference_at_awkward_lengths() {
        let block = ADLER_LANES * ADLER_ROWS_PER_BLOCK;
        let chunk = block * ADLER_BLOCKS_PER_CHUNK;
        let lengths = [
            1,
            31,
            32,
            33,
            block - 1,
            block,
            block + 1,
            4096,
            chunk - 1,
            chunk,
        ];
        for len in lengths.into_iter().chain([chunk + 1, 3 * chunk + 77]) {
            let data = pseudo_random(len, len as u64);
            assert_eq!(
                adler32(ADLER32_INIT, &data),
                adler32_reference(&data),
                "adler len {len}"
            );
            assert_eq!(
                crc32(CRC32_INIT, &data),
                crc32_reference(&data),
                "crc len {len}"
            );
        }
    }

    #[test]
    fn worst_case_bytes_do_not_overflow_lanes() {
        // All 0xff maximises every lane sum; several reduction chunks must still agree.
        let chunk = ADLER_LANES * ADLER_ROWS_PER_BLOCK * ADLER_BLOCKS_PER_CHUNK;
        let data = vec![0xffu8; 3 * chunk + 5];
        assert_eq!(adler32(ADLER32_INIT, &data), adler32_reference(&data));
    }

    #[test]
    fn chained_calls_equal_one_call() {
        let data = pseudo_random(100_003, 7);
        let (head, tail) = data.split_at(40_009);
        assert_eq!(
            adler32(adler32(ADLER32_INIT, head), tail),
            adler32(ADLER32_INIT, &data)
        );
        assert_eq!(
            crc32(crc32(CRC32_INIT, head), tail),
            crc32(CRC32_INIT, &data)
        );
    }
}

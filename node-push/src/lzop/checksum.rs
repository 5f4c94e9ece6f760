//! Adler-32 and CRC-32, the two checksums lzop stores (the same functions as liblzo's `lzo_adler32`
//! and `lzo_crc32`, which equal zlib's).
//!
//! No crate for them is in the dependency tree, and both sit on the hot path (every block is
//! checksummed before and after compression), so they are written for speed in safe Rust: Adler-32
//! keeps one pair of sums per byte lane so the compiler can vectorise the inner loop, CRC-32 uses
//! "slicing by 16" tables built at compile time.

/// Adler-32's modulus, the largest prime below 2^16.
const ADLER_MOD: u32 = 65_521;

/// Bytes processed per lane pass. Sixteen lanes of u32 map onto SSE2/AVX2/NEON registers.
const ADLER_LANES: usize = 16;

/// Rows (of `ADLER_LANES` bytes) summed before the lane sums must be reduced: each lane's second
/// sum grows by at most 255 * rows * (rows + 1) / 2, which stays below 2^32 for 5552 rows (zlib's
/// NMAX bound, here per lane).
const ADLER_ROWS_PER_REDUCTION: usize = 5552;

/// The starting value of an Adler-32 (what liblzo calls `ADLER32_INIT_VALUE`).
pub const ADLER32_INIT: u32 = 1;

/// The starting value of a CRC-32 (what liblzo calls `CRC32_INIT_VALUE`).
pub const CRC32_INIT: u32 = 0;

/// Continues the Adler-32 `state` over `data`; start from [`ADLER32_INIT`].
pub fn adler32(state: u32, data: &[u8]) -> u32 {
    let mut a = state & 0xffff;
    let mut b = state >> 16;

    let chunk_len = ADLER_LANES * ADLER_ROWS_PER_REDUCTION;
    let mut chunks = data.chunks_exact(chunk_len);
    for chunk in &mut chunks {
        (a, b) = adler_lanes(a, b, chunk);
    }
    let rest = chunks.remainder();
    let whole_rows = rest.len() / ADLER_LANES * ADLER_LANES;
    (a, b) = adler_lanes(a, b, &rest[..whole_rows]);
    for &byte in &rest[whole_rows..] {
        a += u32::from(byte);
        b += a;
    }
    (b % ADLER_MOD) << 16 | (a % ADLER_MOD)
}

/// Adds `rows` (a whole number of lane rows, at most `ADLER_ROWS_PER_REDUCTION` of them) to the
/// reduced sums `a` and `b`, returning them reduced again.
///
/// With n bytes split into lanes of width W over m rows, lane l accumulates S_l (its bytes) and
/// T_l (each byte weighted by the rows left including its own). The byte at j = kW + l adds
/// (n - j) = W(m - k) - l to B, so B grows by n*A + W*sum(T_l) - sum(l*S_l) and A by sum(S_l).
fn adler_lanes(a: u32, b: u32, rows: &[u8]) -> (u32, u32) {
    if rows.is_empty() {
        return (a % ADLER_MOD, b % ADLER_MOD);
    }
    let mut lane_sum = [0u32; ADLER_LANES];
    let mut lane_weighted = [0u32; ADLER_LANES];
    for row in rows.chunks_exact(ADLER_LANES) {
        for lane in 0..ADLER_LANES {
            lane_sum[lane] += u32::from(row[lane]);
            lane_weighted[lane] += lane_sum[lane];
        }
    }
    let modulus = u64::from(ADLER_MOD);
    let n = rows.len() as u64;
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
    // Add a multiple of the modulus before subtracting so the sum cannot go negative.
    let lane_offsets = lane_offsets % modulus;
    let new_b =
        (u64::from(b) + (n % modulus) * a + ADLER_LANES as u64 * (weighted % modulus) + modulus
            - lane_offsets)
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
        let chunk = ADLER_LANES * ADLER_ROWS_PER_REDUCTION;
        for len in [
            1,
            15,
            16,
            17,
            255,
            4096,
            chunk - 1,
            chunk,
            chunk + 1,
            3 * chunk + 77,
        ] {
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
        let data = vec![0xffu8; 3 * ADLER_LANES * ADLER_ROWS_PER_REDUCTION + 5];
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

//! The content digest of a file's source bytes: the one way to hash them.
//!
//! This version records BLAKE3 for every object it stores ([`Algorithm::Blake3`]): with its SIMD
//! assembly (AVX-512/AVX2/SSE4.1 on x86_64, NEON on aarch64) one core hashes several GB/s, so proving a
//! file identical to a stored one costs about as much CPU as reading it. Earlier versions recorded
//! SHA-256; their entries are checked with SHA-256 ([`Algorithm::of_entry`] picks what an entry records).
//!
//! [`Hasher`] digests bytes as they pass (the upload's single pass over the source, restore's decoded
//! stream); [`HashingReader`] wraps a reader with one; [`hash_file`] hashes a whole file through a
//! caller's buffer, reused from file to file.

use contract::manifest::{ContentDigest, ObjectEntry};
use sha2::Digest as _;
use std::io::{self, Read};
use std::path::Path;

/// A content digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Blake3,
    Sha256,
}

impl Algorithm {
    /// What this version records for what it stores.
    pub const RECORDED: Algorithm = Algorithm::Blake3;

    /// The algorithm of a recorded digest.
    pub fn of(digest: &ContentDigest<'_>) -> Algorithm {
        match digest {
            ContentDigest::Blake3(_) => Algorithm::Blake3,
            ContentDigest::Sha256(_) => Algorithm::Sha256,
        }
    }

    /// The algorithm and hex digest `entry` records; `None` when it records none (the old tool).
    pub fn of_entry(entry: &ObjectEntry) -> Option<(Algorithm, &str)> {
        match entry.digest()? {
            ContentDigest::Blake3(hex) => Some((Algorithm::Blake3, hex)),
            ContentDigest::Sha256(hex) => Some((Algorithm::Sha256, hex)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "BLAKE3",
            Algorithm::Sha256 => "SHA-256",
        }
    }
}

/// An incremental digest of one of the [`Algorithm`]s.
#[derive(Debug, Clone)]
pub enum Hasher {
    Blake3(Box<blake3::Hasher>),
    Sha256(sha2::Sha256),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Blake3(_) => Algorithm::Blake3,
            Hasher::Sha256(_) => Algorithm::Sha256,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Blake3(hasher) => {
                hasher.update(bytes);
            }
            Hasher::Sha256(hasher) => hasher.update(bytes),
        }
    }

    /// The lower-case hex digest.
    pub fn finalize_hex(self) -> String {
        match self {
            Hasher::Blake3(hasher) => hasher.finalize().to_hex().to_string(),
            Hasher::Sha256(hasher) => hex::encode(hasher.finalize()),
        }
    }
}

/// Whether a computed hex digest is the recorded one (recorded digests may be upper case).
pub fn same_hex(computed: &str, recorded: &str) -> bool {
    computed.eq_ignore_ascii_case(recorded)
}

/// A reader that digests and counts what passes through it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Digests with [`Algorithm::RECORDED`].
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(Algorithm::RECORDED),
            bytes: 0,
        }
    }

    /// (bytes read, hex digest of them).
    pub fn finish(self) -> (u64, String) {
        (self.bytes, self.hasher.finalize_hex())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Bytes per read of [`hash_file`]: large enough for BLAKE3 to hash many chunks at once with SIMD.
pub const READ_SIZE: usize = 1024 * 1024;

/// (size, hex digest) of the file at `path`, read through `buf` (grown to [`READ_SIZE`] once, then
/// reused by the caller for the next file).
pub fn hash_file(
    path: &Path,
    algorithm: Algorithm,
    buf: &mut Vec<u8>,
) -> io::Result<(u64, String)> {
    let mut file = fs_err::File::open(path)?;
    if buf.len() < READ_SIZE {
        buf.resize(READ_SIZE, 0);
    }
    let mut hasher = Hasher::new(algorithm);
    let mut size = 0u64;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finalize_hex()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC_BLAKE3: &str = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn known_vectors() {
        for (algorithm, expected) in [
            (Algorithm::Blake3, ABC_BLAKE3),
            (Algorithm::Sha256, ABC_SHA256),
        ] {
            let mut hasher = Hasher::new(algorithm);
            hasher.update(b"a");
            hasher.update(b"bc");
            assert_eq!(hasher.finalize_hex(), expected, "{}", algorithm.name());
        }
    }

    #[test]
    fn hashing_reader_counts_and_hashes() {
        let mut reader = HashingReader::new(&b"abc"[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(reader.finish(), (3, ABC_BLAKE3.to_string()));
    }

    #[test]
    fn files_hash_like_their_bytes_through_one_buffer() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..3 * READ_SIZE + 17)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let path = dir.path().join("f");
        fs_err::write(&path, &big).unwrap();
        let mut buf = Vec::new();
        for algorithm in [Algorithm::Blake3, Algorithm::Sha256] {
            let mut hasher = Hasher::new(algorithm);
            hasher.update(&big);
            assert_eq!(
                hash_file(&path, algorithm, &mut buf).unwrap(),
                (big.len() as u64, hasher.finalize_hex())
            );
        }
        assert_eq!(buf.len(), READ_SIZE);
        assert!(hash_file(&dir.path().join("missing"), Algorithm::Blake3, &mut buf).is_err());
    }

    #[test]
    fn entries_name_their_algorithm() {
        let mut entry = ObjectEntry {
            key: "k".into(),
            host: "h".into(),
            source_path: "/p".into(),
            keyspace: "ks".into(),
            table: "t".into(),
            size: 3,
            compressed_size: 60,
            sha256: ABC_SHA256.into(),
            blake3: String::new(),
            etag: "e".into(),
            variant: 0,
            source_id: None,
        };
        assert_eq!(
            Algorithm::of_entry(&entry),
            Some((Algorithm::Sha256, ABC_SHA256))
        );
        entry.blake3 = ABC_BLAKE3.into();
        assert_eq!(
            Algorithm::of_entry(&entry),
            Some((Algorithm::Blake3, ABC_BLAKE3))
        );
        entry.blake3.clear();
        entry.sha256.clear();
        assert_eq!(Algorithm::of_entry(&entry), None);
        assert!(same_hex("ab", "AB"));
    }
}

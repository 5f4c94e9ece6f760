//! Deep verify checks the digest an entry records, with its algorithm: BLAKE3 (this version), SHA-256
//! (earlier versions), none (the old tool: lzop checks only).

use super::*;
use crate::digest::Hasher;
use crate::lzop::{EncoderOptions, LzopEncoder};
use crate::store::local::LocalStore;
use crate::store::PutOptions;
use std::io::Read;

fn hex_of(algorithm: Algorithm, bytes: &[u8]) -> String {
    let mut hasher = Hasher::new(algorithm);
    hasher.update(bytes);
    hasher.finalize_hex()
}

/// Stores `source` lzop-compressed under `key` and returns its entry, recording `digest` as
/// `(sha256, blake3)`.
async fn stored(
    store: &LocalStore,
    key: &str,
    source: &[u8],
    digest: (String, String),
) -> ObjectEntry {
    let mut body = Vec::new();
    LzopEncoder::new(source, EncoderOptions::default(), None)
        .read_to_end(&mut body)
        .unwrap();
    let compressed_size = body.len() as u64;
    let etag = store
        .put_object(key, body.into(), &PutOptions::default())
        .await
        .unwrap();
    ObjectEntry {
        key: key.into(),
        host: "h1".into(),
        source_path: format!("/d/ks/t/snapshots/s/{key}"),
        keyspace: "ks".into(),
        table: "t".into(),
        size: source.len() as u64,
        compressed_size,
        sha256: digest.0,
        blake3: digest.1,
        etag,
        variant: 0,
        source_id: None,
    }
}

#[tokio::test]
async fn deep_verify_checks_the_recorded_digest_with_its_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path()).unwrap();
    let source = b"sstable bytes ".repeat(10_000);
    let (blake3, sha256) = (
        hex_of(Algorithm::Blake3, &source),
        hex_of(Algorithm::Sha256, &source),
    );
    let wrong = "00".repeat(32);
    let entries = vec![
        stored(
            &store,
            "blake3-ok",
            &source,
            (String::new(), blake3.clone()),
        )
        .await,
        stored(
            &store,
            "sha256-ok",
            &source,
            (sha256.clone(), String::new()),
        )
        .await,
        stored(&store, "none-ok", &source, (String::new(), String::new())).await,
        // Both recorded: BLAKE3 is what counts.
        stored(&store, "blake3-wrong", &source, (sha256, wrong.clone())).await,
        stored(
            &store,
            "sha256-wrong",
            &source,
            (wrong.clone(), String::new()),
        )
        .await,
    ];
    let report = verify_objects(
        Arc::new(store),
        entries,
        &VerifyConfig::new(VerifyDepth::Deep),
        |_| {},
    )
    .await;
    let statuses: Vec<(String, ObjectStatus)> = report.hosts["h1"]
        .iter()
        .map(|r| (r.entry.key.clone(), r.status.clone()))
        .collect();
    let mismatch = |algorithm, found: &[u8]| ObjectStatus::ShaMismatch {
        algorithm,
        expected: wrong.clone(),
        found: hex_of(algorithm, found),
    };
    assert_eq!(
        statuses,
        [
            ("blake3-ok".to_string(), ObjectStatus::Ok),
            ("sha256-ok".to_string(), ObjectStatus::Ok),
            ("none-ok".to_string(), ObjectStatus::Ok),
            (
                "blake3-wrong".to_string(),
                mismatch(Algorithm::Blake3, &source)
            ),
            (
                "sha256-wrong".to_string(),
                mismatch(Algorithm::Sha256, &source)
            ),
        ]
    );
    let line = statuses[3].1.to_string();
    assert!(line.starts_with("BLAKE3 of the decoded bytes"), "{line}");
}

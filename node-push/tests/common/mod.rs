//! Behaviour every [`ObjectStore`] must show, written once and run against both stores
//! (`store_s3.rs` against a real SeaweedFS, `store_local.rs` against a temp dir).
//!
//! Each `exercise_*` function works below its own key prefix, so the scenarios can share a store.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use engine::store::{CompletedPart, ObjectStore, PutOptions, ServerSideEncryption, StoreError};
use md5::{Digest as _, Md5};

pub const MIB: usize = 1024 * 1024;

/// Deterministic, incompressible-looking test data (xorshift), different for every `seed`.
pub fn pattern(len: usize, seed: u64) -> Bytes {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(len);
    Bytes::from(data)
}

pub fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// S3's multipart ETag, computed independently of the stores' own code.
pub fn expected_multipart_etag(parts: &[Bytes]) -> String {
    let mut joined = Vec::new();
    for part in parts {
        joined.extend_from_slice(&md5(part));
    }
    format!("{}-{}", hex::encode(md5(&joined)), parts.len())
}

fn keys_of(listing: &engine::store::Listing) -> Vec<String> {
    listing.objects.iter().map(|o| o.key.clone()).collect()
}

/// PUT, HEAD, whole and ranged GET, overwrite, DELETE, and the answers for missing objects.
pub async fn exercise_objects(store: &dyn ObjectStore, prefix: &str) {
    let key = format!("{prefix}/dir/object.bin");
    let data = pattern(100_000, 1);
    let etag = store
        .put_object(&key, data.clone(), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(
        etag,
        hex::encode(md5(&data)),
        "single PUT ETag is the hex MD5, unquoted"
    );

    let meta = store
        .head(&key)
        .await
        .unwrap()
        .expect("object exists after PUT");
    assert_eq!(
        (meta.key.as_str(), meta.size, meta.etag.as_str()),
        (key.as_str(), 100_000, etag.as_str())
    );
    assert_eq!(store.get(&key, None).await.unwrap(), data);
    assert_eq!(
        store.get(&key, Some((10, 20))).await.unwrap(),
        data.slice(10..20)
    );
    assert_eq!(
        store.get(&key, Some((99_990, 100_000))).await.unwrap(),
        data.slice(99_990..)
    );
    assert_eq!(store.get(&key, Some((5, 5))).await.unwrap(), Bytes::new());
    let beyond = store.get(&key, Some((99_000, 100_001))).await;
    assert!(
        matches!(beyond, Err(StoreError::Permanent { .. })),
        "range past the end: {beyond:?}"
    );

    // Overwrite with shorter content: nothing of the old object may remain.
    let short = pattern(10, 2);
    store
        .put_object(&key, short.clone(), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(store.get(&key, None).await.unwrap(), short);
    assert_eq!(store.head(&key).await.unwrap().unwrap().size, 10);

    // Empty objects are objects.
    let empty_key = format!("{prefix}/empty");
    let empty_etag = store
        .put_object(&empty_key, Bytes::new(), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(empty_etag, "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(store.head(&empty_key).await.unwrap().unwrap().size, 0);

    // Characters that need escaping in URLs and signatures.
    let odd_key = format!("{prefix}/odd name+plus=eq&amp;ü~(1).db");
    let odd = pattern(300, 3);
    let odd_etag = store
        .put_object(&odd_key, odd.clone(), &PutOptions::default())
        .await
        .unwrap();
    assert_eq!(store.head(&odd_key).await.unwrap().unwrap().etag, odd_etag);
    assert_eq!(
        store.get(&odd_key, Some((1, 3))).await.unwrap(),
        odd.slice(1..3)
    );
    assert_eq!(
        keys_of(&store.list(&format!("{prefix}/odd"), None).await.unwrap()),
        [odd_key.as_str()]
    );
    let id = store
        .create_multipart(&odd_key, &PutOptions::default())
        .await
        .unwrap();
    let part_etag = store
        .upload_part(&odd_key, &id, 1, odd.clone(), md5(&odd))
        .await
        .unwrap();
    let parts = [CompletedPart {
        part_number: 1,
        etag: part_etag,
    }];
    store
        .complete_multipart(&odd_key, &id, &parts)
        .await
        .unwrap();
    assert_eq!(store.get(&odd_key, None).await.unwrap(), odd);
    store.delete(&odd_key).await.unwrap();

    store.delete(&key).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
    let gone = store.get(&key, None).await;
    assert!(
        matches!(gone, Err(StoreError::NotFound { .. })),
        "GET after DELETE: {gone:?}"
    );
    store
        .delete(&key)
        .await
        .expect("deleting a missing object is not an error");
    store.delete(&empty_key).await.unwrap();
    assert!(store.list(prefix, None).await.unwrap().objects.is_empty());
}

/// SSE (AES256, aws:kms with a key id) and storage classes on PUT and on multipart initiation.
pub async fn exercise_put_options(store: &dyn ObjectStore, prefix: &str, kms: KmsSupport) {
    let mut variants = vec![
        PutOptions {
            sse: ServerSideEncryption::Aes256,
            storage_class: Some("STANDARD_IA".into()),
            content_type: None,
        },
        PutOptions {
            sse: ServerSideEncryption::None,
            storage_class: Some("REDUCED_REDUNDANCY".into()),
            content_type: Some("application/x-lzop".into()),
        },
    ];
    if kms == KmsSupport::Available {
        variants.push(PutOptions {
            sse: ServerSideEncryption::Kms {
                key_id: Some("alias/backups".into()),
            },
            storage_class: Some("STANDARD".into()),
            content_type: None,
        });
    }
    for (i, opts) in variants.iter().enumerate() {
        let key = format!("{prefix}/opts-{i}");
        let data = pattern(1000, 10 + i as u64);
        store
            .put_object(&key, data.clone(), opts)
            .await
            .unwrap_or_else(|e| panic!("PUT with {opts:?}: {e}"));
        assert_eq!(store.get(&key, None).await.unwrap(), data);
        let mp_key = format!("{prefix}/opts-mp-{i}");
        let id = store
            .create_multipart(&mp_key, opts)
            .await
            .unwrap_or_else(|e| panic!("initiate with {opts:?}: {e}"));
        let etag = store
            .upload_part(&mp_key, &id, 1, data.clone(), md5(&data))
            .await
            .unwrap();
        store
            .complete_multipart(
                &mp_key,
                &id,
                &[CompletedPart {
                    part_number: 1,
                    etag,
                }],
            )
            .await
            .unwrap();
        assert_eq!(store.get(&mp_key, None).await.unwrap(), data);
    }
}

/// Whether the store under test can do `aws:kms` (AWS can; SeaweedFS needs a KMS configured).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsSupport {
    Available,
    NotConfigured,
}

/// More keys than one listing page holds (1000 on S3), with and without a delimiter.
pub async fn exercise_listing(store: Arc<dyn ObjectStore>, prefix: &str, count: usize) {
    let mut expected = BTreeSet::new();
    let mut tasks = tokio::task::JoinSet::new();
    // 8 PUTs in flight: quick, without drowning a 2-core machine.
    let keys: Vec<String> = (0..count)
        .map(|i| format!("{prefix}/many/{i:05}.db"))
        .collect();
    for chunk in keys.chunks(count.div_ceil(8)) {
        expected.extend(chunk.iter().cloned());
        let (store, chunk) = (store.clone(), chunk.to_vec());
        tasks.spawn(async move {
            for key in chunk {
                store
                    .put_object(&key, Bytes::from(key.clone()), &PutOptions::default())
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let listing = store.list(&format!("{prefix}/many/"), None).await.unwrap();
    let listed = keys_of(&listing);
    assert_eq!(listed.len(), count, "every page was followed");
    assert_eq!(
        listed,
        expected.iter().cloned().collect::<Vec<_>>(),
        "sorted, no duplicates"
    );
    let sample = &listing.objects[count / 2];
    assert_eq!(sample.size, sample.key.len() as u64);
    assert_eq!(sample.etag, hex::encode(md5(sample.key.as_bytes())));

    // A prefix that is not a whole path component.
    let partial = store
        .list(&format!("{prefix}/many/0000"), None)
        .await
        .unwrap();
    assert_eq!(keys_of(&partial).len(), 10.min(count));

    // Delimiter: direct children are objects, deeper keys fold into common prefixes (also past a page).
    for key in [
        "tree/a/1",
        "tree/a/2",
        "tree/b/x/1",
        "tree/c",
        "tree/d.db",
        "treetop",
    ] {
        store
            .put_object(
                &format!("{prefix}/{key}"),
                Bytes::from_static(b"x"),
                &PutOptions::default(),
            )
            .await
            .unwrap();
    }
    let tree = store
        .list(&format!("{prefix}/tree/"), Some("/"))
        .await
        .unwrap();
    assert_eq!(
        keys_of(&tree),
        [format!("{prefix}/tree/c"), format!("{prefix}/tree/d.db")]
    );
    assert_eq!(
        tree.common_prefixes,
        [format!("{prefix}/tree/a/"), format!("{prefix}/tree/b/")]
    );
    let top = store.list(&format!("{prefix}/"), Some("/")).await.unwrap();
    assert_eq!(keys_of(&top), [format!("{prefix}/treetop")]);
    assert_eq!(
        top.common_prefixes,
        [format!("{prefix}/many/"), format!("{prefix}/tree/")]
    );
    let nothing = store
        .list(&format!("{prefix}/no-such-prefix/"), Some("/"))
        .await
        .unwrap();
    assert!(nothing.objects.is_empty() && nothing.common_prefixes.is_empty());
}

/// 3 parts of 5 MiB and a tail: ETag, content, part boundaries; the upload is no longer pending.
pub async fn exercise_multipart(store: &dyn ObjectStore, prefix: &str) {
    let key = format!("{prefix}/big.lzo");
    let parts: Vec<Bytes> = (0..4)
        .map(|i| pattern(if i < 3 { 5 * MIB } else { MIB + 7 }, 100 + i))
        .collect();
    let id = store
        .create_multipart(&key, &PutOptions::default())
        .await
        .unwrap();
    assert!(
        store.head(&key).await.unwrap().is_none(),
        "invisible until completed"
    );
    let mut completed = Vec::new();
    // Out of order, as parallel part uploads finish.
    for (index, part) in parts.iter().enumerate().rev() {
        let number = index as u32 + 1;
        let etag = store
            .upload_part(&key, &id, number, part.clone(), md5(part))
            .await
            .unwrap();
        assert_eq!(
            etag,
            hex::encode(md5(part)),
            "part ETag is its hex MD5, unquoted"
        );
        completed.push(CompletedPart {
            part_number: number,
            etag,
        });
    }
    completed.sort_by_key(|part| part.part_number);
    let pending = store.list_multipart_uploads(prefix).await.unwrap();
    assert!(
        pending.iter().any(|u| u.upload_id == id && u.key == key),
        "{pending:?}"
    );

    let etag = store
        .complete_multipart(&key, &id, &completed)
        .await
        .unwrap();
    assert_eq!(etag, expected_multipart_etag(&parts));
    let whole: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    let meta = store.head(&key).await.unwrap().unwrap();
    assert_eq!(
        (meta.size, meta.etag.as_str()),
        (whole.len() as u64, etag.as_str())
    );
    let boundary = (5 * MIB - 3) as u64;
    assert_eq!(
        store
            .get(&key, Some((boundary, boundary + 6)))
            .await
            .unwrap(),
        &whole[boundary as usize..boundary as usize + 6]
    );
    assert_eq!(store.get(&key, None).await.unwrap(), &whole[..]);
    let listed = store.list(&key, None).await.unwrap();
    assert_eq!(
        listed.objects[0].etag, etag,
        "listing shows the multipart ETag too"
    );
    let pending = store.list_multipart_uploads(prefix).await.unwrap();
    assert!(
        !pending.iter().any(|u| u.upload_id == id),
        "completed upload still pending: {pending:?}"
    );
}

/// A part whose Content-MD5 does not match its body is refused; the upload stays usable.
pub async fn exercise_bad_part_md5(store: &dyn ObjectStore, prefix: &str) -> StoreError {
    let key = format!("{prefix}/corrupt.lzo");
    let id = store
        .create_multipart(&key, &PutOptions::default())
        .await
        .unwrap();
    let body = pattern(64 * 1024, 7);
    let mut damaged = body.to_vec();
    damaged[1000] ^= 0x40;
    let refused = store
        .upload_part(&key, &id, 1, Bytes::from(damaged), md5(&body))
        .await
        .expect_err("a body that does not match its Content-MD5 must be refused");
    // The same part, intact, goes through, and the object holds the intact bytes.
    let etag = store
        .upload_part(&key, &id, 1, body.clone(), md5(&body))
        .await
        .unwrap();
    store
        .complete_multipart(
            &key,
            &id,
            &[CompletedPart {
                part_number: 1,
                etag,
            }],
        )
        .await
        .unwrap();
    assert_eq!(store.get(&key, None).await.unwrap(), body);
    refused
}

/// Abort discards an upload; listing pending uploads filters by prefix; unknown uploads.
pub async fn exercise_abort_and_pending(store: &dyn ObjectStore, prefix: &str) {
    let first = store
        .create_multipart(&format!("{prefix}/a/one"), &PutOptions::default())
        .await
        .unwrap();
    let second = store
        .create_multipart(&format!("{prefix}/b/two"), &PutOptions::default())
        .await
        .unwrap();
    let part = pattern(1000, 3);
    store
        .upload_part(
            &format!("{prefix}/a/one"),
            &first,
            1,
            part.clone(),
            md5(&part),
        )
        .await
        .unwrap();

    let ids = |uploads: Vec<engine::store::PendingUpload>| -> BTreeSet<String> {
        uploads.into_iter().map(|u| u.upload_id).collect()
    };
    let all = store
        .list_multipart_uploads(&format!("{prefix}/"))
        .await
        .unwrap();
    assert!(all.iter().all(|u| u.key.starts_with(prefix)));
    assert_eq!(ids(all), BTreeSet::from([first.clone(), second.clone()]));
    let only_a = store
        .list_multipart_uploads(&format!("{prefix}/a/"))
        .await
        .unwrap();
    assert_eq!(ids(only_a), BTreeSet::from([first.clone()]));

    store
        .abort_multipart(&format!("{prefix}/a/one"), &first)
        .await
        .unwrap();
    let left = store
        .list_multipart_uploads(&format!("{prefix}/"))
        .await
        .unwrap();
    assert_eq!(ids(left), BTreeSet::from([second.clone()]));
    assert!(store
        .head(&format!("{prefix}/a/one"))
        .await
        .unwrap()
        .is_none());
    // Parts of an aborted upload are gone with it.
    let late = store
        .upload_part(
            &format!("{prefix}/a/one"),
            &first,
            2,
            part.clone(),
            md5(&part),
        )
        .await;
    assert!(
        matches!(late, Err(StoreError::NotFound { .. })),
        "part for an aborted upload: {late:?}"
    );
    store
        .abort_multipart(&format!("{prefix}/a/one"), &first)
        .await
        .expect("aborting twice is fine");

    store
        .abort_multipart(&format!("{prefix}/b/two"), &second)
        .await
        .unwrap();
    assert!(store
        .list_multipart_uploads(&format!("{prefix}/"))
        .await
        .unwrap()
        .is_empty());
}

/// Completing with a wrong part ETag or out of order fails permanently and publishes nothing.
pub async fn exercise_bad_completion(store: &dyn ObjectStore, prefix: &str) {
    let key = format!("{prefix}/incomplete");
    let id = store
        .create_multipart(&key, &PutOptions::default())
        .await
        .unwrap();
    let body = pattern(5 * MIB, 9);
    let etag1 = store
        .upload_part(&key, &id, 1, body.clone(), md5(&body))
        .await
        .unwrap();
    let etag2 = store
        .upload_part(&key, &id, 2, body.clone(), md5(&body))
        .await
        .unwrap();
    let wrong = CompletedPart {
        part_number: 2,
        etag: "0123456789abcdef0123456789abcdef".into(),
    };
    let result = store
        .complete_multipart(
            &key,
            &id,
            &[
                CompletedPart {
                    part_number: 1,
                    etag: etag1.clone(),
                },
                wrong,
            ],
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::Permanent { .. })),
        "wrong part ETag: {result:?}"
    );
    assert!(store.head(&key).await.unwrap().is_none());
    let reversed = [
        CompletedPart {
            part_number: 2,
            etag: etag2.clone(),
        },
        CompletedPart {
            part_number: 1,
            etag: etag1,
        },
    ];
    let result = store.complete_multipart(&key, &id, &reversed).await;
    assert!(
        matches!(result, Err(StoreError::Permanent { .. })),
        "parts out of order: {result:?}"
    );
    store.abort_multipart(&key, &id).await.unwrap();
}

/// Every part but the last must be at least 5 MiB (S3's EntityTooSmall, which SeaweedFS enforces too).
pub async fn exercise_small_parts(store: &dyn ObjectStore, prefix: &str) {
    let key = format!("{prefix}/small-parts");
    let id = store
        .create_multipart(&key, &PutOptions::default())
        .await
        .unwrap();
    let small = pattern(1000, 1);
    let mut parts = Vec::new();
    for number in 1..=2 {
        let etag = store
            .upload_part(&key, &id, number, small.clone(), md5(&small))
            .await
            .unwrap();
        parts.push(CompletedPart {
            part_number: number,
            etag,
        });
    }
    let err = store
        .complete_multipart(&key, &id, &parts)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Permanent { .. }), "{err}");
    assert!(err.to_string().contains("EntityTooSmall"), "{err}");
    // A single small part is a valid (last) part.
    store
        .complete_multipart(&key, &id, &parts[..1])
        .await
        .unwrap();
    assert_eq!(store.get(&key, None).await.unwrap(), small);
}

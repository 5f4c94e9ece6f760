//! [`S3Store`] against a real S3 server: SeaweedFS started by testkit, with signature checking on.
//!
//! Each test starts its own SeaweedFS (about half a second), so the tests are independent and can run in
//! parallel. `weed` must be installed (`cargo xtask setup`); the tests fail, loudly, without it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use engine::store::s3::{CredentialSource, S3Config, S3Store};
use engine::store::{
    with_retry, ObjectStore, PutOptions, RetryPolicy, ServerSideEncryption, StoreError,
};
use testkit::fault_proxy::{Fault, FaultProxy};
use testkit::seaweed::SeaweedFs;

use common::*;

fn config(s3: &SeaweedFs, bucket: &str) -> S3Config {
    s3.s3_config(bucket)
}

/// A fresh SeaweedFS with one bucket, and a store connected to it.
async fn start(bucket: &str) -> (SeaweedFs, S3Store) {
    let s3 =
        SeaweedFs::start().expect("SeaweedFS starts (run `cargo xtask setup` if weed is missing)");
    s3.create_bucket(bucket).unwrap();
    let store = S3Store::connect(config(&s3, bucket)).await.unwrap();
    (s3, store)
}

#[tokio::test]
async fn objects_ranges_and_missing_objects() {
    let (_s3, store) = start("objects").await;
    exercise_objects(&store, "basic").await;
    assert_eq!(
        store.describe(),
        format!("s3://objects at {}", _s3.endpoint)
    );
}

#[tokio::test]
async fn encryption_and_storage_class_headers_are_accepted() {
    let (_s3, store) = start("options").await;
    exercise_put_options(&store, "opts", KmsSupport::NotConfigured).await;
    // SeaweedFS has no KMS configured here, so aws:kms cannot succeed; but it must get past the
    // signature check (rust-s3 0.38 signs a KMS key id header wrongly: 403 SignatureDoesNotMatch).
    let kms = PutOptions {
        sse: ServerSideEncryption::Kms {
            key_id: Some("alias/backups".into()),
        },
        storage_class: None,
        content_type: None,
    };
    let put = store
        .put_object("opts/kms", Bytes::from_static(b"x"), &kms)
        .await;
    let initiate = store.create_multipart("opts/kms-mp", &kms).await;
    for outcome in [put.map(|_| ()), initiate.map(|_| ())] {
        if let Err(err) = outcome {
            assert!(!err.to_string().contains("credentials rejected"), "{err}");
        }
    }
    // What the server recorded, read with a plain rust-s3 client.
    let bucket = raw_bucket(&_s3, "options");
    for (key, sse, class, content_type) in [
        (
            "opts/opts-0",
            Some("AES256"),
            "STANDARD_IA",
            "application/octet-stream",
        ),
        (
            "opts/opts-mp-0",
            Some("AES256"),
            "STANDARD_IA",
            "application/octet-stream",
        ),
        (
            "opts/opts-1",
            None,
            "REDUCED_REDUNDANCY",
            "application/x-lzop",
        ),
        (
            "opts/opts-mp-1",
            None,
            "REDUCED_REDUNDANCY",
            "application/x-lzop",
        ),
    ] {
        let (head, _) = bucket.head_object(key).await.unwrap();
        assert_eq!(head.server_side_encryption.as_deref(), sse, "{key}");
        assert_eq!(head.storage_class.as_deref(), Some(class), "{key}");
        assert_eq!(head.content_type.as_deref(), Some(content_type), "{key}");
    }
}

#[tokio::test]
async fn throttling_truncated_and_stalled_answers_are_transient() {
    let s3 = SeaweedFs::start().unwrap();
    s3.create_bucket("faults").unwrap();
    let proxy = FaultProxy::start(&s3.endpoint).unwrap();
    let mut cfg = config(&s3, "faults");
    cfg.endpoint = Some(proxy.endpoint.clone());
    cfg.timeout = Duration::from_secs(2);
    let store = S3Store::connect(cfg).await.unwrap();
    let data = pattern(300_000, 4);
    store
        .put_object("f/obj", data.clone(), &PutOptions::default())
        .await
        .unwrap();

    proxy.fail_every_request(Fault::SLOW_DOWN);
    // HEAD answers carry no body, so only the status tells.
    let head = store.head("f/obj").await.unwrap_err();
    assert!(
        matches!(head, StoreError::Transient { .. }),
        "503 on HEAD: {head}"
    );
    for err in [
        store
            .put_object("f/x", Bytes::from_static(b"x"), &PutOptions::default())
            .await
            .unwrap_err(),
        store.list("f/", None).await.unwrap_err(),
        store.get("f/obj", None).await.unwrap_err(),
    ] {
        assert!(
            matches!(err, StoreError::Transient { .. }),
            "503 SlowDown: {err}"
        );
        assert!(err.to_string().contains("SlowDown"), "{err}");
    }

    proxy.fail_every_request(Fault::CutAfter(1000));
    let cut = store.get("f/obj", None).await.unwrap_err();
    assert!(cut.is_retryable(), "truncated body: {cut}");
    let cut = store.get("f/obj", Some((0, 200_000))).await.unwrap_err();
    assert!(cut.is_retryable(), "truncated ranged body: {cut}");

    proxy.fail_every_request(Fault::StallAfter(1000));
    let stalled = store.get("f/obj", None).await.unwrap_err();
    assert!(
        stalled.is_retryable() && stalled.to_string().contains("stalled"),
        "{stalled}"
    );
    proxy.fail_every_request(Fault::Stall);
    let silent = store.head("f/obj").await.unwrap_err();
    assert!(silent.is_retryable(), "no answer at all: {silent}");

    proxy.clear_rules();
    assert_eq!(store.get("f/obj", None).await.unwrap(), data);
}

/// A plain rust-s3 client for the test server, to look at objects independently of S3Store.
fn raw_bucket(s3: &SeaweedFs, name: &str) -> Box<s3::Bucket> {
    let credentials = s3::creds::Credentials::new(
        Some(s3.access_key()),
        Some(s3.secret_key()),
        None,
        None,
        None,
    )
    .unwrap();
    let region = s3::Region::Custom {
        region: s3.region().to_string(),
        endpoint: s3.endpoint.clone(),
    };
    s3::Bucket::new(name, region, credentials)
        .unwrap()
        .with_path_style()
}

#[tokio::test]
async fn listing_follows_every_page_and_folds_delimiters() {
    let (_s3, store) = start("listing").await;
    let store: Arc<dyn ObjectStore> = Arc::new(store);
    exercise_listing(store, "list", 1234).await;
}

#[tokio::test]
async fn small_listing_pages_are_all_followed() {
    let (_s3, store) = start("pages").await;
    // One upload per page: SeaweedFS pages uploads by upload id alone, AWS by key and upload id.
    let store = store.with_page_size(1);
    exercise_abort_and_pending(&store, "pending").await;
    let store: Arc<dyn ObjectStore> = Arc::new(store.with_page_size(7));
    exercise_listing(store, "small", 60).await;
}

#[tokio::test]
async fn multipart_upload_etag_matches_the_local_computation() {
    let (_s3, store) = start("multipart").await;
    exercise_multipart(&store, "mp").await;
    exercise_abort_and_pending(&store, "pending").await;
    exercise_bad_completion(&store, "badcomplete").await;
    exercise_small_parts(&store, "small").await;
}

#[tokio::test]
async fn a_part_whose_content_md5_does_not_match_is_rejected() {
    let (_s3, store) = start("integrity").await;
    let refused = exercise_bad_part_md5(&store, "md5").await;
    assert!(
        matches!(refused, StoreError::Integrity { .. }),
        "the server must answer BadDigest: {refused}"
    );
    assert!(refused.is_retryable(), "damage in transit is worth a retry");
}

#[tokio::test]
async fn bucket_names_with_dots_work() {
    let (_s3, store) = start("backups.example.com").await;
    exercise_objects(&store, "dotted").await;
    exercise_multipart(&store, "dotted-mp").await;
}

#[tokio::test]
async fn a_missing_bucket_is_a_permanent_error_that_names_it() {
    let s3 = SeaweedFs::start().unwrap();
    let err = S3Store::connect(config(&s3, "no-such-bucket"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Permanent { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("bucket no-such-bucket does not exist"),
        "{err}"
    );

    // A bucket deleted after connecting: PUTs fail the same way (no auto-creation, as on AWS).
    s3.create_bucket("short-lived").unwrap();
    let store = S3Store::connect(config(&s3, "short-lived")).await.unwrap();
    s3.delete_bucket("short-lived").unwrap();
    let put = store
        .put_object("k", Bytes::from_static(b"x"), &PutOptions::default())
        .await;
    let err = put.unwrap_err();
    assert!(matches!(err, StoreError::Permanent { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("bucket short-lived does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn rejected_credentials_are_permanent_and_never_echo_the_secret() {
    let s3 = SeaweedFs::start().unwrap();
    s3.create_bucket("creds").unwrap();
    let wrong_secret = "wrong-secret-do-not-print-me";
    let mut cfg = config(&s3, "creds");
    cfg.credentials = CredentialSource::Explicit {
        access_key: s3.access_key().to_string(),
        secret_key: wrong_secret.to_string().into(),
        session_token: None,
    };
    let err = S3Store::connect(cfg.clone()).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, StoreError::Permanent { .. }), "{text}");
    assert!(text.contains("credentials rejected"), "{text}");
    assert!(
        !text.contains(wrong_secret) && !text.contains(s3.secret_key()),
        "{text}"
    );
    assert!(!format!("{cfg:?}").contains(wrong_secret));

    cfg.credentials = CredentialSource::Explicit {
        access_key: "unknown-access-key".into(),
        secret_key: s3.secret_key().to_string().into(),
        session_token: None,
    };
    let err = S3Store::connect(cfg).await.unwrap_err();
    assert!(err.to_string().contains("credentials rejected"), "{err}");
}

#[tokio::test]
async fn a_dead_server_gives_retryable_errors_and_work_resumes_after_restart() {
    let (mut s3, store) = start("restart").await;
    let data = pattern(6 * MIB, 5);
    let id = store
        .create_multipart("r/big", &PutOptions::default())
        .await
        .unwrap();
    let etag1 = store
        .upload_part(
            "r/big",
            &id,
            1,
            data.slice(..5 * MIB),
            md5(&data[..5 * MIB]),
        )
        .await
        .unwrap();

    s3.kill();
    let err = store.head("r/big").await.unwrap_err();
    assert!(err.is_retryable(), "connection refused is transient: {err}");
    let err = store
        .upload_part(
            "r/big",
            &id,
            2,
            data.slice(5 * MIB..),
            md5(&data[5 * MIB..]),
        )
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");

    // The retry loop rides out the restart; the upload started before the crash completes.
    let restarter = std::thread::spawn(move || {
        // The behaviour under test: the server stays down for a while, the retry loop must ride it out.
        std::thread::sleep(Duration::from_millis(300));
        s3.restart().map(|()| s3)
    });
    let policy = RetryPolicy {
        max_attempts: 40,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(500),
    };
    let etag2 = with_retry(&policy, || {
        store.upload_part(
            "r/big",
            &id,
            2,
            data.slice(5 * MIB..),
            md5(&data[5 * MIB..]),
        )
    })
    .await
    .unwrap();
    let _s3 = restarter.join().unwrap().unwrap();
    let parts = [
        engine::store::CompletedPart {
            part_number: 1,
            etag: etag1,
        },
        engine::store::CompletedPart {
            part_number: 2,
            etag: etag2,
        },
    ];
    store
        .complete_multipart("r/big", &id, &parts)
        .await
        .unwrap();
    assert_eq!(store.get("r/big", None).await.unwrap(), data);
}

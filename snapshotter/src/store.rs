//! The coordinator's own view of the bucket: connecting, choosing a free backup name, reading and writing
//! the small metadata objects (ring, schema, manifest) with retries.

use crate::settings::{Credentials, S3Settings};
use anyhow::{Context, Result};
use bytes::Bytes;
use contract::layout::{self, BackupName};
use contract::manifest::Manifest;
use engine::store::s3::{CredentialSource, S3Config, S3Store};
use engine::store::{
    with_retry, ObjectStore, PutOptions, RetryPolicy, ServerSideEncryption, StoreError,
};
use std::sync::Arc;
use std::time::Duration;

/// How long an incomplete backup may be resumed: a backup's name is the time its first run started, so an
/// old one would carry a misleading name (and its snapshot would be far younger than it says). `purge`
/// keeps what a run record this young names as its reference.
pub const RESUME_WITHIN: chrono::Duration = chrono::Duration::hours(12);

/// Connect to the bucket (this lists one key, so bad credentials, a missing bucket or a wrong region fail
/// here, before any node is touched).
pub async fn connect(s3: &S3Settings) -> Result<Arc<dyn ObjectStore>> {
    let credentials = match &s3.credentials {
        Credentials::Keys {
            access_key_id,
            secret_access_key,
            session_token,
            ..
        } => CredentialSource::Explicit {
            access_key: access_key_id.clone(),
            secret_key: secret_access_key.clone(),
            session_token: session_token.clone(),
        },
        Credentials::DefaultChain => CredentialSource::DefaultChain,
    };
    let store = S3Store::connect(S3Config {
        bucket: s3.bucket.clone(),
        region: s3.region.clone(),
        endpoint: s3.endpoint.clone(),
        credentials,
        timeout: Duration::from_secs(60),
    })
    .await
    .with_context(|| format!("cannot use bucket s3://{}", s3.bucket))?;
    Ok(Arc::new(store))
}

/// Encryption and storage class for the objects the coordinator writes.
pub fn put_options(s3: &S3Settings, content_type: &str) -> PutOptions {
    use crate::cli::SseChoice;
    PutOptions {
        sse: match s3.sse {
            None => ServerSideEncryption::None,
            Some(SseChoice::Aes256) => ServerSideEncryption::Aes256,
            Some(SseChoice::AwsKms) => ServerSideEncryption::Kms {
                key_id: s3.sse_kms_key_id.clone(),
            },
        },
        storage_class: s3.storage_class.clone(),
        content_type: Some(content_type.to_string()),
    }
}

/// Write a small object, retrying transient failures.
pub async fn put(store: &dyn ObjectStore, key: &str, body: Bytes, opts: &PutOptions) -> Result<()> {
    with_retry(&RetryPolicy::default(), || {
        store.put_object(key, body.clone(), opts)
    })
    .await
    .with_context(|| format!("cannot write {key}"))?;
    Ok(())
}

/// Read a whole object; `None` when it does not exist.
pub async fn get(store: &dyn ObjectStore, key: &str) -> Result<Option<Bytes>> {
    match with_retry(&RetryPolicy::default(), || store.get(key, None)).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {key}")),
    }
}

/// The names of the backups under `base` (from the common prefixes), newest first.
pub async fn backup_names(store: &dyn ObjectStore, base: &str) -> Result<Vec<BackupName>> {
    let prefix = layout::base_prefix(base);
    let listing = with_retry(&RetryPolicy::default(), || store.list(&prefix, Some("/")))
        .await
        .with_context(|| format!("cannot list {prefix}"))?;
    let mut names: Vec<BackupName> = listing
        .common_prefixes
        .iter()
        .filter_map(|p| p.strip_prefix(&prefix)?.strip_suffix('/')?.parse().ok())
        .collect();
    names.sort_unstable_by(|a, b| b.cmp(a));
    names.dedup();
    Ok(names)
}

/// A manifest read from the store: parsed, missing, or unreadable (with the reason).
#[derive(Debug)]
pub enum ManifestRead {
    Found(Box<Manifest>),
    Missing,
    Unreadable(String),
}

pub async fn read_manifest(
    store: &dyn ObjectStore,
    base: &str,
    name: &str,
) -> Result<ManifestRead> {
    let key = layout::manifest_key(base, name);
    Ok(match get(store, &key).await? {
        None => ManifestRead::Missing,
        Some(bytes) => match Manifest::from_json(&key, &bytes) {
            Ok(manifest) => ManifestRead::Found(Box::new(manifest)),
            Err(error) => ManifestRead::Unreadable(error.to_string()),
        },
    })
}

/// The name for a backup started at `now`, moved on by a second while that prefix already holds objects
/// (the old tool's names have one-second granularity).
pub async fn free_name(store: &dyn ObjectStore, base: &str, now: BackupName) -> Result<BackupName> {
    let mut name = now;
    for _ in 0..120 {
        let prefix = layout::backup_prefix(base, &name.to_string());
        let listing = with_retry(&RetryPolicy::default(), || store.list(&prefix, Some("/")))
            .await
            .with_context(|| format!("cannot list {prefix}"))?;
        if listing.objects.is_empty() && listing.common_prefixes.is_empty() {
            return Ok(name);
        }
        name = name.next();
    }
    anyhow::bail!("no free backup name near {now} under {base}: 120 consecutive names are taken")
}

/// Write the manifest the safe way: to the staging key, then to the final key, read back and compared,
/// then the staging copy removed. Only a verified final manifest makes a backup complete.
pub async fn write_manifest(
    store: &dyn ObjectStore,
    manifest: &Manifest,
    opts: &PutOptions,
) -> Result<String> {
    let (base, name) = (&manifest.base_path, &manifest.name);
    let body = Bytes::from(manifest.to_json());
    let staging = layout::manifest_staging_key(base, name);
    put(store, &staging, body.clone(), opts).await?;
    let key = layout::manifest_key(base, name);
    put(store, &key, body, opts).await?;
    let back = get(store, &key)
        .await?
        .with_context(|| format!("{key} is missing right after it was written"))?;
    let parsed = Manifest::from_json(&key, &back)?;
    anyhow::ensure!(
        &parsed == manifest,
        "{key} reads back different from what was written"
    );
    // A leftover staging copy is harmless (list ignores it); not worth failing the backup over.
    let _ = store.delete(&staging).await;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memstore::MemoryStore;
    use contract::manifest::{Batch, BatchKind};

    fn local() -> ((), Arc<dyn ObjectStore>) {
        ((), Arc::new(MemoryStore::default()))
    }

    #[tokio::test]
    async fn manifest_goes_to_staging_then_final() {
        let (_dir, store) = local();
        let mut m = Manifest::new("20240101000000", "base", vec!["h".into()], None, "");
        let t = chrono::Utc::now();
        m.batches.push(Batch {
            kind: BatchKind::Snapshot,
            started_at: t,
            completed_at: t,
            objects: vec![],
            id: String::new(),
            records: Vec::new(),
        });
        let key = write_manifest(store.as_ref(), &m, &PutOptions::default())
            .await
            .unwrap();
        assert_eq!(key, "base/20240101000000/manifest.json");
        match read_manifest(store.as_ref(), "base", "20240101000000")
            .await
            .unwrap()
        {
            ManifestRead::Found(back) => assert_eq!(*back, m),
            other => panic!("{other:?}"),
        }
        assert!(
            get(store.as_ref(), "base/20240101000000/manifest.json.partial")
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn names_skip_taken_seconds_and_list_newest_first() {
        let (_dir, store) = local();
        let opts = PutOptions::default();
        put(
            store.as_ref(),
            "base/20240101000000/ring",
            Bytes::from("r"),
            &opts,
        )
        .await
        .unwrap();
        put(
            store.as_ref(),
            "base/20230101000000/ring",
            Bytes::from("r"),
            &opts,
        )
        .await
        .unwrap();
        put(store.as_ref(), "base/notabackup/x", Bytes::from("r"), &opts)
            .await
            .unwrap();
        let now: BackupName = "20240101000000".parse().unwrap();
        let free = free_name(store.as_ref(), "base", now).await.unwrap();
        assert_eq!(free.to_string(), "20240101000001");
        let names = backup_names(store.as_ref(), "base").await.unwrap();
        let names: Vec<String> = names.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["20240101000000", "20230101000000"]);
        assert!(matches!(
            read_manifest(store.as_ref(), "base", "20240101000000")
                .await
                .unwrap(),
            ManifestRead::Missing
        ));
    }
}

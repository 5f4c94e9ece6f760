//! An in-memory [`ObjectStore`] for unit tests: any key shape (the old tool's `//` keys included), with
//! listing by prefix and delimiter as S3 does it.

use async_trait::async_trait;
use bytes::Bytes;
use engine::store::{
    CompletedPart, Listing, ObjectMeta, ObjectStore, PendingUpload, PutOptions, StoreError,
    StoreResult,
};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<String, Bytes>>,
    /// Puts of keys ending with this fail (fault injection).
    pub refuse_puts_ending: Mutex<Option<String>>,
    /// `(suffix, key)`: a put of a key ending with `suffix` deletes `key` right after (another run, a
    /// purge, racing this one).
    pub delete_on_put: Mutex<Option<(String, String)>>,
}

fn unsupported(op: &'static str, key: &str) -> StoreError {
    StoreError::Permanent {
        op,
        key: key.to_string(),
        message: "not supported by the in-memory test store".into(),
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    fn describe(&self) -> String {
        "memory://".into()
    }

    async fn put_object(&self, key: &str, body: Bytes, _opts: &PutOptions) -> StoreResult<String> {
        if let Some(suffix) = self.refuse_puts_ending.lock().unwrap().as_deref() {
            if key.ends_with(suffix) {
                return Err(StoreError::Permanent {
                    op: "put_object",
                    key: key.to_string(),
                    message: "AccessDenied (injected)".into(),
                });
            }
        }
        let mut objects = self.objects.lock().unwrap();
        objects.insert(key.to_string(), body);
        if let Some((suffix, victim)) = self.delete_on_put.lock().unwrap().as_ref() {
            if key.ends_with(suffix.as_str()) {
                objects.remove(victim);
            }
        }
        Ok("etag".into())
    }

    async fn create_multipart(&self, key: &str, _opts: &PutOptions) -> StoreResult<String> {
        Err(unsupported("create_multipart", key))
    }

    async fn upload_part(
        &self,
        key: &str,
        _: &str,
        _: u32,
        _: Bytes,
        _: [u8; 16],
    ) -> StoreResult<String> {
        Err(unsupported("upload_part", key))
    }

    async fn complete_multipart(
        &self,
        key: &str,
        _: &str,
        _: &[CompletedPart],
    ) -> StoreResult<String> {
        Err(unsupported("complete_multipart", key))
    }

    async fn abort_multipart(&self, _key: &str, _upload_id: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn head(&self, key: &str) -> StoreResult<Option<ObjectMeta>> {
        Ok(self.objects.lock().unwrap().get(key).map(|b| ObjectMeta {
            key: key.to_string(),
            size: b.len() as u64,
            etag: "etag".into(),
        }))
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> StoreResult<Bytes> {
        let objects = self.objects.lock().unwrap();
        let body = objects.get(key).ok_or_else(|| StoreError::NotFound {
            op: "get",
            key: key.to_string(),
        })?;
        Ok(match range {
            Some((start, end)) => body.slice(start as usize..end as usize),
            None => body.clone(),
        })
    }

    async fn list(&self, prefix: &str, delimiter: Option<&str>) -> StoreResult<Listing> {
        let mut listing = Listing::default();
        for (key, body) in self.objects.lock().unwrap().range(prefix.to_string()..) {
            let Some(rest) = key.strip_prefix(prefix) else {
                break;
            };
            match delimiter.and_then(|d| rest.find(d).map(|i| (i, d))) {
                Some((i, d)) => {
                    let common = format!("{prefix}{}{d}", &rest[..i]);
                    if listing.common_prefixes.last() != Some(&common) {
                        listing.common_prefixes.push(common);
                    }
                }
                None => listing.objects.push(ObjectMeta {
                    key: key.clone(),
                    size: body.len() as u64,
                    etag: "etag".into(),
                }),
            }
        }
        Ok(listing)
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }

    async fn list_multipart_uploads(&self, _prefix: &str) -> StoreResult<Vec<PendingUpload>> {
        Ok(Vec::new())
    }
}

//! Differential snapshots: the snapshot files whose exact bytes the reference backup (the request's
//! `reference_manifest`, a complete backup of the same base path) already stores are not uploaded; each is
//! reported as [`SkipReason::Referenced`] with an entry pointing at the stored object. See
//! [`engine::upload::reference`] for how identity is proven.

use super::read_manifest;
use anyhow::Context as _;
use contract::manifest::ObjectEntry;
use contract::message::{Message, SkipReason};
use contract::request::UploadRequest;
use engine::store::ObjectStore;
use engine::upload::reference::{self, References};
use engine::upload::{log_line, Reporter, UploadItem};

/// `items` minus the files the reference backup stores byte for byte; returns the items to upload and the
/// entries of the referenced files (each already reported).
pub(super) async fn against_reference(
    store: &dyn ObjectStore,
    args: &UploadRequest,
    host_label: &str,
    items: Vec<UploadItem>,
    reporter: &Reporter,
) -> anyhow::Result<(Vec<UploadItem>, Vec<ObjectEntry>)> {
    let Some(key) = args.reference_manifest.as_deref() else {
        return Ok((items, Vec::new()));
    };
    let manifest = read_manifest(store, key, || {
        format!("the reference backup has no manifest at {key}: only a complete backup can be referenced")
    })
    .await?;
    let entries = engine::records::host_entries(store, &manifest, host_label, None)
        .await
        .with_context(|| format!("cannot read the records of {host_label} in {key}"))?;
    let references = References::from_entries(entries);
    let host = host_label.to_string();
    // Hashing the candidates reads files: off the async threads.
    let plan = tokio::task::spawn_blocking(move || reference::plan(items, &references, &host))
        .await
        .context("the reference planner panicked")?;
    if !plan.referenced.is_empty() {
        log_line(format_args!(
            "{} file(s) already stored by backup {}: referenced, not sent",
            plan.referenced.len(),
            manifest.name
        ));
    }
    for entry in &plan.referenced {
        reporter.emit(Message::FileSkipped {
            path: entry.source_path.clone(),
            reason: SkipReason::Referenced {
                entry: entry.clone(),
            },
        });
    }
    Ok((plan.upload, plan.referenced))
}

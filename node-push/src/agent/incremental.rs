//! The two things an incremental run does beyond uploading: it compares the `backups/` files with the
//! backup they go into (so nothing committed is rewritten and nothing held is sent twice), and, run on its
//! own with `--delete-after-upload`, it commits what it stored to the node's stream registry, which
//! deletes the links every stream has.

use anyhow::Context as _;
use contract::message::Message;
use contract::request::UploadRequest;
use contract::stream::{StreamAction, StreamAnswer, StreamRequest, StreamSpec};
use engine::store::ObjectStore;
use engine::streams;
use engine::upload::incremental::{self, Committed};
use engine::upload::{Reporter, UploadItem};
use std::path::PathBuf;

/// `items` minus the SSTables the target backup (`--committed-manifest`) already holds, with variant
/// keys where a committed object holds a file's own key. Returns the items to upload and the identities
/// of the files not sent because the backup has them (each reported as [`Message::InBackup`]).
pub(super) async fn against_committed(
    store: &dyn ObjectStore,
    args: &UploadRequest,
    host_label: &str,
    items: Vec<UploadItem>,
    reporter: &Reporter,
) -> anyhow::Result<(Vec<UploadItem>, Vec<String>)> {
    let Some(key) = args.committed_manifest.as_deref() else {
        return Ok((items, Vec::new()));
    };
    let manifest = super::read_manifest(store, key, || {
        format!("the backup this incremental goes into has no manifest at {key}: refusing to guess what it holds")
    })
    .await?;
    let entries = engine::records::host_entries(store, &manifest, host_label, None).await?;
    let committed = Committed::from_entries(entries.iter());
    // Hashing candidates reads files: off the async threads.
    let plan = tokio::task::spawn_blocking(move || incremental::plan(items, &committed))
        .await
        .context("the incremental planner panicked")?;
    let mut ids = Vec::with_capacity(plan.in_backup.len());
    for found in plan.in_backup {
        ids.push(found.source_id.clone());
        reporter.emit(Message::InBackup {
            path: found.path,
            source_id: found.source_id,
            matches: found.matches,
        });
    }
    Ok((plan.upload, ids))
}

/// Held for the whole run: two node-push runs uploading to the same destination on one node (a cron job
/// and an operator's run into the same backup) would pick the same variant keys and overwrite each
/// other's objects before either commits. The second one stops instead. `None` for plain `--dir` runs.
pub(super) fn lock_destination(
    args: &UploadRequest,
    data_dirs: &[PathBuf],
) -> anyhow::Result<Option<fs_err::File>> {
    if data_dirs.is_empty() {
        return Ok(None);
    }
    let locks = streams::state_dir(args.state_dir.as_deref(), data_dirs)?.join("locks");
    fs_err::create_dir_all(&locks)?;
    let dest = args.store.url.clone();
    let name = contract::stream::stream_id(&dest, "", "upload");
    let file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(locks.join(name))?;
    match file.file().try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another node-push is uploading to {dest} on this node: not running two at once"
        ),
        Err(std::fs::TryLockError::Error(error)) => Err(error.into()),
    }
}

/// A standalone run with `--delete-after-upload` is a stream of its own: its destination and selection.
/// Its verified uploads are its commit; links go only when every stream covering them has them.
pub(super) fn commit_standalone(
    args: &UploadRequest,
    data_dirs: &[PathBuf],
    source_ids: Vec<String>,
) -> anyhow::Result<StreamAnswer> {
    let dest = args.store.url.clone();
    let selection = format!(
        "keyspaces {:?}; table {:?}; except {:?}",
        args.keyspaces, args.table, args.exclude_tables
    );
    let spec = StreamSpec {
        id: contract::stream::stream_id(&dest, "", &selection),
        label: format!("node-push {dest} ({selection})"),
        keyspaces: args.keyspaces.clone(),
        table: args.table.clone(),
        exclude_tables: args.exclude_tables.clone(),
    };
    let request = StreamRequest {
        version: contract::stream::STREAM_REQUEST_VERSION,
        stream: spec,
        // Standalone runs have no backup name: the destination is the backup.
        action: StreamAction::Commit {
            backup: dest,
            source_ids,
        },
        expire_after_days: contract::stream::DEFAULT_EXPIRE_AFTER_DAYS,
    };
    let state_dir = streams::state_dir(args.state_dir.as_deref(), data_dirs)?;
    streams::run(&request, data_dirs, &state_dir)
}

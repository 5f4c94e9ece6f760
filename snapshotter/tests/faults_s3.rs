//! S3 faults under node-push, through the fault proxy in front of a real SeaweedFS: 500s and 503 SlowDown
//! on some requests, connections reset in the middle of a part, truncated and stalled answers. Each
//! backup either completes through retries with every object verified, or fails naming the file; in both
//! cases no multipart upload is left open. Then the store dies in the middle of a run: the run ends
//! quickly, and the next run resumes, sending nothing that was already stored.
//!
//! node-push runs as the real binary (`cargo build -p node-push` first; `cargo xtask test` does it), with
//! `NODE_PUSH_RETRY_BASE_MS=1` so that retries cost no time; the stalled answers need a short request
//! time limit, so that test drives the pipeline in-process.

mod faults;

use anyhow::{ensure, Result};
use contract::message::Message;
use faults::{upload_args, write_random, BinaryCopy, DirectStore, NodePushRun};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use testkit::fault_proxy::{Fault, FaultProxy, Operation, Rule};
use testkit::seaweed::SeaweedFs;

const BUCKET: &str = "faults";
const FAST_RETRIES: (&str, &str) = ("NODE_PUSH_RETRY_BASE_MS", "1");
/// No run of these tests takes nearly this long; a hung one is killed and fails.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// Source files: three multipart-sized ones (5 MiB parts) and five small ones, by name.
fn write_sources(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for (name, len, seed) in [
        ("big-a.db", 12 << 20, 1),
        ("big-b.db", 11 << 20, 2),
        ("big-c.db", 6 << 20, 3),
        ("small-1.db", 200_000, 4),
        ("small-2.db", 150_000, 5),
        ("small-3.db", 90_000, 6),
        ("small-4.db", 70_000, 7),
        ("small-5.db", 10, 8),
    ] {
        write_random(&dir.join(name), len, seed)?;
        files.insert(name.to_string(), fs_err::read(dir.join(name))?);
    }
    Ok(files)
}

#[test]
fn transient_faults_on_every_kind_of_request_are_retried_and_every_object_verified() -> Result<()> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let proxy = FaultProxy::start(&weed.endpoint)?;
    let direct = DirectStore::connect(&weed, BUCKET)?;
    let node_push = BinaryCopy::of("node-push")?;
    let tmp = tempfile::tempdir()?;
    let sources = write_sources(tmp.path())?;

    let rules = [
        // A 500 on the second part of one file, a reset in the middle of the first part of another.
        (
            "500 on a part",
            proxy.add(
                Rule::new(Fault::INTERNAL_ERROR)
                    .on(Operation::UploadPart)
                    .key_containing("big-a")
                    .after(1),
            ),
            1,
        ),
        (
            "reset mid-part",
            proxy.add(
                Rule::new(Fault::ResetMidBody)
                    .on(Operation::UploadPart)
                    .key_containing("big-b"),
            ),
            1,
        ),
        // The server completes the upload, the answer is cut short: the retry finds the upload gone and
        // must accept the object by its ETag.
        (
            "truncated completion",
            proxy.add(
                Rule::new(Fault::Truncate)
                    .on(Operation::CompleteMultipart)
                    .key_containing("big-b"),
            ),
            1,
        ),
        // The server starts an upload whose id the client never learns: it must not stay open.
        (
            "truncated initiation",
            proxy.add(
                Rule::new(Fault::Truncate)
                    .on(Operation::CreateMultipart)
                    .key_containing("big-c"),
            ),
            1,
        ),
        (
            "503 SlowDown twice",
            proxy.add(
                Rule::new(Fault::SLOW_DOWN)
                    .on(Operation::PutObject)
                    .key_containing("small-1")
                    .times(2),
            ),
            2,
        ),
        (
            "truncated PUT answer",
            proxy.add(
                Rule::new(Fault::Truncate)
                    .on(Operation::PutObject)
                    .key_containing("small-2"),
            ),
            1,
        ),
        (
            "reset mid-PUT",
            proxy.add(
                Rule::new(Fault::ResetMidBody)
                    .on(Operation::PutObject)
                    .key_containing("small-3"),
            ),
            1,
        ),
        (
            "truncated HEAD",
            proxy.add(
                Rule::new(Fault::Truncate)
                    .on(Operation::Head)
                    .key_containing("small-4"),
            ),
            1,
        ),
        // The first listing is node-push's bucket check when it connects (not retried: a failure there
        // is fatal); the second is its survey of what is already stored.
        (
            "500 on the listing",
            proxy.add(
                Rule::new(Fault::INTERNAL_ERROR)
                    .on(Operation::List)
                    .after(1),
            ),
            1,
        ),
    ];

    let run = NodePushRun::start(
        &node_push.path,
        &upload_args(
            tmp.path(),
            BUCKET,
            "transient",
            &proxy.endpoint,
            &["--part-size-mib", "5", "--concurrency", "3"],
        ),
        &weed.credentials_line(),
        &[FAST_RETRIES],
    )?
    .finish(RUN_LIMIT)?;
    testkit::log!("{}", run.stderr);
    ensure!(run.code == Some(0), "node-push failed: {}", run.stderr);
    let summary = run.summary();
    assert_eq!(
        (summary.files_done, summary.files_failed),
        (sources.len() as u64, 0)
    );
    for (what, id, times) in rules {
        assert_eq!(proxy.applied(id), times, "{what}: not applied as asked");
    }
    let uploaded = run.uploaded();
    assert_eq!(uploaded.len(), sources.len());
    for (name, entry) in &uploaded {
        direct.check_restores_to(entry, &sources[name])?;
    }
    assert!(
        uploaded["big-a.db"].etag.ends_with("-3"),
        "big-a went up in three parts: {}",
        uploaded["big-a.db"].etag
    );
    assert_eq!(
        direct.open_uploads("transient/")?,
        0,
        "a multipart upload was left open"
    );
    assert_eq!(direct.objects("transient/")?.len(), sources.len());
    Ok(())
}

#[test]
fn a_part_that_always_fails_fails_its_file_by_name_and_leaves_no_upload_open() -> Result<()> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let proxy = FaultProxy::start(&weed.endpoint)?;
    let direct = DirectStore::connect(&weed, BUCKET)?;
    let node_push = BinaryCopy::of("node-push")?;
    let tmp = tempfile::tempdir()?;
    let sources = write_sources(tmp.path())?;
    let always = proxy.add(
        Rule::new(Fault::INTERNAL_ERROR)
            .on(Operation::UploadPart)
            .key_containing("big-b")
            .after(1)
            .always(),
    );
    let run = NodePushRun::start(
        &node_push.path,
        &upload_args(
            tmp.path(),
            BUCKET,
            "persistent",
            &proxy.endpoint,
            &["--part-size-mib", "5"],
        ),
        &weed.credentials_line(),
        &[FAST_RETRIES],
    )?
    .finish(RUN_LIMIT)?;
    testkit::log!("{}", run.stderr);
    assert_eq!(run.code, Some(1), "one file failed: exit code 1");
    let failed = run.failed();
    assert_eq!(failed.keys().collect::<Vec<_>>(), ["big-b.db"]);
    let error = &failed["big-b.db"];
    assert!(
        error.contains("persistent/big-b.db.lzo") && error.contains("HTTP 500"),
        "the error names the object and the answer: {error}"
    );
    assert!(
        run.stderr.contains("big-b.db"),
        "stderr names the file: {}",
        run.stderr
    );
    // Every attempt (the default policy's six) hit the failing part.
    assert_eq!(proxy.applied(always), 6);
    assert_eq!(run.uploaded().len(), sources.len() - 1);
    assert_eq!(run.summary().files_failed, 1);
    let stored = direct.objects("persistent/")?;
    assert!(!stored.contains_key("persistent/big-b.db.lzo"));
    assert_eq!(stored.len(), sources.len() - 1);
    assert_eq!(
        direct.open_uploads("persistent/")?,
        0,
        "the failed upload was not aborted"
    );
    Ok(())
}

#[test]
fn stalled_answers_time_out_and_are_retried() -> Result<()> {
    use engine::ratelimit::RateLimiter;
    use engine::store::s3::S3Store;
    use engine::upload::{compression_pool, Context, Pipeline, PipelineConfig, Reporter};
    use std::sync::Arc;

    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let proxy = FaultProxy::start(&weed.endpoint)?;
    let direct = DirectStore::connect(&weed, BUCKET)?;
    let tmp = tempfile::tempdir()?;
    let sources = write_sources(tmp.path())?;
    let stalls = [
        proxy.add(
            Rule::new(Fault::Stall)
                .on(Operation::PutObject)
                .key_containing("small-2"),
        ),
        proxy.add(
            Rule::new(Fault::Stall)
                .on(Operation::CompleteMultipart)
                .key_containing("big-c"),
        ),
        proxy.add(
            Rule::new(Fault::Stall)
                .on(Operation::Head)
                .key_containing("small-5"),
        ),
    ];
    let items = node_push::agent::plan(&contract::request::UploadRequest {
        dir: Some(tmp.path().to_path_buf()),
        ..contract::request::UploadRequest::new(contract::request::StoreRequest::new(format!(
            "s3://{BUCKET}/stalled"
        )))
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let reporter = Reporter::collector();
    let started = std::time::Instant::now();
    let summary = runtime.block_on(async {
        let mut config = weed.s3_config_via(BUCKET, &proxy.endpoint);
        // A stalled answer is cut off after this long (plus a second per 64 KiB sent).
        config.timeout = Duration::from_secs(3);
        let store = S3Store::connect(config).await?;
        let (_keep_open, cancel) = tokio::sync::watch::channel(false);
        let mut pipeline = PipelineConfig {
            part_size: 5 << 20,
            ..PipelineConfig::default()
        };
        pipeline.retry.base_delay = Duration::from_millis(1);
        let ctx = Context::new(
            Arc::new(store),
            pipeline,
            compression_pool(1)?,
            RateLimiter::unlimited(),
            reporter.clone(),
            cancel,
        );
        anyhow::Ok(Pipeline::new(ctx).run(items).await)
    })?;
    testkit::log!("stalled run took {:?}", started.elapsed());
    assert_eq!(
        (summary.files_done, summary.files_failed),
        (sources.len() as u64, 0)
    );
    for stall in stalls {
        assert_eq!(proxy.applied(stall), 1);
    }
    for message in reporter.collected() {
        if let Message::FileDone { entry } = message {
            let name = faults::file_name(&entry.source_path);
            direct.check_restores_to(&entry, &sources[&name])?;
        }
    }
    assert_eq!(direct.open_uploads("stalled/")?, 0);
    Ok(())
}

#[test]
fn a_dead_store_ends_the_run_quickly_and_the_next_run_resends_nothing_already_stored() -> Result<()>
{
    use contract::message::Message;
    let mut weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let node_push = BinaryCopy::of("node-push")?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    // Uploaded one at a time in name order: the a- files, then the big one (killed), then the z- files.
    let mut names = Vec::new();
    for i in 1..=6 {
        names.push((format!("a-{i:02}.db"), 300_000, i));
        names.push((format!("z-{i:02}.db"), 200_000, 100 + i));
    }
    names.push(("m-big.db".to_string(), 12 << 20, 50));
    for (name, len, seed) in &names {
        write_random(&dir.join(name), *len, *seed)?;
    }
    let args = |endpoint: &str, extra: &[&str]| {
        let mut all = vec!["--part-size-mib", "5", "--concurrency", "1"];
        all.extend_from_slice(extra);
        upload_args(dir, BUCKET, "resume", endpoint, &all)
    };

    // Run 1, slowed down; the store dies while the big file is on its way.
    let mut first = NodePushRun::start(
        &node_push.path,
        &args(&weed.endpoint, &["--rate-limit", "1500"]),
        &weed.credentials_line(),
        &[FAST_RETRIES],
    )?;
    first.wait_for(
        Duration::from_secs(60),
        |m| matches!(m, Message::FileStarted { path, .. } if path.ends_with("m-big.db")),
    )?;
    // The store dies with the big file's multipart upload open.
    let watcher = DirectStore::connect(&weed, BUCKET)?;
    testkit::wait::until(
        "the big file's multipart upload is open",
        Duration::from_secs(60),
        || matches!(watcher.open_uploads("resume/"), Ok(1)),
    )?;
    weed.kill();
    let killed_at = std::time::Instant::now();
    let first = first.finish(RUN_LIMIT)?;
    let stopped_after = killed_at.elapsed();
    testkit::log!(
        "run 1 ended {stopped_after:?} after the store died:\n{}",
        first.stderr
    );
    assert_eq!(first.code, Some(1));
    assert!(
        stopped_after < Duration::from_secs(60),
        "a dead store must end the run quickly, not after every file's retries: {stopped_after:?}"
    );
    let failed = first.failed();
    assert!(failed.contains_key("m-big.db"), "{failed:?}");
    assert!(
        failed
            .values()
            .any(|e| e.contains("files in a row failed on the store, which no longer answers")),
        "{failed:?}"
    );
    let done_before: Vec<String> = first.uploaded().into_keys().collect();
    assert_eq!(
        done_before,
        (1..=6).map(|i| format!("a-{i:02}.db")).collect::<Vec<_>>()
    );

    weed.restart()?;
    let direct = DirectStore::connect(&weed, BUCKET)?;
    let stored_before = direct.objects("resume/")?;
    assert_eq!(stored_before.len(), 6, "{stored_before:?}");
    assert_eq!(
        direct.open_uploads("resume/")?,
        1,
        "the dead store could not be told to abort the big file's upload"
    );
    // One stored file changes before the next run: its object no longer matches and must go up again.
    write_random(&dir.join("a-03.db"), 300_000, 999)?;

    let proxy = FaultProxy::start(&weed.endpoint)?;
    let second = NodePushRun::start(
        &node_push.path,
        &args(&proxy.endpoint, &[]),
        &weed.credentials_line(),
        &[FAST_RETRIES],
    )?
    .finish(RUN_LIMIT)?;
    testkit::log!("run 2:\n{}", second.stderr);
    ensure!(
        second.code == Some(0),
        "the resumed run failed: {}",
        second.stderr
    );
    let skipped = second.already_stored();
    let expected_skipped: Vec<String> = [1, 2, 4, 5, 6]
        .iter()
        .map(|i| format!("a-{i:02}.db"))
        .collect();
    assert_eq!(
        skipped.keys().cloned().collect::<Vec<_>>(),
        expected_skipped
    );
    let mut not_resent = 0;
    for (name, entry) in &skipped {
        let before = &stored_before[&entry.key];
        assert_eq!(
            (entry.etag.as_str(), entry.compressed_size),
            (before.etag.as_str(), before.size)
        );
        direct.check_restores_to(entry, &fs_err::read(dir.join(name))?)?;
        not_resent += entry.size;
    }
    let summary = second.summary();
    assert_eq!(summary.bytes_not_resent, not_resent);
    assert_eq!(summary.bytes_not_resent, 5 * 300_000);
    assert_eq!(
        (
            summary.files_done,
            summary.files_skipped,
            summary.files_failed
        ),
        (8, 5, 0)
    );
    let uploaded = second.uploaded();
    assert!(uploaded.contains_key("a-03.db") && uploaded.contains_key("m-big.db"));
    for (name, entry) in &uploaded {
        direct.check_restores_to(entry, &fs_err::read(dir.join(name))?)?;
    }
    // Nothing already stored was sent again; the big file's leftover upload was aborted.
    let skipped_keys: Vec<&str> = skipped.values().map(|e| e.key.as_str()).collect();
    let requests = proxy.requests();
    let resent: Vec<_> = requests
        .iter()
        .filter(|r| r.operation.writes_data() && skipped_keys.contains(&r.key.as_str()))
        .collect();
    assert!(resent.is_empty(), "sent again: {resent:?}");
    assert!(requests
        .iter()
        .any(|r| r.operation == Operation::AbortMultipart && r.key.ends_with("m-big.db.lzo")));
    assert_eq!(direct.open_uploads("resume/")?, 0);
    Ok(())
}

//! The SSH connection to a node drops in the middle of an upload: node-push on the node sees its stdin
//! close, stops, aborts its multipart upload and exits. Both ends are cut: the local ssh client killed,
//! and the node's sshd session process killed. Real sshd, real ssh, node-push uploading a multipart-sized
//! file to a real SeaweedFS, slowed down so that the upload is open when the connection goes.

mod faults;

use anyhow::{ensure, Context, Result};
use faults::coordinator::{args_of, kill_process, parent_of, processes, wait_until};
use faults::{write_random, BinaryCopy, DirectStore};
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use testkit::seaweed::SeaweedFs;
use testkit::sshd::{HostSpec, SshCluster};

const BUCKET: &str = "ssh.drop";

/// Which end of the connection is cut.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// The ssh client on the coordinator's side.
    Client,
    /// The sshd process serving the session on the node.
    ServerSession,
}

struct Setup {
    weed: SeaweedFs,
    direct: DirectStore,
    hosts: SshCluster,
    node_push: BinaryCopy,
    data: tempfile::TempDir,
    _node_dir: tempfile::TempDir,
}

fn setup() -> Result<Setup> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let direct = DirectStore::connect(&weed, BUCKET)?;
    let node_dir = tempfile::tempdir()?;
    fs_err::create_dir_all(node_dir.path().join("bin"))?;
    // An address of its own, away from the rings (127.0.0.2-4) and the load test's hosts.
    let hosts = SshCluster::start(&[HostSpec::new(
        "dropped",
        Ipv4Addr::new(127, 0, 0, 40),
        node_dir.path(),
    )])?;
    let data = tempfile::tempdir()?;
    write_random(&data.path().join("big-Data.db"), 16 << 20, 7)?;
    Ok(Setup {
        weed,
        direct,
        hosts,
        node_push: BinaryCopy::of("node-push")?,
        data,
        _node_dir: node_dir,
    })
}

/// `ssh dropped node-push upload ...`, 256 KiB/s, credentials on stdin, stdin kept open.
fn start_upload(setup: &Setup, prefix: &str) -> Result<Child> {
    let remote = format!(
        "{} upload --dir {} --dest s3://{BUCKET}/{prefix} --endpoint {} --credentials-stdin \
         --watch-stdin --part-size-mib 5 --rate-limit 256 --host-label dropped",
        setup.node_push.path.display(),
        setup.data.path().display(),
        setup.weed.endpoint
    );
    let mut child = setup
        .hosts
        .ssh_command(0)
        .arg(remote)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let stdin = child.stdin.as_mut().context("stdin")?;
    writeln!(stdin, "{}", setup.weed.credentials_line())?;
    stdin.flush()?;
    Ok(child)
}

/// node-push processes of this test (by its private binary's path).
fn node_push_pids(setup: &Setup) -> Vec<u32> {
    let ours = setup.node_push.path.display().to_string();
    processes()
        .into_iter()
        .filter(|(_, args)| args.starts_with(&ours))
        .map(|(pid, _)| pid)
        .collect()
}

fn drop_connection_mid_upload(cut: Cut) -> Result<()> {
    let setup = setup()?;
    let prefix = format!("{cut:?}").to_lowercase();
    let mut ssh = start_upload(&setup, &prefix)?;
    // The upload is open and its first part on its way.
    let open = wait_until(Duration::from_secs(60), || {
        setup
            .direct
            .open_uploads(&format!("{prefix}/"))
            .unwrap_or(0)
            == 1
    });
    ensure!(open, "the multipart upload never started");
    let node_push =
        testkit::wait::until_some("node-push runs once", Duration::from_secs(30), || {
            Some(node_push_pids(&setup)).filter(|pids| pids.len() == 1)
        })?;
    match cut {
        Cut::Client => {
            ssh.kill()?;
            ssh.wait()?;
        }
        Cut::ServerSession => {
            // node-push's ancestors on the node: its shell, then the sshd process of this session.
            let mut pid = node_push[0];
            let session = loop {
                pid = parent_of(pid).context("sshd session not found")?;
                if args_of(pid).starts_with("sshd") {
                    break pid;
                }
            };
            testkit::log!("killing the sshd session {session}: {}", args_of(session));
            kill_process(session)?;
            let status = ssh.wait()?;
            assert!(!status.success(), "the client saw its connection go");
        }
    }
    let stopped = wait_until(Duration::from_secs(30), || {
        node_push_pids(&setup).is_empty()
    });
    assert!(stopped, "node-push still runs after its connection dropped");
    assert_eq!(
        setup.direct.open_uploads(&format!("{prefix}/"))?,
        0,
        "node-push did not abort its multipart upload"
    );
    assert!(
        setup.direct.objects(&format!("{prefix}/"))?.is_empty(),
        "nothing was completed"
    );
    Ok(())
}

#[test]
fn killing_the_ssh_client_stops_node_push_and_aborts_its_upload() -> Result<()> {
    drop_connection_mid_upload(Cut::Client)
}

#[test]
fn killing_the_nodes_sshd_session_stops_node_push_and_aborts_its_upload() -> Result<()> {
    drop_connection_mid_upload(Cut::ServerSession)
}

#[test]
fn node_push_without_its_connection_exits_within_seconds_even_while_rate_limited() -> Result<()> {
    // The same without ssh: stdin closes while the rate limiter holds a 5 MiB part back (20 s of
    // budget at 256 KiB/s); node-push must not wait for it.
    let setup = setup()?;
    let mut child = Command::new(&setup.node_push.path)
        .args([
            "upload",
            "--dir",
            &setup.data.path().display().to_string(),
            "--dest",
            &format!("s3://{BUCKET}/local"),
            "--endpoint",
            &setup.weed.endpoint,
            "--credentials-stdin",
            "--watch-stdin",
            "--part-size-mib",
            "5",
            "--rate-limit",
            "256",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    writeln!(
        child.stdin.as_mut().unwrap(),
        "{}",
        setup.weed.credentials_line()
    )?;
    let open = wait_until(Duration::from_secs(60), || {
        setup.direct.open_uploads("local/").unwrap_or(0) == 1
    });
    ensure!(open, "the multipart upload never started");
    let closed_at = std::time::Instant::now();
    drop(child.stdin.take());
    let exited = wait_until(Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = child.kill();
    }
    assert!(exited, "node-push still runs 10 s after its stdin closed");
    let output = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    testkit::log!(
        "stopped {:?} after stdin closed:\n{stderr}",
        closed_at.elapsed()
    );
    assert_eq!(output.status.code(), Some(3), "exit code 3: cancelled");
    assert!(stderr.contains("stdin closed"), "{stderr}");
    assert_eq!(setup.direct.open_uploads("local/")?, 0);
    Ok(())
}

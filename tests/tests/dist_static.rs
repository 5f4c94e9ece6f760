//! The release binaries of `cargo xtask dist` are what the README promises an operator: in `target/dist/`,
//! node-push for x86_64 and aarch64 as stripped static executables named by `uname -m`, the coordinator
//! beside them with both node-push builds compiled in, and a `SHA256SUMS` that `sha256sum -c` accepts.
//! Each node-push build really runs: the x86_64 one natively, the aarch64 one under qemu-user; both say
//! hello with their architecture and upload a directory to SeaweedFS, checked byte for byte after
//! downloading with the AWS CLI and decompressing with the real `lzop`.
//!
//! The release cross-build takes minutes, so these tests do not start it: `cargo xtask test` runs
//! `cargo xtask dist` first. Without `target/dist/` they fail and say so; they never skip.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{bail, ensure, Context, Result};
use serde_json::Value;
use testkit::seaweed::SeaweedFs;

const CHECKSUMS: &str = "SHA256SUMS";
const COORDINATOR: &str = "cassandra-snapshotter";
const BUCKET: &str = "dist-static";

/// A node-push build in `dist/`, and how to run it on this x86_64 machine.
#[derive(Debug, Clone, Copy)]
enum Build {
    X86_64,
    Aarch64,
}

impl Build {
    const ALL: [Build; 2] = [Build::X86_64, Build::Aarch64];

    fn uname(self) -> &'static str {
        match self {
            Build::X86_64 => "x86_64",
            Build::Aarch64 => "aarch64",
        }
    }

    fn file_name(self) -> String {
        format!("node-push-{}", self.uname())
    }

    /// How `file` names the ELF machine.
    fn file_machine(self) -> &'static str {
        match self {
            Build::X86_64 => "x86-64",
            Build::Aarch64 => "ARM aarch64",
        }
    }

    fn command(self) -> Result<Command> {
        let binary = dist_file(&self.file_name())?;
        Ok(match self {
            Build::X86_64 => Command::new(binary),
            Build::Aarch64 => {
                let mut command = Command::new(program_on_path("qemu-aarch64-static")?);
                command.arg(binary);
                command
            }
        })
    }
}

/// `<target>/dist`, where `cargo xtask dist` publishes (cargo's `$CARGO_TARGET_DIR` rule, as xtask uses).
fn dist_dir() -> Result<PathBuf> {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => testkit::workspace_root().join(dir),
        None => testkit::workspace_root().join("target"),
    };
    let dist = target.join("dist");
    ensure!(
        dist.is_dir(),
        "{} is missing: run `cargo xtask dist` (`cargo xtask test` runs it before the tests)",
        dist.display()
    );
    Ok(dist)
}

fn dist_file(name: &str) -> Result<PathBuf> {
    let path = dist_dir()?.join(name);
    ensure!(
        path.is_file(),
        "{} is missing from cargo xtask dist's output",
        path.display()
    );
    Ok(path)
}

fn program_on_path(name: &str) -> Result<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("{name} is not on PATH: run `cargo xtask setup`"))
}

fn run(command: &mut Command) -> Result<Output> {
    let shown = format!("{command:?}");
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {shown}"))?;
    ensure!(
        output.status.success(),
        "{shown} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(output)
}

fn file_says(path: &Path) -> Result<String> {
    let output = run(Command::new("file").arg("-b").arg(path))?;
    Ok(String::from_utf8(output.stdout)?.trim().to_string())
}

#[test]
fn dist_holds_stripped_static_binaries_and_their_checksums() -> Result<()> {
    let dist = dist_dir()?;
    let mut expected: BTreeSet<String> = Build::ALL.iter().map(|build| build.file_name()).collect();
    expected.insert(COORDINATOR.to_string());
    let mut listed = expected.clone();
    listed.insert(CHECKSUMS.to_string());
    let present: BTreeSet<String> = fs_err::read_dir(&dist)?
        .map(|entry| entry.map(|entry| entry.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    assert_eq!(present, listed, "files in {}", dist.display());

    let mut machines: Vec<(String, &str)> = Build::ALL
        .iter()
        .map(|build| (build.file_name(), build.file_machine()))
        .collect();
    // The coordinator is built for the machine that ran dist, this one.
    let host = Build::ALL
        .into_iter()
        .find(|build| build.uname() == std::env::consts::ARCH)
        .context("dist builds for x86_64 and aarch64 machines only")?;
    machines.push((COORDINATOR.to_string(), host.file_machine()));
    for (name, machine) in machines {
        let says = file_says(&dist.join(&name))?;
        assert!(
            says.contains("statically linked") || says.contains("static-pie linked"),
            "{name} is not static: {says}"
        );
        assert!(
            says.contains(", stripped"),
            "{name} is not stripped: {says}"
        );
        assert!(
            says.contains(machine),
            "{name} is not for {machine}: {says}"
        );
    }

    let sums = fs_err::read_to_string(dist.join(CHECKSUMS))?;
    let summed: BTreeSet<String> = sums
        .lines()
        .map(|line| {
            line.split_once("  ")
                .map(|(_, name)| name.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(summed, expected, "names in {CHECKSUMS}: {sums}");
    // sha256sum reads every file again and compares; --strict also rejects a malformed line.
    run(Command::new("sha256sum")
        .args(["--check", "--strict", "--quiet", CHECKSUMS])
        .current_dir(&dist))?;
    Ok(())
}

#[test]
fn coordinator_runs_and_carries_both_node_push_builds() -> Result<()> {
    let coordinator = dist_file(COORDINATOR)?;
    let output = run(Command::new(&coordinator).arg("--version"))?;
    let version = String::from_utf8(output.stdout)?;
    assert_eq!(
        version.trim(),
        format!("{COORDINATOR} {}", env!("CARGO_PKG_VERSION"))
    );
    // Embedded with include_bytes!, each build sits in the coordinator byte for byte.
    let coordinator_bytes = fs_err::read(&coordinator)?;
    for build in Build::ALL {
        let node_push = fs_err::read(dist_file(&build.file_name())?)?;
        assert!(
            contains(&coordinator_bytes, &node_push),
            "{COORDINATOR} does not embed {} (built with the embed-node-push feature?)",
            build.file_name()
        );
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some(first) = needle.first() else {
        return true;
    };
    haystack.len() >= needle.len()
        && (0..=haystack.len() - needle.len()).any(|start| {
            haystack[start] == *first && haystack[start..start + needle.len()] == *needle
        })
}

fn says_hello_with_its_arch(build: Build) -> Result<()> {
    let output = run(build.command()?.arg("hello"))?;
    let stdout = String::from_utf8(output.stdout)?;
    let lines: Vec<&str> = stdout.lines().collect();
    ensure!(
        lines.len() == 1,
        "{} printed {} lines: {stdout}",
        build.file_name(),
        lines.len()
    );
    let hello: Value = serde_json::from_str(lines[0])?;
    assert_eq!(hello["type"], "hello", "{stdout}");
    assert_eq!(hello["arch"], build.uname(), "{stdout}");
    assert_eq!(hello["tool_version"], env!("CARGO_PKG_VERSION"), "{stdout}");
    assert!(
        hello["protocol"]
            .as_u64()
            .is_some_and(|protocol| protocol >= 1),
        "{stdout}"
    );
    Ok(())
}

#[test]
fn node_push_x86_64_says_hello_natively() -> Result<()> {
    says_hello_with_its_arch(Build::X86_64)
}

#[test]
fn node_push_aarch64_says_hello_under_qemu() -> Result<()> {
    says_hello_with_its_arch(Build::Aarch64)
}

/// Files of several shapes: a 12 MiB one (multipart with 5 MiB parts; half incompressible, half text),
/// a small one, an empty one, one two directories down.
fn write_upload_tree(root: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut noise = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    let mut big = noise(6 << 20);
    let line = b"keyspace=ks table=users row=0123456789 value=the quick brown fox\n";
    while big.len() < 12 << 20 {
        big.extend_from_slice(line);
    }
    let files = vec![
        ("big.bin".to_string(), big),
        (
            "small.txt".to_string(),
            b"hello from a static build\n".to_vec(),
        ),
        ("empty".to_string(), Vec::new()),
        ("nested/deeper/noise.bin".to_string(), noise(300_000)),
    ];
    for (name, bytes) in &files {
        let path = root.join(name);
        fs_err::create_dir_all(path.parent().expect("under root"))?;
        fs_err::write(path, bytes)?;
    }
    Ok(files)
}

/// Runs node-push upload with the credentials line on stdin, keeping stdin open until it exits (node-push
/// stops when stdin closes, as when the coordinator's SSH session drops).
fn upload(build: Build, source: &Path, weed: &SeaweedFs) -> Result<(Vec<Value>, String)> {
    let dest = format!("s3://{BUCKET}/{}", build.uname());
    let mut child = build
        .command()?
        .args(["upload", "--dir"])
        .arg(source)
        .args([
            "--dest",
            &dest,
            "--endpoint",
            &weed.endpoint,
            "--region",
            weed.region(),
        ])
        .args(["--credentials-stdin", "--part-size-mib", "5"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let credentials = serde_json::json!({
        "aws_access_key_id": weed.access_key(),
        "aws_secret_access_key": weed.secret_key(),
    });
    let mut stdin = child.stdin.take().expect("piped");
    writeln!(stdin, "{credentials}")?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    let mut out = String::new();
    stdout.read_to_string(&mut out)?;
    let status = child.wait()?;
    drop(stdin);
    let err = stderr_reader.join().expect("stderr reader")?;
    ensure!(
        status.success(),
        "{} upload failed ({status}): {err}",
        build.file_name()
    );
    assert!(!err.contains(weed.secret_key()), "secret key on stderr");
    let messages = out
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<Value>, _>>()?;
    Ok((messages, err))
}

fn uploads_to_seaweedfs(build: Build) -> Result<()> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let scratch = tempfile::tempdir()?;
    let source = scratch.path().join("source");
    let files = write_upload_tree(&source)?;
    let (messages, stderr) = upload(build, &source, &weed)?;

    let summary = messages
        .iter()
        .find(|message| message["type"] == "summary")
        .with_context(|| format!("no summary: {messages:?}\nstderr: {stderr}"))?;
    assert_eq!(
        summary["files_done"],
        files.len() as u64,
        "{summary}\nstderr: {stderr}"
    );
    assert_eq!(summary["files_failed"], 0, "{summary}");
    let reported: BTreeSet<String> = messages
        .iter()
        .filter(|message| message["type"] == "file_done")
        .map(|message| {
            message["entry"]["key"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let expected: BTreeSet<String> = files
        .iter()
        .map(|(name, _)| format!("{}/{name}.lzo", build.uname()))
        .collect();
    assert_eq!(reported, expected, "keys reported uploaded");

    // Downloaded with another S3 client and decompressed with the real lzop: the objects are what a
    // restore with the old tool would read.
    let download = scratch.path().join("download");
    let aws = testkit::stack_dir().join("venv/bin/aws");
    ensure!(
        aws.is_file(),
        "{} is missing: run `cargo xtask setup`",
        aws.display()
    );
    run(Command::new(&aws)
        .envs(weed.aws_env())
        .args([
            "--endpoint-url",
            &weed.endpoint,
            "s3",
            "cp",
            "--recursive",
            "--only-show-errors",
        ])
        .arg(format!("s3://{BUCKET}/{}/", build.uname()))
        .arg(&download))?;
    for (name, bytes) in &files {
        let object = download.join(format!("{name}.lzo"));
        let decoded = run(Command::new("lzop").args(["-d", "-c"]).arg(&object))?.stdout;
        if decoded != *bytes {
            bail!(
                "{name} came back different from {}: {} bytes, expected {}",
                object.display(),
                decoded.len(),
                bytes.len()
            );
        }
    }
    Ok(())
}

#[test]
fn node_push_x86_64_uploads_to_seaweedfs() -> Result<()> {
    uploads_to_seaweedfs(Build::X86_64)
}

#[test]
fn node_push_aarch64_uploads_to_seaweedfs_under_qemu() -> Result<()> {
    uploads_to_seaweedfs(Build::Aarch64)
}

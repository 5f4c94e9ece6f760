//! `backup --backup-schema` and `restore --schema` against scripted Cassandra 4.0 and 5.0 nodes: real sshd
//! hosts (127.0.0.90-93) with generated data trees, a `nodetool` stand-in and a `cqlsh` stand-in that
//! answers as cqlsh 6.2 from PyPI does against such a server: its real version warning (the format
//! string is read from the installed `cqlshlib/cqlshmain.py`, `cargo xtask setup` installs it), then the
//! server-side `DESCRIBE` rows. No CQL server runs here (the real ring is Cassandra 1.2).
//!
//! 1. The stored `schema_ks1.cql` is the CQL without the warning.
//! 2. `restore --schema --mode stage --host-map` onto an empty node: its cqlsh receives exactly the
//!    backup's CREATE statements; a second run is refused naming the tables, and nothing is sent.
//! 3. A cqlsh that prints no CQL (cqlsh 6.2 against 3.11 prints only a warning for DESCRIBE) fails the
//!    backup with one line naming host and keyspace; no schema object is stored.

use anyhow::{ensure, Context, Result};
use contract::layout;
use engine::store::s3::S3Store;
use engine::store::ObjectStore;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use testkit::seaweed::SeaweedFs;
use testkit::sshd::{HostSpec, SshCluster};
use testkit::tree::{write_tree, Layout, Placement, TreeSpec};

const BUCKET: &str = "schema";
const BASE: &str = "scripted";

/// nodetool of a scripted node: `__DATA__` is its data dir, `__VERSION__` its release.
const NODETOOL: &str = r#"#!/bin/sh
data='__DATA__'
cmd="$1"; shift
case "$cmd" in
  version) echo "ReleaseVersion: __VERSION__" ;;
  flush) ;;
  ring)
    if [ -f "$data/../ring.txt" ]; then cat "$data/../ring.txt"; exit 0; fi
    printf 'Datacenter: dc1\n==========\nAddress    Rack Status State  Load  Owns  Token\n127.0.0.1  r1   Up     Normal 1 KiB 100%%  0\n' ;;
  snapshot)
    tag=; keyspaces=
    while [ $# -gt 0 ]; do
      case "$1" in
        -t) tag="$2"; shift 2 ;;
        -cf|--table|-kt) shift 2 ;;
        -*) shift ;;
        *) keyspaces="$keyspaces $1"; shift ;;
      esac
    done
    [ -n "$keyspaces" ] || keyspaces=$(ls "$data")
    for ks in $keyspaces; do
      for dir in "$data/$ks"/*/; do
        dir=${dir%/}
        mkdir -p "$dir/snapshots/$tag"
        for f in "$dir"/*; do [ -f "$f" ] && ln "$f" "$dir/snapshots/$tag/"; done
      done
    done
    echo "Requested creating snapshot(s) for [$keyspaces] with snapshot name [$tag] and options {skipFlush=false}"
    echo "Snapshot directory: $tag" ;;
  clearsnapshot)
    while [ $# -gt 0 ]; do [ "$1" = "-t" ] && rm -rf "$data"/*/*/snapshots/"$2"; shift; done ;;
  listsnapshots) echo "Snapshot Details: "; echo "There are no snapshots" ;;
  *) echo "nodetool stand-in: $cmd is not supported" >&2; exit 1 ;;
esac
"#;

/// cqlsh of a scripted node: records each script it is given (`calls/N.cql`), prints the version warning,
/// then answers: `DESCRIBE KEYSPACE` from `describe.cql`, `DESCRIBE SCHEMA` with what was applied so far,
/// anything else is applied (appended to `applied.cql`).
const CQLSH: &str = r#"#!/bin/sh
dir='__DIR__'
f=
while [ $# -gt 0 ]; do case "$1" in -f) f="$2"; shift 2 ;; *) shift ;; esac; done
mkdir -p "$dir/calls"
n=$(ls "$dir/calls" | wc -l)
cp "$f" "$dir/calls/$((n + 1)).cql"
echo '__WARNING__'
case "$(head -n 1 "$f")" in
  'DESCRIBE KEYSPACE '*) cat "$dir/describe.cql" ;;
  'DESCRIBE SCHEMA;') [ -f "$dir/applied.cql" ] && { echo; cat "$dir/applied.cql"; } ;;
  *) cat "$f" >> "$dir/applied.cql" ;;
esac
exit 0
"#;

/// What the server-side DESCRIBE of Cassandra 4.0/5.0 returns for ks1, as cqlsh prints it.
const DESCRIBE_KS1: &str = "
CREATE KEYSPACE ks1 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}  AND durable_writes = true;

CREATE TABLE ks1.users (
    id int PRIMARY KEY,
    name text
) WITH additional_write_policy = '99p'
    AND comment = 'people; one per row'
    AND speculative_retry = '99p';

CREATE INDEX users_name_idx ON ks1.users (name);

CREATE TABLE ks1.events (
    id timeuuid PRIMARY KEY,
    what text
) WITH compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', 'max_threshold': '32', 'min_threshold': '4'};
";

/// The warning cqlsh 6.2 prints before anything else when the server is another release, rendered
/// from the format string and build version (`serverversion.py`) of the installed package.
fn cqlsh_warning(server: &str) -> Result<String> {
    let lib = testkit::stack_dir().join("venv/lib");
    let mut main = None;
    for entry in fs_err::read_dir(&lib)? {
        let candidate = entry?.path().join("site-packages/cqlshlib/cqlshmain.py");
        if candidate.is_file() {
            main = Some(candidate);
        }
    }
    let main = main.with_context(|| {
        format!(
            "no cqlshlib/cqlshmain.py under {}: run `cargo xtask setup` (it installs cqlsh from PyPI)",
            lib.display()
        )
    })?;
    let build = fs_err::read_to_string(main.with_file_name("serverversion.py"))?;
    let build = build
        .split('"')
        .nth(1)
        .context("serverversion.py has no version")?;
    let source = fs_err::read_to_string(&main)?;
    let format = source
        .lines()
        .find_map(|l| {
            let start = l.find("\"WARNING: cqlsh was built against")? + 1;
            let end = l[start..].find("\".format")? + start;
            Some(l[start..end].to_string())
        })
        .context("cqlshmain.py has no `WARNING: cqlsh was built against` line")?;
    Ok(format.replacen("{}", build, 1).replacen("{}", server, 1))
}

/// One scripted node: `bin/nodetool`, `bin/cqlsh`, `conf/cassandra.yaml`, `data/`.
fn make_node(
    dir: &Path,
    version: &str,
    layout: Layout,
    warning: &str,
    with_data: bool,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let data = dir.join("data");
    fs_err::create_dir_all(&data)?;
    if with_data {
        write_tree(
            &data,
            &TreeSpec {
                keyspaces: vec!["ks1".into()],
                tables: vec!["users".into(), "events".into()],
                with_index: false,
                data_size: 8 * 1024,
                ..TreeSpec::new(layout, Placement::Live)
            },
        )?;
    }
    fs_err::create_dir_all(dir.join("bin"))?;
    fs_err::create_dir_all(dir.join("conf"))?;
    fs_err::create_dir_all(dir.join("cqlsh"))?;
    let scripts = [
        (
            "nodetool",
            NODETOOL
                .replace("__DATA__", &data.display().to_string())
                .replace("__VERSION__", version),
        ),
        (
            "cqlsh",
            CQLSH
                .replace("__DIR__", &dir.join("cqlsh").display().to_string())
                .replace("__WARNING__", warning),
        ),
    ];
    for (name, text) in scripts {
        let path = dir.join("bin").join(name);
        fs_err::write(&path, text)?;
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    fs_err::write(dir.join("cqlsh/describe.cql"), DESCRIBE_KS1)?;
    fs_err::write(
        dir.join("conf/cassandra.yaml"),
        format!(
            "cluster_name: 'scripted'\ndata_file_directories:\n    - {}\nincremental_backups: false\n",
            data.display()
        ),
    )?;
    Ok(())
}

struct Scripted {
    weed: SeaweedFs,
    hosts: SshCluster,
    root: tempfile::TempDir,
    node_push: PathBuf,
}

impl Scripted {
    /// The coordinator with the store's and the hosts' flags: (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> Result<(Option<i32>, String, String)> {
        let out = Command::new(env!("CARGO_BIN_EXE_cassandra-snapshotter"))
            .args(["--s3-bucket-name", BUCKET, "--s3-base-path", BASE])
            .args([
                "--s3-endpoint",
                &self.weed.endpoint,
                "--s3-bucket-region",
                self.weed.region(),
            ])
            .args(args)
            .arg(format!(
                "--ssh-config={}",
                self.hosts.ssh_config_path().display()
            ))
            .arg(format!("--node-push-binary={}", self.node_push.display()))
            .env_remove("AWS_PROFILE")
            .env("XDG_CONFIG_HOME", self.root.path())
            .envs(self.weed.aws_env())
            .stdin(Stdio::null())
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        testkit::log!("--- cassandra-snapshotter {}\n{stderr}", args.join(" "));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Ok((out.status.code(), stdout, stderr))
    }

    fn object(&self, key: &str) -> Result<Option<String>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let store = runtime.block_on(S3Store::connect(self.weed.s3_config(BUCKET)))?;
        if runtime.block_on(store.head(key))?.is_none() {
            return Ok(None);
        }
        let bytes = runtime.block_on(store.get(key, None))?;
        Ok(Some(String::from_utf8(bytes.to_vec())?))
    }

    fn node_dir(&self, alias: &str) -> PathBuf {
        self.root.path().join(alias)
    }

    /// The scripts the node's cqlsh was given, in order.
    fn cqlsh_calls(&self, alias: &str) -> Result<Vec<String>> {
        let dir = self.node_dir(alias).join("cqlsh/calls");
        let mut calls = Vec::new();
        for n in 1.. {
            let path = dir.join(format!("{n}.cql"));
            if !path.is_file() {
                break;
            }
            calls.push(fs_err::read_to_string(path)?);
        }
        Ok(calls)
    }
}

/// Source node `src`, empty node `new`, and a node whose cqlsh prints no CQL, all of `version`.
fn start(version: &str, layout: Layout, first_ip: u8) -> Result<Scripted> {
    let weed = SeaweedFs::start()?;
    weed.create_bucket(BUCKET)?;
    let root = tempfile::Builder::new()
        .prefix("schema-scripted-")
        .tempdir()?;
    let warning = cqlsh_warning(version)?;
    testkit::log!("cqlsh's warning: {warning}");
    let mut specs = Vec::new();
    for (i, (alias, data)) in [("src", true), ("new", false), ("old", true)]
        .into_iter()
        .enumerate()
    {
        let dir = root.path().join(alias);
        make_node(&dir, version, layout, &warning, data)?;
        specs.push(HostSpec::new(
            alias,
            Ipv4Addr::new(127, 0, 0, first_ip + i as u8),
            dir,
        ));
    }
    // cqlsh 6.2 against a 3.11 server prints a warning instead of running DESCRIBE.
    fs_err::write(
        root.path().join("old/cqlsh/describe.cql"),
        "\nWARN: DESCRIBE|DESC was moved to server side in Cassandra 4.0. As a consequence DESCRIBE|DESC will not work in cqlsh '6.2.0' connected to Cassandra '3.11.16', the version that you are connected to. DESCRIBE does not exist server side prior Cassandra 4.0.\n",
    )?;
    let hosts = SshCluster::start_in(&root.path().join("ssh"), &specs)?;
    let node_push = root.path().join("node-push");
    fs_err::copy(testkit::workspace_bin("node-push")?, &node_push)?;
    Ok(Scripted {
        weed,
        hosts,
        root,
        node_push,
    })
}

fn backup_and_restore_schema(version: &str, layout: Layout, first_ip: u8) -> Result<()> {
    let s = start(version, layout, first_ip)?;
    let (code, stdout, stderr) = s.run(&[
        "--json",
        "backup",
        "--hosts=src",
        "--keyspaces=ks1",
        "--backup-schema",
    ])?;
    ensure!(code == Some(0), "backup failed: {stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout)?;
    let name = report["backup"]
        .as_str()
        .context("the backup's name")?
        .to_string();
    let stored = s
        .object(&layout::schema_key(BASE, &name, Some("ks1")))?
        .context("no schema_ks1.cql")?;
    assert_eq!(
        stored,
        format!("{}\n", DESCRIBE_KS1.trim()),
        "stored: {stored}"
    );
    assert!(!stored.contains("WARNING"));
    assert_eq!(s.cqlsh_calls("src")?, ["DESCRIBE KEYSPACE ks1;\n"]);

    // A new ring of three nodes whose tokens are not the backup's, RF 1: a node-by-node restore would put
    // rows where they are not read, so it is refused before anything is created.
    let ring = s.node_dir("new").join("ring.txt");
    fs_err::write(
        &ring,
        "Address    Rack Status State  Load  Owns  Token\n\
         127.0.0.1  r1   Up     Normal 1 KiB 33%   5\n\
         127.0.0.2  r1   Up     Normal 1 KiB 33%   50\n\
         127.0.0.3  r1   Up     Normal 1 KiB 33%   500\n",
    )?;
    let refused = [
        "restore",
        "--keyspace=ks1",
        "--schema",
        "--mode=refresh",
        "--host-map=src=new",
    ];
    let (code, _, stderr) = s.run(&refused)?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "replication factor 1 below 3 nodes, and the ring's tokens are not the backup's"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--mode sstableloader"), "{stderr}");
    assert_eq!(
        s.cqlsh_calls("new")?,
        ["DESCRIBE SCHEMA;\n"],
        "nothing applied"
    );
    fs_err::remove_file(&ring)?;
    fs_err::remove_dir_all(s.node_dir("new").join("cqlsh/calls"))?;

    // Onto the empty node: exactly the backup's statements reach its cqlsh.
    let restore = [
        "restore",
        "--keyspace=ks1",
        "--schema",
        "--mode=stage",
        "--host-map=src=new",
    ];
    let (code, _, stderr) = s.run(&restore)?;
    ensure!(code == Some(0), "restore --schema failed: {stderr}");
    assert!(
        stderr.contains("schema: keyspace ks1 and table(s) events, users created on new (cqlsh)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("placement: replication factor 1 with 1 node(s)"),
        "{stderr}"
    );
    let calls = s.cqlsh_calls("new")?;
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(calls[0], "DESCRIBE SCHEMA;\n");
    let statements: Vec<String> = DESCRIBE_KS1
        .trim()
        .split("\n\n")
        .map(str::to_string)
        .collect();
    assert_eq!(calls[1], statements.join("\n\n") + "\n");
    assert_eq!(calls[2], "DESCRIBE SCHEMA;\n");
    let staged = s.node_dir("new").join("data/.restore-staging").join(&name);
    assert!(staged.is_dir(), "{} missing", staged.display());

    // Again: refused before anything is applied.
    let (code, _, stderr) = s.run(&restore)?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("new: keyspace ks1 already has table events, users: restore --schema creates only missing"),
        "{stderr}"
    );
    assert_eq!(
        s.cqlsh_calls("new")?.len(),
        4,
        "only one DESCRIBE SCHEMA more"
    );

    // --schema needs a running cluster; a backup made without --backup-schema has nothing to apply.
    let (code, _, stderr) = s.run(&["restore", "--keyspace=ks1", "--schema", "--mode=in-place"])?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("--schema creates the schema through a running Cassandra, and --mode in-place needs it stopped"),
        "{stderr}"
    );
    let (code, stdout, stderr) = s.run(&[
        "--json",
        "backup",
        "--hosts=src",
        "--keyspaces=ks1",
        "--new-snapshot",
    ])?;
    ensure!(code == Some(0), "backup failed: {stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout)?;
    let plain = report["backup"].as_str().context("the backup's name")?;
    let snapshot_name = format!("--snapshot-name={plain}");
    let (code, _, stderr) = s.run(&[
        "restore",
        "--keyspace=ks1",
        "--schema",
        "--mode=stage",
        "--host-map=src=new",
        &snapshot_name,
    ])?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("backup {plain} has no schema object (schema_ks1.cql, schema_ks1.cli, schema.cql, schema.cli)")),
        "{stderr}"
    );
    assert_eq!(
        s.cqlsh_calls("new")?.len(),
        4,
        "nothing more reached the new node's cqlsh"
    );

    // Streaming: sstableloader mode applies the schema from this machine (cqlsh in --cassandra-bin-dir,
    // to the first --target-hosts node), says that rows go to their current owners, then streams.
    let laptop = s.root.path().join("laptop");
    make_node(&laptop, version, layout, &cqlsh_warning(version)?, false)?;
    let loader = laptop.join("bin/sstableloader");
    fs_err::write(
        &loader,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\n",
            laptop.join("loader.log").display()
        ),
    )?;
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(&loader, std::fs::Permissions::from_mode(0o755))?;
    let restore_dir = format!("--restore-dir={}", laptop.join("restore").display());
    let bin_dir = format!("--cassandra-bin-dir={}", laptop.join("bin").display());
    let with_schema = format!("--snapshot-name={name}");
    let (code, _, stderr) = s.run(&[
        "restore",
        "--keyspace=ks1",
        "--schema",
        &with_schema,
        "--mode=sstableloader",
        "--target-hosts=127.0.0.1",
        &restore_dir,
        &bin_dir,
    ])?;
    ensure!(
        code == Some(0),
        "restore --schema --mode sstableloader failed: {stderr}"
    );
    assert!(
        stderr.contains(
            "placement: streaming with sstableloader: each row goes to the nodes that own it now"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "schema: keyspace ks1 and table(s) events, users created on 127.0.0.1 (cqlsh)"
        ),
        "{stderr}"
    );
    let calls = {
        let dir = laptop.join("cqlsh/calls");
        let mut calls = Vec::new();
        for n in 1..=3 {
            calls.push(fs_err::read_to_string(dir.join(format!("{n}.cql")))?);
        }
        calls
    };
    assert_eq!(calls[0], "DESCRIBE SCHEMA;\n");
    assert!(calls[1].starts_with("CREATE KEYSPACE ks1"), "{}", calls[1]);
    let streamed = fs_err::read_to_string(laptop.join("loader.log"))?;
    assert_eq!(
        streamed.lines().count(),
        2,
        "one sstableloader run per table: {streamed}"
    );

    // A cqlsh that prints no CQL: the backup fails naming host and keyspace, and stores no schema.
    let (code, _, stderr) = s.run(&[
        "--json",
        "backup",
        "--hosts=old",
        "--keyspaces=ks1",
        "--backup-schema",
        "--new-snapshot",
    ])?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("old: cqlsh `DESCRIBE KEYSPACE ks1;` printed no schema for keyspace ks1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("WARN: DESCRIBE|DESC was moved to server side"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn cassandra_4_0_schema_backup_and_restore() -> Result<()> {
    backup_and_restore_schema("4.0.11", Layout::V40, 90)
}

#[test]
fn cassandra_5_0_schema_backup_and_restore() -> Result<()> {
    backup_and_restore_schema("5.0.2", Layout::V41, 94)
}

//! Validation of `backup` settings: every rejected input gets one line naming the flag.

use super::*;
use crate::cli::{Cli, Command};
use crate::nodetool::Privilege;
use clap::Parser;

fn resolve(extra: &[&str]) -> Result<BackupSettings> {
    let mut argv = vec!["x", "--s3-bucket-name=b", "--s3-base-path=/base/", "backup"];
    argv.extend_from_slice(extra);
    let cli = Cli::try_parse_from(argv).unwrap();
    match &cli.command {
        Command::Backup(args) => BackupSettings::resolve(&cli.global, args),
        _ => unreachable!(),
    }
}

#[test]
fn resolves_a_plain_backup() {
    let s = resolve(&[
        "--hosts=h1, h2",
        "--keyspaces=ks1",
        "--use-sudo",
        "--reduced-redundancy",
    ])
    .unwrap();
    assert_eq!(s.hosts, ["h1", "h2"]);
    assert_eq!(s.common.s3.base_path, "base");
    assert_eq!(s.privilege, Privilege::Sudo);
    assert_eq!(
        s.common.s3.storage_class.as_deref(),
        Some("REDUCED_REDUNDANCY")
    );
    assert_eq!(s.manifest_keyspaces(), Some(vec!["ks1".to_string()]));
    assert_eq!(s.manifest_table(), "");
}

#[test]
fn rejects_bad_input_with_the_flag_named() {
    for (args, needle) in [
        (&["--hosts=h1,h1"][..], "twice"),
        (&["--hosts=-oProxyCommand=id"][..], "invalid host"),
        (
            &["--hosts=h", "--keyspaces=ks;rm -rf /"][..],
            "invalid keyspace name",
        ),
        (&["--hosts=h", "--table=users"][..], "needs --keyspaces"),
        (
            &["--hosts=h", "--keyspaces=k", "--table=u$(id)"][..],
            "invalid table name",
        ),
        (
            &["--hosts=h", "--exclude-tables=a.b.c"][..],
            "--exclude-tables",
        ),
        (
            &["--hosts=h", "--exclude-tables=a;b"][..],
            "--exclude-tables",
        ),
        (&["--hosts=h", "--buffer-size=0"][..], "--buffer-size"),
        (
            &["--hosts=h", "--connection-pool-size=0"][..],
            "--connection-pool-size",
        ),
        (
            &["--hosts=h", "--ssh-config=/nonexistent/cfg"][..],
            "--ssh-config",
        ),
        (
            &["--hosts=h", "--nodetool-args=-pw 'open"][..],
            "--nodetool-args",
        ),
        (
            &["--hosts=h", "--s3-storage-class=X", "--reduced-redundancy"][..],
            "--reduced-redundancy",
        ),
        (&["--hosts=h", "--s3-sse-kms-key-id=k"][..], "aws:kms"),
        (
            &["--hosts=h", "--s3-endpoint=localhost:9000"][..],
            "--s3-endpoint",
        ),
    ] {
        let err = resolve(args).unwrap_err().to_string();
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn bucket_and_base_path_are_required() {
    let cli = Cli::try_parse_from(["x", "list"]).unwrap();
    let err = CommonSettings::resolve(&cli.global, false).unwrap_err();
    assert!(err.to_string().contains("--s3-bucket-name"));
    let cli = Cli::try_parse_from(["x", "--s3-bucket-name=b", "list"]).unwrap();
    let err = CommonSettings::resolve(&cli.global, false).unwrap_err();
    assert!(err.to_string().contains("--s3-base-path"));
}

#[test]
fn nodetool_args_are_split_and_kept_out_of_debug() {
    let s = resolve(&["--hosts=h", "--nodetool-args=-u jmx -pw 'a b'"]).unwrap();
    assert_eq!(s.nodetool_args, ["-u", "jmx", "-pw", "a b"]);
}

#[test]
fn backup_and_restore_check_node_access_alike() {
    let nodes = |command: &[&str], extra: &str| {
        let mut argv = vec!["x"];
        argv.extend_from_slice(command);
        argv.push(extra);
        let cli = Cli::try_parse_from(argv).unwrap();
        let args = match &cli.command {
            Command::Backup(args) => &args.nodes,
            Command::Restore(args) => &args.nodes,
            _ => unreachable!(),
        };
        NodeAccessSettings::resolve(args).map_err(|e| e.to_string())
    };
    for (extra, needle) in [
        ("--connection-pool-size=0", "--connection-pool-size"),
        ("--sshkey=/nonexistent/key", "--sshkey"),
        ("--ssh-config=/nonexistent/cfg", "--ssh-config"),
        ("--nodetool-args=-pw 'open", "--nodetool-args"),
        ("--node-push-path=", "--node-push-path"),
    ] {
        let backup = nodes(&["backup", "--hosts=h"], extra).unwrap_err();
        let restore = nodes(&["restore", "--keyspace=ks"], extra).unwrap_err();
        assert!(backup.contains(needle), "{extra}: {backup}");
        assert_eq!(backup, restore, "{extra}");
    }
    let ok = nodes(&["restore", "--keyspace=ks"], "--use-sudo").unwrap();
    assert_eq!(ok.privilege, Privilege::Sudo);
    assert_eq!(ok.pool_size, 12);
    assert_eq!(ok.ssh.connect_timeout, 15);
}

//! Parsing tests: every flag of the old tool, in the old tool's positions, plus the new ones.

use super::*;
use clap::CommandFactory;

fn parse(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("cassandra-snapshotter").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn backup(cli: &Cli) -> &BackupArgs {
    match &cli.command {
        Command::Backup(args) => args,
        other => panic!("not backup: {other:?}"),
    }
}

#[test]
fn clap_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn every_seed_flag_parses_in_the_old_positions() {
    let cli = parse(&[
        "-v",
        "--aws-access-key-id=AKIAEXAMPLE",
        "--aws-secret-access-key=topsecret",
        "--s3-bucket-region=eu-west-1",
        "--s3-ssenc",
        "--s3-bucket-name=my.bucket",
        "--s3-base-path=mycluster",
        "backup",
        "--hosts=h1,h2,h3",
        "--keyspaces=ks1,ks2",
        "--table=users",
        "--exclude-tables=ks1.audit,log",
        "--buffer-size=32",
        "--cassandra-conf-path=/etc/cassandra/",
        "--nodetool-path=/opt/cassandra/bin/nodetool",
        "--cassandra-bin-dir=/opt/cassandra/bin",
        "--user=cassandra",
        "--password=sshpass",
        "--sshkey=/home/me/.ssh/id_ed25519",
        "--sshport=2222",
        "--use-sudo=true",
        "--new-snapshot",
        "--backup-schema",
        "--cqlsh-user=admin",
        "--cqlsh-password=cqlpass",
        "--connection-pool-size=4",
        "--reduced-redundancy",
        "--rate-limit=1024",
        "--quiet",
    ]);
    let g = &cli.global;
    assert!(g.verbose && g.s3_ssenc);
    assert_eq!(g.aws_access_key_id.as_deref(), Some("AKIAEXAMPLE"));
    assert_eq!(
        g.aws_secret_access_key.as_ref().map(Secret::expose),
        Some("topsecret")
    );
    assert_eq!(g.s3_bucket_region, "eu-west-1");
    assert_eq!(g.s3_bucket_name.as_deref(), Some("my.bucket"));
    assert_eq!(g.s3_base_path.as_deref(), Some("mycluster"));
    let b = backup(&cli);
    assert_eq!(b.hosts, ["h1", "h2", "h3"]);
    assert_eq!(b.keyspaces, ["ks1", "ks2"]);
    assert_eq!(b.table.as_deref(), Some("users"));
    assert_eq!(b.exclude_tables, ["ks1.audit", "log"]);
    assert_eq!(b.buffer_size, 32);
    assert_eq!(b.cassandra_conf_path.as_deref(), Some("/etc/cassandra/"));
    assert_eq!(
        b.nodetool_path.as_deref(),
        Some("/opt/cassandra/bin/nodetool")
    );
    assert_eq!(b.cassandra_bin_dir, "/opt/cassandra/bin");
    assert_eq!(b.user.as_deref(), Some("cassandra"));
    assert_eq!(b.password.as_ref().map(Secret::expose), Some("sshpass"));
    assert_eq!(
        b.sshkey.as_deref(),
        Some(std::path::Path::new("/home/me/.ssh/id_ed25519"))
    );
    assert_eq!(b.sshport, Some(2222));
    assert!(b.use_sudo && b.new_snapshot && b.backup_schema && b.reduced_redundancy && b.quiet);
    assert_eq!(b.cqlsh_user.as_deref(), Some("admin"));
    assert_eq!(
        b.cqlsh_password.as_ref().map(Secret::expose),
        Some("cqlpass")
    );
    assert_eq!(b.connection_pool_size, 4);
    assert_eq!(b.rate_limit, 1024);
}

#[test]
fn seed_defaults() {
    let cli = parse(&[
        "--s3-bucket-name=b",
        "--s3-base-path=p",
        "backup",
        "--hosts=h",
    ]);
    assert_eq!(cli.global.s3_bucket_region, "us-east-1");
    let b = backup(&cli);
    assert_eq!(b.buffer_size, 64);
    assert_eq!(b.connection_pool_size, 12);
    assert_eq!(b.rate_limit, 0);
    assert_eq!(b.cassandra_bin_dir, "/usr/bin");
    assert!(!b.use_sudo && !b.new_snapshot && !b.quiet);
    assert!(b.keyspaces.is_empty() && b.table.is_none());
}

#[test]
fn use_sudo_takes_an_optional_value() {
    for (args, expected) in [
        (&["backup", "--hosts=h", "--use-sudo"][..], true),
        (&["backup", "--hosts=h", "--use-sudo=true"][..], true),
        (&["backup", "--hosts=h", "--use-sudo=True"][..], true),
        (&["backup", "--hosts=h", "--use-sudo=false"][..], false),
        (&["backup", "--use-sudo", "--hosts=h"][..], true),
        (&["backup", "--hosts=h"][..], false),
    ] {
        assert_eq!(backup(&parse(args)).use_sudo, expected, "{args:?}");
    }
    assert!(Cli::try_parse_from(["x", "backup", "--hosts=h", "--use-sudo=maybe"]).is_err());
}

#[test]
fn global_flags_also_work_after_the_subcommand() {
    let cli = parse(&[
        "list",
        "--s3-bucket-name=b",
        "--s3-base-path=p",
        "--json",
        "--s3-endpoint=http://127.0.0.1:8333",
    ]);
    assert_eq!(cli.global.s3_bucket_name.as_deref(), Some("b"));
    assert!(cli.global.json);
    assert!(matches!(cli.command, Command::List(_)));
}

#[test]
fn new_flags_parse() {
    let cli = parse(&[
        "--s3-bucket-name=b",
        "--s3-base-path=p",
        "--s3-sse=aws:kms",
        "--s3-sse-kms-key-id=key-1",
        "--s3-storage-class=STANDARD_IA",
        "--aws-profile=backup",
        "backup",
        "--hosts=h",
        "--ssh-config=./cfg",
        "--node-push-path=/opt/np",
        "--node-push-binary=/tmp/np",
        "--nodetool-args=-u jmx -pw secret",
    ]);
    assert_eq!(cli.global.s3_sse, Some(SseChoice::AwsKms));
    assert_eq!(cli.global.s3_sse_kms_key_id.as_deref(), Some("key-1"));
    assert_eq!(cli.global.aws_profile.as_deref(), Some("backup"));
    let b = backup(&cli);
    assert_eq!(
        b.nodetool_args.as_ref().map(Secret::expose),
        Some("-u jmx -pw secret")
    );
    assert_eq!(b.node_push_path.as_deref(), Some("/opt/np"));
}

#[test]
fn contradictions_and_missing_hosts_are_errors() {
    for args in [
        &["x", "backup"][..],
        &["x", "--s3-ssenc", "--s3-sse=AES256", "backup", "--hosts=h"][..],
        &["x", "backup", "--hosts=h", "--sshport=notaport"][..],
    ] {
        assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
    }
}

#[test]
fn help_has_examples_for_every_subcommand() {
    let mut cmd = Cli::command();
    for sub in ["backup", "list"] {
        let help = cmd
            .find_subcommand_mut(sub)
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("Examples:"), "{sub}: {help}");
        assert!(help.contains(&format!(" {sub}")), "{sub}");
    }
    assert!(cmd.render_long_help().to_string().contains("Examples:"));
}

#[test]
fn secrets_never_show_in_debug() {
    let cli = parse(&[
        "--aws-secret-access-key=topsecret",
        "backup",
        "--hosts=h",
        "--password=pw-secret",
        "--cqlsh-password=cql-secret",
        "--nodetool-args=-pw jmx-secret",
    ]);
    let shown = format!("{cli:?}");
    for secret in ["topsecret", "pw-secret", "cql-secret", "jmx-secret"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

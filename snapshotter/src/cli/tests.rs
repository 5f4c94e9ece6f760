//! Parsing tests: every flag of the old tool, in the old tool's positions, plus the new ones.

use super::*;
use clap::{Args, CommandFactory};

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
    assert!(g.verbose && g.store.s3_ssenc);
    assert_eq!(g.aws_access_key_id.as_deref(), Some("AKIAEXAMPLE"));
    assert_eq!(
        g.aws_secret_access_key.as_ref().map(Secret::expose),
        Some("topsecret")
    );
    assert_eq!(g.store.s3_bucket_region, "eu-west-1");
    assert_eq!(g.store.s3_bucket_name.as_deref(), Some("my.bucket"));
    assert_eq!(g.store.s3_base_path.as_deref(), Some("mycluster"));
    let b = backup(&cli);
    assert_eq!(b.hosts, ["h1", "h2", "h3"]);
    assert_eq!(b.keyspaces, ["ks1", "ks2"]);
    assert_eq!(b.table.as_deref(), Some("users"));
    assert_eq!(b.exclude_tables, ["ks1.audit", "log"]);
    assert_eq!(b.buffer_size, 32);
    assert_eq!(
        b.nodes.cassandra_conf_path.as_deref(),
        Some("/etc/cassandra/")
    );
    assert_eq!(
        b.nodes.nodetool_path.as_deref(),
        Some("/opt/cassandra/bin/nodetool")
    );
    assert_eq!(b.cassandra_bin_dir, "/opt/cassandra/bin");
    assert_eq!(b.nodes.user.as_deref(), Some("cassandra"));
    assert_eq!(
        b.nodes.password.as_ref().map(Secret::expose),
        Some("sshpass")
    );
    assert_eq!(
        b.nodes.sshkey.as_deref(),
        Some(std::path::Path::new("/home/me/.ssh/id_ed25519"))
    );
    assert_eq!(b.nodes.sshport, Some(2222));
    assert!(
        b.nodes.use_sudo && b.new_snapshot && b.backup_schema && b.reduced_redundancy && b.quiet
    );
    assert_eq!(b.cqlsh_user.as_deref(), Some("admin"));
    assert_eq!(
        b.cqlsh_password.as_ref().map(Secret::expose),
        Some("cqlpass")
    );
    assert_eq!(b.nodes.connection_pool_size, 4);
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
    assert_eq!(cli.global.store.s3_bucket_region, "us-east-1");
    let b = backup(&cli);
    assert_eq!(b.buffer_size, 64);
    assert_eq!(b.nodes.connection_pool_size, 12);
    assert_eq!(b.rate_limit, 0);
    assert_eq!(b.cassandra_bin_dir, "/usr/bin");
    assert!(!b.nodes.use_sudo && !b.new_snapshot && !b.quiet);
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
        assert_eq!(backup(&parse(args)).nodes.use_sudo, expected, "{args:?}");
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
    assert_eq!(cli.global.store.s3_bucket_name.as_deref(), Some("b"));
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
    assert_eq!(cli.global.store.s3_sse, Some(SseChoice::AwsKms));
    assert_eq!(cli.global.store.s3_sse_kms_key_id.as_deref(), Some("key-1"));
    assert_eq!(cli.global.aws_profile.as_deref(), Some("backup"));
    let b = backup(&cli);
    assert_eq!(
        b.nodes.nodetool_args.as_ref().map(Secret::expose),
        Some("-u jmx -pw secret")
    );
    assert_eq!(b.nodes.node_push_path.as_deref(), Some("/opt/np"));
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

#[test]
fn backup_and_restore_share_one_node_access_group() {
    let mut cmd = Cli::command();
    cmd.build();
    let group = NodeAccessArgs::augment_args(clap::Command::new("group"));
    let ids: Vec<&str> = group.get_arguments().map(|a| a.get_id().as_str()).collect();
    assert_eq!(ids.len(), 12, "{ids:?}");
    for sub in ["backup", "restore"] {
        let sub = cmd.find_subcommand(sub).unwrap();
        for arg in group.get_arguments() {
            let there = sub
                .get_arguments()
                .find(|a| a.get_id() == arg.get_id())
                .unwrap_or_else(|| panic!("{} lacks {}", sub.get_name(), arg.get_id()));
            assert_eq!(there.get_long(), arg.get_long());
            assert_eq!(there.get_default_values(), arg.get_default_values());
        }
    }
    let restore = parse(&[
        "restore",
        "--keyspace=ks",
        "--user=u",
        "--use-sudo=yes",
        "--connection-pool-size=3",
        "--nodetool-args=-pw x",
    ]);
    let Command::Restore(args) = &restore.command else {
        panic!("not restore")
    };
    assert_eq!(args.nodes.user.as_deref(), Some("u"));
    assert!(args.nodes.use_sudo);
    assert_eq!(args.nodes.connection_pool_size, 3);
    assert_eq!(
        args.nodes.nodetool_args.as_ref().map(Secret::expose),
        Some("-pw x")
    );
}

/// The cli is read by the commands and by settings, never the other way round: no file of this module
/// names a command module or settings (a cycle through them is what this module layout removed).
#[test]
fn cli_depends_on_no_command_module() {
    let sources = [
        ("mod.rs", include_str!("mod.rs")),
        ("backup.rs", include_str!("backup.rs")),
        ("completions.rs", include_str!("completions.rs")),
        ("duration.rs", include_str!("duration.rs")),
        ("list.rs", include_str!("list.rs")),
        ("node_access.rs", include_str!("node_access.rs")),
        ("purge.rs", include_str!("purge.rs")),
        ("restore.rs", include_str!("restore.rs")),
        ("store.rs", include_str!("store.rs")),
        ("verify.rs", include_str!("verify.rs")),
    ];
    // Leaf modules the flag types may use: they depend on nothing in this crate.
    let allowed = ["secret"];
    for (file, text) in sources {
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let module: String = line[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    allowed.contains(&module.as_str()),
                    "cli/{file} uses crate::{module}: {line}"
                );
            }
        }
    }
}

/// The coordinator's top-level modules depend on each other without a cycle (what issue 13 found: cli,
/// settings, output, stages and the commands tied into one knot). Read from the sources: `crate::name`
/// paths outside comments, in code only (test files, test-only fakes and `#[cfg(test)] mod tests` blocks
/// left out: tests may reach anywhere).
#[test]
fn coordinator_modules_have_no_cycles() {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;
    fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in fs_err::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let test_only = |rel: &Path| {
        rel.components().any(|c| c.as_os_str() == "tests")
            || ["tests.rs", "fake.rs", "memstore.rs"]
                .iter()
                .any(|n| rel.ends_with(n))
    };
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let top = top.trim_end_matches(".rs").to_string();
        if top == "main" || test_only(rel) {
            continue;
        }
        let text = fs_err::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        let used = deps.entry(top.clone()).or_default();
        for line in code.lines().map(|l| l.split("//").next().unwrap()) {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split([',', '}']).collect(),
                    None => vec![rest],
                };
                for name in names {
                    let name: String = name
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != top {
                        used.insert(name);
                    }
                }
            }
        }
    }
    fn visit(
        module: &str,
        deps: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|m| m == module) {
            panic!("module cycle: {} -> {module}", path[at..].join(" -> "));
        }
        if done.contains(module) {
            return;
        }
        path.push(module.to_string());
        for next in deps.get(module).into_iter().flatten() {
            visit(next, deps, path, done);
        }
        path.pop();
        done.insert(module.to_string());
    }
    assert!(
        deps["cli"].iter().all(|m| m == "secret"),
        "{:?}",
        deps["cli"]
    );
    let mut done = BTreeSet::new();
    for module in deps.keys() {
        visit(module, &deps, &mut Vec::new(), &mut done);
    }
}

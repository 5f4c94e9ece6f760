//! Restore without a cluster: settings, the node modes over scripted hosts, and the local modes against
//! an in-memory store holding real lzop objects.

mod load;
mod local;
mod nodes;

use super::settings::RestoreSettings;
use crate::cli::RestoreArgs;
use crate::cli::{Cli, Command};
use clap::Parser;

/// `restore` settings from the global flags every test needs plus `args`.
pub fn settings(args: &[&str]) -> anyhow::Result<RestoreSettings> {
    let mut argv = vec![
        "x",
        "--s3-bucket-name=bkt",
        "--s3-base-path=base",
        "--aws-access-key-id=AKIA",
        "--aws-secret-access-key=secret-in-test",
        "restore",
        "--node-push-binary=/local/node-push",
    ];
    argv.extend(args);
    let cli = Cli::try_parse_from(argv)?;
    match &cli.command {
        Command::Restore(args) => RestoreSettings::resolve(&cli.global, args),
        _ => unreachable!(),
    }
}

fn parse_only(args: &[&str]) -> Result<Box<RestoreArgs>, clap::Error> {
    let mut argv = vec!["x", "restore"];
    argv.extend(args);
    Cli::try_parse_from(argv).map(|cli| match cli.command {
        Command::Restore(args) => args,
        _ => unreachable!(),
    })
}

#[test]
fn the_old_flags_choose_a_mode_and_contradictions_are_refused() {
    use crate::cli::ModeArg;
    let mode = |args: &[&str]| settings(args).map(|s| s.mode);
    assert_eq!(mode(&["--keyspace=ks", "--local"]).unwrap(), ModeArg::Local);
    assert_eq!(
        mode(&["--keyspace=ks", "--no-sstableloader"]).unwrap(),
        ModeArg::Local
    );
    assert_eq!(
        mode(&["--keyspace=ks", "--target-hosts=a,b"]).unwrap(),
        ModeArg::Sstableloader
    );
    assert_eq!(
        mode(&["--keyspace=ks", "--mode=in-place"]).unwrap(),
        ModeArg::InPlace
    );
    for (args, expected) in [
        (&["--keyspace=ks"][..], "say where to restore"),
        (
            &["--keyspace=ks", "--local", "--target-hosts=a"],
            "give one of them",
        ),
        (
            &["--keyspace=ks", "--mode=refresh", "--local"],
            "works on the nodes",
        ),
        (
            &["--keyspace=ks", "--mode=sstableloader"],
            "needs --target-hosts",
        ),
        (&["--keyspace=ks;rm", "--local"], "invalid keyspace name"),
        (
            &["--keyspace=ks", "--local", "--until=yesterday"],
            "invalid --until",
        ),
        (
            &["--keyspace=ks", "--local", "--snapshot-name=last"],
            "--snapshot-name",
        ),
        (
            &["--keyspace=ks", "--local", "--host-map=a=b;c"],
            "--host-map",
        ),
    ] {
        let error = settings(args).unwrap_err().to_string();
        assert!(error.contains(expected), "{args:?}: {error}");
    }
    assert!(parse_only(&["--local"]).is_err(), "--keyspace is required");
    let s = settings(&["--keyspace=ks", "--local", "--until=20240131120000"]).unwrap();
    assert_eq!(s.until.unwrap().to_rfc3339(), "2024-01-31T12:00:00+00:00");
    let s = settings(&[
        "--keyspace=ks",
        "--local",
        "--until=2024-01-31T13:00:00+01:00",
    ])
    .unwrap();
    assert_eq!(s.until.unwrap().to_rfc3339(), "2024-01-31T12:00:00+00:00");
    assert_eq!(
        s.restore_dir,
        std::path::Path::new("/tmp/restore_cassandra")
    );
}

#[test]
fn help_has_modes_and_examples() {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    for sub in ["restore", "verify", "purge"] {
        let help = cmd
            .find_subcommand_mut(sub)
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(help.contains("Examples:"), "{sub}: {help}");
        assert!(help.contains(&format!(" {sub}")), "{sub}");
    }
    let restore = cmd
        .find_subcommand_mut("restore")
        .unwrap()
        .render_long_help()
        .to_string();
    assert!(restore.contains("Modes:") && restore.contains("in-place"));
}

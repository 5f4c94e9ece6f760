//! The layers' rules: flags over environment over file over defaults, and one-line errors naming the key
//! and the file for everything the file may not say.
//!
//! The flags' variables are read by clap from the process environment, so the tests that set them take
//! turns through [`ENV_LOCK`] and remove them again; the config file's location comes from the `env`
//! closure and needs no process state.

use super::file::{Location, CONFIG_ENV};
use super::*;
use crate::cli::Command as CliCommand;
use crate::settings::BackupSettings;
use std::path::PathBuf;
use std::sync::Mutex;

static ENV_LOCK: Mutex<()> = Mutex::new(());

/// Process environment variables set for one test, removed on drop.
struct ProcessEnv {
    names: Vec<String>,
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl ProcessEnv {
    fn set(pairs: &[(&str, &str)]) -> ProcessEnv {
        let turn = ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        for (name, value) in pairs {
            assert!(name.starts_with("CASSANDRA_SNAPSHOTTER_"), "{name}");
            std::env::set_var(name, value);
        }
        ProcessEnv {
            names: pairs.iter().map(|(n, _)| n.to_string()).collect(),
            _turn: turn,
        }
    }
}

impl Drop for ProcessEnv {
    fn drop(&mut self) {
        for name in &self.names {
            std::env::remove_var(name);
        }
    }
}

/// A config directory laid out as XDG wants it, with `text` as the default config file.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn with_config(text: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("xdg/cassandra-snapshotter");
        fs_err::create_dir_all(&config).unwrap();
        fs_err::write(config.join("config.toml"), text).unwrap();
        Home { dir }
    }

    fn config_path(&self) -> PathBuf {
        self.dir
            .path()
            .join("xdg/cassandra-snapshotter/config.toml")
    }

    /// The `env` the parser gets: HOME and XDG_CONFIG_HOME here, plus `extra`.
    fn parse(&self, extra: &[(&str, &str)], argv: &[&str]) -> Result<Cli, CommandLineError> {
        let home = self.dir.path().to_path_buf();
        let mut pairs: Vec<(String, OsString)> = vec![
            ("HOME".into(), home.clone().into()),
            ("XDG_CONFIG_HOME".into(), home.join("xdg").into()),
        ];
        pairs.extend(
            extra
                .iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v))),
        );
        let argv: Vec<OsString> = std::iter::once("cassandra-snapshotter")
            .chain(argv.iter().copied())
            .map(OsString::from)
            .collect();
        parse_from(&argv, &|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    fn error(&self, argv: &[&str]) -> String {
        match self.parse(&[], argv) {
            Ok(cli) => panic!("accepted: {cli:?}"),
            Err(CommandLineError::Config(error)) => format!("{error:#}"),
            Err(CommandLineError::Usage(error)) => error.render().to_string(),
        }
    }
}

fn backup_settings(cli: &Cli) -> BackupSettings {
    match &cli.command {
        CliCommand::Backup(args) => BackupSettings::resolve(&cli.global, args).unwrap(),
        other => panic!("not backup: {other:?}"),
    }
}

#[test]
fn flags_beat_environment_beat_file_beat_defaults() {
    let home = Home::with_config(
        "s3-bucket-name = \"from-file\"\ns3-base-path = \"file-base\"\ns3-bucket-region = \"eu-west-1\"\n\
         sshport = 2201\nconnection-pool-size = 3\n",
    );
    let _env = ProcessEnv::set(&[
        ("CASSANDRA_SNAPSHOTTER_S3_BASE_PATH", "env-base"),
        ("CASSANDRA_SNAPSHOTTER_SSHPORT", "2202"),
        ("CASSANDRA_SNAPSHOTTER_CONNECTION_POOL_SIZE", "5"),
    ]);
    let cli = home
        .parse(&[], &["backup", "--hosts=h1", "--sshport=2203"])
        .unwrap();
    // file only
    assert_eq!(
        cli.global.store.s3_bucket_name.as_deref(),
        Some("from-file")
    );
    assert_eq!(cli.global.store.s3_bucket_region, "eu-west-1");
    // environment over file
    assert_eq!(cli.global.store.s3_base_path.as_deref(), Some("env-base"));
    let settings = backup_settings(&cli);
    assert_eq!(settings.pool_size, 5);
    // flag over environment over file
    assert_eq!(settings.ssh.port, Some(2203));
    // default where nobody says anything
    assert_eq!(settings.part_size_mib, 64);
    // a flag before the subcommand beats the file too
    let cli = home
        .parse(&[], &["--s3-bucket-name=flag", "backup", "--hosts=h1"])
        .unwrap();
    assert_eq!(cli.global.store.s3_bucket_name.as_deref(), Some("flag"));
}

#[test]
fn without_a_file_the_built_in_defaults_stay() {
    let dir = tempfile::tempdir().unwrap();
    let argv: Vec<OsString> = ["x", "list"].iter().map(OsString::from).collect();
    let home = dir.path().as_os_str().to_os_string();
    let cli = parse_from(&argv, &|name| (name == "HOME").then(|| home.clone())).unwrap();
    assert_eq!(cli.global.store.s3_bucket_region, "us-east-1");
    assert_eq!(cli.global.store.s3_bucket_name, None);
    assert!(!cli.global.json);
}

#[test]
fn switches_lists_and_sections() {
    let home = Home::with_config(
        "json = true\nuse-sudo = true\nhosts = [\"a\", \"b\"]\nkeyspaces = \"ks1,ks2\"\n\
         s3-bucket-name = \"b\"\ns3-base-path = \"p\"\nuser = \"top\"\n\n[backup]\nuser = \"cassandra\"\n",
    );
    let cli = home.parse(&[], &["backup"]).unwrap();
    assert!(cli.global.json);
    let settings = backup_settings(&cli);
    assert_eq!(settings.hosts, ["a", "b"]);
    assert_eq!(settings.keyspaces, ["ks1", "ks2"]);
    assert_eq!(settings.privilege, crate::nodetool::Privilege::Sudo);
    assert_eq!(settings.ssh.user.as_deref(), Some("cassandra"));
    // The flags still win, a switch can be turned off through its variable.
    let _env = ProcessEnv::set(&[
        ("CASSANDRA_SNAPSHOTTER_JSON", "0"),
        ("CASSANDRA_SNAPSHOTTER_VERBOSE", "yes"),
    ]);
    let cli = home
        .parse(&[], &["backup", "--hosts=c", "--use-sudo=false"])
        .unwrap();
    assert!(!cli.global.json);
    assert!(cli.global.verbose);
    let settings = backup_settings(&cli);
    assert_eq!(settings.hosts, ["c"]);
    assert_eq!(settings.privilege, crate::nodetool::Privilege::LoginUser);
}

#[test]
fn hosts_are_required_unless_some_layer_gives_them() {
    let home = Home::with_config("s3-bucket-name = \"b\"\ns3-base-path = \"p\"\n");
    let error = home.error(&["backup"]);
    assert!(error.contains("--hosts"), "{error}");
    let _env = ProcessEnv::set(&[("CASSANDRA_SNAPSHOTTER_HOSTS", "e1,e2")]);
    let settings = backup_settings(&home.parse(&[], &["backup"]).unwrap());
    assert_eq!(settings.hosts, ["e1", "e2"]);
}

#[test]
fn unknown_keys_and_tables_name_the_key_and_the_file() {
    for (text, needles) in [
        (
            "s3-bucket = \"b\"\n",
            &["unknown key s3-bucket", "flag names"][..],
        ),
        (
            "s3_bucket_name = \"b\"\n",
            &["unknown key s3_bucket_name", "did you mean s3-bucket-name?"][..],
        ),
        (
            "[restor]\nhosts = \"h\"\n",
            &["unknown table [restor]", "backup, list"][..],
        ),
        (
            "[list]\nhosts = \"h\"\n",
            &["unknown key hosts", "[list]"][..],
        ),
        (
            "[backup]\ns3-base-path = \"p\"\n",
            &["s3-base-path in [backup] is a global flag"][..],
        ),
        (
            "config = \"other.toml\"\n",
            &["key config", "cannot name another"][..],
        ),
    ] {
        let home = Home::with_config(text);
        let error = home.error(&["list"]);
        let path = home.config_path().display().to_string();
        assert!(error.contains(&path), "{text:?}: {error}");
        for needle in needles {
            assert!(error.contains(needle), "{text:?}: {error}");
        }
        assert!(!error.trim_end().contains('\n'), "{error}");
    }
}

#[test]
fn secrets_and_compatibility_spellings_are_refused() {
    for (key, instead) in [
        ("password", "CASSANDRA_SNAPSHOTTER_PASSWORD"),
        ("cqlsh-password", "CASSANDRA_SNAPSHOTTER_CQLSH_PASSWORD"),
        ("nodetool-args", "CASSANDRA_SNAPSHOTTER_NODETOOL_ARGS"),
        ("aws-secret-access-key", "AWS_SECRET_ACCESS_KEY"),
        ("aws-access-key-id", "aws-profile"),
        ("s3-ssenc", "s3-sse = \"AES256\""),
        (
            "reduced-redundancy",
            "s3-storage-class = \"REDUCED_REDUNDANCY\"",
        ),
    ] {
        let value = if key == "s3-ssenc" || key == "reduced-redundancy" {
            "true"
        } else {
            "\"hunter2-secret-value\""
        };
        let error = Home::with_config(&format!("{key} = {value}\n")).error(&["list"]);
        assert!(error.contains(&format!("key {key}")), "{key}: {error}");
        assert!(error.contains(instead), "{key}: {error}");
        assert!(error.contains("config.toml"), "{key}: {error}");
        assert!(!error.contains("hunter2"), "{key}: {error}");
    }
}

#[test]
fn secrets_come_from_their_variables_and_stay_hidden() {
    let home = Home::with_config("s3-bucket-name = \"b\"\ns3-base-path = \"p\"\nhosts = \"h\"\n");
    let _env = ProcessEnv::set(&[
        ("CASSANDRA_SNAPSHOTTER_PASSWORD", "ssh-pass-in-env"),
        (
            "CASSANDRA_SNAPSHOTTER_NODETOOL_ARGS",
            "-u jmx -pw jmx-secret",
        ),
    ]);
    let settings = backup_settings(&home.parse(&[], &["backup"]).unwrap());
    assert_eq!(
        settings.ssh.password.as_ref().map(|p| p.expose()),
        Some("ssh-pass-in-env")
    );
    assert_eq!(settings.nodetool_args, ["-u", "jmx", "-pw", "jmx-secret"]);
    let help = documented_command()
        .find_subcommand_mut("backup")
        .unwrap()
        .render_long_help()
        .to_string();
    assert!(!help.contains("ssh-pass-in-env") && !help.contains("jmx-secret"));
}

#[test]
fn bad_values_name_the_key_and_the_file() {
    for (text, needles) in [
        (
            "sshport = \"twenty-two\"\n",
            &["key sshport", "twenty-two"][..],
        ),
        ("sshport = 99999\n", &["key sshport", "99999"][..]),
        (
            "sshport = [22, 23]\n",
            &["key sshport must be a single value, not array"][..],
        ),
        (
            "json = \"yes\"\n",
            &["key json must be true or false, not string"][..],
        ),
        ("s3-sse = \"rot13\"\n", &["key s3-sse", "rot13"][..]),
        (
            "use-sudo = \"perhaps\"\n",
            &["key use-sudo must be true or false"][..],
        ),
        ("buffer-size = \"big\"\n", &["key buffer-size", "big"][..]),
        (
            "hosts = [[\"a\"]]\n",
            &["key hosts must be a list of strings"][..],
        ),
        (
            "sshkey = 5\n",
            &["key sshkey must be a path string, not integer"][..],
        ),
        (
            "s3-bucket-name = \"b\"\ns3-base-path = \n",
            &["not valid TOML at line 2 column"][..],
        ),
        (
            "s3-bucket-name = \"b\"\ns3-bucket-name = \"c\"\n",
            &["not valid TOML at line 2", "duplicate key"][..],
        ),
    ] {
        let home = Home::with_config(text);
        let error = home.error(&["list"]);
        assert!(error.contains("config.toml"), "{text:?}: {error}");
        for needle in needles {
            assert!(error.contains(needle), "{text:?}: {error}");
        }
        assert!(!error.trim_end().contains('\n'), "{error}");
    }
}

#[test]
fn paths_are_relative_to_the_file_or_the_home() {
    let home = Home::with_config(
        "hosts = \"h\"\ns3-bucket-name = \"b\"\ns3-base-path = \"p\"\n\
         ssh-config = \"ssh_config\"\nsshkey = \"~/.ssh/id_test\"\nnode-push-path = \"~/bin/np\"\n",
    );
    let config_dir = home.config_path().parent().unwrap().to_path_buf();
    fs_err::write(config_dir.join("ssh_config"), "").unwrap();
    fs_err::create_dir_all(home.dir.path().join(".ssh")).unwrap();
    fs_err::write(home.dir.path().join(".ssh/id_test"), "").unwrap();
    let settings = backup_settings(&home.parse(&[], &["backup"]).unwrap());
    assert_eq!(
        settings.ssh.config_file.as_deref(),
        Some(config_dir.join("ssh_config").as_path())
    );
    assert_eq!(
        settings.ssh.identity.as_deref(),
        Some(home.dir.path().join(".ssh/id_test").as_path())
    );
    // A path on the nodes is not a local path: its ~/ is the SSH user's home, resolved there.
    assert_eq!(settings.node_push_path.as_deref(), Some("~/bin/np"));
}

#[test]
fn the_aws_environment_beats_a_profile_from_the_file() {
    let home = Home::with_config("aws-profile = \"backup\"\n");
    let cli = home.parse(&[], &["list"]).unwrap();
    assert_eq!(cli.global.aws_profile.as_deref(), Some("backup"));
    for variable in ["AWS_PROFILE", "AWS_ACCESS_KEY_ID"] {
        let cli = home.parse(&[(variable, "x")], &["list"]).unwrap();
        assert_eq!(cli.global.aws_profile, None, "{variable}");
    }
    let cli = home
        .parse(&[("AWS_PROFILE", "x")], &["--aws-profile=flag", "list"])
        .unwrap();
    assert_eq!(cli.global.aws_profile.as_deref(), Some("flag"));
}

#[test]
fn a_file_value_gives_way_to_a_conflicting_flag() {
    let home = Home::with_config("s3-sse = \"aws:kms\"\n");
    let cli = home.parse(&[], &["list"]).unwrap();
    assert_eq!(cli.global.store.s3_sse, Some(crate::cli::SseChoice::AwsKms));
    // --s3-ssenc conflicts with --s3-sse: given on the command line, it wins and the file's s3-sse goes.
    let cli = home.parse(&[], &["--s3-ssenc", "list"]).unwrap();
    assert!(cli.global.store.s3_ssenc);
    assert_eq!(cli.global.store.s3_sse, None);
}

#[test]
fn a_named_file_must_exist_the_default_need_not() {
    let home = Home::with_config("");
    let missing = home.dir.path().join("nope.toml");
    let missing = missing.to_str().unwrap();
    let error = home.error(&["--config", missing, "list"]);
    assert!(
        error.contains("cannot read the config file") && error.contains(missing),
        "{error}"
    );
    match home.parse(&[(CONFIG_ENV, missing)], &["list"]) {
        Err(CommandLineError::Config(error)) => {
            assert!(format!("{error:#}").contains(missing))
        }
        other => panic!("{other:?}"),
    }
    fs_err::remove_file(home.config_path()).unwrap();
    assert!(home.parse(&[], &["list"]).is_ok());
    // --config names the file for the parse as well: it is an accepted flag with a value.
    let named = home.dir.path().join("named.toml");
    fs_err::write(&named, "s3-bucket-name = \"named\"\n").unwrap();
    let cli = home
        .parse(&[], &["list", &format!("--config={}", named.display())])
        .unwrap();
    assert_eq!(cli.global.store.s3_bucket_name.as_deref(), Some("named"));
    assert_eq!(cli.global.config.as_deref(), Some(named.as_path()));
}

#[test]
fn locate_follows_flag_then_variable_then_xdg_then_home() {
    let argv = |words: &[&str]| -> Vec<OsString> {
        std::iter::once("x")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    };
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    };
    let all: &[(&str, &str)] = &[
        (CONFIG_ENV, "/from/env.toml"),
        ("XDG_CONFIG_HOME", "/xdg"),
        ("HOME", "/home/u"),
    ];
    let named = |p: &str| Location::Named(PathBuf::from(p));
    let default = |p: &str| Location::Default(PathBuf::from(p));
    assert_eq!(
        locate(&argv(&["--config", "/a.toml", "list"]), &env(all)),
        named("/a.toml")
    );
    assert_eq!(
        locate(&argv(&["list", "--config=/b.toml"]), &env(all)),
        named("/b.toml")
    );
    assert_eq!(
        locate(&argv(&["list", "--", "--config=/c.toml"]), &env(all)),
        named("/from/env.toml")
    );
    assert_eq!(
        locate(
            &argv(&["list"]),
            &env(&[("XDG_CONFIG_HOME", "/xdg"), ("HOME", "/home/u")])
        ),
        default("/xdg/cassandra-snapshotter/config.toml")
    );
    // A relative XDG_CONFIG_HOME is ignored, as the XDG spec says.
    assert_eq!(
        locate(
            &argv(&["list"]),
            &env(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/home/u")])
        ),
        default("/home/u/.config/cassandra-snapshotter/config.toml")
    );
    assert_eq!(locate(&argv(&["list"]), &env(&[])), Location::Nowhere);
}

#[test]
fn every_flag_but_the_aws_ones_has_a_variable() {
    let cmd = documented_command();
    let backup = cmd.find_subcommand("backup").unwrap();
    let env_of = |cmd: &Command, long: &str| {
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(long))
            .and_then(|a| a.get_env())
            .map(|e| e.to_string_lossy().into_owned())
    };
    assert_eq!(
        env_of(&cmd, "s3-bucket-name").as_deref(),
        Some("CASSANDRA_SNAPSHOTTER_S3_BUCKET_NAME")
    );
    assert_eq!(env_of(&cmd, "config").as_deref(), Some(CONFIG_ENV));
    assert_eq!(env_of(&cmd, "aws-profile"), None);
    assert_eq!(env_of(&cmd, "aws-secret-access-key"), None);
    for arg in backup
        .get_arguments()
        .filter(|a| a.get_long().is_some_and(|l| l != "help"))
    {
        let long = arg.get_long().unwrap();
        assert_eq!(
            env_of(backup, long),
            Some(format!(
                "CASSANDRA_SNAPSHOTTER_{}",
                long.to_uppercase().replace('-', "_")
            )),
            "{long}"
        );
    }
}

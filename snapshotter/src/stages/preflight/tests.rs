//! Preflight against scripted hosts.

use super::*;
use crate::stages::fake::FakeRemote;

const YAML: &str =
    "data_file_directories:\n    - /var/lib/cassandra/data\nincremental_backups: true\n";

fn input() -> PreflightInput {
    PreflightInput {
        conf_path: None,
        nodetool_path: None,
        bin_dir: "/usr/bin".into(),
        privilege: Privilege::LoginUser,
        nodetool_args: vec![],
        keyspaces: vec![],
        table: None,
    }
}

fn healthy(host: &str) -> FakeRemote {
    FakeRemote::new(host)
        .on(
            "printf 'arch=%s",
            0,
            "Welcome!\narch=x86_64\nhome=/home/c\nconf=/opt/c/conf\nnodetool=/opt/c/bin/nodetool\n",
        )
        .on("cat -- /opt/c/conf/cassandra.yaml", 0, YAML)
        .on("for d do", 0, "")
        .on("nodetool version", 0, "ReleaseVersion: 1.2.0\n")
}

#[tokio::test]
async fn resolves_conf_and_nodetool_from_the_login_environment() {
    let remote = healthy("n1");
    let facts = preflight(&remote, &input()).await.unwrap();
    assert_eq!(facts.arch, "x86_64");
    assert_eq!(facts.yaml_path, "/opt/c/conf/cassandra.yaml");
    assert_eq!(facts.nodetool.path, "/opt/c/bin/nodetool");
    assert_eq!(facts.version, CassandraVersion { major: 1, minor: 2 });
    assert_eq!(facts.data_dirs, ["/var/lib/cassandra/data"]);
    assert!(facts.incremental_backups);
}

#[tokio::test]
async fn flags_override_and_defaults_apply() {
    let remote = FakeRemote::new("n1")
        .on(
            "printf 'arch=%s",
            0,
            "arch=aarch64\nhome=/root\nconf=\nnodetool=\n",
        )
        .on("cat -- /etc/cass/cassandra.yaml", 0, YAML)
        .on("for d do", 0, "")
        .on(
            "/usr/local/bin/nodetool version",
            0,
            "ReleaseVersion: 4.1.2\n",
        );
    let mut inp = input();
    inp.conf_path = Some("/etc/cass/".into());
    inp.bin_dir = "/usr/local/bin".into();
    let facts = preflight(&remote, &inp).await.unwrap();
    assert_eq!(facts.nodetool.path, "/usr/local/bin/nodetool");
    assert_eq!(facts.version.major, 4);
    // Nothing was found in the plain environment, so the login shell was asked too.
    assert!(remote.scripts().iter().any(|s| s.starts_with("sh -lc ")));
}

#[tokio::test]
async fn one_line_errors_name_the_host() {
    let missing_dir = healthy("n2");
    missing_dir
        .rules
        .lock()
        .unwrap()
        .retain(|r| r.contains != "for d do");
    let missing_dir = missing_dir.on("for d do", 0, "missing:/var/lib/cassandra/data\n");
    let unreadable = healthy("n6");
    unreadable
        .rules
        .lock()
        .unwrap()
        .retain(|r| r.contains != "for d do");
    let unreadable = unreadable.on("for d do", 0, "unreadable:/var/lib/cassandra/data\n");
    let no_yaml = FakeRemote::new("n3")
        .on("printf 'arch=%s", 0, "arch=x86_64\nconf=\nnodetool=\n")
        .on("sh -lc", 0, "arch=x86_64\n");
    let bad_yaml = FakeRemote::new("n4")
        .on("printf 'arch=%s", 0, "arch=x86_64\nconf=/c\nnodetool=/n\n")
        .on("cat --", 0, "cluster_name: x\n");
    let mut no_nodetool = healthy("n5");
    no_nodetool
        .rules
        .get_mut()
        .unwrap()
        .retain(|r| r.contains != "nodetool version");
    let no_nodetool = no_nodetool.on_err(
        "nodetool version",
        1,
        "",
        "Connection refused to 127.0.0.1:7199\n",
    );
    for (remote, needle) in [
        (missing_dir, "n2: data directory /var/lib/cassandra/data (data_file_directories"),
        (unreadable, "n6: data directory /var/lib/cassandra/data is not readable by the SSH user: use --use-sudo"),
        (no_yaml, "n3: cannot find cassandra.yaml"),
        (bad_yaml, "n4: Cassandra config /c/cassandra.yaml"),
        (
            no_nodetool,
            "n5: `/opt/c/bin/nodetool version` failed: Connection refused",
        ),
    ] {
        let err = preflight(&remote, &input()).await.unwrap_err().to_string();
        assert!(err.starts_with(needle), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[tokio::test]
async fn sudo_that_wants_a_password_is_explained() {
    let remote = healthy("n1").on_err("sudo -n true", 1, "", "sudo: a password is required\n");
    let mut inp = input();
    inp.privilege = Privilege::Sudo;
    let err = preflight(&remote, &inp).await.unwrap_err().to_string();
    assert!(err.starts_with("n1: sudo needs a password"), "{err}");
}

#[test]
fn yaml_path_from_conf_dir_or_file() {
    assert_eq!(
        yaml_in("/etc/cassandra/conf/"),
        "/etc/cassandra/conf/cassandra.yaml"
    );
    assert_eq!(yaml_in("/etc/c/my.yaml"), "/etc/c/my.yaml");
}

//! The generated scripts and pages name the real subcommands and flags, and bash accepts its script.

use super::*;

fn completions(shell: Shell) -> String {
    let mut out = Vec::new();
    write_completions(shell, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn completions_name_subcommands_and_flags() {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let script = completions(shell);
        for word in [
            "backup",
            "list",
            "completions",
            "s3-bucket-name",
            "hosts",
            "use-sudo",
            "connection-pool-size",
            "config",
        ] {
            assert!(script.contains(word), "{shell:?} lacks {word}");
        }
    }
}

#[test]
fn bash_accepts_the_bash_script() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cassandra-snapshotter.bash");
    fs_err::write(&file, completions(Shell::Bash)).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Sourcing it registers the completion function for the command.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p cassandra-snapshotter",
            file.display()
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("cassandra-snapshotter"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn man(command: Option<&str>) -> String {
    let mut out = Vec::new();
    write_man_page(command, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn man_pages_list_commands_flags_files_and_variables() {
    let page = man(None);
    assert!(
        page.starts_with(".ie") || page.contains(".TH cassandra-snapshotter"),
        "{page}"
    );
    for word in [
        "backup",
        "list",
        "s3\\-bucket\\-name",
        ".SH FILES",
        ".SH ENVIRONMENT",
        "config.toml",
    ] {
        assert!(page.contains(word), "main page lacks {word}");
    }
    let backup = man(Some("backup"));
    assert!(
        backup.contains(".TH cassandra-snapshotter-backup"),
        "{backup}"
    );
    for word in ["hosts", "use\\-sudo", "CASSANDRA_SNAPSHOTTER_HOSTS"] {
        assert!(backup.contains(word), "backup page lacks {word}");
    }
    let mut out = Vec::new();
    let error = write_man_page(Some("bakup"), &mut out)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("bakup") && error.contains("backup"),
        "{error}"
    );
}

//! Preflight's check that the asked-for keyspaces and table exist on the node (`--keyspaces`,
//! `--table`), before anything is snapshotted.

use super::{privileged, PreflightInput};
use crate::remote::Remote;
use crate::shell;
use anyhow::{bail, Result};

/// Fails with one line naming the host and the first keyspace or table no data directory holds.
pub(super) async fn check(
    remote: &dyn Remote,
    input: &PreflightInput,
    data_dirs: &[String],
) -> Result<()> {
    let host = remote.host();
    let script = selection_check_script(data_dirs, &input.keyspaces, input.table.as_deref());
    let out = remote
        .run(
            &privileged(input.privilege, vec!["sh", "-c", &script]),
            None,
        )
        .await?;
    if !out.success() {
        bail!("{host}: cannot check the keyspaces: {}", out.reason());
    }
    for line in out.stdout.lines() {
        if let Some(ks) = line.strip_prefix("nokeyspace:") {
            bail!(
                "{host}: keyspace {ks} (--keyspaces) not found in data directories {}",
                data_dirs.join(", ")
            );
        }
        if let Some(table) = line.strip_prefix("notable:") {
            bail!(
                "{host}: table {table} (--table) not found in data directories {}",
                data_dirs.join(", ")
            );
        }
    }
    Ok(())
}

/// A shell script printing `nokeyspace:KS` / `notable:KS.TABLE` for each asked-for keyspace or table that
/// no data directory holds (a table dir is `TABLE` or, from 2.1, `TABLE-<id>`).
fn selection_check_script(
    data_dirs: &[String],
    keyspaces: &[String],
    table: Option<&str>,
) -> String {
    let mut script = String::new();
    for ks in keyspaces {
        let tests: Vec<String> = data_dirs
            .iter()
            .map(|d| format!("[ -d {} ]", shell::quote(&format!("{d}/{ks}"))))
            .collect();
        script.push_str(&format!(
            "if ! {{ {}; }}; then echo {}; fi; ",
            tests.join(" || "),
            shell::quote(&format!("nokeyspace:{ks}"))
        ));
        if let Some(table) = table {
            let candidates: Vec<String> = data_dirs
                .iter()
                .flat_map(|d| {
                    let dir = shell::quote(&format!("{d}/{ks}/{table}"));
                    [dir.clone(), format!("{dir}-*")]
                })
                .collect();
            script.push_str(&format!(
                "f=; for t in {}; do [ -d \"$t\" ] && f=1; done; [ -n \"$f\" ] || echo {}; ",
                candidates.join(" "),
                shell::quote(&format!("notable:{ks}.{table}"))
            ));
        }
    }
    script.push_str("true");
    script
}

#[cfg(test)]
mod tests {
    use super::selection_check_script;

    #[test]
    fn finds_missing_keyspaces_and_tables_in_any_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let d1 = dir.path().join("d1");
        let d2 = dir.path().join("d 2");
        fs_err::create_dir_all(d1.join("ks1/users")).unwrap();
        fs_err::create_dir_all(d2.join("ks2/events-0123456789abcdef0123456789abcdef")).unwrap();
        let dirs = vec![d1.display().to_string(), d2.display().to_string()];
        let check = |ks: &[&str], table: Option<&str>| {
            let ks: Vec<String> = ks.iter().map(|s| s.to_string()).collect();
            let out = std::process::Command::new("sh")
                .args(["-c", &selection_check_script(&dirs, &ks, table)])
                .output()
                .unwrap();
            assert!(out.status.success());
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(check(&["ks1", "ks2"], None), "");
        assert_eq!(check(&["ks1", "nope"], None), "nokeyspace:nope\n");
        assert_eq!(check(&["ks1"], Some("users")), "");
        assert_eq!(check(&["ks2"], Some("events")), "");
        assert_eq!(check(&["ks1", "ks2"], Some("users")), "notable:ks2.users\n");
    }
}

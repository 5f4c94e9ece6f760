//! The shell commands a restore runs on a node besides node-push: find the live table directories, list
//! their files, move staged files in (all or nothing per table), clean the staging area, and tell whether a
//! Cassandra process still uses the node's directories. Paths go in as `sh -c` arguments or stdin lines,
//! never spliced into the script text.

use crate::nodetool::Privilege;
use crate::remote::{Remote, RemoteCommand};
use crate::shell;
use anyhow::{bail, Result};

fn privileged(privilege: Privilege, script: &str, args: &[&str]) -> RemoteCommand {
    RemoteCommand::new(shell::join(
        privilege
            .prefix()
            .iter()
            .copied()
            .chain(["sh", "-c", script, "sh"])
            .chain(args.iter().copied()),
    ))
}

async fn run(
    remote: &dyn Remote,
    command: &RemoteCommand,
    stdin: Option<&[u8]>,
    what: &str,
) -> Result<String> {
    let out = remote.run(command, stdin).await?;
    if !out.success() {
        bail!("{}: cannot {what}: {}", remote.host(), out.reason());
    }
    Ok(out.stdout)
}

/// `$1` keyspace, then data dirs: prints `<mtime>\t<dir>` for every directory `<data dir>/<ks>/*`.
const TABLE_DIRS: &str = r#"ks=$1; shift; for dd do [ -d "$dd/$ks" ] || continue; for t in "$dd/$ks"/*; do [ -d "$t" ] && printf '%s\t%s\n' "$(stat -c %Y -- "$t")" "$t"; done; done; true"#;

/// A directory under `<data dir>/<ks>/` and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDir {
    pub path: String,
    pub mtime: i64,
}

impl TableDir {
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// Every directory of `keyspace` in the node's data dirs.
pub async fn table_dirs(
    remote: &dyn Remote,
    privilege: Privilege,
    keyspace: &str,
    data_dirs: &[String],
) -> Result<Vec<TableDir>> {
    let mut args = vec![keyspace];
    args.extend(data_dirs.iter().map(String::as_str));
    let command = privileged(privilege, TABLE_DIRS, &args);
    let stdout = run(remote, &command, None, "list the table directories").await?;
    Ok(stdout
        .lines()
        .filter_map(|line| {
            let (mtime, path) = line.split_once('\t')?;
            Some(TableDir {
                path: path.to_string(),
                mtime: mtime.trim().parse().ok()?,
            })
        })
        .collect())
}

/// Directories as arguments: prints `<dir>\t<file>` for each file in them and in their `.<index>/` subdirs.
const LIST_FILES: &str = r#"for d do [ -d "$d" ] || continue; (cd -- "$d" && for f in * .[!.]*/*; do [ -f "$f" ] && printf '%s\t%s\n' "$d" "$f"; done; true); done; true"#;

/// (live dir, path relative to it) of every file in `dirs` (snapshots/ and backups/ are directories and
/// not listed; index subdirs are).
pub async fn list_files(
    remote: &dyn Remote,
    privilege: Privilege,
    dirs: &[String],
) -> Result<Vec<(String, String)>> {
    if dirs.is_empty() {
        return Ok(Vec::new());
    }
    let args: Vec<&str> = dirs.iter().map(String::as_str).collect();
    let command = privileged(privilege, LIST_FILES, &args);
    let stdout = run(remote, &command, None, "list the live table directories").await?;
    Ok(stdout
        .lines()
        .filter_map(|line| {
            let (dir, file) = line.split_once('\t')?;
            Some((dir.to_string(), file.to_string()))
        })
        .collect())
}

/// `$1` a path whose owner new directories get, then the directories to create (parents first). Stdin:
/// `from\tto` lines. Each `to` is created with `ln` (which never replaces an existing file), then `from` is
/// removed. If any move fails, the ones done are undone, so that the table dir holds none of them. Hang-ups
/// and interrupts are ignored: a coordinator that goes away mid-move must not leave half a table moved.
const MOVE: &str = r#"trap '' HUP INT TERM PIPE
own=$(stat -c %u:%g -- "$1") || exit 1; shift
for d do if [ ! -d "$d" ]; then mkdir -- "$d" && chown "$own" -- "$d" || exit 1; fi; done
tab=$(printf '\t'); done_list=; n=0
undo() { printf '%s' "$done_list" | while IFS=$tab read -r f t; do [ -n "$t" ] && ln -- "$t" "$f" 2>/dev/null && rm -f -- "$t"; done; }
while IFS=$tab read -r from to; do
  [ -n "$to" ] || continue
  if ! err=$(ln -- "$from" "$to" 2>&1); then printf 'failed\t%s\t%s\n' "$to" "$err"; undo; exit 1; fi
  if ! err=$(rm -f -- "$from" 2>&1); then printf 'failed\t%s\t%s\n' "$from" "$err"; rm -f -- "$to"; undo; exit 1; fi
  done_list="$done_list$from$tab$to
"; n=$((n+1))
done
printf 'moved\t%s\n' "$n""#;

/// Move `moves` (`(from, to)`) on the node after creating `new_dirs`, all or nothing. Returns how many
/// files moved.
pub async fn move_files(
    remote: &dyn Remote,
    privilege: Privilege,
    owner_of: &str,
    new_dirs: &[String],
    moves: &[(String, String)],
) -> Result<usize> {
    let host = remote.host();
    let mut stdin = String::new();
    for (from, to) in moves {
        for path in [from, to] {
            if path.contains(['\t', '\n']) {
                bail!("{host}: cannot move {path:?}: tabs and newlines in paths are not supported");
            }
        }
        stdin.push_str(&format!("{from}\t{to}\n"));
    }
    let mut args = vec![owner_of];
    args.extend(new_dirs.iter().map(String::as_str));
    let command = privileged(privilege, MOVE, &args);
    let out = remote.run(&command, Some(stdin.as_bytes())).await?;
    for line in out.stdout.lines() {
        let fields: Vec<&str> = line.splitn(3, '\t').collect();
        match fields.as_slice() {
            ["failed", path, error] => bail!(
                "{host}: cannot move a restored file to {path}: {error} (the files already moved were moved back)"
            ),
            ["moved", n] if out.success() => return Ok(n.parse().unwrap_or(0)),
            _ => {}
        }
    }
    bail!("{host}: moving the restored files failed: {}", out.reason())
}

/// Remove the staged copies of `tables` (directories), then every empty directory under each of `roots`,
/// and the roots' parent `.restore-staging` when it is empty.
const CLEAN: &str = r#"n=$1; shift; i=0; for d do i=$((i+1)); if [ "$i" -le "$n" ]; then rm -rf -- "$d"; else [ -d "$d" ] && find "$d" -depth -type d -empty -delete; rmdir -- "${d%/*}" 2>/dev/null; fi; done; true"#;

pub async fn clean_staging(
    remote: &dyn Remote,
    privilege: Privilege,
    staged_tables: &[String],
    roots: &[String],
) -> Result<()> {
    let count = staged_tables.len().to_string();
    let mut args = vec![count.as_str()];
    args.extend(staged_tables.iter().map(String::as_str));
    args.extend(roots.iter().map(String::as_str));
    let command = privileged(privilege, CLEAN, &args);
    run(remote, &command, None, "clean the staging directory").await?;
    Ok(())
}

/// `$1` cassandra.yaml, then the node's data and commitlog dirs: prints `uses\t<pid>\t<what>` for each
/// CassandraDaemon process started with that yaml or holding a file under one of the dirs, `unknown\t<pid>`
/// for one whose open files cannot be read.
/// The class name is assembled at run time, so that this script's own command line (and its parent
/// shell's) does not match it.
const CASSANDRA_PROCESSES: &str = r#"yaml=$1; shift; daemon=Cassandra; daemon="${daemon}Daemon"
for p in /proc/[0-9]*; do
  pid=${p#/proc/}
  [ "$pid" = "$$" ] && continue
  cmd=$(tr '\000' ' ' < "$p/cmdline" 2>/dev/null) || continue
  case "$cmd" in *"$daemon"*) ;; *) continue ;; esac
  case "$cmd" in *"$yaml"*) printf 'uses\t%s\t%s\n' "$pid" "$yaml"; continue ;; esac
  fds=$(ls -l "$p/fd/" 2>/dev/null) || { printf 'unknown\t%s\n' "$pid"; continue; }
  for d do
    if printf '%s\n' "$fds" | grep -F -q -- "> $d/"; then printf 'uses\t%s\t%s\n' "$pid" "$d"; break; fi
  done
done; true"#;

/// What the process table says about Cassandra on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessCheck {
    NoneFound,
    /// A CassandraDaemon process uses the node's files: (pid, the file or dir).
    InUse {
        pid: String,
        what: String,
    },
    /// A CassandraDaemon process whose open files we may not read.
    Unknown {
        pid: String,
    },
}

pub async fn cassandra_processes(
    remote: &dyn Remote,
    privilege: Privilege,
    yaml_path: &str,
    dirs: &[String],
) -> Result<ProcessCheck> {
    let mut args = vec![yaml_path];
    args.extend(dirs.iter().map(String::as_str));
    let command = privileged(privilege, CASSANDRA_PROCESSES, &args);
    let stdout = run(remote, &command, None, "look for Cassandra processes").await?;
    let mut unknown = None;
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["uses", pid, what] => {
                return Ok(ProcessCheck::InUse {
                    pid: pid.to_string(),
                    what: what.to_string(),
                })
            }
            ["unknown", pid] => unknown = Some(pid.to_string()),
            _ => {}
        }
    }
    Ok(match unknown {
        Some(pid) => ProcessCheck::Unknown { pid },
        None => ProcessCheck::NoneFound,
    })
}

/// A top-level scalar of cassandra.yaml (`commitlog_directory: /x`), without quotes; `None` when absent,
/// empty or null.
pub fn yaml_scalar(yaml: &str, key: &str) -> Option<String> {
    yaml.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let value = rest.split(" #").next().unwrap_or("").trim();
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        (!value.is_empty() && value != "~" && value != "null").then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn sh(script: &str, args: &[&str], stdin: &str) -> (bool, String) {
        use std::io::Write;
        let mut child = Command::new("sh")
            .args(["-c", script, "sh"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    #[test]
    fn moves_are_all_or_nothing_and_never_replace_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let stage = format!("{root}/stage");
        fs_err::create_dir_all(&stage).unwrap();
        for name in ["a-Index.db", "a-Data.db", "b-Data.db"] {
            fs_err::write(format!("{stage}/{name}"), name).unwrap();
        }
        let live = format!("{root}/ks/t");
        fs_err::create_dir_all(format!("{root}/ks")).unwrap();
        // b's target is taken: nothing may stay moved, and the taken file keeps its bytes.
        let lines = format!(
            "{stage}/a-Index.db\t{live}/1-Index.db\n{stage}/a-Data.db\t{live}/1-Data.db\n{stage}/b-Data.db\t{live}/2-Data.db\n"
        );
        let (ok, _) = sh(MOVE, &[&root, &live], "");
        assert!(ok, "creating the table dir alone works");
        fs_err::write(format!("{live}/2-Data.db"), "live").unwrap();
        let (ok, out) = sh(MOVE, &[&root, &live], &lines);
        assert!(!ok);
        assert!(
            out.starts_with(&format!("failed\t{live}/2-Data.db")),
            "{out}"
        );
        assert_eq!(
            fs_err::read_to_string(format!("{live}/2-Data.db")).unwrap(),
            "live"
        );
        assert!(!std::path::Path::new(&format!("{live}/1-Data.db")).exists());
        assert_eq!(
            fs_err::read_to_string(format!("{stage}/a-Data.db")).unwrap(),
            "a-Data.db"
        );

        fs_err::remove_file(format!("{live}/2-Data.db")).unwrap();
        let (ok, out) = sh(MOVE, &[&root, &live], &lines);
        assert!(ok, "{out}");
        assert_eq!(out, "moved\t3\n");
        assert_eq!(
            fs_err::read_to_string(format!("{live}/2-Data.db")).unwrap(),
            "b-Data.db"
        );
        assert!(fs_err::read_dir(&stage).unwrap().next().is_none());

        let (ok, out) = sh(LIST_FILES, &[&live, &format!("{root}/nope")], "");
        assert!(ok);
        let mut lines: Vec<&str> = out.lines().collect();
        lines.sort_unstable();
        assert_eq!(lines[0], format!("{live}\t1-Data.db"));
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn finds_table_dirs_and_cleans_staging() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        fs_err::create_dir_all(format!("{root}/d1/ks/users")).unwrap();
        fs_err::create_dir_all(format!("{root}/d2/ks/events-0123")).unwrap();
        let (ok, out) = sh(
            TABLE_DIRS,
            &["ks", &format!("{root}/d1"), &format!("{root}/d2"), "/nope"],
            "",
        );
        assert!(ok);
        assert!(out.contains(&format!("\t{root}/d1/ks/users\n")), "{out}");
        assert!(
            out.contains(&format!("\t{root}/d2/ks/events-0123\n")),
            "{out}"
        );

        let staging = format!("{root}/d1/.restore-staging/N");
        fs_err::create_dir_all(format!("{staging}/h/ks/users")).unwrap();
        fs_err::create_dir_all(format!("{staging}/h/ks/events")).unwrap();
        fs_err::write(format!("{staging}/h/ks/users/manifest.json"), "{}").unwrap();
        let table = format!("{staging}/h/ks/users");
        let (ok, _) = sh(CLEAN, &["1", &table, &staging], "");
        assert!(ok);
        assert!(!std::path::Path::new(&format!("{root}/d1/.restore-staging")).exists());
        assert!(std::path::Path::new(&format!("{root}/d1/ks/users")).exists());
    }

    #[test]
    fn finds_no_cassandra_process_here_and_reads_yaml_scalars() {
        let (ok, out) = sh(
            CASSANDRA_PROCESSES,
            &["/nope/cassandra.yaml", "/nope/data"],
            "",
        );
        assert!(ok);
        assert!(!out.contains("/nope"), "{out}");
        let yaml = "commitlog_directory: \"/var/lib/c/commitlog\" # here\nlisten_address: 10.0.0.3\nrpc_address:\n";
        assert_eq!(
            yaml_scalar(yaml, "commitlog_directory").as_deref(),
            Some("/var/lib/c/commitlog")
        );
        assert_eq!(
            yaml_scalar(yaml, "listen_address").as_deref(),
            Some("10.0.0.3")
        );
        assert_eq!(yaml_scalar(yaml, "rpc_address"), None);
        assert_eq!(yaml_scalar(yaml, "listen"), None);
    }
}

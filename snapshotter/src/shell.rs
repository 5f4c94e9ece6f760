//! POSIX shell quoting and the checks that keep user input out of remote shells.
//!
//! Every remote command is one string run by the login shell of the SSH user, so every value from the
//! command line or from a node goes through [`quote`]. Names that end up in paths and nodetool arguments
//! (keyspaces, tables, hosts) are also validated ([`check_cassandra_name`], [`check_host`]): a keyspace
//! called `x; rm -rf /` is refused with a one-line error long before any command is built.

use std::fmt::Write as _;

/// Quote `word` for a POSIX shell: safe words go as they are, everything else in single quotes.
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if safe {
        return word.to_string();
    }
    let mut quoted = String::with_capacity(word.len() + 2);
    quoted.push('\'');
    for c in word.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

/// `words` quoted and joined by spaces: a command line for a POSIX shell.
pub fn join<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut line = String::new();
    for (i, word) in words.into_iter().enumerate() {
        if i > 0 {
            line.push(' ');
        }
        let _ = write!(line, "{}", quote(word.as_ref()));
    }
    line
}

/// Split a value such as `--nodetool-args "-u cassandra -pw 'my pass'"` into words the way a POSIX shell
/// would (single and double quotes, backslash escapes), without running anything.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    shlex::split(line).ok_or_else(|| "unbalanced quotes or a trailing backslash".to_string())
}

/// A keyspace or table name Cassandra would accept as a directory name: letters, digits, underscores.
pub fn check_cassandra_name(what: &str, name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 222
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid {what} name {name:?}: Cassandra names are letters, digits and underscores"
        ))
    }
}

/// A `--hosts` entry: a name or address ssh can take, which also goes into S3 keys as it is.
pub fn check_host(host: &str) -> Result<(), String> {
    let valid = !host.is_empty()
        && !host.starts_with('-')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:@[]".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "invalid host {host:?} in --hosts: expected a host name or address \
             (letters, digits, '.', '-', ':', '@')"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sh` makes of a quoted word: the round trip proves the quoting.
    fn through_sh(word: &str) -> String {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", quote(word)))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn quoting_survives_the_shell() {
        for word in [
            "plain",
            "",
            "with space",
            "it's",
            "$(touch /tmp/pwned)",
            "`id`",
            "a;b|c&d>e<f",
            "*?[]{}~!#",
            "new\nline",
            "'''",
            "\\",
            "ünïcode",
        ] {
            assert_eq!(through_sh(word), word, "{word:?}");
        }
        assert_eq!(quote("s3://b/p/node1"), "s3://b/p/node1");
        assert_eq!(quote("a b"), "'a b'");
    }

    #[test]
    fn join_quotes_each_word() {
        assert_eq!(
            join(["nodetool", "snapshot", "-t", "x y"]),
            "nodetool snapshot -t 'x y'"
        );
    }

    #[test]
    fn split_reads_shell_words() {
        assert_eq!(
            split(r#"-u cassandra -pw 'my pass' "a\"b" c\ d"#).unwrap(),
            ["-u", "cassandra", "-pw", "my pass", "a\"b", "c d"]
        );
        assert_eq!(split("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split("''").unwrap(), [""]);
        assert!(split("'open").is_err());
        assert!(split("trailing\\").is_err());
        // Inside double quotes a backslash stays unless it escapes ", \\, $ or `, as in sh.
        assert_eq!(split(r#""p\w" "a\\b""#).unwrap(), [r"p\w", r"a\b"]);
    }

    #[test]
    fn refuses_names_with_metacharacters() {
        assert!(check_cassandra_name("keyspace", "ks_1").is_ok());
        for bad in [
            "",
            "ks;rm -rf /",
            "ks$(id)",
            "a b",
            "../etc",
            "ks.table",
            "-x",
        ] {
            let err = check_cassandra_name("keyspace", bad).unwrap_err();
            assert!(err.starts_with("invalid keyspace name"), "{err}");
        }
        assert!(check_host("node1.example.com").is_ok());
        assert!(check_host("127.0.0.2").is_ok());
        assert!(check_host("cassandra@10.0.0.1").is_ok());
        for bad in ["", "-oProxyCommand=x", "a b", "h;id", "h/x"] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }
}

//! Writing one restored file so that a half-written file never sits under its real name: the bytes go to
//! `<target>.part`, which is fsynced and renamed to `<target>` only after every check passed (then the
//! directory is fsynced, so the rename survives a crash). On any failure, and when the write is dropped
//! half way (a panic, a cancelled run), the `.part` file is removed.

use super::error::RestoreError;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The owner to give restored files and the directories created for them (node-push runs as root through
/// sudo, Cassandra reads and moves the files as its own user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    /// The owner of an existing path, e.g. Cassandra's data directory.
    pub fn of(path: &Path) -> io::Result<Owner> {
        let meta = fs_err::metadata(path)?;
        Ok(Owner {
            uid: meta.uid(),
            gid: meta.gid(),
        })
    }

    fn apply(&self, path: &Path) -> io::Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot change the owner to {}:{}: {e}", self.uid, self.gid),
            )
        })
    }
}

/// `<target>.part`.
pub fn part_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".part");
    PathBuf::from(name)
}

/// A file being restored: written at `<target>.part`, renamed to `<target>` by [`PartFile::commit`].
pub(crate) struct PartFile {
    target: PathBuf,
    part: PathBuf,
    key: String,
    owner: Option<Owner>,
    file: Option<fs_err::File>,
}

impl PartFile {
    /// Creates the target's missing directories (owned by `owner`) and an empty `.part` file.
    pub(crate) fn create(
        target: &Path,
        key: &str,
        owner: Option<Owner>,
    ) -> Result<PartFile, RestoreError> {
        let part = part_path(target);
        let fail = |path: &Path, e: io::Error| write_error(path, key, e);
        if let Some(dir) = target.parent() {
            create_dirs(dir, owner).map_err(|e| fail(dir, e))?;
        }
        // A `.part` left by a killed run is removed rather than opened: opening it could follow a symlink
        // planted in the staging directory, and node-push may run as root.
        match fs_err::remove_file(&part) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(fail(&part, e)),
        }
        let file = fs_err::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)
            .map_err(|e| fail(&part, e))?;
        Ok(PartFile {
            target: target.to_path_buf(),
            part,
            key: key.to_string(),
            owner,
            file: Some(file),
        })
    }

    /// Appends bytes to the `.part` file.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> Result<(), RestoreError> {
        let file = self.file.as_mut().expect("open until committed");
        file.write_all(bytes)
            .map_err(|e| write_error(&self.part, &self.key, e))
    }

    /// fsync, owner, rename to the target, fsync of the directory.
    pub(crate) fn commit(mut self) -> Result<(), RestoreError> {
        let file = self.file.take().expect("committed once");
        let fail = |path: &Path, e: io::Error| write_error(path, &self.key, e);
        file.sync_all().map_err(|e| fail(&self.part, e))?;
        drop(file);
        if let Some(owner) = self.owner {
            owner.apply(&self.part).map_err(|e| fail(&self.part, e))?;
        }
        fs_err::rename(&self.part, &self.target).map_err(|e| fail(&self.target, e))?;
        if let Some(dir) = self.target.parent() {
            fs_err::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| fail(dir, e))?;
        }
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        // Not committed: the bytes are incomplete or unverified.
        if self.file.take().is_some() {
            let _ = fs_err::remove_file(&self.part);
        }
    }
}

/// Creates `dir` and its missing parents, giving the new ones to `owner`. Another file of the same table
/// may create the same directory at the same moment; that is fine.
fn create_dirs(dir: &Path, owner: Option<Owner>) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut current = Some(dir);
    while let Some(path) = current {
        if path.as_os_str().is_empty() || path.is_dir() {
            break;
        }
        missing.push(path);
        current = path.parent();
    }
    for path in missing.into_iter().rev() {
        match fs_err::create_dir(path) {
            Ok(()) => {
                if let Some(owner) = owner {
                    owner.apply(path)?;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A full disk (or quota) is its own error, naming the path; anything else is a write error.
pub(crate) fn write_error(path: &Path, key: &str, source: io::Error) -> RestoreError {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    let full = matches!(
        source.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(source.raw_os_error(), Some(ENOSPC | EDQUOT));
    if full {
        RestoreError::DiskFull {
            path: path.to_path_buf(),
            key: key.to_string(),
        }
    } else {
        RestoreError::Write {
            path: path.to_path_buf(),
            key: key.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_file_appears_whole_and_an_abandoned_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("ks/t/.idx/nb-1-big-Data.db");
        let mut part = PartFile::create(&target, "k", None).unwrap();
        part.write_all(b"hello ").unwrap();
        assert!(!target.exists(), "nothing at the real name while writing");
        assert!(part_path(&target).exists());
        part.write_all(b"world").unwrap();
        part.commit().unwrap();
        assert_eq!(fs_err::read(&target).unwrap(), b"hello world");
        assert!(!part_path(&target).exists());

        let other = dir.path().join("ks/t/nb-2-big-Data.db");
        let mut part = PartFile::create(&other, "k2", None).unwrap();
        part.write_all(b"half").unwrap();
        drop(part);
        assert!(!other.exists() && !part_path(&other).exists());
    }

    #[test]
    fn a_full_disk_is_named_as_such() {
        let error = write_error(Path::new("/stage/f"), "k", io::Error::from_raw_os_error(28));
        assert!(matches!(error, RestoreError::DiskFull { .. }));
        assert!(error.to_string().contains("/stage/f"), "{error}");
        assert!(error.to_string().contains("disk full"), "{error}");
        let other = write_error(Path::new("/f"), "k", io::Error::other("x"));
        assert!(matches!(other, RestoreError::Write { .. }));
    }

    #[test]
    fn owner_is_applied_to_new_directories_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let me = Owner::of(dir.path()).unwrap();
        let target = dir.path().join("a/b/f");
        let mut part = PartFile::create(&target, "k", Some(me)).unwrap();
        part.write_all(b"x").unwrap();
        part.commit().unwrap();
        assert_eq!(Owner::of(&target).unwrap(), me);
        assert_eq!(Owner::of(&dir.path().join("a")).unwrap(), me);
    }
}

//! [`DirStorage`]: a node's files in one directory of the real file system.
//!
//! Every file-system call may block, so a call that could wait on the disk
//! runs on tokio's blocking pool with owned buffers, copied into or out of
//! the caller's slices; the async workers never wait on a disk. Reads and
//! writes first try the page cache without blocking (`RWF_NOWAIT`, Linux):
//! a page already in memory costs one system call instead of a hand-off to
//! a pool thread and back (tens of microseconds on two cores), and only
//! what would wait (a cache miss, writeback throttling) goes to the pool. Durability is exactly the contract's: `sync`
//! is `fsync` of the file and `sync_dir` is `fsync` of the directory, with no
//! hidden syncs elsewhere, so the engine pays only for the syncs it asks for.

use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustydb_core::env::{BoxFuture, File, OpenMode, Storage};
use rustydb_core::{Error, IoErrorKind, Result};

use crate::error::from_io;

/// The production [`Storage`], rooted at one directory.
#[derive(Debug, Clone)]
pub struct DirStorage {
    root: PathBuf,
}

impl DirStorage {
    /// Opens the directory at `root`, creating it (durably) if missing. Blocks
    /// on the file system; meant for startup.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        create_root(&root).map_err(|err| from_io(&err, IoErrorKind::Device, &format!("create {}", root.display())))?;
        Ok(DirStorage { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of `name`, which must be a plain name so nothing escapes the root.
    fn path_of(&self, name: &str) -> Result<PathBuf> {
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            let context = format!("file name {name:?} (names must be plain, without '/')");
            return Err(Error::io(IoErrorKind::InvalidInput, context));
        }
        Ok(self.root.join(name))
    }

    fn describe(&self, what: &str, name: &str) -> String {
        format!("{what} {}", self.root.join(name).display())
    }
}

impl Storage for DirStorage {
    fn open<'a>(&'a self, name: &'a str, mode: OpenMode) -> BoxFuture<'a, Result<Box<dyn File>>> {
        Box::pin(async move {
            let path = self.path_of(name)?;
            let mut options = fs::OpenOptions::new();
            options.read(true).write(true);
            match mode {
                OpenMode::Existing => {}
                OpenMode::CreateIfMissing => {
                    options.create(true);
                }
                OpenMode::CreateNew => {
                    options.create_new(true);
                }
            }
            let target = path.clone();
            let file = blocking(move || options.open(target), || self.describe("open", name)).await?;
            Ok(Box::new(DirFile { file: Arc::new(file), path }) as Box<dyn File>)
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        let root = self.root.clone();
        Box::pin(blocking(move || list_files(&root), || format!("list {}", self.root.display())))
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let path = self.path_of(name)?;
            blocking(move || fs::remove_file(path), || self.describe("remove", name)).await
        })
    }

    fn rename<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (source, target) = (self.path_of(from)?, self.path_of(to)?);
            let context = || format!("{} to {to}", self.describe("rename", from));
            blocking(move || fs::rename(source, target), context).await
        })
    }

    fn sync_dir(&self) -> BoxFuture<'_, Result<()>> {
        let root = self.root.clone();
        Box::pin(blocking(move || sync_directory(&root), || format!("sync_dir {}", self.root.display())))
    }
}

/// An open file; the handle is shared with in-flight blocking calls.
struct DirFile {
    file: Arc<fs::File>,
    path: PathBuf,
}

impl DirFile {
    /// Runs `op` on the file on the blocking pool; `what` names it in errors.
    async fn with_file<T, F>(&self, what: &str, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&fs::File) -> io::Result<T> + Send + 'static,
    {
        let file = Arc::clone(&self.file);
        blocking(move || op(&file), || self.describe(what)).await
    }

    fn describe(&self, what: &str) -> String {
        format!("{what} {}", self.path.display())
    }
}

/// How far a non-blocking attempt got.
enum Done {
    /// The whole request (a read may stop short at the end of the file).
    All(usize),
    /// This many bytes; the rest would have waited, so it goes to the pool.
    Part(usize),
}

/// Reads and writes that return instead of waiting (`preadv2`/`pwritev2`
/// with `RWF_NOWAIT`). Any refusal, including a kernel or file system that
/// does not support the flag, hands the remainder to the blocking pool; only
/// a real I/O error is returned.
#[cfg(target_os = "linux")]
mod nowait {
    use std::fs;
    use std::io::{self, IoSlice, IoSliceMut};

    use rustix::io::{Errno, ReadWriteFlags, preadv2, pwritev2};

    use super::Done;

    pub(super) fn read(file: &fs::File, offset: u64, buf: &mut [u8]) -> io::Result<Done> {
        let mut filled = 0;
        while filled < buf.len() {
            let at = offset.saturating_add(filled as u64);
            match preadv2(file, &mut [IoSliceMut::new(&mut buf[filled..])], at, ReadWriteFlags::NOWAIT) {
                Ok(0) => return Ok(Done::All(filled)),
                Ok(n) => filled += n,
                Err(Errno::INTR) => {}
                Err(err) if would_wait(err) => return Ok(Done::Part(filled)),
                Err(err) => return Err(err.into()),
            }
        }
        Ok(Done::All(filled))
    }

    pub(super) fn write(file: &fs::File, offset: u64, data: &[u8]) -> io::Result<Done> {
        let mut written = 0;
        while written < data.len() {
            let at = offset.saturating_add(written as u64);
            match pwritev2(file, &[IoSlice::new(&data[written..])], at, ReadWriteFlags::NOWAIT) {
                Ok(0) => return Ok(Done::Part(written)),
                Ok(n) => written += n,
                Err(Errno::INTR) => {}
                Err(err) if would_wait(err) => return Ok(Done::Part(written)),
                Err(err) => return Err(err.into()),
            }
        }
        Ok(Done::All(written))
    }

    /// EAGAIN: the call would have waited. EOPNOTSUPP/EINVAL/ENOSYS: this
    /// kernel or file system does not take the flag, so block as before.
    fn would_wait(err: Errno) -> bool {
        matches!(err, Errno::AGAIN | Errno::OPNOTSUPP | Errno::INVAL | Errno::NOSYS)
    }
}

/// Elsewhere every call goes to the blocking pool.
#[cfg(not(target_os = "linux"))]
mod nowait {
    use std::fs;
    use std::io;

    use super::Done;

    pub(super) fn read(_file: &fs::File, _offset: u64, _buf: &mut [u8]) -> io::Result<Done> {
        Ok(Done::Part(0))
    }

    pub(super) fn write(_file: &fs::File, _offset: u64, _data: &[u8]) -> io::Result<Done> {
        Ok(Done::Part(0))
    }
}

impl File for DirFile {
    fn read_at<'a>(&'a self, offset: u64, buf: &'a mut [u8]) -> BoxFuture<'a, Result<usize>> {
        Box::pin(async move {
            let cached = match nowait::read(&self.file, offset, buf) {
                Ok(Done::All(n)) => return Ok(n),
                Ok(Done::Part(n)) => n,
                Err(err) => return Err(from_io(&err, IoErrorKind::Device, &self.describe("read_at"))),
            };
            let rest = buf.len() - cached;
            let at = offset.saturating_add(cached as u64);
            let data = self.with_file("read_at", move |file| read_up_to(file, at, rest)).await?;
            buf[cached..cached + data.len()].copy_from_slice(&data);
            Ok(cached + data.len())
        })
    }

    fn write_at<'a>(&'a self, offset: u64, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let written = match nowait::write(&self.file, offset, data) {
                Ok(Done::All(_)) => return Ok(()),
                Ok(Done::Part(n)) => n,
                Err(err) => return Err(from_io(&err, IoErrorKind::Device, &self.describe("write_at"))),
            };
            let rest = data[written..].to_vec();
            let at = offset.saturating_add(written as u64);
            self.with_file("write_at", move |file| file.write_all_at(&rest, at)).await
        })
    }

    fn sync(&self) -> BoxFuture<'_, Result<()>> {
        // No retry on failure: the kernel may have dropped the dirty pages, so
        // the caller must treat the error as fatal for the unsynced writes.
        // fdatasync: it also syncs a changed file size (needed to read the
        // data back), and skips timestamps nobody depends on.
        Box::pin(self.with_file("sync", fs::File::sync_data))
    }

    fn write_and_sync<'a>(&'a self, offset: u64, data: &'a [u8]) -> BoxFuture<'a, Result<()>> {
        let data = data.to_vec();
        Box::pin(self.with_file("write_and_sync", move |file| {
            file.write_all_at(&data, offset)?;
            file.sync_data()
        }))
    }

    fn truncate(&self, len: u64) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.with_file("truncate", move |file| file.set_len(len)))
    }

    fn len(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.with_file("len", |file| Ok(file.metadata()?.len())))
    }
}

/// Runs blocking file-system work off the async workers. `context` is built
/// only on failure, to keep the hot path free of formatting.
async fn blocking<T, F>(op: F, context: impl FnOnce() -> String) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(op).await {
        Ok(result) => result.map_err(|err| from_io(&err, IoErrorKind::Device, &context())),
        // A panic in `op` is a bug; surface it on the caller as if run inline.
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => Err(Error::TaskCancelled),
    }
}

/// Reads until `len` bytes or the end of the file: `pread` may return short
/// reads mid-file, which the contract does not allow.
fn read_up_to(file: &fs::File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut data = vec![0; len];
    let mut filled = 0;
    while filled < len {
        // Saturating: an offset past i64::MAX is rejected by the OS, not wrapped.
        match file.read_at(&mut data[filled..], offset.saturating_add(filled as u64)) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    data.truncate(filled);
    Ok(data)
}

/// Names of the regular files in `root`, sorted. Names that are not UTF-8
/// cannot have been created through this Env, so they are skipped.
fn list_files(root: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_file()
            && let Ok(name) = entry.file_name().into_string()
        {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn sync_directory(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Creates `root` and its missing ancestors, then fsyncs the parent of each
/// new directory: `sync_dir` only makes entries inside `root` durable, which
/// means nothing if `root` itself can vanish in a crash.
fn create_root(root: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = root.ancestors().take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists()).collect();
    fs::create_dir_all(root)?;
    for dir in missing {
        match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => sync_directory(parent)?,
            _ => sync_directory(Path::new("."))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp_dir::TempDir;

    fn kind<T>(result: Result<T>) -> Option<IoErrorKind> {
        result.err().and_then(|err| err.io_kind())
    }

    #[tokio::test]
    async fn writes_read_back_with_zero_gaps_and_short_reads_at_the_end() {
        let dir = TempDir::new();
        let storage = DirStorage::new(dir.path().join("nested/data")).unwrap();
        let file = storage.open("a", OpenMode::CreateNew).await.unwrap();
        file.write_at(0, b"hello").await.unwrap();
        file.write_at(10, b"world").await.unwrap();
        file.sync().await.unwrap();
        storage.sync_dir().await.unwrap();
        assert_eq!(file.len().await.unwrap(), 15);

        let mut buf = [0xff; 15];
        assert_eq!(file.read_at(0, &mut buf).await.unwrap(), 15);
        assert_eq!(&buf, b"hello\0\0\0\0\0world");
        assert_eq!(file.read_at(12, &mut buf).await.unwrap(), 3);
        assert_eq!(file.read_at(15, &mut buf).await.unwrap(), 0);
        assert_eq!(file.read_at(1000, &mut buf).await.unwrap(), 0);

        file.truncate(4).await.unwrap();
        file.sync().await.unwrap();
        assert_eq!(file.len().await.unwrap(), 4);
        assert_eq!(file.read_at(0, &mut buf).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn open_modes_check_existence() {
        let dir = TempDir::new();
        let storage = DirStorage::new(dir.path()).unwrap();
        assert_eq!(kind(storage.open("f", OpenMode::Existing).await), Some(IoErrorKind::NotFound));
        let file = storage.open("f", OpenMode::CreateIfMissing).await.unwrap();
        file.write_at(0, b"kept").await.unwrap();
        assert_eq!(kind(storage.open("f", OpenMode::CreateNew).await), Some(IoErrorKind::AlreadyExists));
        let again = storage.open("f", OpenMode::CreateIfMissing).await.unwrap();
        assert_eq!(again.len().await.unwrap(), 4);
        storage.open("f", OpenMode::Existing).await.unwrap();
    }

    #[tokio::test]
    async fn list_rename_and_remove() {
        let dir = TempDir::new();
        let storage = DirStorage::new(dir.path()).unwrap();
        let a = storage.open("a", OpenMode::CreateNew).await.unwrap();
        a.write_at(0, b"from a").await.unwrap();
        storage.open("b", OpenMode::CreateNew).await.unwrap();
        fs::create_dir(dir.path().join("subdir")).unwrap();
        assert_eq!(storage.list().await.unwrap(), ["a", "b"]);

        storage.rename("a", "b").await.unwrap();
        storage.sync_dir().await.unwrap();
        assert_eq!(storage.list().await.unwrap(), ["b"]);
        let b = storage.open("b", OpenMode::Existing).await.unwrap();
        assert_eq!(b.len().await.unwrap(), 6);

        storage.remove("b").await.unwrap();
        assert!(storage.list().await.unwrap().is_empty());
        let mut buf = [0; 6];
        assert_eq!(b.read_at(0, &mut buf).await.unwrap(), 6, "open handles outlive removal");
        assert_eq!(kind(storage.remove("b").await), Some(IoErrorKind::NotFound));
        assert_eq!(kind(storage.rename("b", "c").await), Some(IoErrorKind::NotFound));
    }

    #[tokio::test]
    async fn names_must_be_plain() {
        let dir = TempDir::new();
        let storage = DirStorage::new(dir.path()).unwrap();
        for name in ["", ".", "..", "x/y", "/etc/passwd", "nul\0"] {
            let invalid = Some(IoErrorKind::InvalidInput);
            assert_eq!(kind(storage.open(name, OpenMode::CreateIfMissing).await), invalid, "{name:?}");
            assert_eq!(kind(storage.remove(name).await), invalid, "{name:?}");
            assert_eq!(kind(storage.rename("ok", name).await), invalid, "{name:?}");
        }
        assert!(storage.list().await.unwrap().is_empty());
    }
}

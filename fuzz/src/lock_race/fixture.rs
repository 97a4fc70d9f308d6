//! One temp dir per profile, made once per thread and reset after every
//! run: a device root with every service's lock dir, and an `outside` dir
//! for symlink targets. Making and deleting the tree per input was most of
//! an input's time.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use lockgates::{LockLocation, Profile};
use refsup::layout::Layout;

use super::model::{Entry, Kind};
use super::{APP_ID, FILES, MAX_SERVICES};

/// The tree a profile's runs share.
pub(super) struct Fixture {
    _dir: tempfile::TempDir,
    pub layout: Layout,
    /// Watched paths: the slots (lock paths apps use), then for slot `k`
    /// its symlink targets at `nslots + 2k` (existing) and `+ 1` (dangling).
    pub paths: Vec<PathBuf>,
    pub nslots: usize,
    /// `slot_of[svc][file]`: services share slots before 7.0.0.
    pub slot_of: Vec<[usize; 2]>,
    /// The profile's lock paths per service count (`requested[n - 1]`), as
    /// slot indices in take order.
    pub requested: Vec<Vec<usize>>,
    /// Where relative names in traces start.
    pub lock_dir: PathBuf,
    /// Per watched path: the open directory it is in (an index into
    /// `dirs`) and its name there, so a look is one `fstatat`.
    pub slot_dir: Vec<(usize, OsString)>,
    /// Every directory of the clean tree, open, with what it holds when
    /// clean (name: kind and inode).
    pub dirs: Vec<Dir>,
}

/// One directory of the fixture.
pub(super) struct Dir {
    pub path: PathBuf,
    pub fd: File,
    pub clean: BTreeMap<OsString, Entry>,
}

thread_local! {
    static FIXTURES: RefCell<HashMap<Profile, Rc<Fixture>>> = RefCell::new(HashMap::new());
}

impl Fixture {
    /// This thread's clean tree for `profile`, made on first use.
    pub fn shared(profile: &Profile) -> Result<Rc<Fixture>, String> {
        if let Some(fx) = FIXTURES.with(|f| f.borrow().get(profile).cloned()) {
            return Ok(fx);
        }
        let fx = Rc::new(Fixture::new(profile)?);
        FIXTURES.with(|f| f.borrow_mut().insert(profile.clone(), fx.clone()));
        Ok(fx)
    }

    /// Forget this thread's tree for `profile` (it could not be reset); the
    /// next run makes a new one.
    pub fn discard(profile: &Profile) {
        FIXTURES.with(|f| f.borrow_mut().remove(profile));
    }

    fn new(profile: &Profile) -> Result<Fixture, String> {
        // tmpfs where there is one: it is where lock dirs live on a device,
        // and it keeps the fuzzer fast.
        let shm = Path::new("/dev/shm");
        let mut builder = tempfile::Builder::new();
        builder.prefix("lock_race-");
        let dir = if shm.is_dir() {
            builder.tempdir_in(shm)
        } else {
            builder.tempdir()
        }
        .map_err(|e| format!("temp dir: {e}"))?;
        let base = dir.path().to_path_buf();
        let layout = Layout::new(base.join("root"), profile.clone());
        // Link targets live inside the device root but outside every lock
        // dir: refsup's confinement would refuse a target outside the root
        // before the L6 fault could show.
        let outside = base.join("root").join("outside");
        fs::create_dir_all(&outside).map_err(|e| format!("{}: {e}", outside.display()))?;
        let mut slots: Vec<PathBuf> = Vec::new();
        let mut slot_of = Vec::new();
        let mut requested = Vec::new();
        let mut taken: Vec<usize> = Vec::new();
        for svc in 0..usize::from(MAX_SERVICES) {
            let name = format!("svc{svc}");
            let lock_dir = layout.service_lock_dir(APP_ID, &name);
            fs::create_dir_all(&lock_dir).map_err(|e| format!("{}: {e}", lock_dir.display()))?;
            let mut of = [0; 2];
            for (i, file) in FILES.iter().enumerate() {
                let slot = lock_dir.join(file);
                of[i] = match slots.iter().position(|s| *s == slot) {
                    Some(k) => k,
                    None => {
                        slots.push(slot);
                        slots.len() - 1
                    }
                };
            }
            slot_of.push(of);
            for path in profile
                .lock_files()
                .iter()
                .filter(|f| f.location == LockLocation::ServiceDir)
                .map(|f| layout.lock_path(APP_ID, &name, f))
            {
                let k = slots
                    .iter()
                    .position(|s| *s == path)
                    .ok_or_else(|| format!("lock path {} is no slot", path.display()))?;
                // Before 7.0.0 every service shares the app's one lock dir:
                // each path once, as the supervisor takes it.
                if !taken.contains(&k) {
                    taken.push(k);
                }
            }
            requested.push(taken.clone());
        }
        let nslots = slots.len();
        let mut paths = slots;
        for k in 0..nslots {
            paths.push(outside.join(format!("slot{k}")));
            paths.push(outside.join(format!("slot{k}-dangling")));
        }
        let clean = walk(&base)?;
        let mut dirs = Vec::new();
        for (path, entry) in &clean {
            if entry.kind.is_dir() {
                let fd = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let clean = list(path)?;
                dirs.push(Dir {
                    path: path.clone(),
                    fd,
                    clean,
                });
            }
        }
        let slot_dir = paths
            .iter()
            .map(|p| {
                let parent = p.parent().unwrap_or(p);
                let dir = dirs
                    .iter()
                    .position(|d| d.path == parent)
                    .ok_or_else(|| format!("{} is in no fixture dir", p.display()))?;
                Ok((dir, p.file_name().unwrap_or_default().to_os_string()))
            })
            .collect::<Result<_, String>>()?;
        Ok(Fixture {
            slot_dir,
            dirs,
            lock_dir: layout.app_lock_dir(APP_ID),
            _dir: dir,
            layout,
            paths,
            nslots,
            slot_of,
            requested,
        })
    }

    /// The watched index of slot `k`'s symlink target.
    pub fn target(&self, k: usize, dangling: bool) -> usize {
        self.nslots + 2 * k + usize::from(dangling)
    }

    /// A watched path as traces show it (relative to the app's lock dir or
    /// the root).
    pub fn name(&self, i: usize) -> String {
        let path = &self.paths[i];
        path.strip_prefix(&self.lock_dir)
            .or_else(|_| path.strip_prefix(self.layout.root()))
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// Call `f` with every entry of the open directory `fd` (name, and kind
/// and inode from the directory entry itself): `getdents` on a duplicate of
/// the descriptor, no `lstat`, no allocation per entry.
pub(super) fn each_entry(
    fd: &File,
    path: &Path,
    mut f: impl FnMut(&OsStr, Entry),
) -> Result<(), String> {
    let err = |e: nix::errno::Errno| format!("reading {}: {e}", path.display());
    let dup = nix::unistd::dup(fd.as_raw_fd()).map_err(err)?;
    // The duplicate shares the offset: start from the top every time.
    nix::unistd::lseek(dup, 0, nix::unistd::Whence::SeekSet).map_err(err)?;
    let mut dir = nix::dir::Dir::from_fd(dup).map_err(err)?;
    for entry in dir.iter() {
        let entry = entry.map_err(err)?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name == "." || name == ".." {
            continue;
        }
        let kind = match entry.file_type() {
            Some(nix::dir::Type::File) => Kind::File,
            Some(nix::dir::Type::Directory) => Kind::Dir,
            Some(nix::dir::Type::Symlink) => Kind::Symlink,
            _ => Kind::Other,
        };
        f(
            name,
            Entry {
                kind,
                ino: entry.ino(),
                uid: 0,
            },
        );
    }
    Ok(())
}

/// What the open directory `fd` holds, from `readdir` alone (the type and
/// inode are in the directory entries): no `lstat` per entry.
pub(super) fn list(path: &Path) -> Result<BTreeMap<OsString, Entry>, String> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        out.insert(
            entry.file_name(),
            Entry {
                kind: Kind::from_type(kind),
                ino: entry.ino(),
                uid: 0,
            },
        );
    }
    Ok(out)
}

/// Every entry under `base`, `lstat`ed, never following links.
pub(super) fn walk(base: &Path) -> Result<BTreeMap<PathBuf, Entry>, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(base).follow_links(false) {
        let entry = entry.map_err(|e| format!("walking {}: {e}", base.display()))?;
        let meta = entry
            .metadata()
            .map_err(|e| format!("lstat {}: {e}", entry.path().display()))?;
        out.insert(
            entry.into_path(),
            Entry {
                kind: Kind::from_type(meta.file_type()),
                ino: meta.ino(),
                uid: meta.uid(),
            },
        );
    }
    Ok(out)
}

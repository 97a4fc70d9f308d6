//! What the suite tests: the embedded reference (a fresh `refsup` per case on
//! its own root and a free port) or an external supervisor.

mod embedded;
mod external;

use std::path::Path;

use anyhow::Result;
use lockgates::Profile;

use crate::case::Need;
use crate::client::Client;

pub use embedded::{Embedded, EMBEDDED_TIME_SCALE};
pub use external::External;

/// How a device for one case is started.
#[derive(Debug, Clone, Default)]
pub struct DeviceOpts {
    /// Ask the supervisor to pause after taking locks (creates this file and
    /// waits for its removal).
    pub pause_file: Option<std::path::PathBuf>,
    /// Ask the supervisor to pause between two locking steps (7.0.0 -
    /// 16.1.x take and release the locks per step).
    pub step_pause_file: Option<std::path::PathBuf>,
}

/// A supervisor under test, for one case.
pub trait Device: Send {
    /// Its API.
    fn client(&self) -> &Client;
    /// Its root on this host.
    fn root(&self) -> &Path;
    /// Kill the supervisor (SIGKILL, as a crash) and start it again with
    /// `opts`; its services keep running.
    fn restart(&mut self, opts: &DeviceOpts) -> Result<()>;
}

/// Something the suite can get devices from.
pub trait Target: Send + Sync {
    /// What the report calls it.
    fn describe(&self) -> String;
    /// Whether it offers `need`.
    fn offers(&self, need: Need) -> bool;
    /// A fresh device for one case, in `work` (a scratch dir of the case).
    fn device(&self, profile: &Profile, work: &Path, opts: &DeviceOpts) -> Result<Box<dyn Device>>;
    /// Cells that may run at once on this target.
    fn max_jobs(&self) -> usize;
}

//! Who a created lock file belongs to.

/// The uid/gid a lock file is created for; supervisors own their locks as
/// root before 13.1.0 and as nobody from 13.1.0 (`SPEC.md`, L4), and cleanup
/// decides what to remove by this owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Numeric user id.
    pub uid: u32,
    /// Numeric group id.
    pub gid: u32,
}

impl Owner {
    /// `0:0`, the owner of supervisor locks before 13.1.0.
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
    /// `65534:65534` (nobody/nogroup), the owner of supervisor locks from
    /// 13.1.0, which is how a restarted supervisor recognises its leftovers.
    pub const NOBODY: Owner = Owner {
        uid: 65534,
        gid: 65534,
    };
}

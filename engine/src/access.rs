//! Access masks, handle attributes and the generic mapping.

use bitflags::bitflags;

bitflags! {
    /// An access mask (`ACCESS_MASK`), with the Windows bit values.
    ///
    /// Unknown bits are kept (`from_bits_retain`), never truncated: the engine decides
    /// what a bit outside a type's valid mask means, not the constructor.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
    pub struct Access: u32 {
        /// DELETE.
        const DELETE = 0x0001_0000;
        /// READ_CONTROL: read the security descriptor.
        const READ_CONTROL = 0x0002_0000;
        /// WRITE_DAC.
        const WRITE_DAC = 0x0004_0000;
        /// WRITE_OWNER.
        const WRITE_OWNER = 0x0008_0000;
        /// SYNCHRONIZE: wait on the object.
        const SYNCHRONIZE = 0x0010_0000;
        /// ACCESS_SYSTEM_SECURITY: needs a privilege the engine never grants.
        const ACCESS_SYSTEM_SECURITY = 0x0100_0000;
        /// MAXIMUM_ALLOWED: whatever the object's DACL grants.
        const MAXIMUM_ALLOWED = 0x0200_0000;
        /// GENERIC_ALL.
        const GENERIC_ALL = 0x1000_0000;
        /// GENERIC_EXECUTE.
        const GENERIC_EXECUTE = 0x2000_0000;
        /// GENERIC_WRITE.
        const GENERIC_WRITE = 0x4000_0000;
        /// GENERIC_READ.
        const GENERIC_READ = 0x8000_0000;

        /// MUTEX_MODIFY_STATE.
        const MUTEX_MODIFY_STATE = 0x0001;
        /// MUTEX_QUERY_STATE (`query_mutex`; the same bit as MUTEX_MODIFY_STATE).
        const MUTEX_QUERY_STATE = 0x0001;
        /// MUTEX_ALL_ACCESS.
        const MUTEX_ALL_ACCESS = 0x1F_0001;
        /// THREAD_TERMINATE.
        const THREAD_TERMINATE = 0x0001;
        /// THREAD_SET_CONTEXT (`queue_user_apc`).
        const THREAD_SET_CONTEXT = 0x0010;
        /// THREAD_QUERY_INFORMATION.
        const THREAD_QUERY_INFORMATION = 0x0040;
        /// THREAD_ALL_ACCESS.
        const THREAD_ALL_ACCESS = 0x1F_FFFF;
        /// EVENT_QUERY_STATE.
        const EVENT_QUERY_STATE = 0x0001;
        /// EVENT_MODIFY_STATE.
        const EVENT_MODIFY_STATE = 0x0002;
        /// EVENT_ALL_ACCESS.
        const EVENT_ALL_ACCESS = 0x1F_0003;
        /// SEMAPHORE_QUERY_STATE.
        const SEMAPHORE_QUERY_STATE = 0x0001;
        /// SEMAPHORE_MODIFY_STATE.
        const SEMAPHORE_MODIFY_STATE = 0x0002;
        /// SEMAPHORE_ALL_ACCESS.
        const SEMAPHORE_ALL_ACCESS = 0x1F_0003;
        /// TIMER_QUERY_STATE.
        const TIMER_QUERY_STATE = 0x0001;
        /// TIMER_MODIFY_STATE.
        const TIMER_MODIFY_STATE = 0x0002;
        /// TIMER_ALL_ACCESS.
        const TIMER_ALL_ACCESS = 0x1F_0003;
        /// FILE_MAP_WRITE.
        const FILE_MAP_WRITE = 0x0002;
        /// FILE_MAP_READ.
        const FILE_MAP_READ = 0x0004;
        /// FILE_MAP_ALL_ACCESS.
        const FILE_MAP_ALL_ACCESS = 0xF_001F;
        /// JOB_OBJECT_ALL_ACCESS.
        const JOB_OBJECT_ALL_ACCESS = 0x1F_003F;
        /// FILE_READ_DATA.
        const FILE_READ_DATA = 0x0001;
        /// FILE_WRITE_DATA.
        const FILE_WRITE_DATA = 0x0002;
        /// FILE_APPEND_DATA.
        const FILE_APPEND_DATA = 0x0004;
        /// FILE_ALL_ACCESS.
        const FILE_ALL_ACCESS = 0x1F_01FF;
        /// PROCESS_TERMINATE.
        const PROCESS_TERMINATE = 0x0001;
        /// PROCESS_DUP_HANDLE.
        const PROCESS_DUP_HANDLE = 0x0040;
        /// PROCESS_QUERY_INFORMATION.
        const PROCESS_QUERY_INFORMATION = 0x0400;
        /// PROCESS_ALL_ACCESS.
        const PROCESS_ALL_ACCESS = 0x1F_FFFF;

        // Every other bit is retained as given.
        const _ = !0;
    }
}

impl Access {
    /// The four GENERIC_* bits.
    pub const GENERIC_MASK: Access = Access::GENERIC_READ
        .union(Access::GENERIC_WRITE)
        .union(Access::GENERIC_EXECUTE)
        .union(Access::GENERIC_ALL);
}

bitflags! {
    /// Handle attributes (`HANDLE_FLAG_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct HandleFlags: u32 {
        /// HANDLE_FLAG_INHERIT: child processes created with inheritance receive the handle.
        const INHERIT = 0x1;
        /// HANDLE_FLAG_PROTECT_FROM_CLOSE: `close_handle` fails and leaves the handle valid.
        const PROTECT_FROM_CLOSE = 0x2;
    }
}

bitflags! {
    /// Options of `duplicate_handle` (`DUPLICATE_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct DuplicateOptions: u32 {
        /// DUPLICATE_CLOSE_SOURCE.
        const CLOSE_SOURCE = 0x1;
        /// DUPLICATE_SAME_ACCESS.
        const SAME_ACCESS = 0x2;
        /// DUPLICATE_SAME_ATTRIBUTES.
        const SAME_ATTRIBUTES = 0x4;
    }
}

/// How a type turns the four GENERIC_* rights into its own rights (`GENERIC_MAPPING`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GenericMapping {
    /// What GENERIC_READ means.
    pub read: Access,
    /// What GENERIC_WRITE means.
    pub write: Access,
    /// What GENERIC_EXECUTE means.
    pub execute: Access,
    /// What GENERIC_ALL means.
    pub all: Access,
}

impl GenericMapping {
    /// A mapping from four raw masks, in the order read, write, execute, all.
    #[must_use]
    pub const fn new(read: u32, write: u32, execute: u32, all: u32) -> Self {
        GenericMapping {
            read: Access::from_bits_retain(read),
            write: Access::from_bits_retain(write),
            execute: Access::from_bits_retain(execute),
            all: Access::from_bits_retain(all),
        }
    }

    /// Replaces every GENERIC_* bit of `access` by what it means for this type
    /// (`RtlMapGenericMask`). Other bits, MAXIMUM_ALLOWED included, are kept.
    #[must_use]
    pub fn map(&self, access: Access) -> Access {
        let mut out = access.difference(Access::GENERIC_MASK);
        if access.contains(Access::GENERIC_READ) {
            out |= self.read;
        }
        if access.contains(Access::GENERIC_WRITE) {
            out |= self.write;
        }
        if access.contains(Access::GENERIC_EXECUTE) {
            out |= self.execute;
        }
        if access.contains(Access::GENERIC_ALL) {
            out |= self.all;
        }
        out
    }
}

//! The kernel: one machine's object manager.

use std::any::Any;
use std::fmt;
use std::time::Duration;

use crate::access::{Access, GenericMapping};
use crate::error::Result;
use crate::ids::ClientIds;
use crate::names::Names;
use std::ptr::NonNull;

use crate::object::types::{ObjectType, TypeRegistry};
use crate::object::{Domain, ObjectHeader};
use crate::objects::Builtins;
use crate::process::{Process, ProcessOptions};
use crate::sync::Arc;
use crate::table::MAX_LIMIT;
use crate::time::{Clock, Time};

/// The default per-process handle limit: 2^30, the Platform SDK figure.
pub const DEFAULT_HANDLE_LIMIT: usize = 1 << 30;

/// One machine's object manager: its types, its namespace, its processes.
///
/// Cheap to clone (a shared reference); `Send + Sync`. Everything a guest does goes
/// through a [`Process`] made by [`Kernel::create_process`] (or a child of one).
#[derive(Clone)]
pub struct Kernel {
    pub(crate) shared: Arc<KernelShared>,
}

/// The state every object and process of a kernel shares.
///
/// `repr(C)` with the object domain first: an object header points at `objects`
/// through a pointer derived from the whole state, and [`of`] casts it back.
///
/// When the last holder drops it, its tables hold no object that could still be used:
/// a named object or a live process keeps a process (and so this kernel) alive. An
/// `ObjRef` its tables still drop (an object whose last close is mid-way) only
/// decrements the domain's count, which has no drop glue and stays readable.
#[repr(C)]
pub(crate) struct KernelShared {
    /// The objects' view of the kernel: live count and last-handle hook (see
    /// `object::Domain`). Must stay the first field.
    objects: Domain,
    pub(crate) handle_limit: usize,
    /// This kernel's id, unique in the host process: an `ObjectType` carries it, so a
    /// type registered in another kernel is refused here.
    pub(crate) id: u64,
    pub(crate) types: TypeRegistry,
    pub(crate) builtin: Builtins,
    pub(crate) names: Names,
    /// Process (and thread) ids: live processes by id, for `open_process`.
    pub(crate) ids: Arc<ClientIds>,
    /// The clock, armed timers and manual-clock wait deadlines (SPEC §7.5).
    pub(crate) time: Arc<Time>,
    /// Every distinct security descriptor of this kernel's objects, once.
    pub(crate) descriptors: crate::security::Descriptors,
}

impl Drop for KernelShared {
    fn drop(&mut self) {
        // The timer driver thread, if any, stops.
        self.time.shutdown();
    }
}

impl KernelShared {
    /// The domain pointer new objects of this kernel carry: derived from the whole
    /// state (not from the `objects` field alone), so [`of`] may cast it back.
    pub(crate) fn domain(&self) -> NonNull<Domain> {
        NonNull::from(self).cast()
    }
}

/// The kernel an object belongs to.
pub(crate) fn of(header: &ObjectHeader) -> &KernelShared {
    // SAFETY: every domain pointer comes from `KernelShared::domain`, a pointer to the
    // whole `KernelShared` (provenance included) whose first field, in a `repr(C)`
    // struct, is the domain — so the cast gives back the kernel. The kernel outlives
    // every use of the header (see `object::Domain`), so it is valid for the header's
    // borrow.
    unsafe { header.domain_ptr().cast::<KernelShared>().as_ref() }
}

/// The kernel's work at an object's last handle (`object::Domain::last_handle`): the
/// name goes if it still names this object, then the type's own hook runs (a process is
/// terminated, a file mapping drops its file).
fn last_handle(header: &ObjectHeader) {
    if let Some(key) = &header.name {
        of(header).names.remove(key, header);
    }
    if let Some(hook) = header.ty().on_last_handle {
        hook(header);
    }
}

/// Configures a [`Kernel`].
#[derive(Clone, Debug)]
#[must_use]
pub struct KernelBuilder {
    handle_limit: usize,
    clock: Clock,
}

impl Default for KernelBuilder {
    fn default() -> Self {
        KernelBuilder { handle_limit: DEFAULT_HANDLE_LIMIT, clock: Clock::System }
    }
}

impl KernelBuilder {
    /// The per-process handle limit: a table holding this many handles fails the next
    /// insert with NO_SYSTEM_RESOURCES. Default 2^30; `1 << 24` reproduces the NT
    /// kernel's own limit. Clamped to `1..=2^30`.
    pub fn handle_limit(mut self, limit: usize) -> Self {
        self.handle_limit = limit.clamp(1, MAX_LIMIT);
        self
    }

    /// The clock timeouts and timers run on: [`Clock::System`] (the default) or
    /// [`Clock::Manual`], which moves only by [`Kernel::advance_clock`].
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the kernel, registering the built-in object types.
    pub fn build(self) -> Kernel {
        // Relaxed: only uniqueness matters. 2^64 kernels will not be built.
        static NEXT_KERNEL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_KERNEL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let types = TypeRegistry::new(id);
        let builtin = Builtins::register(&types);
        let shared = Arc::new(KernelShared {
            handle_limit: self.handle_limit,
            objects: Domain::new(last_handle),
            id,
            types,
            builtin,
            names: Names::new(),
            ids: Arc::new(ClientIds::new(4)),
            time: Arc::new(Time::new(self.clock)),
            descriptors: Default::default(),
        });
        // The timer driver holds the kernel only while it fires timers, through a weak
        // reference (it must not keep a dropped kernel alive).
        #[cfg(not(loom))]
        {
            let weak = Arc::downgrade(&shared);
            shared.time.set_keep_alive(Box::new(move || {
                weak.upgrade().map(|k| Box::new(k) as Box<dyn std::any::Any>)
            }));
        }
        Kernel { shared }
    }
}

impl Default for Kernel {
    fn default() -> Self {
        Kernel::new()
    }
}

impl Kernel {
    /// A kernel with the default settings.
    #[must_use]
    pub fn new() -> Kernel {
        KernelBuilder::default().build()
    }

    /// A builder for a configured kernel.
    pub fn builder() -> KernelBuilder {
        KernelBuilder::default()
    }

    /// A root process: it inherits nothing. `options.token` defaults to
    /// `Token::default()`, `options.session_id` to 0; a `handle_list` is
    /// INVALID_PARAMETER (there is nothing to inherit).
    pub fn create_process(&self, options: ProcessOptions) -> Result<Process> {
        Process::create_root(&self.shared, options)
    }

    /// Live objects of every type, processes included: it drops when an object's last
    /// reference goes.
    #[must_use]
    pub fn object_count(&self) -> usize {
        self.shared.objects.live()
    }

    /// Moves a [`Clock::Manual`] clock forward by `by`: every timer due by then fires
    /// and every timed wait due by then times out, in due order (a timer due at the
    /// same instant as a wait's deadline fires first), on the calling thread.
    /// INVALID_PARAMETER on the system clock.
    pub fn advance_clock(&self, by: Duration) -> Result<()> {
        self.shared.time.advance(by)
    }

    /// The kernel's wall-clock time, on which `Due::At` runs: the host's on
    /// [`Clock::System`], `UNIX_EPOCH` plus the time advanced on [`Clock::Manual`].
    #[must_use]
    pub fn wall_time(&self) -> std::time::SystemTime {
        self.shared.time.wall()
    }

    /// Time since the kernel's clock started (on [`Clock::Manual`], the sum of the
    /// advances).
    #[must_use]
    pub fn clock_now(&self) -> Duration {
        self.shared.time.now()
    }

    /// How long until the earliest armed timer or (on [`Clock::Manual`]) timed wait is
    /// due — zero if one is due now — or `None` if nothing is pending. An emulator
    /// driving a manual clock can jump straight to it; a test can see that a wait on
    /// another thread has started.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Duration> {
        self.shared.time.next_deadline()
    }

    /// The per-process handle limit.
    #[must_use]
    pub fn handle_limit(&self) -> usize {
        self.shared.handle_limit
    }

    /// Registers an object type whose objects carry a `P`.
    ///
    /// `valid` is the type's valid-access mask and must hold `mapping.all` (the type's
    /// ALL_ACCESS, which a creator's handle gets); every mask must stay within the
    /// specific and standard rights (`0x1F_FFFF`), else INVALID_PARAMETER. A name already
    /// registered is ALREADY_EXISTS. The built-in types are registered by this same
    /// mechanism.
    ///
    /// ```
    /// use kobj::{Access, DuplicateOptions, GenericMapping, Handle, Kernel, ProcessOptions};
    ///
    /// struct Socket { port: u16 }
    ///
    /// let kernel = Kernel::new();
    /// let socket = kernel
    ///     .register_type::<Socket>("Socket", GenericMapping::new(0x20001, 0x20002, 0x20000, 0x1F0003),
    ///         Access::from_bits_retain(0x1F0003))
    ///     .unwrap();
    /// let p = kernel.create_process(ProcessOptions::default()).unwrap();
    /// let h = p.create_object(&socket, Socket { port: 80 }, None, None).unwrap().handle;
    /// let dup = p
    ///     .duplicate_handle(Handle::CURRENT_PROCESS, h, Some(Handle::CURRENT_PROCESS),
    ///         Access::empty(), false, DuplicateOptions::SAME_ACCESS)
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(p.with_object(&socket, dup, Access::from_bits_retain(1), |s| s.port), Ok(80));
    /// p.close_handle(h).unwrap();
    /// p.close_handle(dup).unwrap();
    /// p.terminate(0).unwrap();
    /// drop(p);
    /// assert_eq!(kernel.object_count(), 0);
    /// ```
    pub fn register_type<P: Any + Send + Sync>(
        &self,
        name: &str,
        mapping: GenericMapping,
        valid: Access,
    ) -> Result<ObjectType<P>> {
        self.shared.types.register(name, mapping, valid, None, None)
    }

    /// Registers an object type whose objects can be waited on through their payload's
    /// [`Signal`](crate::Signal) (SPEC §7.3: "an embedder may give its type a signal
    /// state"); [`Process::set_object_signal`](crate::Process::set_object_signal) sets
    /// and resets it. A type registered with [`register_type`](Self::register_type)
    /// is always signalled instead (NT's default object).
    ///
    /// ```
    /// use std::time::Duration;
    /// use kobj::{Access, GenericMapping, Kernel, ProcessOptions, Signal, Signaled, WaitStatus};
    ///
    /// struct Pipe { readable: Signal }
    /// impl Signaled for Pipe {
    ///     fn signal(&self) -> &Signal { &self.readable }
    /// }
    ///
    /// let kernel = Kernel::new();
    /// let mapping = GenericMapping::new(0x12_0001, 0x12_0002, 0x12_0000, 0x1F_0003);
    /// let pipe = kernel.register_waitable_type::<Pipe>("Pipe", mapping, Access::from_bits_retain(0x1F_0003)).unwrap();
    /// let p = kernel.create_process(ProcessOptions::default()).unwrap();
    /// let h = p.create_object(&pipe, Pipe { readable: Signal::new(false) }, None, None).unwrap().handle;
    /// let t = p.main_thread();
    /// assert_eq!(t.wait_for_single_object(h, Some(Duration::ZERO)), Ok(WaitStatus::Timeout));
    /// p.set_object_signal(&pipe, h, Access::from_bits_retain(2), true).unwrap();
    /// assert_eq!(t.wait_for_single_object(h, Some(Duration::ZERO)), Ok(WaitStatus::Object(0)));
    /// ```
    pub fn register_waitable_type<P: crate::Signaled>(
        &self,
        name: &str,
        mapping: GenericMapping,
        valid: Access,
    ) -> Result<ObjectType<P>> {
        fn waitable_of<P: crate::Signaled>(h: &ObjectHeader) -> Option<&crate::wait::Waitable> {
            h.body::<P>().map(|p| &p.signal().0)
        }
        self.shared.types.register(name, mapping, valid, None, Some(waitable_of::<P>))
    }

    /// The entries of the object directory at an absolute path (`\BaseNamedObjects`,
    /// `\Sessions\1\BaseNamedObjects`, `\`), sorted by name: for tooling.
    pub fn list_directory(&self, path: &str) -> Result<Vec<(String, crate::EntryKind)>> {
        self.shared.names.list(path)
    }

    /// Sets the counter process (and thread) ids are drawn from. A test-only hook: it
    /// lets a test reach the counter's wrap without 2^30 creations; ids stay unique
    /// whatever it is set to.
    #[doc(hidden)]
    pub fn set_next_client_id(&self, id: u32) {
        self.shared.ids.set_next(id);
    }

    /// The names of every registered type, built-in ones first.
    #[must_use]
    pub fn type_names(&self) -> Vec<String> {
        self.shared.types.names()
    }
}

impl fmt::Debug for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernel")
            .field("handle_limit", &self.shared.handle_limit)
            .field("objects", &self.object_count())
            .field("processes", &self.shared.ids.live_processes())
            .finish()
    }
}

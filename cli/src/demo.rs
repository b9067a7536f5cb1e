//! The demo: the seed chapter's scenarios, run against the engine.

use std::io::Write;

use kobj::{
    Access, DuplicateOptions, Handle, Kernel, MutexInfo, Process, ProcessOptions, SecurityAttributes,
    WaitStatus,
};

/// Errors the demo reports: an engine call that failed, or a broken output stream.
pub type DemoError = Box<dyn std::error::Error>;

/// Prints `p`'s handle table (value, type, access in hex and by name, flags, name).
pub fn print_table(out: &mut dyn Write, label: &str, p: &Process) -> std::io::Result<()> {
    crate::table::write_table(out, label, p)
}

/// Runs every scenario, writing a narrated trace to `out`.
pub fn run(out: &mut dyn Write) -> Result<(), DemoError> {
    let kernel = Kernel::new();
    let start = kernel.object_count();
    inheritance(out, &kernel)?;
    duplication(out, &kernel)?;
    named(out, &kernel)?;
    abandonment(out, &kernel)?;
    writeln!(out, "\nobjects alive at the start: {start}; at the end: {}", kernel.object_count())?;
    if kernel.object_count() != start {
        return Err("objects leaked".into());
    }
    Ok(())
}

/// Seed 000: a parent makes an inheritable mutex and spawns a child that uses the same
/// handle value.
fn inheritance(out: &mut dyn Write, kernel: &Kernel) -> Result<(), DemoError> {
    writeln!(out, "== Handle inheritance (seed 000) ==")?;
    let parent = kernel.create_process(ProcessOptions::default())?;
    let sa = SecurityAttributes { inherit_handle: true, security_descriptor: None };
    let mutex = parent.create_mutex(Some(&sa), false, None)?.handle;
    let private = parent.create_event(None, true, false, None)?.handle;
    writeln!(out, "parent creates an inheritable mutex {mutex} and a private event {private}")?;
    let child = parent.create_process(true, ProcessOptions::default())?;
    print_table(out, "parent", &parent)?;
    print_table(out, "child", &child.process)?;
    let same = child.process.get_handle_information(mutex).is_ok();
    let event = child.process.set_event(private);
    writeln!(
        out,
        "child uses mutex {mutex}: {}; event {private} in child: {:?}",
        if same { "valid" } else { "INVALID" },
        event
    )?;
    child.process.terminate(0)?;
    parent.terminate(0)?;
    Ok(())
}

/// Seed 003: process S duplicates a handle into process T with less access, then with
/// CLOSE_SOURCE.
fn duplication(out: &mut dyn Write, kernel: &Kernel) -> Result<(), DemoError> {
    writeln!(out, "\n== DuplicateHandle (seed 003) ==")?;
    let catalyst = kernel.create_process(ProcessOptions::default())?;
    let s = catalyst.create_process(false, ProcessOptions::default())?;
    let t = catalyst.create_process(false, ProcessOptions::default())?;
    let obj = s.process.create_event(None, false, false, None)?.handle;
    writeln!(out, "S creates event {obj} (EVENT_ALL_ACCESS)")?;
    let in_t = catalyst
        .duplicate_handle(
            s.handle,
            obj,
            Some(t.handle),
            Access::SYNCHRONIZE,
            false,
            DuplicateOptions::empty(),
        )?
        .ok_or("no handle")?;
    writeln!(out, "catalyst duplicates it into T with SYNCHRONIZE only: {in_t}")?;
    writeln!(out, "T tries SetEvent: {:?}", t.process.set_event(in_t))?;
    let moved = s
        .process
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            obj,
            Some(Handle::CURRENT_PROCESS),
            Access::EVENT_MODIFY_STATE,
            false,
            DuplicateOptions::CLOSE_SOURCE,
        )?
        .ok_or("no handle")?;
    writeln!(out, "S narrows its own handle with CLOSE_SOURCE: {obj} -> {moved}")?;
    print_table(out, "S", &s.process)?;
    print_table(out, "T", &t.process)?;
    for p in [&s.process, &t.process, &catalyst] {
        p.terminate(0)?;
    }
    Ok(())
}

/// Seed 004: processes sharing objects by name.
fn named(out: &mut dyn Write, kernel: &Kernel) -> Result<(), DemoError> {
    writeln!(out, "\n== Named objects (seed 004) ==")?;
    let a = kernel.create_process(ProcessOptions::default())?;
    let b = kernel.create_process(ProcessOptions::default())?;
    let ha = a.create_mutex(None, false, Some("JeffMutex"))?;
    let hb = b.create_mutex(None, false, Some("JeffMutex"))?;
    writeln!(
        out,
        "A: CreateMutex(\"JeffMutex\") -> {} (already existed: {})",
        ha.handle, ha.already_existed
    )?;
    writeln!(
        out,
        "B: CreateMutex(\"JeffMutex\") -> {} (already existed: {})",
        hb.handle, hb.already_existed
    )?;
    let sem = a.create_semaphore(None, 1, 1, Some("JeffMutex"));
    writeln!(
        out,
        "A: CreateSemaphore(\"JeffMutex\") -> {:?} (one namespace for every type)",
        sem.map(|c| c.handle)
    )?;
    print_table(out, "A", &a)?;
    print_table(out, "B", &b)?;
    let entries = crate::table::directory(kernel, "\\BaseNamedObjects")?;
    crate::table::write_directory(out, "\\BaseNamedObjects", &entries)?;
    a.terminate(0)?;
    b.terminate(0)?;
    let again = kernel.create_process(ProcessOptions::default())?;
    writeln!(
        out,
        "after both exit, OpenMutex(\"JeffMutex\") -> {:?}",
        again.open_mutex(Access::SYNCHRONIZE, false, "JeffMutex")
    )?;
    again.terminate(0)?;
    Ok(())
}

/// A mutex's state as `query_mutex` reports it, on one line.
fn mutex_state(info: &MutexInfo) -> String {
    let owner = info.owner.map_or_else(|| "none".to_owned(), |tid| format!("thread {tid}"));
    format!("owner {owner}, recursion {}, abandoned {}", info.recursion, info.abandoned)
}

/// SPEC §7.4: a thread that exits while it owns a mutex abandons it; the next thread to
/// wait on it gets it, with `Abandoned`.
fn abandonment(out: &mut dyn Write, kernel: &Kernel) -> Result<(), DemoError> {
    writeln!(out, "\n== Mutex ownership and abandonment ==")?;
    let a = kernel.create_process(ProcessOptions::default())?;
    let b = kernel.create_process(ProcessOptions::default())?;
    let in_a = a.create_mutex(None, false, Some("OwnedMutex"))?.handle;
    let in_b = b.open_mutex(Access::MUTEX_ALL_ACCESS, false, "OwnedMutex")?;
    writeln!(out, "A: CreateMutex(\"OwnedMutex\") -> {in_a}; B: OpenMutex(\"OwnedMutex\") -> {in_b}")?;
    writeln!(out, "  query_mutex: {}", mutex_state(&a.query_mutex(in_a)?))?;
    let worker = a.create_thread(None)?;
    writeln!(out, "A: CreateThread -> thread {} (handle {})", worker.thread.id(), worker.handle)?;
    print_table(out, "A", &a)?;
    print_table(out, "B", &b)?;
    let taken = worker.thread.wait_for_single_object(in_a, None)?;
    writeln!(out, "A's thread {}: WaitForSingleObject(mutex, INFINITE) -> {taken:?}", worker.thread.id())?;
    writeln!(out, "  query_mutex: {}", mutex_state(&a.query_mutex(in_a)?))?;
    worker.thread.exit(0)?;
    writeln!(out, "A's thread {}: ExitThread(0) without ReleaseMutex", worker.thread.id())?;
    writeln!(out, "  query_mutex: {}", mutex_state(&b.query_mutex(in_b)?))?;
    let main = b.main_thread();
    let got = main.wait_for_single_object(in_b, Some(std::time::Duration::ZERO))?;
    writeln!(out, "B's main thread {}: WaitForSingleObject(mutex, 0) -> {got:?}", main.id())?;
    if !matches!(got, WaitStatus::Abandoned(0)) {
        return Err(format!("the wait on an abandoned mutex returned {got:?}, not Abandoned(0)").into());
    }
    writeln!(out, "  query_mutex: {}", mutex_state(&b.query_mutex(in_b)?))?;
    main.release_mutex(in_b)?;
    writeln!(out, "B's main thread {}: ReleaseMutex -> ok", main.id())?;
    writeln!(out, "  query_mutex: {}", mutex_state(&b.query_mutex(in_b)?))?;
    drop((worker, main));
    a.terminate(0)?;
    b.terminate(0)?;
    Ok(())
}

//! Sharing kernel objects across process boundaries, step by step.
//!
//! Part 1 is seed 000's scenario ("Object Handle Inheritance"): a parent creates an
//! inheritable mutex, spawns a child with inheritance, and the child uses the mutex at the
//! same handle value. Part 2 is seed 003's ("Duplicating Handles"): process S holds an
//! event; a third process duplicates it into process T with less access, then moves
//! another handle with DUPLICATE_CLOSE_SOURCE.
//!
//! Run with `cargo run -p kobj --example inherit`. Each process's handle table is printed
//! after every step.

use kobj::{
    Access, DuplicateOptions, Handle, HandleFlags, Kernel, Process, ProcessOptions, SecurityAttributes,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A handle's flags as Win32 names them.
fn flags(f: HandleFlags) -> String {
    let mut names = Vec::new();
    if f.contains(HandleFlags::INHERIT) {
        names.push("INHERIT");
    }
    if f.contains(HandleFlags::PROTECT_FROM_CLOSE) {
        names.push("PROTECT_FROM_CLOSE");
    }
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join("|")
    }
}

/// Prints a process's handle table: value, type, access, flags, the object's handle count.
fn print_table(label: &str, p: &Process) {
    println!("  {label} (pid {}): {} handle(s)", p.id(), p.handle_count());
    println!("    {:>6}  {:<9}  {:<10}  {:<26}  object handles", "handle", "type", "access", "flags");
    for row in p.handles() {
        println!(
            "    {:>6}  {:<9}  {:#010x}  {:<26}  {}",
            format!("{:#x}", row.handle.raw()),
            row.type_name,
            row.access.bits(),
            flags(row.flags),
            row.object_handles
        );
    }
}

fn step(text: &str) {
    println!("\n- {text}");
}

/// Seed 000: inheritance.
fn inheritance(kernel: &Kernel) -> Result<()> {
    println!("== Part 1: object handle inheritance (seed 000) ==");
    let parent = kernel.create_process(ProcessOptions::default())?;

    // SECURITY_ATTRIBUTES sa = { sizeof(sa), NULL, TRUE };
    // HANDLE hMutex = CreateMutex(&sa, FALSE, NULL);
    step("the parent creates a mutex with sa.bInheritHandle = TRUE, and a private event");
    let sa = SecurityAttributes { inherit_handle: true, ..Default::default() };
    let mutex = parent.create_mutex(Some(&sa), false, None)?.handle;
    let private = parent.create_event(None, true, false, None)?.handle;
    print_table("parent", &parent);

    step("the parent spawns a child with bInheritHandles = TRUE");
    let child = parent.create_process(true, ProcessOptions::default())?;
    print_table("parent", &parent);
    print_table("child", &child.process);
    println!(
        "  the child holds the mutex at the same value {:#x} with the same access and flags;",
        mutex.raw()
    );
    println!("  the parent's process handle to the child, {:#x}, has PROCESS_ALL_ACCESS", child.handle.raw());

    step("the child uses the inherited value (passed to it on its command line, say)");
    let c = &child.process;
    println!(
        "  child: get_handle_information({:#x}) = {}",
        mutex.raw(),
        flags(c.get_handle_information(mutex)?)
    );
    let sync = c
        .duplicate_handle(
            Handle::CURRENT_PROCESS,
            mutex,
            Some(Handle::CURRENT_PROCESS),
            Access::SYNCHRONIZE,
            false,
            DuplicateOptions::empty(),
        )?
        .ok_or("a target handle")?;
    println!(
        "  child: DuplicateHandle({:#x}, SYNCHRONIZE) = {:#x}, the same mutex: {}",
        mutex.raw(),
        sync.raw(),
        c.compare_object_handles(mutex, sync)?
    );
    c.close_handle(sync)?;
    println!(
        "  child: the private event's value {:#x} is not valid there: {}",
        private.raw(),
        child.process.set_event(private).expect_err("not inherited")
    );

    step("the parent closes its handle: the child's inherited handle keeps the mutex alive");
    parent.close_handle(mutex)?;
    print_table("parent", &parent);
    print_table("child", &child.process);

    step("a handle made inheritable later with SetHandleInformation reaches the next child only");
    parent.set_handle_information(private, HandleFlags::INHERIT, HandleFlags::INHERIT)?;
    let second = parent.create_process(true, ProcessOptions::default())?;
    print_table("second child", &second.process);

    step("the children exit; the parent closes its process handles to them");
    for c in [child, second] {
        c.process.terminate(0)?;
        parent.close_handle(c.handle)?;
    }
    print_table("parent", &parent);
    parent.terminate(0)?;
    Ok(())
}

/// Seed 003: DuplicateHandle, three processes involved.
fn duplication(kernel: &Kernel) -> Result<()> {
    println!("\n== Part 2: DuplicateHandle (seed 003) ==");
    let broker = kernel.create_process(ProcessOptions::default())?;
    let s = broker.create_process(false, ProcessOptions::default())?;
    let t = broker.create_process(false, ProcessOptions::default())?;
    println!(
        "  the broker (pid {}) holds handles to S (pid {}) and T (pid {})",
        broker.id(),
        s.process.id(),
        t.process.id()
    );

    step("S creates an event and a semaphore");
    let event = s.process.create_event(None, true, false, None)?.handle;
    let semaphore = s.process.create_semaphore(None, 0, 5, None)?.handle;
    print_table("S", &s.process);

    step("the broker duplicates S's event into T with EVENT_QUERY_STATE | SYNCHRONIZE only");
    let in_t = broker
        .duplicate_handle(
            s.handle,
            event,
            Some(t.handle),
            Access::EVENT_QUERY_STATE | Access::SYNCHRONIZE,
            false,
            DuplicateOptions::empty(),
        )?
        .ok_or("a target handle")?;
    print_table("S", &s.process);
    print_table("T", &t.process);
    println!(
        "  T: set_event({:#x}) -> {}",
        in_t.raw(),
        t.process.set_event(in_t).expect_err("reduced access")
    );
    s.process.set_event(event)?;
    println!("  S signals the event; T sees event_state = {}", t.process.event_state(in_t)?);

    step("the broker moves S's semaphore into T with DUPLICATE_SAME_ACCESS | DUPLICATE_CLOSE_SOURCE");
    let moved = broker
        .duplicate_handle(
            s.handle,
            semaphore,
            Some(t.handle),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS | DuplicateOptions::CLOSE_SOURCE,
        )?
        .ok_or("a target handle")?;
    print_table("S", &s.process);
    print_table("T", &t.process);
    println!(
        "  T: release_semaphore({:#x}, 2) -> previous count {}",
        moved.raw(),
        t.process.release_semaphore(moved, 2)?
    );

    step("S makes a real, inheritable handle to itself (not the -1 pseudo-handle) for its children");
    let me = s.process.duplicate_handle(
        Handle::CURRENT_PROCESS,
        Handle::CURRENT_PROCESS,
        Some(Handle::CURRENT_PROCESS),
        Access::empty(),
        true,
        DuplicateOptions::SAME_ACCESS,
    )?;
    let me = me.ok_or("a target handle")?;
    let grandchild = s.process.create_process(true, ProcessOptions::default())?;
    print_table("S", &s.process);
    print_table("S's child", &grandchild.process);
    let from_parent = grandchild
        .process
        .duplicate_handle(
            me,
            event,
            Some(Handle::CURRENT_PROCESS),
            Access::empty(),
            false,
            DuplicateOptions::SAME_ACCESS,
        )?
        .ok_or("a target handle")?;
    println!(
        "  S's child reads S's event {:#x} through the inherited process handle {:#x}: now {:#x} in its own table",
        event.raw(),
        me.raw(),
        from_parent.raw()
    );

    step("everyone exits");
    for p in [&grandchild.process, &s.process, &t.process, &broker] {
        p.terminate(0)?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let kernel = Kernel::new();
    let start = kernel.object_count();
    inheritance(&kernel)?;
    duplication(&kernel)?;
    println!("\nobjects alive at the start: {start}; now: {}", kernel.object_count());
    if kernel.object_count() != start {
        return Err("objects leaked".into());
    }
    Ok(())
}

//! Awaiting kernel objects from async code (SPEC §7.5, issue 11).
//!
//! Part 1: a tokio task of process A awaits a named auto-reset event through
//! `thread.wait_async`; process B opens the same event by name and sets it from a host
//! thread of its own, which wakes the task.
//!
//! Part 2: another task waits on an event nobody sets and gives up after a timeout
//! (`tokio::time::timeout` drops its wait). The wait is cancel-safe: the event is left
//! untouched, and when it is set afterwards it stays set — no forgotten waiter took it.
//!
//! Run with `cargo run -p kobj --example async_wait`.

use std::time::Duration;

use kobj::{Access, Kernel, ProcessOptions, WaitStatus};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The event's name, in the session namespace both processes share.
const READY: &str = "async_wait.ready";
const NEVER: &str = "async_wait.never";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let kernel = Kernel::new();
    let a = kernel.create_process(ProcessOptions::default())?;
    let b = kernel.create_process(ProcessOptions::default())?;

    println!("Part 1: a task awaits an event another process sets");
    let ready = a.create_event(None, false, false, Some(READY))?.handle;
    println!("  process {} created the auto-reset event {READY:?} (handle {:#x})", a.id(), ready.raw());
    let waiter = a.create_thread(None)?;
    println!("  a tokio task awaits it as thread {} of process {}", waiter.thread.id(), a.id());
    let task = tokio::spawn(waiter.thread.wait_async(&[ready], false));

    let in_b = b.open_event(Access::EVENT_MODIFY_STATE, false, READY)?;
    println!("  process {} opened {READY:?} by name (handle {:#x}, EVENT_MODIFY_STATE)", b.id(), in_b.raw());
    let setter_process = b.clone();
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        println!(
            "  process {} sets the event from host thread {:?}",
            setter_process.id(),
            std::thread::current().id()
        );
        setter_process.set_event(in_b)
    });
    let status = tokio::time::timeout(Duration::from_secs(10), task).await??;
    setter.join().expect("the setter thread")?;
    println!("  the task woke with {status:?}");
    assert_eq!(status, Ok(WaitStatus::Object(0)));
    let info = a.query_event(ready)?;
    println!("  the event now: signaled = {} (the wait took the auto-reset event)", info.signaled);
    assert!(!info.signaled);

    println!("Part 2: a task gives up after a timeout");
    let never = a.create_event(None, false, false, Some(NEVER))?.handle;
    let quitter = a.create_thread(None)?;
    let wait = quitter.thread.wait_async(&[never], false);
    let outcome = tokio::spawn(tokio::time::timeout(Duration::from_millis(100), wait)).await?;
    match &outcome {
        Ok(status) => println!("  unexpected: the wait completed with {status:?}"),
        Err(_) => println!("  the task gave up after 100 ms; tokio dropped its wait"),
    }
    assert!(outcome.is_err());
    let info = a.query_event(never)?;
    println!("  the event after the timeout: signaled = {} (untouched)", info.signaled);
    assert!(!info.signaled);
    b.open_event(Access::EVENT_MODIFY_STATE, false, NEVER).and_then(|h| b.set_event(h))?;
    let info = a.query_event(never)?;
    println!(
        "  process {} sets it: signaled = {} (no forgotten waiter took it; the next wait will)",
        b.id(),
        info.signaled
    );
    assert!(info.signaled);
    assert_eq!(quitter.thread.wait_for_single_object(never, Some(Duration::ZERO))?, WaitStatus::Object(0));

    drop((waiter, quitter));
    for p in [&a, &b] {
        p.terminate(0)?;
    }
    drop((a, b));
    println!("Done: {} objects left in the kernel", kernel.object_count());
    assert_eq!(kernel.object_count(), 0);
    Ok(())
}

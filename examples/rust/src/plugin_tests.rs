//! End-to-end tests of the plugin on the fake host of `testhost.rs`: the
//! entry point, every export through its make function and vtable, and the
//! adapter's guarantees (no allocation on steady-state polls, waker
//! references balanced, timers closed, panics reported, cancel honoured).

use core::ptr;
use std::sync::atomic::Ordering::SeqCst;

use crate::adapter::{export, export_local, HostFuture};
use crate::error::ERR_PANIC;
use crate::host::ERR_NO_HOST;
use crate::join::join_all;
use crate::sleep::Sleep;
use crate::sys::*;
use crate::testhost::*;
use crate::{awake_plugin_entry, c_str, sleep_text, Error};

fn entry_args(host: *const awake_host) -> awake_entry_args {
    awake_entry_args {
        size: core::mem::size_of::<awake_entry_args>() as u32,
        abi_major: AWAKE_ABI_MAJOR,
        abi_minor: AWAKE_ABI_MINOR,
        pointer_size: core::mem::size_of::<*const ()>() as u32,
        endian: AWAKE_ENDIAN_CANARY,
        host,
    }
}

fn load() -> &'static awake_plugin {
    let args = entry_args(fake_host_table());
    let mut p: *const awake_plugin = ptr::null();
    assert_eq!(unsafe { awake_plugin_entry(&args, &mut p) }, AWAKE_OK);
    unsafe { &*p }
}

/// Makes a future with the named export of the plugin.
fn make(name: &str, args: &str) -> Result<awake_future, (i32, String)> {
    let p = load();
    let exports = unsafe { core::slice::from_raw_parts(p.exports, p.export_count as usize) };
    let ex = exports
        .iter()
        .find(|e| unsafe { c_str(e.name) } == name)
        .expect("export exists");
    let mut fut = awake_future {
        self_: ptr::null_mut(),
        vtable: ptr::null(),
    };
    let mut err: *mut awake_error = ptr::null_mut();
    let rc = unsafe { (ex.make)(args.as_ptr(), args.len(), &mut fut, &mut err) };
    if rc == AWAKE_OK {
        Ok(fut)
    } else {
        let e = unsafe { Error::from_awake(err, name) };
        Err((rc, e.message))
    }
}

#[test]
fn entry_checks_version_canaries_and_describes_the_plugin() {
    let mut p: *const awake_plugin = ptr::null();
    let mut a = entry_args(fake_host_table());
    a.abi_major = 2;
    assert_eq!(unsafe { awake_plugin_entry(&a, &mut p) }, AWAKE_E_VERSION);
    let mut a = entry_args(fake_host_table());
    a.endian = AWAKE_ENDIAN_CANARY.swap_bytes();
    assert_eq!(unsafe { awake_plugin_entry(&a, &mut p) }, AWAKE_E_CANARY);
    let mut a = entry_args(fake_host_table());
    a.pointer_size = 4;
    assert_eq!(unsafe { awake_plugin_entry(&a, &mut p) }, AWAKE_E_CANARY);
    let mut a = entry_args(fake_host_table());
    a.size = 8;
    assert_eq!(unsafe { awake_plugin_entry(&a, &mut p) }, AWAKE_E_INVALID);
    assert_eq!(
        unsafe { awake_plugin_entry(ptr::null(), &mut p) },
        AWAKE_E_INVALID
    );
    assert!(p.is_null(), "nothing handed out on failure");

    let p = load();
    assert_eq!(p.size as usize, core::mem::size_of::<awake_plugin>());
    assert_eq!(
        (p.abi_major, p.abi_minor, p.pointer_size, p.endian),
        (1, 0, 8, AWAKE_ENDIAN_CANARY)
    );
    assert_eq!(unsafe { c_str(p.name) }, "rust_example");
    let names: Vec<String> =
        unsafe { core::slice::from_raw_parts(p.exports, p.export_count as usize) }
            .iter()
            .map(|e| {
                assert_eq!(e.size as usize, core::mem::size_of::<awake_export>());
                unsafe { c_str(e.name) }
            })
            .collect();
    assert_eq!(
        names,
        [
            "sleep",
            "join_sleeps",
            "spawn_and_join",
            "await_host",
            "panic"
        ]
    );
}

#[test]
fn sleep_waits_for_a_host_timer() {
    let host = FakeHost::new();
    let task = FakeTask::new();
    let t0 = host.now.load(SeqCst);
    let fut = make("sleep", "50").unwrap();
    let vt = unsafe { &*fut.vtable };
    assert_eq!(vt.flags, AWAKE_FUTURE_SEND | AWAKE_FUTURE_OUTPUT_BYTES);
    assert_eq!(vt.output_size as usize, core::mem::size_of::<awake_bytes>());
    let (out, polls) = block_on(fut, &host, &task);
    assert_eq!(out, Outcome::Text("slept 50 ms".into()));
    assert_eq!(
        polls, 2,
        "one poll to park the waker, one after the timer fired"
    );
    assert_eq!(
        host.now.load(SeqCst) - t0,
        50_000_000,
        "the deadline was now + 50 ms"
    );
    assert_eq!((host.opened.load(SeqCst), host.closed.load(SeqCst)), (1, 1));
    assert_eq!(
        task.clones(),
        1,
        "the host waker was parked once, as the host's own"
    );
    assert_eq!(task.refs(), 0);
    assert!(task.only_saw_own_data());
}

#[test]
fn steady_state_polls_allocate_nothing_and_clone_nothing() {
    let host = FakeHost::new();
    let task = FakeTask::new();
    let fut = make("sleep", "1000").unwrap();
    let mut outcome = None;
    assert_eq!(poll_once(fut, &host, &task, &mut outcome), AWAKE_PENDING);
    let (a0, c0) = (allocations(), task.clones());
    for _ in 0..100 {
        assert_eq!(poll_once(fut, &host, &task, &mut outcome), AWAKE_PENDING);
    }
    assert_eq!(
        allocations() - a0,
        0,
        "re-polling a pending Rust future costs no allocation"
    );
    assert_eq!(task.clones(), c0, "the parked host waker is reused");
    unsafe { ((*fut.vtable).drop)(fut.self_) };
    assert_eq!(host.open_timers(), 0, "drop closed the timer");
    assert_eq!(task.refs(), 0);
}

#[test]
fn join_sleeps_repolls_only_woken_children() {
    let host = FakeHost::new();
    let task = FakeTask::new();
    let fut = make("join_sleeps", "10 20 30").unwrap();
    let (out, polls) = block_on(fut, &host, &task);
    assert_eq!(
        out,
        Outcome::Text("joined 3 sleeps in 30.0 ms (6 child polls, one waker per child)".into())
    );
    assert_eq!(polls, 4);
    assert_eq!((host.opened.load(SeqCst), host.closed.load(SeqCst)), (3, 3));
    assert_eq!(
        task.clones(),
        1,
        "the join keeps one clone of the task waker"
    );
    assert_eq!(task.refs(), 0);
}

#[test]
fn a_panic_becomes_an_error_and_later_polls_are_misuse() {
    let host = FakeHost::new();
    let task = FakeTask::new();
    let fut = make("panic", "boom at poll").unwrap();
    let mut outcome = None;
    assert_eq!(poll_once(fut, &host, &task, &mut outcome), AWAKE_ERROR);
    match outcome.take() {
        Some(Outcome::Error(code, msg)) => {
            assert_eq!(code, ERR_PANIC);
            assert!(msg.contains("panic: panic in poll: boom at poll"), "{msg}");
        }
        o => panic!("unexpected {o:?}"),
    }
    assert_eq!(poll_once(fut, &host, &task, &mut outcome), AWAKE_MISUSE);
    unsafe { ((*fut.vtable).drop)(fut.self_) };
}

#[test]
fn cancel_releases_the_timer_at_the_next_poll() {
    let host = FakeHost::new();
    let task = FakeTask::new();
    let fut = make("sleep", "1000").unwrap();
    let mut outcome = None;
    assert_eq!(poll_once(fut, &host, &task, &mut outcome), AWAKE_PENDING);
    assert_eq!(host.open_timers(), 1);
    let cancel = unsafe { (*fut.vtable).cancel.unwrap() };
    assert_eq!(unsafe { cancel(fut.self_) }, AWAKE_OK);
    assert_eq!(poll_once(fut, &host, &task, &mut outcome), AWAKE_CANCELLED);
    assert_eq!(host.open_timers(), 0);
    assert_eq!(
        task.refs(),
        0,
        "the parked waker was dropped with the timer"
    );
    unsafe { ((*fut.vtable).drop)(fut.self_) };
}

#[test]
fn bad_arguments_are_reported_by_make() {
    let (rc, msg) = make("sleep", "soon").unwrap_err();
    assert_eq!(rc, AWAKE_E_INVALID);
    assert!(msg.contains("\"soon\" is not a duration"), "{msg}");
    let (rc, msg) = make("join_sleeps", "").unwrap_err();
    assert_eq!(rc, AWAKE_E_INVALID);
    assert!(msg.contains("expected 1 to 1000 durations"), "{msg}");
    // Never-polled futures drop cleanly.
    let f = make("join_sleeps", "1 2").unwrap();
    unsafe { ((*f.vtable).drop)(f.self_) };
}

#[test]
fn spawn_failure_is_reported_with_the_host_code() {
    let host = FakeHost::new();
    let task = FakeTask::new();
    let (out, _) = block_on(make("spawn_and_join", "5").unwrap(), &host, &task);
    match out {
        Outcome::Error(code, msg) => {
            assert_eq!(code, AWAKE_E_CLOSED);
            assert!(msg.contains("host spawn failed with code -3"), "{msg}");
        }
        o => panic!("unexpected {o:?}"),
    }
    assert_eq!(task.refs(), 0);
}

/// Rust awaits awake futures (here: our own exports, seen through their C
/// vtables) with HostFuture, directly and inside a join.  Inside the join
/// each HostFuture hands C a Rust child waker (Arc behind the Rust awake
/// vtable), which the inner export unwraps back into that std Waker.
#[test]
fn host_futures_nest_and_wakers_round_trip() {
    let host = FakeHost::new();
    let task = FakeTask::new();
    let outer = export_local("nested", async {
        let first = unsafe { HostFuture::new(export("inner", sleep_text(5))) }?.await?;
        let joins = vec![
            unsafe { HostFuture::new(export("x", sleep_text(1))) }?,
            unsafe { HostFuture::new(export("y", sleep_text(2))) }?,
        ];
        let rest = join_all(joins)
            .await
            .into_iter()
            .map(|r| r.map(|o| o.text()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, Error>(format!("{}; {}", first.text(), rest.join(", ")))
    });
    assert_eq!(
        unsafe { (*outer.vtable).flags } & AWAKE_FUTURE_SEND,
        0,
        "export_local is not SEND"
    );
    let t0 = host.now.load(SeqCst);
    let (out, _) = block_on(outer, &host, &task);
    assert_eq!(
        out,
        Outcome::Text("slept 5 ms; slept 1 ms, slept 2 ms".into())
    );
    assert_eq!(host.now.load(SeqCst) - t0, 7_000_000);
    assert_eq!(host.open_timers(), 0);
    assert_eq!(task.refs(), 0);
    assert!(task.only_saw_own_data());
}

#[test]
fn sleep_outside_a_host_poll_says_so() {
    let mut s = Sleep::from_ms(1);
    let w = std::task::Waker::noop();
    let r = core::pin::Pin::new(&mut s).poll(&mut core::task::Context::from_waker(w));
    match r {
        core::task::Poll::Ready(Err(e)) => {
            assert_eq!(e.code, ERR_NO_HOST);
            assert!(e.message.contains("no awake host poll in progress"));
        }
        _ => panic!("expected an error"),
    }
}

#[test]
fn await_host_awaits_a_function_the_host_offers() {
    let host = FakeHost::new();
    let task = FakeTask::new();
    let (out, _) = block_on(
        make("await_host", "echo  hello there").unwrap(),
        &host,
        &task,
    );
    assert_eq!(out, Outcome::Text("echo: hello there".into()));
    let (out, _) = block_on(make("await_host", "nosuch x").unwrap(), &host, &task);
    match out {
        Outcome::Error(code, msg) => {
            assert_eq!(code, AWAKE_E_INVALID);
            assert!(
                msg.contains("host call \"nosuch\": no function \"nosuch\""),
                "{msg}"
            );
        }
        o => panic!("unexpected {o:?}"),
    }
    assert_eq!(task.refs(), 0);
    assert_eq!(host.open_timers(), 0);
}

use core::future::Future as _;

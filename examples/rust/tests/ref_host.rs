//! The cdylib against a real host: the C reference executor
//! (csupport/awake_ref.c) through its command-line runner examples/c/run.c,
//! both compiled here with $CC.  This is the plugin as a host sees it:
//! dlopen, awake_plugin_entry, make, block_on with the host's wakers,
//! timers and spawn.  Outputs are checked, never durations.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The runner, compiled once per test binary.
fn runner() -> &'static PathBuf {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let repo = common::repo();
        let dir = common::temp_dir("refhost");
        let exe = dir.join("run");
        common::run_ok(
            Command::new(common::cc())
                .args(["-std=c11", "-O1", "-I"])
                .arg(repo.join("include"))
                .arg("-I")
                .arg(repo.join("csupport"))
                .arg("-I")
                .arg(repo.join("examples/c"))
                .arg(repo.join("examples/c/run.c"))
                .arg(repo.join("csupport/awake_ref.c"))
                .arg("-o")
                .arg(&exe)
                .args(["-ldl", "-pthread"]),
            "compiling examples/c/run.c with csupport/awake_ref.c",
        );
        exe
    })
}

/// The cdylib cargo built with this test: target/<profile>/deps/ holds it
/// next to the test binary (target/<profile>/ too after `cargo build`).
fn plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap(); // target/<profile>/deps/ref_host-*
    let deps = exe.parent().unwrap();
    let lib = deps.join("libawake_example_rust.so");
    assert!(
        lib.exists(),
        "{} missing: cargo builds the cdylib with the tests",
        lib.display()
    );
    lib
}

/// Runs `run [options] <plugin> args...`; `args` may start with run's
/// options (`--stats`, `--cancel-after <dur>`).
fn run(args: &[&str]) -> Output {
    let mut i = 0;
    while i < args.len() && args[i].starts_with("--") {
        i += if args[i] == "--cancel-after" { 2 } else { 1 };
    }
    let lib = plugin();
    Command::new(runner())
        .args(&args[..i])
        .arg(lib)
        .args(&args[i..])
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the runner")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim_end().to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn lists_the_exports() {
    let o = run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains("plugin \"rust_example\" version 1.0.0, ABI 1.0, 5 export(s)"),
        "{s}"
    );
    for name in [
        "sleep",
        "join_sleeps",
        "spawn_and_join",
        "await_host",
        "panic",
    ] {
        assert!(
            s.lines().any(|l| l.trim_start().starts_with(name)),
            "{name} missing in:\n{s}"
        );
    }
}

#[test]
fn sleep_on_a_host_timer() {
    let o = run(&["--stats", "sleep", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "slept 5 ms");
    assert!(
        stderr(&o).contains("polls=2 "),
        "one poll to park, one after the fire: {}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("timers_fired=1 "), "{}", stderr(&o));
}

#[test]
fn join_sleeps_polls_each_child_twice() {
    let o = run(&["join_sleeps", "1", "2", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.starts_with("joined 3 sleeps in "), "{s}");
    assert!(
        s.ends_with(" ms (6 child polls, one waker per child)"),
        "{s}"
    );
}

#[test]
fn spawn_and_join_awaits_host_join_futures() {
    let o = run(&["--stats", "spawn_and_join", "1", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(s.starts_with("joined 2 spawned tasks in "), "{s}");
    assert!(s.ends_with(": slept 1 ms; slept 2 ms"), "{s}");
    let e = stderr(&o);
    assert!(
        e.contains("spawned=2 ") && e.contains("tasks_left=0"),
        "{e}"
    );
}

#[test]
fn spawn_and_join_one_task_awaits_its_join_directly() {
    let o = run(&["spawn_and_join", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.starts_with("joined 1 spawned tasks in ") && s.ends_with(": slept 1 ms"),
        "{s}"
    );
}

#[test]
fn a_panic_is_an_error_not_an_unwind() {
    let o = run(&["panic", "boom"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("failed with code 2: panic: panic in poll: boom"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn cancel_stops_a_long_sleep() {
    let o = run(&["--cancel-after", "2ms", "sleep", "60000"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(stdout(&o), "cancelled");
}

#[test]
fn await_host_of_a_function_nobody_offered_fails_cleanly() {
    let o = run(&["await_host", "echo", "hi"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("host call \"echo\""), "{}", stderr(&o));
}

/// A C host that offers the plugin's own `sleep` make function as "nap"
/// (awake_ref_offer) and runs `await_host <argv[2]>`: the Rust future calls
/// host->call, gets a future made by C-side code and awaits it from Rust.
const OFFER_HOST: &str = r#"
#include <stdio.h>
#include <string.h>
#include "awake_ref.h"
int main(int argc, char **argv) {
    const awake_plugin *p;
    char eb[512];
    if (argc != 3 || awake_ref_load(argv[1], &p, eb, sizeof eb) != AWAKE_OK) {
        fprintf(stderr, "load: %s\n", argc == 3 ? eb : "usage");
        return 2;
    }
    const awake_export *nap = awake_ref_find_export(p, "sleep");
    const awake_export *ah = awake_ref_find_export(p, "await_host");
    awake_ref_rt *rt = awake_ref_new();
    if (!nap || !ah || !rt || awake_ref_offer(rt, "nap", nap->make) != AWAKE_OK)
        return 2;
    awake_future f;
    awake_error *err = NULL;
    if (ah->make((const uint8_t *)argv[2], strlen(argv[2]), &f, &err) != AWAKE_OK)
        return 2;
    awake_bytes out;
    int32_t st = awake_ref_block_on(rt, f, &out, &err);
    if (st == AWAKE_READY) {
        fwrite(out.data, 1, out.len, stdout);
        if (out.drop)
            out.drop(out.data, out.len);
    } else {
        fprintf(stderr, "status %d: %s\n", st, err && err->message ? err->message : "");
        if (err)
            err->drop(err);
    }
    awake_ref_free(rt);
    return st == AWAKE_READY ? 0 : 1;
}
"#;

#[test]
fn await_host_awaits_a_function_the_c_host_offers() {
    let repo = common::repo();
    let dir = common::temp_dir("offer");
    let src = dir.join("offer.c");
    std::fs::write(&src, OFFER_HOST).unwrap();
    let exe = dir.join("offer");
    common::run_ok(
        Command::new(common::cc())
            .args(["-std=c11", "-O1", "-I"])
            .arg(repo.join("include"))
            .arg("-I")
            .arg(repo.join("csupport"))
            .arg(&src)
            .arg(repo.join("csupport/awake_ref.c"))
            .arg("-o")
            .arg(&exe)
            .args(["-ldl", "-pthread"]),
        "compiling the offering C host",
    );
    let o = Command::new(&exe)
        .arg(plugin())
        .arg("nap 3")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "slept 3 ms");
    let o = Command::new(&exe)
        .arg(plugin())
        .arg("nope 1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("host call \"nope\""), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_fail_in_make() {
    let o = run(&["sleep", "soon"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("\"soon\" is not a duration in milliseconds"),
        "{}",
        stderr(&o)
    );
}

//! tokio-anchor: the tokio side of awake's benchmarks (bench/README.md).
//!
//! Every measurement runs on tokio's current_thread runtime, the closest
//! thing tokio has to one awake worker, and prints one JSON line:
//!
//!   {"bench":"poll","impl":"tokio","value":63.1,"unit":"ns/poll"}
//!
//! Usage: tokio-anchor <bench> [args...]
//!   poll <tasks> <polls>     self-waking future, ns per poll
//!   spawn <n> <batch>        spawn + complete + join, ns per task
//!   wakert <n>               foreign-thread wake -> poll -> reply, p50 ns
//!   pingpong <n>             1-byte socketpair ping-pong, ns per round trip
//!   timers <n>               n timers (1-10 ms) created and fired, ms
//!   sleeplate <n> <us>       sleep(us) n times, p50 lateness in us
//!   mem <n>                  RSS bytes per pending task

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio-anchor: building the current_thread runtime failed")
}

fn emit(bench: &str, value: f64, unit: &str) {
    println!(
        "{{\"bench\":\"{}\",\"impl\":\"tokio\",\"value\":{:.3},\"unit\":\"{}\"}}",
        bench, value, unit
    );
}

fn arg(args: &[String], i: usize, name: &str) -> u64 {
    match args.get(i).map(|s| s.parse::<u64>()) {
        Some(Ok(v)) => v,
        _ => {
            eprintln!("tokio-anchor: argument {} (<{}>) must be a number", i, name);
            std::process::exit(2);
        }
    }
}

fn p50(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// A future that wakes itself `left` times before it is ready: each poll
/// is a wake_by_ref plus a return to the scheduler, as the C "yield" future.
struct SelfWake {
    left: u64,
}

impl Future for SelfWake {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            return Poll::Ready(());
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn bench_poll(tasks: u64, polls: u64) {
    let rt = runtime();
    let per = polls / tasks;
    let t0 = Instant::now();
    rt.block_on(async {
        let hs: Vec<_> = (0..tasks)
            .map(|_| tokio::spawn(SelfWake { left: per - 1 }))
            .collect();
        for h in hs {
            h.await.unwrap();
        }
    });
    let ns = t0.elapsed().as_nanos() as f64;
    emit("poll", ns / (per * tasks) as f64, "ns/poll");
}

/// Untimed warm-up batches before a spawn measurement, the same number on
/// every side of the row (awake-bench's SPAWN_WARMUP).
const SPAWN_WARMUP: u64 = 100;

fn bench_spawn(n: u64, batch: u64) {
    let rt = runtime();
    let rounds = (n / batch).max(1);
    let ns = rt.block_on(async {
        let mut hs = Vec::with_capacity(batch as usize);
        let mut sum = 0u64;
        let mut t0 = Instant::now();
        for r in 0..SPAWN_WARMUP + rounds {
            if r == SPAWN_WARMUP {
                t0 = Instant::now();
            }
            for _ in 0..batch {
                hs.push(tokio::spawn(async { 1u64 }));
            }
            for h in hs.drain(..) {
                sum += h.await.unwrap();
            }
        }
        assert_eq!(sum, (SPAWN_WARMUP + rounds) * batch);
        t0.elapsed().as_nanos() as f64
    });
    emit("spawn", ns / (rounds * batch) as f64, "ns/task");
}

/// State shared by the task and the foreign thread of the wake round trip.
struct RoundTrip {
    seq: AtomicU64,
    ack: AtomicU64,
    done: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

/// The task side: replies to every new sequence number it sees.
struct Replier {
    s: Arc<RoundTrip>,
}

impl Future for Replier {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let s = &self.s;
        {
            let mut w = s.waker.lock().unwrap();
            if w.is_none() {
                *w = Some(cx.waker().clone());
            }
        }
        let seq = s.seq.load(Ordering::Acquire);
        s.ack.store(seq, Ordering::Release);
        if s.done.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

fn bench_wakert(n: u64) {
    let rt = runtime();
    let s = Arc::new(RoundTrip {
        seq: AtomicU64::new(0),
        ack: AtomicU64::new(0),
        done: AtomicBool::new(false),
        waker: Mutex::new(None),
    });
    let ts = s.clone();
    let thread = std::thread::spawn(move || {
        let waker = loop {
            if let Some(w) = ts.waker.lock().unwrap().clone() {
                break w;
            }
            std::thread::yield_now();
        };
        let mut samples = Vec::with_capacity(n as usize);
        for i in 1..=n {
            let t0 = Instant::now();
            ts.seq.store(i, Ordering::Release);
            waker.wake_by_ref();
            while ts.ack.load(Ordering::Acquire) < i {
                std::hint::spin_loop();
            }
            samples.push(t0.elapsed().as_nanos() as u64);
        }
        ts.done.store(true, Ordering::Release);
        waker.wake();
        samples
    });
    rt.block_on(async {
        tokio::spawn(Replier { s: s.clone() }).await.unwrap();
    });
    let mut samples = thread.join().unwrap();
    emit("wakert", p50(&mut samples) as f64, "ns");
}

fn bench_pingpong(n: u64) {
    let rt = runtime();
    let t = rt.block_on(async {
        let (mut a, mut b) = tokio::net::UnixStream::pair().expect("socketpair");
        // The one byte in flight is read into an 8-byte buffer, as the C
        // plugin reads it: a short read clears readiness without an EAGAIN
        // read (tokio's PollEvented does that itself).
        let ponger = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            for _ in 0..n {
                assert_eq!(b.read(&mut buf).await.unwrap(), 1, "pingpong: one byte in flight");
                b.write_all(&buf[..1]).await.unwrap();
            }
        });
        let pinger = tokio::spawn(async move {
            let mut buf = [7u8; 8];
            let t0 = Instant::now();
            for _ in 0..n {
                a.write_all(&buf[..1]).await.unwrap();
                assert_eq!(a.read(&mut buf).await.unwrap(), 1, "pingpong: one byte in flight");
            }
            t0.elapsed()
        });
        let t = pinger.await.unwrap();
        ponger.await.unwrap();
        t
    });
    emit("pingpong", t.as_nanos() as f64 / n as f64, "ns/roundtrip");
}

/// Deadline of timer j of n: spread evenly over 1..10 ms.
fn timer_offset(j: u64, n: u64) -> Duration {
    Duration::from_nanos(1_000_000 + j * 9_000_000 / n)
}

/// Creation order: a permutation of 0..n (multiplication by a number prime
/// to n), so timers are not inserted in deadline order.
fn perm(i: u64, n: u64) -> u64 {
    let mut p = 7919u64;
    while gcd(p, n) != 1 {
        p += 2;
    }
    (i * p) % n
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Polls every sleep once (registering its timer entry), then is ready.
/// (std::future::poll_fn would do, but Debian 12's rustc 1.63 lacks it.)
struct RegisterAll<'a>(&'a mut Vec<Option<Pin<Box<tokio::time::Sleep>>>>);

impl Future for RegisterAll<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        for s in self.0.iter_mut().flatten() {
            let _ = s.as_mut().poll(cx);
        }
        Poll::Ready(())
    }
}

fn bench_timers(n: u64) {
    let rt = runtime();
    let el = rt.block_on(async {
        let t0 = tokio::time::Instant::now();
        let mut sleeps: Vec<Option<Pin<Box<tokio::time::Sleep>>>> =
            (0..n).map(|_| None).collect();
        for i in 0..n {
            let j = perm(i, n);
            sleeps[j as usize] = Some(Box::pin(tokio::time::sleep_until(t0 + timer_offset(j, n))));
        }
        // Poll each once so that every timer is registered with the driver
        // (creation), then wait for them in deadline order (firing).
        RegisterAll(&mut sleeps).await;
        for s in sleeps.into_iter().flatten() {
            s.await;
        }
        t0.elapsed()
    });
    emit("timers", el.as_nanos() as f64 / 1e6, "ms");
}

fn bench_sleeplate(n: u64, us: u64) {
    let rt = runtime();
    let mut late = rt.block_on(async {
        let mut late = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let dl = tokio::time::Instant::now() + Duration::from_micros(us);
            tokio::time::sleep_until(dl).await;
            late.push((tokio::time::Instant::now() - dl).as_nanos() as u64);
        }
        late
    });
    emit("sleeplate", p50(&mut late) as f64 / 1e3, "us");
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn bench_mem(n: u64) {
    let rt = runtime();
    let polled = Arc::new(AtomicU64::new(0));
    let before = rss_bytes();
    let after = rt.block_on(async {
        let mut hs = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let p = polled.clone();
            hs.push(tokio::spawn(async move {
                p.fetch_add(1, Ordering::Relaxed);
                std::future::pending::<()>().await
            }));
        }
        drop(hs); // detach: tasks stay pending, handles freed
        while polled.load(Ordering::Relaxed) < n {
            tokio::task::yield_now().await;
        }
        rss_bytes()
    });
    emit("mem", (after.saturating_sub(before)) as f64 / n as f64, "B/task");
    std::process::exit(0); // skip dropping 100k tasks
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(|s| s.as_str()) {
        Some("poll") => bench_poll(arg(&args, 2, "tasks"), arg(&args, 3, "polls")),
        Some("spawn") => bench_spawn(arg(&args, 2, "n"), arg(&args, 3, "batch")),
        Some("wakert") => bench_wakert(arg(&args, 2, "n")),
        Some("pingpong") => bench_pingpong(arg(&args, 2, "n")),
        Some("timers") => bench_timers(arg(&args, 2, "n")),
        Some("sleeplate") => bench_sleeplate(arg(&args, 2, "n"), arg(&args, 3, "us")),
        Some("mem") => bench_mem(arg(&args, 2, "n")),
        _ => {
            eprintln!("usage: tokio-anchor poll|spawn|wakert|pingpong|timers|sleeplate|mem ARGS (see the source)");
            std::process::exit(2);
        }
    }
}

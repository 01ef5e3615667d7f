//! What a PIN verification costs, and how the hashing queue behaves in bursts.
//!
//! Run with `cargo bench --bench pin_hash` (optional: `VP_BENCH_BURSTS=10,50,500`,
//! `VP_BENCH_WORKERS=2`). Prints, asserts nothing:
//!
//! 1. **Per-cost table**: for argon2id costs from the cheapest to OWASP's
//!    variants, the median verification time (wall and the thread's CPU time)
//!    with fresh memory per run (what argon2's own `verify_password` does) and
//!    with one reused `HashMemory` (what each hashing thread does), and the
//!    logins per second that CPU time gives on the workers.
//! 2. **Bursts through the pool**: N verifications queued at once on the
//!    production `HashPool` (default cost): p50/p95/max of the wait before a
//!    worker takes the job and of the whole latency (queued → answered), beside
//!    the theory "hash time × queue ahead / workers" (+ one hash for the
//!    latency), the target bound (see `print_burst`), the workers' mean idle
//!    time between two jobs (the queue's own cost), and the FIFO check (start
//!    order = queue order; `*` if the last queued did not wait the longest).
//!    The same bursts through the previous design (a
//!    semaphore of one slot per core around `spawn_blocking` with fresh memory)
//!    for comparison.
//!
//! Timings on a shared machine are noisy: read them as orders of magnitude.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use voiceportal::access::hash_pool::HashPool;
use voiceportal::config::Secret;
use voiceportal::domain::{HashCost, Pin, PinHasher};

const RUNS: usize = 15;

fn main() {
    let workers: usize = std::env::var("VP_BENCH_WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let bursts: Vec<usize> = std::env::var("VP_BENCH_BURSTS")
        .unwrap_or_else(|_| "10,50,500".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let pepper = Secret::new("bench-pepper");
    let pin = Pin::parse("583920").expect("a valid PIN");
    println!(
        "workers: {workers}; cores: {:?}; load average: {}",
        std::thread::available_parallelism(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    cost_table(&pepper, &pin, workers);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    for (label, cost) in [
        ("default", HashCost::default()),
        ("cheapest", HashCost::fast_for_tests()),
    ] {
        let hasher = PinHasher::new(&pepper, &cost).expect("a valid cost");
        let stored = hasher.hash(&pin).expect("hash");
        let hash_ms = reused_median_ms(&hasher, &pin, &stored);
        println!(
            "\nbursts at the {label} cost {cost:?}: one verification {hash_ms:.2} ms of CPU (reused memory)"
        );
        println!(
            "{:>6} {:>9} | {:>24} | {:>26} | {:>21} | {:>14} | {:>8} | FIFO",
            "burst",
            "design",
            "wait p50/p95/max ms",
            "latency p50/p95/max ms",
            "theory p95/max ms",
            "p95 bound ms",
            "idle ms"
        );
        for &n in &bursts {
            let pool = Arc::new(HashPool::start(&hasher, workers, n.max(1)).expect("pool"));
            let run = runtime.block_on(pool_burst(&pool, &pin, &stored, n));
            print_burst(n, "pool", &run, hash_ms, workers);
            let run = runtime.block_on(old_burst(&hasher, &pin, &stored, n, workers));
            print_burst(n, "old", &run, hash_ms, workers);
        }
    }
}

/// Median verification time per cost, fresh vs reused memory.
fn cost_table(pepper: &Secret, pin: &Pin, workers: usize) {
    println!(
        "\n{:>10} {:>5} | {:>17} | {:>17} | {:>6} | {:>13}",
        "memory",
        "iter",
        "wall fresh/reused",
        "CPU fresh/reused",
        "saved",
        format!("logins/s x{workers}")
    );
    let costs = [
        (64, 1),
        (1024, 1),
        (4 * 1024, 1),
        (7 * 1024, 5),
        (9 * 1024, 4),
        (12 * 1024, 3),
        (19 * 1024, 2),
        (46 * 1024, 1),
        (64 * 1024, 3),
    ];
    for (memory_kib, iterations) in costs {
        let cost = HashCost {
            memory_kib,
            iterations,
            parallelism: 1,
        };
        let hasher = PinHasher::new(pepper, &cost).expect("a valid cost");
        let stored = hasher.hash(pin).expect("hash");
        let (fresh, fresh_cpu) = measure(|| {
            assert!(hasher.verify(pin, &stored));
        });
        let mut memory = hasher.memory();
        let mut hashing = hasher.with(&mut memory);
        assert!(hashing.verify(pin, &stored));
        let (reused, reused_cpu) = measure(|| {
            assert!(hashing.verify(pin, &stored));
        });
        let (fresh_cpu, reused_cpu) = (median(fresh_cpu), median(reused_cpu));
        println!(
            "{:>7} KiB {iterations:>5} | {:>8.2} {:>8.2} | {fresh_cpu:>8.2} {reused_cpu:>8.2} | {:>5.0}% | {:>13.0}",
            memory_kib,
            median(fresh),
            median(reused),
            (1.0 - reused_cpu / fresh_cpu) * 100.0,
            workers as f64 * 1000.0 / reused_cpu,
        );
    }
}

/// Median CPU time of one verification with reused memory, ms.
fn reused_median_ms(hasher: &PinHasher, pin: &Pin, stored: &str) -> f64 {
    let mut memory = hasher.memory();
    let mut hashing = hasher.with(&mut memory);
    assert!(hashing.verify(pin, stored));
    median(
        measure(|| {
            assert!(hashing.verify(pin, stored));
        })
        .1,
    )
}

/// Per job in queue order: the wait before a worker took it, the latency until
/// its answer and its own hashing time; and the order in which jobs started.
struct Burst {
    waits: Vec<Duration>,
    latencies: Vec<Duration>,
    hash_times: Vec<Duration>,
    start_order: Vec<usize>,
    /// Per job in start order: (worker thread, started, ended), since queueing.
    runs: Vec<(String, Duration, Duration)>,
}

impl Burst {
    fn new(n: usize) -> Burst {
        Burst {
            waits: Vec::with_capacity(n),
            latencies: Vec::with_capacity(n),
            hash_times: Vec::with_capacity(n),
            start_order: Vec::new(),
            runs: Vec::new(),
        }
    }

    fn push(&mut self, (wait, hash_time, latency): (Duration, Duration, Duration)) {
        self.waits.push(wait);
        self.hash_times.push(hash_time);
        self.latencies.push(latency);
    }
}

/// One verification as a job: when it started (since `queued`) and how long it
/// took.
fn timed_verify(
    hashing: &mut voiceportal::domain::Hashing<'_>,
    pin: &Pin,
    stored: &str,
    queued: Instant,
) -> (Duration, Duration) {
    let started = Instant::now();
    assert!(hashing.verify(pin, stored));
    (started - queued, started.elapsed())
}

/// `n` verifications queued at once on the pool, in order 0..n.
async fn pool_burst(pool: &Arc<HashPool>, pin: &Pin, stored: &str, n: usize) -> Burst {
    let order = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let runs = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let queued = Instant::now();
    let mut jobs = Vec::with_capacity(n);
    for position in 0..n {
        let (pin, stored, order) = (pin.clone(), stored.to_string(), Arc::clone(&order));
        let runs = Arc::clone(&runs);
        let job = pool
            .submit(move |hashing| {
                order.lock().expect("order").push(position);
                let (wait, hash_time) = timed_verify(hashing, &pin, &stored, queued);
                let worker = std::thread::current().name().unwrap_or("?").to_owned();
                runs.lock()
                    .expect("runs")
                    .push((worker, wait, wait + hash_time));
                (wait, hash_time)
            })
            .expect("room in the queue");
        jobs.push(tokio::spawn(async move {
            let (wait, hash_time) = job.result().await.expect("no lost job");
            (wait, hash_time, queued.elapsed())
        }));
    }
    let mut burst = Burst::new(n);
    for job in jobs {
        burst.push(job.await.expect("a job"));
    }
    burst.start_order = order.lock().expect("order").clone();
    burst.runs = runs.lock().expect("runs").clone();
    burst
}

/// The design before the pool: one slot per core (a fair semaphore), then
/// `spawn_blocking` with fresh memory per verification.
async fn old_burst(hasher: &PinHasher, pin: &Pin, stored: &str, n: usize, slots: usize) -> Burst {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(slots));
    let order = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let queued = Instant::now();
    let mut jobs = Vec::with_capacity(n);
    for position in 0..n {
        let (hasher, pin, stored) = (hasher.clone(), pin.clone(), stored.to_string());
        let (semaphore, order) = (Arc::clone(&semaphore), Arc::clone(&order));
        jobs.push(tokio::spawn(async move {
            let _slot = semaphore.acquire_owned().await.expect("open");
            let (wait, hash_time) = tokio::task::spawn_blocking(move || {
                order.lock().expect("order").push(position);
                let mut memory = hasher.memory();
                timed_verify(&mut hasher.with(&mut memory), &pin, &stored, queued)
            })
            .await
            .expect("blocking");
            (wait, hash_time, queued.elapsed())
        }));
    }
    let mut burst = Burst::new(n);
    for job in jobs {
        burst.push(job.await.expect("a job"));
    }
    burst.start_order = order.lock().expect("order").clone();
    burst
}

/// One line per burst. Theory: the job at `position` answers after the rounds
/// of hashing ahead of it and its own, `(position / workers + 1) × hash_ms`.
/// Bound (the target): the hashing of the queue ahead of the p95 job,
/// as measured in this very run (the sum of the jobs' own hashing times up to
/// it, divided by the workers), + 20 ms. On a machine shared with other work the
/// hash times themselves stretch; the bound follows them, the theory does not.
fn print_burst(n: usize, design: &str, run: &Burst, hash_ms: f64, workers: usize) {
    if n == 0 {
        return;
    }
    let p95_position = (n * 95).div_ceil(100).max(1) - 1;
    let theory = |position: usize| ((position / workers) + 1) as f64 * hash_ms;
    let hashed_ahead: f64 = run.hash_times[..=p95_position]
        .iter()
        .map(Duration::as_secs_f64)
        .sum::<f64>()
        * 1000.0
        / workers as f64;
    let bound = hashed_ahead + 20.0;
    let mut latencies = run.latencies.clone();
    latencies.sort();
    let p95 = latencies[p95_position].as_secs_f64() * 1000.0;
    // FIFO with `workers` threads: a job starts among the `workers` jobs around
    // its place in line (two threads taking neighbours may record them in
    // either order); further off is out of order.
    let inversions = run
        .start_order
        .iter()
        .enumerate()
        .filter(|(rank, position)| rank.abs_diff(**position) >= workers)
        .count();
    let last_waits_longest = run.waits.iter().max() == run.waits.last();
    // A worker's idle time between two jobs of the burst: what the queue itself
    // costs (handing over the job and the answer), beside the hashing.
    let mut gaps = Vec::new();
    let mut last_end: std::collections::HashMap<&str, Duration> = Default::default();
    for (worker, start, end) in &run.runs {
        if let Some(previous) = last_end.insert(worker, *end) {
            gaps.push(start.saturating_sub(previous));
        }
    }
    let gap = if gaps.is_empty() {
        "-".to_owned()
    } else {
        let mean = gaps.iter().sum::<Duration>() / gaps.len() as u32;
        format!("{:.3}", mean.as_secs_f64() * 1000.0)
    };
    println!(
        "{n:>6} {design:>9} | {:>24} | {:>26} | {:>9.1} / {:>9.1} | {:>9.1} {:>4} | {:>8} | {}",
        summary(&run.waits),
        summary(&run.latencies),
        theory(p95_position),
        theory(n - 1),
        bound,
        if p95 <= bound { "ok" } else { "over" },
        gap,
        if inversions == 0 {
            format!("yes{}", if last_waits_longest { "" } else { "*" })
        } else {
            format!("{inversions} out of order")
        },
    );
}

fn summary(times: &[Duration]) -> String {
    let mut sorted: Vec<f64> = times.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    sorted.sort_by(f64::total_cmp);
    let at = |q: usize| sorted[((sorted.len() * q).div_ceil(100)).max(1) - 1];
    format!("{:.1} / {:.1} / {:.1}", at(50), at(95), at(100))
}

/// Sorted wall times and sorted CPU times of `RUNS` runs, in ms. CPU time (the
/// thread's time on a core, page faults included) is what a busy machine does
/// not stretch; wall time is what a caller waits.
fn measure(mut run: impl FnMut()) -> (Vec<f64>, Vec<f64>) {
    let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..RUNS)
        .map(|_| {
            let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
            run();
            let cpu = thread_cpu_ns().saturating_sub(cpu_start) as f64 / 1e6;
            (start.elapsed().as_secs_f64() * 1000.0, cpu)
        })
        .unzip();
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    (wall, cpu)
}

/// This thread's time on a CPU so far, ns.
fn thread_cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the call's duration.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if status != 0 {
        return 0;
    }
    u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(now.tv_nsec).unwrap_or(0)
}

fn median(sorted: Vec<f64>) -> f64 {
    sorted[sorted.len() / 2]
}

//! Load benchmark of the portal login: N simultaneous calls, each dialling the
//! portal, entering a mailbox number and a PIN, reaching the mailbox menu and
//! leaving it with `#`.
//!
//! Run with `cargo bench --bench portal_load`. Optional environment:
//! `VP_BENCH_CALLS=50,200,500` (the rounds) and `VP_BENCH_SPEED=50` (the
//! simulator's virtual-time factor).
//!
//! The service is built through the production path (`App::build` + `run`, via the
//! integration tests' `spawn_app_with`) and talks over loopback HTTP and websocket
//! to the ARI simulator, which runs in this same process; Redis is a real
//! `redis-server` child process started by the test harness. Latency is measured on
//! the caller's side with real `Instant`s: from the moment the caller's last DTMF
//! digit (`#`) was sent to the moment the next media item started playing to it.
//! Memory is this process's (service + simulator + callers), not redis-server's.
//!
//! Rounds start all their calls at once, so every caller presses its digits in the
//! same few milliseconds: a burst, the worst case for latency, not a steady rate.
//!
//! This is a benchmark: it prints numbers and asserts nothing about them.

#[allow(dead_code)]
#[path = "../tests/it/support/redis.rs"]
mod redis;

#[allow(dead_code)]
#[path = "../tests/it/support/redis_proxy.rs"]
mod redis_proxy;

#[allow(dead_code)]
#[path = "../tests/it/support/app.rs"]
mod app;

use std::time::{Duration, Instant};

use ari_sim::{CallEnd, Caller, Dial, Heard, SimConfig, Simulator};
use futures_util::future::join_all;
use voiceportal::domain::{MailboxId, Pin, PinHasher};
use voiceportal::store::mailboxes::{MailboxRecord, PinOrigin};

use app::spawn_app_with;

const DEFAULT_ROUNDS: [usize; 3] = [50, 200, 500];
const DEFAULT_SPEED: f64 = 50.0;
const WARM_UP_CALLS: usize = 20;
const FIRST_MAILBOX: usize = 2000;
const PIN: &str = "135790";
/// Longest any single wait of a call may take before the call counts as failed;
/// it bounds the whole run.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

const MAILBOX_PROMPT: &str = "voiceportal/enter-mailbox";
const PIN_PROMPT: &str = "voiceportal/enter-pin";
const MENU: &str = "vm-youhave";
const GOODBYE: &str = "vm-goodbye";

/// What one call measured: for each DTMF entry, the time from its last digit to
/// the next media start.
struct CallTimes {
    after_mailbox: Duration,
    after_pin: Duration,
}

struct Round {
    calls: usize,
    ok: Vec<CallTimes>,
    failures: Vec<String>,
    wall: Duration,
    rss_before_kib: Option<u64>,
    peak_kib: Option<u64>,
    rss_after_kib: Option<u64>,
}

fn main() {
    let rounds = env_rounds();
    let speed = std::env::var("VP_BENCH_SPEED")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(DEFAULT_SPEED);
    // Two workers, as the load test uses: the numbers should not depend on the
    // size of the machine more than they must.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench(rounds, speed));
}

fn env_rounds() -> Vec<usize> {
    let Ok(spec) = std::env::var("VP_BENCH_CALLS") else {
        return DEFAULT_ROUNDS.to_vec();
    };
    let rounds: Vec<usize> = spec
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .filter(|n| (1..=7999).contains(n))
        .collect();
    if rounds.is_empty() {
        DEFAULT_ROUNDS.to_vec()
    } else {
        rounds
    }
}

async fn bench(rounds: Vec<usize>, speed: f64) {
    let sim_config = SimConfig {
        speed,
        ..SimConfig::default()
    };
    let app = spawn_app_with(sim_config, |_| {}).await;
    let mailboxes = rounds.iter().copied().max().unwrap_or(0).max(WARM_UP_CALLS);
    let hasher = PinHasher::new(&app.config.security.pepper, &app.config.security.hash)
        .expect("a PIN hasher");
    let hash = hasher
        .hash(&Pin::parse(PIN).expect("a valid PIN"))
        .expect("hash the PIN");
    for i in 0..mailboxes {
        let mut record = MailboxRecord::new(mailbox_id(i));
        record.name_recorded = true;
        app.store
            .create_mailbox(&record, None)
            .await
            .expect("create a mailbox");
        app.store
            .set_pin(&record.id, &hash, PinOrigin::User, 5)
            .await
            .expect("set a PIN");
    }

    println!(
        "portal_load: {} CPU(s) available, tokio runtime with 2 workers, simulator speed x{speed}, \
         PIN hash cost {:?} (the test harness's), {} mailboxes",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        app.config.security.hash,
        mailboxes
    );
    println!(
        "The service, the ARI simulator and the callers share this process (loopback HTTP + \
         websocket); redis-server is a separate process and not counted in RSS."
    );

    let warm = run_round(&app.sim, WARM_UP_CALLS).await;
    println!(
        "warm-up: {} calls, {} ok, {} failed",
        warm.calls,
        warm.ok.len(),
        warm.failures.len()
    );

    let mut results = Vec::new();
    for &calls in &rounds {
        let round = run_round(&app.sim, calls).await;
        for failure in round.failures.iter().take(3) {
            println!("  N={calls} failure: {failure}");
        }
        results.push(round);
    }
    print_tables(&results);
}

fn mailbox_id(i: usize) -> MailboxId {
    MailboxId::parse(&(FIRST_MAILBOX + i).to_string()).expect("a valid mailbox number")
}

async fn run_round(sim: &Simulator, calls: usize) -> Round {
    wait_idle(sim).await;
    let rss_before_kib = proc_status_kib("VmRSS");
    // Writing 5 to clear_refs resets VmHWM to the current RSS, so the peak below is
    // this round's, not the process's whole life.
    let hwm_reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = Instant::now();
    let outcomes = join_all((0..calls).map(|i| one_call(sim.clone(), i))).await;
    let wall = started.elapsed();
    let peak_kib = proc_status_kib("VmHWM").filter(|_| hwm_reset);
    wait_idle(sim).await;
    let rss_after_kib = proc_status_kib("VmRSS");
    let mut ok = Vec::new();
    let mut failures = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok(times) => ok.push(times),
            Err(e) => failures.push(e),
        }
    }
    Round {
        calls,
        ok,
        failures,
        wall,
        rss_before_kib,
        peak_kib,
        rss_after_kib,
    }
}

/// Waits (bounded) until no channel is left in Stasis, so rounds do not overlap.
async fn wait_idle(sim: &Simulator) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    while !sim.live_channels().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn one_call(sim: Simulator, i: usize) -> Result<CallTimes, String> {
    let mailbox = (FIRST_MAILBOX + i).to_string();
    let mut dial = Dial::portal(&mailbox);
    // Not a trusted context: the portal asks for the mailbox number first.
    dial.context = "from-outside".into();
    let caller = sim.dial(dial).await;
    if caller.stasis_failed() {
        return Err(format!("{mailbox}: no app connected"));
    }
    let result = script(&caller, &mailbox).await;
    if result.is_err() {
        caller.hangup().await;
    }
    result.map_err(|e| format!("{mailbox}: {e}"))
}

async fn script(caller: &Caller, mailbox: &str) -> Result<CallTimes, String> {
    let mut taken = 0;
    await_sound(caller, &mut taken, MAILBOX_PROMPT).await?;
    let after_mailbox =
        press_and_time(caller, &mut taken, &format!("{mailbox}#"), PIN_PROMPT).await?;
    let after_pin = press_and_time(caller, &mut taken, &format!("{PIN}#"), MENU).await?;
    // `#` leaves the mailbox menu (typed ahead of its prompt).
    caller.press("#").await;
    await_sound(caller, &mut taken, GOODBYE).await?;
    match caller.wait_end(STEP_TIMEOUT).await {
        Some(CallEnd::HungUpByApp { .. }) => Ok(CallTimes {
            after_mailbox,
            after_pin,
        }),
        other => Err(format!("call ended as {other:?}")),
    }
}

/// Takes heard items until `sound:<name>` starts. `taken` counts the items this
/// caller has taken so far (the caller's cursor).
async fn await_sound(caller: &Caller, taken: &mut usize, name: &str) -> Result<(), String> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match caller.next_heard(left).await {
            Some(heard) => {
                *taken += 1;
                if is_sound(&heard, name) {
                    return Ok(());
                }
            }
            None => return Err(format!("sound:{name} did not start in time")),
        }
    }
}

/// Presses `digits` and returns the time from the last digit to the first media
/// item that started after it; then waits for `sound:<expect>`.
async fn press_and_time(
    caller: &Caller,
    taken: &mut usize,
    digits: &str,
    expect: &str,
) -> Result<Duration, String> {
    caller.press(digits).await;
    let last_digit = Instant::now();
    // Everything already heard started before the last digit (the app needs at
    // least a websocket event and an HTTP request to start something new).
    let heard_before = caller.heard().len();
    let deadline = last_digit + STEP_TIMEOUT;
    let mut first_response = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(heard) = caller.next_heard(left).await else {
            return Err(format!(
                "sound:{expect} did not start in time after {digits}"
            ));
        };
        *taken += 1;
        if *taken > heard_before && first_response.is_none() {
            first_response = Some(last_digit.elapsed());
        }
        if is_sound(&heard, expect) {
            return first_response
                .ok_or_else(|| format!("sound:{expect} started before the last digit"));
        }
    }
}

fn is_sound(heard: &Heard, name: &str) -> bool {
    matches!(heard, Heard::Sound { name: n, .. } if n == name)
}

/// A `/proc/self/status` field in KiB, e.g. `VmHWM` (peak RSS) or `VmRSS`.
fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn print_tables(rounds: &[Round]) {
    println!();
    println!(
        "Latency = caller's last DTMF digit (#) -> start of the next prompt, ms (both entries of every call)."
    );
    println!(
        "{:>6} {:>6} {:>6} {:>8} {:>8} | {:>7} {:>7} {:>7} {:>7} | {:>9} {:>9} {:>9} {:>10}",
        "calls",
        "ok",
        "failed",
        "wall s",
        "calls/s",
        "p50",
        "p95",
        "p99",
        "max",
        "RSS0 MiB",
        "peak MiB",
        "after MiB",
        "KiB/call"
    );
    for round in rounds {
        let mut all: Vec<Duration> = round
            .ok
            .iter()
            .flat_map(|t| [t.after_mailbox, t.after_pin])
            .collect();
        all.sort();
        let per_call = match (round.peak_kib, round.rss_before_kib) {
            (Some(peak), Some(before)) => format!(
                "{:.1}",
                peak.saturating_sub(before) as f64 / round.calls as f64
            ),
            _ => "n/a".into(),
        };
        println!(
            "{:>6} {:>6} {:>6} {:>8.2} {:>8.1} | {:>7} {:>7} {:>7} {:>7} | {:>9} {:>9} {:>9} {:>10}",
            round.calls,
            round.ok.len(),
            round.failures.len(),
            round.wall.as_secs_f64(),
            round.ok.len() as f64 / round.wall.as_secs_f64(),
            ms(percentile(&all, 50.0)),
            ms(percentile(&all, 95.0)),
            ms(percentile(&all, 99.0)),
            ms(all.last().copied().unwrap_or_default()),
            mib(round.rss_before_kib),
            mib(round.peak_kib),
            mib(round.rss_after_kib),
            per_call
        );
    }
    println!();
    println!(
        "By step, ms: mailbox# -> enter-pin prompt | PIN# (argon2 verify + Redis) -> mailbox menu"
    );
    println!(
        "{:>6} | {:>7} {:>7} {:>7} {:>7} | {:>7} {:>7} {:>7} {:>7}",
        "calls", "p50", "p95", "p99", "max", "p50", "p95", "p99", "max"
    );
    for round in rounds {
        let mut mailbox: Vec<Duration> = round.ok.iter().map(|t| t.after_mailbox).collect();
        let mut pin: Vec<Duration> = round.ok.iter().map(|t| t.after_pin).collect();
        mailbox.sort();
        pin.sort();
        println!(
            "{:>6} | {:>7} {:>7} {:>7} {:>7} | {:>7} {:>7} {:>7} {:>7}",
            round.calls,
            ms(percentile(&mailbox, 50.0)),
            ms(percentile(&mailbox, 95.0)),
            ms(percentile(&mailbox, 99.0)),
            ms(mailbox.last().copied().unwrap_or_default()),
            ms(percentile(&pin, 50.0)),
            ms(percentile(&pin, 95.0)),
            ms(percentile(&pin, 99.0)),
            ms(pin.last().copied().unwrap_or_default()),
        );
    }
    println!();
    println!(
        "RSS0 = VmRSS before the round; peak = VmHWM during the round (reset through \
         /proc/self/clear_refs); after = VmRSS once all channels left; KiB/call = (peak - RSS0) / calls. \
         All for this process: service + simulator + scripted callers."
    );
}

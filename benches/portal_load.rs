//! Load benchmark of the call path: the real `voiceportal` binary in its own
//! process, driven by the ARI simulator and scripted callers in this one.
//!
//! Run with `cargo bench --bench portal_load` (it builds and runs the release
//! binary). Three parts, each optional through the environment:
//!
//! - **steady** (`VP_BENCH_CONCURRENT=100,500,1000,2000`): calls arrive at a steady
//!   rate and each lives a realistic time: dial the portal from the owner's phone,
//!   PIN, "you have 1 message", press 1, hear the envelope and a 4 s message,
//!   hang up. The rate is N / (length of one call), so N calls are in progress at
//!   once; arrivals last one call length of ramp-up plus `VP_BENCH_HOLD_SECS`
//!   (default: one call length) at N.
//! - **short** (`VP_BENCH_SHORT=500`, `VP_BENCH_SHORT_RATE=50` calls/s): the short
//!   call the issue measured on Asterisk (answer, PIN prompt, PIN, "you have",
//!   hang up), at a steady rate; what matters is the service's CPU per call.
//! - **burst** (`VP_BENCH_BURST=50,200,500`): N calls started at once, each
//!   entering a mailbox number and a PIN from outside and leaving with `#`.
//!
//! `VP_BENCH_SPEED` (default 1: real time) is the simulator's audio speed-up.
//! An empty list (`VP_BENCH_BURST=`) skips a part.
//!
//! Measured, per round: completed calls per second; the **reaction time** the
//! simulator sees (from an event it sends to the next REST command for that
//! channel, see `Simulator::take_reaction_times`); the service's **CPU time per
//! completed call** (`/proc/<pid>/stat` utime + stime of the service process
//! over the round, divided by the completed calls); its **peak RSS per
//! concurrent call** (VmHWM during the round, reset through `clear_refs`, minus
//! VmRSS before it, divided by N); calls **lost** (a step not reached in time)
//! and **stuck** (still active in the service's `voiceportal_calls_active` once
//! every caller is gone). PIN hashing is excluded: the service runs at the
//! cheapest argon2 cost its configuration accepts; `cargo bench --bench pin_hash`
//! measures the production cost apart.
//!
//! This is a benchmark: it prints numbers and asserts nothing about them.

#[allow(dead_code)]
#[path = "../tests/it/support/redis.rs"]
mod redis;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ari_sim::{CallEnd, Caller, Dial, Heard, SimConfig, Simulator};
use chrono::Utc;
use futures_util::future::join_all;
use voiceportal::config::RedisConfig;
use voiceportal::domain::{HashCost, MailboxId, Pin, PinHasher};
use voiceportal::store::Store;
use voiceportal::store::mailboxes::{MailboxRecord, PinOrigin};
use voiceportal::store::messages::{Folder, Message, MessageId};

use redis::TestRedis;

const FIRST_MAILBOX: usize = 20000;
const PIN: &str = "135790";
const PEPPER: &str = "bench-pepper";
/// The cheapest cost argon2 accepts (8 KiB, 1 pass, 1 lane): hashing is
/// measured apart by `benches/pin_hash.rs`.
const CHEAPEST_HASH: HashCost = HashCost {
    memory_kib: 8,
    iterations: 1,
    parallelism: 1,
};
/// Virtual length of each mailbox's one message.
const MESSAGE_SECS: f64 = 4.0;
/// Longest any single wait of a call may take before the call counts as lost.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a call may stay active in the service after its caller hung up
/// before it counts as stuck.
const SETTLE: Duration = Duration::from_secs(3);

const PIN_PROMPT_OWN_PHONE: &str = "voiceportal/enter-pin-or-star";
const MAILBOX_PROMPT: &str = "voiceportal/enter-mailbox";
const PIN_PROMPT: &str = "voiceportal/enter-pin";
const YOU_HAVE: &str = "vm-youhave";
const MENU: &str = "vm-onefor";
const GOODBYE: &str = "vm-goodbye";

/// What the callers do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Own phone: PIN, summary, 1, envelope + message, hang up.
    Full,
    /// Own phone: PIN, "you have", hang up.
    Short,
    /// From outside: mailbox number, PIN, menu, `#`, goodbye from the service.
    Burst,
}

struct Settings {
    concurrent: Vec<usize>,
    hold: Option<Duration>,
    short_calls: usize,
    short_rate: f64,
    burst: Vec<usize>,
    speed: f64,
}

fn main() {
    raise_fd_limit();
    let settings = Settings {
        concurrent: env_list("VP_BENCH_CONCURRENT", &[100, 500, 1000, 2000]),
        hold: std::env::var("VP_BENCH_HOLD_SECS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64),
        short_calls: env_list("VP_BENCH_SHORT", &[500])
            .first()
            .copied()
            .unwrap_or(0),
        short_rate: env_f64("VP_BENCH_SHORT_RATE", 50.0),
        burst: env_list("VP_BENCH_BURST", &[50, 200, 500]),
        speed: env_f64("VP_BENCH_SPEED", 1.0),
    };
    // The callers and the simulator get two workers, like the service.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench(settings));
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(spec) => spec
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .filter(|n| (1..=20_000).contains(n))
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(default)
}

/// Thousands of calls need thousands of sockets (the service's HTTP requests to
/// the simulator); the child inherits the limit.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The service process and what the bench needs to watch it.
struct Service {
    child: Child,
    metrics_url: String,
    /// The Redis the service uses, to count the commands it sends.
    redis_url: String,
    http: reqwest::Client,
}

impl Drop for Service {
    /// SIGTERM first, so a profiler wrapping the service writes its output.
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's process id.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Service {
    fn start(sim: &Simulator, redis_url: &str, log: &std::path::Path) -> Service {
        let web = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port for the service's web server");
        let log = std::fs::File::create(log).expect("the service's log file");
        // `VP_BENCH_SERVICE_PREFIX="valgrind --tool=callgrind"` runs the service
        // under a profiler (same process id, so the numbers stay its own).
        let prefix: Vec<String> = std::env::var("VP_BENCH_SERVICE_PREFIX")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let binary = env!("CARGO_BIN_EXE_voiceportal");
        let mut command = match prefix.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command.env_remove("VOICEPORTAL_CONFIG");
        for (key, _) in std::env::vars() {
            if key.starts_with("VOICEPORTAL__") {
                command.env_remove(key);
            }
        }
        let config = sim.config();
        let child = command
            .env("VOICEPORTAL__ARI__URL", sim.base_url())
            .env("VOICEPORTAL__ARI__USERNAME", &config.username)
            .env("VOICEPORTAL__ARI__PASSWORD", &config.password)
            .env("VOICEPORTAL__ARI__APP", &config.app)
            .env("VOICEPORTAL__REDIS__URL", redis_url)
            .env("VOICEPORTAL__SECURITY__PEPPER", PEPPER)
            .env(
                "VOICEPORTAL__SECURITY__HASH__MEMORY_KIB",
                CHEAPEST_HASH.memory_kib.to_string(),
            )
            .env(
                "VOICEPORTAL__SECURITY__HASH__ITERATIONS",
                CHEAPEST_HASH.iterations.to_string(),
            )
            .env(
                "VOICEPORTAL__SECURITY__HASH__PARALLELISM",
                CHEAPEST_HASH.parallelism.to_string(),
            )
            // The simulator names a phone's channel PJSIP/phone1001-...
            .env(
                "VOICEPORTAL__PORTAL__OWN_PHONE_CHANNEL",
                "PJSIP/phone{number}",
            )
            .env("VOICEPORTAL__WEB__LISTEN", web.to_string())
            // The periodic repair pass costs per mailbox, not per call: kept out
            // of the rounds (it runs once at start, before them).
            .env("VOICEPORTAL__REPAIR__INTERVAL", "24h")
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start the voiceportal binary");
        Service {
            child,
            metrics_url: format!("http://{web}/metrics"),
            redis_url: redis_url.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// Commands Redis has processed so far (INFO `total_commands_processed`):
    /// during a round the service is its only client, this question aside.
    fn redis_commands(&self) -> u64 {
        ::redis::Client::open(self.redis_url.as_str())
            .and_then(|client| client.get_connection())
            .and_then(|mut conn| ::redis::cmd("INFO").arg("stats").query::<String>(&mut conn))
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|l| l.strip_prefix("total_commands_processed:"))
                    .and_then(|n| n.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// utime + stime of the service so far.
    fn cpu(&self) -> Cpu {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        // The command name (field 2) is in parentheses and may hold spaces.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        // SAFETY: sysconf only reads a system constant.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        // Fields 14 and 15 of the man page; `after` starts at field 3.
        let field = |i: usize| {
            let ticks = fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
            Duration::from_secs_f64(ticks as f64 / hz)
        };
        Cpu {
            user: field(11),
            system: field(12),
        }
    }

    /// A `/proc/<pid>/status` field in KiB, e.g. `VmHWM` (peak RSS) or `VmRSS`.
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().strip_suffix("kB")?.trim().parse().ok()
        })
    }

    /// Resets VmHWM to the current RSS, so the next peak read is the round's.
    fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    /// Calls the service still holds (`voiceportal_calls_active`, all entries).
    async fn active_calls(&self) -> Option<i64> {
        let text = self
            .http
            .get(&self.metrics_url)
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        Some(
            text.lines()
                .filter(|l| l.starts_with("voiceportal_calls_active{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<i64>().ok())
                .sum(),
        )
    }
}

async fn bench(settings: Settings) {
    let redis = TestRedis::fresh();
    let sim = Simulator::start(SimConfig {
        speed: settings.speed,
        ..SimConfig::default()
    })
    .await
    .expect("start the ARI simulator");
    let store = Store::connect(&RedisConfig::single(redis.url.clone()))
        .await
        .expect("connect to Redis");
    let biggest = settings
        .concurrent
        .iter()
        .chain(&settings.burst)
        .copied()
        .max()
        .unwrap_or(0);
    // Steady rounds start about 2 N calls; a mailbox is reused only after
    // twice a call's length.
    let mailboxes = (biggest * 2 + 100).max(settings.short_calls.min(1000) + 100);
    provision(&sim, &store, mailboxes).await;

    let log_path = std::env::temp_dir().join(format!("vp-bench-{}.log", std::process::id()));
    let service = Service::start(&sim, &redis.url, &log_path);
    assert!(
        sim.wait_app_connected(Duration::from_secs(20)).await,
        "the service did not connect to the simulator; its log: {}",
        log_path.display()
    );
    let mut pool = Pool {
        sim: sim.clone(),
        mailboxes,
        next: 0,
    };
    println!(
        "portal_load: service = release `voiceportal serve` (pid {}), its own process; \
         simulator (speed x{}) and callers in this process on 2 tokio workers; {} CPU(s); \
         redis-server apart. PIN hash cost {} KiB / {} pass / {} lane (the cheapest; \
         production cost: `cargo bench --bench pin_hash`). {} mailboxes with one message \
         of {MESSAGE_SECS} s. Service log: {}",
        service.pid(),
        settings.speed,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        CHEAPEST_HASH.memory_kib,
        CHEAPEST_HASH.iterations,
        CHEAPEST_HASH.parallelism,
        mailboxes,
        log_path.display()
    );

    // Warm-up, and the length of one full call, which sets the steady rates.
    let warm = pool.calls(10);
    let started = Instant::now();
    let outcomes = join_all(warm.into_iter().map(|(c, m)| one_call(c, m, Shape::Full))).await;
    let lost = outcomes.iter().filter(|o| o.is_err()).count();
    let call_length = started.elapsed();
    if let Some(Err(e)) = outcomes.iter().find(|o| o.is_err()) {
        println!("warm-up failure: {e}");
    }
    println!(
        "warm-up: 10 full calls, {lost} lost; one full call lasts {:.1} s",
        call_length.as_secs_f64()
    );
    if std::env::var("VP_BENCH_DEBUG").is_ok() {
        let mut kinds = std::collections::BTreeMap::new();
        for r in sim.request_log() {
            let path = r.path.split('?').next().unwrap_or("").to_string();
            let shape: String = path
                .split('/')
                .map(|seg| {
                    if seg.chars().any(|c| c.is_ascii_digit()) {
                        "*"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            *kinds.entry(format!("{} {shape}", r.method)).or_insert(0) += 1;
        }
        println!("requests of the warm-up: {kinds:#?}");
    }
    let idle = idle_cpu(&service).await;
    println!(
        "idle service: {:.2} ms CPU per second, RSS {} MiB",
        idle.as_secs_f64() * 1000.0,
        mib(service.status_kib("VmRSS"))
    );

    print_header();
    if settings.short_calls > 0 {
        let interval = Duration::from_secs_f64(1.0 / settings.short_rate);
        let round = run_round(
            &service,
            &mut pool,
            Shape::Short,
            settings.short_calls,
            |_| interval,
        )
        .await;
        print_row("short", &round);
    }
    for &n in &settings.concurrent {
        let hold = settings.hold.unwrap_or(call_length);
        let calls = ((call_length + hold).as_secs_f64() / call_length.as_secs_f64() * n as f64)
            .round() as usize;
        let interval = call_length.div_f64(n as f64);
        let round = run_round(&service, &mut pool, Shape::Full, calls, |_| interval).await;
        print_row(&format!("steady {n}"), &round);
    }
    for &n in &settings.burst {
        let round = run_round(&service, &mut pool, Shape::Burst, n, |_| Duration::ZERO).await;
        print_row(&format!("burst {n}"), &round);
    }
    println!(
        "\ncalls/s = completed calls / time from the first start to the last end; conc = the \
         most calls in progress at once; reaction = simulator's event -> the service's next \
         command on that channel (ms, n samples); CPU/call = service utime+stime over the \
         round / completed calls (includes its idle work), split into user + system ms; \
         req/call, ev/call = ARI requests and events per completed call; redis/call = commands \
         Redis processed per completed call (its INFO total_commands_processed); RSS/call = (VmHWM during the round - VmRSS \
         before) / most calls at once; lost = a step not reached within {} s; stuck = calls \
         still active in the service {} s after their callers left; load = /proc/loadavg \
         (1 min) at the start and end of the round.",
        STEP_TIMEOUT.as_secs(),
        SETTLE.as_secs()
    );
    drop(service);
}

/// Creates `count` mailboxes, each with the PIN and one message.
async fn provision(sim: &Simulator, store: &Store, count: usize) {
    let hasher = PinHasher::new(&voiceportal::config::Secret::new(PEPPER), &CHEAPEST_HASH)
        .expect("a PIN hasher at the cheapest cost");
    let hash = hasher
        .hash(&Pin::parse(PIN).expect("a valid PIN"))
        .expect("hash the PIN");
    let jobs: Vec<usize> = (0..count).collect();
    for chunk in jobs.chunks(200) {
        join_all(chunk.iter().map(|&i| {
            let hash = hash.clone();
            async move {
                let id = mailbox_id(i);
                let mut record = MailboxRecord::new(id.clone());
                record.name_recorded = true;
                store
                    .create_mailbox(&record, None)
                    .await
                    .expect("create a mailbox");
                store
                    .set_pin(&id, &hash, PinOrigin::User, 5)
                    .await
                    .expect("set a PIN");
                let received = Utc::now();
                let message = Message {
                    id: MessageId::generate(received),
                    mailbox: id,
                    folder: Folder::New,
                    caller_number: "5550100".into(),
                    caller_name: "Bench".into(),
                    received,
                    duration_secs: MESSAGE_SECS as u32,
                    recorded_on: String::new(),
                };
                sim.put_stored_recording(&message.recording(), MESSAGE_SECS);
                store
                    .save_message(&message, 100)
                    .await
                    .expect("store a message");
            }
        }))
        .await;
    }
}

fn mailbox_id(i: usize) -> MailboxId {
    MailboxId::parse(&(FIRST_MAILBOX + i).to_string()).expect("a valid mailbox number")
}

/// Hands out mailboxes round-robin.
struct Pool {
    sim: Simulator,
    mailboxes: usize,
    next: usize,
}

impl Pool {
    fn calls(&mut self, n: usize) -> Vec<(Simulator, String)> {
        (0..n).map(|_| self.take()).collect()
    }

    fn take(&mut self) -> (Simulator, String) {
        let mailbox = (FIRST_MAILBOX + self.next % self.mailboxes).to_string();
        self.next += 1;
        (self.sim.clone(), mailbox)
    }
}

/// CPU time of a process, in user space and in the kernel (system calls,
/// network stack, scheduling).
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    user: Duration,
    system: Duration,
}

impl Cpu {
    fn total(self) -> Duration {
        self.user + self.system
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            user: self.user.saturating_sub(before.user),
            system: self.system.saturating_sub(before.system),
        }
    }
}

/// What one round measured.
struct Round {
    started: usize,
    completed: usize,
    lost: Vec<String>,
    stuck: Option<i64>,
    wall: Duration,
    most_at_once: usize,
    reactions: Vec<Duration>,
    cpu: Cpu,
    requests: usize,
    events: u64,
    redis_commands: u64,
    rss_before_kib: Option<u64>,
    peak_kib: Option<u64>,
    load: (String, String),
}

/// Starts `calls` calls of `shape`, the i-th after `gap(i)` from the previous
/// one, waits for all of them, then for the service to settle.
async fn run_round(
    service: &Service,
    pool: &mut Pool,
    shape: Shape,
    calls: usize,
    gap: impl Fn(usize) -> Duration,
) -> Round {
    let sim = pool.sim.clone();
    wait_idle(&sim).await;
    let load_start = loadavg();
    let _ = sim.take_reaction_times();
    let rss_before_kib = service.status_kib("VmRSS");
    let peak_reset = service.reset_peak();
    let cpu_before = service.cpu();
    let requests_before = sim.request_log().len();
    let events_before = sim.events_sent();
    let redis_before = service.redis_commands();
    let in_progress = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut next_start = started;
    let mut tasks = Vec::with_capacity(calls);
    for i in 0..calls {
        next_start += gap(i);
        tokio::time::sleep_until(next_start.into()).await;
        let (sim, mailbox) = pool.take();
        let in_progress = in_progress.clone();
        let most = most.clone();
        tasks.push(tokio::spawn(async move {
            let now = in_progress.fetch_add(1, Ordering::Relaxed) + 1;
            most.fetch_max(now, Ordering::Relaxed);
            let outcome = one_call(sim, mailbox, shape).await;
            in_progress.fetch_sub(1, Ordering::Relaxed);
            outcome
        }));
    }
    let mut completed = 0;
    let mut lost = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(())) => completed += 1,
            Ok(Err(e)) => lost.push(e),
            Err(e) => lost.push(format!("caller task failed: {e}")),
        }
    }
    let wall = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let stuck = service.active_calls().await;
    let cpu = service.cpu().since(cpu_before);
    let requests = sim.request_log().len().saturating_sub(requests_before);
    let events = sim.events_sent().saturating_sub(events_before);
    let redis_commands = service.redis_commands().saturating_sub(redis_before);
    let peak_kib = service.status_kib("VmHWM").filter(|_| peak_reset);
    Round {
        started: calls,
        completed,
        lost,
        stuck,
        wall,
        most_at_once: most.load(Ordering::Relaxed),
        reactions: sim.take_reaction_times(),
        cpu,
        requests,
        events,
        redis_commands,
        rss_before_kib,
        peak_kib,
        load: (load_start, loadavg()),
    }
}

/// The service's CPU per second while no call is in progress.
async fn idle_cpu(service: &Service) -> Duration {
    let before = service.cpu();
    let span = Duration::from_secs(3);
    tokio::time::sleep(span).await;
    service
        .cpu()
        .since(before)
        .total()
        .div_f64(span.as_secs_f64())
}

/// Waits (bounded) until no channel is left in Stasis, so rounds do not overlap.
async fn wait_idle(sim: &Simulator) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    while !sim.live_channels().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

async fn one_call(sim: Simulator, mailbox: String, shape: Shape) -> Result<(), String> {
    let mut dial = Dial::portal(&mailbox);
    if shape == Shape::Burst {
        // Not a trusted context: the portal asks for the mailbox number first.
        dial.context = "from-outside".into();
    }
    let caller = sim.dial(dial).await;
    if caller.stasis_failed() {
        return Err(format!("{mailbox}: no app connected"));
    }
    let result = match shape {
        Shape::Full => full_call(&caller).await,
        Shape::Short => short_call(&caller).await,
        Shape::Burst => burst_call(&caller, &mailbox).await,
    };
    if result.is_err() {
        caller.hangup().await;
    }
    result.map_err(|e| format!("{mailbox}: {e}"))
}

async fn full_call(caller: &Caller) -> Result<(), String> {
    await_heard(caller, |h| is_sound(h, PIN_PROMPT_OWN_PHONE)).await?;
    caller.press(&format!("{PIN}#")).await;
    await_heard(caller, |h| is_sound(h, MENU)).await?;
    caller.press("1").await;
    await_heard(caller, |h| matches!(h, Heard::Recording { .. })).await?;
    // Whatever starts next (the message menu) means the message was heard.
    await_heard(caller, |_| true).await?;
    caller.hangup().await;
    Ok(())
}

async fn short_call(caller: &Caller) -> Result<(), String> {
    await_heard(caller, |h| is_sound(h, PIN_PROMPT_OWN_PHONE)).await?;
    caller.press(&format!("{PIN}#")).await;
    await_heard(caller, |h| is_sound(h, YOU_HAVE)).await?;
    caller.hangup().await;
    Ok(())
}

async fn burst_call(caller: &Caller, mailbox: &str) -> Result<(), String> {
    await_heard(caller, |h| is_sound(h, MAILBOX_PROMPT)).await?;
    caller.press(&format!("{mailbox}#")).await;
    await_heard(caller, |h| is_sound(h, PIN_PROMPT)).await?;
    caller.press(&format!("{PIN}#")).await;
    await_heard(caller, |h| is_sound(h, YOU_HAVE)).await?;
    // `#` leaves the mailbox menu (typed ahead of its prompt).
    caller.press("#").await;
    await_heard(caller, |h| is_sound(h, GOODBYE)).await?;
    match caller.wait_end(STEP_TIMEOUT).await {
        Some(CallEnd::HungUpByApp { .. }) => Ok(()),
        other => Err(format!("call ended as {other:?}")),
    }
}

/// Takes heard items until one matches.
async fn await_heard(caller: &Caller, wanted: impl Fn(&Heard) -> bool) -> Result<(), String> {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match caller.next_heard(left).await {
            Some(heard) if wanted(&heard) => return Ok(()),
            Some(_) => {}
            None => return Err(format!("step not reached; heard {:?}", caller.heard())),
        }
    }
}

fn is_sound(heard: &Heard, name: &str) -> bool {
    matches!(heard, Heard::Sound { name: n, .. } if n == name)
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
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn print_header() {
    println!(
        "\n{:<12} {:>6} {:>6} {:>5} {:>5} {:>7} {:>5} | {:>7} {:>7} {:>7} {:>6} | {:>8} {:>11} {:>8} {:>7} {:>10} | {:>8} {:>9} | {:>9}",
        "round",
        "calls",
        "done",
        "lost",
        "stuck",
        "calls/s",
        "conc",
        "p50 ms",
        "p99 ms",
        "max ms",
        "n",
        "CPU/call",
        "user+sys",
        "req/call",
        "ev/call",
        "redis/call",
        "peak MiB",
        "RSS/call",
        "load"
    );
}

fn print_row(name: &str, round: &Round) {
    let mut reactions = round.reactions.clone();
    reactions.sort();
    let per_call = |d: Duration| d.div_f64(round.completed.max(1) as f64);
    let rss_per_call = match (round.peak_kib, round.rss_before_kib) {
        (Some(peak), Some(before)) if round.most_at_once > 0 => format!(
            "{:.1} KiB",
            peak.saturating_sub(before) as f64 / round.most_at_once as f64
        ),
        _ => "n/a".into(),
    };
    println!(
        "{:<12} {:>6} {:>6} {:>5} {:>5} {:>7.1} {:>5} | {:>7} {:>7} {:>7} {:>6} | {:>5} ms {:>5}+{:<5} {:>8.1} {:>7.1} {:>10.1} | {:>8} {:>9} | {:>4}->{:<4}",
        name,
        round.started,
        round.completed,
        round.lost.len(),
        round.stuck.map_or_else(|| "?".into(), |n| n.to_string()),
        round.completed as f64 / round.wall.as_secs_f64(),
        round.most_at_once,
        ms(percentile(&reactions, 50.0)),
        ms(percentile(&reactions, 99.0)),
        ms(reactions.last().copied().unwrap_or_default()),
        reactions.len(),
        ms(per_call(round.cpu.total())),
        ms(per_call(round.cpu.user)),
        ms(per_call(round.cpu.system)),
        round.requests as f64 / round.completed.max(1) as f64,
        round.events as f64 / round.completed.max(1) as f64,
        round.redis_commands as f64 / round.completed.max(1) as f64,
        mib(round.peak_kib),
        rss_per_call,
        round.load.0,
        round.load.1
    );
    for e in round.lost.iter().take(2) {
        println!("    lost: {e}");
    }
}

//! Load benchmark of the web portals and the API: C concurrent clients, each
//! with its own keep-alive connection, sending the same request in a loop; then
//! administrator sign-ins at the production password hash cost.
//!
//! Run with `cargo bench --bench web_load`. Optional environment:
//! `VP_BENCH_CLIENTS=1,10,50` (concurrency levels) and `VP_BENCH_REQUESTS=1000`
//! (requests per scenario and level).
//!
//! The service is built through the production path (`App::build` + `run`, via
//! the integration tests' `spawn_app_with`), in this process with its ARI
//! simulator and the clients, on a two-worker runtime; Redis is a real
//! `redis-server` child process. Latency is measured by the clients, from
//! sending a request to having read the whole response.
//!
//! Every request of the first part is authenticated by a session cookie or a
//! bearer token, which costs one keyed BLAKE2b digest and Redis reads: no
//! argon2. The sign-ins of the second part each run one argon2id verification
//! at the default cost (19 MiB, 2 passes), reported apart. They come from
//! distinct loopback addresses (127.0.0.2, 127.0.0.3, ...), as distinct people
//! would, since one address may make only 20 attempts per 15 minutes.
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

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ari_sim::SimConfig;
use chrono::Utc;
use futures_util::future::join_all;
use voiceportal::access::Access;
use voiceportal::admin::{Admin, MailboxFields};
use voiceportal::domain::{HashCost, MailboxId, Password};
use voiceportal::store::messages::{Folder, Message, MessageId};
use voiceportal::store::sessions::SessionSubject;

use app::{TestApp, spawn_app_with};

const DEFAULT_CLIENTS: [usize; 3] = [1, 10, 50];
const DEFAULT_REQUESTS: usize = 1000;
const MAILBOXES: usize = 100;
const MESSAGES: usize = 10;
const PASSWORD: &str = "correct horse battery staple";
/// Sign-ins measured at the production cost, and how many run at once.
const SIGN_INS: usize = 100;
const SIGN_IN_CLIENTS: usize = 10;

fn main() {
    let clients = env_list("VP_BENCH_CLIENTS").unwrap_or_else(|| DEFAULT_CLIENTS.to_vec());
    let requests = env_list("VP_BENCH_REQUESTS")
        .and_then(|l| l.first().copied())
        .unwrap_or(DEFAULT_REQUESTS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench(clients, requests));
}

fn env_list(name: &str) -> Option<Vec<usize>> {
    let list: Vec<usize> = std::env::var(name)
        .ok()?
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .filter(|n| (1..=10_000).contains(n))
        .collect();
    (!list.is_empty()).then_some(list)
}

/// What one scenario sends.
struct Scenario {
    name: &'static str,
    path: String,
    /// `Cookie` or `Authorization` header.
    header: Option<(&'static str, String)>,
}

struct Outcome {
    clients: usize,
    ok: usize,
    failed: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

async fn provision(app: &TestApp) -> (String, String, String) {
    let admin = Admin::new(&app.config, app.store.clone()).expect("admin operations");
    for i in 0..MAILBOXES {
        let number = (1001 + i).to_string();
        let fields = MailboxFields {
            display_name: Some(format!("Owner {number}")),
            timezone: Some("Europe/Paris".into()),
            ..MailboxFields::default()
        };
        admin
            .create_mailbox("bench", &number, &fields)
            .await
            .expect("a mailbox");
    }
    let first = MailboxId::parse("1001").expect("a mailbox number");
    for m in 0..MESSAGES {
        let received = Utc::now() - chrono::Duration::minutes(m as i64);
        let message = Message {
            id: MessageId::generate(received),
            mailbox: first.clone(),
            folder: Folder::New,
            caller_number: "0612345678".into(),
            caller_name: String::new(),
            received,
            duration_secs: 30,
            recorded_on: String::new(),
        };
        app.sim.put_stored_recording(&message.recording(), 30.0);
        app.store
            .save_message(&message, 1000)
            .await
            .expect("a message");
    }
    admin
        .create_account(
            "bench",
            "alice",
            Password::new_password(PASSWORD).expect("a password"),
        )
        .await
        .expect("an account");
    let token = admin.create_token("bench", "bench").await.expect("a token");
    let access = Access::new(&app.config, app.store.clone()).expect("access");
    let account = app
        .store
        .admin_account(&voiceportal::domain::AdminName::parse("alice").expect("a name"))
        .await
        .expect("redis")
        .expect("the account");
    let hour = Duration::from_secs(3600);
    let admin_session = access
        .start_session(
            SessionSubject::Admin {
                name: account.name,
                generation: account.generation,
            },
            hour,
        )
        .await
        .expect("an administrator session");
    let owner_session = access
        .start_session(SessionSubject::Owner(first), hour)
        .await
        .expect("an owner session");
    (
        token,
        admin_session.expose().to_owned(),
        owner_session.expose().to_owned(),
    )
}

async fn bench(levels: Vec<usize>, requests: usize) {
    let app = spawn_app_with(SimConfig::default(), |_| {}).await;
    let (token, admin_session, owner_session) = provision(&app).await;
    println!(
        "web_load: {} CPU(s), tokio runtime with 2 workers (service, ARI simulator and clients \
         in one process), redis-server apart; {MAILBOXES} mailboxes, {MESSAGES} messages in \
         mailbox 1001; {requests} requests per scenario and level",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let scenarios = [
        Scenario {
            name: "GET /healthz (no auth)",
            path: "/healthz".into(),
            header: None,
        },
        Scenario {
            name: "API GET /api/v1/mailboxes/1001",
            path: "/api/v1/mailboxes/1001".into(),
            header: Some(("authorization", format!("Bearer {token}"))),
        },
        Scenario {
            name: "API GET /api/v1/mailboxes (100)",
            path: "/api/v1/mailboxes".into(),
            header: Some(("authorization", format!("Bearer {token}"))),
        },
        Scenario {
            name: "page GET /admin (list of 100)",
            path: "/admin".into(),
            header: Some(("cookie", format!("vp_admin={admin_session}"))),
        },
        Scenario {
            name: "page GET /admin/mailboxes/1001",
            path: "/admin/mailboxes/1001".into(),
            header: Some(("cookie", format!("vp_admin={admin_session}"))),
        },
        Scenario {
            name: "page GET /my (10 messages)",
            path: "/my".into(),
            header: Some(("cookie", format!("vp_owner={owner_session}"))),
        },
    ];
    println!();
    println!(
        "{:<34} {:>7} {:>7} {:>6} {:>9} | {:>7} {:>7} {:>7} {:>7}",
        "scenario", "clients", "ok", "failed", "req/s", "p50 ms", "p99 ms", "max ms", "mean ms"
    );
    for scenario in &scenarios {
        for &clients in &levels {
            let outcome = run(&app.web_url, scenario, clients, requests).await;
            print_row(scenario.name, &outcome);
        }
    }
    sign_ins().await;
}

async fn run(base: &str, scenario: &Scenario, clients: usize, requests: usize) -> Outcome {
    let per_client = requests.div_ceil(clients);
    let started = Instant::now();
    let results = join_all((0..clients).map(|_| async {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        let mut latencies = Vec::with_capacity(per_client);
        let mut failed = 0;
        for _ in 0..per_client {
            let mut request = http.get(format!("{base}{}", scenario.path));
            if let Some((name, value)) = &scenario.header {
                request = request.header(*name, value);
            }
            let sent = Instant::now();
            let ok = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    response.bytes().await.is_ok() && status.is_success()
                }
                Err(_) => false,
            };
            if ok {
                latencies.push(sent.elapsed());
            } else {
                failed += 1;
            }
        }
        (latencies, failed)
    }))
    .await;
    let wall = started.elapsed();
    let mut latencies = Vec::new();
    let mut failed = 0;
    for (l, f) in results {
        latencies.extend(l);
        failed += f;
    }
    latencies.sort();
    Outcome {
        clients,
        ok: latencies.len(),
        failed,
        wall,
        latencies,
    }
}

/// Administrator sign-ins at the production hash cost: each one argon2id
/// verification, the cost reported apart from the requests above.
async fn sign_ins() {
    let app = spawn_app_with(SimConfig::default(), |config| {
        config.security.hash = HashCost::default();
    })
    .await;
    let admin = Admin::new(&app.config, app.store.clone()).expect("admin operations");
    // One account per client: sign-ins to one account at once are held to
    // `max_failed_attempts` in flight (the lockout's invariant), which would
    // measure the lock, not the server.
    for c in 0..SIGN_IN_CLIENTS {
        admin
            .create_account(
                "bench",
                &format!("admin{c}"),
                Password::new_password(PASSWORD).expect("a password"),
            )
            .await
            .expect("an account");
    }
    // One verification alone, for the cost of the hash itself.
    let hasher =
        voiceportal::domain::PinHasher::new(&app.config.security.pepper, &app.config.security.hash)
            .expect("a hasher");
    let hash = hasher
        .hash_password(&Password::new_password(PASSWORD).expect("a password"))
        .expect("a hash");
    let mut alone = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        assert!(hasher.verify_password(
            &Password::new_password(PASSWORD).expect("a password"),
            &hash
        ));
        alone.push(started.elapsed());
    }
    alone.sort();

    let base = app.web_url.clone();
    let per_client = SIGN_INS / SIGN_IN_CLIENTS;
    let started = Instant::now();
    let results = join_all((0..SIGN_IN_CLIENTS).map(|c| {
        let base = base.clone();
        async move {
            let mut latencies = Vec::new();
            let mut failed = 0;
            for i in 0..per_client {
                // A fresh client per sign-in, from its own loopback address: a
                // browser signing in, not a robot on one connection.
                let n = 2 + c * per_client + i;
                let ip = IpAddr::V4(Ipv4Addr::new(127, 0, (n / 250) as u8, (n % 250 + 2) as u8));
                let http = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .local_address(ip)
                    .build()
                    .expect("an HTTP client");
                let sent = Instant::now();
                let ok = sign_in(&http, &base, &format!("admin{c}")).await;
                if ok {
                    latencies.push(sent.elapsed());
                } else {
                    failed += 1;
                }
            }
            (latencies, failed)
        }
    }))
    .await;
    let wall = started.elapsed();
    let mut latencies = Vec::new();
    let mut failed = 0;
    for (l, f) in results {
        latencies.extend(l);
        failed += f;
    }
    latencies.sort();
    println!();
    println!(
        "Password hash (argon2id, {} KiB, {} passes, {} lane), one verification alone: \
         median {} ms, min {} ms, max {} ms",
        app.config.security.hash.memory_kib,
        app.config.security.hash.iterations,
        app.config.security.hash.parallelism,
        ms(percentile(&alone, 50.0)),
        ms(alone[0]),
        ms(alone[alone.len() - 1]),
    );
    println!(
        "Administrator sign-in over HTTP at that cost (form page + POST, {SIGN_IN_CLIENTS} at once):"
    );
    print_row(
        "POST /admin/sign-in",
        &Outcome {
            clients: SIGN_IN_CLIENTS,
            ok: latencies.len(),
            failed,
            wall,
            latencies,
        },
    );
}

/// GETs the sign-in page (for its cookie and CSRF token), then signs in.
async fn sign_in(http: &reqwest::Client, base: &str, name: &str) -> bool {
    let Ok(page) = http.get(format!("{base}/admin/sign-in")).send().await else {
        return false;
    };
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.split(';').next().filter(|p| p.starts_with("vp_form=")))
        .map(str::to_owned);
    let Ok(body) = page.text().await else {
        return false;
    };
    let (Some(cookie), Some(csrf)) = (cookie, csrf_in(&body)) else {
        return false;
    };
    let response = http
        .post(format!("{base}/admin/sign-in"))
        .header("cookie", cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", name),
            ("password", PASSWORD),
        ])
        .send()
        .await;
    matches!(response, Ok(r) if r.status().as_u16() == 303)
}

fn csrf_in(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

fn print_row(name: &str, o: &Outcome) {
    let mean = if o.latencies.is_empty() {
        Duration::ZERO
    } else {
        o.latencies.iter().sum::<Duration>() / o.latencies.len() as u32
    };
    println!(
        "{:<34} {:>7} {:>7} {:>6} {:>9.0} | {:>7} {:>7} {:>7} {:>7}",
        name,
        o.clients,
        o.ok,
        o.failed,
        o.ok as f64 / o.wall.as_secs_f64(),
        ms(percentile(&o.latencies, 50.0)),
        ms(percentile(&o.latencies, 99.0)),
        ms(o.latencies.last().copied().unwrap_or_default()),
        ms(mean),
    );
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

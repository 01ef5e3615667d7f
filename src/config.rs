//! Layered configuration: built-in defaults, then a TOML file, then environment
//! variables (`VOICEPORTAL__SECTION__KEY`, e.g. `VOICEPORTAL__ARI__URL`).
//!
//! The defaults work with a stock local Asterisk (ARI on 127.0.0.1:8088, app
//! `voiceportal`) and a local Redis, so a newcomer can start with no file at all.
//! Every value is validated once, here, with a message naming the key, so a broken
//! file fails at start-up rather than in the middle of a call.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::domain::template::Template;
use crate::domain::{HashCost, Language, LockoutPolicy, PinPolicy, ReceptionistConfig};

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "VOICEPORTAL_CONFIG";
/// Prefix of the environment overrides; sections are separated by `__`.
pub const ENV_PREFIX: &str = "VOICEPORTAL";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Load(String),
    #[error("invalid configuration value `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// A string that must never be printed: `Debug` and `Serialize` mask it.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The real value, for the one place that must send it (an HTTP header, a hash).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "***" })
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub ari: AriConfig,
    pub redis: RedisConfig,
    pub call: CallConfig,
    pub portal: PortalConfig,
    pub deposit: DepositConfig,
    pub receptionist: ReceptionistConfig,
    pub import: ImportConfig,
    pub email: EmailConfig,
    pub repair: RepairConfig,
    pub security: SecurityConfig,
    pub pin_policy: PinPolicy,
    pub lockout: LockoutPolicy,
    pub web: WebConfig,
    pub log: LogConfig,
    pub ha: HaConfig,
}

/// The HTTP server of `serve`: the administrator portal, the owners' portal, the
/// JSON API, health and metrics (SPEC "Web portal").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebConfig {
    /// Serve HTTP at all. Off: `serve` handles calls only.
    pub enabled: bool,
    /// Address and port to listen on. Loopback by default: nothing is reachable
    /// from the network until an administrator says so.
    pub listen: String,
    /// PEM certificate chain and private key: both given, the server speaks
    /// HTTPS only (and cookies get `Secure`); both empty, plain HTTP.
    pub tls_cert: String,
    pub tls_key: String,
    /// The address people type, e.g. `https://voicemail.example.org`; empty
    /// means `http(s)://<listen>`. Put in e-mails, and an `https` URL marks
    /// cookies `Secure` behind a TLS-terminating proxy too.
    pub public_url: String,
    /// How long a sign-in lasts, from the moment it was made (not renewed by
    /// activity, so a stolen cookie stops working on its own).
    #[serde(with = "humantime_serde")]
    pub session_lifetime: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            enabled: true,
            listen: "127.0.0.1:8090".into(),
            tls_cert: String::new(),
            tls_key: String::new(),
            public_url: String::new(),
            session_lifetime: Duration::from_secs(8 * 3600),
        }
    }
}

impl WebConfig {
    /// Whether the server itself speaks TLS.
    pub fn tls(&self) -> bool {
        !self.tls_cert.is_empty()
    }

    /// Whether people reach the server over HTTPS (its own TLS, or a proxy's as
    /// `public_url` says): cookies are then marked `Secure`.
    pub fn https(&self) -> bool {
        self.tls() || self.public_url.starts_with("https://")
    }

    /// `public_url` without a trailing slash, or one made from `listen`.
    pub fn base_url(&self) -> String {
        if self.public_url.is_empty() {
            let scheme = if self.tls() { "https" } else { "http" };
            format!("{scheme}://{}", self.listen)
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(invalid(
                "web.listen",
                format!(
                    "`{}` is not an address and port such as 127.0.0.1:8090",
                    self.listen
                ),
            ));
        }
        if self.tls_cert.is_empty() != self.tls_key.is_empty() {
            let key = if self.tls_cert.is_empty() {
                "web.tls_cert"
            } else {
                "web.tls_key"
            };
            return Err(invalid(
                key,
                "web.tls_cert and web.tls_key go together: set both or neither",
            ));
        }
        for (key, path) in [
            ("web.tls_cert", &self.tls_cert),
            ("web.tls_key", &self.tls_key),
        ] {
            if !path.is_empty() && !Path::new(path).is_file() {
                return Err(invalid(key, format!("{path} is not a readable file")));
            }
        }
        if !self.public_url.is_empty() {
            let url = url::Url::parse(&self.public_url).map_err(|e| {
                invalid(
                    "web.public_url",
                    format!("`{}` is not a URL: {e}", self.public_url),
                )
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(invalid(
                    "web.public_url",
                    "must be an http:// or https:// address",
                ));
            }
        }
        if self.session_lifetime < Duration::from_secs(60) {
            return Err(invalid("web.session_lifetime", "must be at least 1m"));
        }
        Ok(())
    }
}

/// The voice portal's own settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalConfig {
    /// The portal's own number: entered as a mailbox number, it leads to the admin
    /// passcode prompt and the auto-attendant greetings.
    pub number: String,
    /// Dialplan contexts whose caller ID can be trusted to be the caller's own
    /// extension (internal phones). Only there does "your own phone" skip the
    /// mailbox-number prompt.
    pub trusted_contexts: Vec<String>,
    /// The channel name prefix of a user's own phone, `{number}` standing for the
    /// extension: a caller counts as calling "from their own phone" only on a
    /// trusted context *and* on a channel of that phone's endpoint, so a call
    /// that came in from outside and was sent into a trusted context by the
    /// dialplan, with a forged caller ID, is not trusted. Empty: context only
    /// (only safe when no untrusted call can ever reach a trusted context).
    pub own_phone_channel: String,
    /// Whether the org default PIN opens a mailbox still on it from any phone.
    /// Off (the default), it works only from the owner's own phone (a trusted
    /// context and `own_phone_channel`); anywhere else it is a wrong PIN. Every
    /// employee knows the default PIN, so turned on, anyone who learns it (a
    /// colleague, a former employee, an outsider) can call in and take over
    /// every mailbox whose owner has not logged in yet, choosing its PIN.
    pub default_pin_from_any_phone: bool,
    /// Wrong PINs allowed in one call before goodbye (SPEC: 3).
    pub max_attempts_per_call: u32,
    /// Prompt language of mailboxes that do not set one.
    pub default_language: Language,
    /// The context part of the mailbox names published to ARI `/mailboxes`
    /// (`1001@default`); phones' PJSIP `mailboxes=` must name the same.
    pub mwi_context: String,
}

impl Default for PortalConfig {
    fn default() -> Self {
        PortalConfig {
            number: "8500".into(),
            trusted_contexts: vec!["from-phones".into()],
            own_phone_channel: "PJSIP/{number}".into(),
            default_pin_from_any_phone: false,
            max_attempts_per_call: 3,
            default_language: Language::En,
            mwi_context: "default".into(),
        }
    }
}

/// Leaving a message.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepositConfig {
    /// Longest message.
    #[serde(with = "humantime_serde")]
    pub max_message: Duration,
    /// Silence that ends a message.
    #[serde(with = "humantime_serde")]
    pub max_silence: Duration,
    /// Shorter messages are discarded (a hang-up right after the beep).
    #[serde(with = "humantime_serde")]
    pub min_message: Duration,
    /// Messages (new and old) a mailbox holds before "mailbox full".
    pub max_messages: u32,
    /// How long a deposit keeps trying to index a message while Redis does not
    /// answer (backing off up to a few seconds between tries). The caller is
    /// told the message is saved as soon as its audio is stored; if Redis is
    /// away longer, the periodic repair indexes it, lights the lamp and sends the
    /// e-mail once Redis is back.
    #[serde(with = "humantime_serde")]
    pub index_retry_for: Duration,
    /// A deposit in progress holds a lease on its record (caller, time, e-mail
    /// owed), renewed every third of this while the call runs. When the
    /// instance dies, repair finishes its deposits once the lease lapses.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Where `0` during a greeting sends the caller; absent: `0` does nothing.
    pub operator: Option<OperatorConfig>,
}

impl Default for DepositConfig {
    fn default() -> Self {
        DepositConfig {
            max_message: Duration::from_secs(180),
            max_silence: Duration::from_secs(10),
            min_message: Duration::from_secs(1),
            max_messages: 100,
            index_retry_for: Duration::from_secs(120),
            lease: Duration::from_secs(30),
            operator: None,
        }
    }
}

/// `voiceportal admin import app-voicemail`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImportConfig {
    /// Asterisk's recordings directory (`astspooldir`/recording): ARI has no
    /// upload, so imported audio is written there as the service's recordings
    /// are (`--recordings-dir` overrides it).
    pub recordings_dir: PathBuf,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            recordings_dir: PathBuf::from("/var/spool/asterisk/recording"),
        }
    }
}

/// A dialplan location: `0` during a greeting continues the call there.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    pub context: String,
    pub extension: String,
    #[serde(default = "first_priority")]
    pub priority: i64,
}

fn first_priority() -> i64 {
    1
}

/// E-mail notification of new messages (SPEC "Leaving a message", step 5): one mail
/// per message to the mailbox's address, the audio attached, sent in the background
/// with retries so a slow or dead mail server never delays a call.
///
/// `tls` defaults to `starttls`, which refuses to go on (and so never sends the
/// password) when the server does not offer STARTTLS. A local relay on 127.0.0.1
/// without a certificate for that address needs `tls = "none"`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    pub enabled: bool,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: SmtpTls,
    /// Empty: no SMTP authentication.
    pub username: String,
    pub password: Secret,
    /// `address` or `Name <address>`.
    pub from: String,
    /// Templates; placeholders `{mailbox}`, `{name}` (the owner's display name),
    /// `{caller}` (number), `{caller_name}`, `{date}` (in the mailbox's time zone),
    /// `{duration}` (m:ss). `{{` and `}}` are literal braces.
    pub subject: String,
    pub body: String,
    /// Attach the message's WAV file.
    pub attach_audio: bool,
    /// Tries per e-mail, the first included, before giving up.
    pub max_attempts: u32,
    /// Wait after the first failure; doubles after each further one, up to `retry_max`.
    #[serde(with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// Longest one SMTP command may take: a server that stops answering costs a
    /// worker this long, then the mail is retried later.
    #[serde(with = "humantime_serde")]
    pub smtp_timeout: Duration,
    /// Mails sent at the same time (each a worker with its own connection).
    pub concurrency: usize,
    /// Notifications waiting in Redis at most; beyond, new ones are dropped
    /// (logged) rather than pile up while the mail server is away.
    pub queue_max: usize,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            enabled: false,
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            tls: SmtpTls::Starttls,
            username: String::new(),
            password: Secret::default(),
            from: "voiceportal@localhost".into(),
            subject: "New voicemail from {caller} in mailbox {mailbox}".into(),
            body: "You have a new voicemail message.\n\n\
                   Mailbox:  {mailbox} {name}\n\
                   From:     {caller} {caller_name}\n\
                   Received: {date}\n\
                   Length:   {duration}\n\n\
                   You can also listen to it by calling your voice portal.\n"
                .into(),
            attach_audio: true,
            max_attempts: 5,
            retry_initial: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            smtp_timeout: Duration::from_secs(30),
            concurrency: 4,
            queue_max: 10_000,
        }
    }
}

/// The repair pass run by `serve` (also at start-up): it makes the message
/// index and Asterisk's recordings agree, finishes what crashed deposits left
/// (indexing, lamp, e-mail) and republishes every lamp.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepairConfig {
    /// Time between two passes.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for RepairConfig {
    fn default() -> Self {
        RepairConfig {
            interval: Duration::from_secs(300),
        }
    }
}

/// High availability (`[ha]`): two `serve` instances for one Asterisk, of which
/// only the holder of a lease in Redis owns the Stasis application (see `ha`).
/// Off by default: one instance, which connects at once.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HaConfig {
    pub enabled: bool,
    /// This instance's name in the lease and the logs; empty means
    /// `<hostname>-<pid>`. (The lease value adds a random suffix, so even two
    /// instances given the same name never both hold it.)
    pub instance_id: String,
    /// How long the lease lasts without renewal: the longest a dead active
    /// instance keeps the standby waiting.
    #[serde(with = "humantime_serde")]
    pub lease_ttl: Duration,
    /// How often the active instance renews the lease (the standby tries to
    /// take it four times as often).
    #[serde(with = "humantime_serde")]
    pub renew_interval: Duration,
}

/// The longest takeover `[ha]` may be configured for (lease TTL plus one
/// standby retry): the promise of a takeover within 5 seconds.
pub const HA_MAX_TAKEOVER: Duration = Duration::from_secs(5);

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            enabled: false,
            instance_id: String::new(),
            lease_ttl: Duration::from_secs(3),
            renew_interval: Duration::from_secs(1),
        }
    }
}

impl HaConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.instance_id.len() > 100
            || !self
                .instance_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(
                "ha.instance_id",
                "must be at most 100 letters, digits, '-', '_' or '.' (empty: hostname-pid)",
            ));
        }
        if self.renew_interval < Duration::from_millis(100) {
            return Err(invalid("ha.renew_interval", "must be at least 100ms"));
        }
        if self.lease_ttl < self.renew_interval.saturating_mul(2) {
            return Err(invalid(
                "ha.lease_ttl",
                "must be at least twice ha.renew_interval, so that one slow renewal does not lose the lease",
            ));
        }
        if self.lease_ttl + self.renew_interval > HA_MAX_TAKEOVER {
            return Err(invalid(
                "ha.lease_ttl",
                format!(
                    "ha.lease_ttl + ha.renew_interval must not exceed {}s: that is how long a standby may wait before it takes over",
                    HA_MAX_TAKEOVER.as_secs()
                ),
            ));
        }
        Ok(())
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same machine or a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS, required (usually port 587 or 25).
    Starttls,
    /// TLS from the first byte ("SMTPS", usually port 465).
    Tls,
}

/// How PINs and the portal passcode are hashed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// A server-side secret mixed into every hash (argon2's "secret"), kept out of
    /// Redis: a stolen database alone then cannot be brute-forced. Changing it
    /// invalidates every stored PIN.
    pub pepper: Secret,
    /// argon2id cost (docs/PIN-HASHING.md: how the default was chosen).
    pub hash: HashCost,
    /// The threads that run it.
    pub hash_pool: HashPoolConfig,
}

/// The PIN-hashing threads (`access::hash_pool`): logins are hashed in the order
/// they arrive by a fixed number of workers, each keeping its argon2 memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HashPoolConfig {
    /// Hashing threads; absent = one per available core (more cannot hash
    /// faster, and each holds `security.hash.memory_kib`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Most verifications waiting for a thread; one more is refused at once (the
    /// caller hears the apology) instead of waiting. Absent = 1000: at the
    /// default cost on 2 cores, about 15 s of hashing, well inside
    /// `lockout.attempt_ttl`, which a queued attempt must not outlive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_limit: Option<usize>,
}

impl HashPoolConfig {
    pub const DEFAULT_QUEUE_LIMIT: usize = 1000;

    /// The number of threads to start.
    pub fn workers(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        })
    }

    pub fn queue_limit(&self) -> usize {
        self.queue_limit.unwrap_or(Self::DEFAULT_QUEUE_LIMIT)
    }

    fn validate(&self) -> Result<(), String> {
        if self.workers == Some(0) {
            return Err("workers must be at least 1 (leave it out for one per core)".into());
        }
        if self.queue_limit == Some(0) {
            return Err("queue_limit must be at least 1".into());
        }
        Ok(())
    }
}

/// Where Asterisk's REST interface is and how we identify ourselves to it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AriConfig {
    /// Base URL of Asterisk's HTTP server, without `/ari`.
    pub url: String,
    pub username: String,
    pub password: Secret,
    /// The Stasis application name used in the dialplan: `Stasis(<app>,...)`.
    pub app: String,
    /// Longest time one REST request may take before it counts as a transport error.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// First delay before reconnecting the events websocket; doubles up to the maximum.
    #[serde(with = "humantime_serde")]
    pub reconnect_min: Duration,
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// Websocket ping interval: a dead TCP connection is noticed within two of these.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
}

impl Default for AriConfig {
    fn default() -> Self {
        AriConfig {
            url: "http://127.0.0.1:8088".into(),
            username: "voiceportal".into(),
            password: Secret::default(),
            app: "voiceportal".into(),
            request_timeout: Duration::from_secs(10),
            reconnect_min: Duration::from_millis(250),
            reconnect_max: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
        }
    }
}

#[derive(Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// How voiceportal finds Redis: one server (`url`), a Sentinel group
    /// (`sentinels` + `master_name`) or a Cluster (`nodes`).
    pub mode: RedisMode,
    /// Single mode: `redis://[:password@]host:port/db` or `rediss://` for TLS.
    #[serde(serialize_with = "serialize_masked_url")]
    pub url: String,
    /// Sentinel mode: the sentinels, `host:port` each.
    pub sentinels: Vec<String>,
    /// Sentinel mode: the name the sentinels monitor the master under.
    pub master_name: String,
    /// Cluster mode: some of the cluster's nodes, `host:port` each; the rest is
    /// discovered from them.
    pub nodes: Vec<String>,
    /// Sentinel and Cluster modes: the password of the Redis servers (`requirepass`).
    pub password: Secret,
    /// Sentinel mode: the password of the sentinels themselves, if they have one.
    pub sentinel_password: Secret,
    /// After every write, wait until this many replicas have it (`WAIT`), so that
    /// a failover cannot lose what a caller was told is saved. 0: do not wait
    /// (replication stays asynchronous).
    pub wait_replicas: u32,
    /// How long a write waits for `wait_replicas`; fewer by then fails the write.
    #[serde(with = "humantime_serde")]
    pub wait_timeout: Duration,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    #[default]
    Single,
    Sentinel,
    Cluster,
}

/// The URL may carry the Redis password: show it masked.
impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("mode", &self.mode)
            .field("url", &mask_url(&self.url))
            .field("sentinels", &self.sentinels)
            .field("master_name", &self.master_name)
            .field("nodes", &self.nodes)
            .field("password", &self.password)
            .field("sentinel_password", &self.sentinel_password)
            .field("wait_replicas", &self.wait_replicas)
            .field("wait_timeout", &self.wait_timeout)
            .finish()
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            mode: RedisMode::Single,
            url: "redis://127.0.0.1:6379/0".into(),
            sentinels: Vec::new(),
            master_name: String::new(),
            nodes: Vec::new(),
            password: Secret::default(),
            sentinel_password: Secret::default(),
            wait_replicas: 0,
            wait_timeout: Duration::from_secs(1),
        }
    }
}

impl RedisConfig {
    /// One server at `url`, nothing else set: what tests and `scripts/run` use.
    pub fn single(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            ..RedisConfig::default()
        }
    }

    /// Checks the settings of the chosen mode, naming the key at fault.
    fn validate(&self) -> Result<(), ConfigError> {
        match self.mode {
            RedisMode::Single => {
                let redis = url::Url::parse(&self.url)
                    .map_err(|_| invalid("redis.url", "is not a URL (redis://host:port/db)"))?;
                if !matches!(redis.scheme(), "redis" | "rediss" | "redis+unix" | "unix") {
                    return Err(invalid(
                        "redis.url",
                        "must start with redis://, rediss:// or unix://",
                    ));
                }
            }
            RedisMode::Sentinel => {
                if self.sentinels.is_empty() {
                    return Err(invalid(
                        "redis.sentinels",
                        "must list at least one sentinel (host:port) in sentinel mode",
                    ));
                }
                for address in &self.sentinels {
                    parse_host_port(address).map_err(|r| invalid("redis.sentinels", r))?;
                }
                if self.master_name.is_empty()
                    || !self
                        .master_name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                {
                    return Err(invalid(
                        "redis.master_name",
                        "must be the sentinels' name for the master (letters, digits, '-', '_', '.') in sentinel mode",
                    ));
                }
            }
            RedisMode::Cluster => {
                if self.nodes.is_empty() {
                    return Err(invalid(
                        "redis.nodes",
                        "must list at least one cluster node (host:port) in cluster mode",
                    ));
                }
                for address in &self.nodes {
                    parse_host_port(address).map_err(|r| invalid("redis.nodes", r))?;
                }
            }
        }
        if self.wait_replicas > 0 && self.wait_timeout.is_zero() {
            return Err(invalid(
                "redis.wait_timeout",
                "must be above zero when redis.wait_replicas is set (0 would wait for ever)",
            ));
        }
        Ok(())
    }
}

/// `host:port` of a Redis node or sentinel, e.g. `10.0.0.5:26379` or `[::1]:7000`.
pub fn parse_host_port(address: &str) -> Result<(String, u16), String> {
    let bad = || format!("`{address}` is not host:port");
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return Err(bad());
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok((host.to_owned(), port)),
        _ => Err(format!("`{address}` has no valid port (1-65535)")),
    }
}

/// Timing of the call primitives. Tests shorten these; production keeps the defaults,
/// which follow what app_voicemail users are used to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallConfig {
    /// Time to press the first digit once the prompt has finished.
    #[serde(with = "humantime_serde")]
    pub first_digit_timeout: Duration,
    /// Time between two digits.
    #[serde(with = "humantime_serde")]
    pub inter_digit_timeout: Duration,
    /// Longest a whole digit entry may take, prompt included.
    #[serde(with = "humantime_serde")]
    pub collect_timeout: Duration,
    /// Longest one prompt may play without Asterisk reporting its end; a real Asterisk
    /// does not always send the final event, and a caller must never wait in silence.
    #[serde(with = "humantime_serde")]
    pub prompt_timeout: Duration,
    /// Extra time allowed after a recording's maximum length for its final event.
    #[serde(with = "humantime_serde")]
    pub record_grace: Duration,
    /// How long to wait for the events that follow a hang-up (final media events,
    /// StasisEnd) before the call task gives up on them.
    #[serde(with = "humantime_serde")]
    pub hangup_grace: Duration,
    /// How many times a prompt is repeated when the caller presses nothing.
    pub max_silent_prompts: u32,
    /// On SIGTERM, how long calls in progress may go on before the service stops.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for CallConfig {
    fn default() -> Self {
        CallConfig {
            first_digit_timeout: Duration::from_secs(5),
            inter_digit_timeout: Duration::from_secs(3),
            collect_timeout: Duration::from_secs(60),
            prompt_timeout: Duration::from_secs(60),
            record_grace: Duration::from_secs(5),
            hangup_grace: Duration::from_secs(2),
            max_silent_prompts: 3,
            shutdown_grace: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `voiceportal=debug`. `RUST_LOG` wins if set.
    pub filter: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Loads defaults, then `file` (if any), then the environment, and validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            builder = builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__"),
        );
        let raw = builder
            .build()
            .map_err(|e| ConfigError::Load(without_excerpt(&e.to_string())))?;
        let config: Config = raw
            .try_deserialize()
            .map_err(|e| ConfigError::Load(without_excerpt(&e.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value that serde alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let ari = url::Url::parse(&self.ari.url)
            .map_err(|e| invalid("ari.url", format!("`{}` is not a URL: {e}", self.ari.url)))?;
        if !matches!(ari.scheme(), "http" | "https") {
            return Err(invalid("ari.url", "must start with http:// or https://"));
        }
        if !ari.username().is_empty() || ari.password().is_some() {
            return Err(invalid(
                "ari.url",
                "must not carry credentials: use ari.username and ari.password",
            ));
        }
        if ari.path().trim_end_matches('/').ends_with("/ari") {
            return Err(invalid(
                "ari.url",
                "give the server address without the /ari suffix",
            ));
        }
        if self.ari.app.is_empty()
            || !self
                .ari
                .app
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                "ari.app",
                "must be a non-empty name of letters, digits, '-' or '_'",
            ));
        }
        if self.ari.username.is_empty() {
            return Err(invalid("ari.username", "must not be empty"));
        }
        if self.ari.reconnect_min.is_zero() || self.ari.reconnect_min > self.ari.reconnect_max {
            return Err(invalid(
                "ari.reconnect_min",
                "must be above zero and not above ari.reconnect_max",
            ));
        }
        for (key, value) in [
            ("ari.request_timeout", self.ari.request_timeout),
            ("ari.ping_interval", self.ari.ping_interval),
            ("call.first_digit_timeout", self.call.first_digit_timeout),
            ("call.inter_digit_timeout", self.call.inter_digit_timeout),
            ("call.collect_timeout", self.call.collect_timeout),
            ("call.prompt_timeout", self.call.prompt_timeout),
            ("call.hangup_grace", self.call.hangup_grace),
        ] {
            if value.is_zero() {
                return Err(invalid(key, "must be above zero"));
            }
        }
        if self.call.max_silent_prompts == 0 {
            return Err(invalid("call.max_silent_prompts", "must be at least 1"));
        }
        self.redis.validate()?;
        if self.portal.number.is_empty()
            || self.portal.number.len() > crate::domain::MailboxId::MAX_LEN
            || !self.portal.number.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid("portal.number", "must be 1 to 20 digits"));
        }
        if !self.portal.own_phone_channel.is_empty()
            && !self.portal.own_phone_channel.contains("{number}")
        {
            return Err(invalid(
                "portal.own_phone_channel",
                "must contain {number} (e.g. \"PJSIP/{number}\"), or be empty",
            ));
        }
        if self.portal.max_attempts_per_call == 0 {
            return Err(invalid(
                "portal.max_attempts_per_call",
                "must be at least 1",
            ));
        }
        if self.portal.mwi_context.is_empty() || self.portal.mwi_context.contains('@') {
            return Err(invalid(
                "portal.mwi_context",
                "must be a non-empty context name without '@'",
            ));
        }
        if self.deposit.max_message < Duration::from_secs(1) {
            return Err(invalid("deposit.max_message", "must be at least 1s"));
        }
        if self.deposit.min_message >= self.deposit.max_message {
            return Err(invalid(
                "deposit.min_message",
                "must be shorter than deposit.max_message",
            ));
        }
        if self.deposit.lease < Duration::from_millis(300) {
            return Err(invalid("deposit.lease", "must be at least 300ms"));
        }
        if self.deposit.index_retry_for.is_zero() {
            return Err(invalid("deposit.index_retry_for", "must be above zero"));
        }
        if self.repair.interval < Duration::from_secs(1) {
            return Err(invalid("repair.interval", "must be at least 1s"));
        }
        if self.deposit.max_messages == 0 {
            return Err(invalid("deposit.max_messages", "must be at least 1"));
        }
        if let Some(operator) = &self.deposit.operator
            && (operator.context.is_empty()
                || operator.extension.is_empty()
                || operator.priority < 1)
        {
            return Err(invalid(
                "deposit.operator",
                "needs a context, an extension and a priority of at least 1",
            ));
        }
        self.receptionist
            .validate()
            .map_err(|reason| invalid("receptionist", reason))?;
        validate_email(&self.email)?;
        self.pin_policy
            .validate()
            .map_err(|reason| invalid("pin_policy", reason))?;
        self.security
            .hash
            .validate()
            .map_err(|reason| invalid("security.hash", reason))?;
        self.security
            .hash_pool
            .validate()
            .map_err(|reason| invalid("security.hash_pool", reason))?;
        self.lockout
            .validate()
            .map_err(|reason| invalid("lockout", reason))?;
        self.web.validate()?;
        self.ha.validate()?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.filter).is_err() {
            return Err(invalid(
                "log.filter",
                format!("`{}` is not a tracing filter", self.log.filter),
            ));
        }
        Ok(())
    }

    /// The effective configuration as TOML, every secret masked, for `check-config`.
    pub fn to_masked_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// The `[email]` checks. They run even while e-mail is disabled, so a section
/// prepared in advance is known to be right before anyone turns it on.
fn validate_email(email: &EmailConfig) -> Result<(), ConfigError> {
    if !is_host_name(&email.smtp_host) {
        return Err(invalid(
            "email.smtp_host",
            format!(
                "`{}` is neither an IP address nor a host name",
                email.smtp_host
            ),
        ));
    }
    if email.smtp_port == 0 {
        return Err(invalid(
            "email.smtp_port",
            "must be a port number, 1 to 65535",
        ));
    }
    if email.username.is_empty() != email.password.expose().is_empty() {
        let key = if email.username.is_empty() {
            "email.username"
        } else {
            "email.password"
        };
        return Err(invalid(
            key,
            "email.username and email.password go together: set both or neither",
        ));
    }
    // lettre sends credentials over whatever connection it has; over plain text
    // they would cross the network readable by anyone on the path.
    if !email.username.is_empty()
        && email.tls == SmtpTls::None
        && !is_loopback_host(&email.smtp_host)
    {
        return Err(invalid(
            "email.tls",
            "`none` would send the SMTP password unencrypted to a remote server: \
             use `starttls` or `tls`",
        ));
    }
    if let Err(e) = email.from.parse::<lettre::message::Mailbox>() {
        return Err(invalid(
            "email.from",
            format!("`{}` is not an e-mail address: {e}", email.from),
        ));
    }
    if let Err(e) = Template::parse(&email.subject) {
        return Err(invalid("email.subject", e.to_string()));
    }
    if email.subject.contains(['\r', '\n']) {
        return Err(invalid("email.subject", "must be a single line"));
    }
    if let Err(e) = Template::parse(&email.body) {
        return Err(invalid("email.body", e.to_string()));
    }
    if email.max_attempts == 0 {
        return Err(invalid("email.max_attempts", "must be at least 1"));
    }
    if email.smtp_timeout.is_zero() {
        return Err(invalid("email.smtp_timeout", "must be above zero"));
    }
    if email.concurrency == 0 || email.concurrency > 64 {
        return Err(invalid("email.concurrency", "must be 1 to 64"));
    }
    if email.queue_max == 0 {
        return Err(invalid("email.queue_max", "must be at least 1"));
    }
    if email.retry_initial.is_zero() || email.retry_initial > email.retry_max {
        return Err(invalid(
            "email.retry_initial",
            "must be above zero and not above email.retry_max",
        ));
    }
    Ok(())
}

/// An IP address, or a DNS name: dot-separated labels of letters, digits and
/// inner hyphens (what TLS can verify a certificate against).
fn is_host_name(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(crate::domain::hostname::is_dns_label)
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A TOML syntax error quotes the offending line, which may be a password: keep
/// the position and the reason, drop the quoted source.
fn without_excerpt(message: &str) -> String {
    message
        .lines()
        .filter(|line| {
            let trimmed = line.trim_start();
            let quoted = trimmed.starts_with('|')
                || trimmed.split_once('|').is_some_and(|(n, _)| {
                    !n.trim().is_empty() && n.trim().bytes().all(|b| b.is_ascii_digit())
                });
            !quoted && !trimmed.is_empty()
        })
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replaces the password of a URL with `***`, keeping the rest readable.
pub fn mask_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            // set_password only fails for URLs that cannot carry credentials,
            // and this one already carries a password.
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(url) => url.to_string(),
        Err(_) => "<unparsable URL>".into(),
    }
}

fn serialize_masked_url<S: Serializer>(raw: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&mask_url(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn secrets_are_masked_in_debug_and_toml() {
        let mut config = Config::default();
        config.ari.password = Secret::new("hunter2");
        config.security.pepper = Secret::new("pepper-secret");
        config.redis.url = "redis://:topsecret@127.0.0.1:6379/0".into();
        let shown = format!("{config:?}{}", config.to_masked_toml());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("pepper-secret"), "{shown}");
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(
            config
                .to_masked_toml()
                .contains("redis://:***@127.0.0.1:6379/0")
        );
    }

    #[test]
    fn syntax_errors_do_not_quote_secrets() {
        let dir = std::env::temp_dir().join(format!("vp-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[ari]\npassword = \"hunter2\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn credentials_in_the_ari_url_are_refused() {
        let mut config = Config::default();
        config.ari.url = "http://user:secret@127.0.0.1:8088".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("ari.url") && !err.contains("secret@"), "{err}");
    }

    #[test]
    fn invalid_values_name_their_key() {
        let mut config = Config::default();
        config.ari.url = "ftp://x".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("ari.url"), "{err}");

        let mut config = Config::default();
        config.call.inter_digit_timeout = Duration::ZERO;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("call.inter_digit_timeout"), "{err}");

        let mut config = Config::default();
        config.ari.app = "voice portal".into();
        assert!(config.validate().is_err());

        let mut config = Config::default();
        config.web.listen = "localhost".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("web.listen"), "{err}");

        let mut config = Config::default();
        config.web.tls_cert = "/etc/hostname".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("web.tls_key"), "{err}");

        let mut config = Config::default();
        config.web.public_url = "ftp://example.org".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("web.public_url"), "{err}");
    }

    #[test]
    fn hash_pool_settings() {
        let config = Config::default();
        assert!(config.security.hash_pool.workers() >= 1);
        assert_eq!(config.security.hash_pool.queue_limit(), 1000);
        for zero in [
            HashPoolConfig {
                workers: Some(0),
                ..HashPoolConfig::default()
            },
            HashPoolConfig {
                queue_limit: Some(0),
                ..HashPoolConfig::default()
            },
        ] {
            let mut config = Config::default();
            config.security.hash_pool = zero;
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("security.hash_pool"), "{err}");
        }
        let pool: HashPoolConfig = toml::from_str("workers = 3").unwrap();
        assert_eq!((pool.workers(), pool.queue_limit()), (3, 1000));
        assert!(toml::from_str::<HashPoolConfig>("threads = 3").is_err());
    }

    #[test]
    fn ha_timing_must_allow_a_takeover_within_five_seconds() {
        let ha = HaConfig::default();
        assert!(!ha.enabled);
        assert!(ha.lease_ttl + ha.renew_interval <= HA_MAX_TAKEOVER);
        let check = |tweak: &dyn Fn(&mut HaConfig)| {
            let mut config = Config::default();
            tweak(&mut config.ha);
            config.validate().map_err(|e| e.to_string())
        };
        assert!(check(&|_| {}).is_ok());
        let err = check(&|ha| ha.lease_ttl = Duration::from_secs(10)).unwrap_err();
        assert!(err.contains("ha.lease_ttl") && err.contains("5s"), "{err}");
        let err = check(&|ha| ha.renew_interval = Duration::from_secs(2)).unwrap_err();
        assert!(err.contains("twice ha.renew_interval"), "{err}");
        let err = check(&|ha| ha.renew_interval = Duration::from_millis(10)).unwrap_err();
        assert!(err.contains("ha.renew_interval"), "{err}");
        let err = check(&|ha| ha.instance_id = "a b".into()).unwrap_err();
        assert!(err.contains("ha.instance_id"), "{err}");
        assert!(check(&|ha| ha.instance_id = "vp-1.example".into()).is_ok());
    }

    #[test]
    fn web_defaults_listen_on_loopback_only() {
        let web = WebConfig::default();
        let addr: std::net::SocketAddr = web.listen.parse().unwrap();
        assert!(addr.ip().is_loopback());
        assert!(!web.https());
        assert_eq!(web.base_url(), "http://127.0.0.1:8090");
        let behind_proxy = WebConfig {
            public_url: "https://vm.example.org/".into(),
            ..WebConfig::default()
        };
        assert!(behind_proxy.https());
        assert_eq!(behind_proxy.base_url(), "https://vm.example.org");
    }

    #[test]
    fn each_redis_mode_checks_its_own_settings() {
        let check = |tweak: fn(&mut RedisConfig)| {
            let mut config = Config::default();
            tweak(&mut config.redis);
            config.validate().map_err(|e| e.to_string())
        };
        let err = check(|r| r.mode = RedisMode::Sentinel).unwrap_err();
        assert!(err.contains("redis.sentinels"), "{err}");
        let err = check(|r| {
            r.mode = RedisMode::Sentinel;
            r.sentinels = vec!["127.0.0.1:26379".into()];
        })
        .unwrap_err();
        assert!(err.contains("redis.master_name"), "{err}");
        let err = check(|r| {
            r.mode = RedisMode::Sentinel;
            r.sentinels = vec!["127.0.0.1".into()];
            r.master_name = "vp".into();
        })
        .unwrap_err();
        assert!(
            err.contains("redis.sentinels") && err.contains("host:port"),
            "{err}"
        );
        check(|r| {
            r.mode = RedisMode::Sentinel;
            r.sentinels = vec!["127.0.0.1:26379".into(), "[::1]:26380".into()];
            r.master_name = "vp".into();
            // The single-server URL is not used in this mode.
            r.url = "nonsense".into();
        })
        .unwrap();
        let err = check(|r| r.mode = RedisMode::Cluster).unwrap_err();
        assert!(err.contains("redis.nodes"), "{err}");
        let err = check(|r| {
            r.mode = RedisMode::Cluster;
            r.nodes = vec!["127.0.0.1:0".into()];
        })
        .unwrap_err();
        assert!(err.contains("redis.nodes") && err.contains("port"), "{err}");
        let err = check(|r| {
            r.wait_replicas = 1;
            r.wait_timeout = Duration::ZERO;
        })
        .unwrap_err();
        assert!(err.contains("redis.wait_timeout"), "{err}");
    }

    #[test]
    fn redis_passwords_are_masked() {
        let mut config = Config::default();
        config.redis.mode = RedisMode::Cluster;
        config.redis.nodes = vec!["127.0.0.1:7000".into()];
        config.redis.password = Secret::new("cluster-secret");
        config.redis.sentinel_password = Secret::new("sentinel-secret");
        let shown = format!("{config:?} {}", toml::to_string(&config).unwrap());
        assert!(!shown.contains("cluster-secret"), "{shown}");
        assert!(!shown.contains("sentinel-secret"), "{shown}");
    }
}

//! E-mail notification of a new voicemail message: one mail to the mailbox's
//! address, with the message's WAV attached.
//!
//! # A queue in Redis, and a few workers
//!
//! A deposit must never wait for a mail server: `Notifier::message_saved` only
//! writes a job to the queue in Redis (`store::mailq`) and returns. Workers of
//! the serving instance (`email.concurrency` of them) claim due jobs, download
//! the audio through ARI and talk SMTP; a failure worth retrying puts the job
//! back with exponential backoff, so a mail being retried never holds up the
//! others, and a mail server that stops answering costs at most
//! `email.smtp_timeout` per command of each worker. A refusal that retrying
//! cannot fix (an SMTP 5xx) is given up at once.
//!
//! Jobs live in Redis, so a restart or a crash loses none: a job being sent when
//! the process died comes back once its claim lapses. The queue holds at most
//! `email.queue_max` jobs: past that, new notifications are dropped with an
//! error in the log (the messages themselves are safe in the mailbox).
//!
//! Failures are logged, never with the SMTP credentials.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, Semaphore};

use crate::ari::AriClient;
use crate::config::{EmailConfig, SmtpTls};
use crate::domain::template::{Field, Template, TemplateError};
use crate::domain::{Language, MailboxId, OneTimeCode};
use crate::store::mailboxes::MailboxRecord;
use crate::store::mailq::{Claim, Enqueued, MailJob};
use crate::store::messages::{Folder, Message, MessageId};
use crate::store::{Store, StoreError};

/// The attachment's media type.
const WAV_TYPE: &str = "audio/wav";

/// Longest caller ID text put into a mail; the rest is cut.
const MAX_VALUE_CHARS: usize = 80;

/// Added to the body when the audio was wanted but could not be fetched, so the
/// owner knows to call in rather than look for an attachment.
const MISSING_AUDIO_NOTE: &str = "\n(The recording could not be attached to this e-mail: \
     call your voice portal to listen to it.)\n";

/// The first `max` characters, with `…` when something was cut.
fn clip(value: &str, max: usize) -> String {
    if value.chars().count() <= max {
        return value.to_owned();
    }
    let mut clipped: String = value.chars().take(max).collect();
    clipped.push('…');
    clipped
}

/// Caller ID comes from outside (anyone can send any name): control characters
/// become spaces so nothing can add a header line or reshape the body, and the
/// length is capped.
pub(crate) fn clean(value: &str) -> String {
    let spaced: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    clip(spaced.trim(), MAX_VALUE_CHARS)
}

/// The placeholder values of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Values {
    mailbox: String,
    name: String,
    caller: String,
    caller_name: String,
    date: String,
    duration: String,
}

impl Values {
    fn of(mailbox: &MailboxRecord, message: &Message) -> Values {
        let caller = clean(&message.caller_number);
        Values {
            mailbox: mailbox.id.as_str().to_owned(),
            name: clean(&mailbox.display_name),
            caller: if caller.is_empty() {
                "unknown".into()
            } else {
                caller
            },
            caller_name: clean(&message.caller_name),
            date: local_date(message.received, &mailbox.timezone),
            duration: format!(
                "{}:{:02}",
                message.duration_secs / 60,
                message.duration_secs % 60
            ),
        }
    }

    fn get(&self, field: Field) -> &str {
        match field {
            Field::Mailbox => &self.mailbox,
            Field::Name => &self.name,
            Field::Caller => &self.caller,
            Field::CallerName => &self.caller_name,
            Field::Date => &self.date,
            Field::Duration => &self.duration,
        }
    }
}

/// `2024-03-05 14:07 CET`: the owner's wall clock, with the zone so a mail read
/// while travelling is not ambiguous. An unknown zone (hand-edited record) falls
/// back to UTC, said as such.
fn local_date(received: DateTime<Utc>, timezone: &str) -> String {
    match timezone.parse::<Tz>() {
        Ok(tz) => received
            .with_timezone(&tz)
            .format("%Y-%m-%d %H:%M %Z")
            .to_string(),
        Err(_) => received.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// Why the mailer could not be set up. `Config::validate` checks the same things,
/// so with a validated config only TLS set-up can fail, and that only for a host
/// name rustls cannot use.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("invalid configuration value `email.{key}`: {source}")]
    Template {
        key: &'static str,
        source: TemplateError,
    },
    #[error("invalid configuration value `email.from`: `{value}` is not an e-mail address")]
    From { value: String },
    #[error("cannot set up TLS towards `{host}`: {reason}")]
    Tls { host: String, reason: String },
}

/// The audio of one mail.
enum Audio {
    /// `email.attach_audio` is off.
    NotWanted,
    Attached(Vec<u8>),
    /// Wanted, but ARI could not give it.
    Missing,
}

/// One notification to send, as the queue keeps it: what the mail says, taken
/// when the message was saved (a later change of the mailbox's address applies
/// to later messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Job {
    mailbox: String,
    display_name: String,
    email: String,
    timezone: String,
    message: String,
    caller_number: String,
    caller_name: String,
    received_ms: i64,
    duration_secs: u32,
}

impl Job {
    fn of(mailbox: &MailboxRecord, message: &Message) -> Job {
        Job {
            mailbox: mailbox.id.as_str().to_owned(),
            display_name: mailbox.display_name.clone(),
            email: mailbox.email.clone().unwrap_or_default(),
            timezone: mailbox.timezone.clone(),
            message: message.id.as_str().to_owned(),
            caller_number: message.caller_number.clone(),
            caller_name: message.caller_name.clone(),
            received_ms: message.received.timestamp_millis(),
            duration_secs: message.duration_secs,
        }
    }

    /// The queue's id of this job: one per message.
    fn id(&self) -> String {
        format!("{}/{}", self.mailbox, self.message)
    }

    /// Back to the records the mail is composed from; `None` if the stored job
    /// was damaged (a mailbox number or message id that does not parse).
    fn records(&self) -> Option<(MailboxRecord, Message)> {
        let id = MailboxId::parse(&self.mailbox).ok()?;
        let message_id = MessageId::parse(&self.message)?;
        let mut mailbox = MailboxRecord::new(id.clone());
        mailbox.display_name = self.display_name.clone();
        mailbox.email = Some(self.email.clone()).filter(|e| !e.trim().is_empty());
        mailbox.timezone = self.timezone.clone();
        let message = Message {
            received: DateTime::from_timestamp_millis(self.received_ms)
                .or_else(|| message_id.received())?,
            id: message_id,
            mailbox: id,
            folder: Folder::New,
            caller_number: self.caller_number.clone(),
            caller_name: self.caller_name.clone(),
            duration_secs: self.duration_secs,
            recorded_on: String::new(),
        };
        Some((mailbox, message))
    }
}

/// What one attempt at a mail came to.
enum Sent {
    Done,
    /// Worth another try later.
    Failed(String),
}

/// The worker's side: everything needed to turn a job into a delivered mail.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    ari: AriClient,
    from: Mailbox,
    subject: Template,
    body: Template,
    attach_audio: bool,
    wav: ContentType,
    max_attempts: u32,
    retry_initial: Duration,
    retry_max: Duration,
    store: Store,
    concurrency: usize,
    /// How long a claimed job is ours before another worker may take it.
    claim: Duration,
}

/// Shown without the transport, which holds the SMTP credentials.
impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .field("attach_audio", &self.attach_audio)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Builds the SMTP transport (no connection is made until the first mail).
    pub fn new(config: &EmailConfig, ari: AriClient, store: Store) -> Result<Mailer, EmailError> {
        let template = |key: &'static str, source: &str| {
            Template::parse(source).map_err(|source| EmailError::Template { key, source })
        };
        let subject = template("subject", &config.subject)?;
        let body = template("body", &config.body)?;
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|_| EmailError::From {
                value: config.from.clone(),
            })?;
        let tls_error = |e: lettre::transport::smtp::Error| EmailError::Tls {
            host: config.smtp_host.clone(),
            reason: e.to_string(),
        };
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => {
                Tls::Required(TlsParameters::new(config.smtp_host.clone()).map_err(tls_error)?)
            }
            SmtpTls::Tls => {
                Tls::Wrapper(TlsParameters::new(config.smtp_host.clone()).map_err(tls_error)?)
            }
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.smtp_host.as_str())
                .port(config.smtp_port)
                .timeout(Some(config.smtp_timeout))
                .tls(tls);
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.username.clone(),
                config.password.expose().to_owned(),
            ));
        }
        Ok(Mailer {
            transport: builder.build(),
            ari,
            from,
            subject,
            body,
            attach_audio: config.attach_audio,
            // Cannot fail: `parse` only refuses text that is not `type/subtype` made
            // of RFC 2045 tokens, and this constant is (unit test `wav_type_parses`).
            wav: ContentType::parse(WAV_TYPE).expect("audio/wav is a valid media type"),
            max_attempts: config.max_attempts.max(1),
            retry_initial: config.retry_initial,
            retry_max: config.retry_max,
            store,
            concurrency: config.concurrency.max(1),
            // Renewed while the send runs (see `deliver`): after a crash the job
            // is free again within this.
            claim: config
                .smtp_timeout
                .max(Duration::from_secs(1))
                .saturating_mul(2),
        })
    }

    /// Starts the workers when e-mail is enabled; otherwise a `Notifier` that
    /// does nothing. Must run inside a tokio runtime; the workers stop with it.
    pub fn spawn(
        config: &EmailConfig,
        ari: AriClient,
        store: Store,
    ) -> Result<Notifier, EmailError> {
        if !config.enabled {
            return Ok(Notifier::disabled());
        }
        let mailer = Arc::new(Mailer::new(config, ari, store.clone())?);
        let wake = Arc::new(Notify::new());
        let worker = tokio::spawn(mailer.clone().run(wake.clone()));
        Ok(Notifier {
            queue: Some(Arc::new(Queue {
                store,
                max: config.queue_max,
                wake,
                _worker: Some(AbortOnDrop(worker)),
                mailer: Some(mailer),
            })),
        })
    }

    /// Claims due jobs and sends them, at most `concurrency` at a time. The
    /// sends are this task's own: aborting it (the service stopping) stops them,
    /// and their jobs come back once their claims lapse.
    async fn run(self: Arc<Self>, wake: Arc<Notify>) {
        let slots = Arc::new(Semaphore::new(self.concurrency));
        let mut sending = tokio::task::JoinSet::new();
        loop {
            while sending.try_join_next().is_some() {}
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let idle = match self.store.claim_mail(self.claim).await {
                Ok(Claim::Job(job)) => {
                    let this = self.clone();
                    sending.spawn(async move {
                        this.deliver(job).await;
                        drop(slot);
                    });
                    continue;
                }
                Ok(Claim::Idle(next)) => next.unwrap_or(IDLE_POLL).min(IDLE_POLL),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the e-mail queue; retrying");
                    IDLE_POLL
                }
            };
            drop(slot);
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(idle) => {}
            }
        }
    }

    /// One attempt at one job, then its fate in the queue.
    async fn deliver(&self, job: MailJob) {
        // Keep the claim while sending: a job is never sent twice at once, and
        // one whose instance died is free again within one claim.
        let renewal = {
            let (store, id, claim) = (self.store.clone(), job.id.clone(), self.claim);
            AbortOnDrop(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(claim / 3).await;
                    if let Err(e) = store.retry_mail(&id, claim).await {
                        tracing::debug!(error = %e, "cannot renew the claim of a notification");
                    }
                }
            }))
        };
        self.attempt(job, renewal).await;
    }

    async fn attempt(&self, job: MailJob, renewal: AbortOnDrop) {
        let parsed = serde_json::from_str::<Job>(&job.body)
            .ok()
            .and_then(|data| data.records());
        let Some((mailbox, message)) = parsed else {
            tracing::error!(job = %job.id, "a queued notification cannot be read: dropped");
            self.finish(&job.id).await;
            return;
        };
        let outcome = self.send(&mailbox, &message, job.attempt).await;
        drop(renewal);
        match outcome {
            Sent::Done => self.finish(&job.id).await,
            Sent::Failed(e) if job.attempt < self.max_attempts => {
                let delay = retry_delay(self.retry_initial, self.retry_max, job.attempt);
                tracing::warn!(
                    mailbox = %mailbox.id,
                    message = %message.id,
                    attempt = job.attempt,
                    max_attempts = self.max_attempts,
                    "notification e-mail not sent, retrying in {delay:?}: {e}"
                );
                if let Err(e) = self.store.retry_mail(&job.id, delay).await {
                    tracing::warn!(error = %e, job = %job.id,
                        "cannot reschedule a notification; it comes back when its claim lapses");
                }
            }
            Sent::Failed(e) => {
                tracing::error!(
                    mailbox = %mailbox.id,
                    message = %message.id,
                    attempt = job.attempt,
                    "notification e-mail not sent, giving up: {e}"
                );
                self.finish(&job.id).await;
            }
        }
    }

    async fn finish(&self, id: &str) {
        if let Err(e) = self.store.finish_mail(id).await {
            tracing::warn!(error = %e, job = %id, "cannot remove a finished notification from the queue");
        }
    }

    /// Builds and sends the mail once.
    async fn send(&self, mailbox: &MailboxRecord, message: &Message, attempt: u32) -> Sent {
        let Some(address) = mailbox.email.as_deref() else {
            return Sent::Done;
        };
        let to = match address.trim().parse::<Address>() {
            Ok(address) => {
                let name = clean(&mailbox.display_name);
                Mailbox::new((!name.is_empty()).then_some(name), address)
            }
            Err(e) => {
                tracing::error!(
                    mailbox = %mailbox.id,
                    message = %message.id,
                    "the mailbox's e-mail address is not valid ({e}): no notification sent"
                );
                return Sent::Done;
            }
        };
        let audio = if self.attach_audio {
            self.fetch_audio(message).await
        } else {
            Audio::NotWanted
        };
        let email = match self.compose(mailbox, message, to, audio) {
            Ok(email) => email,
            Err(e) => {
                tracing::error!(
                    mailbox = %mailbox.id,
                    message = %message.id,
                    "cannot build the notification e-mail: {e}"
                );
                return Sent::Done;
            }
        };
        // The same message gives the same bytes, Message-ID included, so a mail
        // the server took before a lost reply is recognisable as a duplicate.
        match self
            .transport
            .send_raw(email.envelope(), &email.formatted())
            .await
        {
            Ok(_) => {
                tracing::info!(
                    mailbox = %mailbox.id,
                    message = %message.id,
                    attempt,
                    "notification e-mail sent"
                );
                Sent::Done
            }
            Err(e) if e.is_permanent() => {
                tracing::error!(
                    mailbox = %mailbox.id,
                    message = %message.id,
                    attempt,
                    "the mail server refused the notification e-mail for good: {e}"
                );
                Sent::Done
            }
            Err(e) => Sent::Failed(e.to_string()),
        }
    }

    async fn fetch_audio(&self, message: &Message) -> Audio {
        match self
            .ari
            .download_stored_recording(&message.recording())
            .await
        {
            Ok(bytes) if !bytes.is_empty() => Audio::Attached(bytes),
            Ok(_) => {
                tracing::warn!(
                    mailbox = %message.mailbox,
                    message = %message.id,
                    "the recording is empty: e-mail sent without it"
                );
                Audio::Missing
            }
            Err(e) => {
                tracing::warn!(
                    mailbox = %message.mailbox,
                    message = %message.id,
                    "cannot download the recording, e-mail sent without it: {e}"
                );
                Audio::Missing
            }
        }
    }

    fn compose(
        &self,
        mailbox: &MailboxRecord,
        message: &Message,
        to: Mailbox,
        audio: Audio,
    ) -> Result<lettre::Message, lettre::error::Error> {
        let values = Values::of(mailbox, message);
        // Values are cleaned and the template is one line (checked at start-up);
        // this keeps a hand-built config from folding the header all the same.
        let subject: String = self
            .subject
            .render(|f| values.get(f))
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut body = trim_line_ends(&self.body.render(|f| values.get(f)));
        if matches!(audio, Audio::Missing) {
            body.push_str(MISSING_AUDIO_NOTE);
        }
        let builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject.trim())
            .message_id(Some(format!(
                "<voicemail.{}.{}@{}>",
                mailbox.id,
                message.id,
                self.from.email.domain()
            )));
        let text = SinglePart::plain(body);
        match audio {
            Audio::Attached(wav) => {
                builder.multipart(MultiPart::mixed().singlepart(text).singlepart(
                    Attachment::new(format!("msg-{}.wav", message.id)).body(wav, self.wav.clone()),
                ))
            }
            Audio::NotWanted | Audio::Missing => builder.singlepart(text),
        }
    }
}

/// Placeholders with nothing to say (no display name, no caller name) leave
/// trailing spaces; mail clients show them as they are.
fn trim_line_ends(text: &str) -> String {
    let mut out: String = text
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The wait after failed attempt number `failed` (1-based): `initial`, doubling
/// each time, never above `max`.
fn retry_delay(initial: Duration, max: Duration, failed: u32) -> Duration {
    let factor = 2u32.saturating_pow(failed.saturating_sub(1));
    initial.saturating_mul(factor).min(max)
}

/// How often idle workers look at the queue for jobs another instance queued
/// (their own instance wakes them at once).
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The queue side of notification, shared by the handles of one instance.
struct Queue {
    store: Store,
    max: usize,
    wake: Arc<Notify>,
    /// The workers stop with the last handle (the service stopping).
    _worker: Option<AbortOnDrop>,
    /// Sends web sign-in codes at once; `None` where this process sends no mail
    /// (the admin CLI).
    mailer: Option<Arc<Mailer>>,
}

impl Mailer {
    /// One sign-in code e-mail, in the mailbox's language; a few attempts.
    async fn send_code(&self, mailbox: &MailboxRecord, code: &OneTimeCode, page: &str) {
        let to = match mailbox
            .email
            .as_deref()
            .unwrap_or_default()
            .trim()
            .parse::<Address>()
        {
            Ok(address) => {
                let name = clean(&mailbox.display_name);
                Mailbox::new((!name.is_empty()).then_some(name), address)
            }
            Err(e) => {
                tracing::error!(mailbox = %mailbox.id,
                    "the mailbox's e-mail address is not valid ({e}): no sign-in code sent");
                return;
            }
        };
        let (subject, body) = signin_code_text(mailbox, code, page);
        let email = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .singlepart(SinglePart::plain(body));
        let email = match email {
            Ok(email) => email,
            Err(e) => {
                tracing::error!(mailbox = %mailbox.id, "cannot build the sign-in code e-mail: {e}");
                return;
            }
        };
        // A code is worth minutes: three tries, close together.
        for attempt in 1..=3u32 {
            match self.transport.send(email.clone()).await {
                Ok(_) => {
                    tracing::info!(mailbox = %mailbox.id, attempt, "sign-in code e-mail sent");
                    return;
                }
                Err(e) => {
                    tracing::warn!(mailbox = %mailbox.id, attempt, "sign-in code e-mail not sent: {e}");
                    tokio::time::sleep(retry_delay(self.retry_initial, self.retry_max, attempt))
                        .await;
                }
            }
        }
    }
}

/// The sign-in code e-mail's subject and text, in the mailbox's language.
fn signin_code_text(mailbox: &MailboxRecord, code: &OneTimeCode, page: &str) -> (String, String) {
    let minutes = crate::access::signin::CODE_LIFETIME.as_secs() / 60;
    let code = code.expose();
    match Language::parse(&mailbox.language).unwrap_or_default() {
        Language::Fr => (
            format!("Votre code de connexion à la boîte vocale {}", mailbox.id),
            format!(
                "Votre code de connexion est : {code}\n\n\
                 Saisissez-le sur la page de connexion ({page}). Il est valable {minutes} \
                 minutes et ne sert qu'une fois.\nSi vous ne l'avez pas demandé, ignorez ce \
                 message.\n"
            ),
        ),
        Language::En => (
            format!("Your sign-in code for voice mailbox {}", mailbox.id),
            format!(
                "Your sign-in code is: {code}\n\n\
                 Type it into the sign-in page ({page}). It is valid for {minutes} minutes \
                 and works once.\nIf you did not ask for it, ignore this e-mail.\n"
            ),
        ),
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The flows' (and repair's) handle on e-mail notification: cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    /// `None` when e-mail is disabled.
    queue: Option<Arc<Queue>>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl Notifier {
    /// A notifier that sends nothing: e-mail switched off, or tests.
    pub fn disabled() -> Notifier {
        Notifier { queue: None }
    }

    /// Queues jobs without sending them: for the admin CLI (`admin repair`),
    /// whose notifications the serving instance's workers send. Disabled when
    /// e-mail is off.
    pub fn queue_only(config: &EmailConfig, store: Store) -> Notifier {
        if !config.enabled {
            return Notifier::disabled();
        }
        Notifier {
            queue: Some(Arc::new(Queue {
                store,
                max: config.queue_max,
                wake: Arc::new(Notify::new()),
                _worker: None,
                mailer: None,
            })),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Sends a web sign-in code to the mailbox's address, in the background.
    /// Never queued in Redis like notifications: a code is a secret that lives a
    /// few minutes, so it is sent at once (with a few quick retries) or not at
    /// all, and never logged. `false` when e-mail is off here or the mailbox has
    /// no address.
    pub fn signin_code(&self, mailbox: &MailboxRecord, code: OneTimeCode, page: String) -> bool {
        let Some(mailer) = self.queue.as_ref().and_then(|q| q.mailer.clone()) else {
            return false;
        };
        if mailbox.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
            return false;
        }
        let mailbox = mailbox.clone();
        tokio::spawn(async move { mailer.send_code(&mailbox, &code, &page).await });
        true
    }

    /// Queues the e-mail for a message just saved. A mailbox without an address
    /// needs none. `Err` only when Redis could not take the job: the caller keeps
    /// the notification owed (see `store::deposits`) for repair to queue later.
    pub async fn message_saved(
        &self,
        mailbox: &MailboxRecord,
        message: &Message,
    ) -> Result<(), StoreError> {
        let Some(queue) = &self.queue else {
            return Ok(());
        };
        if mailbox.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
            tracing::debug!(mailbox = %mailbox.id, "no e-mail address: no notification");
            return Ok(());
        }
        let job = Job::of(mailbox, message);
        // Serialising plain strings and numbers cannot fail.
        let body = serde_json::to_string(&job).unwrap_or_default();
        match queue
            .store
            .enqueue_mail(&job.id(), &body, queue.max)
            .await?
        {
            Enqueued::Queued => queue.wake.notify_one(),
            Enqueued::Full => tracing::error!(
                mailbox = %mailbox.id,
                message = %message.id,
                max = queue.max,
                "the e-mail queue is full (is the mail server answering?): no notification for this message"
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MailboxId;
    use crate::store::messages::{Folder, MessageId};
    use chrono::TimeZone;

    fn values() -> Values {
        let mut mailbox = MailboxRecord::new(MailboxId::parse("1001").unwrap());
        mailbox.display_name = "Alice Martin".into();
        mailbox.timezone = "Europe/Paris".into();
        let received = Utc.with_ymd_and_hms(2024, 3, 5, 13, 7, 0).unwrap();
        let message = Message {
            id: MessageId::with_suffix(received, 0xabc),
            mailbox: mailbox.id.clone(),
            folder: Folder::New,
            caller_number: "0612345678".into(),
            caller_name: "Bob\r\nBcc: evil@example.com".into(),
            received,
            duration_secs: 65,
            recorded_on: String::new(),
        };
        Values::of(&mailbox, &message)
    }

    #[test]
    fn placeholders_render_with_the_mailbox_time_zone() {
        let template =
            Template::parse("{caller} ({caller_name}) for {name} at {mailbox}: {date}, {duration}")
                .unwrap();
        let values = values();
        assert_eq!(
            template.render(|f| values.get(f)),
            "0612345678 (Bob  Bcc: evil@example.com) for Alice Martin at 1001: \
             2024-03-05 14:07 CET, 1:05"
        );
    }

    #[test]
    fn braces_are_escaped_by_doubling() {
        let template = Template::parse("{{mailbox}} is {mailbox}}}").unwrap();
        let values = values();
        assert_eq!(template.render(|f| values.get(f)), "{mailbox} is 1001}");
    }

    #[test]
    fn template_errors_are_precise() {
        let err = Template::parse("Hi {callr}").unwrap_err();
        assert_eq!(
            err,
            TemplateError::Unknown {
                name: "callr".into()
            }
        );
        let text = err.to_string();
        assert!(text.contains("`{callr}`"), "{text}");
        assert!(text.contains("{caller_name}"), "{text}");
        assert_eq!(
            Template::parse("ab {date").unwrap_err(),
            TemplateError::Unclosed { at: 4 }
        );
        assert_eq!(
            Template::parse("x}").unwrap_err(),
            TemplateError::Unopened { at: 2 }
        );
    }

    #[test]
    fn unknown_time_zone_falls_back_to_utc() {
        let at = Utc.with_ymd_and_hms(2024, 7, 1, 8, 0, 0).unwrap();
        assert_eq!(local_date(at, "Mars/Olympus"), "2024-07-01 08:00 UTC");
        assert_eq!(local_date(at, "America/New_York"), "2024-07-01 04:00 EDT");
    }

    #[test]
    fn caller_id_is_cleaned_and_capped() {
        assert_eq!(clean(" a\tb\n"), "a b");
        assert_eq!(clean(&"x".repeat(200)).chars().count(), MAX_VALUE_CHARS + 1);
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let s = Duration::from_secs;
        let delays: Vec<_> = (1..=6).map(|n| retry_delay(s(5), s(60), n)).collect();
        assert_eq!(delays, [s(5), s(10), s(20), s(40), s(60), s(60)]);
        assert_eq!(retry_delay(s(5), s(60), 100), s(60));
    }

    #[test]
    fn line_ends_are_trimmed() {
        assert_eq!(trim_line_ends("a  \nb \n"), "a\nb\n");
        assert_eq!(trim_line_ends("a "), "a");
    }

    #[test]
    fn wav_type_parses() {
        assert!(ContentType::parse(WAV_TYPE).is_ok());
    }

    #[test]
    fn default_templates_parse() {
        let config = EmailConfig::default();
        Template::parse(&config.subject).unwrap();
        Template::parse(&config.body).unwrap();
    }
}

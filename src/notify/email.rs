//! E-mail notification of a new voicemail message: one mail to the mailbox's
//! address, with the message's WAV attached.
//!
//! # Why a queue and one worker
//!
//! A deposit must never wait for a mail server: `Notifier::message_saved` only
//! pushes onto an unbounded queue and returns. One background task takes the jobs
//! in order, downloads the audio through ARI and talks SMTP, retrying with
//! exponential backoff. Voicemail arrives at human rates, so one worker keeps up,
//! and it gives the mail server one connection at a time rather than a burst.
//! A mail being retried holds up the ones behind it; that costs nothing while the
//! server is down (they would fail too), and a refusal that retrying cannot fix
//! (an SMTP 5xx) is given up at once rather than retried.
//!
//! # Best effort
//!
//! The message itself is already safe in Redis and Asterisk when the job is queued,
//! so nothing here is returned to the flows: failures are logged (never with the
//! SMTP credentials), and jobs still queued when the process stops are lost.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::mpsc;

use crate::ari::AriClient;
use crate::config::{EmailConfig, SmtpTls};
use crate::domain::{Language, OneTimeCode};
use crate::store::mailboxes::MailboxRecord;
use crate::store::messages::Message;

/// Longest one SMTP command may take; a server that stops answering counts as a
/// failed attempt rather than holding the queue for lettre's default minute.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The attachment's media type.
const WAV_TYPE: &str = "audio/wav";

/// Longest caller ID text put into a mail; the rest is cut.
const MAX_VALUE_CHARS: usize = 80;

/// Added to the body when the audio was wanted but could not be fetched, so the
/// owner knows to call in rather than look for an attachment.
const MISSING_AUDIO_NOTE: &str = "\n(The recording could not be attached to this e-mail: \
     call your voice portal to listen to it.)\n";

/// What a template can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Mailbox,
    Name,
    Caller,
    CallerName,
    Date,
    Duration,
}

impl Field {
    const ALL: [Field; 6] = [
        Field::Mailbox,
        Field::Name,
        Field::Caller,
        Field::CallerName,
        Field::Date,
        Field::Duration,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Mailbox => "mailbox",
            Field::Name => "name",
            Field::Caller => "caller",
            Field::CallerName => "caller_name",
            Field::Date => "date",
            Field::Duration => "duration",
        }
    }

    fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// `{mailbox}, {name}, ...`, for error messages.
fn known_placeholders() -> String {
    Field::ALL
        .iter()
        .map(|f| format!("{{{}}}", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Field(Field),
}

/// A subject or body template, parsed once so a typo is a start-up error rather
/// than a strange e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// Why a template was refused; positions count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder `{{{name}}}`; the known ones are {known}", known = known_placeholders())]
    Unknown { name: String },
    #[error("the `{{` at character {at} is never closed (write `{{{{` for a literal brace)")]
    Unclosed { at: usize },
    #[error("the `}}` at character {at} closes nothing (write `}}}}` for a literal brace)")]
    Unopened { at: usize },
}

impl Template {
    /// `{field}` is a placeholder, `{{` and `}}` literal braces, as in `format!`.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().enumerate().peekable();
        while let Some((index, c)) = chars.next() {
            let doubled = chars.peek().is_some_and(|&(_, next)| next == c);
            match c {
                '{' | '}' if doubled => {
                    chars.next();
                    text.push(c);
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, inner)) => name.push(inner),
                            None => return Err(TemplateError::Unclosed { at: index + 1 }),
                        }
                    }
                    let field = Field::from_name(&name).ok_or_else(|| TemplateError::Unknown {
                        name: clip(&name, 32),
                    })?;
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Field(field));
                }
                '}' => return Err(TemplateError::Unopened { at: index + 1 }),
                _ => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template { pieces })
    }

    fn render(&self, values: &Values) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(field) => out.push_str(values.get(*field)),
            }
        }
        out
    }
}

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

/// One e-mail to send.
enum Job {
    /// A new voicemail message.
    Message {
        mailbox: MailboxRecord,
        message: Message,
    },
    /// A web sign-in code (SPEC: "the code can go there instead").
    SigninCode {
        mailbox: MailboxRecord,
        code: OneTimeCode,
        /// The page to type it into (`[web] public_url` + `/my/sign-in`).
        page: String,
    },
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
    pub fn new(config: &EmailConfig, ari: AriClient) -> Result<Mailer, EmailError> {
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
                .timeout(Some(SMTP_TIMEOUT))
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
        })
    }

    /// Starts the worker when e-mail is enabled; otherwise a `Notifier` that does
    /// nothing. Must run inside a tokio runtime. The worker ends once every
    /// `Notifier` clone is gone and the queue is drained.
    pub fn spawn(config: &EmailConfig, ari: AriClient) -> Result<Notifier, EmailError> {
        if !config.enabled {
            return Ok(Notifier::disabled());
        }
        let mailer = Mailer::new(config, ari)?;
        let (queue, jobs) = mpsc::unbounded_channel();
        tokio::spawn(mailer.run(jobs));
        Ok(Notifier { queue: Some(queue) })
    }

    async fn run(self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = jobs.recv().await {
            self.deliver(job).await;
        }
        tracing::debug!("e-mail notifier stopped");
    }

    async fn deliver(&self, job: Job) {
        match job {
            Job::Message { mailbox, message } => self.deliver_message(mailbox, message).await,
            Job::SigninCode {
                mailbox,
                code,
                page,
            } => self.deliver_code(mailbox, code, &page).await,
        }
    }

    /// The mailbox's address as a recipient; `None` (logged) if it has none or
    /// it is not valid.
    fn recipient(mailbox: &MailboxRecord, what: &str) -> Option<Mailbox> {
        let address = mailbox.email.as_deref()?;
        match address.trim().parse::<Address>() {
            Ok(address) => {
                let name = clean(&mailbox.display_name);
                Some(Mailbox::new((!name.is_empty()).then_some(name), address))
            }
            Err(e) => {
                tracing::error!(
                    mailbox = %mailbox.id,
                    "the mailbox's e-mail address is not valid ({e}): no {what} sent"
                );
                None
            }
        }
    }

    /// The sign-in code, in the mailbox's language. Sent once, with the same
    /// retries as notifications; the code itself is never logged.
    async fn deliver_code(&self, mailbox: MailboxRecord, code: OneTimeCode, page: &str) {
        let Some(to) = Self::recipient(&mailbox, "sign-in code") else {
            return;
        };
        let (subject, body) = signin_code_text(&mailbox, &code, page);
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
        let envelope = email.envelope().clone();
        let raw = email.formatted();
        self.send_with_retries(&envelope, &raw, &mailbox, "sign-in code e-mail")
            .await;
    }

    /// Sends, retrying with backoff; every outcome is logged with `what`.
    async fn send_with_retries(
        &self,
        envelope: &lettre::address::Envelope,
        raw: &[u8],
        mailbox: &MailboxRecord,
        what: &str,
    ) {
        for attempt in 1..=self.max_attempts {
            match self.transport.send_raw(envelope, raw).await {
                Ok(_) => {
                    tracing::info!(mailbox = %mailbox.id, attempt, "{what} sent");
                    return;
                }
                Err(e) if e.is_permanent() => {
                    tracing::error!(mailbox = %mailbox.id, attempt, "the mail server refused the {what} for good: {e}");
                    return;
                }
                Err(e) if attempt < self.max_attempts => {
                    let delay = retry_delay(self.retry_initial, self.retry_max, attempt);
                    tracing::warn!(mailbox = %mailbox.id, attempt, max_attempts = self.max_attempts,
                        "{what} not sent, retrying in {delay:?}: {e}");
                    tokio::time::sleep(delay).await;
                }
                Err(e) => {
                    tracing::error!(mailbox = %mailbox.id, attempt, "{what} not sent, giving up: {e}");
                }
            }
        }
    }

    async fn deliver_message(&self, mailbox: MailboxRecord, message: Message) {
        let Some(to) = Self::recipient(&mailbox, "notification") else {
            return;
        };
        let audio = if self.attach_audio {
            self.fetch_audio(&message).await
        } else {
            Audio::NotWanted
        };
        let email = match self.compose(&mailbox, &message, to, audio) {
            Ok(email) => email,
            Err(e) => {
                tracing::error!(
                    mailbox = %mailbox.id,
                    message = %message.id,
                    "cannot build the notification e-mail: {e}"
                );
                return;
            }
        };
        // Formatted once: retries resend the same bytes, Message-ID included, so a
        // mail the server took before a lost reply is recognisable as a duplicate.
        let envelope = email.envelope().clone();
        let raw = email.formatted();
        let what = format!("notification e-mail of message {}", message.id);
        self.send_with_retries(&envelope, &raw, &mailbox, &what)
            .await;
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
            .render(&values)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut body = trim_line_ends(&self.body.render(&values));
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

/// Subject and body of a sign-in code e-mail, in the mailbox's language.
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

/// The flows' handle on e-mail notification: cheap to clone, never blocks.
#[derive(Clone)]
pub struct Notifier {
    /// `None` when e-mail is disabled.
    queue: Option<mpsc::UnboundedSender<Job>>,
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

    pub fn is_enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// Queues the e-mail for a message just saved and returns at once. A mailbox
    /// without an address is skipped here, before anything is copied.
    pub fn message_saved(&self, mailbox: &MailboxRecord, message: &Message) {
        let Some(queue) = &self.queue else {
            return;
        };
        if mailbox.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
            tracing::debug!(mailbox = %mailbox.id, "no e-mail address: no notification");
            return;
        }
        let job = Job::Message {
            mailbox: mailbox.clone(),
            message: message.clone(),
        };
        if queue.send(job).is_err() {
            tracing::error!(
                mailbox = %mailbox.id,
                message = %message.id,
                "the e-mail worker has stopped: no notification sent"
            );
        }
    }

    /// Queues a sign-in code for the mailbox's address; `false` when it cannot go
    /// (e-mail is off, or the mailbox has no address).
    pub fn signin_code(&self, mailbox: &MailboxRecord, code: OneTimeCode, page: String) -> bool {
        let Some(queue) = &self.queue else {
            return false;
        };
        if mailbox.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
            return false;
        }
        let job = Job::SigninCode {
            mailbox: mailbox.clone(),
            code,
            page,
        };
        queue.send(job).is_ok()
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
        };
        Values::of(&mailbox, &message)
    }

    #[test]
    fn placeholders_render_with_the_mailbox_time_zone() {
        let template =
            Template::parse("{caller} ({caller_name}) for {name} at {mailbox}: {date}, {duration}")
                .unwrap();
        assert_eq!(
            template.render(&values()),
            "0612345678 (Bob  Bcc: evil@example.com) for Alice Martin at 1001: \
             2024-03-05 14:07 CET, 1:05"
        );
    }

    #[test]
    fn braces_are_escaped_by_doubling() {
        let template = Template::parse("{{mailbox}} is {mailbox}}}").unwrap();
        assert_eq!(template.render(&values()), "{mailbox} is 1001}");
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

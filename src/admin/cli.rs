//! `voiceportal admin ...`: the command tree and how each command is run.
//!
//! Results go to stdout as plain text, errors to stderr with exit status 1, logs
//! to stderr at warn level (an admin command is not a service: info lines would
//! only bury the answer). PINs and passcodes are read by the `secret` module,
//! never taken from the arguments. The actor recorded in the audit log is the OS
//! user, the one behind `sudo` if any.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use tracing_subscriber::EnvFilter;

use super::import::{ImportError, ImportOptions};
use super::messages::{self, Asterisk, MessageAdminError};
use super::repair::RepairOptions;
use super::secret::{self, InputError};
use super::{Admin, AdminError, AudioRemoval, MailboxFields, MailboxStatus, show};
use crate::config::Config;
use crate::domain::{Password, Pin};
use crate::notify::email::Notifier;
use crate::store::Store;

/// Exit status after Ctrl-C, as shells report a SIGINT death (128 + 2).
const INTERRUPTED: u8 = 130;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create, change, delete, list and show mailboxes.
    #[command(subcommand)]
    Mailbox(MailboxCommand),
    /// Unlock a mailbox and give it a PIN that must be changed at the next login:
    /// the org default PIN, or a temporary PIN with --temporary.
    ResetPin {
        mailbox: String,
        /// Read a temporary PIN (from standard input, or prompted) instead of using
        /// the org default PIN.
        #[arg(long)]
        temporary: bool,
    },
    /// Give a mailbox a temporary PIN (from standard input, or prompted) that must
    /// be changed at the next login; strikes and lock stay as they are.
    SetTempPin { mailbox: String },
    /// Clear a mailbox's strikes and lock; its PIN stays as it is.
    Unlock { mailbox: String },
    /// Set or clear the org default PIN that new mailboxes start with.
    #[command(subcommand)]
    DefaultPin(DefaultPinCommand),
    /// Set the portal's admin passcode (the auto-attendant greetings menu).
    #[command(subcommand)]
    PortalPasscode(PortalPasscodeCommand),
    /// Show a mailbox's status; without a mailbox, the portal's.
    Status {
        mailbox: Option<String>,
        /// One JSON object (stable field names), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show the newest audit entries, oldest first.
    Audit {
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        count: u32,
    },
    /// List, download and delete a mailbox's messages.
    #[command(subcommand)]
    Messages(MessagesCommand),
    /// Import mailboxes, PINs, greetings and messages from another voicemail.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Manage the administrator accounts of the web portal.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage the bearer tokens of the HTTP API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Make the message index and Asterisk's recordings agree again after a crash.
    ///
    /// Indexes orphaned audio, finishes interrupted deletes, drops entries whose
    /// audio is gone. Safe while calls are served; running it twice is harmless.
    Repair,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import one context of Asterisk's app_voicemail: voicemail.conf and its spool.
    ///
    /// Mailboxes (name, e-mail, language, time zone), PINs as temporary PINs that
    /// must be changed (never shown), greetings, name, and messages (INBOX new,
    /// Old and the other saved folders old) with caller, date and length. Audio
    /// is written into Asterisk's recordings directory (converted with sox when
    /// needed). Running it again imports only what is new. Problems are reported
    /// by path and line; the exit status is 1 if a mailbox could not be imported.
    AppVoicemail {
        /// app_voicemail's voicemail.conf (its #include files are read too).
        #[arg(long)]
        conf: PathBuf,
        /// app_voicemail's spool, e.g. /var/spool/asterisk/voicemail.
        #[arg(long)]
        spool: PathBuf,
        /// The voicemail.conf context to import.
        #[arg(long, default_value = "default")]
        context: String,
        /// Asterisk's recordings directory [default: import.recordings_dir].
        #[arg(long)]
        recordings_dir: Option<PathBuf>,
        /// Report what would be done; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MessagesCommand {
    /// List a mailbox's messages, oldest first, dated in its time zone.
    List {
        mailbox: String,
        /// One JSON object (stable field names), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Save a message's audio (WAV) to a file.
    Download {
        mailbox: String,
        /// The message id, as `admin messages list` shows it.
        id: String,
        /// Where to write it [default: <mailbox>-<id>.wav].
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Delete a message and its audio; the phone's lamp is updated.
    Delete {
        mailbox: String,
        /// The message id, as `admin messages list` shows it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an administrator account; the password is read from standard
    /// input, or prompted (at least 12 characters).
    Create { name: String },
    /// Set a new password (read like `create`); unlocks the account and ends its
    /// sessions.
    Password { name: String },
    /// Clear the account's failed sign-ins and lock.
    Unlock { name: String },
    /// Delete the account; its sessions end.
    Delete { name: String },
    /// List the accounts with their lock.
    List,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it, once: only a digest of it is kept.
    Create { name: String },
    /// Revoke a token: requests with it are refused from now on.
    Revoke { name: String },
    /// List the tokens (names and creation times; never the tokens).
    List,
}

#[derive(Debug, Subcommand)]
pub enum MailboxCommand {
    /// Create a mailbox; it starts with the org default PIN if one is set.
    Create {
        number: String,
        #[command(flatten)]
        fields: FieldArgs,
    },
    /// Change the given fields of a mailbox.
    Update {
        number: String,
        #[command(flatten)]
        fields: FieldArgs,
    },
    /// Delete a mailbox with its PIN history, strikes and message index.
    Delete { number: String },
    /// List every mailbox, with its message counts.
    List {
        /// A JSON array (stable field names), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show one mailbox (same as `admin status <mailbox>`).
    Show { number: String },
}

#[derive(Debug, Args)]
pub struct FieldArgs {
    /// The owner's name, for listings ("" removes it).
    #[arg(long)]
    name: Option<String>,
    /// E-mail address for notifications ("" removes it).
    #[arg(long)]
    email: Option<String>,
    /// Prompt language: en or fr [default on create: portal.default_language].
    #[arg(long)]
    language: Option<String>,
    /// IANA time zone of message dates, e.g. Europe/Paris [default on create: UTC].
    #[arg(long)]
    timezone: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DefaultPinCommand {
    /// Set the org default PIN (from standard input, or prompted). Existing
    /// mailboxes keep their PIN.
    Set,
    /// Clear the org default PIN: new mailboxes start without a PIN.
    Clear,
}

#[derive(Debug, Subcommand)]
pub enum PortalPasscodeCommand {
    /// Set the passcode (from standard input, or prompted) and unlock it.
    Set,
}

impl From<FieldArgs> for MailboxFields {
    fn from(args: FieldArgs) -> MailboxFields {
        MailboxFields {
            display_name: args.name,
            email: args.email,
            language: args.language,
            timezone: args.timezone,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Messages(#[from] MessageAdminError),
    #[error("{pending}; removing them failed: {source}")]
    StillPending {
        pending: Box<AdminError>,
        source: Box<MessageAdminError>,
    },
    #[error(
        "{} exists already: choose another file with --output, or add --force to replace it",
        path.display()
    )]
    FileExists { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    WriteFile { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("{0} mailbox(es) could not be imported: see the report above")]
    NotAllImported(usize),
}

/// Runs one admin command to completion and returns the process exit status.
pub fn run(config: &Config, command: AdminCommand) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(EnvFilter::new("warn"))
        .try_init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("voiceportal: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        tokio::select! {
            result = execute(config, command) => match result {
                Ok(text) => {
                    // A closed stdout (`| head`) is not worth a panic.
                    let _ = io::stdout().write_all(text.as_bytes());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("voiceportal: {e}");
                    ExitCode::FAILURE
                }
            },
            Ok(()) = tokio::signal::ctrl_c() => {
                secret::restore_terminal();
                eprintln!("\nvoiceportal: interrupted");
                ExitCode::from(INTERRUPTED)
            }
        }
    });
    // A PIN prompt interrupted by Ctrl-C still blocks a thread in `read`; do not
    // wait for it.
    runtime.shutdown_background();
    code
}

async fn execute(config: &Config, command: AdminCommand) -> Result<String, CliError> {
    let store = Store::connect(&config.redis)
        .await
        .map_err(AdminError::from)?;
    let admin = Admin::new(config, store.clone())?;
    let actor = actor();
    let actor = actor.as_str();
    Ok(match command {
        AdminCommand::Mailbox(command) => mailbox(config, &admin, actor, command).await?,
        AdminCommand::ResetPin { mailbox, temporary } => {
            let pin = if temporary {
                let id = admin.status(&mailbox).await?.record.id;
                Some(read_pin(format!("temporary PIN for mailbox {id}")).await?)
            } else {
                None
            };
            let status = admin.reset_pin(actor, &mailbox, pin).await?;
            let what = if temporary {
                "a temporary PIN"
            } else {
                "the org default PIN"
            };
            format!(
                "mailbox {}: PIN reset to {what} and unlocked; it must be changed at the \
                 next login\n",
                status.record.id
            )
        }
        AdminCommand::SetTempPin { mailbox } => {
            let id = admin.status(&mailbox).await?.record.id;
            let pin = read_pin(format!("temporary PIN for mailbox {id}")).await?;
            let status = admin.set_temp_pin(actor, &mailbox, pin).await?;
            let mut text =
                format!("mailbox {id}: temporary PIN set; it must be changed at the next login\n");
            if status.lock.locked {
                text.push_str(&format!(
                    "note: mailbox {id} is locked; unlock it with `voiceportal admin \
                     unlock {id}` before its owner can log in\n"
                ));
            }
            text
        }
        AdminCommand::Unlock { mailbox } => {
            let status = admin.unlock(actor, &mailbox).await?;
            format!("mailbox {}: unlocked, strikes 0\n", status.record.id)
        }
        AdminCommand::DefaultPin(DefaultPinCommand::Set) => {
            let pin = read_pin("org default PIN".into()).await?;
            admin.set_default_pin(actor, Some(pin)).await?;
            "org default PIN set: mailboxes created from now on start with it (existing \
             mailboxes keep their PIN)\n"
                .into()
        }
        AdminCommand::DefaultPin(DefaultPinCommand::Clear) => {
            admin.set_default_pin(actor, None).await?;
            "org default PIN cleared: new mailboxes start without a PIN (existing \
             mailboxes keep theirs)\n"
                .into()
        }
        AdminCommand::PortalPasscode(PortalPasscodeCommand::Set) => {
            let passcode = read_pin("portal passcode".into()).await?;
            admin.set_portal_passcode(actor, passcode).await?;
            "portal passcode set and unlocked\n".into()
        }
        AdminCommand::Status {
            mailbox: Some(number),
            json,
        } => {
            let status = admin.status(&number).await?;
            if json {
                show::json(&show::mailbox_json(&status))
            } else {
                show::mailbox(&status)
            }
        }
        AdminCommand::Status {
            mailbox: None,
            json,
        } => {
            let status = admin.portal_status().await?;
            if json {
                show::json(&show::portal_json(&status))
            } else {
                show::portal(&status)
            }
        }
        AdminCommand::Audit { count } => show::audit(&admin.audit_log(count as usize).await?),
        AdminCommand::Messages(command) => messages_command(config, &admin, actor, command).await?,
        AdminCommand::Import(ImportCommand::AppVoicemail {
            conf,
            spool,
            context,
            recordings_dir,
            dry_run,
        }) => {
            let options = ImportOptions {
                conf,
                spool,
                context,
                recordings_dir: recordings_dir
                    .unwrap_or_else(|| config.import.recordings_dir.clone()),
                dry_run,
            };
            let report = admin
                .import_app_voicemail(actor, &asterisk(config)?, &options)
                .await?;
            // The report goes to stdout even when a mailbox failed.
            let _ = io::stdout().write_all(report.to_string().as_bytes());
            if report.failed() > 0 {
                return Err(CliError::NotAllImported(report.failed()));
            }
            String::new()
        }
        AdminCommand::Account(command) => account_command(&admin, actor, command).await?,
        AdminCommand::Token(command) => token_command(&admin, actor, command).await?,
        AdminCommand::Repair => {
            let asterisk = asterisk(config)?;
            let notifier = Notifier::queue_only(&config.email, store.clone());
            let options = RepairOptions::for_config(config);
            let report = admin.repair(actor, &asterisk, options, &notifier).await?;
            format!(
                "repair done; message-waiting lamps republished\n{}",
                show::repair_report(&report)
            )
        }
    })
}

/// ARI is only needed (and only built) by the commands that touch audio or lamps,
/// so `messages list` works while Asterisk is down.
fn asterisk(config: &Config) -> Result<Asterisk, MessageAdminError> {
    Asterisk::new(&config.ari, &config.portal.mwi_context)
}

async fn messages_command(
    config: &Config,
    admin: &Admin,
    actor: &str,
    command: MessagesCommand,
) -> Result<String, CliError> {
    Ok(match command {
        MessagesCommand::List { mailbox, json } => {
            let listing = admin.list_messages(&mailbox).await?;
            if json {
                show::json(&show::messages_json(&listing))
            } else {
                show::messages(&listing)
            }
        }
        MessagesCommand::Download {
            mailbox,
            id,
            output,
            force,
        } => {
            let asterisk = asterisk(config)?;
            let (message, audio) = admin
                .download_message(actor, &asterisk, &mailbox, &id)
                .await?;
            let path = output.unwrap_or_else(|| messages::default_file_name(&message).into());
            write_file(&path, &audio, force)?;
            format!(
                "wrote message {} of mailbox {} to {} ({} bytes)\n",
                message.id,
                message.mailbox,
                path.display(),
                audio.len()
            )
        }
        MessagesCommand::Delete { mailbox, id } => {
            let asterisk = asterisk(config)?;
            let counts = admin
                .delete_message(actor, &asterisk, &mailbox, &id)
                .await?;
            format!(
                "deleted message {} of mailbox {}: {} new, {} old left\n",
                id.trim(),
                mailbox.trim(),
                counts.new,
                counts.old
            )
        }
    })
}

/// Writes a download; never replaces an existing file unless `force`, so a
/// mistyped --output cannot destroy something. A failed write removes the
/// partial file rather than leave a truncated WAV behind.
fn write_file(path: &Path, bytes: &[u8], force: bool) -> Result<(), CliError> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == io::ErrorKind::AlreadyExists {
            CliError::FileExists {
                path: path.to_owned(),
            }
        } else {
            CliError::WriteFile {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    if let Err(source) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(CliError::WriteFile {
            path: path.to_owned(),
            source,
        });
    }
    Ok(())
}

async fn mailbox(
    config: &Config,
    admin: &Admin,
    actor: &str,
    command: MailboxCommand,
) -> Result<String, CliError> {
    Ok(match command {
        MailboxCommand::Create { number, fields } => {
            let fields: MailboxFields = fields.into();
            let mut out = String::new();
            let record = match admin.create_mailbox(actor, &number, &fields).await {
                // The recordings of a deleted mailbox of that number are still
                // in Asterisk: remove them now, then create.
                Err(AdminError::AudioPending(id)) => {
                    let purged = match asterisk(config) {
                        Ok(asterisk) => admin.purge(&asterisk, id.as_str()).await,
                        Err(e) => Err(e),
                    };
                    let removed = purged.map_err(|source| CliError::StillPending {
                        pending: Box::new(AdminError::AudioPending(id.clone())),
                        source: Box::new(source),
                    })?;
                    out.push_str(&format!(
                        "removed {removed} recordings left in Asterisk by the deleted mailbox {id}\n"
                    ));
                    admin.create_mailbox(actor, &number, &fields).await?
                }
                other => other?,
            };
            let status = admin.status(record.id.as_str()).await?;
            out.push_str(&format!(
                "created mailbox {}\n{}",
                record.id,
                show::mailbox(&status)
            ));
            out
        }
        MailboxCommand::Update { number, fields } => {
            let record = admin.update_mailbox(actor, &number, &fields.into()).await?;
            let status: MailboxStatus = admin.status(record.id.as_str()).await?;
            format!("updated mailbox {}\n{}", record.id, show::mailbox(&status))
        }
        MailboxCommand::Delete { number } => {
            // The mailbox goes, then its audio in Asterisk. Asterisk being away
            // leaves files behind: the number stays marked, no mailbox of that
            // number can be created before they are gone, and repair (or the
            // next `mailbox create`) removes them.
            let removed = match asterisk(config) {
                Ok(asterisk) => {
                    admin
                        .delete_mailbox_and_audio(actor, &asterisk, &number)
                        .await?
                }
                Err(e) => {
                    admin.delete_mailbox(actor, &number).await?;
                    AudioRemoval::Left(e)
                }
            };
            let mut out = format!("deleted mailbox {}\n", number.trim());
            match removed {
                AudioRemoval::Removed(n) => {
                    out.push_str(&format!("removed {n} recordings from Asterisk\n"))
                }
                AudioRemoval::Left(e) => out.push_str(&format!(
                    "warning: its recordings in Asterisk were not removed ({e}); they will be \
                     by `voiceportal admin repair` (run by the service too) or before a new \
                     mailbox {} is created\n",
                    number.trim()
                )),
            }
            out
        }
        MailboxCommand::List { json } => {
            let listing = admin.list_mailboxes_with_counts().await?;
            if json {
                show::json(&show::mailbox_list_json(&listing))
            } else {
                show::mailbox_list(&listing)
            }
        }
        MailboxCommand::Show { number } => show::mailbox(&admin.status(&number).await?),
    })
}

async fn account_command(
    admin: &Admin,
    actor: &str,
    command: AccountCommand,
) -> Result<String, CliError> {
    Ok(match command {
        AccountCommand::Create { name } => {
            let password = read_password(format!("password for {}", name.trim())).await?;
            let name = admin.create_account(actor, &name, password).await?;
            format!("created administrator account {name}\n")
        }
        AccountCommand::Password { name } => {
            let password = read_password(format!("password for {}", name.trim())).await?;
            admin.set_account_password(actor, &name, password).await?;
            format!(
                "administrator {}: password changed, account unlocked, sessions ended\n",
                name.trim()
            )
        }
        AccountCommand::Unlock { name } => {
            admin.unlock_account(actor, &name).await?;
            format!("administrator {}: unlocked\n", name.trim())
        }
        AccountCommand::Delete { name } => {
            admin.delete_account(actor, &name).await?;
            format!("deleted administrator account {}\n", name.trim())
        }
        AccountCommand::List => show::accounts(&admin.list_accounts().await?),
    })
}

async fn token_command(
    admin: &Admin,
    actor: &str,
    command: TokenCommand,
) -> Result<String, CliError> {
    Ok(match command {
        TokenCommand::Create { name } => {
            let token = admin.create_token(actor, &name).await?;
            // The one place a token is ever shown: stdout of the command that
            // made it, for the administrator to store in their automation.
            format!("{token}\n")
        }
        TokenCommand::Revoke { name } => {
            admin.revoke_token(actor, &name).await?;
            format!("revoked API token {}\n", name.trim())
        }
        TokenCommand::List => show::tokens(&admin.list_tokens().await?),
    })
}

async fn read_password(label: String) -> Result<Password, InputError> {
    tokio::task::spawn_blocking(move || secret::read_password(&label))
        .await
        .map_err(|e| InputError::Io(io::Error::other(e.to_string())))?
}

/// Reads a PIN on a blocking thread: the prompt waits for a person.
async fn read_pin(label: String) -> Result<Pin, InputError> {
    tokio::task::spawn_blocking(move || secret::read_pin(&label))
        .await
        .map_err(|e| InputError::Io(io::Error::other(e.to_string())))?
}

/// The OS user: the one who ran `sudo` if any, else the login user.
fn actor() -> String {
    ["SUDO_USER", "USER"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

//! Reading a PIN or passcode for the CLI.
//!
//! Never from the command line: arguments are visible to every user in `ps` and
//! stay in shell history. Instead, the first line of standard input when it is not
//! a terminal (`printf '%s\n' "$PIN" | voiceportal admin ...`, or a file), and
//! otherwise a prompt on the terminal, twice, with echo turned off.
//!
//! Echo is switched with `stty`, which acts on the terminal it gets as standard
//! input: no extra dependency for one flag. If that fails the PIN is not read at
//! all, rather than read visibly.

use std::io::{self, BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::domain::{Password, PasswordRejection, Pin, PinRejection};

/// Why no PIN could be read. No variant carries what was typed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(
        "no PIN on standard input (PINs are read from standard input or the terminal, \
         never from the command line)"
    )]
    Empty,
    #[error("the two entries differ")]
    Mismatch,
    #[error("PIN refused: {0}")]
    Pin(#[from] PinRejection),
    #[error("password refused: {0}")]
    Password(#[from] PasswordRejection),
    #[error(
        "cannot turn off echo on this terminal (stty failed); give the PIN on standard \
         input instead"
    )]
    NoEchoControl,
    #[error("cannot read the PIN: {0}")]
    Io(#[from] io::Error),
}

/// Set while echo is off, so an interrupted prompt can restore it.
static ECHO_OFF: AtomicBool = AtomicBool::new(false);

/// Reads one PIN, `label` naming it in the prompt ("temporary PIN for mailbox 1001").
/// Blocks: call it from a blocking thread in async code.
pub fn read_pin(label: &str) -> Result<Pin, InputError> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        if line.trim().is_empty() {
            return Err(InputError::Empty);
        }
        return Ok(Pin::parse(&line)?);
    }
    let first = Pin::parse(&prompt_hidden(&format!("New {label}: "))?)?;
    let again = prompt_hidden(&format!("Repeat the {label}: "))?;
    match Pin::parse(&again) {
        Ok(second) if second == first => Ok(first),
        _ => Err(InputError::Mismatch),
    }
}

/// Reads one new password like [`read_pin`]: the first line of standard input,
/// or prompted twice without echo.
pub fn read_password(label: &str) -> Result<Password, InputError> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        if line.trim().is_empty() {
            return Err(InputError::Empty);
        }
        return Ok(Password::new_password(&line)?);
    }
    let first = Password::new_password(&prompt_hidden(&format!("New {label}: "))?)?;
    let again = prompt_hidden(&format!("Repeat the {label}: "))?;
    match Password::new_password(&again) {
        Ok(second) if second.expose() == first.expose() => Ok(first),
        _ => Err(InputError::Mismatch),
    }
}

/// Turns echo back on if a prompt was interrupted (Ctrl-C) while it was off.
pub fn restore_terminal() {
    if ECHO_OFF.swap(false, Ordering::SeqCst) {
        let _ = stty("echo");
    }
}

/// Prompts on stderr (stdout stays for results) and reads one line unechoed.
fn prompt_hidden(prompt: &str) -> Result<String, InputError> {
    let mut stderr = io::stderr();
    write!(stderr, "{prompt}")?;
    stderr.flush()?;
    let echo_off = EchoOff::new()?;
    let mut line = String::new();
    let read = io::stdin().lock().read_line(&mut line);
    drop(echo_off);
    // The Enter key was not echoed either.
    writeln!(stderr)?;
    read?;
    Ok(line)
}

/// Echo is off while this lives.
struct EchoOff;

impl EchoOff {
    fn new() -> Result<EchoOff, InputError> {
        stty("-echo").map_err(|_| InputError::NoEchoControl)?;
        ECHO_OFF.store(true, Ordering::SeqCst);
        Ok(EchoOff)
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn stty(setting: &str) -> io::Result<()> {
    let status = Command::new("stty")
        .arg(setting)
        .stdin(Stdio::inherit())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other("stty failed"))
    }
}

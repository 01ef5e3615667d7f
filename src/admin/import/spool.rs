//! app_voicemail's spool, as `apps/app_voicemail.c` writes it under
//! `<spool>/<context>/<mailbox>/`:
//!
//! - folders `INBOX`, `Old`, `Work`, `Family`, `Friends`, `Cust1`..`Cust5`,
//!   `Urgent` (unheard urgent messages), `Deleted` (backups of deleted messages,
//!   `backupdeleted=`) and `tmp` (messages being recorded);
//! - in each folder, message `msgNNNN` as `msgNNNN.txt` (a `[message]` section:
//!   `callerid="Name" <number>`, `origtime=` Unix seconds, `duration=` seconds,
//!   `msg_id=`) and one audio file per recording format (`msgNNNN.wav`,
//!   `msgNNNN.WAV` for wav49, `msgNNNN.gsm`, ...);
//! - greetings `unavail`, `busy`, `temp` and the spoken name `greet`, each in the
//!   same formats; `secret.conf` when `passwordlocation=spooldir`.
//!
//! INBOX and Urgent become new messages, the saved folders old ones; Deleted and
//! tmp are not imported (said in the report). A message without its `.txt` is
//! still imported (dated by its file, caller unknown); a `.txt` without audio
//! has nothing to hear and is reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::audio::{AudioFile, AudioFormat};
use super::conf;
use super::report::{Location, Problem};
use crate::notify::email::clean;
use crate::store::messages::Folder;

/// A greeting or the name, in every format the spool has it.
#[derive(Debug, Clone)]
pub struct Greeting {
    /// The service's recording: `unavail`, `busy`, `temp`, `name`.
    pub name: &'static str,
    pub files: Vec<AudioFile>,
}

/// One message of the spool.
#[derive(Debug, Clone)]
pub struct SpoolMessage {
    pub folder: Folder,
    pub files: Vec<AudioFile>,
    pub caller_number: String,
    pub caller_name: String,
    /// From `origtime`, else the audio file's time.
    pub received: DateTime<Utc>,
    /// From `duration`, when it could be read.
    pub duration_secs: Option<u32>,
    /// What identifies the message across imports, even after app_voicemail
    /// moved it to another folder (then its `msg_id` is the same).
    pub key: String,
}

/// What the spool holds for one mailbox.
#[derive(Debug, Clone, Default)]
pub struct SpoolMailbox {
    pub greetings: Vec<Greeting>,
    pub messages: Vec<SpoolMessage>,
    /// `secret.conf`, if there is one.
    pub secret: Option<PathBuf>,
}

/// The folders of a mailbox, by name: new, old, or not imported.
fn folder(name: &str) -> Option<Option<Folder>> {
    match name {
        "INBOX" | "Urgent" => Some(Some(Folder::New)),
        "Old" | "Work" | "Family" | "Friends" | "Cust1" | "Cust2" | "Cust3" | "Cust4" | "Cust5" => {
            Some(Some(Folder::Old))
        }
        "Deleted" | "tmp" => Some(None),
        _ => None,
    }
}

/// The service's name of an app_voicemail greeting file stem.
fn greeting_name(stem: &str) -> Option<&'static str> {
    match stem {
        "unavail" => Some("unavail"),
        "busy" => Some("busy"),
        "temp" => Some("temp"),
        "greet" => Some("name"),
        _ => None,
    }
}

/// The directory of `context` in the spool (voicemail.conf's spelling, else one
/// differing only in case); `None` if the context has no directory (no
/// messages, no greetings).
pub fn context_dir(spool: &Path, context: &str) -> Result<Option<PathBuf>, String> {
    if !spool.is_dir() {
        return Err(format!(
            "spool directory {} does not exist (app_voicemail's is usually \
             /var/spool/asterisk/voicemail)",
            spool.display()
        ));
    }
    let exact = spool.join(context);
    if exact.is_dir() {
        return Ok(Some(exact));
    }
    Ok(subdirs(spool)
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(context))
        .map(|(_, path)| path))
}

/// The subdirectories of `dir`, by name, sorted.
pub fn subdirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = entries(dir)
        .into_iter()
        .filter(|(_, path)| path.is_dir())
        .collect();
    found.sort();
    found
}

fn entries(dir: &Path) -> Vec<(String, PathBuf)> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect()
        })
        .unwrap_or_default()
}

/// `name.ext` split at the last dot.
fn stem_and_extension(name: &str) -> Option<(&str, &str)> {
    name.rsplit_once('.').filter(|(stem, _)| !stem.is_empty())
}

/// Reads a mailbox's directory (which may not exist: then nothing).
pub fn read_mailbox(dir: &Path, problems: &mut Vec<Problem>) -> SpoolMailbox {
    let mut mailbox = SpoolMailbox::default();
    let mut greetings: BTreeMap<&'static str, Vec<AudioFile>> = BTreeMap::new();
    let mut listing = entries(dir);
    listing.sort();
    for (name, path) in listing {
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            match folder(&name) {
                Some(Some(kind)) => read_folder(&path, kind, &mut mailbox.messages, problems),
                Some(None) => note_not_imported(&name, &path, problems),
                None => problems.push(Problem::new(
                    Location::file(&path),
                    "not an app_voicemail folder: not imported",
                )),
            }
            continue;
        }
        if name == "secret.conf" {
            mailbox.secret = Some(path);
            continue;
        }
        let audio = stem_and_extension(&name).and_then(|(stem, ext)| {
            Some((greeting_name(stem)?, AudioFormat::from_extension(ext)?))
        });
        match audio {
            Some((greeting, format)) => greetings
                .entry(greeting)
                .or_default()
                .push(AudioFile { path, format }),
            None => problems.push(Problem::new(
                Location::file(&path),
                "not an app_voicemail greeting or file: ignored",
            )),
        }
    }
    mailbox.greetings = greetings
        .into_iter()
        .map(|(name, files)| Greeting { name, files })
        .collect();
    mailbox
}

/// Deleted and tmp: said, not imported.
fn note_not_imported(name: &str, path: &Path, problems: &mut Vec<Problem>) {
    let count = entries(path)
        .iter()
        .filter(|(file, _)| file.ends_with(".txt"))
        .count();
    if count == 0 {
        return;
    }
    let why = if name == "tmp" {
        "being recorded when app_voicemail stopped"
    } else {
        "deleted by their owner (app_voicemail's backup)"
    };
    problems.push(Problem::new(
        Location::file(path),
        format!("{count} message(s) {why}: not imported"),
    ));
}

fn read_folder(
    dir: &Path,
    kind: Folder,
    messages: &mut Vec<SpoolMessage>,
    problems: &mut Vec<Problem>,
) {
    #[derive(Default)]
    struct Files {
        txt: Option<PathBuf>,
        audio: Vec<AudioFile>,
    }
    let mut by_message: BTreeMap<String, Files> = BTreeMap::new();
    for (name, path) in entries(dir) {
        if name.starts_with('.') {
            continue;
        }
        let parts = stem_and_extension(&name).filter(|(stem, _)| is_message_stem(stem));
        let Some((stem, ext)) = parts else {
            problems.push(Problem::new(
                Location::file(&path),
                "not an app_voicemail message file: ignored",
            ));
            continue;
        };
        let files = by_message.entry(stem.to_owned()).or_default();
        if ext == "txt" {
            files.txt = Some(path);
        } else if let Some(format) = AudioFormat::from_extension(ext) {
            files.audio.push(AudioFile { path, format });
        } else {
            problems.push(Problem::new(
                Location::file(&path),
                "not an audio format Asterisk records in: ignored",
            ));
        }
    }
    for (stem, mut files) in by_message {
        let source = dir.join(&stem);
        files.audio.sort_by(|a, b| a.path.cmp(&b.path));
        if files.audio.is_empty() {
            let at = files.txt.as_deref().unwrap_or(&source);
            problems.push(Problem::new(
                Location::file(at),
                "a message without audio: nothing to hear, not imported",
            ));
            continue;
        }
        let folder_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let message = match &files.txt {
            Some(txt) => with_info(txt, &folder_name, &stem, kind, &files.audio, problems),
            None => {
                problems.push(Problem::new(
                    Location::file(&files.audio[0].path),
                    format!(
                        "{stem} has no {stem}.txt: imported with the file's date and no caller"
                    ),
                ));
                without_info(&folder_name, &stem, kind, &files.audio)
            }
        };
        messages.push(SpoolMessage {
            files: files.audio,
            ..message
        });
    }
}

/// `msg` and digits (app_voicemail writes four).
fn is_message_stem(stem: &str) -> bool {
    stem.strip_prefix("msg")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The modification time of the first audio file: when app_voicemail wrote it.
fn file_time(files: &[AudioFile]) -> (DateTime<Utc>, i64) {
    let time = files
        .first()
        .and_then(|f| std::fs::metadata(&f.path).ok())
        .and_then(|m| m.modified().ok())
        .map(DateTime::<Utc>::from)
        .unwrap_or(DateTime::UNIX_EPOCH);
    (time, time.timestamp())
}

fn without_info(folder: &str, stem: &str, kind: Folder, files: &[AudioFile]) -> SpoolMessage {
    let (received, secs) = file_time(files);
    let size = files
        .first()
        .and_then(|f| std::fs::metadata(&f.path).ok())
        .map_or(0, |m| m.len());
    SpoolMessage {
        folder: kind,
        files: Vec::new(),
        caller_number: String::new(),
        caller_name: String::new(),
        received,
        duration_secs: None,
        key: format!("file:{folder}/{stem}|{size}|{secs}"),
    }
}

fn with_info(
    txt: &Path,
    folder: &str,
    stem: &str,
    kind: Folder,
    files: &[AudioFile],
    problems: &mut Vec<Problem>,
) -> SpoolMessage {
    let mut local = Vec::new();
    let parsed = conf::read(txt, &mut local);
    problems.append(&mut local);
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            problems.push(Problem::new(
                Location::file(txt),
                format!("{e}: imported with the file's date and no caller"),
            ));
            return without_info(folder, stem, kind, files);
        }
    };
    let Some(section) = parsed.categories_named("message").last() else {
        problems.push(Problem::new(
            Location::file(txt),
            "no [message] section: imported with the file's date and no caller",
        ));
        return without_info(folder, stem, kind, files);
    };
    let value = |name: &str| section.get(name);
    let (caller_name, caller_number) = value("callerid")
        .map(|v| parse_callerid(&v.value))
        .unwrap_or_default();
    let received = match value("origtime") {
        Some(v) => match v.value.trim().parse::<i64>().ok().filter(|&t| t > 0) {
            Some(secs) => DateTime::from_timestamp(secs, 0),
            None => {
                problems.push(Problem::new(
                    v.at.clone(),
                    format!(
                        "origtime {:?} is not a time in seconds: the file's date is used",
                        clip(&v.value)
                    ),
                ));
                None
            }
        },
        None => {
            problems.push(Problem::new(
                Location::file(txt),
                "no origtime: the file's date is used",
            ));
            None
        }
    };
    let duration_secs = value("duration").and_then(|v| match v.value.trim().parse::<u32>() {
        Ok(secs) => Some(secs),
        Err(_) => {
            problems.push(Problem::new(
                v.at.clone(),
                format!(
                    "duration {:?} is not a number of seconds: the audio's length is used",
                    clip(&v.value)
                ),
            ));
            None
        }
    });
    let key = match value("msg_id")
        .map(|v| v.value.trim())
        .filter(|id| !id.is_empty())
    {
        Some(id) => format!("msg_id:{}", clip(id)),
        None => format!(
            "txt:{}|{}|{}|{folder}/{stem}",
            value("origtime")
                .map(|v| v.value.trim())
                .unwrap_or_default(),
            clip(
                value("callerid")
                    .map(|v| v.value.as_str())
                    .unwrap_or_default()
            ),
            value("duration")
                .map(|v| v.value.trim())
                .unwrap_or_default(),
        ),
    };
    SpoolMessage {
        folder: kind,
        files: Vec::new(),
        caller_number: clean(&caller_number),
        caller_name: clean(&caller_name),
        received: received.unwrap_or_else(|| file_time(files).0),
        duration_secs,
        key,
    }
}

/// `"Name" <number>`, `Name <number>`, a bare number, or a bare name, read as
/// Asterisk's `ast_callerid_parse` reads them; app_voicemail writes `Unknown`
/// when it had neither. Returns (name, number).
pub fn parse_callerid(raw: &str) -> (String, String) {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("unknown") || raw.eq_ignore_ascii_case("<unknown>") {
        return (String::new(), String::new());
    }
    let (text, quoted) = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if !inner.contains('<') => (inner, true),
        _ => (raw, false),
    };
    if let Some(open) = text.rfind('<') {
        let after = &text[open + 1..];
        let number = after.rfind('>').map_or(after, |close| &after[..close]);
        let name = text[..open].trim();
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .unwrap_or(name);
        return (unescape(name), number.trim().to_owned());
    }
    let shrunk: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '(' | ')' | '-' | '.'))
        .collect();
    let is_number = !shrunk.is_empty()
        && shrunk
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '*' | '#'));
    if !quoted && is_number {
        (String::new(), shrunk)
    } else {
        (unescape(text), String::new())
    }
}

/// Undoes `ast_escape_quoted`: `\"` and `\\`.
fn unescape(name: &str) -> String {
    let mut out = String::new();
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn clip(raw: &str) -> String {
    raw.chars().take(128).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_ids_as_asterisk_parses_them() {
        let cases = [
            ("\"Alice Martin\" <1002>", ("Alice Martin", "1002")),
            ("Bob <+33 6 12>", ("Bob", "+33 6 12")),
            (
                "\"Zoë \\\"Z\\\" Ørsted\" <0612345678>",
                ("Zoë \"Z\" Ørsted", "0612345678"),
            ),
            ("0612345678", ("", "0612345678")),
            ("(06) 12-34.56", ("", "06123456")),
            ("\"1002\"", ("1002", "")),
            ("Reception", ("Reception", "")),
            ("Unknown", ("", "")),
            ("<1003>", ("", "1003")),
            ("\"Name\" <1004", ("Name", "1004")),
            ("", ("", "")),
        ];
        for (raw, (name, number)) in cases {
            assert_eq!(
                parse_callerid(raw),
                (name.to_owned(), number.to_owned()),
                "{raw}"
            );
        }
    }

    #[test]
    fn folders_and_greetings() {
        assert_eq!(folder("INBOX"), Some(Some(Folder::New)));
        assert_eq!(folder("Urgent"), Some(Some(Folder::New)));
        assert_eq!(folder("Family"), Some(Some(Folder::Old)));
        assert_eq!(folder("Deleted"), Some(None));
        assert_eq!(folder("inbox"), None);
        assert_eq!(greeting_name("greet"), Some("name"));
        assert_eq!(greeting_name("unavail"), Some("unavail"));
        assert_eq!(greeting_name("msg0000"), None);
        assert!(is_message_stem("msg0000") && is_message_stem("msg12345"));
        assert!(!is_message_stem("msg") && !is_message_stem("msgA"));
    }
}

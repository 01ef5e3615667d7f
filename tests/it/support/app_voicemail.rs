//! Builds what Asterisk's app_voicemail leaves on disk, in its real formats
//! (`apps/app_voicemail.c` of Asterisk 22): `voicemail.conf` (with `#include`,
//! comments, zones), and the spool `<context>/<mailbox>/<Folder>/msgNNNN.txt`
//! plus one audio file per recording format of `format=wav49|gsm|wav`
//! (`.WAV` is GSM in WAV, `.gsm` raw GSM, `.wav` 8 kHz 16-bit PCM), greetings
//! `unavail`, `busy`, `temp` and the name `greet`. Audio is made with sox, as
//! app_voicemail's formats are what sox reads and writes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary tree: `voicemail.conf`, `spool/`, and an (empty) Asterisk
/// recordings directory. Removed when dropped.
pub struct Tree {
    pub root: PathBuf,
}

impl Tree {
    pub fn new(name: &str) -> Tree {
        let root = std::env::temp_dir().join(format!(
            "vp-import-{name}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(root.join("spool")).unwrap();
        std::fs::create_dir_all(root.join("recording")).unwrap();
        Tree { root }
    }

    pub fn conf(&self) -> PathBuf {
        self.root.join("voicemail.conf")
    }

    pub fn spool(&self) -> PathBuf {
        self.root.join("spool")
    }

    pub fn recordings(&self) -> PathBuf {
        self.root.join("recording")
    }

    /// Writes a file under the root (directories created).
    pub fn write(&self, relative: &str, bytes: &[u8]) -> PathBuf {
        let path = self.root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// A mailbox directory of the spool: `spool/<context>/<mailbox>`.
    pub fn mailbox(&self, context: &str, mailbox: &str) -> PathBuf {
        let dir = self.spool().join(context).join(mailbox);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs sox; the import tests need it as much as the import does.
pub fn sox(args: &[&str]) {
    let status = Command::new("sox")
        .args(args)
        .status()
        .expect("sox is not installed: apt-get install sox (scripts/test does it)");
    assert!(status.success(), "sox {args:?} failed");
}

/// `stem` (a path without extension) in each of `formats` (`wav`, `WAV`,
/// `gsm`), `secs` seconds of a tone, as app_voicemail writes one recording in
/// every format of its list.
pub fn audio(stem: &Path, secs: f64, formats: &[&str]) {
    let pcm = stem.with_extension("pcm-source.wav");
    let pcm_str = pcm.to_str().unwrap();
    sox(&[
        "-D",
        "-n",
        "-r",
        "8000",
        "-c",
        "1",
        "-b",
        "16",
        "-e",
        "signed-integer",
        pcm_str,
        "synth",
        &secs.to_string(),
        "sine",
        "440",
        "vol",
        "0.5",
    ]);
    for format in formats {
        let out = stem.with_extension(format);
        let out = out.to_str().unwrap();
        match *format {
            "wav" => sox(&["-D", pcm_str, out]),
            "WAV" => sox(&["-D", pcm_str, "-e", "gsm-full-rate", "-t", "wav", out]),
            "gsm" => sox(&["-D", pcm_str, "-t", "gsm", out]),
            "ulaw" => sox(&["-D", pcm_str, "-t", "ul", out]),
            other => std::fs::write(out, format!("pretend {other} audio")).unwrap(),
        }
    }
    std::fs::remove_file(&pcm).unwrap();
}

/// A `msgNNNN.txt` exactly as app_voicemail's `leave_voicemail` writes it
/// (`msg_id` absent before Asterisk 11: pass `None`).
pub fn message_txt(
    mailbox: &str,
    callerid: &str,
    origtime: &str,
    duration: &str,
    msg_id: Option<&str>,
) -> String {
    let msg_id = msg_id
        .map(|id| format!("msg_id={id}\n"))
        .unwrap_or_default();
    format!(
        ";\n; Message Information file\n;\n[message]\norigmailbox={mailbox}\ncontext=from-outside\n\
         exten={mailbox}\nrdnis=unknown\npriority=2\ncallerchan=PJSIP/trunk-00000001\n\
         callerid={callerid}\norigdate=Mon Nov 24 10:15:02 AM UTC 2025\norigtime={origtime}\n\
         category=\n{msg_id}flag=\nduration={duration}\n"
    )
}

/// A message: its `.txt` (when given) and its audio in `formats`.
pub fn message(folder: &Path, number: u32, txt: Option<&str>, secs: f64, formats: &[&str]) {
    std::fs::create_dir_all(folder).unwrap();
    let stem = folder.join(format!("msg{number:04}"));
    if let Some(txt) = txt {
        std::fs::write(stem.with_extension("txt"), txt).unwrap();
    }
    if !formats.is_empty() {
        audio(&stem, secs, formats);
    }
}

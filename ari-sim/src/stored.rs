//! Stored recordings: what a kept recording leaves on "disk".
//!
//! Each one is kept as runs of speech and silence (8 kHz samples), from which
//! a real WAV file (mono, 16-bit PCM, 44-byte header) is produced on download:
//! speech is a non-zero waveform, silence is zeros, and an empty recording is
//! just the header, like the 44-byte file Asterisk leaves.
//!
//! With `SimConfig::recordings_dir`, recordings are files in that directory, as
//! in Asterisk's own recordings directory: `<dir>/<name>.<format>`. What the app
//! records is written there, and what another program puts there (an import of
//! old voicemail, a copy by hand) is seen by ARI as a stored recording, with the
//! file's extension as its format. Without it, everything stays in memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Samples per virtual millisecond (8 kHz).
const SAMPLES_PER_MS: u64 = 8;

/// The file extensions Asterisk reads as stored recordings (its format names),
/// with the bytes one millisecond of audio takes in each (0: not known).
const FORMATS: &[(&str, u64)] = &[
    ("wav", 16),
    ("WAV", 0),
    ("wav49", 0),
    ("gsm", 0),
    ("sln", 16),
    ("sln16", 32),
    ("wav16", 32),
    ("ulaw", 8),
    ("alaw", 8),
    ("g722", 8),
    ("g729", 1),
];

/// One stored recording.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredRec {
    pub(crate) format: String,
    /// Runs of (is speech, length in ms), in order.
    pub(crate) runs: Vec<(bool, u64)>,
    /// The file as found in the recordings directory, when another program
    /// wrote it: served as is.
    pub(crate) file: Option<Vec<u8>>,
}

impl StoredRec {
    /// A recording of `ms` milliseconds of speech.
    pub(crate) fn speech(format: &str, ms: u64) -> StoredRec {
        let runs = if ms > 0 { vec![(true, ms)] } else { Vec::new() };
        StoredRec {
            format: format.to_string(),
            runs,
            file: None,
        }
    }

    /// A recording as read from a file: its length from the WAV data chunk (or
    /// the size, for raw formats), heard as speech throughout.
    fn from_file(format: &str, bytes: Vec<u8>) -> StoredRec {
        let ms = match format {
            "wav" | "wav16" => wav_data_ms(&bytes),
            _ => FORMATS
                .iter()
                .find(|(ext, _)| *ext == format)
                .and_then(|(_, per_ms)| (*per_ms > 0).then(|| bytes.len() as u64 / per_ms))
                .unwrap_or(0),
        };
        StoredRec {
            file: Some(bytes),
            ..StoredRec::speech(format, ms)
        }
    }

    /// Length in milliseconds.
    pub(crate) fn len_ms(&self) -> u64 {
        self.runs.iter().map(|(_, ms)| ms).sum()
    }

    /// `{"name","format"}` as ARI shows it.
    pub(crate) fn to_json(&self, name: &str) -> String {
        crate::json::Obj::new()
            .str("name", name)
            .str("format", &self.format)
            .finish()
    }

    /// The file's bytes: a WAV for `wav`, raw 16-bit samples for `sln`, and
    /// one byte per sample for the 8-bit codecs (`ulaw`, `alaw`, others).
    pub(crate) fn file_bytes(&self) -> Vec<u8> {
        if let Some(file) = &self.file {
            return file.clone();
        }
        let samples = self.samples();
        match self.format.as_str() {
            "wav" => wav(&samples),
            "sln" | "slin" => samples.iter().flat_map(|s| s.to_le_bytes()).collect(),
            _ => samples.iter().map(|s| (s >> 8) as u8).collect(),
        }
    }

    fn samples(&self) -> Vec<i16> {
        let mut out = Vec::new();
        for (speech, ms) in &self.runs {
            for _ in 0..ms * SAMPLES_PER_MS {
                let n = out.len() as i64;
                out.push(if *speech { triangle(n) } else { 0 });
            }
        }
        out
    }
}

/// A 444 Hz triangle wave at about a tenth of full scale: clearly not silence.
fn triangle(n: i64) -> i16 {
    let phase = n % 18;
    let ramp = if phase < 9 { phase } else { 18 - phase };
    ((ramp - 4) * 800) as i16
}

/// Wraps samples in a canonical 44-byte WAV header.
fn wav(samples: &[i16]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Milliseconds of 8 kHz 16-bit audio in a WAV's `data` chunk (16 kHz for
/// `wav16` is not told apart: lengths of imported test files are 8 kHz).
fn wav_data_ms(bytes: &[u8]) -> u64 {
    let mut pos = 12;
    while let Some(header) = bytes.get(pos..pos + 8) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[..4] == b"data" {
            let available = bytes.len().saturating_sub(pos + 8);
            return size.min(available) as u64 / 16;
        }
        pos += 8 + size + (size & 1);
    }
    0
}

/// All stored recordings, by name (names may contain `/`).
#[derive(Debug, Default)]
pub(crate) struct Stored {
    map: BTreeMap<String, StoredRec>,
    /// The recordings directory, when recordings are files (see the module doc).
    dir: Option<PathBuf>,
}

impl Stored {
    /// Recordings kept as files under `dir`, which is created if needed.
    pub(crate) fn on_disk(dir: PathBuf) -> Stored {
        if let Err(err) = std::fs::create_dir_all(&dir) {
            tracing::warn!(%err, dir = %dir.display(), "cannot create the recordings directory");
        }
        Stored {
            map: BTreeMap::new(),
            dir: Some(dir),
        }
    }

    pub(crate) fn get(&mut self, name: &str) -> Option<&StoredRec> {
        if self.dir.is_some() {
            self.reload(name);
        }
        self.map.get(name)
    }

    pub(crate) fn put(&mut self, name: &str, rec: StoredRec) {
        let safe = !name.split('/').any(|part| part.is_empty() || part == "..");
        if let (Some(dir), true) = (&self.dir, safe) {
            remove_files(dir, name);
            let path = dir.join(format!("{name}.{}", rec.format));
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&path, rec.file_bytes()));
            if let Err(err) = written {
                tracing::warn!(%err, path = %path.display(), "cannot write a recording");
            }
        }
        self.map.insert(name.to_string(), rec);
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<StoredRec> {
        let on_disk = match &self.dir {
            Some(dir) => {
                let found = file_of(dir, name)
                    .map(|(format, path)| StoredRec::from_file(&format, read(&path)));
                remove_files(dir, name);
                found
            }
            None => None,
        };
        self.map.remove(name).or(on_disk)
    }

    pub(crate) fn names(&mut self) -> Vec<String> {
        self.all().into_iter().map(|(name, _)| name).collect()
    }

    /// `GET /recordings/stored` body.
    pub(crate) fn list_json(&mut self) -> String {
        let items: Vec<String> = self
            .all()
            .iter()
            .map(|(name, rec)| rec.to_json(name))
            .collect();
        format!("[{}]", items.join(","))
    }

    /// Every recording, by name; on disk, what the directory holds now.
    fn all(&mut self) -> Vec<(String, StoredRec)> {
        if let Some(dir) = self.dir.clone() {
            let mut names = Vec::new();
            walk(&dir, &dir, &mut names);
            names.sort();
            names.dedup();
            for name in &names {
                self.reload(name);
            }
            self.map.retain(|name, _| names.contains(name));
        }
        self.map
            .iter()
            .map(|(name, rec)| (name.clone(), rec.clone()))
            .collect()
    }

    /// Makes the entry of `name` what its file says: gone without a file; read
    /// from the file when it was written by someone else (or changed format).
    fn reload(&mut self, name: &str) {
        let Some(dir) = &self.dir else { return };
        match file_of(dir, name) {
            None => {
                self.map.remove(name);
            }
            Some((format, path)) => {
                let bytes = read(&path);
                let current = self
                    .map
                    .get(name)
                    .is_some_and(|rec| rec.format == format && rec.file_bytes() == bytes);
                if !current {
                    self.map
                        .insert(name.to_string(), StoredRec::from_file(&format, bytes));
                }
            }
        }
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

/// The file holding recording `name`, and its format (the extension).
fn file_of(dir: &Path, name: &str) -> Option<(String, PathBuf)> {
    if name.split('/').any(|part| part.is_empty() || part == "..") {
        return None;
    }
    FORMATS.iter().find_map(|(ext, _)| {
        let path = dir.join(format!("{name}.{ext}"));
        path.is_file().then(|| ((*ext).to_string(), path))
    })
}

/// Removes every file of recording `name`, whatever its format.
fn remove_files(dir: &Path, name: &str) {
    while let Some((_, path)) = file_of(dir, name) {
        if std::fs::remove_file(&path).is_err() {
            return;
        }
    }
}

/// Collects the names (relative, without extension) of the recordings under
/// `at`.
fn walk(root: &Path, at: &Path, names: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(at) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, names);
            continue;
        }
        let known = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| FORMATS.iter().any(|(ext, _)| *ext == e));
        if let (true, Ok(relative)) = (known, path.with_extension("").strip_prefix(root)) {
            names.push(relative.to_string_lossy().into_owned());
        }
    }
}

//! Audio for the import: which of app_voicemail's files to take, how to make it
//! what the service records, and how to put it into Asterisk's recordings
//! directory.
//!
//! ARI has no upload, so the import writes files: `<recordings dir>/<name>.wav`,
//! exactly where and how a recording of the service lands (`format=wav`: 8 kHz,
//! mono, 16-bit PCM), so that Asterisk plays it, repair reads its length and
//! e-mail attaches it as for any other. app_voicemail keeps each message in every
//! format of its `format=` list (`wav49|gsm|wav` by default: `msg0000.WAV`,
//! `.gsm`, `.wav`); the best one is taken: a `.wav` already in that form is copied
//! byte for byte, anything else is converted with sox. A format sox cannot read
//! (g729, g723, ...) is reported.
//!
//! Files are prepared in a staging directory inside the recordings directory
//! (same file system, so moving them into place is one rename), then moved. When
//! the import runs as root, new files and directories are given to the owner of
//! the recordings directory, so that Asterisk can delete them later.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::report::{Location, Problem};

/// An audio format of app_voicemail's spool, by the file extension Asterisk
/// gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    /// `wav`: 8 kHz 16-bit PCM, what the service records.
    Wav,
    /// `wav16`: 16 kHz 16-bit PCM in WAV.
    Wav16,
    /// `sln`, `raw`, `sln16`, ...: headerless 16-bit PCM at this rate.
    Slin(u32),
    /// `WAV` / `wav49`: GSM 6.10 in a WAV container.
    Wav49,
    /// `gsm`: raw GSM 6.10.
    Gsm,
    /// `ulaw`, `pcm`, `ul`, `mu`, `ulw`: headerless G.711 µ-law.
    Ulaw,
    /// `alaw`, `al`, `alw`: headerless G.711 A-law.
    Alaw,
    /// `vox`: Dialogic ADPCM.
    Vox,
    /// An Asterisk format sox cannot read (g729, g723, g722, g726, ilbc, siren,
    /// speex).
    Unsupported,
}

impl AudioFormat {
    /// The format of an extension, as Asterisk's format modules register them;
    /// `None` for anything that is not audio (`txt`, `conf`).
    pub fn from_extension(ext: &str) -> Option<AudioFormat> {
        Some(match ext {
            "wav" => AudioFormat::Wav,
            "wav16" => AudioFormat::Wav16,
            "WAV" | "wav49" => AudioFormat::Wav49,
            "gsm" => AudioFormat::Gsm,
            "sln" | "raw" => AudioFormat::Slin(8000),
            "pcm" | "ulaw" | "ul" | "mu" | "ulw" => AudioFormat::Ulaw,
            "alaw" | "al" | "alw" => AudioFormat::Alaw,
            "vox" => AudioFormat::Vox,
            "g729" | "g723" | "g723sf" | "g722" | "g726-40" | "g726-32" | "g726-24" | "g726-16"
            | "ilbc" | "siren7" | "siren14" | "speex" => AudioFormat::Unsupported,
            other => {
                let khz = other.strip_prefix("sln")?;
                let rate = match khz {
                    "12" => 12_000,
                    "16" => 16_000,
                    "24" => 24_000,
                    "32" => 32_000,
                    "44" => 44_100,
                    "48" => 48_000,
                    "96" => 96_000,
                    "192" => 192_000,
                    _ => return None,
                };
                AudioFormat::Slin(rate)
            }
        })
    }

    /// Higher is better: lossless first, then what loses least.
    fn preference(self) -> u8 {
        match self {
            AudioFormat::Wav => 10,
            AudioFormat::Wav16 => 9,
            AudioFormat::Slin(_) => 8,
            AudioFormat::Wav49 => 6,
            AudioFormat::Gsm => 5,
            AudioFormat::Ulaw | AudioFormat::Alaw => 4,
            AudioFormat::Vox => 2,
            AudioFormat::Unsupported => 0,
        }
    }

    /// sox's description of the input (`-t` and, for headerless formats, the rate
    /// and channels), or `None` when sox cannot read it.
    fn sox_input(self) -> Option<Vec<String>> {
        let raw = |kind: &str, rate: u32| {
            ["-t", kind, "-r", &rate.to_string(), "-c", "1"]
                .map(str::to_owned)
                .to_vec()
        };
        Some(match self {
            AudioFormat::Wav | AudioFormat::Wav16 | AudioFormat::Wav49 => {
                vec!["-t".into(), "wav".into()]
            }
            AudioFormat::Gsm => vec!["-t".into(), "gsm".into()],
            AudioFormat::Slin(rate) => raw("s16", rate),
            AudioFormat::Ulaw => raw("ul", 8000),
            AudioFormat::Alaw => raw("al", 8000),
            AudioFormat::Vox => raw("vox", 8000),
            AudioFormat::Unsupported => return None,
        })
    }
}

/// One audio file of the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioFile {
    pub path: PathBuf,
    pub format: AudioFormat,
}

/// The best of the files holding the same audio in different formats.
pub fn best(files: &[AudioFile]) -> Option<&AudioFile> {
    files
        .iter()
        .filter(|f| f.format != AudioFormat::Unsupported)
        .max_by_key(|f| f.format.preference())
        .or_else(|| files.first())
}

/// Whether `bytes` are a WAV the service could have recorded: PCM, mono,
/// 8000 Hz, 16 bits.
pub fn is_service_wav(bytes: &[u8]) -> bool {
    if bytes.get(0..4) != Some(b"RIFF") || bytes.get(8..12) != Some(b"WAVE") {
        return false;
    }
    let mut pos = 12usize;
    while let Some(id) = bytes.get(pos..pos + 4) {
        let Some(size) = bytes
            .get(pos + 4..pos + 8)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(|s| u32::from_le_bytes(s) as usize)
        else {
            return false;
        };
        if id == b"fmt " {
            let field = |at: usize, len: usize| bytes.get(pos + 8 + at..pos + 8 + at + len);
            return field(0, 2) == Some(&[1, 0])
                && field(2, 2) == Some(&[1, 0])
                && field(4, 4) == Some(&8000u32.to_le_bytes())
                && field(14, 2) == Some(&[16, 0]);
        }
        pos = match pos.checked_add(8 + size + (size & 1)) {
            Some(next) => next,
            None => return false,
        };
    }
    false
}

/// Why one file could not be prepared.
#[derive(Debug)]
pub struct AudioError {
    pub at: Location,
    pub message: String,
}

impl AudioError {
    fn new(path: &Path, message: impl Into<String>) -> AudioError {
        AudioError {
            at: Location::file(path),
            message: message.into(),
        }
    }

    pub fn into_problem(self) -> Problem {
        Problem::new(self.at, self.message)
    }
}

/// A file ready to be moved into place.
#[derive(Debug)]
pub struct Staged {
    pub path: PathBuf,
    /// Whole seconds of audio, truncated (as Asterisk reports durations).
    pub duration_secs: u32,
}

/// Asterisk's recordings directory, as the import writes into it.
#[derive(Debug, Clone)]
pub struct Recordings {
    dir: PathBuf,
    /// Who owns it (uid, gid): new files and directories are given to them.
    owner: (u32, u32),
}

impl Recordings {
    /// The directory must exist: a mistyped path must not become a new, unused
    /// directory that Asterisk never reads.
    pub fn open(dir: &Path) -> Result<Recordings, String> {
        let meta = std::fs::metadata(dir).map_err(|e| {
            format!(
                "recordings directory {}: {e} (give Asterisk's, `astspooldir`/recording, \
                 usually /var/spool/asterisk/recording)",
                dir.display()
            )
        })?;
        if !meta.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        Ok(Recordings {
            dir: dir.to_owned(),
            owner: (meta.uid(), meta.gid()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file the service's recording `name` is in.
    pub fn path_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.wav"))
    }

    /// Whether recording `name` exists, in whatever format.
    pub fn exists(&self, name: &str) -> bool {
        !self.files_of(name).is_empty()
    }

    /// Every file holding recording `name` (one per format).
    fn files_of(&self, name: &str) -> Vec<PathBuf> {
        let path = self.dir.join(name);
        let (Some(dir), Some(stem)) = (path.parent(), path.file_name()) else {
            return Vec::new();
        };
        let prefix = format!("{}.", stem.to_string_lossy());
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name().is_some_and(|n| {
                            let n = n.to_string_lossy();
                            n.strip_prefix(&prefix)
                                .is_some_and(|ext| AudioFormat::from_extension(ext).is_some())
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A fresh staging directory inside the recordings directory.
    pub fn staging(&self) -> Result<Staging, String> {
        let dir = self.dir.join(format!(
            ".voiceportal-import-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir(&dir)
            .map_err(|e| format!("cannot write in {}: {e}", self.dir.display()))?;
        Ok(Staging { dir, next: 0 })
    }

    /// Moves a staged file into place as recording `name`, replacing any file of
    /// that recording in another format (Asterisk would play whichever it lists
    /// first). Directories created on the way, and the file, go to the
    /// directory's owner.
    pub fn place(&self, staged: &Path, name: &str) -> std::io::Result<PathBuf> {
        let target = self.path_of(name);
        if let Some(parent) = target.parent() {
            self.create_dirs(parent)?;
        }
        for other in self.files_of(name) {
            if other != target {
                std::fs::remove_file(&other)?;
            }
        }
        std::fs::rename(staged, &target)?;
        self.give(&target);
        Ok(target)
    }

    /// Removes what `place` put there (a mailbox whose import failed half-way).
    pub fn remove(&self, placed: &Path) {
        let _ = std::fs::remove_file(placed);
    }

    /// Whether files written now belong to the directory's owner: false when
    /// this process can neither be that owner nor give files away (not root).
    pub fn ownership_ok(&self, path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| (m.uid(), m.gid()) == self.owner)
    }

    fn create_dirs(&self, dir: &Path) -> std::io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent() {
            self.create_dirs(parent)?;
        }
        match std::fs::create_dir(dir) {
            Ok(()) => {
                self.give(dir);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Gives a new file or directory to the recordings directory's owner; only
    /// root can, and anyone else's files stay theirs (reported by the caller
    /// through `ownership_ok`).
    fn give(&self, path: &Path) {
        let (uid, gid) = self.owner;
        let _ = std::os::unix::fs::chown(path, Some(uid), Some(gid));
    }
}

/// Where files are prepared; removed with everything left in it when dropped.
#[derive(Debug)]
pub struct Staging {
    dir: PathBuf,
    next: u32,
}

impl Staging {
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Prepares `file` as a service WAV: copied when it already is one,
    /// converted with sox otherwise.
    pub async fn prepare(&mut self, file: &AudioFile) -> Result<Staged, AudioError> {
        self.next += 1;
        let out = self.dir.join(format!("{}.wav", self.next));
        let bytes = std::fs::read(&file.path)
            .map_err(|e| AudioError::new(&file.path, format!("cannot read: {e}")))?;
        if file.format != AudioFormat::Wav || !is_service_wav(&bytes) {
            convert(file, &out).await?;
        } else {
            std::fs::write(&out, &bytes)
                .map_err(|e| AudioError::new(&out, format!("cannot write the staged copy: {e}")))?;
        }
        let staged = std::fs::read(&out)
            .map_err(|e| AudioError::new(&out, format!("cannot read the staged copy: {e}")))?;
        if !is_service_wav(&staged) {
            return Err(AudioError::new(
                &file.path,
                "the converted file is not 8 kHz mono 16-bit WAV",
            ));
        }
        Ok(Staged {
            path: out,
            duration_secs: crate::admin::repair::wav_duration_secs(&staged),
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `sox <input> -t wav -r 8000 -c 1 -b 16 -e signed-integer <out>`, without
/// dither so that a second import writes the same bytes.
async fn convert(file: &AudioFile, out: &Path) -> Result<(), AudioError> {
    let Some(input) = file.format.sox_input() else {
        return Err(AudioError::new(
            &file.path,
            "this format cannot be converted (sox does not read it): convert it to WAV \
             by hand, or record app_voicemail in wav",
        ));
    };
    let result = tokio::process::Command::new("sox")
        .arg("-D")
        .args(&input)
        .arg(&file.path)
        .args([
            "-t",
            "wav",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
        ])
        .arg(out)
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match result {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => {
            let reason = String::from_utf8_lossy(&output.stderr);
            let reason = reason.lines().next().unwrap_or("no message").trim();
            Err(AudioError::new(
                &file.path,
                format!(
                    "sox cannot convert it: {}",
                    reason.chars().take(200).collect::<String>()
                ),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(AudioError::new(
            &file.path,
            "sox is needed to convert this file and is not installed (apt-get install sox)",
        )),
        Err(e) => Err(AudioError::new(&file.path, format!("cannot run sox: {e}"))),
    }
}

/// A tiny service WAV (0.1 s of silence), for checking that Asterisk sees what
/// the import writes.
pub fn probe_wav() -> Vec<u8> {
    let data: u32 = 1600;
    let mut out = Vec::with_capacity(44 + data as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&[1, 0, 1, 0]);
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&[2, 0, 16, 0]);
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    out.resize(44 + data as usize, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension_as_asterisk_names_them() {
        assert_eq!(AudioFormat::from_extension("wav"), Some(AudioFormat::Wav));
        assert_eq!(AudioFormat::from_extension("WAV"), Some(AudioFormat::Wav49));
        assert_eq!(AudioFormat::from_extension("gsm"), Some(AudioFormat::Gsm));
        assert_eq!(
            AudioFormat::from_extension("sln16"),
            Some(AudioFormat::Slin(16_000))
        );
        assert_eq!(
            AudioFormat::from_extension("g729"),
            Some(AudioFormat::Unsupported)
        );
        assert_eq!(AudioFormat::from_extension("txt"), None);
        assert_eq!(AudioFormat::from_extension("sln7"), None);
    }

    #[test]
    fn the_best_format_is_taken() {
        let file = |ext: &str| AudioFile {
            path: PathBuf::from(format!("msg0000.{ext}")),
            format: AudioFormat::from_extension(ext).unwrap(),
        };
        let all = [file("WAV"), file("gsm"), file("wav")];
        assert_eq!(best(&all), Some(&all[2]));
        let lossy = [file("gsm"), file("WAV")];
        assert_eq!(best(&lossy), Some(&lossy[1]));
        let unsupported = [file("g729")];
        assert_eq!(best(&unsupported), Some(&unsupported[0]));
        assert_eq!(best(&[]), None);
    }

    #[test]
    fn service_wavs_are_recognised() {
        assert!(is_service_wav(&probe_wav()));
        let mut stereo = probe_wav();
        stereo[22] = 2;
        assert!(!is_service_wav(&stereo));
        let mut fast = probe_wav();
        fast[24..28].copy_from_slice(&16_000u32.to_le_bytes());
        assert!(!is_service_wav(&fast));
        assert!(!is_service_wav(b"RIFF"));
        assert!(!is_service_wav(&[0u8; 64]));
    }
}

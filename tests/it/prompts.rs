//! Every prompt of the catalogue can be played in every language: our own prompts
//! have a WAV file Asterisk plays as is, core prompts are in the list of core
//! sounds we rely on, and the manifest that holds our wording matches the
//! catalogue line for line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use voiceportal::domain::prompts::{Language, Prompt, core_sounds};

/// Shortest acceptable prompt: the one-word prompts ("greeting", "digits") last
/// about half a second; anything much shorter is a broken synthesis.
const MIN_SECONDS: f64 = 0.25;
/// Longest acceptable prompt: a caller will not sit through more.
const MAX_SECONDS: f64 = 20.0;

fn sounds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sounds")
}

/// One line of `sounds/manifest.tsv`.
#[derive(Debug)]
struct Entry {
    en: String,
    fr: String,
}

/// Reads the manifest the way `generate.sh` does: comments, blank lines and the
/// header skipped, then exactly three TAB-separated columns.
fn manifest() -> BTreeMap<String, Entry> {
    let path = sounds_dir().join("manifest.tsv");
    let text = std::fs::read_to_string(&path).expect("sounds/manifest.tsv is readable");
    let mut entries = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line == "name\ten\tfr" {
            continue;
        }
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            columns.len(),
            3,
            "manifest.tsv line {}: expected name, en, fr separated by TABs",
            index + 1
        );
        let previous = entries.insert(
            columns[0].to_owned(),
            Entry {
                en: columns[1].to_owned(),
                fr: columns[2].to_owned(),
            },
        );
        assert!(previous.is_none(), "{} is listed twice", columns[0]);
    }
    entries
}

fn own_prompts() -> Vec<(Prompt, &'static str)> {
    Prompt::ALL
        .iter()
        .filter_map(|p| p.own_name().map(|name| (*p, name)))
        .collect()
}

/// The facts of a WAV file that matter to Asterisk and to a caller.
#[derive(Debug)]
struct Wav {
    format: u16,
    channels: u16,
    sample_rate: u32,
    byte_rate: u32,
    block_align: u16,
    bits_per_sample: u16,
    samples: Vec<i16>,
}

fn le_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Parses a RIFF/WAVE file chunk by chunk (not by fixed offsets, so an editor
/// that adds a LIST chunk to a studio recording does not fail the test).
fn parse_wav(path: &Path) -> Result<Wav, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("not a RIFF/WAVE file".into());
    }
    if le_u32(&bytes, 4) as usize != bytes.len() - 8 {
        return Err("the RIFF size does not match the file size (truncated?)".into());
    }
    let mut fmt = None;
    let mut data = None;
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = le_u32(&bytes, at + 4) as usize;
        let body = at + 8;
        if body + size > bytes.len() {
            return Err(format!(
                "chunk {:?} runs past the end",
                String::from_utf8_lossy(id)
            ));
        }
        match id {
            b"fmt " if size >= 16 => fmt = Some(body),
            b"data" => data = Some((body, size)),
            _ => {}
        }
        // Chunks are padded to an even length.
        at = body + size + (size & 1);
    }
    let fmt = fmt.ok_or("no fmt chunk")?;
    let (data, size) = data.ok_or("no data chunk")?;
    Ok(Wav {
        format: le_u16(&bytes, fmt),
        channels: le_u16(&bytes, fmt + 2),
        sample_rate: le_u32(&bytes, fmt + 4),
        byte_rate: le_u32(&bytes, fmt + 8),
        block_align: le_u16(&bytes, fmt + 12),
        bits_per_sample: le_u16(&bytes, fmt + 14),
        samples: bytes[data..data + size]
            .chunks_exact(2)
            .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
            .collect(),
    })
}

#[test]
fn every_own_prompt_is_an_8khz_mono_16bit_wav_in_every_language() {
    let mut problems = Vec::new();
    for (prompt, name) in own_prompts() {
        for language in Language::ALL {
            let path = sounds_dir()
                .join(language.code())
                .join("voiceportal")
                .join(format!("{name}.wav"));
            let wav = match parse_wav(&path) {
                Ok(wav) => wav,
                Err(e) => {
                    problems.push(format!("{prompt:?} {}: {e}", path.display()));
                    continue;
                }
            };
            let format = (
                wav.format,
                wav.channels,
                wav.sample_rate,
                wav.byte_rate,
                wav.block_align,
                wav.bits_per_sample,
            );
            if format != (1, 1, 8000, 16000, 2, 16) {
                problems.push(format!(
                    "{prompt:?} {}: (format, channels, rate, byte rate, align, bits) = \
                     {format:?}, want PCM 8000 Hz mono 16-bit",
                    path.display()
                ));
            }
            let seconds = wav.samples.len() as f64 / 8000.0;
            if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
                problems.push(format!(
                    "{prompt:?} {}: lasts {seconds:.2} s",
                    path.display()
                ));
            }
            let peak = wav
                .samples
                .iter()
                .map(|s| i32::from(*s).abs())
                .max()
                .unwrap_or(0);
            if peak < i32::from(i16::MAX) / 10 {
                problems.push(format!(
                    "{prompt:?} {}: nearly silent (peak {peak})",
                    path.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn core_sounds_used_are_exactly_those_listed_in_asterisk_core_txt() {
    let path = sounds_dir().join("asterisk-core.txt");
    let text = std::fs::read_to_string(&path).expect("sounds/asterisk-core.txt is readable");
    let listed: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let listed_set: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(listed.len(), listed_set.len(), "a name is listed twice");

    for prompt in Prompt::ALL.iter().filter(|p| p.is_core()) {
        assert!(
            listed_set.contains(prompt.sound()),
            "{prompt:?} plays core sound {} that asterisk-core.txt does not list",
            prompt.sound()
        );
    }
    let used: BTreeSet<&str> = core_sounds().collect();
    let stale: Vec<&&str> = listed_set.difference(&used).collect();
    assert!(
        stale.is_empty(),
        "asterisk-core.txt lists sounds nothing plays: {stale:?}"
    );
    let unlisted: Vec<&&str> = used.difference(&listed_set).collect();
    assert!(
        unlisted.is_empty(),
        "core sounds played but not listed: {unlisted:?}"
    );
}

#[test]
fn manifest_and_catalogue_agree() {
    let entries = manifest();
    let in_manifest: BTreeSet<&str> = entries.keys().map(String::as_str).collect();
    let in_catalogue: BTreeSet<&str> = own_prompts().into_iter().map(|(_, n)| n).collect();
    let orphans: Vec<&&str> = in_manifest.difference(&in_catalogue).collect();
    assert!(
        orphans.is_empty(),
        "manifest.tsv lines no Prompt plays: {orphans:?}"
    );
    let unwritten: Vec<&&str> = in_catalogue.difference(&in_manifest).collect();
    assert!(
        unwritten.is_empty(),
        "own prompts with no manifest.tsv line: {unwritten:?}"
    );
}

#[test]
fn every_manifest_line_has_both_texts_and_the_french_is_a_translation() {
    for (name, entry) in manifest() {
        assert!(!entry.en.trim().is_empty(), "{name}: no English text");
        assert!(!entry.fr.trim().is_empty(), "{name}: no French text");
        assert_ne!(entry.en, entry.fr, "{name}: the French is the English");
        // Spoken, not read: say "pound" and "star", never the symbols.
        for text in [&entry.en, &entry.fr] {
            assert!(
                !text.contains('#') && !text.contains('*'),
                "{name}: {text:?} has a key symbol the synthesiser would mangle"
            );
        }
    }
}

#[test]
fn no_stray_files_in_the_own_prompt_folders() {
    // A file no prompt plays is either a typo'd name or a leftover after a rename.
    let wanted: BTreeSet<String> = own_prompts()
        .into_iter()
        .map(|(_, n)| format!("{n}.wav"))
        .collect();
    for language in Language::ALL {
        let dir = sounds_dir().join(language.code()).join("voiceportal");
        for entry in std::fs::read_dir(&dir).expect("the prompt folder exists") {
            let file = entry.expect("a readable folder entry").file_name();
            let file = file.to_string_lossy().into_owned();
            assert!(
                wanted.contains(&file),
                "{}: {file} is played by no prompt",
                dir.display()
            );
        }
    }
}

//! Stored recordings: what a kept recording leaves on "disk".
//!
//! Each one is kept as runs of speech and silence (8 kHz samples), from which
//! a real WAV file (mono, 16-bit PCM, 44-byte header) is produced on download:
//! speech is a non-zero waveform, silence is zeros, and an empty recording is
//! just the header, like the 44-byte file Asterisk leaves.

use std::collections::BTreeMap;

/// Samples per virtual millisecond (8 kHz).
const SAMPLES_PER_MS: u64 = 8;

/// One stored recording.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredRec {
    pub(crate) format: String,
    /// Runs of (is speech, length in ms), in order.
    pub(crate) runs: Vec<(bool, u64)>,
}

impl StoredRec {
    /// A recording of `ms` milliseconds of speech.
    pub(crate) fn speech(format: &str, ms: u64) -> StoredRec {
        let runs = if ms > 0 { vec![(true, ms)] } else { Vec::new() };
        StoredRec {
            format: format.to_string(),
            runs,
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

/// All stored recordings, by name (names may contain `/`).
#[derive(Debug, Default)]
pub(crate) struct Stored {
    map: BTreeMap<String, StoredRec>,
}

impl Stored {
    pub(crate) fn get(&self, name: &str) -> Option<&StoredRec> {
        self.map.get(name)
    }

    pub(crate) fn put(&mut self, name: &str, rec: StoredRec) {
        self.map.insert(name.to_string(), rec);
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<StoredRec> {
        self.map.remove(name)
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }

    /// `GET /recordings/stored` body.
    pub(crate) fn list_json(&self) -> String {
        let items: Vec<String> = self.map.iter().map(|(n, r)| r.to_json(n)).collect();
        format!("[{}]", items.join(","))
    }
}

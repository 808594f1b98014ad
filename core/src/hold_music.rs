//! The stack's own hold music: a short clip Homeline serves itself
//! ([`crate::routes::paths::HOLD_MUSIC`]), so the wait document, which
//! plays it once per fetch, ends every [`CLIP_SECS`] seconds and the wait
//! URL's heartbeat comes that often (docs/twilio.md, "Enqueue action after
//! redirect"). A clip hosted elsewhere has a length nobody here knows.
//!
//! The clip is synthesised on first use: four soft arpeggiated chords
//! (C, A minor, F, G) of plucked tones, as telephone audio (8 kHz, 16-bit
//! PCM WAV, which `<Play>` takes). No audio file is shipped or fetched.

use std::f64::consts::TAU;
use std::sync::OnceLock;

/// The clip's length: 25 s at most keeps the heartbeat within 30 s with
/// the position announcement before it.
pub const CLIP_SECS: u32 = crate::domain::inbound::DEFAULT_CLIP_SECS;
const _: () = assert!(CLIP_SECS <= 25);
pub const SAMPLE_RATE: u32 = 8000;
/// `Content-Type` of [`clip`].
pub const CONTENT_TYPE: &str = "audio/wav";

/// Each chord's notes (Hz), bass first; five seconds each.
const CHORDS: [[f64; 4]; 4] = [
    [130.81, 261.63, 329.63, 392.00], // C
    [110.00, 220.00, 261.63, 329.63], // A minor
    [87.31, 174.61, 220.00, 261.63],  // F
    [98.00, 196.00, 246.94, 293.66],  // G
];
/// A new arpeggio note every this many seconds.
const STEP_SECS: f64 = 0.625;
/// The arpeggio's order over a chord's upper notes.
const PATTERN: [usize; 8] = [1, 2, 3, 2, 1, 2, 3, 2];

/// The WAV file, made once per process.
pub fn clip() -> &'static [u8] {
    static CLIP: OnceLock<Vec<u8>> = OnceLock::new();
    CLIP.get_or_init(|| wav(&samples()))
}

/// A plucked tone `t` seconds after it started: two partials, decaying.
fn pluck(frequency: f64, t: f64) -> f64 {
    let attack = (t / 0.01).min(1.0);
    let decay = (-t * 2.2).exp();
    attack * decay * ((TAU * frequency * t).sin() + 0.3 * (TAU * 2.0 * frequency * t).sin())
}

fn samples() -> Vec<i16> {
    let total = (CLIP_SECS * SAMPLE_RATE) as usize;
    let chord_secs = f64::from(CLIP_SECS) / CHORDS.len() as f64;
    let mut mix = vec![0.0f64; total];
    for (c, chord) in CHORDS.iter().enumerate() {
        let start = c as f64 * chord_secs;
        // The bass note once per chord, the arpeggio over the rest.
        let mut notes = vec![(start, chord[0], 0.9)];
        let steps = (chord_secs / STEP_SECS).round() as usize;
        for step in 0..steps {
            let note = chord[PATTERN[step % PATTERN.len()]];
            notes.push((start + step as f64 * STEP_SECS, note, 0.5));
        }
        for (at, frequency, level) in notes {
            let first = (at * f64::from(SAMPLE_RATE)) as usize;
            // Each tone rings for two seconds (it has decayed to 1 % by then).
            let last = (first + 2 * SAMPLE_RATE as usize).min(total);
            for (i, sample) in mix.iter_mut().enumerate().take(last).skip(first) {
                let t = (i - first) as f64 / f64::from(SAMPLE_RATE);
                *sample += level * pluck(frequency, t);
            }
        }
    }
    let peak = mix
        .iter()
        .fold(0.0f64, |m, s| m.max(s.abs()))
        .max(f64::EPSILON);
    // Half of full scale, with short fades so the clip loops without a click.
    let fade = (SAMPLE_RATE / 20) as usize;
    mix.iter()
        .enumerate()
        .map(|(i, s)| {
            let edge = i.min(total - 1 - i);
            let gain = (edge as f64 / fade as f64).min(1.0);
            (s / peak * 0.5 * gain * f64::from(i16::MAX)) as i16
        })
        .collect()
}

/// A canonical 44-byte-header PCM WAV of mono 16-bit `samples`.
fn wav(samples: &[i16]) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(file: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(file[at..at + 4].try_into().expect("4 bytes"))
    }

    #[test]
    fn the_clip_is_a_wav_of_clip_secs_that_keeps_the_heartbeat_within_30_s() {
        let file = clip();
        assert_eq!(
            (&file[0..4], &file[8..16]),
            (&b"RIFF"[..], &b"WAVEfmt "[..])
        );
        assert_eq!(u32_at(file, 4) as usize, file.len() - 8, "RIFF size");
        assert_eq!(u32_at(file, 24), SAMPLE_RATE);
        assert_eq!(&file[36..40], b"data");
        // The length a player reads from the header: data size / byte rate.
        let secs = u32_at(file, 40) / u32_at(file, 28);
        assert_eq!(secs, CLIP_SECS);
        assert_eq!(file.len(), 44 + (CLIP_SECS * SAMPLE_RATE * 2) as usize);
    }

    #[test]
    fn the_clip_is_music_not_silence_and_never_clips() {
        let samples = samples();
        let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
        assert!(peak > 12_000 && peak < 20_000, "peak {peak}");
        // Every second has sound: no gap where a caller would think the line died.
        for second in samples.chunks(SAMPLE_RATE as usize) {
            let loudest = second.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            assert!(loudest > 1_000, "a silent second: {loudest}");
        }
        // It starts and ends at silence, so the loop has no click.
        assert_eq!(samples[0], 0);
        assert!(samples[samples.len() - 1].unsigned_abs() < 100);
    }
}

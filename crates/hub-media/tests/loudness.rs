//! Loudness and peaks of long uploads: minutes of speech with quiet gaps,
//! where a few peaks the codec moves must not cost the whole file its
//! loudness.

use hub_media::{ingest_audio, AudioSettings};

const RATE: u32 = 48_000;

/// `secs` of a speech-like signal, quiet (about -30 LUFS): syllables of a
/// voiced buzz (a 130 Hz pulse train through two resonances) in phrases of
/// 3 s, each followed by 2 s of near silence, and every 40 s one hard click
/// of the kind that makes Opus overshoot its input.
fn long_quiet_speech(secs: u32) -> Vec<f32> {
    let len = (secs * RATE) as usize;
    let mut samples = Vec::with_capacity(len);
    // Two two-pole resonators (formants near 600 Hz and 1.8 kHz).
    let resonator = |freq: f32, radius: f32| {
        let theta = 2.0 * std::f32::consts::PI * freq / RATE as f32;
        (2.0 * radius * theta.cos(), -radius * radius)
    };
    let (a1, a2) = resonator(600.0, 0.995);
    let (b1, b2) = resonator(1_800.0, 0.99);
    let (mut y1, mut y2, mut z1, mut z2) = (0f32, 0f32, 0f32, 0f32);
    let mut noise = 0x2545_f491_u32;
    for n in 0..len {
        let t = n as f32 / RATE as f32;
        let in_phrase = t % 5.0 < 3.0;
        // Syllables: a 4 Hz envelope, squared so it has onsets.
        let syllable = (0.5 - 0.5 * (2.0 * std::f32::consts::PI * 4.0 * t).cos()).powi(2);
        let pitch_period = (RATE as f32 / (130.0 + 20.0 * (0.7 * t).sin())) as usize;
        let pulse = if in_phrase && n % pitch_period == 0 {
            syllable
        } else {
            0.0
        };
        let y = pulse + a1 * y1 + a2 * y2;
        (y2, y1) = (y1, y);
        let z = pulse + b1 * z1 + b2 * z2;
        (z2, z1) = (z1, z);
        noise ^= noise << 13;
        noise ^= noise >> 17;
        noise ^= noise << 5;
        let hiss = (noise as f32 / u32::MAX as f32 - 0.5) * 2e-4;
        let mut sample = 0.004 * y + 0.006 * z + hiss;
        // A click: 2 ms of a full-scale square wave in a gap.
        let from_click = t % 40.0 - 33.5;
        if (0.0..0.002).contains(&from_click) {
            sample = if n % 24 < 12 { 0.25 } else { -0.25 };
        }
        samples.push(sample);
    }
    samples
}

fn wav(samples: &[f32]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::with_capacity(44 + samples.len() * 2);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        let value = (sample.clamp(-1.0, 1.0) * 32_767.0).round() as i16;
        wav.extend_from_slice(&value.to_le_bytes());
    }
    wav
}

#[test]
fn minutes_of_quiet_speech_reach_the_target_under_the_ceiling() {
    let settings = AudioSettings::default();
    let input = wav(&long_quiet_speech(240));
    let encoded = ingest_audio(&input, Some("wav"), &settings).unwrap();
    assert!(
        (encoded.output_lufs - settings.target_lufs).abs() <= 0.5,
        "{encoded:?}"
    );
    assert!(
        encoded.output_true_peak_dbtp <= settings.true_peak_ceiling_dbtp + 0.1,
        "{encoded:?}"
    );
}

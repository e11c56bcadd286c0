//! Loudness measurement (ITU-R BS.1770-4 / EBU R128, via the `ebur128`
//! crate: K-weighting, 400 ms blocks, -70 LUFS absolute and -10 LU relative
//! gates) and normalisation with a peak limiter.
//!
//! Normalising speech up to -16 LUFS often asks for peaks above full scale:
//! speech peaks sit 15-20 dB above its loudness. A plain gain would then clip,
//! and a gain capped by the peak would leave the bulletin quieter than the
//! rest. So the gain goes up to the target and a look-ahead limiter takes the
//! few peaks above the ceiling down smoothly; the gain is then corrected for
//! the loudness the limiter took away.

use std::collections::VecDeque;

use ebur128::{EbuR128, Mode};

use crate::error::MediaError;

/// How long the limiter looks ahead and ramps its gain down: long enough not
/// to distort (a few cycles of a voice's fundamental), short enough to stay
/// inaudible.
const LIMITER_ATTACK_SECS: f64 = 0.005;
/// How fast the limiter's gain recovers after a peak.
const LIMITER_RELEASE_SECS: f64 = 0.080;
/// Gain rounds after which the loudness is taken as it is: without limiting
/// the first round is exact, with it the second or third is within 0.1 LU.
const MAX_GAIN_ROUNDS: usize = 6;
/// The most the limiter may take off the loudest peaks to reach the target;
/// past this, speech starts to sound crushed, so the output stays quieter.
const MAX_LIMITING_DB: f64 = 12.0;
const LOUDNESS_TOLERANCE_LU: f64 = 0.1;

/// An integrated loudness meter fed frame by frame.
pub(crate) struct Meter(EbuR128);

impl Meter {
    pub(crate) fn new(channels: usize, sample_rate: u32) -> Result<Self, MediaError> {
        let channels = u32::try_from(channels)
            .map_err(|_| MediaError::Processing("too many channels to measure".to_owned()))?;
        EbuR128::new(channels, sample_rate, Mode::I)
            .map(Self)
            .map_err(|err| MediaError::Processing(format!("loudness meter: {err}")))
    }

    /// Adds interleaved frames.
    pub(crate) fn add(&mut self, interleaved: &[f32]) -> Result<(), MediaError> {
        self.0
            .add_frames_f32(interleaved)
            .map_err(|err| MediaError::Processing(format!("loudness meter: {err}")))
    }

    /// Integrated loudness in LUFS; `-inf` when everything is below the gate.
    pub(crate) fn integrated_lufs(&self) -> f64 {
        self.0.loudness_global().unwrap_or(f64::NEG_INFINITY)
    }
}

fn integrated_lufs(mono: &[f32], sample_rate: u32) -> Result<f64, MediaError> {
    let mut meter = Meter::new(1, sample_rate)?;
    meter.add(mono)?;
    Ok(meter.integrated_lufs())
}

/// True peak of mono samples in dBTP (4x oversampled, as BS.1770 says).
pub(crate) fn true_peak_dbtp(mono: &[f32], sample_rate: u32) -> Result<f64, MediaError> {
    let mut meter = EbuR128::new(1, sample_rate, Mode::TRUE_PEAK)
        .map_err(|err| MediaError::Processing(format!("true-peak meter: {err}")))?;
    meter
        .add_frames_f32(mono)
        .and_then(|()| meter.true_peak(0))
        .map(|peak| 20.0 * peak.log10())
        .map_err(|err| MediaError::Processing(format!("true-peak meter: {err}")))
}

/// Brings mono samples to `target_lufs` with no true peak above
/// `ceiling_dbtp`.
pub(crate) fn normalise(
    samples: &mut [f32],
    sample_rate: u32,
    target_lufs: f64,
    ceiling_dbtp: f64,
) -> Result<(), MediaError> {
    let original = integrated_lufs(samples, sample_rate)?;
    if !original.is_finite() {
        return Err(MediaError::Silent);
    }
    let source = samples.to_vec();
    let ceiling = db_to_gain(ceiling_dbtp) as f32;
    let plain_gain_db = target_lufs - original;
    let mut gain_db = plain_gain_db;
    // (gain, loudness reached) of the previous round, for the secant step.
    let mut previous: Option<(f64, f64)> = None;
    for _ in 0..MAX_GAIN_ROUNDS {
        let reached = apply_gain_and_limit(samples, &source, sample_rate, gain_db, ceiling)?;
        let missing = target_lufs - reached;
        if missing.abs() <= LOUDNESS_TOLERANCE_LU {
            break;
        }
        // Under limiting, a dB of gain yields less than a dB of loudness:
        // step by the slope seen so far (a secant step), never less than 0.1.
        let slope = previous
            .map(|(last_gain, last_reached)| (reached - last_reached) / (gain_db - last_gain))
            .filter(|slope| slope.is_finite())
            .map_or(1.0, |slope| slope.clamp(0.1, 1.0));
        previous = Some((gain_db, reached));
        gain_db = (gain_db + missing / slope).min(plain_gain_db + MAX_LIMITING_DB);
        if previous.is_some_and(|(last_gain, _)| last_gain == gain_db) {
            break;
        }
    }
    Ok(())
}

/// Writes `source` times the gain, limited, into `samples`; returns the
/// loudness reached.
fn apply_gain_and_limit(
    samples: &mut [f32],
    source: &[f32],
    sample_rate: u32,
    gain_db: f64,
    ceiling: f32,
) -> Result<f64, MediaError> {
    let gain = db_to_gain(gain_db) as f32;
    for (out, sample) in samples.iter_mut().zip(source) {
        *out = sample * gain;
    }
    limit_peaks(samples, sample_rate, ceiling);
    let (lufs, peak_dbtp) = loudness_and_true_peak(samples, sample_rate)?;
    // The limiter works on samples; peaks between samples can still exceed
    // the ceiling by a fraction of a dB, so trim those away. A trim lowers
    // the loudness by as many dB (the gates are relative).
    let over = peak_dbtp - 20.0 * f64::from(ceiling).log10();
    if over > 0.0 {
        let trim = db_to_gain(-over) as f32;
        samples.iter_mut().for_each(|sample| *sample *= trim);
        return Ok(lufs - over);
    }
    Ok(lufs)
}

/// Integrated loudness (LUFS) and true peak (dBTP) of mono samples. The
/// two meters share no work (K-weighting is for loudness only), so they run
/// side by side on two threads.
fn loudness_and_true_peak(mono: &[f32], sample_rate: u32) -> Result<(f64, f64), MediaError> {
    std::thread::scope(|scope| {
        let peak = scope.spawn(|| true_peak_dbtp(mono, sample_rate));
        let lufs = integrated_lufs(mono, sample_rate)?;
        let peak = peak
            .join()
            .map_err(|_| MediaError::Processing("true-peak meter panicked".to_owned()))??;
        Ok((lufs, peak))
    })
}

fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// A look-ahead peak limiter: no sample leaves above `ceiling`.
///
/// For each sample, the gain it needs is `ceiling / |x|` (or 1). The gain
/// applied is that need's minimum over the next attack window, recovering
/// exponentially, then averaged over the attack window. Every gain averaged
/// at a peak was already at or below the peak's need, so the peak is always
/// brought under the ceiling, and the gain moves smoothly.
fn limit_peaks(samples: &mut [f32], sample_rate: u32, ceiling: f32) {
    if samples.iter().all(|sample| sample.abs() <= ceiling) {
        return;
    }
    let window = ((LIMITER_ATTACK_SECS * f64::from(sample_rate)) as usize).max(1);
    let release = (1.0 - (-1.0 / (LIMITER_RELEASE_SECS * f64::from(sample_rate))).exp()) as f32;
    // The gain each sample needs, then its minimum over the next
    // window, with a monotonic queue of indices.
    let need: Vec<f32> = samples
        .iter()
        .map(|sample| {
            let level = sample.abs();
            if level > ceiling {
                ceiling / level
            } else {
                1.0
            }
        })
        .collect();
    let mut gains = vec![1.0f32; need.len()];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for index in (0..need.len()).rev() {
        while queue.back().is_some_and(|&last| need[last] >= need[index]) {
            queue.pop_back();
        }
        queue.push_back(index);
        while queue.front().is_some_and(|&first| first >= index + window) {
            queue.pop_front();
        }
        gains[index] = need[queue[0]];
    }

    // Never above the look-ahead minimum; otherwise recovering towards 1.
    let mut previous = 1.0f32;
    for gain in &mut gains {
        let recovered = previous + (1.0 - previous) * release;
        *gain = gain.min(recovered);
        previous = *gain;
    }

    // Moving average over the trailing window (shorter at the very start),
    // summed in f64 so the running sum does not drift over minutes.
    let mut sum = 0.0f64;
    for index in 0..samples.len() {
        sum += f64::from(gains[index]);
        if index >= window {
            sum -= f64::from(gains[index - window]);
        }
        let gain = sum / (index + 1).min(window) as f64;
        samples[index] = (f64::from(samples[index]) * gain) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn sine(freq: f32, amplitude: f32, secs: f32) -> Vec<f32> {
        (0..(secs * RATE as f32) as usize)
            .map(|n| amplitude * (2.0 * std::f32::consts::PI * freq * n as f32 / RATE as f32).sin())
            .collect()
    }

    #[test]
    fn full_scale_sine_measures_as_bs1770_says() {
        // BS.1770: a 997 Hz sine at 0 dBFS on one channel reads -3.01 LKFS.
        let lufs = integrated_lufs(&sine(997.0, 1.0, 3.0), RATE).unwrap();
        assert!((lufs + 3.01).abs() < 0.05, "{lufs}");
    }

    #[test]
    fn limiter_keeps_every_sample_under_the_ceiling() {
        let mut samples = sine(150.0, 0.2, 2.0);
        // Bursts far over full scale, as a loud plosive normalised up would be.
        for burst in [9_000usize, 40_000, 70_000] {
            for sample in &mut samples[burst..burst + 200] {
                *sample *= 12.0;
            }
        }
        limit_peaks(&mut samples, RATE, 0.9);
        let peak = samples.iter().fold(0f32, |peak, s| peak.max(s.abs()));
        assert!(peak <= 0.9 + 1e-6, "{peak}");
        // Away from the bursts the signal is untouched.
        // Well after a burst the limiter has let go again.
        let clean = sine(150.0, 0.2, 2.0);
        assert!((samples[38_000] - clean[38_000]).abs() < 2e-4);
        assert!((samples[60_000] - clean[60_000]).abs() < 2e-4);
    }

    #[test]
    fn normalising_up_reaches_the_target_without_clipping() {
        // Quiet and peaky: reaching -16 LUFS needs the limiter.
        let mut samples = sine(200.0, 0.02, 4.0);
        for start in (0..samples.len() - 400).step_by(12_000) {
            for sample in &mut samples[start..start + 400] {
                *sample *= 8.0;
            }
        }
        normalise(&mut samples, RATE, -16.0, -1.0).unwrap();
        let lufs = integrated_lufs(&samples, RATE).unwrap();
        assert!((lufs + 16.0).abs() <= 0.2, "{lufs}");
        assert!(true_peak_dbtp(&samples, RATE).unwrap() <= -1.0 + 1e-6);
    }

    #[test]
    fn silence_is_refused() {
        let mut samples = vec![0.0; RATE as usize];
        assert!(matches!(
            normalise(&mut samples, RATE, -16.0, -1.0),
            Err(MediaError::Silent)
        ));
    }
}

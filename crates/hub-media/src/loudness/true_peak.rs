//! True peak (ITU-R BS.1770 annex 2): the highest level of the signal 4x
//! oversampled, with `ebur128`'s interpolator.
//!
//! Two questions are asked of it. The limiter needs the level of every
//! short chunk ([`true_peak_envelope`]); the checks need only the highest
//! level of a whole signal ([`true_peak_max`]). The second skips the
//! interpolation wherever it cannot change the answer: an interpolated
//! point is a weighted sum of twelve samples, so it is at most the largest
//! of them times the sum of the weights' magnitudes (1.86), and a block of
//! samples whose neighbourhood stays under the highest level found divided
//! by that can hold no higher point. After the limiter most blocks are
//! such blocks.

use std::ops::Range;

/// Taps of the 4x true-peak interpolator per phase, as `ebur128` has them.
pub(super) const INTERP_TAPS: usize = 12;
const INTERP_FACTOR: usize = 4;
/// Samples the interpolator's output lags its input by.
pub(super) const INTERP_DELAY: usize = INTERP_TAPS / 2;
/// Output `i` uses the inputs from `LEAD` before it to [`INTERP_DELAY`]
/// after it.
const LEAD: usize = INTERP_TAPS - 1 - INTERP_DELAY;
/// Samples interpolated at a time: a piece and its scratch fit in the L1
/// cache.
const PIECE: usize = 4_096;
/// Samples per block of [`true_peak_max`], each interpolated or skipped as a
/// whole: 1 ms at 48 kHz, short enough to skip most of speech.
const SKIP_BLOCK: usize = 48;
/// How much more than the sum of the weights' magnitudes an interpolated
/// point may read: its twelve products are summed in `f32`, which rounds a
/// few parts in ten million.
const ROUNDING_ALLOWANCE: f32 = 1.0 + 1e-4;

/// `ebur128`'s 4x interpolator: a Hann-windowed sinc of 48 taps, 12 per
/// phase. Phase 0 is the sample itself.
fn interpolator() -> [[f32; INTERP_TAPS]; INTERP_FACTOR] {
    let taps = INTERP_TAPS * INTERP_FACTOR;
    let mut filter = [[0f32; INTERP_TAPS]; INTERP_FACTOR];
    for j in 0..taps {
        let position = j as f64;
        let window = taps as f64;
        let w = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * position / window).cos());
        let m = position - window / 2.0;
        let x = m * std::f64::consts::PI / INTERP_FACTOR as f64;
        filter[j % INTERP_FACTOR][j / INTERP_FACTOR] =
            if m.abs() > 1e-9 { w * x.sin() / x } else { w } as f32;
    }
    filter
}

/// The interpolator with its scratch buffers, so pieces can be worked one
/// after another without allocating.
struct Interpolator {
    filter: [[f32; INTERP_TAPS]; INTERP_FACTOR],
    levels: Vec<f32>,
    acc: Vec<f32>,
    input: Vec<f32>,
}

impl Interpolator {
    /// For pieces of up to `piece` samples.
    fn new(piece: usize) -> Self {
        Self {
            filter: interpolator(),
            levels: vec![0f32; piece],
            acc: vec![0f32; piece],
            input: vec![0f32; piece + INTERP_TAPS - 1],
        }
    }

    /// The most an interpolated point can read over the largest magnitude
    /// of the samples it is made of.
    fn gain_bound(&self) -> f32 {
        let largest = self
            .filter
            .iter()
            .map(|phase| phase.iter().map(|coeff| coeff.abs()).sum::<f32>())
            .fold(1f32, f32::max);
        largest * ROUNDING_ALLOWANCE
    }

    /// The level of each of the `len` samples from `base` (the sample and
    /// the three points after it), the samples around them (zeros outside
    /// `samples`, as it is silent there) feeding the interpolator.
    fn piece(&mut self, samples: &[f32], base: usize, len: usize) -> &[f32] {
        let levels = &mut self.levels[..len];
        for (level, &sample) in levels.iter_mut().zip(&samples[base..base + len]) {
            *level = sample.abs();
        }
        let input = &mut self.input[..len + INTERP_TAPS - 1];
        input.fill(0.0);
        let from = base.saturating_sub(LEAD);
        let to = (base + len + INTERP_DELAY).min(samples.len());
        let at = from + LEAD - base;
        input[at..at + to - from].copy_from_slice(&samples[from..to]);
        for phase in &self.filter[1..] {
            let acc = &mut self.acc[..len];
            acc.fill(0.0);
            // Tap k reads sample base + i + INTERP_DELAY - k.
            for (k, &coeff) in phase.iter().enumerate() {
                let taps = &input[INTERP_TAPS - 1 - k..INTERP_TAPS - 1 - k + len];
                for (a, &x) in acc.iter_mut().zip(taps) {
                    *a += coeff * x;
                }
            }
            for (level, a) in levels.iter_mut().zip(acc.iter()) {
                *level = level.max(a.abs());
            }
        }
        levels
    }
}

/// Per `chunk` samples, the highest level of the 4x-oversampled signal
/// (each sample and the three points after it, the interpolator's delay
/// taken out); on two threads.
pub(super) fn true_peak_envelope(samples: &[f32], chunk: usize) -> Vec<f32> {
    let mut envelope = vec![0f32; samples.len().div_ceil(chunk)];
    // Worked in pieces of whole chunks.
    let piece = chunk * (PIECE / chunk).max(1);
    let fill = |out: &mut [f32], first: usize| {
        let mut interpolator = Interpolator::new(piece);
        let end = (first + out.len() * chunk).min(samples.len());
        for (piece_index, out) in out.chunks_mut(piece / chunk).enumerate() {
            let base = first + piece_index * piece;
            let levels = interpolator.piece(samples, base, piece.min(end - base));
            for (out, levels) in out.iter_mut().zip(levels.chunks(chunk)) {
                *out = levels.iter().fold(0f32, |peak, &v| peak.max(v));
            }
        }
    };
    let middle_chunk = envelope.len() / 2;
    let (first, second) = envelope.split_at_mut(middle_chunk);
    std::thread::scope(|scope| {
        scope.spawn(|| fill(second, middle_chunk * chunk));
        fill(first, 0);
    });
    envelope
}

/// The highest level of the 4x-oversampled signal over the samples in
/// `range` (the samples around it, zeros outside `samples`, feeding the
/// interpolator), or `floor` if that is higher: exactly what the highest
/// value of their [`true_peak_envelope`] is, with only the blocks that
/// could hold it interpolated.
pub(super) fn true_peak_max(samples: &[f32], range: Range<usize>, floor: f32) -> f32 {
    let magnitude = |samples: &[f32]| samples.iter().fold(0f32, |peak, &s| peak.max(s.abs()));
    // Per block, the largest sample around it (everything its points are
    // made of); the largest of its own samples is a level it has.
    let mut peak = floor;
    let around: Vec<f32> = range
        .clone()
        .step_by(SKIP_BLOCK)
        .map(|start| {
            let end = (start + SKIP_BLOCK).min(range.end);
            peak = peak.max(magnitude(&samples[start..end]));
            let reach = start.saturating_sub(LEAD)..(end + INTERP_DELAY).min(samples.len());
            magnitude(&samples[reach])
        })
        .collect();
    let mut interpolator = Interpolator::new(PIECE);
    let bound = interpolator.gain_bound();
    // Blocks that may reach over the peak found, interpolated in runs.
    let mut run = range.start..range.start;
    for (index, &largest) in around.iter().enumerate() {
        let start = range.start + index * SKIP_BLOCK;
        let end = (start + SKIP_BLOCK).min(range.end);
        let needed = largest * bound > peak;
        if needed && run.end == start && run.len() + (end - start) <= PIECE {
            run.end = end;
            continue;
        }
        if !run.is_empty() {
            peak = magnitude(interpolator.piece(samples, run.start, run.len())).max(peak);
        }
        run = if needed { start..end } else { end..end };
    }
    if !run.is_empty() {
        peak = magnitude(interpolator.piece(samples, run.start, run.len())).max(peak);
    }
    peak
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Speech-like: a voice at several levels, with pauses and a few
    /// sharp peaks, some of them between samples.
    fn voice(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        let mut noise = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        (0..len)
            .map(|n| {
                let t = n as f32 / 48_000.0;
                let level = if t % 1.0 < 0.7 {
                    0.3 + 0.3 * (3.0 * t).sin()
                } else {
                    0.01
                };
                let tone = (2.0 * std::f32::consts::PI * 12_000.0 * t + 0.25).sin();
                let spike = if n % 9_973 == 0 { 0.9 } else { 0.0 };
                level * (0.6 * tone + 0.4 * noise()) + spike
            })
            .collect()
    }

    #[test]
    fn the_highest_level_is_the_envelope_s_highest() {
        for (len, seed) in [(1, 1), (47, 2), (4_097, 3), (48_000, 4), (200_001, 5)] {
            let signal = voice(len, seed);
            let envelope = true_peak_envelope(&signal, 48);
            let expected = envelope.iter().copied().fold(0f32, f32::max);
            assert_eq!(true_peak_max(&signal, 0..len, 0.0), expected, "{len}");
            // Any part, the samples around it feeding the interpolator.
            let part = len / 3..len - len / 4;
            let chunk_level = |at: usize| {
                let mut interpolator = Interpolator::new(1);
                interpolator.piece(&signal, at, 1)[0]
            };
            let expected = part.clone().map(chunk_level).fold(0f32, f32::max);
            assert_eq!(true_peak_max(&signal, part.clone(), 0.0), expected, "{len}");
            // A floor above every level is the answer.
            assert_eq!(true_peak_max(&signal, part, 5.0), 5.0);
        }
    }

    #[test]
    fn the_bound_holds_for_the_worst_signal() {
        // Samples of alternating sign matching the phase-2 weights' signs
        // reach the sum of their magnitudes between two samples.
        let interpolator = Interpolator::new(1);
        let phase = interpolator.filter[2];
        let mut signal = vec![0f32; 64];
        for (k, coeff) in phase.iter().enumerate() {
            // Tap k of the point after sample 30 reads sample 30 + 6 - k.
            signal[30 + INTERP_DELAY - k] = coeff.signum();
        }
        let highest = true_peak_max(&signal, 0..signal.len(), 0.0);
        let sum: f32 = phase.iter().map(|coeff| coeff.abs()).sum();
        assert!((highest - sum).abs() < 1e-5, "{highest} vs {sum}");
        assert!(highest <= interpolator.gain_bound());
        assert!(interpolator.gain_bound() < 1.9);
    }
}

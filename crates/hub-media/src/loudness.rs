//! Loudness measurement (ITU-R BS.1770-4 / EBU R128: K-weighting, 400 ms
//! blocks, -70 LUFS absolute and -10 LU relative gates, implemented here
//! with `ebur128`'s filter and interpolator and tested against that crate)
//! and normalisation with a peak limiter.
//!
//! Normalising speech up to -16 LUFS often asks for peaks above full scale:
//! speech peaks sit 15-20 dB above its loudness. A plain gain would then clip,
//! and a gain capped by the peak would leave the bulletin quieter than the
//! rest. So the gain goes up to the target and a look-ahead limiter takes the
//! few peaks above the ceiling down smoothly; the gain is then corrected for
//! the loudness the limiter took away.
//!
//! Finding that gain takes a few rounds, so the source is measured once
//! ([`Analysis`]: K-weighted energy per 100 ms, the true-peak envelope) and
//! each round costs one pass of the limiter's gain over those figures; the
//! last round's output is the result, its true peak checked once
//! (`true_peak`: interpolated only where the samples come near the peak).

mod true_peak;

#[cfg(test)]
use ebur128::{EbuR128, Mode};

use crate::error::MediaError;
use true_peak::{true_peak_envelope, true_peak_max, INTERP_DELAY};

/// How long the limiter looks ahead and ramps its gain down: long enough not
/// to distort (a few cycles of a voice's fundamental), short enough to stay
/// inaudible.
const LIMITER_ATTACK_SECS: f64 = 0.005;
/// How fast the limiter's gain recovers after a peak.
const LIMITER_RELEASE_SECS: f64 = 0.080;
/// Gain rounds after which the loudness is taken as it is: without limiting
/// the first round is exact, with it a handful are within the tolerance.
/// Rounds are cheap: they work on the [`Analysis`], not on the samples.
const MAX_GAIN_ROUNDS: usize = 16;
/// The most the limiter may take off the loudest peaks to reach the target;
/// past this, speech starts to sound crushed, so the output stays quieter.
const MAX_LIMITING_DB: f64 = 12.0;
const LOUDNESS_TOLERANCE_LU: f64 = 0.05;
/// Sub-blocks the limiter runs before the first it works out when it starts
/// mid-signal: 1.5 s, past the 1.1 s its release takes to forget a full
/// deficit (to under 1e-6, where it lets go).
const LIMITER_WARM_UP_SUB_BLOCKS: usize = 15;
/// How far under the ceiling the last trim puts the true peak.
const TRIM_MARGIN_DB: f64 = 0.001;

/// An integrated loudness meter fed frame by frame, on any number of
/// channels: BS.1770's K-weighting per channel, each channel's energy
/// weighted as `ebur128` weighs it by position, and the same gating as
/// [`Analysis`] (which agrees with `ebur128` to a hundredth of a LU). Its
/// filter loop keeps its state in registers, several times faster than
/// `ebur128`'s, which matters because the input is measured while it is
/// decoded.
pub(crate) struct Meter {
    /// Per channel: the filter, the weight of its energy, and its energy in
    /// the sub-block being filled.
    channels: Vec<(KFilter, f64, f64)>,
    sub_block: usize,
    /// Frames in the sub-block being filled.
    partial_len: usize,
    sub_energy: Vec<f64>,
}

impl Meter {
    pub(crate) fn new(channels: usize, sample_rate: u32) -> Result<Self, MediaError> {
        if channels == 0 || sample_rate < 10 {
            return Err(MediaError::Processing(format!(
                "no loudness meter for {channels} channels at {sample_rate} Hz"
            )));
        }
        Ok(Self {
            channels: (0..channels)
                .map(|channel| {
                    (
                        KFilter::new(sample_rate),
                        channel_weight(channels, channel),
                        0.0,
                    )
                })
                .collect(),
            // 100 ms, rounded as `ebur128` rounds it.
            sub_block: (sample_rate as usize + 5) / 10,
            partial_len: 0,
            sub_energy: Vec::new(),
        })
    }

    /// Adds interleaved frames (a partial frame at the end is ignored).
    pub(crate) fn add(&mut self, interleaved: &[f32]) {
        let width = self.channels.len();
        let mut rest = &interleaved[..interleaved.len() / width * width];
        // A sub-block (or what is left of it) at a time, each channel's
        // energy summed in a local.
        while !rest.is_empty() {
            let frames = (self.sub_block - self.partial_len).min(rest.len() / width);
            let (piece, after) = rest.split_at(frames * width);
            for (channel, (filter, _, partial)) in self.channels.iter_mut().enumerate() {
                let mut energy = *partial;
                let sum = |weighted: f64| energy += weighted * weighted;
                if width == 1 {
                    filter.run(piece.iter().copied(), sum);
                } else {
                    filter.run(piece.iter().skip(channel).step_by(width).copied(), sum);
                }
                *partial = energy;
            }
            self.partial_len += frames;
            if self.partial_len == self.sub_block {
                let energy = self
                    .channels
                    .iter_mut()
                    .map(|(_, weight, partial)| *weight * std::mem::take(partial))
                    .sum();
                self.sub_energy.push(energy);
                self.partial_len = 0;
            }
            rest = after;
        }
    }

    /// Integrated loudness in LUFS; `-inf` when everything is below the gate.
    pub(crate) fn integrated_lufs(&self) -> f64 {
        gated_lufs(&self.sub_energy, self.sub_block)
    }
}

/// The weight of channel `channel`'s energy out of `channels`, by where
/// `ebur128` takes it to be: front channels 1, surrounds 1.41 (BS.1770),
/// the LFE (the fourth of six) and channels past the sixth not counted.
fn channel_weight(channels: usize, channel: usize) -> f64 {
    const FRONT: f64 = 1.0;
    const SURROUND: f64 = 1.41;
    let layout: &[f64] = match channels {
        // Left, right, left and right surround.
        4 => &[FRONT, FRONT, SURROUND, SURROUND],
        // Left, right, centre, left and right surround.
        5 => &[FRONT, FRONT, FRONT, SURROUND, SURROUND],
        // Left, right, centre, LFE, left and right surround.
        _ => &[FRONT, FRONT, FRONT, 0.0, SURROUND, SURROUND],
    };
    layout.get(channel).copied().unwrap_or(0.0)
}

/// Brings mono samples to `target_lufs` with no true peak above
/// `ceiling_dbtp`.
#[cfg(test)]
fn normalise(
    samples: &mut [f32],
    sample_rate: u32,
    target_lufs: f64,
    ceiling_dbtp: f64,
) -> Result<(), MediaError> {
    let source = samples.to_vec();
    let analysis = Analysis::new(&source, sample_rate)?;
    let scale = CeilingScale::flat(analysis.sub_blocks());
    analysis.normalise_into(samples, target_lufs, ceiling_dbtp, &scale);
    Ok(())
}

/// Integrated loudness of interleaved samples by `ebur128`: the reference
/// the meters here are tested on.
#[cfg(test)]
fn ebur128_lufs(interleaved: &[f32], channels: u32, sample_rate: u32) -> f64 {
    let mut meter = EbuR128::new(channels, sample_rate, Mode::I).unwrap();
    meter.add_frames_f32(interleaved).unwrap();
    meter.loudness_global().unwrap_or(f64::NEG_INFINITY)
}

#[cfg(test)]
fn integrated_lufs(mono: &[f32], sample_rate: u32) -> Result<f64, MediaError> {
    Ok(ebur128_lufs(mono, 1, sample_rate))
}

/// True peak of mono samples in dBTP (4x oversampled, as BS.1770 says), by
/// `ebur128`: the reference the limiter's own measurements are tested on.
#[cfg(test)]
fn true_peak_dbtp(mono: &[f32], sample_rate: u32) -> Result<f64, MediaError> {
    let mut meter = EbuR128::new(1, sample_rate, Mode::TRUE_PEAK)
        .map_err(|err| MediaError::Processing(format!("true-peak meter: {err}")))?;
    meter
        .add_frames_f32(mono)
        .and_then(|()| meter.true_peak(0))
        .map(|peak| 20.0 * peak.log10())
        .map_err(|err| MediaError::Processing(format!("true-peak meter: {err}")))
}

fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Samples either side of a peak whose limiter gain is held at the peak's:
/// the interpolator spans six samples each side.
const PEAK_MARGIN: usize = INTERP_DELAY + 2;
/// How long the second half's K-weighting filter runs before its first
/// sample: its slowest pole (the 38 Hz high pass) decays by far more than
/// `f32` resolution in that time.
const K_WARM_UP_SECS: f64 = 0.5;
/// Samples per step of the limiter's look-ahead: the gain a sample needs is
/// taken over whole chunks, so it may start falling up to a chunk early.
/// Divides 100 ms at every rate the pipeline uses.
const PEAK_CHUNK: usize = 48;
/// 100 ms: the hop of BS.1770's 400 ms gating blocks.
const SUB_BLOCKS_PER_BLOCK: usize = 4;
/// Below this a gating block does not count (-70 LUFS).
const ABSOLUTE_GATE_LUFS: f64 = -70.0;
const RELATIVE_GATE_LU: f64 = -10.0;

/// The source measured once for normalisation: every gain round works on
/// these figures instead of measuring the limited signal again.
///
/// - K-weighting is linear, and the limiter's gain moves slowly next to
///   the K-weighting filter, so the K-weighted limited signal is the
///   K-weighted source times the limiter's gain: a round's gating blocks are
///   the source's K-weighted energy weighted by the gain squared, and only
///   100 ms sub-blocks where the limiter works need a look at the samples.
/// - The limiter works on the source's true-peak envelope (4x oversampled
///   with `ebur128`'s interpolator), so its output has no true peak over the
///   ceiling, not only no sample: no trim rounds.
pub(crate) struct Analysis<'a> {
    source: &'a [f32],
    /// The K-weighted source, squared.
    weighted_sq: Vec<f32>,
    /// Sum of `weighted_sq` per 100 ms sub-block (whole sub-blocks only).
    sub_energy: Vec<f64>,
    /// Per chunk of [`PEAK_CHUNK`] samples, one over the highest true-peak
    /// level within the look-ahead of any of its samples (and
    /// [`PEAK_MARGIN`] either side).
    inv_peak_ahead: Vec<f32>,
    /// Per sub-block, the least of `inv_peak_ahead`: whether the limiter
    /// can act there at all.
    min_inv_peak: Vec<f32>,
    sub_block: usize,
    window: usize,
    release: f32,
}

impl<'a> Analysis<'a> {
    /// Measures `source`; refuses it if it is silent to the loudness gates.
    pub(crate) fn new(source: &'a [f32], sample_rate: u32) -> Result<Self, MediaError> {
        let sub_block = (sample_rate / 10) as usize;
        if sample_rate % 10 != 0 || sub_block % PEAK_CHUNK != 0 {
            return Err(MediaError::Processing(format!(
                "loudness normalisation does not work at {sample_rate} Hz"
            )));
        }
        let window = ((LIMITER_ATTACK_SECS * f64::from(sample_rate)) as usize).max(1);
        let release = (1.0 - (-1.0 / (LIMITER_RELEASE_SECS * f64::from(sample_rate))).exp()) as f32;
        let (weighted_sq, peaks) = std::thread::scope(|scope| {
            let weighted = scope.spawn(|| k_weighted_squares(source, sample_rate));
            let peaks = true_peak_envelope(source, PEAK_CHUNK);
            (weighted.join(), peaks)
        });
        let weighted_sq =
            weighted_sq.map_err(|_| MediaError::Processing("K-weighting panicked".to_owned()))?;
        let sub_energy = weighted_sq
            .chunks_exact(sub_block)
            .map(|chunk| chunk.iter().map(|&e| f64::from(e)).sum())
            .collect();
        // The limiter's look-ahead is held per chunk of samples: the
        // highest peak over the chunks that overlap any sample's window.
        let chunk_peaks = peaks;
        let before = PEAK_MARGIN.div_ceil(PEAK_CHUNK);
        let after = (window + PEAK_MARGIN).div_ceil(PEAK_CHUNK);
        let inv_peak_ahead: Vec<f32> = (0..chunk_peaks.len())
            .map(|chunk| {
                let span = chunk.saturating_sub(before)..(chunk + after + 1).min(chunk_peaks.len());
                let peak = chunk_peaks[span].iter().fold(0f32, |peak, &v| peak.max(v));
                1.0 / peak.max(1e-30)
            })
            .collect();
        let per_sub = sub_block / PEAK_CHUNK;
        let min_inv_peak = inv_peak_ahead
            .chunks(per_sub)
            .map(|chunk| chunk.iter().fold(f32::MAX, |least, &v| least.min(v)))
            .collect();
        let analysis = Self {
            source,
            weighted_sq,
            sub_energy,
            inv_peak_ahead,
            min_inv_peak,
            sub_block,
            window,
            release,
        };
        if !analysis.gated_lufs(&analysis.sub_energy).is_finite() {
            return Err(MediaError::Silent);
        }
        Ok(analysis)
    }

    /// Sub-blocks of 100 ms, the unit of [`CeilingScale`].
    pub(crate) fn sub_blocks(&self) -> usize {
        self.source.len().div_ceil(self.sub_block)
    }

    /// 100 ms sub-blocks, in samples.
    pub(crate) fn sub_block_len(&self) -> usize {
        self.sub_block
    }

    /// Integrated loudness (BS.1770 gating) from sub-block energies.
    fn gated_lufs(&self, sub_energy: &[f64]) -> f64 {
        gated_lufs(sub_energy, self.sub_block)
    }

    /// The loudness of the source times `gain`, limited to `ceiling`: one
    /// gain round. Only the limiter's gain is worked out per sample; the
    /// loudness comes from the analysis.
    fn limited_lufs(&self, gain: f32, ceiling: f32, scale: &CeilingScale) -> f64 {
        let mut sub_energy = self.sub_energy.clone();
        let middle = self.middle_sub_block().min(sub_energy.len());
        let (first, second) = sub_energy.split_at_mut(middle);
        let measure = |energies: &mut [f64], subs: std::ops::Range<usize>| {
            self.limit(gain, ceiling, scale, subs.clone(), |sub, limiter_gains| {
                // The last, partial sub-block has no energy of its own.
                if let (Some(limiter_gains), Some(energy)) =
                    (limiter_gains, energies.get_mut(sub - subs.start))
                {
                    let start = sub * self.sub_block;
                    let weighted_sq = &self.weighted_sq[start..start + limiter_gains.len()];
                    *energy = weighted_energy(limiter_gains, weighted_sq);
                }
            });
        };
        std::thread::scope(|scope| {
            scope.spawn(|| measure(second, middle..self.sub_blocks()));
            measure(first, 0..middle);
        });
        let gain_sq = f64::from(gain) * f64::from(gain);
        sub_energy.iter_mut().for_each(|energy| *energy *= gain_sq);
        self.gated_lufs(&sub_energy)
    }

    /// Writes the source times `gain`, limited to `ceiling`, into `out`.
    fn write_limited(&self, out: &mut [f32], gain: f32, ceiling: f32, scale: &CeilingScale) {
        let middle = self.middle_sub_block();
        let (first, second) = out.split_at_mut((middle * self.sub_block).min(out.len()));
        let write = |out: &mut [f32], subs: std::ops::Range<usize>| {
            let offset = subs.start * self.sub_block;
            self.limit(gain, ceiling, scale, subs, |sub, limiter_gains| {
                let start = sub * self.sub_block;
                let end = (start + self.sub_block).min(self.source.len());
                let pairs = out[start - offset..end - offset]
                    .iter_mut()
                    .zip(&self.source[start..end]);
                match limiter_gains {
                    None => pairs.for_each(|(out, &sample)| *out = sample * gain),
                    Some(limiter_gains) => {
                        pairs
                            .zip(limiter_gains)
                            .for_each(|((out, &sample), &limiter_gain)| {
                                *out = sample * gain * limiter_gain;
                            })
                    }
                }
            });
        };
        std::thread::scope(|scope| {
            scope.spawn(|| write(second, middle..self.sub_blocks()));
            write(first, 0..middle);
        });
    }

    /// Where the limiter's work is split between two cores: the second
    /// half's limiter starts [`LIMITER_WARM_UP_SUB_BLOCKS`] early, so the
    /// split point only pays off past twice that.
    fn middle_sub_block(&self) -> usize {
        let subs = self.sub_blocks();
        if subs < 4 * LIMITER_WARM_UP_SUB_BLOCKS {
            subs
        } else {
            subs / 2
        }
    }

    /// Runs the look-ahead limiter over the source times `gain`, one 100 ms
    /// sub-block after the other: `sink` gets each sub-block's index and the
    /// limiter's gain for each of its samples, or `None` where it leaves
    /// the sub-block alone.
    ///
    /// For each sample, the gain it needs is the ceiling over the true-peak
    /// level ahead (or 1). The gain applied is that need, recovering
    /// exponentially, then averaged over the attack window. Every gain
    /// averaged near a peak was already at or below the peak's need, so the
    /// peak is always brought under the ceiling, and the gain moves smoothly.
    ///
    /// Worked in deficits (1 - gain). The need is the same over a chunk of
    /// [`PEAK_CHUNK`] samples, so the deficit held `k` samples into a chunk
    /// is the chunk's cut or the deficit before the chunk released `k + 1`
    /// times, whichever is larger: no sample of a chunk waits for the one
    /// before it.
    ///
    /// Only the sub-blocks `subs` go to `sink`. The limiter starts from rest
    /// [`LIMITER_WARM_UP_SUB_BLOCKS`] before them: by then the release has
    /// forgotten any deficit held before, so the gains are those of a run
    /// from the start.
    fn limit(
        &self,
        gain: f32,
        ceiling: f32,
        scale: &CeilingScale,
        subs: std::ops::Range<usize>,
        mut sink: impl FnMut(usize, Option<&[f32]>),
    ) {
        let window = self.window;
        let keep = 1.0 - self.release;
        let mut released = [0f32; PEAK_CHUNK];
        let mut power = 1.0f32;
        for factor in &mut released {
            power *= keep;
            *factor = power;
        }
        let inv_window = 1.0 / window as f64;
        // The deficits of the attack window before the sub-block, then the
        // sub-block's own.
        let mut held = vec![0f32; window + self.sub_block];
        let mut limiter_gains = vec![0f32; self.sub_block];
        // The window's sum. It is exact, in any order: a deficit is 0 or an
        // `f32` from 1e-6 to 1, a whole multiple of 2^-43, and a window of
        // them (at most 960 at 192 kHz) sums to under 2^10, within an
        // `f64`'s 53 bits. So it is 0 exactly when the window holds no
        // deficit: the state is idle (all gains 1) when the sum and the last
        // deficit are 0.
        let mut sum = 0f64;
        let mut previous = 0f32;
        for sub in subs.start.saturating_sub(LIMITER_WARM_UP_SUB_BLOCKS)..subs.end {
            let start = sub * self.sub_block;
            let len = (start + self.sub_block).min(self.source.len()) - start;
            let ceiling_here = ceiling * scale.factor(sub) / gain;
            if sum == 0.0 && previous == 0.0 && self.min_inv_peak[sub] * ceiling_here >= 1.0 {
                if sub >= subs.start {
                    sink(sub, None);
                }
                continue;
            }
            for (chunk, deficits) in held[window..window + len]
                .chunks_mut(PEAK_CHUNK)
                .enumerate()
            {
                let need =
                    (self.inv_peak_ahead[start / PEAK_CHUNK + chunk] * ceiling_here).min(1.0);
                let cut = 1.0 - need;
                for (deficit, &factor) in deficits.iter_mut().zip(&released) {
                    let kept = cut.max(previous * factor);
                    // The release would creep towards no deficit for ever.
                    *deficit = if kept < 1e-6 { 0.0 } else { kept };
                }
                previous = deficits.last().copied().unwrap_or(previous);
            }
            // At the very start the window is shorter: no sample comes
            // before the first.
            let short = (window - 1).saturating_sub(start).min(len);
            for (offset, limiter_gain) in limiter_gains[..len].iter_mut().enumerate() {
                sum += f64::from(held[window + offset]) - f64::from(held[offset]);
                let average = if offset < short {
                    (sum / (start + offset + 1) as f64) as f32
                } else {
                    (sum * inv_window) as f32
                };
                *limiter_gain = (1.0 - average).min(1.0);
            }
            if sub >= subs.start {
                sink(sub, Some(&limiter_gains[..len]));
            }
            held.copy_within(len..len + window, 0);
        }
    }

    /// Writes the source at `target_lufs`, limited under `ceiling_dbtp`
    /// (times `scale` where a re-encoding lowered it), into `out`.
    pub(crate) fn normalise_into(
        &self,
        out: &mut [f32],
        target_lufs: f64,
        ceiling_dbtp: f64,
        scale: &CeilingScale,
    ) {
        let original = self.gated_lufs(&self.sub_energy);
        let ceiling = db_to_gain(ceiling_dbtp) as f32;
        let plain_gain_db = target_lufs - original;
        let most_gain_db = plain_gain_db + MAX_LIMITING_DB;
        let reached_with =
            |gain_db: f64| self.limited_lufs(db_to_gain(gain_db) as f32, ceiling, scale);
        // Loudness grows with the gain, more slowly under limiting. Below
        // the target, step by the slope seen so far (a secant step); once
        // past it, search inside the bracket that holds the answer.
        let mut gain_db = plain_gain_db;
        let mut reached = reached_with(gain_db);
        let mut previous: Option<(f64, f64)> = None;
        let mut below = (gain_db, reached);
        let mut above: Option<(f64, f64)> = None;
        for _ in 0..MAX_GAIN_ROUNDS {
            let missing = target_lufs - reached;
            if missing.abs() <= LOUDNESS_TOLERANCE_LU {
                break;
            }
            if missing > 0.0 {
                below = (gain_db, reached);
            } else {
                above = Some((gain_db, reached));
            }
            let next = if let Some(above) = above {
                let slope = (above.1 - below.1) / (above.0 - below.0);
                let span = above.0 - below.0;
                let secant = if slope.is_finite() && slope > 1e-3 {
                    below.0 + (target_lufs - below.1) / slope
                } else {
                    below.0 + span / 2.0
                };
                secant.clamp(below.0 + 0.05 * span, above.0 - 0.05 * span)
            } else {
                let slope = previous
                    .map(|(last_gain, last_reached)| {
                        (reached - last_reached) / (gain_db - last_gain)
                    })
                    .filter(|slope| slope.is_finite())
                    .map_or(1.0, |slope| slope.clamp(0.1, 1.0));
                (gain_db + missing / slope).min(most_gain_db)
            };
            if next == gain_db {
                break;
            }
            previous = Some((gain_db, reached));
            gain_db = next;
            reached = reached_with(gain_db);
        }

        self.write_limited(out, db_to_gain(gain_db) as f32, ceiling, scale);
        // The limiter follows the source's true peaks; its moving gain can
        // still leave a peak a hair over, so measure (with the limiter's
        // interpolator, on both cores) and trim that away, to a hair under:
        // a meter that sums in another order may differ in the last bit.
        let middle = out.len() / 2;
        let mut second_half_peak = 0f32;
        let first_half_peak = std::thread::scope(|scope| {
            scope.spawn(|| second_half_peak = true_peak_max(out, middle..out.len(), 0.0));
            true_peak_max(out, 0..middle, 0.0)
        });
        let peak = first_half_peak.max(second_half_peak);
        let over = 20.0 * f64::from(peak).log10() - (ceiling_dbtp - TRIM_MARGIN_DB);
        if over > 0.0 {
            let trim = db_to_gain(-over) as f32;
            out.iter_mut().for_each(|sample| *sample *= trim);
        }
    }
}

/// Integrated loudness (BS.1770 gating) from the K-weighted energies of
/// 100 ms sub-blocks of `sub_block` samples.
fn gated_lufs(sub_energy: &[f64], sub_block: usize) -> f64 {
    if sub_energy.len() < SUB_BLOCKS_PER_BLOCK {
        return f64::NEG_INFINITY;
    }
    let block_len = (sub_block * SUB_BLOCKS_PER_BLOCK) as f64;
    let blocks: Vec<f64> = sub_energy
        .windows(SUB_BLOCKS_PER_BLOCK)
        .map(|window| window.iter().sum::<f64>() / block_len)
        .collect();
    let absolute = lufs_to_energy(ABSOLUTE_GATE_LUFS);
    let mean_over = |threshold: f64| {
        let (count, sum) = blocks
            .iter()
            .filter(|&&energy| energy >= threshold)
            .fold((0usize, 0.0f64), |(count, sum), &energy| {
                (count + 1, sum + energy)
            });
        (count > 0).then(|| sum / count as f64)
    };
    let Some(ungated) = mean_over(absolute) else {
        return f64::NEG_INFINITY;
    };
    let relative = ungated * 10f64.powf(RELATIVE_GATE_LU / 10.0);
    mean_over(relative.max(absolute)).map_or(f64::NEG_INFINITY, energy_to_lufs)
}

/// Loudness and true peak of a mono stream fed in order, a piece at a
/// time: the same measurements as [`Analysis`] (K-weighted energy per
/// 100 ms, gated; the limiter's 4x interpolator), for the decode check.
pub(crate) struct StreamMeter {
    meter: Meter,
    /// Samples whose true peak is measured: the interpolator needs
    /// [`INTERP_DELAY`] samples after each.
    peaked: usize,
    peak: f32,
}

impl StreamMeter {
    pub(crate) fn new(sample_rate: u32) -> Result<Self, MediaError> {
        Ok(Self {
            meter: Meter::new(1, sample_rate)?,
            peaked: 0,
            peak: 0.0,
        })
    }

    /// Measures `stream[from..]`, the samples added since the last call.
    pub(crate) fn add(&mut self, stream: &[f32], from: usize) {
        self.meter.add(&stream[from..]);
        let ready = stream.len().saturating_sub(INTERP_DELAY);
        self.peak_up_to(stream, ready);
    }

    /// Integrated loudness in LUFS and true peak in dBTP of all of
    /// `stream`, silent after its end.
    pub(crate) fn finish(mut self, stream: &[f32]) -> (f64, f64) {
        self.peak_up_to(stream, stream.len());
        (
            self.meter.integrated_lufs(),
            20.0 * f64::from(self.peak).log10(),
        )
    }

    fn peak_up_to(&mut self, stream: &[f32], end: usize) {
        if end > self.peaked {
            self.peak = true_peak_max(stream, self.peaked..end, self.peak);
            self.peaked = end;
        }
    }
}

/// The limiter's ceiling per 100 ms sub-block, relative to the ceiling
/// asked for: lowered only where a decoded encoding overshot.
#[derive(Clone, Debug)]
pub(crate) struct CeilingScale(Vec<f32>);

impl CeilingScale {
    pub(crate) fn flat(sub_blocks: usize) -> Self {
        Self(vec![1.0; sub_blocks])
    }

    fn factor(&self, sub: usize) -> f32 {
        self.0.get(sub).copied().unwrap_or(1.0)
    }

    /// Lowers the ceiling by `drop_db` in sub-block `sub`, but never by
    /// more than `max_drop_db` in all.
    pub(crate) fn lower(&mut self, sub: usize, drop_db: f64, max_drop_db: f64) {
        if let Some(factor) = self.0.get_mut(sub) {
            let dropped_db = -20.0 * f64::from(*factor).log10() + drop_db;
            *factor = db_to_gain(-dropped_db.min(max_drop_db)) as f32;
        }
    }
}

/// True-peak level per `sub_block` samples of `mono`, in dBTP, with the
/// same interpolator as the limiter.
pub(crate) fn true_peak_per_sub_block(mono: &[f32], sub_block: usize) -> Vec<f64> {
    true_peak_envelope(mono, sub_block)
        .into_iter()
        .map(|peak| 20.0 * f64::from(peak).log10())
        .collect()
}

fn lufs_to_energy(lufs: f64) -> f64 {
    10f64.powf((lufs + 0.691) / 10.0)
}

fn energy_to_lufs(energy: f64) -> f64 {
    -0.691 + 10.0 * energy.log10()
}

/// The sum of `weighted_sq` times the limiter's gain squared.
fn weighted_energy(limiter_gains: &[f32], weighted_sq: &[f32]) -> f64 {
    // Eight independent sums, which the compiler keeps in vector registers.
    let mut lanes = [0f64; 8];
    let mut gains = limiter_gains.chunks_exact(8);
    let mut energies = weighted_sq.chunks_exact(8);
    for (gains, energies) in (&mut gains).zip(&mut energies) {
        for ((lane, &gain), &energy) in lanes.iter_mut().zip(gains).zip(energies) {
            *lane += f64::from(gain * gain) * f64::from(energy);
        }
    }
    let rest: f64 = gains
        .remainder()
        .iter()
        .zip(energies.remainder())
        .map(|(&gain, &energy)| f64::from(gain * gain) * f64::from(energy))
        .sum();
    lanes.iter().sum::<f64>() + rest
}

/// BS.1770's K-weighting (a high shelf, then a high pass) as `ebur128`
/// computes it, squared; on two threads. The second half's filter starts
/// [`K_WARM_UP_SECS`] early: by its first sample it has forgotten that it
/// started from rest, far below what an `f32` holds.
fn k_weighted_squares(samples: &[f32], sample_rate: u32) -> Vec<f32> {
    let warm_up = (K_WARM_UP_SECS * f64::from(sample_rate)) as usize;
    let middle = samples.len() / 2;
    let mut out = vec![0f32; samples.len()];
    if middle <= warm_up {
        k_weight_into(samples, &mut out, 0, sample_rate);
        return out;
    }
    let (first, second) = out.split_at_mut(middle);
    std::thread::scope(|scope| {
        scope.spawn(|| k_weight_into(&samples[middle - warm_up..], second, warm_up, sample_rate));
        k_weight_into(&samples[..middle], first, 0, sample_rate);
    });
    out
}

/// K-weights `samples` from rest, writing the squares of all but the first
/// `skip` into `out`.
fn k_weight_into(samples: &[f32], out: &mut [f32], skip: usize, sample_rate: u32) {
    let mut filter = KFilter::new(sample_rate);
    filter.run(samples[..skip].iter().copied(), |_| {});
    let end = (skip + out.len()).min(samples.len());
    let mut out = out.iter_mut();
    filter.run(samples[skip..end].iter().copied(), |weighted| {
        if let Some(out) = out.next() {
            *out = (weighted * weighted) as f32;
        }
    });
}

/// BS.1770's K-weighting filter, from rest.
struct KFilter {
    b: [f64; 5],
    a: [f64; 5],
    state: [f64; 5],
}

impl KFilter {
    fn new(sample_rate: u32) -> Self {
        let (b, a) = k_filter_coefficients(f64::from(sample_rate));
        Self {
            b,
            a,
            state: [0.0; 5],
        }
    }

    /// K-weights `samples` in order, handing each weighted sample to
    /// `sink`. The state is held in locals for the whole run: each sample
    /// waits for the one before it, and storing the state to memory and
    /// loading it back on every sample would double that wait.
    #[inline]
    fn run(&mut self, samples: impl IntoIterator<Item = f32>, mut sink: impl FnMut(f64)) {
        let (a, b) = (&self.a, &self.b);
        let [_, mut s1, mut s2, mut s3, mut s4] = self.state;
        for sample in samples {
            // The newest state last: it alone is on the critical path.
            let s0 = (f64::from(sample) - a[4] * s4 - a[3] * s3 - a[2] * s2) - a[1] * s1;
            sink(b[0] * s0 + b[1] * s1 + b[2] * s2 + b[3] * s3 + b[4] * s4);
            (s4, s3, s2, s1) = (s3, s2, s1, s0);
        }
        self.state = [s1, s1, s2, s3, s4];
    }
}

/// The two K-weighting biquads combined into one fourth-order filter
/// (`ebur128`'s `filter_coefficients`).
#[allow(non_snake_case)]
fn k_filter_coefficients(rate: f64) -> ([f64; 5], [f64; 5]) {
    let f0 = 1681.974450955533;
    let G = 3.999843853973347;
    let Q = 0.7071752369554196;
    let K = (std::f64::consts::PI * f0 / rate).tan();
    let Vh = 10f64.powf(G / 20.0);
    let Vb = Vh.powf(0.4996667741545416);
    let a0 = 1.0 + K / Q + K * K;
    let pb = [
        (Vh + Vb * K / Q + K * K) / a0,
        2.0 * (K * K - Vh) / a0,
        (Vh - Vb * K / Q + K * K) / a0,
    ];
    let pa = [1.0, 2.0 * (K * K - 1.0) / a0, (1.0 - K / Q + K * K) / a0];

    let f0 = 38.13547087602444;
    let Q = 0.5003270373238773;
    let K = (std::f64::consts::PI * f0 / rate).tan();
    let rb = [1.0, -2.0, 1.0];
    let ra = [
        1.0,
        2.0 * (K * K - 1.0) / (1.0 + K / Q + K * K),
        (1.0 - K / Q + K * K) / (1.0 + K / Q + K * K),
    ];
    (
        [
            pb[0] * rb[0],
            pb[0] * rb[1] + pb[1] * rb[0],
            pb[0] * rb[2] + pb[1] * rb[1] + pb[2] * rb[0],
            pb[1] * rb[2] + pb[2] * rb[1],
            pb[2] * rb[2],
        ],
        [
            pa[0] * ra[0],
            pa[0] * ra[1] + pa[1] * ra[0],
            pa[0] * ra[2] + pa[1] * ra[1] + pa[2] * ra[0],
            pa[1] * ra[2] + pa[2] * ra[1],
            pa[2] * ra[2],
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    /// The limiter alone, at unit gain.
    fn limit_peaks(samples: &mut [f32], sample_rate: u32, ceiling: f32) {
        let source = samples.to_vec();
        let analysis = Analysis::new(&source, sample_rate).unwrap();
        let scale = CeilingScale::flat(analysis.sub_blocks());
        analysis.write_limited(samples, 1.0, ceiling, &scale);
    }

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
        // Too short to be split between cores, and a partial last sub-block.
        let mut samples = sine(150.0, 0.2, 2.01);
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

    /// Speech-like bursts with pauses, some peaks far over the rest.
    fn bursts(secs: f32) -> Vec<f32> {
        let mut samples = sine(180.0, 0.05, secs);
        for (n, sample) in samples.iter_mut().enumerate() {
            let t = n as f32 / RATE as f32;
            *sample *= if t % 2.0 < 1.3 {
                1.0 + (7.0 * t).sin().abs()
            } else {
                0.002
            };
        }
        for start in (5_000..samples.len() - 300).step_by(31_000) {
            for sample in &mut samples[start..start + 300] {
                *sample *= 6.0;
            }
        }
        samples
    }

    #[test]
    fn gated_loudness_from_blocks_matches_ebur128() {
        for signal in [sine(997.0, 0.5, 3.0), bursts(20.0)] {
            let analysis = Analysis::new(&signal, RATE).unwrap();
            let ours = analysis.gated_lufs(&analysis.sub_energy);
            let theirs = integrated_lufs(&signal, RATE).unwrap();
            assert!((ours - theirs).abs() < 0.01, "{ours} vs {theirs}");
        }
    }

    #[test]
    fn the_loudness_a_round_predicts_is_what_it_writes() {
        let signal = bursts(20.0);
        let analysis = Analysis::new(&signal, RATE).unwrap();
        let mut out = vec![0f32; signal.len()];
        let scale = CeilingScale::flat(analysis.sub_blocks());
        let predicted = analysis.limited_lufs(6.0, 0.5, &scale);
        analysis.write_limited(&mut out, 6.0, 0.5, &scale);
        let measured = integrated_lufs(&out, RATE).unwrap();
        assert!(
            (predicted - measured).abs() < 0.05,
            "{predicted} vs {measured}"
        );
        // The limiter worked on true peaks.
        let peak = true_peak_dbtp(&out, RATE).unwrap();
        assert!(peak <= 20.0 * 0.5f64.log10() + 0.05, "{peak}");
    }

    #[test]
    fn the_limiter_releases_as_it_would_sample_by_sample() {
        // The limiter works a chunk of samples at a time; the gains must be
        // those of the plain definition, one sample after the other: hold
        // the larger of the cut needed and the last deficit released, then
        // average over the attack window.
        // Not a whole number of sub-blocks: the last one is partial.
        let mut signal = bursts(8.0);
        signal.truncate(signal.len() - 1_234);
        let analysis = Analysis::new(&signal, RATE).unwrap();
        let scale = CeilingScale::flat(analysis.sub_blocks());
        let (gain, ceiling) = (5.0f32, 0.5f32);
        let mut chunked = vec![1f32; signal.len()];
        let all = 0..analysis.sub_blocks();
        analysis.limit(gain, ceiling, &scale, all, |sub, limiter_gains| {
            if let Some(limiter_gains) = limiter_gains {
                let start = sub * analysis.sub_block;
                chunked[start..start + limiter_gains.len()].copy_from_slice(limiter_gains);
            }
        });

        let keep = 1.0 - analysis.release;
        let mut held = vec![0f32; signal.len()];
        let mut previous = 0f32;
        for (index, held) in held.iter_mut().enumerate() {
            let need = (analysis.inv_peak_ahead[index / PEAK_CHUNK] * ceiling / gain).min(1.0);
            let kept = (1.0 - need).max(previous * keep);
            *held = if kept < 1e-6 { 0.0 } else { kept };
            previous = *held;
        }
        let window = analysis.window;
        let mut limited = 0;
        for (index, &chunked) in chunked.iter().enumerate() {
            let span = index.saturating_sub(window - 1)..=index;
            let average = held[span.clone()].iter().sum::<f32>() / span.count() as f32;
            let expected = 1.0 - average;
            assert!(
                (chunked - expected).abs() < 1e-4,
                "sample {index}: {chunked} vs {expected}"
            );
            limited += usize::from(expected < 0.99);
        }
        // The limiter did work on this signal.
        assert!(limited > signal.len() / 100, "{limited}");

        // Written on two cores, the second half's limiter started late, the
        // output has the same gains.
        assert!(analysis.middle_sub_block() < analysis.sub_blocks());
        let mut out = vec![0f32; signal.len()];
        analysis.write_limited(&mut out, gain, ceiling, &scale);
        for (index, (&out, &sample)) in out.iter().zip(&signal).enumerate() {
            let expected = sample * gain * chunked[index];
            assert!(
                (out - expected).abs() <= 1e-6 * (sample * gain).abs(),
                "sample {index}: {out} vs {expected}"
            );
        }
    }

    #[test]
    fn the_limiter_s_running_window_sum_is_exact() {
        // What `limit` relies on: deficits (0, or f32 from 1e-6 to 1)
        // summed over a window by adding the one entering and taking away
        // the one leaving give the very bits of summing the window afresh,
        // so the sum is 0 exactly when the window is all zeros.
        let window = 960;
        let mut state = 12_345u32;
        let deficits: Vec<f32> = (0..200_000)
            .map(|n| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let value = (state >> 8) as f32 / (1u32 << 24) as f32;
                // Runs of silence between runs of deficits of every size.
                if (n / 5_000) % 3 == 0 {
                    0.0
                } else {
                    value.powi(1 + (n % 7) * 3).max(1e-6)
                }
            })
            .collect();
        let mut running = 0f64;
        for (index, &entering) in deficits.iter().enumerate() {
            let leaving = index.checked_sub(window).map_or(0.0, |left| deficits[left]);
            running += f64::from(entering) - f64::from(leaving);
            let span = index.saturating_sub(window - 1)..=index;
            let afresh: f64 = deficits[span.clone()]
                .iter()
                .rev()
                .map(|&d| f64::from(d))
                .sum();
            assert_eq!(running.to_bits(), afresh.to_bits(), "sample {index}");
            assert_eq!(running == 0.0, deficits[span].iter().all(|&d| d == 0.0));
        }
    }

    #[test]
    fn a_lowered_sub_block_is_limited_harder_and_only_there() {
        let signal = bursts(10.0);
        let analysis = Analysis::new(&signal, RATE).unwrap();
        let mut flat_out = vec![0f32; signal.len()];
        let mut lowered_out = vec![0f32; signal.len()];
        let flat = CeilingScale::flat(analysis.sub_blocks());
        let mut lowered = flat.clone();
        // The burst at 36,000 samples is in sub-block 7.
        lowered.lower(7, 3.0, 4.0);
        analysis.write_limited(&mut flat_out, 4.0, 0.5, &flat);
        analysis.write_limited(&mut lowered_out, 4.0, 0.5, &lowered);
        let peak = |out: &[f32]| out.iter().fold(0f32, |peak, s| peak.max(s.abs()));
        let sub = |out: &[f32], index: usize| out[index * 4_800..(index + 1) * 4_800].to_vec();
        // Past the attack at the sub-block's start, under the lower ceiling.
        let burst = 34_000..38_400;
        assert!(peak(&lowered_out[burst.clone()]) <= 0.5 * 0.708 + 1e-4);
        assert!(peak(&flat_out[burst]) > 0.45);
        assert_eq!(sub(&flat_out, 2), sub(&lowered_out, 2));
    }

    #[test]
    fn the_meter_reads_what_ebur128_reads_on_any_channels() {
        // Every channel count uploads may have (each channel its own level,
        // so a wrong weight shows), at rates whose 100 ms is not a whole
        // number of samples too, fed in uneven pieces.
        for (channels, rate) in [
            (1u32, 48_000u32),
            (2, 44_100),
            (1, 11_025),
            (5, 48_000),
            (6, 22_050),
            (8, 32_000),
        ] {
            let width = channels as usize;
            let frames = rate as usize * 5 + 777;
            let interleaved: Vec<f32> = (0..frames * width)
                .map(|n| {
                    let (frame, channel) = (n / width, n % width);
                    let t = frame as f32 / rate as f32;
                    let level = 0.05 + 0.1 * channel as f32;
                    let burst = if t % 1.5 < 1.0 { 1.0 } else { 0.001 };
                    level
                        * burst
                        * (2.0 * std::f32::consts::PI * (300.0 + 170.0 * channel as f32) * t).sin()
                })
                .collect();
            let mut meter = Meter::new(width, rate).unwrap();
            let mut fed = 0usize;
            for piece in [1, 4_409, 10_000, 99_999, usize::MAX] {
                let end = fed
                    .saturating_add(piece.saturating_mul(width))
                    .min(interleaved.len());
                meter.add(&interleaved[fed..end]);
                fed = end;
            }
            let ours = meter.integrated_lufs();
            let theirs = ebur128_lufs(&interleaved, channels, rate);
            assert!(
                (ours - theirs).abs() < 1e-3,
                "{channels} channels at {rate} Hz: {ours} vs {theirs}"
            );
        }
        // Silence is below the gate.
        let mut meter = Meter::new(2, 44_100).unwrap();
        meter.add(&vec![0.0; 88_200 * 2]);
        assert_eq!(meter.integrated_lufs(), f64::NEG_INFINITY);
    }

    #[test]
    fn the_k_filter_run_in_pieces_is_the_filter_sample_by_sample() {
        // The plain definition, one sample after the other, state in an
        // array (ebur128's direct form II): `run` must give the same bits
        // whatever the pieces it is fed in.
        let signal = bursts(3.0);
        let (b, a) = k_filter_coefficients(f64::from(RATE));
        let mut state = [0f64; 5];
        let expected: Vec<f64> = signal
            .iter()
            .map(|&sample| {
                state[0] =
                    (f64::from(sample) - a[4] * state[4] - a[3] * state[3] - a[2] * state[2])
                        - a[1] * state[1];
                let weighted = (0..5).fold(0.0, |sum, k| sum + b[k] * state[k]);
                state.copy_within(0..4, 1);
                weighted
            })
            .collect();
        let mut filter = KFilter::new(RATE);
        let mut weighted = Vec::new();
        let mut fed = 0usize;
        for piece in [1, 2, 959, 4_800, 30_001, usize::MAX] {
            let end = fed.saturating_add(piece).min(signal.len());
            filter.run(signal[fed..end].iter().copied(), |value| {
                weighted.push(value)
            });
            fed = end;
        }
        assert_eq!(weighted, expected);
    }

    #[test]
    fn the_stream_meter_reads_what_ebur128_reads() {
        // Fed in uneven pieces, as the decode check feeds it.
        let signal = bursts(12.0);
        let mut meter = StreamMeter::new(RATE).unwrap();
        let mut fed = 0;
        for piece in [1, 959, 4_800, 20_000, 70_001, 200_000] {
            let end = (fed + piece).min(signal.len());
            meter.add(&signal[..end], fed);
            fed = end;
        }
        meter.add(&signal, fed);
        let (lufs, peak_dbtp) = meter.finish(&signal);
        let expected_lufs = integrated_lufs(&signal, RATE).unwrap();
        let expected_peak = true_peak_dbtp(&signal, RATE).unwrap();
        assert!(
            (lufs - expected_lufs).abs() < 0.01,
            "{lufs} vs {expected_lufs}"
        );
        assert!(
            (peak_dbtp - expected_peak).abs() < 0.01,
            "{peak_dbtp} vs {expected_peak}"
        );
    }

    #[test]
    fn the_envelope_finds_the_true_peak_ebur128_finds() {
        // A sine at a quarter of the rate, sampled off its crests: the
        // samples stay 3 dB under its true peak.
        let signal: Vec<f32> = (0..RATE as usize)
            .map(|n| 0.5 * (std::f32::consts::PI * (n as f32 / 2.0 + 0.25)).sin())
            .collect();
        let ours = true_peak_envelope(&signal, 4_800)
            .into_iter()
            .fold(0f32, f32::max);
        let theirs = true_peak_dbtp(&signal, RATE).unwrap();
        let sample_peak = signal.iter().fold(0f32, |peak, s| peak.max(s.abs()));
        assert!(
            (20.0 * f64::from(ours).log10() - theirs).abs() < 0.01,
            "{ours} vs {theirs}"
        );
        assert!(ours > sample_peak * 1.3, "{ours} vs {sample_peak}");
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

//! Mono samples at any input rate to 48 kHz, the rate Opus codes at.
//!
//! rubato's synchronous FFT resampler: the ratio between two fixed rates is
//! exact, its anti-aliasing filter is as good as its slow sinc resamplers,
//! and `process_all` trims the resampler's own delay so the output lines up
//! with the input sample for sample.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::error::MediaError;
use crate::OUTPUT_SAMPLE_RATE;

/// Input frames per FFT chunk: rubato rounds it to fit the ratio.
const CHUNK_FRAMES: usize = 1024;
/// FFT blocks each half resamples past the split, so that the other half's
/// edge, where the filter would see silence, is thrown away.
const OVERLAP_BLOCKS: usize = 16;

/// The input and output frames of one of rubato's FFT blocks, as
/// `Fft::new` sizes them for [`CHUNK_FRAMES`]: the resampler works block by
/// block, so the output of a block depends only on the blocks around it.
fn fft_blocks(sample_rate: u32) -> (usize, usize) {
    let gcd = gcd(sample_rate as usize, OUTPUT_SAMPLE_RATE as usize);
    let min_in = sample_rate as usize / gcd;
    let sub_chunk = CHUNK_FRAMES / (CHUNK_FRAMES / 256).max(1);
    let blocks = sub_chunk.div_ceil(min_in);
    (blocks * min_in, blocks * OUTPUT_SAMPLE_RATE as usize / gcd)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

pub(crate) fn to_output_rate(mono: Vec<f32>, sample_rate: u32) -> Result<Vec<f32>, MediaError> {
    if sample_rate == OUTPUT_SAMPLE_RATE || mono.is_empty() {
        return Ok(mono);
    }
    let resampler = new_resampler(sample_rate)?;
    let (block_in, block_out) = fft_blocks(sample_rate);
    let overlap = OVERLAP_BLOCKS * block_in;
    // The halves split at a block boundary, so the second half's blocks are
    // the whole's blocks and its output past the overlap is the whole's.
    let middle = mono.len() / 2 / block_in * block_in;
    let mut resampled = if middle < 2 * overlap {
        resample_all(resampler, &mono)?
    } else {
        let (first, second) = std::thread::scope(|scope| {
            let second = scope.spawn(|| resample_all(resampler, &mono[middle - overlap..]));
            let first = new_resampler(sample_rate)
                .and_then(|resampler| resample_all(resampler, &mono[..middle + overlap]));
            (first, second.join())
        });
        let mut first = first?;
        let second =
            second.map_err(|_| MediaError::Processing("resampling panicked".to_owned()))??;
        first.truncate(middle / block_in * block_out);
        first.extend_from_slice(second.get(OVERLAP_BLOCKS * block_out..).unwrap_or_default());
        first
    };
    // rubato computes the length in floating point and can overshoot by one.
    let exact_len = (mono.len() as u64 * u64::from(OUTPUT_SAMPLE_RATE)
        + u64::from(sample_rate) / 2)
        / u64::from(sample_rate);
    resampled.truncate(exact_len as usize);
    Ok(resampled)
}

fn new_resampler(sample_rate: u32) -> Result<Fft<f32>, MediaError> {
    Fft::<f32>::new(
        sample_rate as usize,
        OUTPUT_SAMPLE_RATE as usize,
        CHUNK_FRAMES,
        1,
        FixedSync::Input,
    )
    .map_err(|err| failed(err.to_string()))
}

/// Resamples `mono` from silence before it to silence after it, the
/// resampler's delay trimmed.
fn resample_all(mut resampler: Fft<f32>, mono: &[f32]) -> Result<Vec<f32>, MediaError> {
    let input =
        InterleavedSlice::new(mono, 1, mono.len()).map_err(|err| failed(err.to_string()))?;
    let output = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|err| failed(err.to_string()))?;
    Ok(output.take_data())
}

fn failed(err: String) -> MediaError {
    MediaError::Processing(format!("resampling: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duration_and_pitch() {
        let rate = 44_100;
        let freq = 1_000.0;
        let input: Vec<f32> = (0..rate)
            .map(|n| (2.0 * std::f32::consts::PI * freq * n as f32 / rate as f32).sin())
            .collect();
        let output = to_output_rate(input, rate).unwrap();
        assert_eq!(output.len(), OUTPUT_SAMPLE_RATE as usize);
        // Count rising zero crossings away from the edges: 1 kHz stays 1 kHz.
        let middle = &output[4_800..43_200];
        let crossings = middle
            .windows(2)
            .filter(|pair| pair[0] < 0.0 && pair[1] >= 0.0)
            .count();
        assert!((799..=801).contains(&crossings), "{crossings}");
    }

    #[test]
    fn halves_resample_like_the_whole() {
        // Long enough to be split, at the rates uploads come at: the seam
        // must not show.
        for rate in [8_000u32, 16_000, 22_050, 32_000, 44_100, 96_000] {
            let input: Vec<f32> = (0..rate * 3)
                .map(|n| {
                    let t = n as f32 / rate as f32;
                    0.4 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                        + 0.2 * (2.0 * std::f32::consts::PI * 3_150.0 * t).sin()
                })
                .collect();
            let whole = resample_all(new_resampler(rate).unwrap(), &input).unwrap();
            let halves = to_output_rate(input, rate).unwrap();
            assert_eq!(halves.len(), OUTPUT_SAMPLE_RATE as usize * 3, "{rate} Hz");
            let worst = halves
                .iter()
                .zip(&whole)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-5, "{rate} Hz: {worst}");
        }
    }

    #[test]
    fn output_rate_passes_through() {
        let input = vec![0.25; 480];
        assert_eq!(
            to_output_rate(input.clone(), OUTPUT_SAMPLE_RATE).unwrap(),
            input
        );
    }
}

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

pub(crate) fn to_output_rate(mono: Vec<f32>, sample_rate: u32) -> Result<Vec<f32>, MediaError> {
    if sample_rate == OUTPUT_SAMPLE_RATE || mono.is_empty() {
        return Ok(mono);
    }
    let failed = |err: String| MediaError::Processing(format!("resampling: {err}"));
    let mut resampler = Fft::<f32>::new(
        sample_rate as usize,
        OUTPUT_SAMPLE_RATE as usize,
        CHUNK_FRAMES,
        1,
        FixedSync::Input,
    )
    .map_err(|err| failed(err.to_string()))?;
    let input =
        InterleavedSlice::new(&mono, 1, mono.len()).map_err(|err| failed(err.to_string()))?;
    let output = resampler
        .process_all(&input, mono.len(), None)
        .map_err(|err| failed(err.to_string()))?;
    // rubato computes the length in floating point and can overshoot by one.
    let exact_len = (mono.len() as u64 * u64::from(OUTPUT_SAMPLE_RATE)
        + u64::from(sample_rate) / 2)
        / u64::from(sample_rate);
    let mut resampled = output.take_data();
    resampled.truncate(exact_len as usize);
    Ok(resampled)
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
    fn output_rate_passes_through() {
        let input = vec![0.25; 480];
        assert_eq!(
            to_output_rate(input.clone(), OUTPUT_SAMPLE_RATE).unwrap(),
            input
        );
    }
}

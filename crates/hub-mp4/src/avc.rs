//! H.264 in MP4 to what a decoder reads: the parameter sets from the
//! decoder configuration (`avcC`), and each sample's length-prefixed NAL
//! units rewritten as an Annex B byte stream (start codes).

use crate::boxes::Fields;
use crate::error::{corrupt, Mp4Error};
use crate::movie::Track;

/// An H.264 track's decoder configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvcConfig {
    /// Bytes of the length before each NAL unit in a sample: 1, 2 or 4.
    pub nal_length_size: usize,
    /// Sequence then picture parameter sets, each one NAL unit.
    pub parameter_sets: Vec<Vec<u8>>,
}

const START_CODE: [u8; 4] = [0, 0, 0, 1];

impl Track {
    /// The decoder configuration of this H.264 track.
    pub fn avc_config(&self, file: &[u8]) -> Result<AvcConfig, Mp4Error> {
        let span = self.avc_config.ok_or_else(|| {
            corrupt(format!(
                "track {} has no 'avcC' decoder configuration",
                self.number
            ))
        })?;
        let mut fields = Fields::new(span.get(file)?);
        let [_version, _profile, _compatibility, _level, length] = fields.array()?;
        let nal_length_size = usize::from(length & 0b11) + 1;
        if nal_length_size == 3 {
            return Err(corrupt(format!(
                "track {}'s 'avcC' gives NAL lengths of 3 bytes",
                self.number
            )));
        }
        let mut parameter_sets = Vec::new();
        let [sequence_sets] = fields.array()?;
        for _ in 0..(sequence_sets & 0b1_1111) {
            let length = usize::from(fields.u16()?);
            parameter_sets.push(fields.take(length)?.to_vec());
        }
        let [picture_sets] = fields.array()?;
        for _ in 0..picture_sets {
            let length = usize::from(fields.u16()?);
            parameter_sets.push(fields.take(length)?.to_vec());
        }
        Ok(AvcConfig {
            nal_length_size,
            parameter_sets,
        })
    }
}

impl AvcConfig {
    /// The parameter sets as an Annex B stream, fed to a decoder first.
    pub fn parameter_sets_annex_b(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for set in &self.parameter_sets {
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(set);
        }
        out
    }

    /// Appends `sample`'s NAL units to `out` with start codes instead of
    /// lengths; a length running past the sample is corrupt.
    pub fn annex_b(&self, sample: &[u8], out: &mut Vec<u8>) -> Result<(), Mp4Error> {
        let mut rest = sample;
        while !rest.is_empty() {
            let (length, after) = rest
                .split_at_checked(self.nal_length_size)
                .ok_or_else(|| corrupt("an H.264 sample ends inside a NAL length".to_owned()))?;
            let length = length
                .iter()
                .fold(0usize, |sum, &byte| (sum << 8) | usize::from(byte));
            let (nal, after) = after.split_at_checked(length).ok_or_else(|| {
                corrupt(format!(
                    "an H.264 NAL unit of {length} bytes runs past its sample"
                ))
            })?;
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(nal);
            rest = after;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixed_nal_units_become_start_coded() {
        let config = AvcConfig {
            nal_length_size: 4,
            parameter_sets: vec![vec![0x67, 1, 2], vec![0x68, 3]],
        };
        assert_eq!(
            config.parameter_sets_annex_b(),
            [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3]
        );
        let mut out = Vec::new();
        let sample = [0, 0, 0, 2, 0x65, 9, 0, 0, 0, 1, 0x06];
        config.annex_b(&sample, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x65, 9, 0, 0, 0, 1, 0x06]);
        let err = config.annex_b(&[0, 0, 0, 5, 0x65], &mut out).unwrap_err();
        assert!(err.to_string().contains("runs past its sample"), "{err}");
        let err = config.annex_b(&[0, 0], &mut out).unwrap_err();
        assert!(err.to_string().contains("inside a NAL length"), "{err}");
    }
}

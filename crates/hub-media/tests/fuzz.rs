//! Fuzz-style robustness: random bytes and mutated real files must get an
//! answer (audio or an error), never a panic. Inputs are small and the
//! maximum duration is short, so every case is bounded in time.

use std::cell::Cell;
use std::time::Duration;

use hub_media::{ingest_audio, AudioSettings};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::{fixtures, FORMATS};

#[derive(Clone, Debug)]
enum Mutation {
    /// Overwrite the byte at this fraction of the file.
    Set(f64, u8),
    /// Cut the file at this fraction.
    Truncate(f64),
    /// Insert bytes at this fraction.
    Insert(f64, Vec<u8>),
    /// Remove this many bytes at this fraction.
    Remove(f64, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (0.0..1.0, any::<u8>()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        1 => (0.0..1.0).prop_map(Mutation::Truncate),
        1 => (0.0..1.0, prop::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        1 => (0.0..1.0, 1..64usize).prop_map(|(at, len)| Mutation::Remove(at, len)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let at = |fraction: f64| ((bytes.len() as f64 * fraction) as usize).min(bytes.len());
        match mutation {
            Mutation::Set(fraction, byte) => {
                let index = at(*fraction);
                if let Some(slot) = bytes.get_mut(index) {
                    *slot = *byte;
                }
            }
            Mutation::Truncate(fraction) => bytes.truncate(at(*fraction)),
            Mutation::Insert(fraction, inserted) => {
                let index = at(*fraction);
                bytes.splice(index..index, inserted.iter().copied());
            }
            Mutation::Remove(fraction, len) => {
                let start = at(*fraction);
                let end = (start + len).min(bytes.len());
                bytes.drain(start..end);
            }
        }
    }
    bytes
}

fn settings() -> AudioSettings {
    AudioSettings {
        max_duration: Duration::from_secs(2),
        max_input_bytes: 256 * 1024,
        ..AudioSettings::default()
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut runner = TestRunner::new(Config {
        cases: 1_000,
        failure_persistence: None,
        ..Config::default()
    });
    let hints = prop::sample::select(vec![
        None,
        Some("mp3"),
        Some("wav"),
        Some("ogg"),
        Some("m4a"),
    ]);
    runner
        .run(
            &(prop::collection::vec(any::<u8>(), 0..4_096), hints),
            |(bytes, hint)| {
                // Either answer is fine if it is a sound one; a panic fails.
                match ingest_audio(&bytes, hint, &settings()) {
                    Ok(encoded) => {
                        prop_assert!(encoded.ogg.starts_with(b"OggS"));
                        prop_assert!(encoded.duration_ms <= 2_000);
                    }
                    Err(err) => prop_assert!(!err.to_string().is_empty()),
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn mutated_real_files_never_panic() {
    let seeds: Vec<(Vec<u8>, &str)> = FORMATS
        .iter()
        .map(|format| (fixtures().short_signal(format.ext), format.ext))
        .collect();
    let mut runner = TestRunner::new(Config {
        cases: 1_000,
        failure_persistence: None,
        ..Config::default()
    });
    let decoded = Cell::new(0);
    let refused = Cell::new(0);
    runner
        .run(
            &(0..seeds.len(), prop::collection::vec(mutation(), 1..6)),
            |(seed, mutations)| {
                let (bytes, ext) = &seeds[seed];
                let mutated = apply(bytes.clone(), &mutations);
                match ingest_audio(&mutated, Some(ext), &settings()) {
                    Ok(encoded) => {
                        decoded.set(decoded.get() + 1);
                        prop_assert!(encoded.ogg.starts_with(b"OggS"));
                        prop_assert!(encoded.duration_ms <= 2_000);
                    }
                    Err(err) => {
                        refused.set(refused.get() + 1);
                        prop_assert!(!err.to_string().is_empty());
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    // Both outcomes occur: small damage is survivable, large damage is not.
    let (decoded, refused) = (decoded.get(), refused.get());
    assert!(
        decoded > 0 && refused > 0,
        "{decoded} decoded, {refused} refused"
    );
}

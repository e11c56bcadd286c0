//! Text to WAV with `espeak-ng`, run as a child process with a deadline.
//!
//! The text goes in on stdin (never as an argument, so no text can pass for
//! an option), the WAV comes out on stdout.

use std::io::{ErrorKind, Read, Write};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::MediaError;
use crate::AudioSettings;

const ESPEAK_NG: &str = "espeak-ng";

/// ISO 639-1 and 639-3 codes to espeak-ng voices. Minority languages of
/// Vietnam (Ê Đê, M'nông, ...) have no voice: their bulletins are recorded.
const VOICES: &[(&str, &str)] = &[
    ("vi", "vi"),
    ("vie", "vi"),
    ("en", "en"),
    ("eng", "en"),
    ("fr", "fr"),
    ("fra", "fr"),
    ("fre", "fr"),
    ("zh", "cmn"),
    ("zho", "cmn"),
    ("chi", "cmn"),
    ("cmn", "cmn"),
];

/// An upper bound on espeak-ng's output per second of speech (it writes
/// 16-bit mono at 22.05 kHz; 48 kHz leaves room for other voices).
const MAX_WAV_BYTES_PER_SEC: u64 = 2 * 48_000;
const WAV_HEADER_BYTES: u64 = 44;
/// How much of espeak-ng's stderr is kept for an error message.
const MAX_STDERR_BYTES: u64 = 4_096;
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Speaks `text` in `language`; returns a WAV file with correct sizes.
pub(crate) fn synthesise_wav(
    text: &str,
    language: &str,
    settings: &AudioSettings,
) -> Result<Vec<u8>, MediaError> {
    synthesise_wav_with(ESPEAK_NG, text, language, settings)
}

/// [`synthesise_wav`] with the program to run as a parameter, so a test can
/// name one that is not installed.
fn synthesise_wav_with(
    program: &str,
    text: &str,
    language: &str,
    settings: &AudioSettings,
) -> Result<Vec<u8>, MediaError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(MediaError::NoText);
    }
    let voice = voice_for(language)?;
    let mut child = Command::new(program)
        .args(["-v", voice, "-b", "1", "--stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| match err.kind() {
            ErrorKind::NotFound => MediaError::TtsUnavailable {
                hint: "espeak-ng is not installed (on Debian: apt-get install espeak-ng)"
                    .to_owned(),
            },
            _ => MediaError::TtsFailed(format!("espeak-ng could not start: {err}")),
        })?;

    // Pipes are served on threads so a full pipe never stalls the deadline.
    let max_wav_bytes =
        WAV_HEADER_BYTES + MAX_WAV_BYTES_PER_SEC * settings.max_duration.as_secs().max(1);
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let text = text.to_owned();
    let writer = thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // A write error means espeak-ng exited early; its status says why.
            let _ = stdin.write_all(text.as_bytes());
        }
    });
    let reader = thread::spawn(move || read_limited(stdout, max_wav_bytes + 1));
    let error_reader = thread::spawn(move || read_limited(stderr, MAX_STDERR_BYTES));

    let status = wait_with_deadline(&mut child, settings.tts_timeout);
    // The pipes close once the child is gone, so these threads end.
    let _ = writer.join();
    let wav = reader.join().unwrap_or_default();
    let errors = error_reader.join().unwrap_or_default();
    let status = status?;

    if wav.len() as u64 > max_wav_bytes {
        return Err(MediaError::TooLong {
            max_secs: settings.max_duration.as_secs(),
        });
    }
    if !status.success() {
        let errors = String::from_utf8_lossy(&errors);
        return Err(MediaError::TtsFailed(format!(
            "espeak-ng exited with {status}: {}",
            errors.trim()
        )));
    }
    let mut wav = wav;
    fix_streamed_wav_sizes(&mut wav)?;
    Ok(wav)
}

fn voice_for(language: &str) -> Result<&'static str, MediaError> {
    let language = language.trim().to_ascii_lowercase();
    VOICES
        .iter()
        .find(|(code, _)| *code == language)
        .map(|(_, voice)| *voice)
        .ok_or_else(|| MediaError::UnknownVoice {
            language,
            known: VOICES
                .iter()
                .map(|(code, _)| *code)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn read_limited(pipe: Option<impl Read>, limit: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        // A read error leaves what was read; the exit status tells the rest.
        let _ = pipe.take(limit).read_to_end(&mut bytes);
    }
    bytes
}

fn wait_with_deadline(
    child: &mut Child,
    timeout: Duration,
) -> Result<std::process::ExitStatus, MediaError> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
            Ok(None) => {
                // Killing fails only if it already exited; wait reaps it either way.
                let _ = child.kill();
                let _ = child.wait();
                return Err(MediaError::TtsTimeout {
                    millis: timeout.as_millis(),
                });
            }
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(MediaError::TtsFailed(format!(
                    "waiting for espeak-ng: {err}"
                )));
            }
        }
    }
}

/// espeak-ng writing to a pipe cannot go back to fill in the RIFF and `data`
/// chunk sizes, so it writes placeholders near 2 GiB; a decoder would then
/// take the file for a truncated one. Sets both to what was written.
fn fix_streamed_wav_sizes(wav: &mut [u8]) -> Result<(), MediaError> {
    let malformed = || MediaError::TtsFailed("espeak-ng did not write a WAV file".to_owned());
    if wav.len() < 12 || &wav[0..4] != b"RIFF" || &wav[8..12] != b"WAVE" {
        return Err(malformed());
    }
    let riff_size = u32::try_from(wav.len() - 8).map_err(|_| malformed())?;
    wav[4..8].copy_from_slice(&riff_size.to_le_bytes());
    let mut chunk = 12;
    while chunk + 8 <= wav.len() {
        let declared = u32::from_le_bytes([
            wav[chunk + 4],
            wav[chunk + 5],
            wav[chunk + 6],
            wav[chunk + 7],
        ]) as usize;
        if &wav[chunk..chunk + 4] == b"data" {
            let data_size = u32::try_from(wav.len() - chunk - 8).map_err(|_| malformed())?;
            wav[chunk + 4..chunk + 8].copy_from_slice(&data_size.to_le_bytes());
            return Ok(());
        }
        // Chunks are padded to an even length.
        chunk = chunk
            .saturating_add(8)
            .saturating_add(declared + (declared & 1));
    }
    Err(malformed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_codes_map_to_voices_and_unknown_ones_say_which_exist() {
        assert_eq!(voice_for("vi").unwrap(), "vi");
        assert_eq!(voice_for("VIE").unwrap(), "vi");
        let err = voice_for("mnong").unwrap_err();
        assert!(matches!(err, MediaError::UnknownVoice { .. }));
        let message = err.to_string();
        assert!(
            message.contains("\"mnong\"") && message.contains("vi, vie"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_espeak_ng_says_how_to_install_it() {
        let err = synthesise_wav_with(
            "espeak-ng-that-is-not-installed",
            "Xin chào",
            "vi",
            &AudioSettings::default(),
        )
        .unwrap_err();
        assert!(matches!(err, MediaError::TtsUnavailable { .. }), "{err:?}");
        assert!(
            err.to_string().contains("apt-get install espeak-ng"),
            "{err}"
        );
    }

    #[test]
    fn streamed_wav_sizes_are_fixed() {
        let mut wav = Vec::new();
        wav.extend_from_slice(b"RIFF\x24\xf0\xff\x7fWAVEfmt \x10\0\0\0");
        wav.extend_from_slice(&[1, 0, 1, 0, 0x22, 0x56, 0, 0, 0x44, 0xac, 0, 0, 2, 0, 16, 0]);
        wav.extend_from_slice(b"data\x00\xf0\xff\x7f");
        wav.extend_from_slice(&[0; 100]);
        fix_streamed_wav_sizes(&mut wav).unwrap();
        assert_eq!(&wav[4..8], &(wav.len() as u32 - 8).to_le_bytes());
        assert_eq!(&wav[40..44], &100u32.to_le_bytes());
    }

    #[test]
    fn non_wav_output_is_refused() {
        let mut not_wav = b"Error: no voice".to_vec();
        assert!(matches!(
            fix_streamed_wav_sizes(&mut not_wav),
            Err(MediaError::TtsFailed(_))
        ));
    }
}

//! Speech already synthesised in this process, by text, language and
//! settings.
//!
//! Speaking a bulletin costs seconds of CPU (espeak-ng, then the whole audio
//! pipeline), and the output is deterministic. A process that seeds several
//! stores with the same texts (the end-to-end tests start many hubs on the
//! demo provinces; a `hub plan` before a `hub demo`) speaks each text once.
//! Concurrent requests for one text wait for the first instead of repeating
//! it. Failures are not kept: espeak-ng may be installed meanwhile.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use hub_media::{AudioSettings, EncodedAudio, MediaError};

/// Texts kept at most; past this, speech is synthesised without being kept.
const MAX_KEPT: usize = 256;

type Key = (String, String, String);
type Slot = Arc<Mutex<Option<EncodedAudio>>>;

fn kept() -> &'static Mutex<HashMap<Key, Slot>> {
    static KEPT: OnceLock<Mutex<HashMap<Key, Slot>>> = OnceLock::new();
    KEPT.get_or_init(Mutex::default)
}

/// `hub_media::speak`, once per text, language and settings per process.
pub fn speak(
    text: &str,
    language: &str,
    settings: &AudioSettings,
) -> Result<EncodedAudio, MediaError> {
    let key = (
        text.to_owned(),
        language.to_owned(),
        format!("{settings:?}"),
    );
    let slot = {
        let Ok(mut kept) = kept().lock() else {
            return hub_media::speak(text, language, settings);
        };
        if kept.len() >= MAX_KEPT && !kept.contains_key(&key) {
            drop(kept);
            return hub_media::speak(text, language, settings);
        }
        kept.entry(key).or_default().clone()
    };
    // Held while speaking, so a second request for the text waits for it.
    let Ok(mut spoken) = slot.lock() else {
        return hub_media::speak(text, language, settings);
    };
    if let Some(audio) = spoken.as_ref() {
        return Ok(audio.clone());
    }
    let audio = hub_media::speak(text, language, settings)?;
    *spoken = Some(audio.clone());
    Ok(audio)
}

//! What bulletin a CAP alert becomes (documented in `docs/cap.md`):
//!
//! - areas: each `area` names hub areas by `geocode`s whose `valueName` is
//!   [`GEOCODE_NAME`] and whose `value` is an official administrative code,
//!   which the hub's area codes are (`VN`, a province, a district, a
//!   commune). Polygons and circles are not resolved to communes: an area
//!   with only those is refused.
//! - languages: each `info` is one language variant; the tag's primary
//!   subtag is the hub's language (`vi-VN` → `vi`, `en-US` → `en`).
//! - text: headline, description and instruction, spoken by text-to-speech
//!   and shown on boards; an `audio/*` resource embedded as `derefUri` is
//!   played instead of speech. Resources by `uri` are never fetched.
//! - class: [`class_of`]; category: [`category_of`].
//! - validity: from `effective` (or now) until `expires` (or a default).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use hub_core::{AreaCode, AreaTree, Category, Language, PriorityClass, Validity};

use super::document::{self, Alert, Certainty, Info, Severity, Urgency};
use super::CapError;

/// The `geocode/valueName` naming the hub's area codes.
pub const GEOCODE_NAME: &str = "VN-GSO";
/// How long an emergency stays valid when the alert gives no `expires`.
pub const DEFAULT_EMERGENCY: TimeDelta = TimeDelta::hours(1);
/// How long a priority bulletin stays valid when the alert gives no `expires`.
pub const DEFAULT_PRIORITY: TimeDelta = TimeDelta::hours(24);
/// The longest an emergency stays valid, as for operators' emergencies.
pub const MAX_EMERGENCY: TimeDelta = TimeDelta::hours(24);
/// Longest bulletin title taken from a headline.
const MAX_TITLE_CHARS: usize = 120;

/// The bulletin an alert becomes, before its audio is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Broadcast {
    pub title: String,
    pub category: Category,
    pub class: PriorityClass,
    pub targets: Vec<AreaCode>,
    pub validity: Validity,
    pub variants: Vec<VariantPlan>,
    /// What was left out or adjusted, for the answer.
    pub notes: Vec<String>,
}

/// One language variant: its text (spoken unless `audio`, always shown).
#[derive(Clone, Debug, PartialEq)]
pub struct VariantPlan {
    pub language: Language,
    pub text: String,
    pub audio: Option<EmbeddedAudio>,
}

/// An audio file the alert carries itself.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddedAudio {
    /// The resource's path, for errors in decoding it.
    pub path: String,
    pub bytes: Vec<u8>,
    /// A file extension that helps recognise the format.
    pub hint: Option<&'static str>,
}

fn invalid(path: &str, message: impl Into<String>) -> CapError {
    CapError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Emergency (preempts at any hour) when the alert is severe, urgent and
/// not unlikely: severity Extreme or Severe, urgency Immediate or Expected,
/// certainty Observed, Likely or Possible. Anything else is a priority
/// bulletin at the sender's level, aired within the operating windows.
pub fn class_of(info: &Info) -> PriorityClass {
    let severe = matches!(info.severity, Severity::Extreme | Severity::Severe);
    let urgent = matches!(info.urgency, Urgency::Immediate | Urgency::Expected);
    let credible = matches!(
        info.certainty,
        Certainty::Observed | Certainty::Likely | Certainty::Possible
    );
    if severe && urgent && credible {
        PriorityClass::Emergency
    } else {
        PriorityClass::Priority
    }
}

/// The hub's category (Article 6) for CAP's categories: security and
/// military for `Security`; `Other` alone is other; every hazard category
/// is disaster prevention and emergencies.
pub fn category_of(categories: &[document::Category]) -> Category {
    use document::Category as Cap;
    if categories.contains(&Cap::Security) {
        Category::SecurityMilitary
    } else if categories.iter().all(|c| *c == Cap::Other) {
        Category::Other
    } else {
        Category::DisasterEmergency
    }
}

/// The hub's language for a CAP language tag: its primary subtag, lowercase.
pub fn language_of(path: &str, tag: &str) -> Result<Language, CapError> {
    let primary = tag.split('-').next().unwrap_or(tag).to_ascii_lowercase();
    Language::parse(&primary)
        .map_err(|e| invalid(path, format!("language {tag:?} has no hub language: {e}")))
}

/// Every area the alert names, in document order, once each.
pub fn targets(alert: &Alert, tree: &AreaTree) -> Result<Vec<AreaCode>, CapError> {
    let mut targets: Vec<AreaCode> = Vec::new();
    for info in &alert.infos {
        for area in &info.areas {
            let ours: Vec<_> = area
                .geocodes
                .iter()
                .filter(|g| g.value_name == GEOCODE_NAME)
                .collect();
            if ours.is_empty() {
                let shape = if area.polygons + area.circles > 0 {
                    "polygons and circles are not resolved to communes"
                } else {
                    "the hub knows areas only by geocode"
                };
                return Err(invalid(
                    &area.path,
                    format!(
                        "{shape}: name {:?} with a geocode whose valueName is {GEOCODE_NAME} \
                         and whose value is its administrative code",
                        area.description
                    ),
                ));
            }
            for geocode in ours {
                let code = AreaCode::parse(&geocode.value)
                    .ok()
                    .filter(|code| tree.get(code).is_some())
                    .ok_or_else(|| {
                        invalid(
                            &geocode.path,
                            format!("unknown area {:?}: no such area in this hub", geocode.value),
                        )
                    })?;
                if !targets.contains(&code) {
                    targets.push(code);
                }
            }
        }
    }
    if targets.is_empty() {
        return Err(invalid(
            "alert/info/area",
            "name at least one area to broadcast to",
        ));
    }
    Ok(targets)
}

/// The text of an info block: what is spoken and shown.
fn text_of(info: &Info) -> String {
    let parts: Vec<&str> = [&info.headline, &info.description, &info.instruction]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect();
    if parts.is_empty() {
        info.event.clone()
    } else {
        parts.join("\n")
    }
}

/// A file extension for an audio MIME type, to help the decoder.
fn audio_hint(mime: &str) -> Option<&'static str> {
    let essence = mime.split(';').next().unwrap_or(mime).trim();
    match essence.to_ascii_lowercase().as_str() {
        "audio/mpeg" | "audio/mp3" => Some("mp3"),
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Some("wav"),
        "audio/ogg" | "audio/opus" => Some("ogg"),
        "audio/flac" | "audio/x-flac" => Some("flac"),
        "audio/mp4" | "audio/aac" | "audio/x-m4a" => Some("m4a"),
        _ => None,
    }
}

/// The first audio resource of `info` the alert carries, decoded.
fn embedded_audio(info: &Info, notes: &mut Vec<String>) -> Result<Option<EmbeddedAudio>, CapError> {
    let mut chosen = None;
    for resource in &info.resources {
        let is_audio = resource
            .mime_type
            .to_ascii_lowercase()
            .starts_with("audio/");
        match (&resource.deref_uri, is_audio) {
            (Some(encoded), true) if chosen.is_none() => {
                let compact: String = encoded.split_whitespace().collect();
                let bytes = BASE64.decode(compact.as_bytes()).map_err(|e| {
                    invalid(
                        &format!("{}/derefUri", resource.path),
                        format!("not base64: {e}"),
                    )
                })?;
                if let Some(size) = resource.size.filter(|s| *s != bytes.len() as u64) {
                    return Err(invalid(
                        &format!("{}/size", resource.path),
                        format!("says {size} bytes; derefUri holds {}", bytes.len()),
                    ));
                }
                chosen = Some(EmbeddedAudio {
                    path: resource.path.clone(),
                    bytes,
                    hint: audio_hint(&resource.mime_type),
                });
            }
            (None, true) => notes.push(format!(
                "{}: not fetched (the hub fetches no URLs); the text is spoken instead",
                resource.path
            )),
            _ => notes.push(format!(
                "{}: {} is not aired",
                resource.path, resource.mime_type
            )),
        }
    }
    Ok(chosen)
}

/// The bulletin `alert` becomes at `now`: its areas must exist in `tree`.
pub fn broadcast(
    alert: &Alert,
    tree: &AreaTree,
    now: DateTime<Utc>,
) -> Result<Broadcast, CapError> {
    let Some(first) = alert.infos.first() else {
        return Err(invalid(
            "alert/info",
            format!(
                "an {} carries at least one info block to broadcast",
                alert.msg_type
            ),
        ));
    };
    let targets = targets(alert, tree)?;
    let mut notes = Vec::new();
    let mut variants: Vec<VariantPlan> = Vec::new();
    for info in &alert.infos {
        let path = format!("{}/language", info.path);
        let language = language_of(&path, &info.language)?;
        if variants.iter().any(|v| v.language == language) {
            return Err(invalid(
                &path,
                format!("a second info block in {language}: the hub airs one text per language"),
            ));
        }
        variants.push(VariantPlan {
            language,
            text: text_of(info),
            audio: embedded_audio(info, &mut notes)?,
        });
    }
    let class = alert
        .infos
        .iter()
        .map(class_of)
        .min()
        .unwrap_or(PriorityClass::Priority);

    let not_before = alert
        .infos
        .iter()
        .filter_map(|i| i.effective)
        .map(|t| t.with_timezone(&Utc))
        .min()
        .map_or(now, |effective| effective.max(now));
    let given = alert
        .infos
        .iter()
        .filter_map(|i| i.expires.map(|t| (i, t.with_timezone(&Utc))))
        .max_by_key(|(_, t)| *t);
    let mut expires = match given {
        Some((info, expires)) if expires <= not_before => {
            return Err(invalid(
                &format!("{}/expires", info.path),
                format!("the alert expired at {expires}; nothing is left to air"),
            ))
        }
        Some((_, expires)) => expires,
        None if class == PriorityClass::Emergency => not_before + DEFAULT_EMERGENCY,
        None => not_before + DEFAULT_PRIORITY,
    };
    if class == PriorityClass::Emergency && expires - not_before > MAX_EMERGENCY {
        expires = not_before + MAX_EMERGENCY;
        notes.push(format!(
            "an emergency stays valid at most {} hours: until {expires}",
            MAX_EMERGENCY.num_hours()
        ));
    }
    let headline = first.headline.as_deref().unwrap_or(&first.event);
    let title: String = headline.chars().take(MAX_TITLE_CHARS).collect();
    Ok(Broadcast {
        title,
        category: category_of(&first.categories),
        class,
        targets,
        validity: Validity {
            not_before,
            expires,
        },
        variants,
        notes,
    })
}

#[cfg(test)]
mod tests;

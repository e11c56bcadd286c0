//! A CAP 1.2 alert, validated as the OASIS schema (CAP-v1.2.xsd) and the
//! standard's text require: the namespace, every element in its sequence
//! and count, the enumerations, dateTimes with an explicit offset and no
//! fraction, identifiers without spaces, commas, `<` or `&`, references as
//! `sender,identifier,sent` triples, and the conditional rules (a
//! `Restricted` alert says its restriction, a `Private` one its addresses).
//! Every error names the element's path, such as `alert/info[1]/urgency`.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use super::xml::{self, Element, CAP_NS};
use super::CapError;

/// XML signatures may follow the last `info` (the schema's `any` from this namespace).
const XMLDSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

macro_rules! cap_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in the standard's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as CAP spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

cap_enum!(
    /// `alert/status`: only `Actual` is meant for the public.
    Status { Actual = "Actual", Exercise = "Exercise", System = "System", Test = "Test", Draft = "Draft" }
);
cap_enum!(
    /// `alert/msgType`.
    MsgType { Alert = "Alert", Update = "Update", Cancel = "Cancel", Ack = "Ack", Error = "Error" }
);
cap_enum!(
    /// `alert/scope`.
    Scope { Public = "Public", Restricted = "Restricted", Private = "Private" }
);
cap_enum!(
    /// `info/category`.
    Category {
        Geo = "Geo", Met = "Met", Safety = "Safety", Security = "Security", Rescue = "Rescue",
        Fire = "Fire", Health = "Health", Env = "Env", Transport = "Transport", Infra = "Infra",
        Cbrne = "CBRNE", Other = "Other",
    }
);
cap_enum!(
    /// `info/responseType`.
    ResponseType {
        Shelter = "Shelter", Evacuate = "Evacuate", Prepare = "Prepare", Execute = "Execute",
        Avoid = "Avoid", Monitor = "Monitor", Assess = "Assess", AllClear = "AllClear", None = "None",
    }
);
cap_enum!(
    /// `info/urgency`.
    Urgency { Immediate = "Immediate", Expected = "Expected", Future = "Future", Past = "Past", Unknown = "Unknown" }
);
cap_enum!(
    /// `info/severity`.
    Severity { Extreme = "Extreme", Severe = "Severe", Moderate = "Moderate", Minor = "Minor", Unknown = "Unknown" }
);
cap_enum!(
    /// `info/certainty`.
    Certainty { Observed = "Observed", Likely = "Likely", Possible = "Possible", Unlikely = "Unlikely", Unknown = "Unknown" }
);

/// `sender,identifier,sent`: how one CAP message names another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub sender: String,
    pub identifier: String,
    pub sent: DateTime<FixedOffset>,
}

/// One alert message.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub identifier: String,
    pub sender: String,
    pub sent: DateTime<FixedOffset>,
    pub status: Status,
    pub msg_type: MsgType,
    pub source: Option<String>,
    pub scope: Scope,
    pub restriction: Option<String>,
    pub addresses: Option<String>,
    pub codes: Vec<String>,
    pub note: Option<String>,
    pub references: Vec<Reference>,
    pub incidents: Option<String>,
    pub infos: Vec<Info>,
}

/// One `info` block: the alert in one language.
#[derive(Clone, Debug, PartialEq)]
pub struct Info {
    /// Where it is in the document (`alert/info[2]`), for errors found later.
    pub path: String,
    /// As given; CAP's default is `en-US`.
    pub language: String,
    pub categories: Vec<Category>,
    pub event: String,
    pub response_types: Vec<ResponseType>,
    pub urgency: Urgency,
    pub severity: Severity,
    pub certainty: Certainty,
    pub effective: Option<DateTime<FixedOffset>>,
    pub onset: Option<DateTime<FixedOffset>>,
    pub expires: Option<DateTime<FixedOffset>>,
    pub sender_name: Option<String>,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub resources: Vec<Resource>,
    pub areas: Vec<Area>,
}

/// A `resource`: a file that goes with the alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub path: String,
    pub description: String,
    pub mime_type: String,
    pub size: Option<u64>,
    pub uri: Option<String>,
    /// The file itself, base64 (still encoded).
    pub deref_uri: Option<String>,
}

/// An `area`: where the alert applies.
#[derive(Clone, Debug, PartialEq)]
pub struct Area {
    pub path: String,
    pub description: String,
    pub polygons: usize,
    pub circles: usize,
    pub geocodes: Vec<Geocode>,
}

/// A `geocode` of an area: a code in a named system.
#[derive(Clone, Debug, PartialEq)]
pub struct Geocode {
    /// The path of its `value`, where an unknown code is reported.
    pub path: String,
    pub value_name: String,
    pub value: String,
}

/// Parses and validates a CAP 1.2 document.
pub fn parse(bytes: &[u8]) -> Result<Alert, CapError> {
    let root = xml::parse(bytes)?;
    if root.name != "alert" || !root.in_cap() {
        return Err(invalid(
            &root.name,
            format!(
                "the root must be `alert` in the namespace {CAP_NS}; found `{}` in {}",
                root.name,
                root.namespace.as_deref().unwrap_or("no namespace")
            ),
        ));
    }
    alert(&root)
}

fn invalid(path: &str, message: impl Into<String>) -> CapError {
    CapError::Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// How often an element may appear in its parent's sequence.
#[derive(Clone, Copy)]
enum Occurs {
    One,
    Optional,
    AtLeastOne,
    Many,
}

impl Occurs {
    fn min(self) -> usize {
        matches!(self, Occurs::One | Occurs::AtLeastOne) as usize
    }
    fn repeats(self) -> bool {
        matches!(self, Occurs::AtLeastOne | Occurs::Many)
    }
}

use Occurs::{AtLeastOne, Many, One, Optional};

const ALERT: &[(&str, Occurs)] = &[
    ("identifier", One),
    ("sender", One),
    ("sent", One),
    ("status", One),
    ("msgType", One),
    ("source", Optional),
    ("scope", One),
    ("restriction", Optional),
    ("addresses", Optional),
    ("code", Many),
    ("note", Optional),
    ("references", Optional),
    ("incidents", Optional),
    ("info", Many),
];

const INFO: &[(&str, Occurs)] = &[
    ("language", Optional),
    ("category", AtLeastOne),
    ("event", One),
    ("responseType", Many),
    ("urgency", One),
    ("severity", One),
    ("certainty", One),
    ("audience", Optional),
    ("eventCode", Many),
    ("effective", Optional),
    ("onset", Optional),
    ("expires", Optional),
    ("senderName", Optional),
    ("headline", Optional),
    ("description", Optional),
    ("instruction", Optional),
    ("web", Optional),
    ("contact", Optional),
    ("parameter", Many),
    ("resource", Many),
    ("area", Many),
];

const VALUE_PAIR: &[(&str, Occurs)] = &[("valueName", One), ("value", One)];

const RESOURCE: &[(&str, Occurs)] = &[
    ("resourceDesc", One),
    ("mimeType", One),
    ("size", Optional),
    ("uri", Optional),
    ("derefUri", Optional),
    ("digest", Optional),
];

const AREA: &[(&str, Occurs)] = &[
    ("areaDesc", One),
    ("polygon", Many),
    ("circle", Many),
    ("geocode", Many),
    ("altitude", Optional),
    ("ceiling", Optional),
];

/// An element's children checked against its sequence, each with its path.
struct Children<'a> {
    path: String,
    found: Vec<(&'static str, String, &'a Element)>,
}

impl<'a> Children<'a> {
    /// Checks `parent`'s children (at `path`) against `sequence`.
    fn of(
        parent: &'a Element,
        path: &str,
        sequence: &[(&'static str, Occurs)],
        signature_allowed: bool,
    ) -> Result<Self, CapError> {
        let mut found = Vec::new();
        let mut counts = vec![0usize; sequence.len()];
        let mut cursor = 0;
        let mut signed = false;
        for child in &parent.children {
            let name = child.name.as_str();
            if !child.in_cap() {
                let ns = child.namespace.as_deref().unwrap_or("no namespace");
                if signature_allowed && ns == XMLDSIG_NS {
                    signed = true;
                    continue;
                }
                return Err(invalid(
                    &format!("{path}/{name}"),
                    format!("`{name}` in {ns} is not part of a CAP 1.2 alert"),
                ));
            }
            if signed {
                return Err(invalid(
                    &format!("{path}/{name}"),
                    "nothing but a signature may follow the signature",
                ));
            }
            if !child.children.is_empty() && !child.text.is_empty() {
                return Err(invalid(
                    &format!("{path}/{name}"),
                    "text beside child elements is not allowed",
                ));
            }
            let Some(offset) = sequence[cursor..].iter().position(|(n, _)| *n == name) else {
                let message = match sequence.iter().position(|(n, _)| *n == name) {
                    Some(_) => format!(
                        "`{name}` is out of order: it must come before `{}`",
                        sequence[cursor].0
                    ),
                    None => format!(
                        "`{name}` is not an element of `{}`",
                        path.rsplit('/').next().unwrap_or(path)
                    ),
                };
                return Err(invalid(&format!("{path}/{name}"), message));
            };
            cursor += offset;
            let (field, occurs) = sequence[cursor];
            counts[cursor] += 1;
            let child_path = if occurs.repeats() {
                format!("{path}/{field}[{}]", counts[cursor])
            } else {
                if counts[cursor] > 1 {
                    return Err(invalid(
                        &format!("{path}/{field}"),
                        format!("`{field}` may appear only once"),
                    ));
                }
                format!("{path}/{field}")
            };
            let is_leaf = !matches!(
                field,
                "info" | "resource" | "area" | "eventCode" | "parameter" | "geocode"
            );
            if is_leaf && !child.children.is_empty() {
                return Err(invalid(
                    &child_path,
                    format!("`{field}` holds text, not elements"),
                ));
            }
            found.push((field, child_path, child));
        }
        for ((field, occurs), count) in sequence.iter().zip(&counts) {
            if *count < occurs.min() {
                return Err(invalid(
                    &format!("{path}/{field}"),
                    format!("`{field}` is required"),
                ));
            }
        }
        Ok(Self {
            path: path.to_owned(),
            found,
        })
    }

    fn all(&self, field: &'static str) -> impl Iterator<Item = (&str, &'a Element)> + '_ {
        self.found
            .iter()
            .filter(move |(f, _, _)| *f == field)
            .map(|(_, path, element)| (path.as_str(), *element))
    }

    fn optional_text(&self, field: &'static str) -> Option<(&str, String)> {
        self.all(field)
            .next()
            .map(|(path, element)| (path, element.text.trim().to_owned()))
    }

    /// A required text element (presence checked in [`Self::of`]), not empty.
    fn text(&self, field: &'static str) -> Result<(&str, String), CapError> {
        let (path, text) = self.optional_text(field).ok_or_else(|| {
            invalid(
                &format!("{}/{field}", self.path),
                format!("`{field}` is required"),
            )
        })?;
        if text.is_empty() {
            return Err(invalid(path, format!("`{field}` must not be empty")));
        }
        Ok((path, text))
    }

    fn string(&self, field: &'static str) -> Option<String> {
        self.optional_text(field)
            .map(|(_, t)| t)
            .filter(|t| !t.is_empty())
    }

    fn enumerated<T: Copy>(
        &self,
        field: &'static str,
        parse: fn(&str) -> Option<T>,
        all: &[T],
        show: fn(T) -> &'static str,
    ) -> Result<T, CapError> {
        let (path, text) = self.text(field)?;
        enumerated_value(path, &text, parse, all, show)
    }

    fn date(&self, field: &'static str) -> Result<Option<DateTime<FixedOffset>>, CapError> {
        self.optional_text(field)
            .map(|(path, text)| date_time(path, &text))
            .transpose()
    }
}

fn enumerated_value<T: Copy>(
    path: &str,
    text: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
    show: fn(T) -> &'static str,
) -> Result<T, CapError> {
    parse(text).ok_or_else(|| {
        let allowed: Vec<&str> = all.iter().map(|v| show(*v)).collect();
        invalid(
            path,
            format!("{text:?} is not one of {}", allowed.join(", ")),
        )
    })
}

/// CAP's dateTime: `2026-11-23T10:00:00+07:00`, offset required (`-00:00`
/// for UTC; `Z` is not allowed), no fraction of a second.
fn date_time(path: &str, text: &str) -> Result<DateTime<FixedOffset>, CapError> {
    let shaped =
        text.len() == 25 && text.is_char_boundary(19) && matches!(text.as_bytes()[19], b'+' | b'-');
    let parsed = shaped
        .then(|| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%:z").ok())
        .flatten();
    parsed.ok_or_else(|| {
        invalid(
            path,
            format!(
                "{text:?} is not a CAP dateTime: write YYYY-MM-DDThh:mm:ss with an offset \
                 such as +07:00 (-00:00 for UTC; no Z, no fractions)"
            ),
        )
    })
}

/// Identifiers and senders: no whitespace, commas, `<` or `&`.
fn token(path: &str, text: &str) -> Result<String, CapError> {
    if let Some(bad) = text
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, ',' | '<' | '&'))
    {
        return Err(invalid(
            path,
            format!("{text:?} contains {bad:?}: spaces, commas, < and & are not allowed"),
        ));
    }
    Ok(text.to_owned())
}

/// `sender,identifier,sent` triples separated by whitespace.
fn references(path: &str, text: &str) -> Result<Vec<Reference>, CapError> {
    let mut references = Vec::new();
    for triple in text.split_whitespace() {
        let parts: Vec<&str> = triple.split(',').collect();
        let [sender, identifier, sent] = parts[..] else {
            return Err(invalid(
                path,
                format!("{triple:?} is not sender,identifier,sent"),
            ));
        };
        if sender.is_empty() || identifier.is_empty() {
            return Err(invalid(
                path,
                format!("{triple:?} is not sender,identifier,sent"),
            ));
        }
        references.push(Reference {
            sender: sender.to_owned(),
            identifier: identifier.to_owned(),
            sent: date_time(path, sent)?,
        });
    }
    if references.is_empty() {
        return Err(invalid(path, "`references` must not be empty"));
    }
    Ok(references)
}

/// An RFC 3066 language tag (`xs:language`).
fn language(path: &str, text: &str) -> Result<String, CapError> {
    let valid = text.split('-').enumerate().all(|(i, part)| {
        (1..=8).contains(&part.len())
            && if i == 0 {
                part.chars().all(|c| c.is_ascii_alphabetic())
            } else {
                part.chars().all(|c| c.is_ascii_alphanumeric())
            }
    });
    if valid {
        Ok(text.to_owned())
    } else {
        Err(invalid(
            path,
            format!("{text:?} is not a language tag such as vi-VN"),
        ))
    }
}

fn alert(root: &Element) -> Result<Alert, CapError> {
    let c = Children::of(root, "alert", ALERT, true)?;
    let (path, identifier) = c.text("identifier")?;
    let identifier = token(path, &identifier)?;
    let (path, sender) = c.text("sender")?;
    let sender = token(path, &sender)?;
    let (path, sent) = c.text("sent")?;
    let sent = date_time(path, &sent)?;
    let status = c.enumerated("status", Status::parse, Status::ALL, Status::as_str)?;
    let msg_type = c.enumerated("msgType", MsgType::parse, MsgType::ALL, MsgType::as_str)?;
    let scope = c.enumerated("scope", Scope::parse, Scope::ALL, Scope::as_str)?;
    let restriction = c.string("restriction");
    let addresses = c.string("addresses");
    if scope == Scope::Restricted && restriction.is_none() {
        return Err(invalid(
            "alert/restriction",
            "a Restricted alert must say its restriction",
        ));
    }
    if scope == Scope::Private && addresses.is_none() {
        return Err(invalid(
            "alert/addresses",
            "a Private alert must name its addresses",
        ));
    }
    let references = match c.optional_text("references") {
        Some((path, text)) => references(path, &text)?,
        None => Vec::new(),
    };
    let infos = c
        .all("info")
        .map(|(path, element)| info(path, element))
        .collect::<Result<_, _>>()?;
    Ok(Alert {
        identifier,
        sender,
        sent,
        status,
        msg_type,
        source: c.string("source"),
        scope,
        restriction,
        addresses,
        codes: c
            .all("code")
            .map(|(_, e)| e.text.trim().to_owned())
            .collect(),
        note: c.string("note"),
        references,
        incidents: c.string("incidents"),
        infos,
    })
}

fn info(path: &str, element: &Element) -> Result<Info, CapError> {
    let c = Children::of(element, path, INFO, false)?;
    let language = match c.optional_text("language") {
        Some((path, text)) => language(path, &text)?,
        None => "en-US".to_owned(),
    };
    let categories = c
        .all("category")
        .map(|(path, e)| {
            enumerated_value(
                path,
                e.text.trim(),
                Category::parse,
                Category::ALL,
                Category::as_str,
            )
        })
        .collect::<Result<_, _>>()?;
    let response_types = c
        .all("responseType")
        .map(|(path, e)| {
            enumerated_value(
                path,
                e.text.trim(),
                ResponseType::parse,
                ResponseType::ALL,
                ResponseType::as_str,
            )
        })
        .collect::<Result<_, _>>()?;
    for field in ["eventCode", "parameter"] {
        for (pair_path, pair) in c.all(field) {
            Children::of(pair, pair_path, VALUE_PAIR, false)?;
        }
    }
    let resources = c
        .all("resource")
        .map(|(path, e)| resource(path, e))
        .collect::<Result<_, _>>()?;
    let areas = c
        .all("area")
        .map(|(path, e)| area(path, e))
        .collect::<Result<_, _>>()?;
    Ok(Info {
        path: path.to_owned(),
        language,
        categories,
        event: c.text("event")?.1,
        response_types,
        urgency: c.enumerated("urgency", Urgency::parse, Urgency::ALL, Urgency::as_str)?,
        severity: c.enumerated("severity", Severity::parse, Severity::ALL, Severity::as_str)?,
        certainty: c.enumerated(
            "certainty",
            Certainty::parse,
            Certainty::ALL,
            Certainty::as_str,
        )?,
        effective: c.date("effective")?,
        onset: c.date("onset")?,
        expires: c.date("expires")?,
        sender_name: c.string("senderName"),
        headline: c.string("headline"),
        description: c.string("description"),
        instruction: c.string("instruction"),
        resources,
        areas,
    })
}

fn resource(path: &str, element: &Element) -> Result<Resource, CapError> {
    let c = Children::of(element, path, RESOURCE, false)?;
    let size = match c.optional_text("size") {
        Some((path, text)) => Some(
            text.parse::<u64>()
                .map_err(|_| invalid(path, format!("{text:?} is not a size in bytes")))?,
        ),
        None => None,
    };
    Ok(Resource {
        path: path.to_owned(),
        description: c.text("resourceDesc")?.1,
        mime_type: c.text("mimeType")?.1,
        size,
        uri: c.string("uri"),
        deref_uri: c.string("derefUri"),
    })
}

fn area(path: &str, element: &Element) -> Result<Area, CapError> {
    let c = Children::of(element, path, AREA, false)?;
    let mut geocodes = Vec::new();
    for (geocode_path, geocode) in c.all("geocode") {
        let pair = Children::of(geocode, geocode_path, VALUE_PAIR, false)?;
        let (_, value_name) = pair.text("valueName")?;
        let (value_path, value) = pair.text("value")?;
        geocodes.push(Geocode {
            path: value_path.to_owned(),
            value_name,
            value,
        });
    }
    Ok(Area {
        path: path.to_owned(),
        description: c.text("areaDesc")?.1,
        polygons: c.all("polygon").count(),
        circles: c.all("circle").count(),
        geocodes,
    })
}

#[cfg(test)]
mod tests;

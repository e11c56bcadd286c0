use hub_core::testkit::{code, lang, local, tree_three_tier};

use super::*;
use crate::cap::document::parse;
use crate::cap::examples::{fill, EARTHQUAKE, HOMELAND, THUNDERSTORM};

fn alert(template: &str, overrides: &[(&str, &str)]) -> Alert {
    parse(fill(template, overrides).as_bytes()).expect("a valid alert")
}

fn now() -> DateTime<Utc> {
    local("2026-11-23 10:00")
}

fn refusal(alert: &Alert) -> CapError {
    broadcast(alert, &tree_three_tier(), now()).expect_err("the alert is refused")
}

#[test]
fn a_severe_thunderstorm_is_an_emergency_in_two_languages() {
    let storm = broadcast(
        &alert(THUNDERSTORM, &[("area", "660")]),
        &tree_three_tier(),
        now(),
    )
    .unwrap();
    assert_eq!(storm.class, PriorityClass::Emergency);
    assert_eq!(storm.category, Category::DisasterEmergency);
    assert_eq!(storm.targets, [code("660")]);
    assert_eq!(storm.title, "CẢNH BÁO DÔNG MẠNH");
    let languages: Vec<_> = storm.variants.iter().map(|v| v.language.clone()).collect();
    assert_eq!(languages, [lang("vi"), lang("en")]);
    assert!(storm.variants[0]
        .text
        .starts_with("CẢNH BÁO DÔNG MẠNH\nRadar"));
    assert!(storm.variants[0]
        .text
        .ends_with("CHO ĐẾN KHI CƠN DÔNG QUA."));
    assert!(storm.variants.iter().all(|v| v.audio.is_none()));
    assert_eq!(storm.validity.not_before, now());
    assert_eq!(storm.validity.expires, local("2026-11-23 12:00"));
}

#[test]
fn severity_urgency_and_certainty_decide_the_class() {
    let quake = broadcast(&alert(EARTHQUAKE, &[]), &tree_three_tier(), now()).unwrap();
    assert_eq!(quake.class, PriorityClass::Priority, "past and minor");
    let homeland = broadcast(
        &alert(HOMELAND, &[("area", "67")]),
        &tree_three_tier(),
        now(),
    )
    .unwrap();
    assert_eq!(homeland.class, PriorityClass::Emergency);
    assert_eq!(homeland.category, Category::SecurityMilitary);
    assert_eq!(
        homeland.notes,
        ["alert/info[1]/resource[1]: image/gif is not aired"]
    );

    let mut info = alert(THUNDERSTORM, &[]).infos.remove(0);
    let mut class = |severity, urgency, certainty| {
        info.severity = severity;
        info.urgency = urgency;
        info.certainty = certainty;
        class_of(&info)
    };
    use PriorityClass::{Emergency, Priority};
    assert_eq!(
        class(Severity::Extreme, Urgency::Expected, Certainty::Possible),
        Emergency
    );
    assert_eq!(
        class(Severity::Moderate, Urgency::Immediate, Certainty::Observed),
        Priority
    );
    assert_eq!(
        class(Severity::Severe, Urgency::Future, Certainty::Observed),
        Priority
    );
    assert_eq!(
        class(Severity::Extreme, Urgency::Immediate, Certainty::Unlikely),
        Priority
    );
    assert_eq!(
        class(Severity::Unknown, Urgency::Unknown, Certainty::Unknown),
        Priority
    );
}

#[test]
fn areas_are_geocodes_of_known_areas_only() {
    let err = refusal(&alert(HOMELAND, &[("area", "99999")]));
    assert_eq!(err.path(), "alert/info[1]/area[1]/geocode[1]/value");
    assert!(err.message().contains("unknown area \"99999\""), "{err}");

    // The OASIS thunderstorm names its area by polygon and SAME code only.
    let polygon_only = fill(THUNDERSTORM, &[]).replacen(
        "<valueName>VN-GSO</valueName>",
        "<valueName>FIPS6</valueName>",
        1,
    );
    let err = refusal(&parse(polygon_only.as_bytes()).unwrap());
    assert_eq!(err.path(), "alert/info[1]/area[1]");
    assert!(err.message().contains("polygons and circles"), "{err}");
    assert!(err.message().contains("VN-GSO"), "{err}");

    let no_areas = fill(EARTHQUAKE, &[]);
    let start = no_areas.find("<area>").unwrap();
    let end = no_areas.find("</area>").unwrap() + "</area>".len();
    let no_areas = format!("{}{}", &no_areas[..start], &no_areas[end..]);
    let err = refusal(&parse(no_areas.as_bytes()).unwrap());
    assert!(err.message().contains("at least one area"), "{err}");
}

#[test]
fn one_text_per_language_and_languages_the_hub_can_name() {
    let twice =
        fill(THUNDERSTORM, &[]).replace("<language>en-US</language>", "<language>vi</language>");
    let err = refusal(&parse(twice.as_bytes()).unwrap());
    assert_eq!(err.path(), "alert/info[2]/language");
    // Without a language, CAP means en-US.
    let unstated = fill(EARTHQUAKE, &[]).replace("<language>vi-VN</language>", "");
    let quake = broadcast(
        &parse(unstated.as_bytes()).unwrap(),
        &tree_three_tier(),
        now(),
    )
    .unwrap();
    assert_eq!(quake.variants[0].language, lang("en"));
    assert_eq!(language_of("x", "EDE").unwrap(), lang("ede"));
    assert!(language_of("x", "x1-abc").is_err());
}

#[test]
fn validity_follows_effective_and_expires_with_defaults_and_limits() {
    let expired = refusal(&alert(
        EARTHQUAKE,
        &[("expires", "2026-11-23T09:59:59+07:00")],
    ));
    assert_eq!(expired.path(), "alert/info[1]/expires");

    let later = fill(EARTHQUAKE, &[]).replace(
        "<expires>",
        "<effective>2026-11-23T11:00:00+07:00</effective>\n    <expires>",
    );
    let quake = broadcast(&parse(later.as_bytes()).unwrap(), &tree_three_tier(), now()).unwrap();
    assert_eq!(quake.validity.not_before, local("2026-11-23 11:00"));

    let open_ended =
        fill(EARTHQUAKE, &[]).replace("<expires>2026-11-23T12:00:00+07:00</expires>", "");
    let quake = broadcast(
        &parse(open_ended.as_bytes()).unwrap(),
        &tree_three_tier(),
        now(),
    )
    .unwrap();
    assert_eq!(quake.validity.expires, now() + DEFAULT_PRIORITY);

    let week = alert(THUNDERSTORM, &[("expires", "2026-11-30T10:00:00+07:00")]);
    let storm = broadcast(&week, &tree_three_tier(), now()).unwrap();
    assert_eq!(storm.validity.expires, now() + MAX_EMERGENCY);
    assert!(
        storm.notes[0].contains("at most 24 hours"),
        "{:?}",
        storm.notes
    );
}

#[test]
fn embedded_audio_is_decoded_and_uri_audio_is_never_fetched() {
    let bytes = b"RIFF....WAVEfmt ";
    let encoded = BASE64.encode(bytes);
    let wrapped = format!("{}\n      {}", &encoded[..8], &encoded[8..]);
    let resource = |inner: &str| {
        fill(EARTHQUAKE, &[]).replace(
            "<area>",
            &format!(
                "<resource><resourceDesc>Bản tin</resourceDesc>{inner}</resource>\n    <area>"
            ),
        )
    };
    let embedded = resource(&format!(
        "<mimeType>audio/x-wav</mimeType><size>{}</size><derefUri>{wrapped}</derefUri>",
        bytes.len()
    ));
    let quake = broadcast(
        &parse(embedded.as_bytes()).unwrap(),
        &tree_three_tier(),
        now(),
    )
    .unwrap();
    let audio = quake.variants[0]
        .audio
        .as_ref()
        .expect("the audio is embedded");
    assert_eq!(audio.bytes, bytes);
    assert_eq!(audio.hint, Some("wav"));
    assert_eq!(audio.path, "alert/info[1]/resource[1]");

    let wrong_size = resource(&format!(
        "<mimeType>audio/mpeg</mimeType><size>3</size><derefUri>{encoded}</derefUri>"
    ));
    let err = refusal(&parse(wrong_size.as_bytes()).unwrap());
    assert_eq!(err.path(), "alert/info[1]/resource[1]/size");

    let not_base64 = resource("<mimeType>audio/mpeg</mimeType><derefUri>@@@</derefUri>");
    let err = refusal(&parse(not_base64.as_bytes()).unwrap());
    assert_eq!(err.path(), "alert/info[1]/resource[1]/derefUri");

    let by_uri = resource("<mimeType>audio/mpeg</mimeType><uri>http://example.org/a.mp3</uri>");
    let quake = broadcast(
        &parse(by_uri.as_bytes()).unwrap(),
        &tree_three_tier(),
        now(),
    )
    .unwrap();
    assert!(quake.variants[0].audio.is_none());
    assert!(quake.notes[0].contains("not fetched"), "{:?}", quake.notes);
}

#[test]
fn an_alert_without_info_has_nothing_to_broadcast() {
    let bare = fill(EARTHQUAKE, &[]);
    let start = bare.find("<info>").unwrap();
    let end = bare.find("</info>").unwrap() + "</info>".len();
    let bare = format!("{}{}", &bare[..start], &bare[end..]);
    let err = refusal(&parse(bare.as_bytes()).unwrap());
    assert_eq!(err.path(), "alert/info");
}

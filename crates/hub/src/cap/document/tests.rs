use super::*;
use crate::cap::examples::{fill, EARTHQUAKE, HOMELAND, THUNDERSTORM};

fn error_of(xml: &str) -> CapError {
    parse(xml.as_bytes()).expect_err("the document is refused")
}

fn path_of(xml: &str) -> String {
    error_of(xml).path().to_owned()
}

/// The thunderstorm example with `from` replaced by `to` (which must occur).
fn storm_with(from: &str, to: &str) -> String {
    let xml = fill(THUNDERSTORM, &[]);
    assert!(xml.contains(from), "{from} is in the example");
    xml.replacen(from, to, 1)
}

#[test]
fn the_oasis_examples_parse_with_every_field() {
    let alert = parse(fill(HOMELAND, &[]).as_bytes()).unwrap();
    assert_eq!(alert.identifier, "A-1");
    assert_eq!(alert.sender, "trungtam@canhbao.gov.vn");
    assert_eq!(alert.sent.to_rfc3339(), "2026-11-23T10:00:00+07:00");
    assert_eq!(
        (alert.status, alert.msg_type, alert.scope),
        (Status::Actual, MsgType::Alert, Scope::Public)
    );
    let info = &alert.infos[0];
    assert_eq!(info.path, "alert/info[1]");
    assert_eq!(info.categories, [Category::Security]);
    assert_eq!(
        (info.urgency, info.severity, info.certainty),
        (Urgency::Immediate, Severity::Severe, Certainty::Likely)
    );
    assert_eq!(
        info.resources[0].uri.as_deref(),
        Some("http://canhbao.gov.vn/anh-canh-bao.gif")
    );
    assert_eq!(info.areas[0].geocodes[0].value, "24611");
    assert_eq!(
        info.areas[0].geocodes[0].path,
        "alert/info[1]/area[1]/geocode[1]/value"
    );

    let storm = parse(fill(THUNDERSTORM, &[]).as_bytes()).unwrap();
    assert_eq!(storm.infos.len(), 2);
    assert_eq!(storm.infos[1].language, "en-US");
    assert_eq!(storm.infos[0].response_types, [ResponseType::Shelter]);
    assert_eq!(storm.infos[0].areas[0].polygons, 1);
    assert_eq!(storm.infos[0].areas[0].geocodes.len(), 2);

    let reference = "<references>dongdat@igp.vast.vn,A-0,2026-11-23T09:30:00+07:00 \
        other@x,B,2026-11-23T02:00:00-00:00</references>";
    let quake = parse(
        fill(
            EARTHQUAKE,
            &[("msgType", "Update"), ("references", reference)],
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(quake.msg_type, MsgType::Update);
    assert_eq!(quake.references.len(), 2);
    assert_eq!(quake.references[0].identifier, "A-0");
    assert_eq!(
        quake.references[1].sent.to_rfc3339(),
        "2026-11-23T02:00:00+00:00"
    );
    assert_eq!(quake.infos[0].areas[0].circles, 1);
}

#[test]
fn a_prefixed_namespace_and_a_trailing_signature_are_accepted() {
    let xml = r#"<cap:alert xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">
        <cap:identifier>X</cap:identifier><cap:sender>s</cap:sender>
        <cap:sent>2026-11-23T10:00:00-00:00</cap:sent><cap:status>Test</cap:status>
        <cap:msgType>Ack</cap:msgType><cap:scope>Public</cap:scope>
        <Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo/></Signature>
        </cap:alert>"#;
    let alert = parse(xml.as_bytes()).unwrap();
    assert_eq!(alert.status, Status::Test);
    assert!(alert.infos.is_empty());
}

#[test]
fn the_wrong_namespace_or_root_is_refused() {
    let cap11 = fill(HOMELAND, &[]).replace("cap:1.2", "cap:1.1");
    let err = error_of(&cap11);
    assert_eq!(err.path(), "alert");
    assert!(
        err.message()
            .contains("urn:oasis:names:tc:emergency:cap:1.2"),
        "{err}"
    );
    assert_eq!(
        path_of("<feed xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"/>"),
        "feed"
    );
}

#[test]
fn missing_required_elements_are_named_by_path() {
    let cases = [
        ("<identifier>A-1</identifier>", "", "alert/identifier"),
        ("<scope>Public</scope>", "", "alert/scope"),
        ("<category>Met</category>", "", "alert/info[1]/category"),
        ("<urgency>Immediate</urgency>", "", "alert/info[1]/urgency"),
        (
            "<certainty>Observed</certainty>",
            "",
            "alert/info[1]/certainty",
        ),
        ("<event>DÔNG MẠNH</event>", "", "alert/info[1]/event"),
        (
            "<areaDesc>KHU VỰC CÓ DÔNG</areaDesc>",
            "",
            "alert/info[1]/area[1]/areaDesc",
        ),
        (
            "<valueName>SAME</valueName>\n      <value>SVR</value>",
            "<valueName>SAME</valueName>",
            "alert/info[1]/eventCode[1]/value",
        ),
    ];
    for (from, to, path) in cases {
        let err = error_of(&storm_with(from, to));
        assert_eq!(err.path(), path, "{err}");
        assert!(err.message().contains("required"), "{err}");
    }
    // Only the second info block has its certainty right before expires.
    let second_info = storm_with(
        "<severity>Severe</severity>\n    <certainty>Observed</certainty>\n    <expires>",
        "<certainty>Observed</certainty>\n    <expires>",
    );
    assert_eq!(path_of(&second_info), "alert/info[2]/severity");
}

#[test]
fn enumerations_dates_and_identifiers_are_checked() {
    let cases = [
        (
            "<urgency>Immediate</urgency>",
            "<urgency>Now</urgency>",
            "alert/info[1]/urgency",
            "Immediate, Expected",
        ),
        (
            "<status>Actual</status>",
            "<status>actual</status>",
            "alert/status",
            "Actual, Exercise",
        ),
        (
            "<msgType>Alert</msgType>",
            "<msgType>Notice</msgType>",
            "alert/msgType",
            "Update",
        ),
        (
            "<category>Met</category>",
            "<category>Weather</category>",
            "alert/info[1]/category[1]",
            "CBRNE",
        ),
        (
            "<sent>2026-11-23T10:00:00+07:00</sent>",
            "<sent>2026-11-23T03:00:00Z</sent>",
            "alert/sent",
            "no Z",
        ),
        (
            "<sent>2026-11-23T10:00:00+07:00</sent>",
            "<sent>2026-11-23T10:00:00.5+07:00</sent>",
            "alert/sent",
            "dateTime",
        ),
        (
            "<sent>2026-11-23T10:00:00+07:00</sent>",
            "<sent>2026-11-23</sent>",
            "alert/sent",
            "dateTime",
        ),
        (
            "<identifier>A-1</identifier>",
            "<identifier>A 1</identifier>",
            "alert/identifier",
            "spaces",
        ),
        (
            "<identifier>A-1</identifier>",
            "<identifier>A,1</identifier>",
            "alert/identifier",
            "commas",
        ),
        (
            "<identifier>A-1</identifier>",
            "<identifier>A&amp;1</identifier>",
            "alert/identifier",
            "&",
        ),
        (
            "<sender>KTTV@KTTV.GOV.VN</sender>",
            "<sender>KTTV &lt;x&gt;</sender>",
            "alert/sender",
            "not allowed",
        ),
        (
            "<language>vi-VN</language>",
            "<language>vi_VN</language>",
            "alert/info[1]/language",
            "language tag",
        ),
        (
            "<scope>Public</scope>",
            "<scope>Restricted</scope>",
            "alert/restriction",
            "restriction",
        ),
        (
            "<scope>Public</scope>",
            "<scope>Private</scope>",
            "alert/addresses",
            "addresses",
        ),
    ];
    for (from, to, path, says) in cases {
        let err = error_of(&storm_with(from, to));
        assert_eq!(err.path(), path, "{from} → {to}: {err}");
        assert!(err.message().contains(says), "{from} → {to}: {err}");
    }
    let expires = storm_with(
        "<expires>2026-11-23T12:00:00+07:00</expires>",
        "<expires>tomorrow</expires>",
    );
    assert_eq!(path_of(&expires), "alert/info[1]/expires");
}

#[test]
fn references_must_be_sender_identifier_sent_triples() {
    for bad in [
        "s,i",
        "s,i,2026-11-23T10:00:00+07:00,x",
        ",i,2026-11-23T10:00:00+07:00",
        "s,i,yesterday",
    ] {
        let xml = fill(
            EARTHQUAKE,
            &[("references", &format!("<references>{bad}</references>"))],
        );
        let err = error_of(&xml);
        assert_eq!(err.path(), "alert/references", "{bad}: {err}");
    }
}

#[test]
fn order_counts_unknown_elements_and_stray_content_are_refused() {
    let out_of_order = storm_with(
        "<status>Actual</status>\n  <msgType>Alert</msgType>",
        "<msgType>Alert</msgType>\n  <status>Actual</status>",
    );
    let err = error_of(&out_of_order);
    assert_eq!(err.path(), "alert/status");
    assert!(err.message().contains("out of order"), "{err}");

    let twice = storm_with(
        "<event>DÔNG MẠNH</event>",
        "<event>A</event><event>B</event>",
    );
    assert_eq!(path_of(&twice), "alert/info[1]/event");

    let unknown = storm_with("<contact>", "<colour>red</colour><contact>");
    let err = error_of(&unknown);
    assert_eq!(err.path(), "alert/info[1]/colour");
    assert!(
        err.message().contains("not an element of `info[1]`"),
        "{err}"
    );

    let foreign = storm_with(
        "<contact>",
        "<x:contact xmlns:x=\"urn:x\">y</x:contact><contact>",
    );
    assert_eq!(path_of(&foreign), "alert/info[1]/contact");

    let nested = storm_with("<event>DÔNG MẠNH</event>", "<event><b>DÔNG</b></event>");
    assert_eq!(path_of(&nested), "alert/info[1]/event");

    let empty = storm_with("<event>DÔNG MẠNH</event>", "<event> </event>");
    let err = error_of(&empty);
    assert_eq!(err.path(), "alert/info[1]/event");
    assert!(err.message().contains("empty"), "{err}");

    let size = fill(HOMELAND, &[]).replace(
        "<mimeType>image/gif</mimeType>",
        "<mimeType>image/gif</mimeType><size>-3</size>",
    );
    assert_eq!(path_of(&size), "alert/info[1]/resource[1]/size");

    let second_area = storm_with(
        "</area>\n  </info>\n  <info>",
        "</area><area><polygon>1,1 2,2 1,1</polygon></area>\n  </info>\n  <info>",
    );
    assert_eq!(path_of(&second_area), "alert/info[1]/area[2]/areaDesc");
}

#[test]
fn broken_xml_is_malformed_not_invalid() {
    let err = error_of(&storm_with("</headline>", "</headlin>"));
    assert!(matches!(err, CapError::Malformed { .. }), "{err}");
    assert_eq!(err.path(), "alert/info/headline");
}

//! Board snapshots are legible: Tesseract, a real OCR engine, reads them back
//! with its Vietnamese model, diacritics included. Needs `tesseract-ocr` and
//! `tesseract-ocr-vie` (Debian packages; `.ci/run` installs them).

use std::process::Command;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use firmware_sim::board::{render, text_layout, Resolution, BACKGROUND};
use firmware_sim::Player;
use hub_proto::{Class, Directive, Part, PlanEntry};
use image::RgbaImage;

fn at() -> DateTime<Utc> {
    "2026-11-23T10:40:05Z".parse().unwrap()
}

/// What Tesseract reads on `image`, saved as a PNG, with runs of whitespace
/// made one space.
pub(crate) fn ocr(image: &RgbaImage) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("board.png");
    image.save(&path).unwrap();
    let output = Command::new("tesseract")
        .arg(&path)
        .arg("stdout")
        .args(["-l", "vie", "--psm", "6"])
        .output()
        .expect("tesseract runs (apt-get install tesseract-ocr tesseract-ocr-vie)");
    assert!(
        output.status.success(),
        "tesseract failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("tesseract prints UTF-8");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn assert_reads(read: &str, phrases: &[&str]) {
    for phrase in phrases {
        assert!(read.contains(phrase), "{phrase:?} not read in {read:?}");
    }
}

#[test]
fn a_displayed_warning_reads_back_with_its_diacritics() {
    let mut player = Player::new();
    let display = Directive::Display {
        text: "Cảnh báo lũ quét: sơ tán ngay khỏi bờ suối".into(),
        until: at() + TimeDelta::minutes(10),
    };
    player.apply(display, at());
    let image = render(
        player.showing(at()).as_ref(),
        None,
        at(),
        Resolution::default(),
    );
    assert_eq!(image.dimensions(), (384, 192));
    let read = ocr(&image);
    assert_reads(
        &read,
        &[
            "Cảnh báo lũ quét",
            "sơ tán ngay",
            "khỏi bờ suối",
            "17:40:05",
        ],
    );
}

#[test]
fn the_entry_airing_now_reads_back_with_its_bulletin() {
    let entry = PlanEntry {
        bulletin: "tiem-chung".into(),
        occurrence: 0,
        language: "vi".into(),
        class: Class::Priority,
        part: Part::Visual,
        start: at() - TimeDelta::minutes(1),
        end: at() + TimeDelta::minutes(1),
        preempted: false,
        media: None,
        subtitles: None,
        text: Some("Tiêm chủng mở rộng: thứ Bảy tại trạm y tế xã".into()),
    };
    let mut player = Player::new();
    let schedule = Directive::Schedule {
        date: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
        entries: vec![entry],
    };
    player.apply(schedule, at());
    let image = render(
        player.showing(at()).as_ref(),
        None,
        at(),
        Resolution::default(),
    );
    let read = ocr(&image);
    assert_reads(
        &read,
        &["Tiêm chủng mở rộng", "thứ Bảy", "trạm y tế", "tiem-chung"],
    );
}

#[test]
fn a_long_text_wraps_inside_the_board_every_word_kept() {
    let text = "Cảnh báo lũ quét: các hộ dân ven suối Đắk Nông sơ tán ngay lên vùng cao, \
                mang theo giấy tờ và thuốc men, không quay lại cho đến khi có thông báo mới. \
                Ủy ban nhân dân xã Đắk Mol thông báo lịch tiêm chủng mở rộng cho trẻ em \
                dưới 5 tuổi vào sáng thứ Bảy.";
    let resolution = Resolution::default();
    let layout = text_layout(text, resolution);
    assert!(layout.lines.len() >= 5, "{layout:?}");
    let laid_out: Vec<&str> = layout
        .lines
        .iter()
        .flat_map(|l| l.split_whitespace())
        .collect();
    assert_eq!(laid_out, text.split_whitespace().collect::<Vec<_>>());

    let showing = firmware_sim::Showing {
        text: Some(text.into()),
        bulletin: None,
        media: None,
        subtitles: None,
        since: None,
        subtitle: None,
        video: None,
    };
    let image = render(Some(&showing), None, at(), resolution);
    let margin = 8;
    let (width, height) = image.dimensions();
    let in_margins = image
        .enumerate_pixels()
        .filter(|(x, y, _)| *x < margin || *x >= width - margin || *y < margin)
        .filter(|(_, _, pixel)| **pixel != BACKGROUND)
        .count();
    assert_eq!(
        in_margins, 0,
        "text drawn into the margins (or off the board)"
    );
    let bottom_of_text = image
        .enumerate_pixels()
        .filter(|(_, y, pixel)| *y < height - 19 && **pixel != BACKGROUND)
        .map(|(_, y, _)| y)
        .max();
    assert!(bottom_of_text.is_some_and(|y| y < height - 19 - margin / 2));
    let read = ocr(&image);
    assert_reads(
        &read,
        &[
            "Cảnh báo lũ quét",
            "Đắk Nông",
            "giấy tờ",
            "thông báo mới",
            "tiêm chủng",
            "dưới 5 tuổi",
        ],
    );
}

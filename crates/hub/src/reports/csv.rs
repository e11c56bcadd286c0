//! The report as CSV (RFC 4180): one figure a row, so a spreadsheet can
//! filter and pivot it. Columns: `period, area, area_name, level, figure,
//! key, value`. Keys: the level, category, class or language of a
//! breakdown, a failure reason, a device, a bulletin, a date.

use std::fmt::Write as _;

use super::figures::{AreaFigures, Tally};
use super::Report;

/// The header row.
pub const HEADER: &str = "period,area,area_name,level,figure,key,value";

impl Report {
    /// The report as CSV text, header first, CRLF line ends.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        out.push_str(HEADER);
        out.push_str("\r\n");
        for area in &self.figures.areas {
            let mut row = |figure: &str, key: &str, value: String| {
                let fields = [
                    self.period.label.as_str(),
                    &area.area,
                    &area.name,
                    &area.level,
                    figure,
                    key,
                    &value,
                ];
                let line: Vec<String> = fields.iter().map(|f| field(f)).collect();
                let _ = write!(out, "{}\r\n", line.join(","));
            };
            area_rows(area, &mut row);
        }
        for line in &self.figures.uptime {
            let level = self
                .figures
                .areas
                .iter()
                .find(|a| a.area == line.area)
                .map_or("", |a| a.level.as_str());
            for point in &line.points {
                let fields = [
                    self.period.label.clone(),
                    line.area.clone(),
                    line.name.clone(),
                    level.to_owned(),
                    "uptime_day_percent".to_owned(),
                    point.date.to_string(),
                    point.percent.to_string(),
                ];
                let line: Vec<String> = fields.iter().map(|f| field(f)).collect();
                let _ = write!(out, "{}\r\n", line.join(","));
            }
        }
        out
    }
}

/// Every row of one area, through `row(figure, key, value)`.
fn area_rows(area: &AreaFigures, row: &mut dyn FnMut(&str, &str, String)) {
    row("devices", "", area.devices.to_string());
    row("airings_started", "", area.airings.started.to_string());
    row("airings_finished", "", area.airings.finished.to_string());
    let breakdowns = [
        ("level", &area.by_level),
        ("category", &area.by_category),
        ("class", &area.by_class),
        ("language", &area.by_language),
    ];
    for (by, tallies) in breakdowns {
        for (key, Tally { started, finished }) in tallies {
            row(&format!("started_by_{by}"), key, started.to_string());
            row(&format!("finished_by_{by}"), key, finished.to_string());
        }
    }
    row("broadcast_minutes", "", area.broadcast_minutes.to_string());
    row(
        "uptime_percent",
        "",
        area.uptime_percent
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    row("never_seen_devices", "", area.never_seen.len().to_string());
    for device in &area.never_seen {
        row("never_seen", device, "1".to_owned());
    }
    for (reason, count) in &area.failures {
        row("failures", reason, count.to_string());
    }
    for em in &area.emergencies {
        let optional = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        row("emergency_devices", &em.bulletin, em.devices.to_string());
        row("emergency_started", &em.bulletin, em.started.to_string());
        row(
            "emergency_latency_p50_secs",
            &em.bulletin,
            optional(em.latency_p50_secs),
        );
        row(
            "emergency_latency_max_secs",
            &em.bulletin,
            optional(em.latency_max_secs),
        );
        for device in &em.never_started {
            row(
                "emergency_never_started",
                &format!("{}:{device}", em.bulletin),
                "1".to_owned(),
            );
        }
    }
}

/// One field, quoted when it holds a comma, a quote or a line break.
pub fn field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_with_commas_quotes_or_line_breaks_are_quoted() {
        assert_eq!(field("Xã Ea Tiêu"), "Xã Ea Tiêu");
        assert_eq!(field("Lũ, sạt lở"), "\"Lũ, sạt lở\"");
        assert_eq!(field("say \"now\""), "\"say \"\"now\"\"\"");
        assert_eq!(field("a\nb"), "\"a\nb\"");
    }
}

//! The report as one printable HTML page: no script, no outside file, its
//! charts inline SVG (broadcast minutes per commune as bars, uptime per
//! day as a line per district or for the area), its words from
//! [`words`](super::words).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::figures::{AreaFigures, Tally, UptimeLine};
use super::words::{key_name, Lang, Words};
use super::Report;

/// Chart colours, one per line, reused in turn.
const PALETTE: [&str; 6] = [
    "#1f5fa8", "#c0392b", "#27864a", "#8e44ad", "#d68910", "#17808a",
];

const STYLE: &str = "body{font-family:'DejaVu Sans',Arial,sans-serif;margin:2em;color:#111}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #999}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #999;padding:.2em .5em}\
td.n{text-align:right}p.note{color:#555;font-size:.9em}\
@media print{body{margin:1cm}h2{break-after:avoid}svg,table{break-inside:avoid}}";

impl Report {
    /// The report as a printable page in `lang`.
    pub fn to_html(&self, lang: Lang) -> String {
        let w = lang.words();
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{} {}</title>\
             <style>{STYLE}</style></head><body>",
            lang.code(),
            esc(w.title),
            esc(&self.period.label)
        );
        let _ = write!(
            out,
            "<h1>{}</h1><p>{}: <b>{}</b> ({} – {})<br>{}: <b>{}</b> ({})<br>{}: {} UTC · {}: {}</p>\
             <p class=\"note\">{}</p>",
            esc(w.title),
            esc(w.period),
            esc(&self.period.label),
            self.period.first.format("%d/%m/%Y"),
            self.period.last.format("%d/%m/%Y"),
            esc(w.area),
            esc(&self.area_name),
            esc(&self.area),
            esc(w.generated),
            self.generated_at.format("%Y-%m-%d %H:%M"),
            esc(w.time_zone),
            esc(&self.timezone),
            esc(w.basis),
        );
        summary(&mut out, lang, &self.figures.areas);
        let communes: Vec<&AreaFigures> = self
            .figures
            .areas
            .iter()
            .filter(|a| a.level == "commune")
            .collect();
        let _ = write!(out, "<h2>{}</h2>", esc(w.minutes_chart));
        out.push_str(&minutes_chart(&communes));
        let _ = write!(out, "<h2>{}</h2>", esc(w.uptime_chart));
        out.push_str(&uptime_chart(&self.figures.uptime));
        if let Some(area) = self.figures.areas.first() {
            details(&mut out, lang, area);
        }
        out.push_str("</body></html>\n");
        out
    }
}

/// One row per area.
fn summary(out: &mut String, lang: Lang, areas: &[AreaFigures]) {
    let w = lang.words();
    let _ = write!(
        out,
        "<h2>{}</h2><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
         <th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(w.summary),
        esc(w.area),
        esc(w.level),
        esc(w.devices),
        esc(w.started),
        esc(w.finished),
        esc(w.minutes),
        esc(w.uptime),
        esc(w.never_seen),
        esc(w.failures),
    );
    for area in areas {
        let _ = write!(
            out,
            "<tr><td>{} ({})</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&area.name),
            esc(&area.area),
            esc(key_name(lang, &area.level)),
            area.devices,
            area.airings.started,
            area.airings.finished,
            area.broadcast_minutes,
            area.uptime_percent
                .map_or("–".to_owned(), |p| p.to_string()),
            area.never_seen.len(),
            area.failures.values().sum::<u32>(),
        );
    }
    out.push_str("</table>");
}

/// The breakdowns, emergencies, unseen devices and failures of one area.
fn details(out: &mut String, lang: Lang, area: &AreaFigures) {
    let w = lang.words();
    let breakdowns = [
        (w.by_level, &area.by_level),
        (w.by_category, &area.by_category),
        (w.by_class, &area.by_class),
        (w.by_language, &area.by_language),
    ];
    for (title, tallies) in breakdowns {
        tally_table(out, lang, title, tallies);
    }
    let _ = write!(out, "<h2>{}</h2>", esc(w.emergencies));
    if area.emergencies.is_empty() {
        let _ = write!(out, "<p>{}</p>", esc(w.none));
    } else {
        let _ = write!(
            out,
            "<table><tr><th></th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            esc(w.triggered),
            esc(w.devices),
            esc(w.started),
            esc(w.latency_p50),
            esc(w.latency_max),
            esc(w.never_started),
        );
        let secs = |v: Option<f64>| v.map_or("–".to_owned(), |v| v.to_string());
        for em in &area.emergencies {
            let _ = write!(
                out,
                "<tr><td>{} ({})</td><td>{} UTC</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
                 <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                esc(&em.title),
                esc(&em.bulletin),
                em.triggered.format("%Y-%m-%d %H:%M:%S"),
                em.devices,
                em.started,
                secs(em.latency_p50_secs),
                secs(em.latency_max_secs),
                esc(&em.never_started.join(", ")),
            );
        }
        out.push_str("</table>");
    }
    let _ = write!(out, "<h2>{}</h2><p>", esc(w.never_seen));
    if area.never_seen.is_empty() {
        out.push_str(&esc(w.none));
    } else {
        out.push_str(&esc(&area.never_seen.join(", ")));
    }
    out.push_str("</p>");
    let _ = write!(out, "<h2>{}</h2>", esc(w.failures));
    if area.failures.is_empty() {
        let _ = write!(out, "<p>{}</p>", esc(w.none));
    } else {
        let _ = write!(
            out,
            "<table><tr><th>{}</th><th>{}</th></tr>",
            esc(w.reason),
            esc(w.count)
        );
        for (reason, count) in &area.failures {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{count}</td></tr>",
                esc(key_name(lang, reason))
            );
        }
        out.push_str("</table>");
    }
}

fn tally_table(out: &mut String, lang: Lang, title: &str, tallies: &BTreeMap<String, Tally>) {
    let w: &Words = lang.words();
    let _ = write!(out, "<h2>{}</h2>", esc(title));
    if tallies.is_empty() {
        let _ = write!(out, "<p>{}</p>", esc(w.none));
        return;
    }
    let _ = write!(
        out,
        "<table><tr><th></th><th>{}</th><th>{}</th></tr>",
        esc(w.started),
        esc(w.finished)
    );
    for (key, tally) in tallies {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(key_name(lang, key)),
            tally.started,
            tally.finished
        );
    }
    out.push_str("</table>");
}

/// Horizontal bars, one per commune, scaled to the largest.
fn minutes_chart(communes: &[&AreaFigures]) -> String {
    const WIDTH: f64 = 720.0;
    const LABEL: f64 = 220.0;
    const ROW: f64 = 22.0;
    let most = communes
        .iter()
        .map(|c| c.broadcast_minutes)
        .fold(0.0, f64::max);
    let height = ROW * communes.len().max(1) as f64 + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"minutes\" width=\"{WIDTH}\" \
         height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-size=\"12\">"
    );
    let room = WIDTH - LABEL - 70.0;
    for (i, commune) in communes.iter().enumerate() {
        let y = ROW * i as f64 + 5.0;
        let length = if most > 0.0 {
            room * commune.broadcast_minutes / most
        } else {
            0.0
        };
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{length:.1}\" height=\"{}\" fill=\"{}\">\
             <title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{}\">{}</text>",
            LABEL - 6.0,
            y + 14.0,
            esc(&commune.name),
            ROW - 6.0,
            PALETTE[0],
            esc(&commune.area),
            commune.broadcast_minutes,
            LABEL + length + 4.0,
            y + 14.0,
            commune.broadcast_minutes
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A line per area over the days, 0 to 100 %.
fn uptime_chart(lines: &[UptimeLine]) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 240.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 30.0;
    const TOP: f64 = 10.0;
    let legend = 18.0 * lines.len() as f64;
    let total = HEIGHT + legend;
    let days = lines.iter().map(|l| l.points.len()).max().unwrap_or(0);
    let plot_w = WIDTH - LEFT - 10.0;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let x = |i: usize| {
        LEFT + if days > 1 {
            plot_w * i as f64 / (days - 1) as f64
        } else {
            plot_w / 2.0
        }
    };
    let y = |percent: f64| TOP + plot_h * (1.0 - percent / 100.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"uptime\" width=\"{WIDTH}\" \
         height=\"{total}\" viewBox=\"0 0 {WIDTH} {total}\" font-size=\"12\">"
    );
    for percent in [0.0, 50.0, 100.0] {
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{right}\" y1=\"{at:.1}\" y2=\"{at:.1}\" stroke=\"#ccc\"/>\
             <text x=\"{label}\" y=\"{baseline:.1}\" text-anchor=\"end\">{percent}</text>",
            right = LEFT + plot_w,
            at = y(percent),
            label = LEFT - 4.0,
            baseline = y(percent) + 4.0
        );
    }
    if let Some(line) = lines.iter().find(|l| !l.points.is_empty()) {
        let (first, last) = (&line.points[0], &line.points[line.points.len() - 1]);
        let _ = write!(
            svg,
            "<text x=\"{LEFT}\" y=\"{}\">{}</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            HEIGHT - 10.0,
            first.date.format("%d/%m"),
            LEFT + plot_w,
            HEIGHT - 10.0,
            last.date.format("%d/%m")
        );
    }
    for (n, line) in lines.iter().enumerate() {
        let colour = PALETTE[n % PALETTE.len()];
        let points: Vec<String> = line
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.percent)))
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            points.join(" "),
            esc(&line.name)
        );
        for (i, p) in line.points.iter().enumerate() {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{colour}\"><title>{} {}: {} %</title></circle>",
                x(i),
                y(p.percent),
                esc(&line.name),
                p.date,
                p.percent
            );
        }
        let ly = HEIGHT + 18.0 * n as f64 + 4.0;
        let _ = write!(
            svg,
            "<rect x=\"{LEFT}\" y=\"{ly}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\">{} ({})</text>",
            LEFT + 18.0,
            ly + 11.0,
            esc(&line.name),
            esc(&line.area)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Text for HTML, element content and attribute values alike.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            esc("<b>\"Lũ\" & 'gió'</b>"),
            "&lt;b&gt;&quot;Lũ&quot; &amp; &#39;gió&#39;&lt;/b&gt;"
        );
    }
}

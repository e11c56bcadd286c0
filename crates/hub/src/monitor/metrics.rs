//! Prometheus metrics: histograms and the text exposition format 0.0.4.
//!
//! Written by hand rather than through a client crate: the hub has a dozen
//! metrics, all gathered on request from state it keeps anyway (the hub
//! task's sets and counters, the store), so a registry of live collectors
//! would only duplicate that state. [`Exposition`] writes one family at a
//! time with its `# HELP` and `# TYPE` lines, escapes help texts and label
//! values as the format requires, and writes histograms as cumulative
//! `_bucket{le=…}` series with `_sum` and `_count`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) for the time from an emergency's trigger to a
/// device starting it: the target is seconds, a device on a poor 4G link
/// may take a minute, and anything beyond five minutes is a failure to look at.
pub const FIRST_AUDIO_BOUNDS: &[f64] = &[
    0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];

/// Upper bounds (seconds) for encoding one piece of audio: short speech
/// takes well under a second, a long recording tens of seconds.
pub const INGEST_BOUNDS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Observations counted into fixed buckets.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last is above every bound.
    counts: Vec<u64>,
    sum: f64,
}

impl Histogram {
    /// An empty histogram with these upper bounds, ascending.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket] += 1;
        self.sum += value;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// `(upper bound, observations at or below it)`, ending with `+Inf`.
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut total = 0;
        self.bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(&self.counts)
            .map(|(bound, count)| {
                total += count;
                (bound, total)
            })
            .collect()
    }
}

/// How long audio ingest took, by where the audio came from (`upload`:
/// a person's recording; `speech`: text spoken by espeak-ng; `file`: a
/// recording named in the configuration). Shared by every ingest path.
#[derive(Debug, Default)]
pub struct IngestTimes {
    by_kind: Mutex<BTreeMap<&'static str, Histogram>>,
}

impl IngestTimes {
    pub fn observe(&self, kind: &'static str, took: Duration) {
        let mut by_kind = self.by_kind.lock().unwrap_or_else(|e| e.into_inner());
        by_kind
            .entry(kind)
            .or_insert_with(|| Histogram::new(INGEST_BOUNDS))
            .observe(took.as_secs_f64());
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, Histogram> {
        self.by_kind
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A metric family's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A text exposition being written, family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts family `name`: its `# HELP` and `# TYPE` lines. Its samples
    /// follow, before the next family starts.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) {
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (label, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{label}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }

    /// A histogram of the current family (which must be of kind
    /// [`Kind::Histogram`]) with `labels`.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], histogram: &Histogram) {
        let bucket = format!("{name}_bucket");
        for (bound, count) in histogram.cumulative() {
            let le = number(bound);
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, count as f64);
        }
        self.sample(&format!("{name}_sum"), labels, histogram.sum());
        self.sample(&format!("{name}_count"), labels, histogram.count() as f64);
    }

    pub fn finish(self) -> String {
        self.text
    }
}

/// A value as the format spells it (`+Inf`, `-Inf`, `NaN`, integers without
/// a fraction).
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "+Inf".into()
    } else if value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{value}")
    }
}

/// Help text: backslash and line feed escaped.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Label values: backslash, double quote and line feed escaped.
fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Everything `/metrics` reports, gathered at one moment.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// Registered devices and how many are online, by commune code and
    /// device kind (`loudspeaker`, `led_board`).
    pub devices: BTreeMap<(String, String), (u64, u64)>,
    /// Deliveries (one airing on one device) by state.
    pub deliveries: BTreeMap<String, u64>,
    /// Seconds from an emergency's trigger to each device's start.
    pub first_audio: Option<Histogram>,
    /// Audio ingest durations by kind.
    pub ingest: BTreeMap<&'static str, Histogram>,
    /// Device sessions the hub holds.
    pub sessions: u64,
    /// Bytes the database takes on disk.
    pub store_bytes: u64,
    /// Commands published to devices since the hub started.
    pub commands_published: u64,
    /// Device reports the gate dropped, by reason.
    pub dropped: BTreeMap<String, u64>,
    /// Batches of state the store could not write.
    pub store_failures: u64,
}

/// The exposition of `figures`.
pub fn render(figures: &Figures) -> String {
    let mut out = Exposition::default();
    out.family(
        "nguon_devices",
        "Registered devices, by commune and kind.",
        Kind::Gauge,
    );
    for ((commune, kind), (total, _)) in &figures.devices {
        out.sample(
            "nguon_devices",
            &[("commune", commune), ("kind", kind)],
            *total as f64,
        );
    }
    out.family(
        "nguon_devices_online",
        "Devices online (in a session opened by their hello), by commune and kind.",
        Kind::Gauge,
    );
    for ((commune, kind), (_, online)) in &figures.devices {
        out.sample(
            "nguon_devices_online",
            &[("commune", commune), ("kind", kind)],
            *online as f64,
        );
    }
    out.family(
        "nguon_deliveries",
        "Airings on devices, by delivery state.",
        Kind::Gauge,
    );
    for (state, count) in &figures.deliveries {
        out.sample("nguon_deliveries", &[("state", state)], *count as f64);
    }
    out.family(
        "nguon_emergency_first_audio_seconds",
        "Seconds from an emergency's trigger to a device reporting it started (hub clock), \
         once per device and emergency.",
        Kind::Histogram,
    );
    let empty = Histogram::new(FIRST_AUDIO_BOUNDS);
    out.histogram(
        "nguon_emergency_first_audio_seconds",
        &[],
        figures.first_audio.as_ref().unwrap_or(&empty),
    );
    out.family(
        "nguon_ingest_duration_seconds",
        "Seconds to encode and store one piece of audio, by kind (upload, speech, file).",
        Kind::Histogram,
    );
    for (kind, histogram) in &figures.ingest {
        out.histogram(
            "nguon_ingest_duration_seconds",
            &[("kind", kind)],
            histogram,
        );
    }
    out.family(
        "nguon_broker_connections",
        "Device sessions the hub holds (devices that said hello and have not gone offline).",
        Kind::Gauge,
    );
    out.sample("nguon_broker_connections", &[], figures.sessions as f64);
    out.family(
        "nguon_store_size_bytes",
        "Bytes the hub's database takes on disk (media files not counted).",
        Kind::Gauge,
    );
    out.sample("nguon_store_size_bytes", &[], figures.store_bytes as f64);
    out.family(
        "nguon_commands_published_total",
        "Signed commands published to devices since the hub started.",
        Kind::Counter,
    );
    out.sample(
        "nguon_commands_published_total",
        &[],
        figures.commands_published as f64,
    );
    out.family(
        "nguon_uplinks_dropped_total",
        "Device reports the hub did not believe, by reason, since it started.",
        Kind::Counter,
    );
    for (reason, count) in &figures.dropped {
        out.sample(
            "nguon_uplinks_dropped_total",
            &[("reason", reason)],
            *count as f64,
        );
    }
    out.family(
        "nguon_store_failures_total",
        "Batches of delivery state the store could not write, since the hub started.",
        Kind::Counter,
    );
    out.sample(
        "nguon_store_failures_total",
        &[],
        figures.store_failures as f64,
    );
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::parse::exposition;
    use super::*;

    #[test]
    fn a_histogram_counts_each_observation_in_the_first_bucket_that_holds_it() {
        let mut histogram = Histogram::new(&[1.0, 5.0]);
        for value in [0.2, 1.0, 3.0, 7.5] {
            histogram.observe(value);
        }
        assert_eq!(
            histogram.cumulative(),
            vec![(1.0, 2), (5.0, 3), (f64::INFINITY, 4)]
        );
        assert_eq!(histogram.count(), 4);
        assert_eq!(histogram.sum(), 11.7);
    }

    #[test]
    fn label_values_and_help_are_escaped_and_read_back_whole() {
        let mut out = Exposition::default();
        out.family("x", "a \\ b\nc", Kind::Gauge);
        out.sample("x", &[("a", "q\"uote"), ("b", "back\\slash\nline")], 1.5);
        let text = out.finish();
        assert_eq!(
            text,
            "# HELP x a \\\\ b\\nc\n# TYPE x gauge\nx{a=\"q\\\"uote\",b=\"back\\\\slash\\nline\"} 1.5\n"
        );
        let (samples, _) = exposition(&text);
        assert_eq!(samples[0].1["a"], "q\"uote");
        assert_eq!(samples[0].1["b"], "back\\slash\nline");
        assert_eq!(samples[0].2, 1.5);
    }

    #[test]
    fn the_hub_figures_parse_back_with_their_types_and_values() {
        let mut first_audio = Histogram::new(FIRST_AUDIO_BOUNDS);
        first_audio.observe(1.5);
        first_audio.observe(400.0);
        let mut ingest = BTreeMap::new();
        ingest.insert("speech", Histogram::new(INGEST_BOUNDS));
        ingest.get_mut("speech").unwrap().observe(0.3);
        let figures = Figures {
            devices: [
                (("24611".to_owned(), "loudspeaker".to_owned()), (2, 1)),
                (("24611".to_owned(), "led_board".to_owned()), (1, 0)),
            ]
            .into(),
            deliveries: [("finished".to_owned(), 7)].into(),
            first_audio: Some(first_audio),
            ingest,
            sessions: 1,
            store_bytes: 4096,
            commands_published: 12,
            dropped: [("bad_mac".to_owned(), 3)].into(),
            store_failures: 0,
        };
        let (samples, types) = exposition(&render(&figures));
        let value = |name: &str, labels: &[(&str, &str)]| {
            samples
                .iter()
                .find(|(n, l, _)| {
                    n == name
                        && l.len() == labels.len()
                        && labels
                            .iter()
                            .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
                })
                .map(|(_, _, v)| *v)
                .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
        };
        let speaker = [("commune", "24611"), ("kind", "loudspeaker")];
        assert_eq!(value("nguon_devices", &speaker), 2.0);
        assert_eq!(value("nguon_devices_online", &speaker), 1.0);
        assert_eq!(
            value(
                "nguon_devices_online",
                &[("commune", "24611"), ("kind", "led_board")]
            ),
            0.0
        );
        assert_eq!(value("nguon_deliveries", &[("state", "finished")]), 7.0);
        let latency = "nguon_emergency_first_audio_seconds";
        assert_eq!(value(&format!("{latency}_bucket"), &[("le", "2")]), 1.0);
        assert_eq!(value(&format!("{latency}_bucket"), &[("le", "300")]), 1.0);
        assert_eq!(value(&format!("{latency}_bucket"), &[("le", "+Inf")]), 2.0);
        assert_eq!(value(&format!("{latency}_count"), &[]), 2.0);
        assert_eq!(value(&format!("{latency}_sum"), &[]), 401.5);
        assert_eq!(
            value(
                "nguon_ingest_duration_seconds_bucket",
                &[("kind", "speech"), ("le", "0.5")]
            ),
            1.0
        );
        assert_eq!(value("nguon_broker_connections", &[]), 1.0);
        assert_eq!(value("nguon_store_size_bytes", &[]), 4096.0);
        assert_eq!(
            value("nguon_uplinks_dropped_total", &[("reason", "bad_mac")]),
            3.0
        );
        assert_eq!(types[latency], "histogram");
        assert_eq!(types["nguon_devices"], "gauge");
        assert_eq!(types["nguon_commands_published_total"], "counter");
    }
}

#[cfg(test)]
pub(crate) mod parse {
    //! Reading the exposition back, for tests: every line must be a comment
    //! or a sample, every label value properly quoted and escaped.

    use std::collections::BTreeMap;

    /// One sample: name, labels, value.
    pub type Sample = (String, BTreeMap<String, String>, f64);

    /// The samples of `text`, and each family's `# TYPE`; panics on a
    /// malformed line, naming it.
    pub fn exposition(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        let mut helped = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, _) = rest.split_once(' ').expect("HELP names a metric");
                helped.push(name.to_owned());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE names a metric");
                assert_eq!(
                    helped.last().map(String::as_str),
                    Some(name),
                    "HELP before TYPE"
                );
                assert!(matches!(kind, "counter" | "gauge" | "histogram"), "{line}");
                types.insert(name.to_owned(), kind.to_owned());
            } else {
                samples.push(sample(line));
            }
        }
        (samples, types)
    }

    fn sample(line: &str) -> Sample {
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value: {line}"));
        let name = &line[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name {name:?} in {line}"
        );
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(mut inner) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = inner.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let (label, after) = inner
                    .split_once("=\"")
                    .unwrap_or_else(|| panic!("label=\"value\" expected: {line}"));
                let (value, after) = label_value(after, line);
                labels.insert(label.to_owned(), value);
                inner = after.strip_prefix(',').unwrap_or(after);
            }
        }
        let value = match rest.strip_prefix(' ').unwrap_or_else(|| panic!("{line}")) {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("value {other:?} in {line}")),
        };
        (name.to_owned(), labels, value)
    }

    /// A quoted value's text (after its opening quote) and what follows
    /// its closing quote.
    fn label_value<'a>(text: &'a str, line: &str) -> (String, &'a str) {
        let mut value = String::new();
        let mut escaped = false;
        for (i, c) in text.char_indices() {
            if escaped {
                value.push(match c {
                    'n' => '\n',
                    '\\' | '"' => c,
                    other => panic!("bad escape \\{other} in {line}"),
                });
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                return (value, &text[i + 1..]);
            } else {
                assert!(c != '\n', "raw line feed in {line}");
                value.push(c);
            }
        }
        panic!("unterminated label value: {line}")
    }
}

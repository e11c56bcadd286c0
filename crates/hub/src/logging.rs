//! Log output: human-readable lines (the default) or one JSON object per
//! line, for log shippers.
//!
//! The format comes from `--log-format` (`hub serve`, `hub demo`), else
//! `HUB_LOG_FORMAT`, else the configuration file's `[log] format`, else
//! human. `HUB_LOG` sets the filter (default [`DEFAULT_FILTER`]). Logs go
//! to standard error; standard output keeps the commands' own output.

use std::ffi::OsString;
use std::path::Path;

use serde::Deserialize;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Environment variable choosing the log format.
pub const ENV_LOG_FORMAT: &str = "HUB_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One line per event for people: time, level, target, message, fields.
    #[default]
    Human,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message`
    /// and the event's fields at the top level.
    Json,
}

/// The `[log]` section of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// The format to use: `flag`, else `env` (the value of `HUB_LOG_FORMAT`),
/// else the `[log]` section of the configuration file `config` (a file
/// that cannot be read is left for the command itself to report), else human.
pub fn choose(
    flag: Option<LogFormat>,
    env: Option<OsString>,
    config: Option<&Path>,
) -> Result<LogFormat, String> {
    if let Some(format) = flag {
        return Ok(format);
    }
    if let Some(value) = env {
        return match value.to_str() {
            Some("json") => Ok(LogFormat::Json),
            Some("human") => Ok(LogFormat::Human),
            _ => Err(format!(
                "{ENV_LOG_FORMAT}={value:?}: give `human` or `json`"
            )),
        };
    }
    /// Only the `[log]` section; the rest of the file is read later.
    #[derive(Deserialize)]
    struct LogOnly {
        #[serde(default)]
        log: LogSettings,
    }
    let from_file = config
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| toml::from_str::<LogOnly>(&text).ok())
        .map(|file| file.log.format);
    Ok(from_file.unwrap_or_default())
}

/// The filter without `HUB_LOG`: the hub's own information; of the embedded
/// broker and of `hub demo`'s simulated devices (hundreds of lines a run:
/// every file each device stored), only warnings and errors.
pub const DEFAULT_FILTER: &str = "info,rumqttd=warn,firmware_sim=warn";

/// Installs the global subscriber writing `format` to standard error.
pub fn init(format: LogFormat) {
    subscriber(format, std::io::stderr).init();
}

/// A subscriber writing `format` to `writer`, filtered by `HUB_LOG`.
fn subscriber<W>(format: LogFormat, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_env("HUB_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Human => Box::new(logs.finish()),
        LogFormat::Json => Box::new(logs.json().flatten_event(true).finish()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A writer into shared memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The JSON lines the hub's default subscriber writes while `log` runs.
    fn json_lines_logged_by(log: impl FnOnce()) -> Vec<serde_json::Value> {
        let captured = Captured::default();
        let writer = captured.clone();
        let logs = subscriber(LogFormat::Json, move || writer.clone());
        tracing::subscriber::with_default(logs, log);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    #[test]
    fn json_logs_are_one_parseable_object_per_line_with_the_fields_on_top() {
        let lines = json_lines_logged_by(|| {
            tracing::info!(device = "24611-LS-01", session = 3, "device said hello");
            tracing::warn!(topic = "nguon/v1/up/24611", "uplink dropped");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["message"], "device said hello");
        assert_eq!(lines[0]["device"], "24611-LS-01");
        assert_eq!(lines[0]["session"], 3);
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[1]["level"], "WARN");
        assert!(lines[1]["timestamp"].is_string());
    }

    #[test]
    fn by_default_the_broker_and_simulated_devices_log_only_their_warnings() {
        let lines = json_lines_logged_by(|| {
            tracing::info!(target: "hub::link::task", "device online");
            tracing::info!(target: "firmware_sim::media::fetcher", "media stored");
            tracing::warn!(target: "firmware_sim::link", "command refused");
            tracing::info!(target: "rumqttd::router::routing", "Disconnecting connection");
            tracing::error!(target: "rumqttd::server::broker", "Remote link error");
        });
        let messages: Vec<&str> = lines
            .iter()
            .map(|line| line["message"].as_str().unwrap())
            .collect();
        assert_eq!(
            messages,
            ["device online", "command refused", "Remote link error"]
        );
    }

    #[test]
    fn the_flag_wins_over_the_environment_which_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hub.toml");
        std::fs::write(
            &file,
            "[province]\ncode = \"67\"\n[log]\nformat = \"json\"\n",
        )
        .unwrap();
        let json = Ok(LogFormat::Json);
        let human = Ok(LogFormat::Human);
        assert_eq!(choose(None, None, Some(&file)), json);
        assert_eq!(choose(None, Some("human".into()), Some(&file)), human);
        assert_eq!(
            choose(Some(LogFormat::Human), Some("json".into()), Some(&file)),
            human
        );
        assert_eq!(choose(None, None, None), human);
        assert_eq!(
            choose(None, None, Some(&dir.path().join("absent.toml"))),
            human
        );
        let refused = choose(None, Some("xml".into()), None).unwrap_err();
        assert!(
            refused.contains("HUB_LOG_FORMAT") && refused.contains("json"),
            "{refused}"
        );
    }
}

//! Driving the web console from headless Chromium: the scenarios are
//! Playwright scripts in `tests/browser/` (`node <script>.mjs
//! <settings.json>`); this side writes their settings, runs each as a child
//! process with a time limit, reads the JSON lines it prints, and checks the
//! screenshots it leaves in `target/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Map, Value};
use tempfile::TempDir;
use tokio::process::Command;

/// The browser Debian installs (`apt-get install chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";
/// Longest one scenario may run; the script stops itself sooner (90 s).
const SCENARIO_LIMIT: Duration = Duration::from_secs(120);

/// The scripts' folder, `tests/browser/`.
fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Where the screenshots go: `console-screenshots/` in the target directory.
pub fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("console-screenshots")
}

/// Fails the test, saying what to install, unless node, Chromium and the
/// scripts' npm packages are all there. Browser tests are never skipped.
fn require_tools() {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    assert!(
        node,
        "`node` is not on PATH: the console's browser tests need it \
         (apt-get install nodejs npm)"
    );
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: the console's browser tests need it (apt-get install chromium)"
    );
    assert!(
        scripts().join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules/playwright-core is missing: run `npm ci --prefix tests/browser`"
    );
}

/// The settings every scenario reads, and the runner of scenarios.
pub struct Browser {
    settings: Map<String, Value>,
    dir: TempDir,
}

impl Browser {
    /// Scenarios against the console at `origin` (`http://127.0.0.1:port`).
    /// Fails at once if a tool the scenarios need is missing.
    pub fn new(origin: &str) -> Self {
        require_tools();
        let shots = screenshots();
        std::fs::create_dir_all(&shots).expect("creating target/console-screenshots");
        let mut settings = Map::new();
        settings.insert("origin".into(), Value::from(origin));
        settings.insert("chromium".into(), Value::from(CHROMIUM));
        settings.insert(
            "screenshots".into(),
            Value::from(shots.to_str().expect("a UTF-8 target path")),
        );
        settings.insert("accounts".into(), Value::Object(Map::new()));
        Self {
            settings,
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// Gives the scripts account `who` (`editor`, `chair`, …).
    pub fn account(&mut self, who: &str, username: &str, password: &str) {
        self.settings["accounts"][who] = serde_json::json!({
            "username": username, "password": password,
        });
    }

    /// Sets setting `key` for the scenarios run from now on.
    pub fn set(&mut self, key: &str, value: Value) {
        self.settings.insert(key.into(), value);
    }

    /// Runs scenario `script` (`tests/browser/<script>.mjs`) and answers the
    /// JSON lines it printed; fails the test with its output if it fails or
    /// hangs.
    pub async fn run(&self, script: &str) -> Vec<Value> {
        let settings = self.dir.path().join(format!("{script}.json"));
        std::fs::write(
            &settings,
            serde_json::to_vec_pretty(&self.settings).expect("settings serialise"),
        )
        .expect("writing the scenario's settings");
        let child = Command::new("node")
            .arg(scripts().join(format!("{script}.mjs")))
            .arg(&settings)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let output = tokio::time::timeout(SCENARIO_LIMIT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| {
                panic!("browser scenario {script} still ran after {SCENARIO_LIMIT:?}")
            })
            .expect("waiting for node");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "browser scenario {script} failed ({}); screenshots in {}\n{stderr}\n{stdout}",
            output.status,
            screenshots().display(),
        );
        stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    panic!(
                        "browser scenario {script} printed a line that is not JSON ({e}): {line}"
                    )
                })
            })
            .collect()
    }

    /// The one result line of scenario `script`.
    pub async fn result(&self, script: &str) -> Value {
        let mut lines = self.run(script).await;
        assert_eq!(lines.len(), 1, "{script} printed {lines:?}");
        lines.remove(0)
    }
}

/// Removes screenshots `names` left by an earlier run, so that
/// [`assert_screenshots`] sees only this run's.
pub fn forget_screenshots(names: &[&str]) {
    for name in names {
        let path = screenshots().join(format!("{name}.png"));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("removing {}: {e}", path.display()),
        }
    }
}

/// Fails unless every screenshot of `names` was written as a PNG.
pub fn assert_screenshots(names: &[&str]) {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    for name in names {
        let path = screenshots().join(format!("{name}.png"));
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("screenshot {} was not written: {e}", path.display()));
        assert!(
            bytes.len() > PNG.len() && bytes.starts_with(PNG),
            "screenshot {} is not a PNG ({} bytes)",
            path.display(),
            bytes.len()
        );
    }
}

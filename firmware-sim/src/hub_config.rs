//! Where a hub keeps the provisioning file, read from its configuration file.
//!
//! Only the `data_dir` key matters here, with the hub's own rules: the
//! `HUB_DATA_DIR` environment variable overrides it, and it defaults to
//! `data`. Nothing else of the hub's configuration is read.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hub_proto::provision::PROVISIONING_FILE_NAME;

/// Environment variable overriding the configuration's `data_dir` (as for `hub`).
const ENV_DATA_DIR: &str = "HUB_DATA_DIR";

#[derive(serde::Deserialize)]
struct DataDir {
    #[serde(default = "default_data_dir")]
    data_dir: PathBuf,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

/// The provisioning file of the hub configured by `config`.
pub fn provisioning_path(config: &Path) -> anyhow::Result<PathBuf> {
    resolve(config, std::env::var_os(ENV_DATA_DIR))
}

fn resolve(config: &Path, data_dir_override: Option<OsString>) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("reading the hub configuration {}", config.display()))?;
    let from_file: DataDir =
        toml::from_str(&text).with_context(|| format!("reading {}", config.display()))?;
    let data_dir = data_dir_override.map_or(from_file.data_dir, PathBuf::from);
    Ok(data_dir.join(PROVISIONING_FILE_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_in_the_configured_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hub.toml");
        std::fs::write(
            &config,
            "data_dir = \"data/x\"\n[province]\ncode = \"67\"\n",
        )
        .unwrap();
        assert_eq!(
            resolve(&config, None).unwrap(),
            Path::new("data/x/provisioning.json")
        );
        assert_eq!(
            resolve(&config, Some("/srv/hub".into())).unwrap(),
            Path::new("/srv/hub/provisioning.json")
        );
        std::fs::write(&config, "[province]\ncode = \"67\"\n").unwrap();
        assert_eq!(
            resolve(&config, None).unwrap(),
            Path::new("data/provisioning.json")
        );
        let missing = resolve(&dir.path().join("none.toml"), None).unwrap_err();
        assert!(format!("{missing:#}").contains("none.toml"), "{missing:#}");
    }
}

//! Backups the running hub takes by itself: every `backup.every_secs`
//! (default weekly) a consistent snapshot of the store and its media goes
//! to `backup.dir` (default `<data_dir>/backups`) as
//! `nguon-<UTC time>.backup`; only the newest `backup.keep` are kept. The
//! next backup is due a whole interval after the newest file, so
//! restarting the hub neither skips nor repeats one.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use hub_store::Store;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

const PREFIX: &str = "nguon-";
const SUFFIX: &str = ".backup";

/// The `[backup]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupSettings {
    /// Seconds between scheduled backups; 0 turns them off.
    pub every_secs: u64,
    /// How many scheduled backups to keep (at least 1).
    pub keep: usize,
    /// Where they go; default: `backups` in the data directory.
    pub dir: Option<PathBuf>,
}

impl Default for BackupSettings {
    fn default() -> Self {
        Self {
            every_secs: 7 * 24 * 3600,
            keep: 4,
            dir: None,
        }
    }
}

/// Takes scheduled backups of `store` (media in `media_dir`) into `dir`
/// until `cancel`.
pub async fn run(
    store: Store,
    media_dir: PathBuf,
    dir: PathBuf,
    settings: BackupSettings,
    cancel: CancellationToken,
) {
    if settings.every_secs == 0 {
        return;
    }
    let every = Duration::from_secs(settings.every_secs);
    loop {
        let wait = match newest(&dir) {
            Some(taken) => (taken + every)
                .duration_since(SystemTime::now())
                .unwrap_or_default(),
            None => every,
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let taken = {
            let (store, media_dir, dir) = (store.clone(), media_dir.clone(), dir.clone());
            let keep = settings.keep.max(1);
            tokio::task::spawn_blocking(move || take(&store, &media_dir, &dir, keep)).await
        };
        match taken {
            Ok(Ok(path)) => tracing::info!(backup = %path.display(), "scheduled backup taken"),
            Ok(Err(error)) => tracing::error!(%error, "scheduled backup failed"),
            Err(error) => tracing::error!(%error, "scheduled backup failed"),
        }
        // A failed attempt is tried again after a pause, not in a loop.
        if newest(&dir).is_none_or(|taken| taken.elapsed().unwrap_or_default() >= every) {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(60).min(every)) => {}
            }
        }
    }
}

/// Writes one backup into `dir` and removes all but the newest `keep`.
fn take(store: &Store, media_dir: &Path, dir: &Path, keep: usize) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let now: DateTime<Utc> = Utc::now();
    let path = dir.join(format!(
        "{PREFIX}{}{SUFFIX}",
        now.format("%Y%m%dT%H%M%S%.3fZ")
    ));
    hub_store::backup::write_backup(store, media_dir, &path)?;
    let mut names = backups(dir);
    names.sort();
    let excess = names.len().saturating_sub(keep);
    for old in &names[..excess] {
        std::fs::remove_file(dir.join(old))?;
    }
    Ok(path)
}

/// The names of the scheduled backups in `dir` (their names sort by time).
fn backups(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.starts_with(PREFIX) && name.ends_with(SUFFIX))
        .collect()
}

/// When the newest scheduled backup in `dir` was written.
fn newest(dir: &Path) -> Option<SystemTime> {
    backups(dir)
        .iter()
        .filter_map(|name| std::fs::metadata(dir.join(name)).ok()?.modified().ok())
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn backups_are_taken_on_schedule_and_only_the_newest_are_kept() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(&root.path().join("db")).unwrap();
        store
            .import_province(&hub_core::testkit::province())
            .unwrap();
        let dir = root.path().join("backups");
        let cancel = CancellationToken::new();
        let settings = BackupSettings {
            every_secs: 1,
            keep: 2,
            dir: None,
        };
        let task = tokio::spawn(run(
            store.clone(),
            root.path().join("media"),
            dir.clone(),
            settings,
            cancel.clone(),
        ));
        // Three intervals: three backups taken, the oldest removed.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut seen = std::collections::BTreeSet::new();
        while seen.len() < 3 {
            assert!(std::time::Instant::now() < deadline, "only {seen:?}");
            seen.extend(backups(&dir));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cancel.cancel();
        task.await.unwrap();
        let kept = backups(&dir);
        assert_eq!(kept.len(), 2, "{kept:?}");
        let mut all: Vec<_> = seen.into_iter().collect();
        all.sort();
        assert_eq!(
            kept.iter().min(),
            all.get(all.len() - 2),
            "the newest are kept"
        );
        for name in kept {
            let backup = hub_store::backup::read_backup(&dir.join(name)).unwrap();
            assert_eq!(backup.records, store.snapshot().unwrap());
        }
    }
}

//! Backups while the hub runs: the store's snapshot and its media, streamed
//! to the administrator who asked (`hub backup` uses this when a hub holds
//! the store).

use axum::body::Body as ResponseBody;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use hub_access::{Action, Target};
use hub_core::AreaLevel;
use tokio_util::io::ReaderStream;

use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::state::ApiState;

/// Take a backup now: a consistent snapshot of every record and every media
/// file, in the checksummed format `hub restore` reads.
#[utoipa::path(post, path = "/api/v1/backups", tag = "backups", security(("bearer" = [])),
    responses((status = 200, description = "the backup file", content_type = "application/octet-stream"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn take(State(state): State<ApiState>, caller: Caller) -> Result<Response, ApiError> {
    let province = state
        .tree
        .areas()
        .find(|area| area.level == AreaLevel::Province)
        .unwrap_or_else(|| state.tree.root())
        .code
        .clone();
    state.authorize(&caller, Action::RunBackup, Target::Area(&province))?;
    let store = state.store.clone();
    let media = state.media.dir().to_owned();
    let written = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let file = tempfile::Builder::new()
            .prefix(".backup-")
            .tempfile_in(&media)
            .map_err(|e| ApiError::internal(&e))?;
        let summary = hub_store::backup::write_backup(&store, &media, file.path())
            .map_err(|e| ApiError::internal(&e))?;
        // Open before unlinking: the response reads a file nobody else sees.
        let reader = std::fs::File::open(file.path()).map_err(|e| ApiError::internal(&e))?;
        Ok((summary, reader))
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    let (summary, reader) = written;
    let mut event = caller.event(Action::RunBackup, "backup");
    event.areas = vec![province];
    event.after = Some(format!(
        "{} records, {} media files, records sha256 {}",
        summary.records, summary.media_files, summary.records_sha256
    ));
    state.record(event)?;
    let body = ResponseBody::from_stream(ReaderStream::new(tokio::fs::File::from_std(reader)));
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream"),
            (CONTENT_DISPOSITION, "attachment; filename=\"nguon.backup\""),
        ],
        body,
    )
        .into_response())
}

//! The board preview: a bulletin's board part drawn as an LED board shows
//! it (amber on a dark face, the text word-wrapped at the largest size that
//! fits, a picture above its caption), at the boards' resolution, by the
//! same renderer the simulated boards use (`firmware_sim::board`).

use std::io::Cursor;

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use firmware_sim::board::{render, Resolution};
use firmware_sim::Showing;
use hub_core::VisualKind;
use image::{ImageFormat, RgbaImage};
use serde::Deserialize;

use super::bulletins::load;
use super::layout;
use super::session::Person;
use crate::api::error::ApiError;
use crate::api::extract::Query;
use crate::api::state::ApiState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Which {
    /// The variant (language) to draw; the first by default.
    pub variant: Option<usize>,
}

/// `GET /console/bulletins/{id}/board.png`
pub async fn preview(
    State(state): State<ApiState>,
    person: Person,
    Path(id): Path<String>,
    Query(which): Query<Which>,
) -> Response {
    match draw(&state, &person, &id, which.variant.unwrap_or(0)).await {
        Ok(png) => ([(CONTENT_TYPE, "image/png")], png).into_response(),
        Err(error) => layout::failure(person.lang, Some(&person), &error),
    }
}

async fn draw(
    state: &ApiState,
    person: &Person,
    id: &str,
    index: usize,
) -> Result<Vec<u8>, ApiError> {
    let view = load(state, person.caller(), id).await?;
    let bulletin = view.bulletin;
    let visual = bulletin
        .variants
        .get(index)
        .and_then(|variant| variant.visual.clone())
        .ok_or_else(|| ApiError::not_found(format!("{id} has no board part in variant {index}")))?;
    // Pictures are stored already fitted to the boards; a video's frame is
    // not decoded here, its caption is shown.
    let picture_file = match visual.kind {
        VisualKind::Image | VisualKind::Infographic => {
            visual.media.as_ref().map(|m| m.sha256.clone())
        }
        VisualKind::Text | VisualKind::Video => None,
    };
    let path = picture_file.and_then(|sha256| state.media.file_path(&sha256));
    let showing = Showing {
        text: visual.text.clone(),
        bulletin: Some(bulletin.id.to_string()),
        media: None,
        subtitles: None,
        since: None,
        subtitle: None,
        video: None,
    };
    let resolution = Resolution {
        width: state.board.width(),
        height: state.board.height(),
    };
    let at = state.now();
    tokio::task::spawn_blocking(move || {
        let picture: Option<RgbaImage> = match path {
            Some(path) => {
                let bytes = std::fs::read(&path).map_err(|e| ApiError::internal(&e))?;
                let decoded = image::load_from_memory_with_format(&bytes, ImageFormat::Png)
                    .map_err(|e| ApiError::internal(&e))?;
                Some(decoded.to_rgba8())
            }
            None => None,
        };
        let face = render(Some(&showing), picture.as_ref(), at, resolution);
        let mut png = Vec::new();
        face.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .map_err(|e| ApiError::internal(&e))?;
        Ok(png)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
}

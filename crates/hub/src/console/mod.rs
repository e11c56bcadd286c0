//! The web console: server-rendered pages under `/console` on the API's
//! listener, for people working from a browser (often a phone in a commune
//! office). Vietnamese by default, English on a switch.
//!
//! The console adds no rules of its own: every handler calls the API's
//! handler functions (`crate::api::handlers`) with the [`Caller`] its
//! session cookie stands for, and renders what they answer, or the
//! [`ApiError`] next to the form with what the person typed. So the role
//! and area rules, the validation and the audit log are the API's.
//!
//! # Layout
//! - [`session`]: the session cookie, [`Person`](session::Person) (the
//!   API's caller), login, logout, the language switch, each role's home.
//! - [`csrf`]: the token every state-changing form carries.
//! - [`form`]: reading forms (with files); [`Submitted`](form::Submitted),
//!   a form whose CSRF token was checked.
//! - [`i18n`]: every string in both languages.
//! - [`layout`]: the page shell, messages, error pages, the style sheet.
//! - [`area_tree`]: target areas as nested checkboxes.
//! - Screens: [`bulletins`] (editors: list, compose, detail and submit),
//!   [`board`] (the board preview, drawn by firmware-sim's renderer),
//!   [`review`] (the editorial board), [`commune`] (a chair's programme),
//!   [`emergency`] (operators: trigger with two confirmations, status,
//!   stop), [`health`] (device health by area), [`reports`],
//!   [`media`] (audio and pictures for previews).
//!
//! [`Caller`]: crate::api::auth::Caller
//! [`ApiError`]: crate::api::error::ApiError

pub mod area_tree;
pub mod board;
pub mod bulletins;
pub mod commune;
pub mod csrf;
pub mod emergency;
pub mod form;
pub mod health;
pub mod i18n;
pub mod layout;
pub mod local_time;
pub mod media;
pub mod reports;
pub mod review;
pub mod session;
pub mod upload;

#[cfg(test)]
mod tests;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::header::{CACHE_CONTROL, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::state::ApiState;

/// The console's routes, to be merged into the API's router (which adds
/// the state, the time limit and answers only once changes are on disk).
pub fn router(state: &ApiState) -> Router<ApiState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(session::home))
        .route(
            "/console/login",
            get(session::login_page).post(session::login),
        )
        .route("/console/logout", post(session::logout))
        .route("/console/lang/:code", get(session::set_language))
        .route(
            "/console/bulletins",
            get(bulletins::list).post(bulletins::create),
        )
        .route("/console/bulletins/new", get(bulletins::compose))
        .route("/console/bulletins/:id", get(bulletins::detail))
        .route("/console/bulletins/:id/board.png", get(board::preview))
        .route("/console/bulletins/:id/submit", post(bulletins::submit))
        .route("/console/bulletins/:id/approve", post(review::approve))
        .route("/console/bulletins/:id/reject", post(review::reject))
        .route("/console/review", get(review::queue))
        .route("/console/media/:sha256", get(media::file))
        .route("/console/communes/:code", get(commune::show))
        .route("/console/communes/:code/order", post(commune::reorder))
        .route(
            "/console/communes/:code/opt-ins/:bulletin",
            post(commune::opt),
        )
        .route(
            "/console/emergency",
            get(emergency::form).post(emergency::trigger),
        )
        .route("/console/emergency/review", post(emergency::review))
        .route("/console/emergency/live", get(emergency::live_stream))
        .route("/console/emergencies/:id", get(emergency::status))
        .route("/console/emergencies/:id/stop", post(emergency::stop))
        .route("/console/health", get(health::show))
        .route("/console/reports", get(reports::show))
        .route("/console/reports/csv", get(reports::csv))
        // Forms with recordings are as large as the API's uploads.
        .layer(DefaultBodyLimit::max(state.settings.max_upload_bytes))
        .layer(middleware::from_fn(protective_headers))
}

/// Pages hold personal data and forms: never cached, never framed (no
/// clickjacking of the emergency button), no referrer leaves the hub.
async fn protective_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

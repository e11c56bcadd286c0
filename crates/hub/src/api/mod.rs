//! The people's HTTP API under `/api/v1`: JSON in and out, an OpenAPI 3
//! document at `/api/v1/openapi.json`, bearer tokens (sessions from
//! `POST /api/v1/session`, or API tokens), every request authorised by
//! `hub_access::authorize` by role and area, every change in the audit log.
//!
//! # Layout
//! - [`settings`]: the `[api]` configuration section.
//! - [`error`]: the one error body and the status of every failure.
//! - [`extract`]: JSON bodies and query strings, with errors naming the field.
//! - [`auth`]: the authenticated [`Caller`](auth::Caller).
//! - [`state`]: what the handlers share ([`ApiContext`]).
//! - [`handlers`]: one module per resource.
//! - [`routes`]: the route table; [`openapi`]: the document; [`server`]: the router.

pub mod auth;
pub mod error;
pub mod extract;
pub mod handlers;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod settings;
pub mod state;

pub use settings::ApiSettings;
pub use state::{ApiContext, ApiState};

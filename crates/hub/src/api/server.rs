//! The API's router: the route table, the OpenAPI document, request
//! timeouts and JSON answers for unknown paths and methods
//! ([`HttpServer`](crate::http_server::HttpServer) serves it).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::error::ApiError;
use super::openapi::ApiDoc;
use super::routes::{axum_path, endpoints};
use super::state::ApiState;

/// The whole API.
pub fn router(state: ApiState) -> Router {
    let mut router = Router::new().route("/api/v1/openapi.json", get(openapi));
    for endpoint in endpoints() {
        router = router.route(&axum_path(endpoint.path), endpoint.handler);
    }
    router
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .with_state(state)
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

async fn unknown_path() -> ApiError {
    ApiError::not_found("no such endpoint: the API is described at /api/v1/openapi.json")
}

async fn wrong_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method: see /api/v1/openapi.json",
    )
}

/// Answers 408 for a request that takes longer than the configured limit.
async fn time_limit(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let limit = Duration::from_secs(state.settings.request_timeout_secs);
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

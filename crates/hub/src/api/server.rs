//! The API's router: the route table, the OpenAPI document, request
//! timeouts, changes answered only once on disk, and JSON answers for
//! unknown paths and methods
//! ([`HttpServer`](crate::http_server::HttpServer) serves it).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hub_store::Store;
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
        .merge(crate::console::router(&state))
        .fallback(unknown_path)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(
            state.store.clone(),
            answer_when_durable,
        ))
        .layer(middleware::from_fn_with_state(
            Duration::from_secs(state.settings.request_timeout_secs),
            time_limit,
        ))
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

/// Holds back the success of a request that may have changed something
/// until the store has flushed it: what a person was told is done survives
/// a power cut. (Changes to the programme are flushed with their audit
/// entries by the store writer already; this covers accounts, tokens,
/// uploads and the rest.)
async fn answer_when_durable(State(store): State<Store>, request: Request, next: Next) -> Response {
    let reads_only = matches!(*request.method(), Method::GET | Method::HEAD);
    let response = next.run(request).await;
    // The console answers a change with a redirect to its result.
    let done = response.status().is_success() || response.status().is_redirection();
    if reads_only || !done {
        return response;
    }
    let flushed = tokio::task::spawn_blocking(move || store.flush()).await;
    match flushed {
        Ok(Ok(())) => response,
        Ok(Err(error)) => ApiError::internal(&error).into_response(),
        Err(error) => ApiError::internal(&error).into_response(),
    }
}

/// Answers 408 for a request that takes longer than `limit`.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request took longer than {} s", limit.as_secs_f64()),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_request_over_the_time_limit_is_answered_408_with_the_error_body() {
        let app = Router::new()
            .route("/quick", get(|| async { "done" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "too late"
                }),
            )
            .layer(middleware::from_fn_with_state(
                Duration::from_millis(50),
                time_limit,
            ));
        let ask = |path: &'static str| {
            app.clone()
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
        };
        assert_eq!(ask("/quick").await.unwrap().status(), StatusCode::OK);
        let slow = ask("/slow").await.unwrap();
        assert_eq!(slow.status(), StatusCode::REQUEST_TIMEOUT);
        let body = axum::body::to_bytes(slow.into_body(), 1024).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "timeout");
    }
}

//! The API's HTTP server: the route table, the OpenAPI document, request
//! timeouts and JSON answers for unknown paths and methods.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

use super::error::ApiError;
use super::openapi::ApiDoc;
use super::routes::{axum_path, endpoints};
use super::state::ApiState;

/// How long requests in progress may go on after the hub is stopped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

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

/// A running API server.
pub struct ApiServer {
    pub addr: SocketAddr,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl ApiServer {
    /// Listens on the configured address (port 0: any free port) and serves
    /// until `cancel`.
    pub async fn start(state: ApiState, cancel: CancellationToken) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(state.settings.listen).await?;
        let addr = listener.local_addr()?;
        let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
        let stop = cancel.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            match served {
                Ok(()) => tracing::info!(%addr, "API server stopped"),
                Err(error) => tracing::error!(%addr, %error, "API server failed"),
            }
        });
        tracing::info!(%addr, "API listening");
        Ok(Self { addr, cancel, task })
    }

    /// Stops accepting and lets requests in progress finish for a few seconds.
    pub async fn stop(self) {
        self.cancel.cancel();
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

//! The route table: every endpoint once, with its method and path. The
//! router is built from it, and a test holds it equal to the OpenAPI
//! document's paths.

use axum::routing::{delete, get, post, put, MethodRouter};

use super::handlers::{
    areas, audit, backups, bulletins, cap, communes, devices, emergencies, health, live, metrics,
    reports, session, tokens, uploads, users,
};
use super::state::ApiState;

/// One endpoint: method, path (OpenAPI syntax, `{id}`) and handler.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: MethodRouter<ApiState>,
}

fn at(method: &'static str, path: &'static str, handler: MethodRouter<ApiState>) -> Endpoint {
    Endpoint {
        method,
        path,
        handler,
    }
}

/// Every endpoint of `/api/v1` but the OpenAPI document itself, and
/// `/metrics` for Prometheus.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        at("post", "/api/v1/session", post(session::login)),
        at("delete", "/api/v1/session", delete(session::logout)),
        at("get", "/api/v1/areas", get(areas::list)),
        at("get", "/api/v1/users", get(users::list)),
        at("post", "/api/v1/users", post(users::create)),
        at(
            "post",
            "/api/v1/users/{username}/disable",
            post(users::disable),
        ),
        at(
            "put",
            "/api/v1/users/{username}/role",
            put(users::change_role),
        ),
        at(
            "put",
            "/api/v1/users/{username}/password",
            put(users::change_password),
        ),
        at("get", "/api/v1/tokens", get(tokens::list)),
        at("post", "/api/v1/tokens", post(tokens::create)),
        at("post", "/api/v1/tokens/{name}/revoke", post(tokens::revoke)),
        at("get", "/api/v1/devices", get(devices::list)),
        at("post", "/api/v1/devices", post(devices::register)),
        at("get", "/api/v1/devices/{id}", get(devices::detail)),
        at(
            "post",
            "/api/v1/devices/{id}/credentials",
            post(devices::credentials),
        ),
        at("post", "/api/v1/devices/{id}/revoke", post(devices::revoke)),
        at("get", "/api/v1/health", get(health::tree)),
        at("get", "/api/v1/alarms", get(health::alarms)),
        at("get", "/metrics", get(metrics::metrics)),
        at("post", "/api/v1/uploads/audio", post(uploads::audio)),
        at("post", "/api/v1/uploads/image", post(uploads::image)),
        at("post", "/api/v1/uploads/video", post(uploads::video)),
        at("get", "/api/v1/bulletins", get(bulletins::list)),
        at("post", "/api/v1/bulletins", post(bulletins::create)),
        at("get", "/api/v1/bulletins/{id}", get(bulletins::detail)),
        at("put", "/api/v1/bulletins/{id}", put(bulletins::edit)),
        at(
            "get",
            "/api/v1/bulletins/{id}/deliveries",
            get(bulletins::deliveries),
        ),
        at(
            "post",
            "/api/v1/bulletins/{id}/submit",
            post(bulletins::submit),
        ),
        at(
            "post",
            "/api/v1/bulletins/{id}/approve",
            post(bulletins::approve),
        ),
        at(
            "post",
            "/api/v1/bulletins/{id}/reject",
            post(bulletins::reject),
        ),
        at(
            "post",
            "/api/v1/bulletins/{id}/cancel",
            post(bulletins::cancel),
        ),
        at(
            "get",
            "/api/v1/communes/{code}/programme",
            get(communes::programme),
        ),
        at(
            "put",
            "/api/v1/communes/{code}/order",
            put(communes::reorder),
        ),
        at(
            "put",
            "/api/v1/communes/{code}/opt-ins/{bulletin}",
            put(communes::opt_in),
        ),
        at(
            "delete",
            "/api/v1/communes/{code}/opt-ins/{bulletin}",
            delete(communes::opt_out),
        ),
        at("post", "/api/v1/emergencies", post(emergencies::trigger)),
        at("get", "/api/v1/emergencies/live", get(live::stream)),
        at("get", "/api/v1/emergencies/live/{id}", get(live::reattach)),
        at(
            "post",
            "/api/v1/emergencies/{id}/stop",
            post(emergencies::stop),
        ),
        at(
            "post",
            "/api/v1/emergencies/{id}/correct",
            post(emergencies::correct),
        ),
        at("post", "/api/v1/cap", post(cap::ingest)),
        at("get", "/api/v1/audit", get(audit::query)),
        at("get", "/api/v1/reports", get(reports::get)),
        at("post", "/api/v1/backups", post(backups::take)),
    ]
}

/// An OpenAPI path in axum 0.7's syntax: `{id}` becomes `:id`.
pub fn axum_path(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_parameters_become_axum_captures() {
        assert_eq!(
            axum_path("/api/v1/communes/{code}/opt-ins/{bulletin}"),
            "/api/v1/communes/:code/opt-ins/:bulletin"
        );
        assert_eq!(axum_path("/api/v1/areas"), "/api/v1/areas");
    }
}

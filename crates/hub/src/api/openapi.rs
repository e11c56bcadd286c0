//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;
use super::handlers::{
    areas, audit, backups, bulletins, cap, communes, devices, emergencies, health, live, metrics,
    reports, session, tokens, uploads, users, Reason,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Nguồn hub API",
        description = "People's API of the provincial broadcast hub: accounts and roles by area, \
            bulletins and their review, commune programmes, emergencies, devices, the audit log. \
            Every error answers with the same body: code, message and, when one field is at fault, field."
    ),
    paths(
        session::login, session::logout,
        areas::list,
        users::list, users::create, users::disable, users::change_role, users::change_password,
        tokens::list, tokens::create, tokens::revoke,
        devices::list, devices::register, devices::detail, devices::credentials, devices::revoke,
        health::tree, health::alarms, metrics::metrics,
        uploads::audio, uploads::image, uploads::video,
        bulletins::list, bulletins::create, bulletins::detail, bulletins::edit,
        bulletins::deliveries, bulletins::submit, bulletins::approve, bulletins::reject,
        bulletins::cancel,
        communes::programme, communes::reorder, communes::opt_in, communes::opt_out,
        emergencies::trigger, emergencies::stop, emergencies::correct, live::stream, live::reattach,
        cap::ingest,
        audit::query,
        reports::get,
        backups::take,
    ),
    components(schemas(ErrorBody, Reason)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

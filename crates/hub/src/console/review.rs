//! The editorial board's screens: the queue of bulletins awaiting review
//! (each opens on its page to listen and read), approving, and rejecting
//! with a reason.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use hub_core::BulletinState;
use maud::html;

use super::bulletins::{detail_page, load};
use super::form::Submitted;
use super::i18n;
use super::layout::{self, page, Chrome, Flash};
use super::local_time::LocalTime;
use super::session::Person;
use crate::api::error::ApiError;
use crate::api::extract::Body;
use crate::api::handlers::bulletins as api;
use crate::api::handlers::Reason;
use crate::api::state::ApiState;

/// `GET /console/review`
pub async fn queue(State(state): State<ApiState>, person: Person, Flash(flash): Flash) -> Response {
    let views = match api::list(State(state.clone()), person.caller()).await {
        Ok(views) => views.0,
        Err(error) => return layout::failure(person.lang, Some(&person), &error),
    };
    let (lang, t) = (person.lang, person.lang.texts());
    let local = LocalTime::of(&state);
    let waiting: Vec<_> = views
        .iter()
        .filter(|v| v.bulletin.state == BulletinState::Submitted)
        .collect();
    let body = html! {
        @if waiting.is_empty() { p { (t.review_empty) } } @else {
            ul.tree.root {
                @for view in waiting {
                    @let b = &view.bulletin;
                    li.card {
                        a.big href={ "/console/bulletins/" (b.id) } data-test={ "review-item-" (b.id) } { (b.title) }
                        p {
                            (i18n::category(lang, b.category)) " · " (i18n::class(lang, b.class)) " · "
                            (b.issuer) " · " (local.show(b.validity.not_before))
                            @if let Some(author) = &view.author { " · " (author) }
                        }
                    }
                }
            }
        }
    };
    page(&Chrome::of(&person, flash), t.review_title, body).into_response()
}

/// `POST /console/bulletins/{id}/approve`
pub async fn approve(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    form: Submitted,
) -> Response {
    let person = form.person;
    let done = api::approve(State(state.clone()), person.caller(), Path(id.clone())).await;
    answer(&state, &person, &id, done.map(drop), "approved").await
}

/// `POST /console/bulletins/{id}/reject` (field `reason`)
pub async fn reject(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    form: Submitted,
) -> Response {
    let Submitted { person, fields } = form;
    let reason = Reason {
        reason: fields.raw("reason").to_owned(),
    };
    let done = api::reject(
        State(state.clone()),
        person.caller(),
        Path(id.clone()),
        Body(reason),
    )
    .await;
    answer(&state, &person, &id, done.map(drop), "rejected").await
}

/// Back to the queue with a message, or the bulletin's page with the error.
async fn answer(
    state: &ApiState,
    person: &Person,
    id: &str,
    done: Result<(), ApiError>,
    flash: &str,
) -> Response {
    match done {
        Ok(()) => Redirect::to(&format!("/console/review?flash={flash}")).into_response(),
        Err(error) => match load(state, person.caller(), id).await {
            Ok(view) => detail_page(person, LocalTime::of(state), &view, None, Some(&error)),
            Err(_) => layout::failure(person.lang, Some(person), &error),
        },
    }
}

//! A commune chair's screen: today's and this week's programme, grouped
//! into the windows it airs in; the order of colliding priority bulletins
//! (moved up and down); the normal bulletins offered to the commune, opted
//! in or out; and what the commune's devices aired.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, TimeDelta, Utc};
use hub_core::{AreaCode, BulletinState, DeliveryState, PlanItem, PriorityClass};
use maud::{html, Markup};
use serde_json::json;

use super::form::Submitted;
use super::i18n::{self, Lang};
use super::layout::{self, action_button, page, Chrome, Flash};
use super::local_time;
use super::session::Person;
use crate::api::error::ApiError;
use crate::api::extract::{parse_json, Body, Query};
use crate::api::handlers::communes::{
    self as api, BulletinLine, OptInRequest, OrderRequest, ProgrammeQuery, ProgrammeView,
};
use crate::api::handlers::devices::{self, DeviceQuery};
use crate::api::state::ApiState;

/// Airings further apart than this are in different windows.
const WINDOW_GAP: TimeDelta = TimeDelta::minutes(30);

/// One row of the programme: a bulletin airing from `start` to `end`.
struct Slot<'a> {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    line: Option<&'a BulletinLine>,
    bulletin: String,
}

/// The commune's programme for a week from today.
async fn programme(
    state: &ApiState,
    person: &Person,
    code: &str,
) -> Result<ProgrammeView, ApiError> {
    let query = ProgrammeQuery { days: Some(7) };
    let view = api::programme(
        State(state.clone()),
        person.caller(),
        Path(code.to_owned()),
        Query(query),
    )
    .await?;
    Ok(view.0)
}

/// Priority bulletins still to air, in the order they air when they
/// collide: the chair's order first, then issuing level, then id.
fn priority_order(view: &ProgrammeView) -> Vec<&BulletinLine> {
    let mut lines: Vec<&BulletinLine> = view
        .bulletins
        .iter()
        .filter(|b| b.class == PriorityClass::Priority && !b.state.is_final())
        .collect();
    let place = |b: &BulletinLine| view.chair_order.iter().position(|id| id == &b.id);
    lines.sort_by_key(|b| (place(b).unwrap_or(usize::MAX), b.level, b.id.clone()));
    lines
}

/// `GET /console/communes/{code}`
pub async fn show(
    State(state): State<ApiState>,
    person: Person,
    Path(code): Path<String>,
    Flash(flash): Flash,
) -> Response {
    match programme(&state, &person, &code).await {
        Ok(view) => {
            let aired = aired(&state, &person, &view).await;
            render(&person, &view, &aired, flash, None)
        }
        Err(error) => layout::failure(person.lang, Some(&person), &error),
    }
}

/// What the commune's devices aired (started or finished), newest first:
/// (when, bulletin, device). Empty for someone who may not see device health.
async fn aired(
    state: &ApiState,
    person: &Person,
    view: &ProgrammeView,
) -> Vec<(DateTime<Utc>, String, String)> {
    let Ok(area) = AreaCode::parse(&view.commune) else {
        return Vec::new();
    };
    let query = DeviceQuery { area: Some(area) };
    let Ok(listed) = devices::list(State(state.clone()), person.caller(), Query(query)).await
    else {
        return Vec::new();
    };
    let mut aired = Vec::new();
    for device in listed.0 {
        let Ok(detail) = devices::detail(
            State(state.clone()),
            person.caller(),
            Path(device.id.clone()),
        )
        .await
        else {
            continue;
        };
        for delivery in &detail.0.deliveries {
            if matches!(
                delivery.state,
                DeliveryState::Started | DeliveryState::Finished
            ) {
                aired.push((
                    delivery.at,
                    delivery.airing.bulletin.to_string(),
                    device.name.clone(),
                ));
            }
        }
    }
    aired.sort_by_key(|a| std::cmp::Reverse(a.0));
    aired
}

/// A day's airings on every device of the commune, once each, in time order.
fn slots<'a>(view: &'a ProgrammeView, plans: impl Iterator<Item = &'a PlanItem>) -> Vec<Slot<'a>> {
    let mut seen = BTreeSet::new();
    let mut slots: Vec<Slot> = plans
        .filter(|item| seen.insert((item.start, item.key.bulletin.to_string())))
        .map(|item| Slot {
            start: item.start,
            end: item.end,
            line: view
                .bulletins
                .iter()
                .find(|b| b.id == item.key.bulletin.as_str()),
            bulletin: item.key.bulletin.to_string(),
        })
        .collect();
    slots.sort_by_key(|slot| slot.start);
    slots
}

/// Slots grouped into windows: runs of airings less than [`WINDOW_GAP`] apart.
fn windows<'a, 'b>(slots: &'b [Slot<'a>]) -> Vec<&'b [Slot<'a>]> {
    let mut groups = Vec::new();
    let mut from = 0;
    for i in 1..=slots.len() {
        let split = i == slots.len() || slots[i].start - slots[i - 1].end > WINDOW_GAP;
        if split {
            groups.push(&slots[from..i]);
            from = i;
        }
    }
    groups
}

fn day_table(lang: Lang, slots: &[Slot<'_>], marked: &mut BTreeSet<String>) -> Markup {
    let t = lang.texts();
    html! {
        @if slots.is_empty() { p { (t.nothing_planned) } }
        @for window in windows(slots) {
            @if let (Some(first), Some(last)) = (window.first(), window.last()) {
                h3 { (t.window) " " (local_time::clock(first.start)) "–" (local_time::clock(last.end)) }
            }
            table {
                @for slot in window {
                    // The first row of a bulletin carries its hook.
                    @let test = marked.insert(slot.bulletin.clone()).then(|| format!("slot-{}", slot.bulletin));
                    tr data-test=[test] {
                        td { (local_time::clock(slot.start)) "–" (local_time::clock(slot.end)) }
                        td { (slot.line.map_or(slot.bulletin.as_str(), |l| l.title.as_str())) }
                        td { @if let Some(line) = slot.line { (i18n::class(lang, line.class)) } }
                    }
                }
            }
        }
    }
}

fn render(
    person: &Person,
    view: &ProgrammeView,
    aired: &[(DateTime<Utc>, String, String)],
    flash: Option<&'static str>,
    error: Option<&ApiError>,
) -> Response {
    let (lang, t) = (person.lang, person.lang.texts());
    let base = format!("/console/communes/{}", view.commune);
    let mut marked = BTreeSet::new();
    let today = view
        .days
        .first()
        .map(|day| slots(view, day.devices.iter().flat_map(|d| d.plan.iter())));
    let order = priority_order(view);
    let normals: Vec<&BulletinLine> = view
        .bulletins
        .iter()
        .filter(|b| {
            b.class == PriorityClass::Normal
                && !b.state.is_final()
                && b.state != BulletinState::Draft
        })
        .collect();
    let title_of = |id: &str| {
        view.bulletins
            .iter()
            .find(|b| b.id == id)
            .map_or(id.to_owned(), |b| b.title.clone())
    };
    let body = html! {
        @if let Some(error) = error { (layout::error_box(lang, error)) }
        section.card data-test="programme-today" {
            h2 { (t.today) }
            (day_table(lang, today.as_deref().unwrap_or_default(), &mut marked))
        }
        section.card data-test="programme-week" {
            h2 { (t.this_week) }
            @for day in view.days.iter().skip(1) {
                h3 { (day.date.format("%d/%m/%Y")) }
                (day_table(lang, &slots(view, day.devices.iter().flat_map(|d| d.plan.iter())), &mut marked))
            }
        }
        section.card {
            h2 { (t.priority_order) }
            table {
                @for (i, line) in order.iter().enumerate() {
                    tr {
                        td { (i + 1) ". " (line.title) }
                        td {
                            @if i > 0 {
                                (action_button(person, &format!("{base}/order"), t.move_up, "", &format!("move-up-{}", line.id), &[("move", &line.id), ("direction", "up")]))
                            }
                            @if i + 1 < order.len() {
                                (action_button(person, &format!("{base}/order"), t.move_down, "", &format!("move-down-{}", line.id), &[("move", &line.id), ("direction", "down")]))
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (t.normal_offers) }
            table {
                @for line in normals {
                    @let opted = view.opt_ins.iter().any(|o| o.bulletin.as_str() == line.id);
                    @let action = format!("{base}/opt-ins/{}", line.id);
                    tr {
                        td { (line.title) @if opted { " " span.tag.ok { (t.opted_in) } } }
                        td {
                            @if opted {
                                (action_button(person, &action, t.opt_out, "", &format!("opt-out-{}", line.id), &[("choice", "out")]))
                            } @else {
                                (action_button(person, &action, t.opt_in, "primary", &format!("opt-in-{}", line.id), &[("choice", "in")]))
                            }
                        }
                    }
                }
            }
        }
        section.card data-test="aired-list" {
            h2 { (t.aired) }
            @if aired.is_empty() { p { (t.nothing_aired) } } @else {
                table {
                    tr { th { (t.time) } th { (t.title) } th { (t.device) } }
                    @for (at, bulletin, device) in aired {
                        tr { td { (local_time::show(*at)) } td { (title_of(bulletin)) } td { (device) } }
                    }
                }
            }
        }
    };
    let status = error.map_or(axum::http::StatusCode::OK, |e| e.status);
    let title = format!("{} · {}", t.commune_title, view.commune);
    (status, page(&Chrome::of(person, flash), &title, body)).into_response()
}

/// The programme again with the error of a refused change.
async fn refused(state: &ApiState, person: &Person, code: &str, error: ApiError) -> Response {
    match programme(state, person, code).await {
        Ok(view) => render(person, &view, &[], None, Some(&error)),
        Err(_) => layout::failure(person.lang, Some(person), &error),
    }
}

/// `POST /console/communes/{code}/order` (fields `move`, `direction`): the
/// bulletin swaps places with its neighbour, and the whole order is the
/// chair's.
pub async fn reorder(
    State(state): State<ApiState>,
    Path(code): Path<String>,
    form: Submitted,
) -> Response {
    let Submitted { person, fields } = form;
    let moved = async {
        let view = programme(&state, &person, &code).await?;
        let mut order: Vec<String> = priority_order(&view).iter().map(|b| b.id.clone()).collect();
        let wanted = fields.raw("move");
        let at = order.iter().position(|id| id == wanted).ok_or_else(|| {
            ApiError::invalid(
                "move",
                format!("{wanted:?} is not a priority bulletin of this commune"),
            )
        })?;
        let other = match fields.raw("direction") {
            "up" => at.checked_sub(1),
            "down" => Some(at + 1).filter(|next| *next < order.len()),
            _ => return Err(ApiError::invalid("direction", "move up or down")),
        }
        .ok_or_else(|| ApiError::invalid("direction", "it cannot move further that way"))?;
        order.swap(at, other);
        let request: OrderRequest = parse_json(
            &serde_json::to_vec(&json!({"order": order})).map_err(|e| ApiError::internal(&e))?,
        )?;
        api::reorder(
            State(state.clone()),
            person.caller(),
            Path(code.clone()),
            Body(request),
        )
        .await
    }
    .await;
    match moved {
        Ok(_) => Redirect::to(&format!("/console/communes/{code}?flash=reordered")).into_response(),
        Err(error) => refused(&state, &person, &code, error).await,
    }
}

/// `POST /console/communes/{code}/opt-ins/{bulletin}` (field `choice`:
/// `in`, from now on, or `out`).
pub async fn opt(
    State(state): State<ApiState>,
    Path((code, bulletin)): Path<(String, String)>,
    form: Submitted,
) -> Response {
    let Submitted { person, fields } = form;
    let path = Path((code.clone(), bulletin));
    let (done, flash) = match fields.raw("choice") {
        "in" => {
            let at = state.now().with_timezone(&local_time::TZ).naive_local();
            let request = OptInRequest { at };
            (
                api::opt_in(State(state.clone()), person.caller(), path, Body(request)).await,
                "opted_in",
            )
        }
        "out" => (
            api::opt_out(State(state.clone()), person.caller(), path).await,
            "opted_out",
        ),
        _ => (Err(ApiError::invalid("choice", "choose in or out")), ""),
    };
    match done {
        Ok(_) => Redirect::to(&format!("/console/communes/{code}?flash={flash}")).into_response(),
        Err(error) => refused(&state, &person, &code, error).await,
    }
}

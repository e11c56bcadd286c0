//! A commune chair's screen: today's and this week's programme, one table
//! per device kind (loudspeakers first: their order is what the chair
//! decides), grouped into the windows it airs in; the order of colliding
//! priority bulletins (moved up and down); the normal bulletins offered to
//! the commune, opted in or out; and what the commune's devices aired
//! today, from their proof of play (the receipts the reports count).

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, TimeDelta, Utc};
use hub_core::{AreaCode, BulletinState, DeliveryState, DeviceKind, PriorityClass};
use maud::{html, Markup};
use serde_json::json;

use super::form::Submitted;
use super::i18n::{self, Lang};
use super::layout::{self, action_button, page, Chrome, Flash};
use super::local_time::LocalTime;
use super::session::Person;
use crate::api::error::ApiError;
use crate::api::extract::{parse_json, Body, Query};
use crate::api::handlers::communes::{
    self as api, BulletinLine, DayView, OptInRequest, OrderRequest, ProgrammeQuery, ProgrammeView,
};
use crate::api::handlers::reports::proof_of_play;
use crate::api::state::ApiState;
use crate::reports::segments;

/// Airings further apart than this are in different windows.
const WINDOW_GAP: TimeDelta = TimeDelta::minutes(30);

/// One row of the programme: a bulletin airing from `start` to `end`.
struct Slot<'a> {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    line: Option<&'a BulletinLine>,
    bulletin: String,
}

/// What a device aired today: one stretch of playing.
struct Aired {
    device: String,
    device_name: String,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    /// How it ended: `finished`, `preempted`, `stopped`, `failed`, or
    /// `started` while it plays.
    outcome: DeliveryState,
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
            let local = LocalTime::of(&state);
            let aired = aired_today(&state, &person, &view, local).await;
            render(&person, local, &view, &aired, flash, None)
        }
        Err(error) => layout::failure(person.lang, Some(&person), &error),
    }
}

/// What the commune's devices aired today, by bulletin (the most recently
/// aired first, each newest first), from their proof of play. Empty for
/// someone who may not read the commune's reports.
async fn aired_today(
    state: &ApiState,
    person: &Person,
    view: &ProgrammeView,
    local: LocalTime,
) -> Vec<(String, Vec<Aired>)> {
    let Ok(commune) = AreaCode::parse(&view.commune) else {
        return Vec::new();
    };
    let now = state.now();
    let (_, midnight, _) = local.day_of(now);
    let proof = match proof_of_play(state, &person.caller, &commune, midnight, now).await {
        Ok(proof) => proof,
        Err(error) => {
            tracing::debug!(message = %error.body.message, "no proof of play for the commune page");
            return Vec::new();
        }
    };
    let name = |id: &hub_core::DeviceId| {
        proof
            .devices
            .iter()
            .find(|d| &d.id == id)
            .map_or_else(|| id.to_string(), |d| d.name.clone())
    };
    let mut by_bulletin: BTreeMap<String, Vec<Aired>> = BTreeMap::new();
    for (device, stretches) in segments(&proof.receipts) {
        for segment in stretches {
            let Some(start) = segment.start.filter(|start| *start >= midnight) else {
                continue;
            };
            by_bulletin
                .entry(segment.airing.bulletin.to_string())
                .or_default()
                .push(Aired {
                    device: device.to_string(),
                    device_name: name(device),
                    start,
                    end: segment.end,
                    outcome: segment.outcome,
                });
        }
    }
    let mut aired: Vec<(String, Vec<Aired>)> = by_bulletin.into_iter().collect();
    for (_, rows) in &mut aired {
        rows.sort_by_key(|row| std::cmp::Reverse(row.start));
    }
    aired.sort_by_key(|(_, rows)| std::cmp::Reverse(rows.first().map(|row| row.start)));
    aired
}

/// A day's airings on the commune's devices of `kind`, once each, in time order.
fn slots<'a>(view: &'a ProgrammeView, day: &'a DayView, kind: DeviceKind) -> Vec<Slot<'a>> {
    let mut seen = BTreeSet::new();
    let mut slots: Vec<Slot> = day
        .devices
        .iter()
        .filter(|device| device.kind == kind)
        .flat_map(|device| device.plan.iter())
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

/// A day's programme: a table per device kind the commune has, by window.
/// The first row of a bulletin on the page carries its `slot-{id}` hook, so
/// with loudspeakers first it marks the loudspeakers' airing.
fn day_tables(
    lang: Lang,
    local: LocalTime,
    view: &ProgrammeView,
    day: &DayView,
    marked: &mut BTreeSet<String>,
) -> Markup {
    let t = lang.texts();
    // Loudspeakers first: theirs is the order the chair decides.
    let kinds: Vec<(DeviceKind, Vec<Slot>)> = DeviceKind::ALL
        .into_iter()
        .filter(|kind| day.devices.iter().any(|d| d.kind == *kind))
        .map(|kind| (kind, slots(view, day, kind)))
        .collect();
    html! {
        @if kinds.iter().all(|(_, slots)| slots.is_empty()) { p { (t.nothing_planned) } }
        @else {
            @for (kind, slots) in &kinds {
                h4 { (i18n::device_kind(lang, *kind)) }
                @if slots.is_empty() { p { (t.nothing_planned) } }
                @for window in windows(slots) {
                    table {
                        @if let (Some(first), Some(last)) = (window.first(), window.last()) {
                            caption { (t.window) " " (local.span(first.start, last.end)) }
                        }
                        @for slot in window {
                            @let test = marked.insert(slot.bulletin.clone()).then(|| format!("slot-{}", slot.bulletin));
                            tr data-test=[test] data-kind=(kind_code(*kind)) {
                                td { (local.span(slot.start, slot.end)) }
                                td { (slot.line.map_or(slot.bulletin.as_str(), |l| l.title.as_str())) }
                                td { @if let Some(line) = slot.line { (i18n::class(lang, line.class)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The kind as the API spells it.
fn kind_code(kind: DeviceKind) -> &'static str {
    match kind {
        DeviceKind::Loudspeaker => "loudspeaker",
        DeviceKind::LedBoard => "led_board",
    }
}

/// When an airing ended, or how it stands.
fn ending(lang: Lang, local: LocalTime, row: &Aired) -> String {
    match (row.outcome, row.end) {
        (DeliveryState::Finished, Some(end)) => local.clock_secs(end),
        (outcome, Some(end)) => format!(
            "{} {}",
            i18n::delivery(lang, outcome),
            local.clock_secs(end)
        ),
        (outcome, None) => i18n::delivery(lang, outcome).to_owned(),
    }
}

fn aired_list(
    lang: Lang,
    local: LocalTime,
    aired: &[(String, Vec<Aired>)],
    title_of: impl Fn(&str) -> String,
) -> Markup {
    let t = lang.texts();
    html! {
        section.card data-test="aired-list" {
            h2 { (t.aired_today) }
            @if aired.is_empty() { p { (t.nothing_aired) } }
            @for (bulletin, rows) in aired {
                table data-test={ "aired-" (bulletin) } {
                    caption { (title_of(bulletin)) }
                    tr { th { (t.device) } th { (t.started_at) } th { (t.ended_at) } }
                    @for row in rows {
                        tr {
                            td { (row.device_name) " " small { (row.device) } }
                            td { (local.clock_secs(row.start)) }
                            td { (ending(lang, local, row)) }
                        }
                    }
                }
            }
        }
    }
}

fn render(
    person: &Person,
    local: LocalTime,
    view: &ProgrammeView,
    aired: &[(String, Vec<Aired>)],
    flash: Option<&'static str>,
    error: Option<&ApiError>,
) -> Response {
    let (lang, t) = (person.lang, person.lang.texts());
    let base = format!("/console/communes/{}", view.commune);
    let mut marked = BTreeSet::new();
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
            @if let Some(today) = view.days.first() {
                (day_tables(lang, local, view, today, &mut marked))
            } @else {
                p { (t.nothing_planned) }
            }
        }
        section.card data-test="programme-week" {
            h2 { (t.this_week) }
            @for day in view.days.iter().skip(1) {
                h3 { (day.date.format("%d/%m/%Y")) }
                (day_tables(lang, local, view, day, &mut marked))
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
        (aired_list(lang, local, aired, title_of))
    };
    let status = error.map_or(axum::http::StatusCode::OK, |e| e.status);
    let title = format!("{} · {}", t.commune_title, view.commune);
    (status, page(&Chrome::of(person, flash), &title, body)).into_response()
}

/// The programme again with the error of a refused change.
async fn refused(state: &ApiState, person: &Person, code: &str, error: ApiError) -> Response {
    match programme(state, person, code).await {
        Ok(view) => {
            let local = LocalTime::of(state);
            let aired = aired_today(state, person, &view, local).await;
            render(person, local, &view, &aired, None, Some(&error))
        }
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
            let at = LocalTime::of(&state).naive(state.now());
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

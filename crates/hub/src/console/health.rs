//! `GET /console/health`: the area tree of device health, map-free: each
//! area with its counts, each commune with its alarms and its devices
//! (online, playing, faults, last seen). The page reloads itself every
//! 15 seconds. What the API's `GET /api/v1/health` answers, drawn.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use super::i18n::Lang;
use super::layout::{self, page, Chrome, Flash};
use super::local_time::LocalTime;
use super::session::Person;
use crate::api::handlers::health::{health_tree, AreaHealth, DeviceHealthView};
use crate::api::state::ApiState;

pub async fn show(State(state): State<ApiState>, person: Person, Flash(flash): Flash) -> Response {
    let tree = match health_tree(&state, &person.caller, None).await {
        Ok(tree) => tree,
        Err(error) => return layout::failure(person.lang, Some(&person), &error),
    };
    let t = person.lang.texts();
    let local = LocalTime::of(&state);
    let body = html! {
        meta http-equiv="refresh" content="15";
        p { (t.last_seen) ": " (local.show(tree.at)) }
        ul.tree.root data-test="health-tree" { (area(person.lang, local, &tree.area)) }
    };
    page(&Chrome::of(&person, flash), t.health_title, body).into_response()
}

fn area(lang: Lang, local: LocalTime, area: &AreaHealth) -> Markup {
    let t = lang.texts();
    let c = area.counts;
    let is_commune = area.level == "commune";
    let alarm = !area.alarms.is_empty() || area.devices.iter().any(|d| d.alarm.is_some());
    html! {
        li.card data-test=[is_commune.then(|| format!("health-commune-{}", area.code))]
            data-alarm=[is_commune.then_some(if alarm { "true" } else { "false" })] {
            strong { (area.name) " (" (area.code) ")" }
            " "
            span.tag.ok { (t.online) " " (c.online) "/" (c.devices) }
            " " span.tag { (t.playing) " " (c.playing) }
            @if c.faulty > 0 { " " span.tag.warn { (t.faults) " " (c.faulty) } }
            @if c.alarms > 0 { " " span.tag.bad { (t.alarm) " " (c.alarms) } }
            @for alarm in &area.alarms { p.error { (alarm.message) } }
            @if is_commune {
                @if area.devices.is_empty() { p { (t.no_devices) } } @else {
                    table { @for d in &area.devices { (device(lang, local, d)) } }
                }
            }
            @if !area.children.is_empty() {
                ul.tree { @for child in &area.children { (self::area(lang, local, child)) } }
            }
        }
    }
}

fn device(lang: Lang, local: LocalTime, d: &DeviceHealthView) -> Markup {
    let t = lang.texts();
    html! {
        tr data-test={ "health-device-" (d.id) } data-online=(d.online) {
            td { (d.name) br; small { (d.id) } }
            td {
                @if d.online { span.tag.ok { (t.online) } } @else { span.tag.bad { (t.offline) } }
                @if let Some(playing) = &d.playing {
                    " " span.tag { (t.playing) ": " (playing.title.as_deref().unwrap_or(&playing.bulletin)) }
                }
            }
            td {
                @if !d.faults.is_empty() { (t.faults) ": " (d.faults.join(", ")) br; }
                @if let Some(alarm) = &d.alarm { span.tag.bad { (alarm.message) } br; }
                (t.last_seen) ": " (d.last_seen.map_or("—".to_owned(), |at| local.show(at)))
            }
        }
    }
}

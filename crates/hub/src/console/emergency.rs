//! The operator's emergency screen: choose areas, pick a recording, type a
//! text to speak, or speak live; a first confirmation showing what will
//! happen and how many devices it reaches; a second (a ticked box and the
//! trigger button); then the status page with who has started playing and
//! a big stop button.
//!
//! Triggering and stopping are the API's (`emergencies::trigger`, `stop`);
//! live speech is the live module's WebSocket session, opened from the
//! browser on `/console/emergency/live` with the person's session cookie
//! and form token (the page records with `getUserMedia`, encodes with
//! WebCodecs' Opus `AudioEncoder`, one packet per binary message).

use std::collections::BTreeSet;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use hub_core::{BulletinState, Delivery, DeliveryState};
use maud::{html, Markup, PreEscaped};
use serde_json::json;

use super::area_tree;
use super::bulletins::{areas_of, load};
use super::csrf;
use super::form::{Fields, Submitted};
use super::i18n;
use super::layout::{self, csrf_field, page, Chrome, Flash};
use super::local_time::LocalTime;
use super::session::Person;
use super::upload;
use crate::api::error::ApiError;
use crate::api::extract::{parse_json, Body, Query};
use crate::api::handlers::areas::AreaView;
use crate::api::handlers::bulletins as bulletin_api;
use crate::api::handlers::devices::{self, DeviceQuery};
use crate::api::handlers::emergencies::{self as api, EmergencyRequest};
use crate::api::handlers::Reason;
use crate::api::state::ApiState;
use crate::live::{self, LiveRequest};

/// What the operator chose, carried from the form to the confirmations.
struct Choice {
    title: String,
    targets: Vec<String>,
    mode: String,
    text: String,
    audio_sha256: String,
    valid_minutes: String,
}

impl Choice {
    fn from_fields(fields: &Fields, default_title: &str) -> Choice {
        Choice {
            title: fields.get("title").unwrap_or(default_title).to_owned(),
            targets: fields
                .all("target")
                .into_iter()
                .map(str::to_owned)
                .collect(),
            mode: fields.get("mode").unwrap_or("text").to_owned(),
            text: fields.raw("text").trim().to_owned(),
            audio_sha256: fields.raw("audio_sha256").to_owned(),
            valid_minutes: fields.get("valid_minutes").unwrap_or("60").to_owned(),
        }
    }

    fn hidden(&self) -> Markup {
        html! {
            input type="hidden" name="title" value=(self.title);
            @for target in &self.targets { input type="hidden" name="target" value=(target); }
            input type="hidden" name="mode" value=(self.mode);
            input type="hidden" name="text" value=(self.text);
            input type="hidden" name="audio_sha256" value=(self.audio_sha256);
            input type="hidden" name="valid_minutes" value=(self.valid_minutes);
        }
    }

    /// The API's request for this choice (not for live speech).
    fn request(&self) -> Result<EmergencyRequest, ApiError> {
        let minutes: u32 = self
            .valid_minutes
            .parse()
            .map_err(|_| ApiError::invalid("valid_minutes", "give the minutes it stays valid"))?;
        let (message, upload) = match self.mode.as_str() {
            "file" => (
                (!self.text.is_empty()).then_some(self.text.clone()),
                Some(self.audio_sha256.clone()),
            ),
            _ => (Some(self.text.clone()), None),
        };
        let body = json!({"title": self.title, "targets": self.targets, "message": message,
            "upload": upload, "valid_minutes": minutes});
        parse_json(&serde_json::to_vec(&body).map_err(|e| ApiError::internal(&e))?)
    }
}

/// `GET /console/emergency`
pub async fn form(State(state): State<ApiState>, person: Person) -> Response {
    let choice = Choice::from_fields(
        &Fields::default(),
        person.lang.texts().emergency_default_title,
    );
    match areas_of(&state, &person).await {
        Ok(areas) => form_page(&person, &areas, &choice, None),
        Err(error) => layout::failure(person.lang, Some(&person), &error),
    }
}

fn form_page(
    person: &Person,
    areas: &[AreaView],
    choice: &Choice,
    error: Option<&ApiError>,
) -> Response {
    let (lang, t) = (person.lang, person.lang.texts());
    let targets: Vec<&str> = choice.targets.iter().map(String::as_str).collect();
    let mode = |value: &str, label: &str| {
        html! {
            label.check {
                input type="radio" name="mode" value=(value) checked[choice.mode == value]
                    data-test={ "emergency-mode-" (value) };
                (label)
            }
        }
    };
    let body = html! {
        @if let Some(error) = error { (layout::error_box(lang, error)) }
        form.card method="post" action="/console/emergency/review" enctype="multipart/form-data" {
            (csrf_field(person))
            label { (t.emergency_heading) input type="text" name="title" value=(choice.title) required data-test="emergency-title"; }
            fieldset.card {
                legend { (t.targets) }
                (area_tree::checkboxes(areas, "target", "emergency-target-", &targets))
            }
            fieldset.card {
                legend { (t.mode) }
                (mode("text", t.mode_text))
                (mode("file", t.mode_file))
                (mode("live", t.mode_live))
            }
            label { (t.emergency_text) textarea name="text" data-test="emergency-text" { (choice.text) } }
            label { (t.emergency_file) input type="file" name="audio" accept="audio/*,.m4a,.ogg,.opus,.flac,.wav,.mp3" data-test="emergency-file"; }
            label { (t.valid_minutes) input type="number" name="valid_minutes" min="1" max="1440" value=(choice.valid_minutes) data-test="emergency-valid-minutes"; }
            button.danger type="submit" data-test="emergency-review" { (t.review_step) }
        }
    };
    let status = error.map_or(axum::http::StatusCode::OK, |e| e.status);
    (
        status,
        page(&Chrome::of(person, None), t.emergency_title, body),
    )
        .into_response()
}

/// The devices in `targets` (each checked by the API for the person's scope).
async fn devices_in(
    state: &ApiState,
    person: &Person,
    targets: &[String],
) -> Result<Vec<devices::DeviceView>, ApiError> {
    if targets.is_empty() {
        return Err(ApiError::invalid(
            "targets",
            "name at least one target area",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for target in targets {
        let area = hub_core::AreaCode::parse(target)
            .map_err(|e| ApiError::invalid("targets", e.to_string()))?;
        let query = DeviceQuery { area: Some(area) };
        let listed = devices::list(State(state.clone()), person.caller(), Query(query)).await?;
        found.extend(listed.0.into_iter().filter(|d| seen.insert(d.id.clone())));
    }
    Ok(found)
}

/// `POST /console/emergency/review`: the first confirmation.
pub async fn review(State(state): State<ApiState>, form: Submitted) -> Response {
    let Submitted { person, fields } = form;
    let mut choice = Choice::from_fields(&fields, person.lang.texts().emergency_default_title);
    let checked = async {
        if choice.mode == "file" {
            let file = fields
                .file("audio")
                .ok_or_else(|| ApiError::invalid("audio", "choose the recording to play"))?;
            choice.audio_sha256 = upload::audio(&state, &person, file, "audio").await?;
        } else if choice.text.is_empty() {
            return Err(ApiError::invalid("text", "type the message"));
        }
        devices_in(&state, &person, &choice.targets).await
    }
    .await;
    match checked {
        Ok(devices) => confirm_page(&state, &person, &choice, devices.len(), None),
        Err(error) => match areas_of(&state, &person).await {
            Ok(areas) => form_page(&person, &areas, &choice, Some(&error)),
            Err(_) => layout::failure(person.lang, Some(&person), &error),
        },
    }
}

fn confirm_page(
    state: &ApiState,
    person: &Person,
    choice: &Choice,
    devices: usize,
    error: Option<&ApiError>,
) -> Response {
    let (lang, t) = (person.lang, person.lang.texts());
    let names: Vec<String> = choice
        .targets
        .iter()
        .map(|code| {
            let name = state
                .tree
                .get(&match hub_core::AreaCode::parse(code) {
                    Ok(c) => c,
                    Err(_) => return code.clone(),
                })
                .map_or(code.clone(), |area| area.name.clone());
            format!("{name} ({code})")
        })
        .collect();
    let live = choice.mode == "live";
    let body = html! {
        @if let Some(error) = error { (layout::error_box(lang, error)) }
        div.card {
            p.big { (choice.title) }
            p { (t.targets) ": " @for name in &names { span.tag { (name) } " " } }
            p { (t.mode) ": " (match choice.mode.as_str() { "file" => t.mode_file, "live" => t.mode_live, _ => t.mode_text }) }
            @if !choice.text.is_empty() { p { (t.emergency_text) ": " (choice.text) } }
            @if !choice.audio_sha256.is_empty() {
                audio controls src={ "/console/media/" (choice.audio_sha256) } data-test="audio-preview" {}
            }
            p.big { (t.confirm_devices) ": " span data-test="emergency-devices" { (devices) } }
        }
        form.card #trigger method="post" action="/console/emergency" {
            (csrf_field(person))
            (choice.hidden())
            label.check { input type="checkbox" name="confirm" value="yes" required data-test="emergency-confirm"; (t.confirm_check) }
            button.danger type="submit" data-test="emergency-trigger" { (t.trigger) }
            p #live-status role="status" {}
        }
        @if live { (live_script(person)) }
        p { a href="/console/emergency" { (t.back) } }
    };
    let status = error.map_or(axum::http::StatusCode::OK, |e| e.status);
    (
        status,
        page(&Chrome::of(person, None), t.confirm_title, body),
    )
        .into_response()
}

/// Speaks live instead of submitting: the microphone, encoded to Opus in
/// the browser, one packet per WebSocket message; a link to the status page
/// once the stream has started, and the status page itself once it ended.
fn live_script(person: &Person) -> Markup {
    let t = person.lang.texts();
    let words = json!({"unavailable": t.live_unavailable, "no_microphone": t.live_no_microphone,
        "not_started": t.live_not_started, "stop": t.stop, "confirm": t.confirm_missing});
    html! {
        script { (PreEscaped(format!("const WORDS = {words};"))) (PreEscaped(LIVE_JS)) }
    }
}

/// The microphone is asked for first, so the stream (which interrupts every
/// targeted device) starts only once there is a voice to send. The socket's
/// handlers are set as it is made: a socket opens while the page awaits
/// anything, and a handler set after that never hears of it. Stopping ends
/// the microphone's track; the packets still in the encoder are sent before
/// the `end` message, so the last words are aired.
const LIVE_JS: &str = r#"
document.getElementById('trigger').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target, status = document.getElementById('live-status');
  const trigger = form.querySelector('[data-test="emergency-trigger"]');
  if (!form.confirm.checked) { status.textContent = WORDS.confirm; return; }
  if (!window.AudioEncoder || !window.MediaStreamTrackProcessor || !navigator.mediaDevices) {
    status.textContent = WORDS.unavailable; return;
  }
  trigger.disabled = true;
  let media;
  try {
    media = await navigator.mediaDevices.getUserMedia({audio: {channelCount: 1, sampleRate: 48000}});
  } catch (e) {
    status.textContent = `${WORDS.no_microphone} (${e.message})`; trigger.disabled = false; return;
  }
  const track = media.getAudioTracks()[0];
  const query = new URLSearchParams(new FormData(form));
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(`${scheme}//${location.host}/console/emergency/live?${query}`);
  socket.binaryType = 'arraybuffer';
  let emergency = null;
  const encoder = new AudioEncoder({
    output: (chunk) => {
      const packet = new Uint8Array(chunk.byteLength);
      chunk.copyTo(packet);
      if (socket.readyState === WebSocket.OPEN) socket.send(packet);
    },
    error: (e) => { status.textContent = e.message; track.stop(); },
  });
  encoder.configure({codec: 'opus', sampleRate: 48000, numberOfChannels: 1, bitrate: 24000,
    opus: {frameDuration: 20000}});
  const stop = document.createElement('button');
  stop.className = 'danger'; stop.type = 'button'; stop.textContent = WORDS.stop;
  stop.dataset.test = 'emergency-live-stop';
  stop.onclick = () => { stop.disabled = true; track.stop(); };
  form.appendChild(stop);
  socket.onmessage = (message) => {
    const notice = JSON.parse(message.data);
    if (notice.type === 'started') {
      emergency = notice.bulletin.bulletin.id;
      const link = document.createElement('a');
      link.href = `/console/emergencies/${encodeURIComponent(emergency)}`;
      link.textContent = notice.bulletin.bulletin.title;
      status.replaceChildren(link);
    } else if (notice.type === 'error') { status.textContent = notice.message; track.stop(); }
    else if (notice.type === 'ended') {
      track.stop();
      location.assign(`/console/emergencies/${encodeURIComponent(notice.bulletin)}?flash=stopped`);
    }
  };
  socket.onclose = () => {
    track.stop();
    if (emergency === null && status.textContent === '') status.textContent = WORDS.not_started;
  };
  socket.onopen = async () => {
    const reader = new MediaStreamTrackProcessor({track}).readable.getReader();
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      encoder.encode(value); value.close();
    }
    await encoder.flush();
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({type: 'end'}));
  };
});
"#;

/// `POST /console/emergency`: the second confirmation; triggers it.
pub async fn trigger(State(state): State<ApiState>, form: Submitted) -> Response {
    let Submitted { person, fields } = form;
    let choice = Choice::from_fields(&fields, person.lang.texts().emergency_default_title);
    let triggered = async {
        if fields.get("confirm").is_none() {
            return Err(ApiError::invalid(
                "confirm",
                person.lang.texts().confirm_missing,
            ));
        }
        if choice.mode == "live" {
            // Live speech streams from the page's script, never as a form.
            return Err(ApiError::invalid(
                "mode",
                person.lang.texts().live_unavailable,
            ));
        }
        let request = choice.request()?;
        let (_, view) = api::trigger(State(state.clone()), person.caller(), Body(request)).await?;
        Ok(view.0.bulletin.id)
    }
    .await;
    match triggered {
        Ok(id) => {
            Redirect::to(&format!("/console/emergencies/{id}?flash=triggered")).into_response()
        }
        Err(error) => {
            let devices = devices_in(&state, &person, &choice.targets)
                .await
                .map_or(0, |d| d.len());
            confirm_page(&state, &person, &choice, devices, Some(&error))
        }
    }
}

/// `GET /console/emergency/live`: the live stream's WebSocket. The form
/// token rides in the query (a WebSocket handshake carries no form) and is
/// checked before anything is prepared.
pub async fn live_stream(
    State(state): State<ApiState>,
    person: Person,
    uri: Uri,
    upgrade: WebSocketUpgrade,
) -> Response {
    let query = uri.query().unwrap_or_default();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if !csrf::matches(&person.csrf, get(csrf::FIELD)) {
        return layout::csrf_refused(person.lang, Some(&person));
    }
    let targets: Result<Vec<hub_core::AreaCode>, ApiError> = pairs
        .iter()
        .filter(|(k, _)| k == "target")
        .map(|(_, v)| {
            hub_core::AreaCode::parse(v).map_err(|e| ApiError::invalid("targets", e.to_string()))
        })
        .collect();
    let prepared = targets.and_then(|targets| {
        let request = LiveRequest {
            title: get("title").map(str::to_owned),
            targets,
            text: get("text").unwrap_or_default().to_owned(),
            language: None,
            max_secs: None,
        };
        live::prepare(&state, &person.caller, request)
    });
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return layout::failure(person.lang, Some(&person), &error),
    };
    let caller = person.caller();
    upgrade.on_upgrade(move |socket| async move {
        if let Err(error) = live::serve(state, caller, prepared, socket).await {
            tracing::warn!(message = %error.body.message, "live emergency from the console failed");
        }
    })
}

/// How far an emergency got on the devices it targets.
#[derive(Debug, Default, PartialEq, Eq)]
struct Progress {
    targeted: usize,
    /// Started playing (those that finished, were cut or stopped included).
    started: usize,
    finished: usize,
    failed: usize,
}

/// A targeted device and where the emergency stands on it (its latest
/// delivery), if it has been delivered.
struct DeviceLine {
    id: String,
    name: String,
    delivery: Option<(DeliveryState, chrono::DateTime<chrono::Utc>)>,
}

impl DeviceLine {
    fn started(&self) -> bool {
        self.delivery.is_some_and(|(state, _)| {
            matches!(
                state,
                DeliveryState::Started
                    | DeliveryState::Finished
                    | DeliveryState::Preempted
                    | DeliveryState::Stopped
            )
        })
    }

    fn is(&self, wanted: DeliveryState) -> bool {
        self.delivery.is_some_and(|(state, _)| state == wanted)
    }
}

/// Each targeted device with its latest delivery of the emergency, and
/// the counts.
fn progress(
    devices: Vec<devices::DeviceView>,
    deliveries: &[Delivery],
) -> (Progress, Vec<DeviceLine>) {
    let lines: Vec<DeviceLine> = devices
        .into_iter()
        .map(|device| {
            let delivery = deliveries
                .iter()
                .filter(|d| d.device.as_str() == device.id)
                .max_by_key(|d| d.at)
                .map(|d| (d.state, d.at));
            DeviceLine {
                id: device.id,
                name: device.name,
                delivery,
            }
        })
        .collect();
    let progress = Progress {
        targeted: lines.len(),
        started: lines.iter().filter(|l| l.started()).count(),
        finished: lines
            .iter()
            .filter(|l| l.is(DeliveryState::Finished))
            .count(),
        failed: lines.iter().filter(|l| l.is(DeliveryState::Failed)).count(),
    };
    (progress, lines)
}

/// `GET /console/emergencies/{id}`: state, how far it got on the devices it
/// targets (from the emergency's deliveries, in one request), stop.
pub async fn status(
    State(state): State<ApiState>,
    person: Person,
    Path(id): Path<String>,
    Flash(flash): Flash,
) -> Response {
    let view = match load(&state, person.caller(), &id).await {
        Ok(view) => view,
        Err(error) => return layout::failure(person.lang, Some(&person), &error),
    };
    let b = &view.bulletin;
    let (lang, t) = (person.lang, person.lang.texts());
    let targets: Vec<String> = b.targets.iter().map(ToString::to_string).collect();
    // The page still shows the state and the stop button when the devices
    // cannot be read; the reason is shown instead of the counts.
    let read = async {
        let devices = devices_in(&state, &person, &targets).await?;
        let path = Path(id.clone());
        let deliveries =
            bulletin_api::deliveries(State(state.clone()), person.caller(), path).await?;
        Ok::<_, ApiError>((devices, deliveries.0.deliveries))
    }
    .await;
    let (devices, deliveries, unread) = match read {
        Ok((devices, deliveries)) => (devices, deliveries, None),
        Err(error) => (Vec::new(), Vec::new(), Some(error)),
    };
    let (counts, lines) = progress(devices, &deliveries);
    let started: Vec<&DeviceLine> = lines.iter().filter(|l| l.started()).collect();
    let failed: Vec<&DeviceLine> = lines
        .iter()
        .filter(|l| l.is(DeliveryState::Failed))
        .collect();
    let live = !b.state.is_final();
    let local = LocalTime::of(&state);
    let row = |line: &DeviceLine, test: &str| {
        html! {
            tr data-test={ (test) (line.id) } {
                td { (line.name) " " small { (line.id) } }
                @if let Some((state, at)) = line.delivery {
                    td { (i18n::delivery(lang, state)) }
                    td { (local.show(at)) }
                }
            }
        }
    };
    let count = |label: &str, hook: &str, value: usize| {
        html! { span.tag { (label) ": " strong data-test={ "emergency-count-" (hook) } { (value) } } " " }
    };
    let body = html! {
        @if live { meta http-equiv="refresh" content="5"; }
        @if let Some(error) = &unread { (layout::error_box(lang, error)) }
        div.card {
            p.big { (t.state) ": " span data-test="emergency-state" data-state=(serde_json::to_value(b.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()) { (i18n::state(lang, b.state)) } }
            p.big {
                (count(t.count_targeted, "targeted", counts.targeted))
                (count(t.count_started, "started", counts.started))
                (count(t.count_finished, "finished", counts.finished))
                (count(t.count_failed, "failed", counts.failed))
            }
            p { (t.targets) ": " @for target in &b.targets { span.tag { (target) } " " } }
            p { (t.validity) ": " (local.show(b.validity.not_before)) " – " (local.show(b.validity.expires)) }
        }
        section.card {
            h2 { (t.started_on) ": " (counts.started) " / " (counts.targeted) }
            @if started.is_empty() { p { (t.none_yet) } } @else {
                table { @for line in &started { (row(line, "emergency-device-")) } }
            }
        }
        @if !failed.is_empty() {
            section.card {
                h2 { (t.failed_on) }
                table { @for line in &failed { (row(line, "emergency-failed-")) } }
            }
        }
        @if b.state != BulletinState::Cancelled && live {
            form.card method="post" action={ "/console/emergencies/" (b.id) "/stop" } {
                (csrf_field(&person))
                label { (t.reason) input type="text" name="reason" value=(t.stop_reason_default) data-test="emergency-stop-reason"; }
                button.danger type="submit" data-test="emergency-stop" { (t.stop) }
            }
        }
    };
    page(
        &Chrome::of(&person, flash),
        &format!("{} · {}", t.emergency_status, b.title),
        body,
    )
    .into_response()
}

/// `POST /console/emergencies/{id}/stop`
pub async fn stop(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    form: Submitted,
) -> Response {
    let Submitted { person, fields } = form;
    let reason = Reason {
        reason: fields
            .get("reason")
            .unwrap_or(person.lang.texts().stop_reason_default)
            .to_owned(),
    };
    match api::stop(
        State(state.clone()),
        person.caller(),
        Path(id.clone()),
        Body(reason),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/console/emergencies/{id}?flash=stopped")).into_response(),
        Err(error) => layout::failure(person.lang, Some(&person), &error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_core::testkit::{bid, device_id, lang};
    use hub_core::{AiringKey, DeviceKind};

    fn device(id: &str) -> devices::DeviceView {
        devices::DeviceView {
            id: id.to_owned(),
            kind: DeviceKind::Loudspeaker,
            commune: "24611".to_owned(),
            name: format!("Cụm loa {id}"),
            online: true,
            last_seen: None,
            status: None,
        }
    }

    fn delivery(device: &str, state: DeliveryState, at: &str) -> Delivery {
        Delivery {
            device: device_id(device),
            airing: AiringKey {
                bulletin: bid("khan-cap"),
                occurrence: 0,
                language: lang("vi"),
            },
            state,
            seq: None,
            at: at.parse().unwrap(),
            reason: None,
        }
    }

    #[test]
    fn the_counts_follow_each_devices_latest_delivery() {
        let devices = ["A-1", "A-2", "A-3", "A-4", "A-5"]
            .into_iter()
            .map(device)
            .collect();
        let deliveries = [
            delivery("A-1", DeliveryState::Finished, "2026-11-23T03:00:09Z"),
            delivery("A-2", DeliveryState::Started, "2026-11-23T03:00:02Z"),
            delivery("A-3", DeliveryState::Failed, "2026-11-23T03:00:03Z"),
            delivery("A-4", DeliveryState::Sent, "2026-11-23T03:00:01Z"),
            // Cut by a newer emergency: it played, so it started.
            delivery("A-5", DeliveryState::Preempted, "2026-11-23T03:00:05Z"),
            // A device outside the targets is not counted.
            delivery("B-1", DeliveryState::Finished, "2026-11-23T03:00:05Z"),
        ];
        let (counts, lines) = progress(devices, &deliveries);
        assert_eq!(
            counts,
            Progress {
                targeted: 5,
                started: 3,
                finished: 1,
                failed: 1,
            }
        );
        let started: Vec<&str> = lines
            .iter()
            .filter(|l| l.started())
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(started, ["A-1", "A-2", "A-5"]);
    }
}

//! Editors' screens: the bulletins in their area, the compose form
//! (text, recording, picture, category, level, priority, language, targets
//! from the area tree, validity, repetition), a bulletin's page with its
//! audio and board previews, and submitting it.
//!
//! The form becomes the API's `BulletinRequest` (parsed by the API's own
//! parser, so errors name the same fields); files go through the API's
//! upload handlers first, and their hashes are kept in the form when it
//! comes back with an error, so nothing is uploaded twice.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::TimeDelta;
use hub_access::Role;
use hub_core::{AreaLevel, AudioPart, BulletinState, Category, PriorityClass, Variant};
use maud::{html, Markup};
use serde_json::{json, Value};

use super::area_tree;
use super::form::{Fields, Submitted};
use super::i18n::{self, Lang, CATEGORIES};
use super::layout::{self, action_button, csrf_field, page, Chrome, Flash};
use super::local_time::LocalTime;
use super::session::Person;
use super::upload;
use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::extract::{parse_json, Body};
use crate::api::handlers::areas::{self, AreaView};
use crate::api::handlers::bulletins::{self as api, BulletinRequest, BulletinView};
use crate::api::state::ApiState;

/// Languages offered for a bulletin: Vietnamese and the ethnic-minority
/// languages communes broadcast in.
const LANGUAGES: [(&str, &str); 6] = [
    ("vi", "Tiếng Việt"),
    ("mnong", "M'Nông"),
    ("ede", "Ê Đê"),
    ("jrai", "Gia Rai"),
    ("khmer", "Khmer"),
    ("en", "English"),
];

/// How a bulletin or value is spelt in the API (`daily_life`).
fn api_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The areas as the API lists them for `person`.
pub async fn areas_of(state: &ApiState, person: &Person) -> Result<Vec<AreaView>, ApiError> {
    Ok(areas::list(State(state.clone()), person.caller()).await?.0)
}

/// `GET /console/bulletins`
pub async fn list(State(state): State<ApiState>, person: Person, Flash(flash): Flash) -> Response {
    let views = match api::list(State(state.clone()), person.caller()).await {
        Ok(views) => views.0,
        Err(error) => return layout::failure(person.lang, Some(&person), &error),
    };
    let (lang, t) = (person.lang, person.lang.texts());
    let local = LocalTime::of(&state);
    let body = html! {
        @if views.is_empty() { p { (t.no_bulletins) } } @else {
            table {
                thead { tr { th { (t.title) } th { (t.priority) } th { (t.state) } th { (t.validity) } } }
                tbody {
                    @for view in views.iter().rev() {
                        @let b = &view.bulletin;
                        tr {
                            td { a href={ "/console/bulletins/" (b.id) } data-test={ "bulletin-" (b.id) } { (b.title) } }
                            td { (i18n::class(lang, b.class)) }
                            td { (i18n::state(lang, b.state)) }
                            td { (local.show(b.validity.not_before)) " – " (local.show(b.validity.expires)) }
                        }
                    }
                }
            }
        }
    };
    page(&Chrome::of(&person, flash), t.bulletins_title, body).into_response()
}

/// What the compose form shows: what the person typed, or the defaults.
struct Compose {
    title: String,
    text: String,
    category: String,
    level: String,
    class: String,
    language: String,
    targets: Vec<String>,
    valid_from: String,
    valid_until: String,
    recurrence: String,
    recurrence_days: String,
    board_secs: String,
    sensitive: bool,
    audio_sha256: String,
    image_sha256: String,
}

impl Compose {
    fn defaults(state: &ApiState, person: &Person) -> Compose {
        let now = state.now();
        let local = LocalTime::of(state);
        let level = state
            .tree
            .get(&person.caller.principal.area)
            .map_or(AreaLevel::Province, |area| area.level);
        Compose {
            title: String::new(),
            text: String::new(),
            category: api_name(&Category::DailyLife),
            level: api_name(&level),
            class: api_name(&PriorityClass::Priority),
            language: "vi".into(),
            targets: Vec::new(),
            valid_from: local.input_value(now),
            valid_until: local.input_value(now + TimeDelta::days(7)),
            recurrence: String::new(),
            recurrence_days: "7".into(),
            board_secs: "30".into(),
            sensitive: false,
            audio_sha256: String::new(),
            image_sha256: String::new(),
        }
    }

    fn from_fields(fields: &Fields) -> Compose {
        let text = |name: &str| fields.raw(name).to_owned();
        Compose {
            title: text("title"),
            text: text("text"),
            category: text("category"),
            level: text("level"),
            class: text("class"),
            language: text("language"),
            targets: fields
                .all("target")
                .into_iter()
                .map(str::to_owned)
                .collect(),
            valid_from: text("valid_from"),
            valid_until: text("valid_until"),
            recurrence: text("recurrence"),
            recurrence_days: text("recurrence_days"),
            board_secs: text("board_secs"),
            sensitive: fields.get("sensitive").is_some(),
            audio_sha256: text("audio_sha256"),
            image_sha256: text("image_sha256"),
        }
    }

    /// The API request this form describes, its times read in `local`.
    fn request(&self, local: LocalTime) -> Result<BulletinRequest, ApiError> {
        let not_before = local.parse(self.valid_from.trim(), "valid_from")?;
        let expires = local.parse(self.valid_until.trim(), "valid_until")?;
        let recurrence = self.recurrence()?;
        let text = self.text.trim();
        let audio = if !self.audio_sha256.is_empty() {
            json!({"upload": self.audio_sha256})
        } else if !text.is_empty() {
            json!({"speech": text})
        } else {
            Value::Null
        };
        let secs: u32 = self.board_secs.trim().parse().map_err(|_| {
            ApiError::invalid("board_secs", "give the seconds boards show it, e.g. 30")
        })?;
        let visual = if !self.image_sha256.is_empty() {
            json!({"kind": "image", "secs": secs, "upload": self.image_sha256,
                "text": (!text.is_empty()).then_some(text)})
        } else if !text.is_empty() {
            json!({"kind": "text", "secs": secs, "text": text})
        } else {
            Value::Null
        };
        let request = json!({
            "title": self.title,
            "category": self.category,
            "class": self.class,
            "level": self.level,
            "targets": self.targets,
            "not_before": not_before,
            "expires": expires,
            "recurrence": recurrence,
            "sensitive": self.sensitive,
            "variants": [{"language": self.language, "audio": audio, "visual": visual}],
        });
        let bytes = serde_json::to_vec(&request).map_err(|e| ApiError::internal(&e))?;
        parse_json(&bytes)
    }

    /// `05:30, 17:30` and a number of days, or nothing.
    fn recurrence(&self) -> Result<Value, ApiError> {
        let times: Vec<&str> = self
            .recurrence
            .split([',', ' ', ';'])
            .filter(|t| !t.is_empty())
            .collect();
        if times.is_empty() {
            return Ok(Value::Null);
        }
        let days: u32 = self.recurrence_days.trim().parse().map_err(|_| {
            ApiError::invalid("recurrence_days", "give for how many days it repeats")
        })?;
        Ok(json!({"at": times, "days": days}))
    }
}

fn select(name: &str, test: &str, chosen: &str, options: &[(String, &str)]) -> Markup {
    html! {
        select name=(name) data-test=(test) {
            @for (value, label) in options {
                option value=(value) selected[value == chosen] { (label) }
            }
        }
    }
}

fn compose_page(
    person: &Person,
    areas: &[AreaView],
    form: &Compose,
    error: Option<&ApiError>,
) -> Response {
    let (lang, t) = (person.lang, person.lang.texts());
    let categories: Vec<(String, &str)> = CATEGORIES
        .iter()
        .map(|c| (api_name(c), i18n::category(lang, *c)))
        .collect();
    let levels: Vec<(String, &str)> =
        [AreaLevel::Province, AreaLevel::District, AreaLevel::Commune]
            .iter()
            .map(|l| (api_name(l), level_name(lang, *l)))
            .collect();
    let classes: Vec<(String, &str)> = [PriorityClass::Priority, PriorityClass::Normal]
        .iter()
        .map(|c| (api_name(c), i18n::class(lang, *c)))
        .collect();
    let languages: Vec<(String, &str)> = LANGUAGES
        .iter()
        .map(|(c, n)| ((*c).to_owned(), *n))
        .collect();
    let targets: Vec<&str> = form.targets.iter().map(String::as_str).collect();
    let body = html! {
        @if let Some(error) = error { (layout::error_box(lang, error)) }
        form.card method="post" action="/console/bulletins" enctype="multipart/form-data" {
            (csrf_field(person))
            input type="hidden" name="audio_sha256" value=(form.audio_sha256);
            input type="hidden" name="image_sha256" value=(form.image_sha256);
            label { (t.title) input type="text" name="title" value=(form.title) required data-test="bulletin-title"; }
            label { (t.text) textarea name="text" data-test="bulletin-text" { (form.text) } }
            label { (t.audio_file)
                @if !form.audio_sha256.is_empty() { " · " span.tag.ok { (t.kept_upload) } }
                input type="file" name="audio" accept="audio/*,video/mp4,.m4a,.ogg,.opus,.flac,.wav,.mp3" data-test="bulletin-audio"; }
            label { (t.image_file)
                @if !form.image_sha256.is_empty() { " · " span.tag.ok { (t.kept_upload) } }
                input type="file" name="image" accept="image/png,image/jpeg,image/webp" data-test="bulletin-image"; }
            label { (t.category) (select("category", "bulletin-category", &form.category, &categories)) }
            label { (t.level) (select("level", "bulletin-level", &form.level, &levels)) }
            label { (t.priority) (select("class", "bulletin-priority", &form.class, &classes)) }
            label { (t.language) (select("language", "bulletin-language", &form.language, &languages)) }
            fieldset.card {
                legend { (t.targets) }
                (area_tree::checkboxes(areas, "target", "target-", &targets))
            }
            label { (t.valid_from) input type="datetime-local" name="valid_from" value=(form.valid_from) required data-test="bulletin-valid-from"; }
            label { (t.valid_until) input type="datetime-local" name="valid_until" value=(form.valid_until) required data-test="bulletin-valid-until"; }
            label { (t.recurrence) input type="text" name="recurrence" value=(form.recurrence) placeholder="05:30, 17:30" data-test="bulletin-recurrence"; }
            label { (t.recurrence_days) input type="number" name="recurrence_days" min="1" value=(form.recurrence_days) data-test="bulletin-recurrence-days"; }
            label { (t.board_secs) input type="number" name="board_secs" min="1" value=(form.board_secs) data-test="bulletin-board-secs"; }
            label.check { input type="checkbox" name="sensitive" value="yes" checked[form.sensitive] data-test="bulletin-sensitive"; (t.sensitive) }
            button.primary type="submit" data-test="bulletin-create" { (t.create) }
        }
    };
    let status = error.map_or(axum::http::StatusCode::OK, |e| e.status);
    (
        status,
        page(&Chrome::of(person, None), t.compose_title, body),
    )
        .into_response()
}

pub fn level_name(lang: Lang, level: AreaLevel) -> &'static str {
    match (lang, level) {
        (Lang::Vi, AreaLevel::Central) => "Trung ương",
        (Lang::Vi, AreaLevel::Province) => "Tỉnh",
        (Lang::Vi, AreaLevel::District) => "Huyện",
        (Lang::Vi, AreaLevel::Commune) => "Xã",
        (Lang::En, AreaLevel::Central) => "Central",
        (Lang::En, AreaLevel::Province) => "Province",
        (Lang::En, AreaLevel::District) => "District",
        (Lang::En, AreaLevel::Commune) => "Commune",
    }
}

/// `GET /console/bulletins/new`
pub async fn compose(State(state): State<ApiState>, person: Person) -> Response {
    match areas_of(&state, &person).await {
        Ok(areas) => compose_page(&person, &areas, &Compose::defaults(&state, &person), None),
        Err(error) => layout::failure(person.lang, Some(&person), &error),
    }
}

/// `POST /console/bulletins`: uploads the files, creates the draft, shows it.
pub async fn create(State(state): State<ApiState>, form: Submitted) -> Response {
    let Submitted { person, fields } = form;
    let mut compose = Compose::from_fields(&fields);
    let created = create_draft(&state, &person, &fields, &mut compose).await;
    match created {
        Ok(view) => Redirect::to(&format!(
            "/console/bulletins/{}?flash=created",
            view.bulletin.id
        ))
        .into_response(),
        Err(error) => match areas_of(&state, &person).await {
            Ok(areas) => compose_page(&person, &areas, &compose, Some(&error)),
            Err(_) => layout::failure(person.lang, Some(&person), &error),
        },
    }
}

async fn create_draft(
    state: &ApiState,
    person: &Person,
    fields: &Fields,
    compose: &mut Compose,
) -> Result<BulletinView, ApiError> {
    if let Some(file) = fields.file("audio") {
        compose.audio_sha256 = upload::audio(state, person, file, "audio").await?;
    }
    if let Some(file) = fields.file("image") {
        compose.image_sha256 = upload::image(state, person, file, "image").await?;
    }
    let request = compose.request(LocalTime::of(state))?;
    let (_, view) = api::create(State(state.clone()), person.caller(), Body(request)).await?;
    Ok(view.0)
}

/// The bulletin's page for `caller`, or the API's refusal.
pub async fn load(state: &ApiState, caller: Caller, id: &str) -> Result<BulletinView, ApiError> {
    Ok(
        api::detail(State(state.clone()), caller, Path(id.to_owned()))
            .await?
            .0,
    )
}

/// `GET /console/bulletins/{id}`
pub async fn detail(
    State(state): State<ApiState>,
    person: Person,
    Path(id): Path<String>,
    Flash(flash): Flash,
) -> Response {
    match load(&state, person.caller(), &id).await {
        Ok(view) => detail_page(&person, LocalTime::of(&state), &view, flash, None),
        Err(error) => layout::failure(person.lang, Some(&person), &error),
    }
}

/// A bulletin's page: facts, previews, and what the person may do with it.
pub fn detail_page(
    person: &Person,
    local: LocalTime,
    view: &BulletinView,
    flash: Option<&'static str>,
    error: Option<&ApiError>,
) -> Response {
    let (lang, t) = (person.lang, person.lang.texts());
    let b = &view.bulletin;
    let path = format!("/console/bulletins/{}", b.id);
    let writes = matches!(
        person.role(),
        Role::ProvincialEditor | Role::DistrictEditor | Role::CommuneChair
    );
    let body = html! {
        @if let Some(error) = error { (layout::error_box(lang, error)) }
        div.card {
            p { (t.state) ": " strong data-test="bulletin-state" data-state=(api_name(&b.state)) { (i18n::state(lang, b.state)) } }
            p { (t.priority) ": " (i18n::class(lang, b.class)) " · " (t.category) ": " (i18n::category(lang, b.category)) }
            p { (t.level) ": " (level_name(lang, b.level)) " · " (b.issuer) }
            p { (t.targets) ": " @for target in &b.targets { span.tag { (target) } " " } }
            p { (t.validity) ": " (local.show(b.validity.not_before)) " – " (local.show(b.validity.expires)) }
            @if let Some(author) = &view.author { p { (t.author) ": " (author) } }
        }
        @for (i, variant) in b.variants.iter().enumerate() { (variant_previews(lang, &b.id, i, variant)) }
        @if writes && b.state == BulletinState::Draft {
            (action_button(person, &format!("{path}/submit"), t.submit, "primary", "bulletin-submit", &[]))
        }
        @if person.role() == Role::Reviewer && b.state == BulletinState::Submitted {
            (action_button(person, &format!("{path}/approve"), t.approve, "primary", "approve", &[]))
            form.card method="post" action={ (path) "/reject" } {
                (csrf_field(person))
                label { (t.reason) textarea name="reason" required data-test="reject-reason" {} }
                button type="submit" data-test="reject" { (t.reject) }
            }
        }
    };
    let status = error.map_or(axum::http::StatusCode::OK, |e| e.status);
    (status, page(&Chrome::of(person, flash), &b.title, body)).into_response()
}

/// One language's audio player and board picture.
fn variant_previews(lang: Lang, id: &hub_core::BulletinId, i: usize, variant: &Variant) -> Markup {
    let t = lang.texts();
    let audio = variant
        .audio
        .as_ref()
        .and_then(|a: &AudioPart| a.media.as_ref());
    html! {
        div.card {
            h2 { (t.language) ": " (variant.language) }
            h3 { (t.audio_preview) }
            @match audio {
                Some(media) => audio controls preload="none" src={ "/console/media/" (media.sha256) } data-test="audio-preview" {},
                None => p { (t.no_audio) },
            }
            h3 { (t.board_preview) }
            @if variant.visual.is_some() {
                img.board src={ "/console/bulletins/" (id) "/board.png?variant=" (i) } alt=(t.board_preview) data-test="board-preview";
            } @else { p { (t.no_board) } }
        }
    }
}

/// `POST /console/bulletins/{id}/submit`
pub async fn submit(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    form: Submitted,
) -> Response {
    let person = form.person;
    match api::submit(State(state.clone()), person.caller(), Path(id.clone())).await {
        Ok(view) => Redirect::to(&format!(
            "/console/bulletins/{}?flash=submitted",
            view.0.bulletin.id
        ))
        .into_response(),
        Err(error) => match load(&state, person.caller(), &id).await {
            Ok(view) => detail_page(&person, LocalTime::of(&state), &view, None, Some(&error)),
            Err(_) => layout::failure(person.lang, Some(&person), &error),
        },
    }
}

//! The page shell every screen shares: header with the person's screens,
//! the language switch and logout; the flash message; error boxes and
//! error pages; the style sheet (phone first, big touch targets).

use axum::async_trait;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hub_access::Role;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::csrf;
use super::i18n::{self, Lang};
use super::session::Person;
use crate::api::error::ApiError;

/// What frames a page: its language, who is logged in, a flash message.
pub struct Chrome<'a> {
    pub lang: Lang,
    pub person: Option<&'a Person>,
    pub flash: Option<&'static str>,
}

impl<'a> Chrome<'a> {
    pub fn of(person: &'a Person, flash: Option<&'static str>) -> Self {
        Chrome {
            lang: person.lang,
            person: Some(person),
            flash,
        }
    }
}

/// The flash message a redirect named in `?flash=`, in the request's language.
pub struct Flash(pub Option<&'static str>);

#[async_trait]
impl<S: Send + Sync> FromRequestParts<S> for Flash {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let texts = Lang::of(parts).texts();
        let query = parts.uri.query().unwrap_or_default();
        let key = form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "flash")
            .map(|(_, value)| value.into_owned());
        Ok(Flash(key.and_then(|key| i18n::flash(texts, &key))))
    }
}

/// The hidden field carrying the person's CSRF token, in every POST form.
pub fn csrf_field(person: &Person) -> Markup {
    html! { input type="hidden" name=(csrf::FIELD) value=(person.csrf); }
}

/// A POST form of one button (with the CSRF token).
pub fn action_button(
    person: &Person,
    action: &str,
    label: &str,
    class: &str,
    test: &str,
    hidden: &[(&str, &str)],
) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(person))
            @for (name, value) in hidden { input type="hidden" name=(name) value=(value); }
            button class=(class) type="submit" data-test=(test) { (label) }
        }
    }
}

/// The screens a role uses, for the header.
fn screens(person: &Person) -> Vec<(String, &'static str)> {
    let t = person.lang.texts();
    let area = &person.caller.principal.area;
    match person.role() {
        Role::ProvincialEditor | Role::DistrictEditor => vec![
            ("/console/bulletins".into(), t.nav_bulletins),
            ("/console/bulletins/new".into(), t.nav_new),
            ("/console/reports".into(), t.nav_reports),
        ],
        Role::Reviewer => vec![
            ("/console/review".into(), t.nav_review),
            ("/console/bulletins".into(), t.nav_bulletins),
        ],
        Role::CommuneChair => vec![
            (format!("/console/communes/{area}"), t.nav_commune),
            ("/console/bulletins".into(), t.nav_bulletins),
            ("/console/bulletins/new".into(), t.nav_new),
            ("/console/health".into(), t.nav_health),
        ],
        Role::Operator => vec![
            ("/console/emergency".into(), t.nav_emergency),
            ("/console/health".into(), t.nav_health),
        ],
        Role::Administrator => vec![
            ("/console/health".into(), t.nav_health),
            ("/console/reports".into(), t.nav_reports),
        ],
        Role::Device => Vec::new(),
    }
}

/// A whole page.
pub fn page(chrome: &Chrome<'_>, title: &str, body: Markup) -> Markup {
    let t = chrome.lang.texts();
    html! {
        (DOCTYPE)
        html lang=(chrome.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Nguồn" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    a.brand href="/console/" { (t.app_name) }
                    nav {
                        @if let Some(person) = chrome.person {
                            @for (href, label) in screens(person) { a href=(href) { (label) } }
                        }
                        @if chrome.lang == Lang::Vi {
                            a href="/console/lang/en" data-test="lang-en" { (t.lang_en) }
                        } @else {
                            a href="/console/lang/vi" data-test="lang-vi" { (t.lang_vi) }
                        }
                        @if let Some(person) = chrome.person {
                            span.who {
                                (person.caller.principal.subject.to_string()) " · "
                                (i18n::role(chrome.lang, person.role())) " · "
                                (person.caller.principal.area.to_string())
                            }
                            (action_button(person, "/console/logout", t.log_out, "quiet", "logout", &[]))
                        }
                    }
                }
                main {
                    h1 { (title) }
                    @if let Some(flash) = chrome.flash { p.flash data-test="flash" role="status" { (flash) } }
                    (body)
                }
            }
        }
    }
}

/// What went wrong, next to the form: the API's message and the field.
pub fn error_box(lang: Lang, error: &ApiError) -> Markup {
    let t = lang.texts();
    html! {
        p.error data-test="error" role="alert" {
            strong { (t.error_prefix) ": " } (error.body.message)
            @if let Some(field) = &error.body.field { " (" (t.field_prefix) " " code { (field) } ")" }
        }
    }
}

/// An error page with the API error's status.
pub fn failure(lang: Lang, person: Option<&Person>, error: &ApiError) -> Response {
    let chrome = Chrome {
        lang,
        person,
        flash: None,
    };
    let title = lang.texts().error_prefix;
    (error.status, page(&chrome, title, error_box(lang, error))).into_response()
}

/// 403: a form without the right CSRF token; nothing was done.
pub fn csrf_refused(lang: Lang, person: Option<&Person>) -> Response {
    let error = ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        lang.texts().csrf_refused,
    );
    failure(lang, person, &error)
}

/// 404 in the console's own words.
pub fn not_found(lang: Lang, person: Option<&Person>) -> Response {
    failure(lang, person, &ApiError::not_found(lang.texts().not_found))
}

/// Phone first: one column, 48 px touch targets, large type; the emergency
/// buttons are red and wide.
const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:17px/1.5 system-ui,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1b1b1b;background:#f5f3ef}
header{background:#7a1010;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;justify-content:space-between}
header a{color:#fff;text-decoration:none;padding:.6rem .5rem;display:inline-block;min-height:48px}
header a.brand{font-weight:700}
header nav{display:flex;flex-wrap:wrap;gap:.25rem;align-items:center}
header .who{font-size:.85rem;opacity:.9;padding:0 .5rem}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
.card,form.card{background:#fff;border-radius:8px;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 3px #0002}
label{display:block;margin:.75rem 0;font-weight:600}
label.check{font-weight:400;display:flex;gap:.5rem;align-items:center;margin:.25rem 0;min-height:40px}
input,select,textarea{display:block;width:100%;font:inherit;padding:.6rem;margin-top:.25rem;border:1px solid #999;border-radius:6px;min-height:48px;background:#fff}
input[type=checkbox],input[type=radio]{display:inline-block;width:1.4rem;height:1.4rem;min-height:0;margin:0}
textarea{min-height:8rem}
button{font:inherit;min-height:48px;padding:.6rem 1.2rem;border-radius:6px;border:1px solid #555;background:#eee;cursor:pointer}
button.primary{background:#1d4f91;color:#fff;border-color:#1d4f91}
button.danger{background:#c00;color:#fff;border-color:#900;font-weight:700;width:100%;font-size:1.3rem;min-height:64px}
button.quiet{background:transparent;color:inherit;border-color:#fff8}
button:disabled{opacity:.45;cursor:default}
form.inline{display:inline-block;margin:.25rem .25rem .25rem 0}
.flash{background:#e3f4e1;border-left:6px solid #2e7d32;padding:.75rem 1rem}
.error{background:#fde8e8;border-left:6px solid #c00;padding:.75rem 1rem}
table{width:100%;border-collapse:collapse;background:#fff}
th,td{text-align:left;padding:.5rem;border-bottom:1px solid #ddd;vertical-align:top}
caption{text-align:left;font-weight:600;padding:.5rem 0}
h4{margin:1rem 0 .25rem}
ul.tree{list-style:none;padding-left:1.2rem;margin:0}
ul.tree.root{padding-left:0}
.tag{display:inline-block;padding:.1rem .5rem;border-radius:1rem;background:#ddd;font-size:.85rem}
.tag.ok{background:#d8f0d8}.tag.bad{background:#f8d0d0}.tag.warn{background:#fbe7b0}
.board{display:block;max-width:100%;height:auto;image-rendering:pixelated;background:#0c0a08;border-radius:4px}
audio{width:100%}
.big{font-size:1.4rem;font-weight:700}
@media print{header,form,.noprint{display:none}body{background:#fff}}
"#;

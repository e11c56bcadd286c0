//! Logging in and out of the console, and [`Person`]: who is behind a
//! request, from the session cookie.
//!
//! The cookie holds the same session token `POST /api/v1/session` hands
//! out, opened by the same handler and checked against the same session
//! store, so a person in the console is the API's [`Caller`]: the same role
//! and area rules, the same audit entries. The cookie is `HttpOnly`,
//! `SameSite=Strict`, `Path=/`, and `Secure` when `api.secure_cookies` says
//! the console is reached over HTTPS. An expired or closed session sends
//! the person back to the login page with a message.

use axum::async_trait;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::header::{HeaderMap, HeaderValue, COOKIE, REFERER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hub_access::{Role, SecretToken};
use maud::html;

use super::csrf;
use super::form::{Fields, Submitted};
use super::i18n::{Lang, LANG_COOKIE};
use super::layout::{self, Chrome, Flash};
use crate::api::auth::{client_address, Caller, ClientAddr};
use crate::api::extract::Body;
use crate::api::handlers::session::{self as api_session, LoginRequest};
use crate::api::state::ApiState;

/// The cookie holding the session token.
pub const SESSION_COOKIE: &str = "nguon_session";

/// A logged-in person: the API's caller, the language they read, and the
/// CSRF token their forms carry.
pub struct Person {
    pub caller: Caller,
    pub lang: Lang,
    pub csrf: String,
}

impl Person {
    /// The caller, for an API handler (which takes it by value).
    pub fn caller(&self) -> Caller {
        Caller {
            principal: self.caller.principal.clone(),
            client: self.caller.client,
            token: SecretToken::presented(self.caller.token.expose()),
        }
    }

    pub fn role(&self) -> Role {
        self.caller.principal.role
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` header for `name` (`max_age` 0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Why there is no person behind a request: they go to the login page, told
/// their session ended when they had one.
pub struct NoSession {
    had_cookie: bool,
    secure: bool,
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        if !self.had_cookie {
            return Redirect::to("/console/login").into_response();
        }
        let mut response = Redirect::to("/console/login?flash=session_ended").into_response();
        response
            .headers_mut()
            .append(SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, self.secure));
        response
    }
}

#[async_trait]
impl FromRequestParts<ApiState> for Person {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, NoSession> {
        let secure = state.settings.secure_cookies;
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE).filter(|v| !v.is_empty()) else {
            return Err(NoSession {
                had_cookie: false,
                secure,
            });
        };
        let token = SecretToken::presented(value);
        // Sessions only: an API token is never a browser's cookie.
        let principal = state
            .access
            .authenticate_session(&token, state.now())
            .map_err(|_| NoSession {
                had_cookie: true,
                secure,
            })?;
        Ok(Person {
            csrf: csrf::token_for(&token),
            caller: Caller {
                principal,
                client: client_address(parts),
                token,
            },
            lang: Lang::of(parts),
        })
    }
}

#[async_trait]
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::of(parts))
    }
}

/// The login form, with a fresh login CSRF token in a cookie and the form.
fn login_form(
    state: &ApiState,
    lang: Lang,
    flash: Option<&'static str>,
    username: &str,
    error: Option<&crate::api::error::ApiError>,
) -> Response {
    let t = lang.texts();
    let token = csrf::login_token();
    let status = error.map_or(StatusCode::OK, |e| e.status);
    let body = html! {
        @if let Some(error) = error { (layout::error_box(lang, error)) }
        form.card method="post" action="/console/login" {
            input type="hidden" name=(csrf::FIELD) value=(token);
            label { (t.username)
                input type="text" name="username" value=(username) autocomplete="username"
                    autocapitalize="none" required data-test="login-username"; }
            label { (t.password)
                input type="password" name="password" autocomplete="current-password"
                    required data-test="login-password"; }
            button.primary type="submit" data-test="login-submit" { (t.log_in) }
        }
    };
    let chrome = Chrome {
        lang,
        person: None,
        flash,
    };
    let mut response = (status, layout::page(&chrome, t.login_title, body)).into_response();
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(
            csrf::LOGIN_COOKIE,
            &token,
            3600,
            state.settings.secure_cookies,
        ),
    );
    response
}

/// `GET /console/login`
pub async fn login_page(
    State(state): State<ApiState>,
    lang: Lang,
    Flash(flash): Flash,
) -> Response {
    login_form(&state, lang, flash, "", None)
}

/// `POST /console/login`: the API's login, its token kept in the cookie.
pub async fn login(
    State(state): State<ApiState>,
    lang: Lang,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Response {
    let expected = cookie(request.headers(), csrf::LOGIN_COOKIE).unwrap_or_default();
    let fields = match Fields::read(request, &state).await {
        Ok(fields) => fields,
        Err(error) => return layout::failure(lang, None, &error),
    };
    if !csrf::matches(&expected, fields.get(csrf::FIELD)) {
        return layout::csrf_refused(lang, None);
    }
    let username = fields.raw("username").trim().to_owned();
    let attempt = LoginRequest {
        username: username.clone(),
        password: fields.raw("password").to_owned(),
    };
    let secure = state.settings.secure_cookies;
    match api_session::login(State(state.clone()), ClientAddr(client), Body(attempt)).await {
        Ok(answer) => {
            let max_age = u64::from(state.settings.session_hours) * 3600;
            let mut response = Redirect::to("/console/").into_response();
            let headers = response.headers_mut();
            headers.append(
                SET_COOKIE,
                set_cookie(SESSION_COOKIE, &answer.token, max_age, secure),
            );
            headers.append(SET_COOKIE, set_cookie(csrf::LOGIN_COOKIE, "", 0, secure));
            response
        }
        Err(error) => login_form(&state, lang, None, &username, Some(&error)),
    }
}

/// `POST /console/logout`: the API's logout; the cookie is cleared.
pub async fn logout(State(state): State<ApiState>, form: Submitted) -> Response {
    let secure = state.settings.secure_cookies;
    let person = form.person;
    if let Err(error) = api_session::logout(State(state), person.caller()).await {
        return layout::failure(person.lang, Some(&person), &error);
    }
    let mut response = Redirect::to("/console/login?flash=logged_out").into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0, secure));
    response
}

/// `GET /console/lang/{vi|en}`: remembers the language for a year and goes
/// back to the console page the link was on.
pub async fn set_language(
    State(state): State<ApiState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return layout::not_found(Lang::of_headers(&headers), None);
    };
    let back = headers
        .get(REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(console_path)
        .unwrap_or_else(|| "/console/".to_owned());
    let mut response = Redirect::to(&back).into_response();
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(
            LANG_COOKIE,
            lang.code(),
            365 * 24 * 3600,
            state.settings.secure_cookies,
        ),
    );
    response
}

/// The console path (with its query) a referring URL names; None for
/// anything else, so the switch never redirects off the console.
fn console_path(referer: &str) -> Option<String> {
    let path = match referer.split_once("://") {
        Some((_, rest)) => &rest[rest.find('/')?..],
        None => referer,
    };
    let is_console =
        path == "/console" || path.starts_with("/console/") || path.starts_with("/console?");
    (is_console && !path.starts_with("/console/lang/")).then(|| path.to_owned())
}

/// `GET /console/`: each role to its home screen.
pub async fn home(person: Person) -> Redirect {
    let area = &person.caller.principal.area;
    Redirect::to(&match person.role() {
        Role::ProvincialEditor | Role::DistrictEditor => "/console/bulletins".to_owned(),
        Role::Reviewer => "/console/review".to_owned(),
        Role::CommuneChair => format!("/console/communes/{area}"),
        Role::Operator => "/console/emergency".to_owned(),
        Role::Administrator | Role::Device => "/console/health".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name_among_several() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; nguon_session=abc"));
        headers.append(COOKIE, HeaderValue::from_static("nguon_lang=en"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, LANG_COOKIE).as_deref(), Some("en"));
        assert_eq!(cookie(&headers, "nguon"), None);
    }

    #[test]
    fn session_cookies_are_http_only_strict_and_secure_when_asked() {
        let plain = set_cookie(SESSION_COOKIE, "t", 60, false);
        assert_eq!(
            plain.to_str().unwrap(),
            "nguon_session=t; Max-Age=60; Path=/; HttpOnly; SameSite=Strict"
        );
        let secure = set_cookie(SESSION_COOKIE, "t", 60, true);
        assert!(secure.to_str().unwrap().ends_with("; Secure"));
    }

    #[test]
    fn the_language_switch_goes_back_only_within_the_console() {
        assert_eq!(
            console_path("http://hub:8081/console/review?flash=approved").as_deref(),
            Some("/console/review?flash=approved")
        );
        assert_eq!(console_path("https://evil.example/steal"), None);
        assert_eq!(console_path("http://hub/console/lang/en"), None);
        assert_eq!(console_path("/api/v1/areas"), None);
    }
}

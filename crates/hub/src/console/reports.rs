//! `GET /console/reports`: choose a period or a date range and an area;
//! the report is then the printable page the reports module writes, with
//! a CSV download (`/console/reports/csv`) above it. Built by the API's
//! `build_report`, so scope, figures and the audit entry are the API's.

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use serde::Deserialize;

use super::bulletins::areas_of;
use super::i18n::Lang;
use super::layout::{self, page, Chrome};
use super::session::Person;
use crate::api::error::ApiError;
use crate::api::extract::Query;
use crate::api::handlers::reports::{build_report, ReportQuery};
use crate::api::state::ApiState;
use crate::reports::Lang as ReportLang;

/// The form's choice; blank fields are left out.
#[derive(Default, Deserialize)]
pub struct Choice {
    pub from: Option<String>,
    pub to: Option<String>,
    pub period: Option<String>,
    pub area: Option<String>,
}

fn filled(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl Choice {
    fn chosen(&self) -> bool {
        [&self.from, &self.to, &self.period, &self.area]
            .iter()
            .any(|v| filled(v).is_some())
    }

    fn query(&self) -> Result<ReportQuery, ApiError> {
        let area = filled(&self.area)
            .map(|code| {
                hub_core::AreaCode::parse(&code)
                    .map_err(|e| ApiError::invalid("area", e.to_string()))
            })
            .transpose()?;
        Ok(ReportQuery {
            period: filled(&self.period),
            from: filled(&self.from),
            to: filled(&self.to),
            area,
            ..ReportQuery::default()
        })
    }

    /// The choice as a query string, for the CSV link.
    fn encoded(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("from", &self.from),
            ("to", &self.to),
            ("period", &self.period),
            ("area", &self.area),
        ] {
            if let Some(value) = filled(value) {
                query.append_pair(name, &value);
            }
        }
        query.finish()
    }
}

/// The form, or the printable report once something is chosen.
pub async fn show(
    State(state): State<ApiState>,
    person: Person,
    Query(choice): Query<Choice>,
) -> Response {
    if !choice.chosen() {
        return form(&state, &person, &choice, None).await;
    }
    let built = match choice.query() {
        Ok(query) => build_report(&state, &person.caller, query).await,
        Err(error) => Err(error),
    };
    match built {
        Ok(report) => {
            let lang = match person.lang {
                Lang::Vi => ReportLang::Vi,
                Lang::En => ReportLang::En,
            };
            let t = person.lang.texts();
            let links = html! {
                nav.noprint style="padding:.5rem;font:16px sans-serif" {
                    a href="/console/reports" { (t.back) } " · "
                    a href={ "/console/reports/csv?" (choice.encoded()) } data-test="report-csv" download { (t.report_csv) }
                }
            };
            let document = report.to_html(lang);
            // The links go first in the page's body.
            let page = match document.find("<body>") {
                Some(at) => format!(
                    "{}{}{}",
                    &document[..at + 6],
                    links.into_string(),
                    &document[at + 6..]
                ),
                None => format!("{}{document}", links.into_string()),
            };
            Html(page).into_response()
        }
        Err(error) => form(&state, &person, &choice, Some(&error)).await,
    }
}

async fn form(
    state: &ApiState,
    person: &Person,
    choice: &Choice,
    error: Option<&ApiError>,
) -> Response {
    let t = person.lang.texts();
    let areas = match areas_of(state, person).await {
        Ok(areas) => areas,
        Err(error) => return layout::failure(person.lang, Some(person), &error),
    };
    let value = |v: &Option<String>| filled(v).unwrap_or_default();
    let body = html! {
        @if let Some(error) = error { (layout::error_box(person.lang, error)) }
        form.card method="get" action="/console/reports" {
            label { (t.report_from) input type="date" name="from" value=(value(&choice.from)) data-test="report-from"; }
            label { (t.report_to) input type="date" name="to" value=(value(&choice.to)) data-test="report-to"; }
            label { (t.report_area)
                select name="area" data-test="report-area" {
                    @for area in areas.iter().filter(|a| a.in_scope) {
                        option value=(area.code) selected[value(&choice.area) == area.code] { (area.name) " (" (area.code) ")" }
                    }
                }
            }
            button.primary type="submit" data-test="report-show" { (t.report_show) }
        }
    };
    let status = error.map_or(axum::http::StatusCode::OK, |e| e.status);
    (
        status,
        page(&Chrome::of(person, None), t.reports_title, body),
    )
        .into_response()
}

/// `GET /console/reports/csv`: the same report as CSV, as a download.
pub async fn csv(
    State(state): State<ApiState>,
    person: Person,
    Query(choice): Query<Choice>,
) -> Response {
    let built = match choice.query() {
        Ok(query) => build_report(&state, &person.caller, query).await,
        Err(error) => Err(error),
    };
    match built {
        Ok(report) => (
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"nguon-report-{}-{}.csv\"",
                        report.area, report.period.label
                    ),
                ),
            ],
            report.to_csv(),
        )
            .into_response(),
        Err(error) => layout::failure(person.lang, Some(&person), &error),
    }
}

//! The broadcasting report: a semi-annual period (`2026-H2`) or any range
//! of local days, for an area and every area below it, as JSON, CSV or a
//! printable HTML page. Who may read it: administrators, provincial and
//! district editors, operators and commune chairs, each for their own area
//! (a commune chair sees their commune only). Each report read is recorded
//! in the audit log. The figures are computed in [`crate::reports`].

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Days, Utc};
use hub_access::{Action, Target};
use hub_core::{AreaCode, Device, DeviceId};
use hub_store::{time_key, PlayReceipt, Presence, ProvinceSettings};
use serde::Deserialize;
use utoipa::IntoParams;

use super::require_area;
use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::Query;
use crate::api::state::{ApiContext, ApiState};
use crate::reports::{compute, Inputs, Lang, Period, PeriodError, Report};

/// Which report, for which area, in which form.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// A semi-annual period: `2026-H1` (21 Dec 2025 to 20 Jun 2026) or
    /// `2026-H2` (21 Jun to 20 Dec). Default, without `from`/`to`: the
    /// current one.
    pub period: Option<String>,
    /// First local day of a range, `YYYY-MM-DD` (with `to`).
    pub from: Option<String>,
    /// Last local day of a range, included.
    pub to: Option<String>,
    /// The area reported on, with everything below it; default: the caller's.
    #[param(value_type = Option<String>)]
    pub area: Option<AreaCode>,
    /// `json` (default), `csv` or `html`.
    pub format: Option<String>,
    /// The printable page's language: `vi` (default) or `en`.
    pub lang: Option<String>,
}

/// The forms a report comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Csv,
    Html,
}

impl ReportQuery {
    /// The format asked for, refused by name when unknown.
    pub fn format(&self) -> Result<ReportFormat, ApiError> {
        match self.format.as_deref().unwrap_or("json") {
            "json" => Ok(ReportFormat::Json),
            "csv" => Ok(ReportFormat::Csv),
            "html" => Ok(ReportFormat::Html),
            other => Err(ApiError::invalid(
                "format",
                format!("unknown format {other:?}: use json, csv or html"),
            )),
        }
    }

    /// The page's language, refused by name when unknown.
    pub fn lang(&self) -> Result<Lang, ApiError> {
        match self.lang.as_deref() {
            None => Ok(Lang::default()),
            Some(text) => Lang::parse(text).ok_or_else(|| {
                ApiError::invalid("lang", format!("unknown language {text:?}: use vi or en"))
            }),
        }
    }

    fn period(&self, state: &ApiContext, tz: chrono_tz::Tz) -> Result<Period, ApiError> {
        let invalid = |field: &str, error: PeriodError| ApiError::invalid(field, error.to_string());
        match (&self.period, &self.from, &self.to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ApiError::invalid(
                "period",
                "give either period or from and to, not both",
            )),
            (Some(half), None, None) => Period::half(half, tz).map_err(|e| invalid("period", e)),
            (None, Some(from), Some(to)) => Period::range(from, to, tz).map_err(|e| {
                let field = match &e {
                    PeriodError::BadDate(text) if text == to => "to",
                    _ => "from",
                };
                invalid(field, e)
            }),
            (None, Some(_), None) => Err(ApiError::invalid("to", "a range needs both from and to")),
            (None, None, Some(_)) => {
                Err(ApiError::invalid("from", "a range needs both from and to"))
            }
            (None, None, None) => Ok(Period::current_half(state.now(), tz)),
        }
    }
}

/// The report `query` asks for, as `caller` may see it; the reading is
/// recorded in the audit log. What the web console calls too.
pub async fn build_report(
    state: &ApiContext,
    caller: &Caller,
    query: ReportQuery,
) -> Result<Report, ApiError> {
    let area = query
        .area
        .clone()
        .unwrap_or_else(|| caller.principal.area.clone());
    require_area(state, &area, "area")?;
    state.authorize(caller, Action::ReadReports, Target::Area(&area))?;
    let settings: ProvinceSettings = state
        .store
        .get(ProvinceSettings::KEY)?
        .ok_or_else(|| ApiError::internal(&"the store holds no province settings"))?;
    let tz = settings.timezone;
    let period = query.period(state, tz)?;
    let devices = state.hub.devices().await?;
    let bulletins: BTreeMap<_, _> = state
        .hub
        .bulletins()
        .await?
        .into_iter()
        .map(|b| (b.id.clone(), b))
        .collect();
    let (start, end) = (period.start, period.end);
    // An airing started on the last evening may end after midnight.
    let after = end.checked_add_days(Days::new(1)).unwrap_or(end);
    let receipts = read_receipts(state, start, after).await?;
    let store = state.store.clone();
    let presence = tokio::task::spawn_blocking(move || {
        // From the beginning: whether a device was online when the period began.
        store.range::<Presence>(b"", time_key(end).as_bytes(), usize::MAX)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    let now = state.now();
    let inputs = Inputs {
        tree: &state.tree,
        devices: &devices,
        bulletins: &bulletins,
        receipts: &receipts,
        presence: &presence,
        period: &period,
        tz,
        now,
    };
    let figures = compute(&inputs, &area);
    let mut event = caller.event(Action::ReadReports, format!("report {}", period.label));
    event.areas = vec![area.clone()];
    state.record(event)?;
    Ok(Report {
        area_name: state
            .tree
            .get(&area)
            .map(|a| a.name.clone())
            .unwrap_or_default(),
        area: area.to_string(),
        timezone: tz.name().to_owned(),
        generated_at: now,
        period,
        figures,
    })
}

/// Every proof-of-play receipt the devices sent, timed from `start` to `end`.
async fn read_receipts(
    state: &ApiContext,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<PlayReceipt>, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        store.range::<PlayReceipt>(
            time_key(start).as_bytes(),
            time_key(end).as_bytes(),
            usize::MAX,
        )
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(ApiError::from)
}

/// What the devices of an area reported playing in a stretch of time.
pub struct ProofOfPlay {
    /// The area's devices.
    pub devices: Vec<Device>,
    /// Their receipts, in time order.
    pub receipts: Vec<PlayReceipt>,
}

/// The proof of play of `area`'s devices timed from `start` to `end`, for
/// whoever may read `area`'s reports (the figures come from the same
/// receipts): what the web console's commune page lists as aired today.
pub async fn proof_of_play(
    state: &ApiContext,
    caller: &Caller,
    area: &AreaCode,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<ProofOfPlay, ApiError> {
    require_area(state, area, "area")?;
    state.authorize(caller, Action::ReadReports, Target::Area(area))?;
    let devices: Vec<Device> = state
        .hub
        .devices()
        .await?
        .into_iter()
        .filter(|d| state.tree.is_within(&d.commune, area))
        .collect();
    let ids: BTreeSet<&DeviceId> = devices.iter().map(|d| &d.id).collect();
    let receipts = read_receipts(state, start, end)
        .await?
        .into_iter()
        .filter(|r| ids.contains(&r.device))
        .collect();
    Ok(ProofOfPlay { devices, receipts })
}

/// The broadcasting report of a period for an area and every area below
/// it: airings by level, category, priority class and language, broadcast
/// minutes, emergencies and their latency, uptime, devices never seen,
/// failures. Built from devices' proof of play and presence records only.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "the report: JSON, CSV (`format=csv`) or a printable page (`format=html`)",
            content((Object = "application/json"), (String = "text/csv"), (String = "text/html"))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn get(
    State(state): State<ApiState>,
    caller: Caller,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let format = query.format()?;
    let lang = query.lang()?;
    let report = build_report(&state, &caller, query).await?;
    let attachment = |ext: &str| {
        format!(
            "attachment; filename=\"nguon-report-{}-{}.{ext}\"",
            report.area, report.period.label
        )
    };
    Ok(match format {
        ReportFormat::Json => Json(report).into_response(),
        ReportFormat::Csv => (
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (CONTENT_DISPOSITION, attachment("csv")),
            ],
            report.to_csv(),
        )
            .into_response(),
        ReportFormat::Html => (
            [(CONTENT_TYPE, "text/html; charset=utf-8")],
            report.to_html(lang),
        )
            .into_response(),
    })
}

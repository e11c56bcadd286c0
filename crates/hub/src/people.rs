//! The command line's API-backed commands for people and scripts:
//! `hub user`, `hub device`, `hub bulletin`, `hub emergency`, `hub audit`, `hub report`. Each is one or
//! two API calls, so every check, permission and audit entry is the API's.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use clap::Subcommand;
use hyper::Method;
use serde_json::{json, Value};

use crate::client::{ApiArgs, Payload};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (administrators). The password is read from
    /// HUB_USER_PASSWORD, or else from the first line of standard input.
    Create {
        #[command(flatten)]
        api: ApiArgs,
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// administrator, provincial_editor, district_editor, reviewer,
        /// commune_chair or operator.
        #[arg(long)]
        role: String,
        /// The area the account acts in (area code).
        #[arg(long)]
        area: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Register a device in a commune (administrators) and write its
    /// provisioning file (it holds secrets; written readable by its owner only).
    Register {
        #[command(flatten)]
        api: ApiArgs,
        /// ASCII letters, digits and '-', e.g. 24611-LS-09.
        #[arg(long)]
        id: String,
        /// loudspeaker or led_board.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        commune: String,
        /// Where it stands.
        #[arg(long)]
        name: String,
        /// The provisioning file to write (firmware-sim --provisioning reads it).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a registered device's provisioning file again.
    Credentials {
        #[command(flatten)]
        api: ApiArgs,
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Revoke a device for good: it can no longer connect, download or report.
    Revoke {
        #[command(flatten)]
        api: ApiArgs,
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BulletinCommand {
    /// Write a bulletin in the name of the token's area and submit it
    /// (sensitive ones then wait for a reviewer).
    Create {
        #[command(flatten)]
        api: ApiArgs,
        #[arg(long)]
        title: String,
        /// Target area code; repeat for several.
        #[arg(long = "target", required = true)]
        targets: Vec<String>,
        /// priority or normal.
        #[arg(long, default_value = "priority")]
        priority: String,
        /// The issuing level meant (province, district or commune); the
        /// hub refuses it if the token's account issues at another.
        #[arg(long)]
        level: Option<String>,
        /// policy_law, local_projects, politics_economy_culture,
        /// security_military, disaster_emergency, good_examples,
        /// fighting_crime, daily_life or other.
        #[arg(long, default_value = "daily_life")]
        category: String,
        /// A recording to upload (MP3, WAV, FLAC, Ogg, M4A…).
        #[arg(long, conflicts_with = "speech")]
        audio: Option<PathBuf>,
        /// Text to speak instead of a recording.
        #[arg(long)]
        speech: Option<String>,
        /// Text LED boards show (default: the spoken text, else the title).
        #[arg(long)]
        text: Option<String>,
        #[arg(long, default_value = "vi")]
        language: String,
        /// Valid from now for this many hours.
        #[arg(long, default_value_t = 48)]
        hours: u32,
        /// Send to the editorial board whatever the category.
        #[arg(long)]
        sensitive: bool,
        /// Keep it a draft instead of submitting it.
        #[arg(long)]
        draft: bool,
    },
    /// Approve a submitted bulletin (reviewers).
    Approve {
        #[command(flatten)]
        api: ApiArgs,
        id: String,
    },
    /// Reject a submitted bulletin (reviewers).
    Reject {
        #[command(flatten)]
        api: ApiArgs,
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Cancel a bulletin; devices playing it stop.
    Cancel {
        #[command(flatten)]
        api: ApiArgs,
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// The bulletins that concern the token's area.
    List {
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum EmergencyCommand {
    /// Air an emergency now on every device of the targets (operators).
    Trigger {
        #[command(flatten)]
        api: ApiArgs,
        #[arg(long)]
        title: String,
        #[arg(long = "target", required = true)]
        targets: Vec<String>,
        /// Spoken on loudspeakers and shown on boards.
        #[arg(long)]
        message: Option<String>,
        /// A recording to play instead of speech.
        #[arg(long)]
        audio: Option<PathBuf>,
        /// How long it stays valid.
        #[arg(long, default_value_t = 60)]
        minutes: u32,
    },
    /// Speak live: stream an Ogg Opus file (mono, 20 ms packets, as
    /// `hub-media` encodes) at the pace it plays, as a microphone would;
    /// every loudspeaker of the targets plays it as it arrives, boards show
    /// the text. The stream ends with the file.
    Live {
        #[command(flatten)]
        api: ApiArgs,
        /// Target area codes: `--target 24611,24612` or repeated.
        #[arg(long = "target", required = true, value_delimiter = ',')]
        targets: Vec<String>,
        /// What LED boards show meanwhile.
        #[arg(long)]
        text: String,
        #[arg(long)]
        title: Option<String>,
        /// The speech, as Ogg Opus.
        #[arg(long)]
        file: PathBuf,
        /// The longest the stream may last (the hub's default: 600).
        #[arg(long)]
        max_secs: Option<u32>,
    },
    /// Stop an emergency.
    Stop {
        #[command(flatten)]
        api: ApiArgs,
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Correct an erroneous emergency: it is stopped, and the correction airs
    /// where it had aired.
    Correct {
        #[command(flatten)]
        api: ApiArgs,
        /// The erroneous emergency.
        id: String,
        #[arg(long)]
        title: String,
        /// Spoken on loudspeakers and shown on boards.
        #[arg(long)]
        message: Option<String>,
        /// A recording to play instead of speech.
        #[arg(long)]
        audio: Option<PathBuf>,
        /// How long the correction stays valid.
        #[arg(long, default_value_t = 60)]
        minutes: u32,
        /// Why the first one was wrong.
        #[arg(long)]
        reason: String,
    },
    /// Post a CAP 1.2 alert document (XML), as an alerting system does.
    Cap {
        #[command(flatten)]
        api: ApiArgs,
        /// The CAP document.
        file: PathBuf,
    },
}

/// `hub audit`: entries, oldest first.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub area: Option<String>,
    #[arg(long)]
    pub bulletin: Option<String>,
    /// RFC 3339.
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long)]
    pub until: Option<String>,
}

/// `hub report`: the broadcasting report of a period for an area.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// A semi-annual period: 2026-H1 (21 Dec 2025 to 20 Jun 2026) or
    /// 2026-H2 (21 Jun to 20 Dec); default, without --from/--to: the current one.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub period: Option<String>,
    /// First local day of a range, YYYY-MM-DD.
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// Last local day of a range, included.
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// The area (and everything below it); default: the caller's.
    #[arg(long)]
    pub area: Option<String>,
    /// json, csv or html (a printable page).
    #[arg(long, default_value = "json")]
    pub format: String,
    /// The page's language: vi (default) or en.
    #[arg(long)]
    pub lang: Option<String>,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Uploads the recording at `path`, if there is one; its sha256.
async fn upload_if_given(
    api: &ApiArgs,
    path: Option<&std::path::Path>,
) -> anyhow::Result<Option<String>> {
    match path {
        Some(path) => Ok(Some(upload(api, path).await?)),
        None => Ok(None),
    }
}

/// Uploads a recording; its sha256.
async fn upload(api: &ApiArgs, path: &std::path::Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("audio");
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("filename", name)
        .finish();
    let answer = api
        .call(
            Method::POST,
            &format!("/api/v1/uploads/audio?{query}"),
            Payload::Bytes(bytes, "application/octet-stream"),
        )
        .await
        .with_context(|| format!("uploading {}", path.display()))?;
    answer["sha256"]
        .as_str()
        .map(str::to_owned)
        .context("the upload answer has no sha256")
}

fn print(out: &mut dyn Write, value: &Value) -> anyhow::Result<()> {
    writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    Ok(())
}

/// A password from `env`, or the first line of standard input.
pub fn read_password(env: &str) -> anyhow::Result<String> {
    if let Ok(password) = std::env::var(env) {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(
        !password.is_empty(),
        "give the password in {env} or on standard input"
    );
    Ok(password)
}

pub async fn user(command: UserCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let UserCommand::Create {
        api,
        username,
        display_name,
        role,
        area,
    } = command;
    let password = read_password("HUB_USER_PASSWORD")?;
    let body = json!({"username": username, "display_name": display_name,
        "password": password, "role": role, "area": area});
    let answer = api
        .call(Method::POST, "/api/v1/users", Payload::Json(body))
        .await?;
    print(out, &answer)
}

pub async fn device(command: DeviceCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let (answer, file) = match command {
        DeviceCommand::Register {
            api,
            id,
            kind,
            commune,
            name,
            out: file,
        } => {
            let body = json!({"id": id, "kind": kind, "commune": commune, "name": name});
            let answer = api
                .call(Method::POST, "/api/v1/devices", Payload::Json(body))
                .await?;
            (answer, file)
        }
        DeviceCommand::Credentials { api, id, out: file } => {
            let path = format!("/api/v1/devices/{id}/credentials");
            (api.call(Method::POST, &path, Payload::None).await?, file)
        }
        DeviceCommand::Revoke { api, id, reason } => {
            let path = format!("/api/v1/devices/{id}/revoke");
            api.call(
                Method::POST,
                &path,
                Payload::Json(json!({ "reason": reason })),
            )
            .await?;
            writeln!(out, "revoked device {id}")?;
            return Ok(());
        }
    };
    crate::serve::write_secret_file(&file, serde_json::to_string_pretty(&answer)?.as_bytes())?;
    writeln!(out, "wrote the provisioning file to {}", file.display())?;
    Ok(())
}

pub async fn bulletin(command: BulletinCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let (api, path, payload) = match command {
        BulletinCommand::Create {
            api,
            title,
            targets,
            priority,
            level,
            category,
            audio,
            speech,
            text,
            language,
            hours,
            sensitive,
            draft,
        } => {
            let sound = match (&audio, &speech) {
                (Some(path), _) => Some(json!({"upload": upload(&api, path).await?})),
                (None, Some(text)) => Some(json!({"speech": text})),
                (None, None) => None,
            };
            let shown = text.or(speech).unwrap_or_else(|| title.clone());
            let now = Utc::now();
            let body = json!({
                "title": title, "category": category, "class": priority,
                "targets": targets, "sensitive": sensitive, "level": level,
                "not_before": now.to_rfc3339(),
                "expires": (now + TimeDelta::hours(i64::from(hours))).to_rfc3339(),
                "variants": [{"language": language, "audio": sound,
                    "visual": {"kind": "text", "secs": 30, "text": shown}}],
            });
            let created = api
                .call(Method::POST, "/api/v1/bulletins", Payload::Json(body))
                .await?;
            if draft {
                return print(out, &created);
            }
            let id = created["bulletin"]["id"].as_str().unwrap_or_default();
            (api, format!("/api/v1/bulletins/{id}/submit"), Payload::None)
        }
        BulletinCommand::Approve { api, id } => (
            api,
            format!("/api/v1/bulletins/{id}/approve"),
            Payload::None,
        ),
        BulletinCommand::Reject { api, id, reason } => (
            api,
            format!("/api/v1/bulletins/{id}/reject"),
            Payload::Json(json!({ "reason": reason })),
        ),
        BulletinCommand::Cancel { api, id, reason } => (
            api,
            format!("/api/v1/bulletins/{id}/cancel"),
            Payload::Json(json!({ "reason": reason })),
        ),
        BulletinCommand::List { api } => {
            let answer = api
                .call(Method::GET, "/api/v1/bulletins", Payload::None)
                .await?;
            return print(out, &answer);
        }
    };
    let answer = api.call(Method::POST, &path, payload).await?;
    print(out, &answer)
}

pub async fn emergency(command: EmergencyCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let answer = match command {
        EmergencyCommand::Trigger {
            api,
            title,
            targets,
            message,
            audio,
            minutes,
        } => {
            let upload = upload_if_given(&api, audio.as_deref()).await?;
            let body = json!({"title": title, "targets": targets, "message": message,
                "upload": upload, "valid_minutes": minutes});
            api.call(Method::POST, "/api/v1/emergencies", Payload::Json(body))
                .await?
        }
        EmergencyCommand::Live {
            api,
            targets,
            text,
            title,
            file,
            max_secs,
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let packets = crate::live::ogg_file::opus_packets(&bytes)
                .with_context(|| format!("reading {}", file.display()))?;
            let start = crate::live::client::LiveStart {
                targets,
                text,
                title,
                language: None,
                max_secs,
            };
            let pace = std::time::Duration::from_millis(hub_proto::live::PACKET_MS);
            crate::live::client::stream_packets(&api, &start, &packets, pace, |started| {
                eprintln!("on air: {}", started["bulletin"]["bulletin"]["id"]);
            })
            .await?
        }
        EmergencyCommand::Stop { api, id, reason } => {
            api.call(
                Method::POST,
                &format!("/api/v1/emergencies/{id}/stop"),
                Payload::Json(json!({ "reason": reason })),
            )
            .await?
        }
        EmergencyCommand::Correct {
            api,
            id,
            title,
            message,
            audio,
            minutes,
            reason,
        } => {
            let upload = upload_if_given(&api, audio.as_deref()).await?;
            let body = json!({"title": title, "message": message, "upload": upload,
                "valid_minutes": minutes, "reason": reason});
            api.call(
                Method::POST,
                &format!("/api/v1/emergencies/{id}/correct"),
                Payload::Json(body),
            )
            .await?
        }
        EmergencyCommand::Cap { api, file } => {
            let document =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            api.call(
                Method::POST,
                "/api/v1/cap",
                Payload::Bytes(document, "application/cap+xml"),
            )
            .await?
        }
    };
    print(out, &answer)
}

/// Appends to `query` each parameter that was given.
fn append_given<'a>(
    query: &mut form_urlencoded::Serializer<'_, String>,
    parameters: impl IntoIterator<Item = (&'a str, &'a Option<String>)>,
) {
    for (name, value) in parameters {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
}

pub async fn audit(args: AuditArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    append_given(
        &mut query,
        [
            ("user", &args.user),
            ("area", &args.area),
            ("bulletin", &args.bulletin),
            ("from", &args.from),
            ("until", &args.until),
        ],
    );
    let path = format!("/api/v1/audit?{}", query.finish());
    let answer = args.api.call(Method::GET, &path, Payload::None).await?;
    print(out, &answer)
}

pub async fn report(args: ReportArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("format", &args.format);
    append_given(
        &mut query,
        [
            ("period", &args.period),
            ("from", &args.from),
            ("to", &args.to),
            ("area", &args.area),
            ("lang", &args.lang),
        ],
    );
    let path = format!("/api/v1/reports?{}", query.finish());
    match &args.out {
        Some(file) => {
            let written = args.api.download(Method::GET, &path, file).await?;
            writeln!(
                out,
                "wrote the report to {} ({written} bytes)",
                file.display()
            )?;
        }
        None => out.write_all(args.api.text(&path).await?.as_bytes())?,
    }
    Ok(())
}

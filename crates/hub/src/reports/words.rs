//! Every word of the printable report, in Vietnamese (the default) and
//! English, in one place.

use serde::Deserialize;

/// The language of a printable report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// `vi` or `en`.
    pub fn parse(text: &str) -> Option<Lang> {
        match text {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    pub fn words(self) -> &'static Words {
        match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        }
    }
}

/// The page's fixed text.
pub struct Words {
    pub title: &'static str,
    pub period: &'static str,
    pub area: &'static str,
    pub generated: &'static str,
    pub time_zone: &'static str,
    pub summary: &'static str,
    pub level: &'static str,
    pub devices: &'static str,
    pub started: &'static str,
    pub finished: &'static str,
    pub minutes: &'static str,
    pub uptime: &'static str,
    pub never_seen: &'static str,
    pub failures: &'static str,
    pub minutes_chart: &'static str,
    pub uptime_chart: &'static str,
    pub by_level: &'static str,
    pub by_category: &'static str,
    pub by_class: &'static str,
    pub by_language: &'static str,
    pub emergencies: &'static str,
    pub triggered: &'static str,
    pub latency_p50: &'static str,
    pub latency_max: &'static str,
    pub never_started: &'static str,
    pub reason: &'static str,
    pub count: &'static str,
    pub none: &'static str,
    pub basis: &'static str,
}

static VI: Words = Words {
    title: "Báo cáo hoạt động thông tin nguồn",
    period: "Kỳ báo cáo",
    area: "Địa bàn",
    generated: "Lập lúc",
    time_zone: "Múi giờ",
    summary: "Tổng hợp theo địa bàn",
    level: "Cấp",
    devices: "Thiết bị",
    started: "Lượt phát",
    finished: "Phát trọn",
    minutes: "Phút phát sóng",
    uptime: "Thời gian hoạt động (%)",
    never_seen: "Thiết bị chưa kết nối",
    failures: "Lỗi phát",
    minutes_chart: "Phút phát sóng theo xã",
    uptime_chart: "Thời gian hoạt động theo ngày (%)",
    by_level: "Theo cấp ban hành",
    by_category: "Theo lĩnh vực",
    by_class: "Theo mức ưu tiên",
    by_language: "Theo ngôn ngữ",
    emergencies: "Tin khẩn cấp",
    triggered: "Phát lệnh lúc",
    latency_p50: "Độ trễ trung vị (giây)",
    latency_max: "Độ trễ lớn nhất (giây)",
    never_started: "Thiết bị không phát",
    reason: "Nguyên nhân",
    count: "Số lượng",
    none: "Không có",
    basis: "Số liệu lập từ xác nhận phát của thiết bị và bản ghi kết nối; lịch phát dự kiến không được tính.",
};

static EN: Words = Words {
    title: "Source information broadcasting report",
    period: "Period",
    area: "Area",
    generated: "Generated",
    time_zone: "Time zone",
    summary: "Summary by area",
    level: "Level",
    devices: "Devices",
    started: "Airings",
    finished: "Finished",
    minutes: "Broadcast minutes",
    uptime: "Uptime (%)",
    never_seen: "Devices never seen",
    failures: "Failures",
    minutes_chart: "Broadcast minutes per commune",
    uptime_chart: "Uptime per day (%)",
    by_level: "By issuing level",
    by_category: "By category",
    by_class: "By priority class",
    by_language: "By language",
    emergencies: "Emergencies",
    triggered: "Triggered",
    latency_p50: "Median latency (s)",
    latency_max: "Longest latency (s)",
    never_started: "Devices that never started",
    reason: "Reason",
    count: "Count",
    none: "None",
    basis: "Built from the devices' proof-of-play receipts and connection records; the schedule is never counted.",
};

/// Names of figure keys (area levels, categories, priority classes,
/// failure reasons): key, Vietnamese, English.
const KEY_NAMES: &[(&str, &str, &str)] = &[
    ("central", "Trung ương", "Central"),
    ("province", "Tỉnh", "Province"),
    ("district", "Huyện", "District"),
    ("commune", "Xã", "Commune"),
    ("emergency", "Khẩn cấp", "Emergency"),
    ("priority", "Ưu tiên", "Priority"),
    ("normal", "Thông thường", "Normal"),
    (
        "policy_law",
        "Chủ trương, chính sách, pháp luật",
        "Policy and law",
    ),
    (
        "local_projects",
        "Dự án, chương trình địa phương",
        "Local projects and programmes",
    ),
    (
        "politics_economy_culture",
        "Chính trị, kinh tế, văn hóa, khoa học",
        "Politics, economy, culture, science",
    ),
    (
        "security_military",
        "An ninh, trật tự, quân sự",
        "Security and order, military",
    ),
    (
        "disaster_emergency",
        "Phòng chống thiên tai, cứu nạn, dịch bệnh",
        "Disasters, rescue, fire, epidemics",
    ),
    (
        "good_examples",
        "Gương người tốt, việc tốt",
        "Good examples",
    ),
    (
        "fighting_crime",
        "Đấu tranh phòng chống tội phạm",
        "Fighting crime",
    ),
    (
        "daily_life",
        "Sản phẩm, dịch vụ đời sống",
        "Products and services for daily life",
    ),
    ("other", "Khác", "Other"),
    ("media_missing", "Thiếu tệp phát", "Media file missing"),
    (
        "media_undecodable",
        "Tệp không phát được",
        "Media file unplayable",
    ),
    ("power_loss", "Mất điện", "Power loss"),
    ("unstated", "Không nêu", "Not stated"),
    ("unknown", "Không rõ", "Unknown"),
];

/// A figure's key for people; keys without a name (languages) are shown
/// as they are.
pub fn key_name(lang: Lang, key: &str) -> &str {
    match KEY_NAMES.iter().find(|(k, _, _)| *k == key) {
        Some((_, vi, _)) if lang == Lang::Vi => vi,
        Some((_, _, en)) => en,
        None => key,
    }
}

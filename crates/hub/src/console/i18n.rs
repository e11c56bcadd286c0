//! Every string of the console in Vietnamese (the default) and English, in
//! one place: a missing translation is a compile error, not a blank button.
//!
//! The language is a cookie (`nguon_lang`) set by `/console/lang/{vi,en}`.
//! Messages from the API's errors stay as the API words them (English).

use axum::http::request::Parts;
use axum::http::HeaderMap;
use hub_access::Role;
use hub_core::{BulletinState, Category, DeliveryState, DeviceKind, PriorityClass};

/// The cookie holding the chosen language.
pub const LANG_COOKIE: &str = "nguon_lang";

/// A language of the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    /// From a path segment or cookie value.
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
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

    /// The language chosen by the request's cookie; Vietnamese without one.
    pub fn of(parts: &Parts) -> Lang {
        Lang::of_headers(&parts.headers)
    }

    pub fn of_headers(headers: &HeaderMap) -> Lang {
        super::session::cookie(headers, LANG_COOKIE)
            .and_then(|value| Lang::parse(&value))
            .unwrap_or(Lang::Vi)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Vi => &VI,
            Lang::En => &EN,
        }
    }
}

macro_rules! texts {
    ($($key:ident: $vi:literal, $en:literal;)*) => {
        /// The console's words in one language.
        pub struct Texts {
            $(pub $key: &'static str,)*
        }
        static VI: Texts = Texts { $($key: $vi,)* };
        static EN: Texts = Texts { $($key: $en,)* };
    };
}

texts! {
    app_name: "Nguồn — thông tin nguồn", "Nguồn — source information";
    login_title: "Đăng nhập", "Log in";
    username: "Tên tài khoản", "Account name";
    password: "Mật khẩu", "Password";
    log_in: "Đăng nhập", "Log in";
    log_out: "Đăng xuất", "Log out";
    error_prefix: "Lỗi", "Error";
    field_prefix: "ô", "field";
    csrf_refused: "Biểu mẫu đã hết hạn hoặc không đến từ trang này. Hãy tải lại trang và thử lại.",
        "The form has expired or did not come from this console. Reload the page and try again.";
    not_found: "Không có trang này.", "There is no such page.";
    flash_session_ended: "Phiên làm việc đã hết hạn hoặc đã đăng xuất. Hãy đăng nhập lại.",
        "Your session has expired or was ended. Please log in again.";
    flash_logged_out: "Đã đăng xuất.", "You are logged out.";
    flash_created: "Đã tạo bản tin (bản nháp).", "The bulletin was created (draft).";
    flash_submitted: "Đã gửi bản tin.", "The bulletin was submitted.";
    flash_approved: "Đã duyệt bản tin.", "The bulletin was approved.";
    flash_rejected: "Đã từ chối bản tin.", "The bulletin was rejected.";
    flash_reordered: "Đã đổi thứ tự phát.", "The order was changed.";
    flash_opted_in: "Đã chọn phát bản tin.", "The bulletin will air in the commune.";
    flash_opted_out: "Đã bỏ chọn bản tin.", "The bulletin will not air in the commune.";
    flash_triggered: "Đã phát lệnh khẩn cấp.", "The emergency was triggered.";
    flash_stopped: "Đã dừng phát khẩn cấp.", "The emergency was stopped.";
    nav_bulletins: "Bản tin", "Bulletins";
    nav_new: "Soạn bản tin", "New bulletin";
    nav_review: "Duyệt tin", "Review";
    nav_commune: "Chương trình xã", "Commune programme";
    nav_emergency: "Khẩn cấp", "Emergency";
    nav_health: "Thiết bị", "Devices";
    nav_reports: "Báo cáo", "Reports";
    bulletins_title: "Bản tin", "Bulletins";
    no_bulletins: "Chưa có bản tin nào.", "No bulletins yet.";
    compose_title: "Soạn bản tin", "New bulletin";
    title: "Tiêu đề", "Title";
    text: "Nội dung (đọc bằng giọng máy nếu không có tệp âm thanh, hiện trên bảng tin)",
        "Text (spoken by text-to-speech when there is no audio file; shown on boards)";
    audio_file: "Tệp âm thanh (không bắt buộc)", "Audio file (optional)";
    image_file: "Ảnh cho bảng tin (không bắt buộc)", "Picture for boards (optional)";
    kept_upload: "Đã tải lên", "Uploaded";
    category: "Lĩnh vực", "Category";
    level: "Cấp ban hành", "Issuing level";
    priority: "Mức ưu tiên", "Priority";
    language: "Ngôn ngữ", "Language";
    targets: "Địa bàn nhận tin", "Target areas";
    valid_from: "Hiệu lực từ (giờ địa phương)", "Valid from (local time)";
    valid_until: "Hiệu lực đến (giờ địa phương)", "Valid until (local time)";
    recurrence: "Lặp lại hằng ngày lúc (vd. 05:30, 17:30; để trống nếu không lặp)",
        "Repeat daily at (e.g. 05:30, 17:30; empty for no repeat)";
    recurrence_days: "Số ngày lặp", "Repeat for days";
    board_secs: "Thời lượng trên bảng tin (giây)", "Seconds on boards";
    sensitive: "Gửi ban biên tập duyệt", "Send to the editorial board";
    create: "Tạo bản nháp", "Create draft";
    state: "Trạng thái", "State";
    audio_preview: "Nghe thử", "Listen";
    board_preview: "Bảng tin sẽ hiện", "What boards show";
    no_audio: "Không có âm thanh.", "No audio.";
    no_board: "Không có nội dung cho bảng tin.", "Nothing for boards.";
    submit: "Gửi đi", "Submit";
    approve: "Duyệt", "Approve";
    reject: "Từ chối", "Reject";
    reason: "Lý do", "Reason";
    author: "Người soạn", "Author";
    validity: "Hiệu lực", "Validity";
    review_title: "Bản tin chờ duyệt", "Bulletins awaiting review";
    review_empty: "Không có bản tin nào chờ duyệt.", "Nothing awaits review.";
    commune_title: "Chương trình phát của xã", "The commune's programme";
    today: "Hôm nay", "Today";
    this_week: "Tuần này", "This week";
    nothing_planned: "Không có gì trong lịch.", "Nothing planned.";
    window: "Khung giờ", "Window";
    outside_windows: "Ngoài khung giờ", "Outside windows";
    move_up: "Lên", "Up";
    move_down: "Xuống", "Down";
    priority_order: "Thứ tự bản tin ưu tiên", "Order of priority bulletins";
    normal_offers: "Bản tin thường (xã chọn phát)", "Normal bulletins (the commune chooses)";
    opted_in: "Đang chọn phát", "Airs here";
    opt_in: "Chọn phát", "Air it";
    opt_out: "Bỏ chọn", "Do not air";
    aired_today: "Đã phát hôm nay", "Aired today";
    nothing_aired: "Hôm nay chưa phát gì.", "Nothing aired yet today.";
    device: "Thiết bị", "Device";
    started_at: "Bắt đầu", "Started";
    ended_at: "Kết thúc", "Ended";
    emergency_title: "Phát khẩn cấp", "Emergency broadcast";
    emergency_heading: "Tiêu đề", "Title";
    emergency_default_title: "Thông báo khẩn cấp", "Emergency announcement";
    mode: "Cách phát", "How";
    mode_file: "Tệp ghi âm", "Recording";
    mode_text: "Đọc văn bản", "Speak text";
    mode_live: "Nói trực tiếp", "Speak live";
    live_unavailable: "Phát trực tiếp chưa có trên máy chủ này.", "Live speech is not available on this hub.";
    live_no_microphone: "Không dùng được micrô", "The microphone cannot be used";
    live_not_started: "Không bắt đầu được phát trực tiếp.", "The live stream could not start.";
    emergency_text: "Nội dung", "Message";
    emergency_file: "Tệp ghi âm", "Recording";
    valid_minutes: "Hiệu lực (phút)", "Valid for (minutes)";
    review_step: "Xem lại", "Review";
    confirm_title: "Xác nhận phát khẩn cấp", "Confirm the emergency";
    confirm_devices: "Số thiết bị sẽ dừng việc đang phát và phát tin này ngay", "Devices that will stop what they play and air this now";
    confirm_check: "Tôi xác nhận phát khẩn cấp tới các địa bàn trên", "I confirm the emergency for these areas";
    confirm_missing: "Hãy đánh dấu ô xác nhận.", "Tick the confirmation box.";
    trigger: "PHÁT KHẨN CẤP", "TRIGGER EMERGENCY";
    back: "Quay lại", "Back";
    emergency_status: "Tình trạng phát khẩn cấp", "Emergency status";
    started_on: "Thiết bị đã bắt đầu phát", "Devices that started playing";
    failed_on: "Thiết bị phát lỗi", "Devices that failed";
    count_targeted: "Thiết bị nhận tin", "Targeted";
    count_started: "Đã bắt đầu phát", "Started";
    count_finished: "Đã phát xong", "Finished";
    count_failed: "Lỗi", "Failed";
    none_yet: "Chưa có.", "None yet.";
    stop: "DỪNG PHÁT", "STOP";
    stop_reason_default: "Dừng từ bảng điều khiển", "Stopped from the console";
    health_title: "Tình trạng thiết bị", "Device health";
    online: "Trực tuyến", "Online";
    offline: "Mất kết nối", "Offline";
    playing: "Đang phát", "Playing";
    faults: "Lỗi", "Faults";
    last_seen: "Lần cuối", "Last seen";
    alarm: "Cảnh báo", "Alarm";
    no_devices: "Không có thiết bị.", "No devices.";
    reports_title: "Báo cáo", "Reports";
    report_from: "Từ ngày", "From";
    report_to: "Đến ngày", "To";
    report_area: "Địa bàn", "Area";
    report_show: "Xem báo cáo", "Show report";
    report_csv: "Tải CSV", "Download CSV";
    reports_unavailable: "Báo cáo chưa có trên máy chủ này.", "Reports are not available on this hub.";
    lang_vi: "Tiếng Việt", "Tiếng Việt";
    lang_en: "English", "English";
}

/// A flash message named in a redirect's `?flash=`: only these keys show,
/// so a link cannot put words of its own on the page.
pub fn flash(texts: &Texts, key: &str) -> Option<&'static str> {
    Some(match key {
        "session_ended" => texts.flash_session_ended,
        "logged_out" => texts.flash_logged_out,
        "created" => texts.flash_created,
        "submitted" => texts.flash_submitted,
        "approved" => texts.flash_approved,
        "rejected" => texts.flash_rejected,
        "reordered" => texts.flash_reordered,
        "opted_in" => texts.flash_opted_in,
        "opted_out" => texts.flash_opted_out,
        "triggered" => texts.flash_triggered,
        "stopped" => texts.flash_stopped,
        _ => return None,
    })
}

pub fn role(lang: Lang, role: Role) -> &'static str {
    use Role::*;
    match (lang, role) {
        (Lang::Vi, Administrator) => "Quản trị viên",
        (Lang::Vi, ProvincialEditor) => "Biên tập viên tỉnh",
        (Lang::Vi, DistrictEditor) => "Biên tập viên huyện",
        (Lang::Vi, Reviewer) => "Ban biên tập",
        (Lang::Vi, CommuneChair) => "Chủ tịch UBND xã",
        (Lang::Vi, Operator) => "Trực ban",
        (Lang::Vi, Device) => "Thiết bị",
        (Lang::En, Administrator) => "Administrator",
        (Lang::En, ProvincialEditor) => "Provincial editor",
        (Lang::En, DistrictEditor) => "District editor",
        (Lang::En, Reviewer) => "Reviewer",
        (Lang::En, CommuneChair) => "Commune chair",
        (Lang::En, Operator) => "Operator",
        (Lang::En, Device) => "Device",
    }
}

/// Every category, in the order of Article 6.
pub const CATEGORIES: [Category; 9] = [
    Category::PolicyLaw,
    Category::LocalProjects,
    Category::PoliticsEconomyCulture,
    Category::SecurityMilitary,
    Category::DisasterEmergency,
    Category::GoodExamples,
    Category::FightingCrime,
    Category::DailyLife,
    Category::Other,
];

pub fn category(lang: Lang, category: Category) -> &'static str {
    use Category::*;
    match (lang, category) {
        (Lang::Vi, PolicyLaw) => "Chủ trương, chính sách, pháp luật",
        (Lang::Vi, LocalProjects) => "Dự án, chương trình địa phương",
        (Lang::Vi, PoliticsEconomyCulture) => "Chính trị, kinh tế, văn hóa, khoa học",
        (Lang::Vi, SecurityMilitary) => "An ninh trật tự, quân sự",
        (Lang::Vi, DisasterEmergency) => "Phòng chống thiên tai, cứu hộ, cháy nổ, dịch bệnh",
        (Lang::Vi, GoodExamples) => "Gương người tốt, việc tốt",
        (Lang::Vi, FightingCrime) => "Đấu tranh phòng chống tội phạm, tiêu cực",
        (Lang::Vi, DailyLife) => "Sản phẩm, dịch vụ đời sống",
        (Lang::Vi, Other) => "Khác",
        (Lang::En, PolicyLaw) => "Policy and law",
        (Lang::En, LocalProjects) => "Local projects and programmes",
        (Lang::En, PoliticsEconomyCulture) => "Politics, economy, culture, science",
        (Lang::En, SecurityMilitary) => "Security and order, military",
        (Lang::En, DisasterEmergency) => "Disaster, rescue, fire, medical emergency, epidemic",
        (Lang::En, GoodExamples) => "Good examples",
        (Lang::En, FightingCrime) => "Fighting crime and negative phenomena",
        (Lang::En, DailyLife) => "Products and services for daily life",
        (Lang::En, Other) => "Other",
    }
}

pub fn class(lang: Lang, class: PriorityClass) -> &'static str {
    match (lang, class) {
        (Lang::Vi, PriorityClass::Emergency) => "Khẩn cấp",
        (Lang::Vi, PriorityClass::Priority) => "Ưu tiên",
        (Lang::Vi, PriorityClass::Normal) => "Thông thường",
        (Lang::En, PriorityClass::Emergency) => "Emergency",
        (Lang::En, PriorityClass::Priority) => "Priority",
        (Lang::En, PriorityClass::Normal) => "Normal",
    }
}

pub fn state(lang: Lang, state: BulletinState) -> &'static str {
    use BulletinState::*;
    match (lang, state) {
        (Lang::Vi, Draft) => "Bản nháp",
        (Lang::Vi, Submitted) => "Chờ duyệt",
        (Lang::Vi, Approved) => "Đã duyệt",
        (Lang::Vi, Rejected) => "Bị từ chối",
        (Lang::Vi, Scheduled) => "Đã lên lịch",
        (Lang::Vi, Airing) => "Đang phát",
        (Lang::Vi, Done) => "Đã phát xong",
        (Lang::Vi, Cancelled) => "Đã hủy",
        (Lang::Vi, Expired) => "Hết hiệu lực",
        (Lang::En, Draft) => "Draft",
        (Lang::En, Submitted) => "Awaiting review",
        (Lang::En, Approved) => "Approved",
        (Lang::En, Rejected) => "Rejected",
        (Lang::En, Scheduled) => "Scheduled",
        (Lang::En, Airing) => "Airing",
        (Lang::En, Done) => "Done",
        (Lang::En, Cancelled) => "Cancelled",
        (Lang::En, Expired) => "Expired",
    }
}

pub fn device_kind(lang: Lang, kind: DeviceKind) -> &'static str {
    match (lang, kind) {
        (Lang::Vi, DeviceKind::Loudspeaker) => "Loa truyền thanh",
        (Lang::Vi, DeviceKind::LedBoard) => "Bảng tin điện tử",
        (Lang::En, DeviceKind::Loudspeaker) => "Loudspeakers",
        (Lang::En, DeviceKind::LedBoard) => "LED boards",
    }
}

pub fn delivery(lang: Lang, state: DeliveryState) -> &'static str {
    use DeliveryState::*;
    match (lang, state) {
        (Lang::Vi, Queued) => "Chờ gửi",
        (Lang::Vi, Sent) => "Đã gửi",
        (Lang::Vi, Acknowledged) => "Đã nhận",
        (Lang::Vi, Started) => "Đang phát",
        (Lang::Vi, Finished) => "Đã phát xong",
        (Lang::Vi, Preempted) => "Bị ngắt",
        (Lang::Vi, Stopped) => "Đã dừng",
        (Lang::Vi, Failed) => "Lỗi",
        (Lang::Vi, Expired) => "Hết hiệu lực",
        (Lang::En, Queued) => "Queued",
        (Lang::En, Sent) => "Sent",
        (Lang::En, Acknowledged) => "Acknowledged",
        (Lang::En, Started) => "Playing",
        (Lang::En, Finished) => "Finished",
        (Lang::En, Preempted) => "Preempted",
        (Lang::En, Stopped) => "Stopped",
        (Lang::En, Failed) => "Failed",
        (Lang::En, Expired) => "Expired",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_flash_keys_show_words() {
        assert_eq!(flash(&VI, "submitted"), Some(VI.flash_submitted));
        assert_eq!(flash(&EN, "submitted"), Some("The bulletin was submitted."));
        assert_eq!(flash(&EN, "<script>"), None);
    }

    #[test]
    fn languages_parse_from_their_codes_only() {
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("vi").map(Lang::code), Some("vi"));
        assert_eq!(Lang::parse("fr"), None);
    }
}

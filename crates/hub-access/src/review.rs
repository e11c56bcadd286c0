//! Which bulletins the editorial board must review, and which actions must
//! say why.

use hub_core::Category;

use crate::Action;

/// Categories whose bulletins always go to the editorial board, whatever
/// the editor says: law, security and crime are where a mistake on air
/// does most harm.
pub const SENSITIVE_CATEGORIES: [Category; 3] = [
    Category::PolicyLaw,
    Category::SecurityMilitary,
    Category::FightingCrime,
];

/// Whether a bulletin must be approved by a reviewer (other than its
/// author) before it may air: its category is sensitive, or its editor
/// flagged it. The result is what to store as the bulletin's `sensitive`
/// flag, which the scheduler follows on submission.
pub fn needs_review(category: Category, flagged_by_editor: bool) -> bool {
    flagged_by_editor || SENSITIVE_CATEGORIES.contains(&category)
}

/// Actions that undo or refuse someone's work, or silence devices: the actor
/// must give a reason, which the audit log keeps.
pub fn reason_required(action: Action) -> bool {
    matches!(
        action,
        Action::RejectBulletin
            | Action::CancelBulletin
            | Action::StopEmergency
            | Action::RevokeDevice
            | Action::DisableUser
            | Action::RevokeToken
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_by_category_or_by_the_editor() {
        assert!(needs_review(Category::SecurityMilitary, false));
        assert!(needs_review(Category::DailyLife, true));
        assert!(!needs_review(Category::DailyLife, false));
        assert!(reason_required(Action::RejectBulletin));
        assert!(!reason_required(Action::ApproveBulletin));
    }
}

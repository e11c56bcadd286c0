//! A starting hub ends the live emergencies its last run left under way.
//!
//! A live stream lives only in the hub process (the operator's socket, the
//! relay), so a hub stopped or killed mid-stream leaves its emergency valid
//! in the store: boards would show its text and loudspeakers wait for sound
//! until its slot ends, then report `media_missing`. Nobody can resume the
//! stream, so at start the hub cancels every live emergency that could
//! still air, in its own name ([`Subject::Hub`]) with the reason in the
//! audit log, before devices are planned again from their `hello`.

use hub_access::{Action, AuditEvent, Principal, Role, Subject};
use hub_core::{AreaTree, AudioSource, Bulletin, BulletinId, Event};
use hub_store::Batch;

use crate::api::error::ApiError;
use crate::api::handlers::bulletins::{commit_change, state_name};
use crate::api::state::ApiContext;

/// The reason the audit log gives for these cancellations.
pub const RESTART_REASON: &str = "live stream ended: the hub restarted";

/// Cancels every live emergency that can still air, each recorded in the
/// audit log as stopped by the hub; the ids cancelled. Run once, as the hub
/// starts.
pub async fn end_interrupted(state: &ApiContext) -> Result<Vec<BulletinId>, ApiError> {
    let interrupted: Vec<Bulletin> = state
        .hub
        .bulletins()
        .await?
        .into_iter()
        .filter(|b| is_live(b) && b.state.is_schedulable())
        .collect();
    // The hub's own act on what only it knows is over, not a person's
    // request: the policy, which weighs a person's role, has no say in it.
    let hub = hub_principal(&state.tree);
    let mut ended = Vec::with_capacity(interrupted.len());
    for bulletin in interrupted {
        let audit = AuditEvent {
            actor: hub.clone(),
            client: None,
            action: Action::StopEmergency,
            object: format!("bulletin {}", bulletin.id),
            areas: bulletin.targets.clone(),
            bulletin: Some(bulletin.id.clone()),
            before: Some(state_name(bulletin.state)),
            after: None,
            reason: Some(RESTART_REASON.to_owned()),
        };
        commit_change(
            state,
            Event::Cancel(bulletin.id.clone()),
            Batch::new(),
            audit,
        )
        .await?;
        tracing::warn!(bulletin = %bulletin.id,
            "live emergency cancelled: the hub restarted while it was streaming");
        ended.push(bulletin.id);
    }
    Ok(ended)
}

/// Whether any variant's loudspeaker part is a live stream.
fn is_live(bulletin: &Bulletin) -> bool {
    bulletin.variants.iter().any(|v| {
        v.audio
            .as_ref()
            .is_some_and(|a| a.source == AudioSource::Live)
    })
}

/// The hub, acting over every area it serves as a duty officer would.
fn hub_principal(tree: &AreaTree) -> Principal {
    Principal {
        subject: Subject::Hub,
        role: Role::Operator,
        area: tree.root().code.clone(),
    }
}

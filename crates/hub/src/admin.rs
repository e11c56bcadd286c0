//! `hub admin create`: the first administrator, written straight into the
//! store (before `hub serve` holds it), since nobody can log in to the API
//! to create them. Every later account goes through the API.

use chrono::{DateTime, Utc};
use hub_access::{AccessStore, Account, Action, AuditEvent, AuditLog, Password, Role, Username};
use hub_core::{AreaCode, AreaTree};
use hub_store::Store;

/// Creates an administrator account scoped to `area` and records it in the
/// audit log as done by the command line, in the new account's name.
pub fn create_admin(
    store: &Store,
    tree: &AreaTree,
    name: Username,
    display_name: &str,
    area: AreaCode,
    password: &Password,
    now: DateTime<Utc>,
) -> anyhow::Result<Account> {
    let access = AccessStore::new(store.clone());
    let account = Account::new(
        name,
        display_name,
        Role::Administrator,
        area,
        password,
        tree,
        now,
    )?;
    access.create_account(&account)?;
    AuditLog::new(store.clone()).append(
        AuditEvent {
            actor: account.principal(),
            client: None,
            action: Action::CreateUser,
            object: format!("account {}", account.name),
            areas: vec![account.area.clone()],
            bulletin: None,
            before: None,
            after: Some(format!(
                "administrator in {} (hub admin create)",
                account.area
            )),
            reason: None,
        },
        tree,
        now,
    )?;
    store.flush()?;
    Ok(account)
}

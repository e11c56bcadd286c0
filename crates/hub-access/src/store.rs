//! Persistence of accounts, sessions and API tokens, in the hub's store
//! (each a [`Record`](hub_store::Record) with its own tree), and
//! authentication of presented tokens.
//!
//! Account writes check and then write: callers serialise them (the API
//! runs account changes one at a time), as sled offers no
//! insert-if-absent through the store.

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta, Utc};
use hub_core::{AreaCode, AreaTree, BulletinId};
use hub_store::{Batch, Store};

use crate::account::check_scope;
use crate::{
    AccessError, Account, ApiToken, Authorship, Principal, Role, SecretToken, Session, TokenName,
    Username,
};

/// Why a presented token does not authenticate anyone.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no such session or API token")]
    Unknown,
    #[error("the session or API token has expired")]
    Expired,
    #[error("the API token was revoked")]
    Revoked,
    #[error("the account is disabled")]
    AccountDisabled,
    #[error(transparent)]
    Store(#[from] hub_store::StoreError),
}

/// What an administrator asks for when creating an API token.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub name: TokenName,
    pub role: Role,
    pub area: AreaCode,
    pub created_by: Username,
    /// `None`: valid until revoked.
    pub expires: Option<DateTime<Utc>>,
}

/// Accounts, sessions and API tokens in a [`Store`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessStore {
    store: Store,
}

impl AccessStore {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Stores a new account; refuses a name already taken.
    pub fn create_account(&self, account: &Account) -> Result<(), AccessError> {
        if self.account(&account.name)?.is_some() {
            return Err(AccessError::AccountExists(account.name.to_string()));
        }
        Ok(self.store.put(account)?)
    }

    pub fn account(&self, name: &Username) -> Result<Option<Account>, AccessError> {
        Ok(self.store.get(name.as_str().as_bytes())?)
    }

    /// Every account, by name.
    pub fn accounts(&self) -> Result<Vec<Account>, AccessError> {
        Ok(self.store.all()?)
    }

    /// Replaces a stored account with `updated`, its scope checked against
    /// `tree`. A new password or a disabled account ends the account's
    /// sessions in the same write.
    pub fn update_account(&self, updated: &Account, tree: &AreaTree) -> Result<(), AccessError> {
        let current = self
            .account(&updated.name)?
            .ok_or_else(|| AccessError::UnknownAccount(updated.name.to_string()))?;
        check_scope(updated.role, &updated.area, tree)?;
        let mut batch = Batch::new();
        batch.put(updated)?;
        if updated.password != current.password || (updated.disabled && !current.disabled) {
            self.stage_session_removals(&mut batch, &updated.name)?;
        }
        Ok(self.store.apply(batch)?)
    }

    /// Starts a session for `user`, lasting `lifetime`. The token is in the
    /// result only: the store keeps its hash.
    pub fn open_session(
        &self,
        user: &Username,
        client: Option<IpAddr>,
        now: DateTime<Utc>,
        lifetime: TimeDelta,
    ) -> Result<(SecretToken, Session), AccessError> {
        let token = SecretToken::generate();
        let session = Session {
            token: token.hash(),
            user: user.clone(),
            created: now,
            expires: now + lifetime,
            client,
        };
        self.store.put(&session)?;
        Ok((token, session))
    }

    /// Who a session token acts as, with the account's current role and area.
    pub fn authenticate_session(
        &self,
        token: &SecretToken,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        let session: Session = self
            .store
            .get(token.hash().as_str().as_bytes())?
            .ok_or(AuthError::Unknown)?;
        if !session.is_live(now) {
            return Err(AuthError::Expired);
        }
        let account: Account = self
            .store
            .get(session.user.as_str().as_bytes())?
            .ok_or(AuthError::Unknown)?;
        if account.disabled {
            return Err(AuthError::AccountDisabled);
        }
        Ok(account.principal())
    }

    /// Ends one session (logout); whether there was one.
    pub fn close_session(&self, token: &SecretToken) -> Result<bool, AccessError> {
        Ok(self
            .store
            .remove::<Session>(token.hash().as_str().as_bytes())?)
    }

    /// Ends every session of `user`; how many there were. A filtered scan of
    /// the sessions tree, which holds only live and recently expired
    /// sessions when [`Self::purge_expired_sessions`] runs now and then.
    pub fn close_sessions_of(&self, user: &Username) -> Result<usize, AccessError> {
        let mut batch = Batch::new();
        self.stage_session_removals(&mut batch, user)?;
        let closed = batch.len();
        self.store.apply(batch)?;
        Ok(closed)
    }

    fn stage_session_removals(
        &self,
        batch: &mut Batch,
        user: &Username,
    ) -> Result<(), AccessError> {
        for session in self.store.all::<Session>()? {
            if &session.user == user {
                batch.remove::<Session>(session.token.as_str().as_bytes());
            }
        }
        Ok(())
    }

    /// Removes every session expired at `now`; how many.
    pub fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<usize, AccessError> {
        let mut batch = Batch::new();
        for session in self.store.all::<Session>()? {
            if !session.is_live(now) {
                batch.remove::<Session>(session.token.as_str().as_bytes());
            }
        }
        let purged = batch.len();
        self.store.apply(batch)?;
        Ok(purged)
    }

    /// Creates an API token for a machine client, scoped like an account
    /// (checked against `tree`). The secret is in the result only.
    pub fn create_api_token(
        &self,
        request: TokenRequest,
        tree: &AreaTree,
        now: DateTime<Utc>,
    ) -> Result<(SecretToken, ApiToken), AccessError> {
        check_scope(request.role, &request.area, tree)?;
        if self
            .api_tokens()?
            .iter()
            .any(|token| token.name == request.name)
        {
            return Err(AccessError::TokenExists(request.name.to_string()));
        }
        let secret = SecretToken::generate();
        let token = ApiToken {
            hash: secret.hash(),
            name: request.name,
            role: request.role,
            area: request.area,
            created_by: request.created_by,
            created: now,
            expires: request.expires,
            revoked: None,
        };
        self.store.put(&token)?;
        Ok((secret, token))
    }

    /// Every API token, revoked ones included, in no useful order (they are
    /// keyed by hash). A machine client has one, so there are few.
    pub fn api_tokens(&self) -> Result<Vec<ApiToken>, AccessError> {
        Ok(self.store.all()?)
    }

    /// Marks the token named `name` revoked at `now`; returns it as stored.
    pub fn revoke_api_token(
        &self,
        name: &TokenName,
        now: DateTime<Utc>,
    ) -> Result<ApiToken, AccessError> {
        let mut token = self
            .api_tokens()?
            .into_iter()
            .find(|token| &token.name == name)
            .ok_or_else(|| AccessError::UnknownToken(name.to_string()))?;
        token.revoked.get_or_insert(now);
        self.store.put(&token)?;
        Ok(token)
    }

    /// Records who wrote a bulletin; the first author stays.
    pub fn record_author(&self, authorship: &Authorship) -> Result<(), AccessError> {
        if self.author_of(&authorship.bulletin)?.is_none() {
            self.store.put(authorship)?;
        }
        Ok(())
    }

    pub fn author_of(&self, bulletin: &BulletinId) -> Result<Option<Authorship>, AccessError> {
        Ok(self.store.get(bulletin.as_str().as_bytes())?)
    }

    /// Who an API token acts as.
    pub fn authenticate_api_token(
        &self,
        secret: &SecretToken,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        let token: ApiToken = self
            .store
            .get(secret.hash().as_str().as_bytes())?
            .ok_or(AuthError::Unknown)?;
        if token.revoked.is_some() {
            return Err(AuthError::Revoked);
        }
        if !token.is_live(now) {
            return Err(AuthError::Expired);
        }
        Ok(token.principal())
    }
}

#[cfg(test)]
mod tests;

//! The people side of Nguồn: who may do what where, how people and machine
//! clients prove who they are, and the record of everything they change.
//!
//! No HTTP and no clock reads here: the API layer authenticates a request
//! ([`AccessStore::authenticate_session`] or
//! [`AccessStore::authenticate_api_token`]) into a [`Principal`], asks
//! [`authorize`] whether that principal may perform an [`Action`] on a
//! [`Target`], carries the action out and records it in the [`AuditLog`].
//!
//! Every account is scoped to an area of the [`AreaTree`](hub_core::AreaTree)
//! and holds one [`Role`]; [`authorize`] is one table of (action, role) →
//! rule, with a [`Denied`] reason naming the rule that refused.
//!
//! # Layout
//! - [`role`]: the roles and the area level each is scoped to.
//! - account and token names ([`Username`], [`TokenName`]) are `hub-core` identifiers, validated at the edge.
//! - [`principal`]: who acts ([`Subject`]) with its role and area.
//! - [`action`]: every permissioned operation and the facts about its target.
//! - [`policy`]: [`authorize`] and [`Denied`].
//! - [`review`]: which bulletins need the editorial board, which actions need a reason.
//! - [`password`]: Argon2id password hashes.
//! - [`token`]: 256-bit bearer secrets, stored as their SHA-256.
//! - [`account`], [`session`], [`api_token`]: the credential records.
//! - [`throttle`]: failed-login lockouts (pure, in memory).
//! - [`login`]: throttle, verify, open a session.
//! - [`store`]: the [`AccessStore`] of accounts, sessions and tokens in the hub's store.
//! - [`audit`], [`audit_log`]: the [`AuditEntry`] and the append-only [`AuditLog`].
//! - [`authorship`]: who wrote each bulletin ([`Authorship`]).
//! - [`error`]: the [`AccessError`] enum.
//!
//! ## Trees in the hub's store
//! Next to `hub-store`'s own trees, in the same versioned JSON envelope:
//!
//! | tree          | key                                          | record        |
//! |---------------|----------------------------------------------|---------------|
//! | `accounts`    | account name                                 | [`Account`]   |
//! | `sessions`    | SHA-256 of the session token (hex)           | [`Session`]   |
//! | `api_tokens`  | SHA-256 of the API token (hex)               | [`ApiToken`]  |
//! | `audit`       | Unix ms (16 hex) + sequence (16 hex)         | [`AuditEntry`] |
//! | `authorship`  | bulletin id                                  | [`Authorship`] |
//! | `audit_index` | `actor`/`area`/`bulletin` `\0` value `\0` entry key | a reference to the entry |

pub mod account;
pub mod action;
pub mod api_token;
pub mod audit;
pub mod audit_log;
pub mod authorship;
pub mod error;
pub mod login;
pub mod password;
pub mod policy;
pub mod principal;
pub mod review;
pub mod role;
pub mod session;
pub mod store;
pub mod throttle;
pub mod token;

pub use account::Account;
pub use action::{AccountFacts, Action, BulletinFacts, DeviceFacts, Target, TargetKind};
pub use api_token::ApiToken;
pub use audit::{AuditEntry, AuditEvent};
pub use audit_log::{AuditFilter, AuditLog, AuditQuery, MAX_QUERY};
pub use authorship::Authorship;
pub use error::AccessError;
pub use hub_core::{TokenName, Username};
pub use login::{log_in, LoginAttempt, LoginError};
pub use password::{Password, PasswordHash};
pub use policy::{authorize, Denied};
pub use principal::{Principal, Subject};
pub use review::needs_review;
pub use role::Role;
pub use session::{Session, SESSION_LIFETIME};
pub use store::{AccessStore, AuthError, TokenRequest};
pub use throttle::{LockedOut, LoginThrottle, ThrottlePolicy};
pub use token::{SecretToken, TokenHash};

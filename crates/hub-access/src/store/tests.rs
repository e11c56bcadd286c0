use chrono::{DateTime, TimeDelta, Utc};
use hub_core::testkit::{area, code};
use hub_core::{AreaLevel, AreaTree};
use hub_store::Store;

use super::*;
use crate::{
    log_in, LoginAttempt, LoginError, LoginThrottle, Password, PasswordHash, Subject,
    ThrottlePolicy, SESSION_LIFETIME,
};

fn tree() -> AreaTree {
    AreaTree::new([
        area("VN", AreaLevel::Central, None),
        area("67", AreaLevel::Province, Some("VN")),
        area("660", AreaLevel::District, Some("67")),
        area("24611", AreaLevel::Commune, Some("660")),
    ])
    .unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn name(n: &str) -> Username {
    Username::parse(n).unwrap()
}

const PASSWORD: &str = "mật khẩu đủ dài";

fn chair() -> Account {
    Account::new(
        name("chu.tich"),
        "Chủ tịch xã",
        Role::CommuneChair,
        code("24611"),
        &Password::new(PASSWORD),
        &tree(),
        at(0),
    )
    .unwrap()
}

fn store(dir: &tempfile::TempDir) -> AccessStore {
    AccessStore::new(Store::open(dir.path()).unwrap())
}

fn attempt<'a>(name: &'a str, password: &'a Password) -> LoginAttempt<'a> {
    LoginAttempt {
        name,
        password,
        client: Some("198.51.100.4".parse().unwrap()),
    }
}

#[test]
fn accounts_are_scoped_and_unique() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    store.create_account(&chair()).unwrap();
    let err = store.create_account(&chair()).unwrap_err();
    assert_eq!(err.to_string(), "account chu.tich already exists");
    let err = Account::new(
        name("x"),
        "X",
        Role::CommuneChair,
        code("660"),
        &Password::new(PASSWORD),
        &tree(),
        at(0),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cannot be scoped to 660"), "{err}");
    let mut moved = chair();
    moved.area = code("67");
    assert!(store.update_account(&moved, &tree()).is_err());
    assert!(format!("{:?}", chair()).contains("PasswordHash(<redacted>)"));
}

#[test]
fn login_opens_a_session_that_expires_and_ends_on_logout() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    store.create_account(&chair()).unwrap();
    let mut throttle = LoginThrottle::default();
    let password = Password::new(PASSWORD);
    let (token, session) = log_in(
        &store,
        &mut throttle,
        attempt("chu.tich", &password),
        at(0),
        SESSION_LIFETIME,
    )
    .unwrap();
    assert_eq!(session.expires, at(0) + TimeDelta::hours(12));
    let principal = store.authenticate_session(&token, at(60)).unwrap();
    assert_eq!(principal.subject, Subject::User(name("chu.tich")));
    assert_eq!(principal.area, code("24611"));
    // The store keeps only the hash: the token itself is nowhere in it.
    let raw = format!("{:?}", store.store.all::<Session>().unwrap());
    assert!(!raw.contains(token.expose()));
    assert!(matches!(
        store.authenticate_session(&token, session.expires),
        Err(AuthError::Expired)
    ));
    assert!(store.close_session(&token).unwrap());
    assert!(matches!(
        store.authenticate_session(&token, at(60)),
        Err(AuthError::Unknown)
    ));
    assert!(matches!(
        store.authenticate_session(&SecretToken::presented("guess"), at(60)),
        Err(AuthError::Unknown)
    ));
}

#[test]
fn wrong_passwords_and_unknown_names_look_alike_and_lock_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    store.create_account(&chair()).unwrap();
    let mut throttle = LoginThrottle::new(ThrottlePolicy::default());
    let wrong = Password::new("sai mật khẩu rồi");
    let unknown = log_in(
        &store,
        &mut throttle,
        attempt("nobody", &wrong),
        at(0),
        SESSION_LIFETIME,
    );
    assert!(matches!(unknown, Err(LoginError::BadCredentials)));
    for s in 1..5 {
        let result = log_in(
            &store,
            &mut throttle,
            attempt("chu.tich", &wrong),
            at(s),
            SESSION_LIFETIME,
        );
        assert!(
            matches!(result, Err(LoginError::BadCredentials)),
            "{result:?}"
        );
    }
    // Four wrong passwords for the name and five from the address: the
    // address is locked, so even the right password waits.
    let right = Password::new(PASSWORD);
    let locked = log_in(
        &store,
        &mut throttle,
        attempt("chu.tich", &right),
        at(5),
        SESSION_LIFETIME,
    );
    assert!(
        matches!(locked, Err(LoginError::LockedOut(_))),
        "{locked:?}"
    );
    let later = log_in(
        &store,
        &mut throttle,
        attempt("chu.tich", &right),
        at(100),
        SESSION_LIFETIME,
    );
    assert!(later.is_ok(), "{later:?}");
}

#[test]
fn disabling_an_account_or_changing_its_password_ends_its_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let mut account = chair();
    store.create_account(&account).unwrap();
    let (first, _) = store
        .open_session(&account.name, None, at(0), SESSION_LIFETIME)
        .unwrap();
    account.password = PasswordHash::new(&Password::new("một mật khẩu mới")).unwrap();
    store.update_account(&account, &tree()).unwrap();
    assert!(matches!(
        store.authenticate_session(&first, at(1)),
        Err(AuthError::Unknown)
    ));
    let (second, _) = store
        .open_session(&account.name, None, at(2), SESSION_LIFETIME)
        .unwrap();
    account.disabled = true;
    store.update_account(&account, &tree()).unwrap();
    assert!(store.authenticate_session(&second, at(3)).is_err());
    let mut throttle = LoginThrottle::default();
    let password = Password::new("một mật khẩu mới");
    let result = log_in(
        &store,
        &mut throttle,
        attempt("chu.tich", &password),
        at(4),
        SESSION_LIFETIME,
    );
    assert!(matches!(result, Err(LoginError::Disabled)), "{result:?}");
}

#[test]
fn sessions_can_be_closed_per_account_and_purged_when_expired() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let account = chair();
    store.create_account(&account).unwrap();
    let lifetime = TimeDelta::hours(1);
    store
        .open_session(&account.name, None, at(0), lifetime)
        .unwrap();
    let (late, _) = store
        .open_session(&account.name, None, at(3_000), lifetime)
        .unwrap();
    assert_eq!(store.purge_expired_sessions(at(3_600)).unwrap(), 1);
    assert!(store.authenticate_session(&late, at(3_600)).is_ok());
    assert_eq!(store.close_sessions_of(&account.name).unwrap(), 1);
    assert!(store.authenticate_session(&late, at(3_600)).is_err());
}

fn token_request(n: &str) -> TokenRequest {
    TokenRequest {
        name: TokenName::parse(n).unwrap(),
        role: Role::DistrictEditor,
        area: code("660"),
        created_by: name("admin"),
        expires: Some(at(86_400)),
    }
}

#[test]
fn api_tokens_authenticate_until_expired_or_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir);
    let (secret, token) = store
        .create_api_token(token_request("cms-660"), &tree(), at(0))
        .unwrap();
    assert_eq!(token.hash, secret.hash());
    let principal = store.authenticate_api_token(&secret, at(10)).unwrap();
    assert_eq!(principal.role, Role::DistrictEditor);
    assert_eq!(principal.subject.to_string(), "token:cms-660");
    assert!(matches!(
        store.authenticate_api_token(&secret, at(86_400)),
        Err(AuthError::Expired)
    ));
    let err = store
        .create_api_token(token_request("cms-660"), &tree(), at(0))
        .unwrap_err();
    assert_eq!(err.to_string(), "API token cms-660 already exists");
    let revoked = store.revoke_api_token(&token.name, at(20)).unwrap();
    assert_eq!(revoked.revoked, Some(at(20)));
    assert!(matches!(
        store.authenticate_api_token(&secret, at(30)),
        Err(AuthError::Revoked)
    ));
    let mut device = token_request("sensor");
    device.role = Role::Device;
    device.area = code("24611");
    assert!(matches!(
        store.create_api_token(device, &tree(), at(0)),
        Err(AccessError::DeviceRole)
    ));
}

#[test]
fn everything_survives_reopening_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (session_token, api_secret) = {
        let store = store(&dir);
        store.create_account(&chair()).unwrap();
        let (session, _) = store
            .open_session(&name("chu.tich"), None, at(0), SESSION_LIFETIME)
            .unwrap();
        let (secret, _) = store
            .create_api_token(token_request("cms-660"), &tree(), at(0))
            .unwrap();
        let log = crate::AuditLog::new(store.store.clone());
        log.append(
            crate::audit_log::tests::event("chu.tich", "24611"),
            &tree(),
            at(1),
        )
        .unwrap();
        store.store.flush().unwrap();
        (session, secret)
    };
    let store = store(&dir);
    assert_eq!(store.accounts().unwrap(), vec![chair_as_stored(&store)]);
    assert!(store.authenticate_session(&session_token, at(10)).is_ok());
    assert!(store.authenticate_api_token(&api_secret, at(10)).is_ok());
    let log = crate::AuditLog::new(store.store.clone());
    let all = log
        .query(&crate::AuditQuery {
            from: None,
            until: None,
            filter: None,
            limit: 10,
        })
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].at, at(1));
}

/// The stored chair account (its hash has a salt of its own, so it is
/// compared by everything else).
fn chair_as_stored(store: &AccessStore) -> Account {
    let stored = store.account(&name("chu.tich")).unwrap().unwrap();
    assert!(stored.password.verify(&Password::new(PASSWORD)));
    Account {
        password: stored.password.clone(),
        ..chair()
    }
}

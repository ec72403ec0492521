//! Accounts: login, sessions and passwords (here) and the second factor (`totp`).
//!
//! Accounts, login and server-side sessions.
//!
//! - Passwords: argon2id (PHC strings), the policy of `anju_domain::auth::PasswordPolicy`, the
//!   last N not reused, expiry; new and reset accounts get a one-time password that must be
//!   changed at the first login. There is no default password anywhere.
//! - Login: failures are counted by the name typed, known or not, and lock it; an unknown name
//!   and a wrong password get the same answer after the same argon2 work. Optional TOTP.
//! - Sessions: a random token in the cookie, only its SHA-256 in the database; idle and
//!   absolute expiry; a CSRF token per session.
//!
//! Every change and every login attempt writes its audit row in the same transaction.

pub mod totp;

use crate::infra::audit::Outcome;
use crate::infra::audit::{self, AuditEntry};
use crate::infra::codec::{self, from_micros, micros, parse_role, role_code};
use crate::infra::db::Tx;
use crate::infra::error::StoreError;
use crate::infra::vault::{column, random_bytes};
use crate::{Store, on_db, on_tx};
use anju_domain::Coded;
use anju_domain::auth::{
    Action, PasswordPolicy, Principal, SessionPolicy, denied_message, needs_second_factor,
};
use anju_domain::codes::RegionCode;
use anju_domain::event::Role;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Why an account operation was refused. Messages are for the person at the screen.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password: deliberately the same.
    #[error("用户名或密码错误")]
    Failed,
    #[error("登录失败次数过多，已锁定，请 {minutes} 分钟后再试")]
    Locked { minutes: i64 },
    #[error("请输入动态口令")]
    SecondFactorNeeded,
    #[error("动态口令错误或已使用")]
    SecondFactorWrong,
    #[error("该账号须先启用动态口令（双因素认证），请联系县领导小组办公室")]
    SecondFactorRequired,
    #[error("{0}")]
    Policy(String),
    #[error("不能使用最近 {0} 次用过的密码")]
    Reused(usize),
    #[error("{0}")]
    Denied(String),
    #[error("账号不存在或不在您的管理范围内")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        AuthError::Store(StoreError::from(e))
    }
}

pub type AuthResult<T> = std::result::Result<T, AuthError>;

/// What a credential check found: the account, its role and the dynamic code's step if one
/// was given.
struct Checked {
    id: i64,
    role: Role,
    step: Option<i64>,
}

/// An account as listed to administrators (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub region: Option<RegionCode>,
    pub department: Option<String>,
    pub must_change: bool,
    pub totp_enabled: bool,
    pub disabled: bool,
    pub password_set_at: DateTime<Utc>,
}

impl Account {
    pub fn principal(&self) -> Principal {
        Principal {
            account_id: self.id,
            username: self.username.clone(),
            name: self.display_name.clone(),
            role: self.role,
            region: self.region,
            department: self.department.clone(),
        }
    }
}

/// A new account's particulars.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub region: Option<RegionCode>,
    pub department: Option<String>,
}

/// A live session, as a request sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub csrf: String,
    /// One-time or expired password: only the password change is open until it is changed.
    pub must_change_password: bool,
    pub created_at: DateTime<Utc>,
    /// Minutes without a request after which the session ends (the policy when it was read).
    pub idle_minutes: i64,
}

/// A successful login: the cookie value (shown once, never stored) and the session.
#[derive(Debug, Clone)]
pub struct LoginOk {
    pub token: String,
    pub session: Session,
}

/// Both security policies, stored in `settings` and cached.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    pub password: PasswordPolicy,
    pub session: SessionPolicy,
}

const SECURITY_KEY: &str = "security";

fn argon2() -> Argon2<'static> {
    Argon2::default() // argon2id, v0x13, m = 19 MiB, t = 2, p = 1 (OWASP's first choice)
}

fn hash_password(password: &str) -> String {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16-byte salt encodes");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing succeeds with default parameters")
        .to_string()
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash no password matches, verified against for unknown users so that they cost the same.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password(&B64.encode(random_bytes::<24>())))
}

/// Runs argon2 off the async threads (it takes tens of milliseconds on purpose).
async fn verify_blocking(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

async fn hash_blocking(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("hashing task")
}

/// A one-time password that satisfies the default policy: three groups of letters and digits.
pub fn one_time_password() -> String {
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const DIGIT: &[u8] = b"23456789";
    let r = random_bytes::<12>();
    let pick = |set: &[u8], b: u8| set[b as usize % set.len()] as char;
    let mut s = String::new();
    for (i, b) in r.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            s.push('-');
        }
        s.push(match i % 4 {
            0 => pick(UPPER, *b),
            3 => pick(DIGIT, *b),
            _ => pick(LOWER, *b),
        });
    }
    s
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The user name typed, as recorded (trimmed, bounded, never a password-length blob).
/// A user name as typed, cut to 64 characters and without control characters (a NUL would
/// make PostgreSQL refuse the statement; no account name contains one).
fn typed_name(username: &str) -> String {
    username
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect()
}

/// A row of `accounts` as [`ACCOUNT_COLUMNS`] reads it.
#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    region_code: Option<String>,
    department_code: Option<String>,
    must_change: bool,
    totp_secret: Option<String>,
    disabled: bool,
    password_set_at: i64,
}
const ACCOUNT_COLUMNS: &str = "id, username, display_name, role, region_code, department_code, must_change, totp_secret, disabled, password_set_at";

fn account_of(r: AccountRow) -> Result<Account, StoreError> {
    let AccountRow {
        id,
        username,
        display_name,
        role,
        region_code: region,
        department_code: department,
        must_change,
        totp_secret: totp,
        disabled,
        password_set_at: set_at,
    } = r;
    Ok(Account {
        id,
        username,
        display_name,
        role: parse_role(&role)?,
        region: region
            .map(|c| RegionCode::parse(&c))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("account region: {e}")))?,
        department,
        must_change,
        totp_enabled: totp.is_some(),
        disabled,
        password_set_at: from_micros(set_at)?,
    })
}

/// An audit row for what an account did to itself (login, logout, its own password): `who` is
/// its name and role, and the name is the object too.
fn own_entry(
    at: DateTime<Utc>,
    who: (&str, &str),
    source: &str,
    action: &str,
    outcome: Outcome,
    detail: serde_json::Value,
) -> AuditEntry {
    AuditEntry::ok(at, who.0, who.1, source, action, who.0)
        .with_outcome(outcome)
        .with_detail(detail)
}

/// A change made by an administrator (or by an account to itself through the same path): when,
/// by whom and from where, the first half of its audit row.
pub(crate) struct AdminChange<'a> {
    at: DateTime<Utc>,
    by: &'a Principal,
    source: &'a str,
}

/// The change `by` makes at `at` from `source`.
pub(crate) fn admin<'a>(at: DateTime<Utc>, by: &'a Principal, source: &'a str) -> AdminChange<'a> {
    AdminChange { at, by, source }
}

impl AdminChange<'_> {
    /// Its audit row: `action` on `object`, successful, with `detail`.
    pub(crate) fn entry(
        &self,
        action: &str,
        object: &str,
        detail: serde_json::Value,
    ) -> AuditEntry {
        let role = role_code(self.by.role);
        AuditEntry::ok(
            self.at,
            &self.by.username,
            &role,
            self.source,
            action,
            object,
        )
        .with_detail(detail)
    }

    /// Appends [`AdminChange::entry`] inside `tx` and commits: the last step of the change.
    pub(crate) async fn commit(
        &self,
        mut tx: Tx,
        action: &str,
        object: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        audit::append(&mut tx, &self.entry(action, object, detail)).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// The security policies in force (defaults until an administrator changes them).
    pub async fn security(&self) -> Result<Security, StoreError> {
        match self.setting(SECURITY_KEY).await? {
            None => Ok(Security::default()),
            Some(s) => serde_json::from_str(&s)
                .map_err(|e| StoreError::Corrupt(format!("security settings: {e}"))),
        }
    }

    /// Changes the security policies (county office), audited with old and new values.
    pub async fn set_security(
        &self,
        by: &Principal,
        new: &Security,
        source: &str,
    ) -> AuthResult<()> {
        crate::campaign::settings::require_county_wide(by)?;
        if new.password.min_length < 8 || new.password.min_classes < 2 {
            return Err(AuthError::Invalid(
                "密码策略不得低于：至少 8 位、至少 2 类字符".into(),
            ));
        }
        let old = self.security().await?;
        let mut tx = self.db.begin().await?;
        const SQL: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
        let value = serde_json::to_string(new).expect("serializes");
        on_tx!(&mut tx, c => sqlx::query(SQL).bind(SECURITY_KEY).bind(&value).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        let detail = json!({ "old": old, "new": new });
        admin(self.now(), by, source)
            .commit(tx, "setting.security", SECURITY_KEY, detail)
            .await?;
        self.forget_setting(SECURITY_KEY);
        Ok(())
    }

    pub async fn account(&self, username: &str) -> AuthResult<Account> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username = $1");
        let row: Option<AccountRow> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(username).fetch_optional(p).await)?;
        row.map(account_of).transpose()?.ok_or(AuthError::NotFound)
    }

    /// The accounts an administrator manages: those anchored inside its region.
    pub async fn accounts(&self, by: &Principal) -> AuthResult<Vec<Account>> {
        require(by, Action::ManageAccounts)?;
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY username");
        let rows: Vec<AccountRow> =
            on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await)?;
        let all = rows
            .into_iter()
            .map(account_of)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(all.into_iter().filter(|a| manages(by, a)).collect())
    }

    pub async fn count_accounts(&self) -> Result<i64, StoreError> {
        Ok(
            on_db!(&self.db, p => sqlx::query_scalar("SELECT COUNT(*) FROM accounts").fetch_one(p).await)?,
        )
    }

    /// Creates an account with a one-time password (returned once; only its hash is kept).
    pub async fn create_account(
        &self,
        by: &Principal,
        new: &NewAccount,
        source: &str,
    ) -> AuthResult<(Account, String)> {
        let otp = one_time_password();
        let account = self
            .create_account_inner(by, new, &otp, true, source)
            .await?;
        Ok((account, otp))
    }

    /// Creates a demo account with a chosen password that need not be changed (demo mode
    /// only: the password is random per installation and printed by `anju demo`).
    pub async fn create_demo_account(
        &self,
        by: &Principal,
        new: &NewAccount,
        password: &str,
    ) -> AuthResult<Account> {
        self.create_account_inner(by, new, password, false, "demo")
            .await
    }

    async fn create_account_inner(
        &self,
        by: &Principal,
        new: &NewAccount,
        password: &str,
        must_change: bool,
        source: &str,
    ) -> AuthResult<Account> {
        require(by, Action::ManageAccounts)?;
        let username = new.username.trim();
        if username.is_empty()
            || username.len() > 32
            || !username
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(AuthError::Invalid(
                "用户名须为 1–32 位字母、数字、- _ .".into(),
            ));
        }
        if new.display_name.trim().is_empty() {
            return Err(AuthError::Invalid("姓名不能为空".into()));
        }
        self.check_anchor(new)?;
        let candidate = Account {
            id: 0,
            username: username.to_string(),
            display_name: new.display_name.trim().to_string(),
            role: new.role,
            region: new.region,
            department: new.department.clone(),
            must_change: true,
            totp_enabled: false,
            disabled: false,
            password_set_at: self.now(),
        };
        if !manages(by, &candidate) {
            return Err(AuthError::Denied("只能在本辖区内创建账号".into()));
        }
        let hash = hash_blocking(password.to_string()).await;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        const EXISTS: &str = "SELECT COUNT(*) FROM accounts WHERE username = $1";
        let n: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(EXISTS).bind(username).fetch_one(&mut *c).await)?;
        if n > 0 {
            return Err(AuthError::Invalid(format!("用户名 {username} 已存在")));
        }
        const INSERT: &str = "INSERT INTO accounts (username, display_name, role, region_code, department_code, password_hash, password_set_at, must_change, disabled, created_at, created_by) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $9, FALSE, $7, $8) RETURNING id";
        let id: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(INSERT)
            .bind(username).bind(&candidate.display_name).bind(role_code(new.role))
            .bind(new.region.map(|r| r.to_string())).bind(&new.department)
            .bind(&hash).bind(micros(now)).bind(&by.username).bind(must_change)
            .fetch_one(&mut *c).await)?;
        push_history(&mut tx, id, &hash, now).await?;
        let detail = json!({ "role": role_code(new.role), "region": new.region.map(|r| r.to_string()), "department": new.department });
        admin(now, by, source)
            .commit(tx, "account.create", username, detail)
            .await?;
        Ok(Account {
            id,
            password_set_at: now,
            must_change,
            ..candidate
        })
    }

    /// Assigns every house to the reviewers and appraisers who already acted on it (imports
    /// and the demo, whose histories name them). Returns the assignments added.
    pub async fn assign_by_history(&self, by: &Principal, source: &str) -> AuthResult<u64> {
        require(by, Action::AssignHouses)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        const SQL: &str = "INSERT INTO assignments (assignee, house_id, assigned_by, at) \
            SELECT DISTINCT 'assignee:' || e.actor_id, e.house_id, $1, CAST($2 AS BIGINT) FROM events e \
            WHERE e.actor_role IN ('tech_reviewer', 'appraiser') \
            ON CONFLICT (assignee, house_id) DO NOTHING";
        let n = on_tx!(&mut tx, c => sqlx::query(SQL).bind(&by.username).bind(micros(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        let detail = json!({ "assignments": n });
        admin(now, by, source)
            .commit(tx, "house.assign_by_history", "houses", detail)
            .await?;
        Ok(n)
    }

    /// The first account of an empty database: the county office's administrator, with a
    /// one-time password. `None` when accounts exist already.
    pub async fn bootstrap_admin(
        &self,
        county: RegionCode,
    ) -> AuthResult<Option<(Account, String)>> {
        if self.count_accounts().await? > 0 {
            return Ok(None);
        }
        let new = NewAccount {
            username: "admin".into(),
            display_name: "系统管理员（县领导小组办公室）".into(),
            role: Role::CountyOffice,
            region: Some(county),
            department: None,
        };
        self.create_account(&Principal::system(), &new, "cli")
            .await
            .map(Some)
    }

    fn check_anchor(&self, new: &NewAccount) -> AuthResult<()> {
        let reference = self.reference();
        if let Some(r) = &new.region
            && !reference.regions.iter().any(|x| x.code == *r)
        {
            return Err(AuthError::Invalid(format!("区划代码 {r} 不存在")));
        }
        match new.role {
            Role::System => Err(AuthError::Invalid("不能创建系统账号".into())),
            Role::Department => {
                let d = new.department.as_deref().unwrap_or("");
                if !reference.departments.iter().any(|x| x.0 == d) {
                    return Err(AuthError::Invalid(format!(
                        "行业部门账号须指定已有的部门代码（{d}）"
                    )));
                }
                if new.region.is_none() {
                    return Err(AuthError::Invalid("行业部门账号须指定所在县".into()));
                }
                Ok(())
            }
            Role::TechReviewer | Role::Appraiser => Ok(()),
            _ if new.region.is_none() => Err(AuthError::Invalid(format!(
                "{}账号须指定所属区划",
                new.role.label()
            ))),
            _ => Ok(()),
        }
    }

    /// Logs in: password (and TOTP when the account has one). Same answer and argon2 cost for
    /// an unknown name and a wrong password; failures lock the name typed.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        totp_code: Option<&str>,
        source: &str,
        now: DateTime<Utc>,
    ) -> AuthResult<LoginOk> {
        let name = typed_name(username);
        let Checked { id, role, step } = self
            .check_credentials(&name, password, totp_code, source, now, "login")
            .await?;
        let token = B64.encode(random_bytes::<32>());
        let csrf = B64.encode(random_bytes::<32>());
        let mut tx = self.db.begin().await?;
        on_tx!(&mut tx, c => {
            sqlx::query("DELETE FROM login_failures WHERE username = $1").bind(&name).execute(&mut *c).await?;
            sqlx::query("DELETE FROM login_locks WHERE username = $1").bind(&name).execute(&mut *c).await?;
            if let Some(s) = step {
                sqlx::query("UPDATE accounts SET totp_last_step = $2 WHERE id = $1").bind(id).bind(s).execute(&mut *c).await?;
            }
            sqlx::query("INSERT INTO sessions (token_hash, account_id, csrf, created_at, last_seen, source) VALUES ($1, $2, $3, $4, $4, $5)")
                .bind(token_hash(&token)).bind(id).bind(&csrf).bind(micros(now)).bind(source)
                .execute(&mut *c).await?;
        });
        let e = own_entry(
            now,
            (&name, &role_code(role)),
            source,
            "login",
            Outcome::Ok,
            json!({ "second_factor": step.is_some() }),
        );
        audit::append(&mut tx, &e).await?;
        tx.commit().await?;
        let session = self
            .session(&token, now)
            .await?
            .ok_or_else(|| StoreError::Corrupt("session just created is missing".into()))?;
        Ok(LoginOk { token, session })
    }

    /// Confirms that the person at the keyboard holds the account before a signature or an
    /// acceptance: its password, and its dynamic code where it has one (a code is used once).
    /// Failures count towards the same lock as logins; every attempt is audited (`reauth`).
    pub async fn confirm_identity(
        &self,
        username: &str,
        password: &str,
        totp_code: Option<&str>,
        source: &str,
    ) -> AuthResult<()> {
        let now = self.now();
        let name = typed_name(username);
        let Checked { id, role, step } = self
            .check_credentials(&name, password, totp_code, source, now, "reauth")
            .await?;
        let mut tx = self.db.begin().await?;
        on_tx!(&mut tx, c => {
            sqlx::query("DELETE FROM login_failures WHERE username = $1").bind(&name).execute(&mut *c).await?;
            if let Some(s) = step {
                sqlx::query("UPDATE accounts SET totp_last_step = $2 WHERE id = $1").bind(id).bind(s).execute(&mut *c).await?;
            }
        });
        let e = own_entry(
            now,
            (&name, &role_code(role)),
            source,
            "reauth",
            Outcome::Ok,
            json!({ "second_factor": step.is_some() }),
        );
        audit::append(&mut tx, &e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The lock, the password and the dynamic code of `name`, as a login checks them; a
    /// failure is counted and audited under `action`.
    async fn check_credentials(
        &self,
        name: &str,
        password: &str,
        totp_code: Option<&str>,
        source: &str,
        now: DateTime<Utc>,
        action: &str,
    ) -> AuthResult<Checked> {
        // A password with control characters or of absurd length matches no account; it is
        // answered like any wrong password, without hashing a megabyte.
        let password = if password.chars().any(char::is_control) || password.len() > 1024 {
            "\u{1}invalid"
        } else {
            password
        };
        let policy = self.security().await?;
        const LOCK: &str = "SELECT until FROM login_locks WHERE username = $1";
        let until: Option<i64> =
            on_db!(&self.db, p => sqlx::query_scalar(LOCK).bind(name).fetch_optional(p).await)?;
        if let Some(until) = until.filter(|u| *u > micros(now)) {
            let minutes = ((until - micros(now)) as f64 / 60e6).ceil() as i64;
            self.audit_login(name, "", source, Outcome::refused("locked"), now, action)
                .await?;
            return Err(AuthError::Locked { minutes });
        }
        const ROW: &str = "SELECT id, role, password_hash, totp_secret, totp_last_step, disabled FROM accounts WHERE username = $1";
        #[derive(sqlx::FromRow)]
        struct Row {
            id: i64,
            role: String,
            password_hash: String,
            totp_secret: Option<String>,
            totp_last_step: Option<i64>,
            disabled: bool,
        }
        let row: Option<Row> =
            on_db!(&self.db, p => sqlx::query_as(ROW).bind(name).fetch_optional(p).await)?;
        let hash = row
            .as_ref()
            .map_or_else(|| dummy_hash().to_string(), |r| r.password_hash.clone());
        let ok = verify_blocking(password.to_string(), hash).await;
        let row = match row {
            Some(r) if ok && !r.disabled => r,
            _ => {
                self.login_failed(name, source, now, &policy.session, action)
                    .await?;
                return Err(AuthError::Failed);
            }
        };
        let Row {
            id,
            role,
            totp_secret: secret,
            totp_last_step: last_step,
            ..
        } = row;
        let role = parse_role(&role)?;
        let mut step = None;
        match secret {
            Some(sealed) => {
                let Some(code) = totp_code.filter(|c| !c.trim().is_empty()) else {
                    return Err(AuthError::SecondFactorNeeded);
                };
                let secret = B64
                    .decode(
                        self.vault()
                            .open(column::TOTP_SECRET, &sealed)
                            .map_err(StoreError::from)?,
                    )
                    .map_err(|_| StoreError::Corrupt("totp secret".into()))?;
                match totp::matching_step(&secret, code, now.timestamp()) {
                    Some(s) if last_step.is_none_or(|l| s > l) => step = Some(s),
                    _ => {
                        self.login_failed(name, source, now, &policy.session, action)
                            .await?;
                        return Err(AuthError::SecondFactorWrong);
                    }
                }
            }
            None if policy.session.totp_required_for_signers && needs_second_factor(role) => {
                self.audit_login(
                    name,
                    &role_code(role),
                    source,
                    Outcome::refused("totp_required"),
                    now,
                    action,
                )
                .await?;
                return Err(AuthError::SecondFactorRequired);
            }
            None => {}
        }
        Ok(Checked { id, role, step })
    }

    async fn login_failed(
        &self,
        name: &str,
        source: &str,
        now: DateTime<Utc>,
        policy: &SessionPolicy,
        action: &str,
    ) -> AuthResult<()> {
        let mut tx = self.db.begin().await?;
        let since = micros(now - Duration::minutes(policy.failure_window_minutes));
        let n: i64 = on_tx!(&mut tx, c => {
            sqlx::query("INSERT INTO login_failures (username, at) VALUES ($1, $2)")
                .bind(name).bind(micros(now)).execute(&mut *c).await?;
            sqlx::query("DELETE FROM login_failures WHERE username = $1 AND at < $2")
                .bind(name).bind(since).execute(&mut *c).await?;
            sqlx::query_scalar("SELECT COUNT(*) FROM login_failures WHERE username = $1")
                .bind(name).fetch_one(&mut *c).await?
        });
        let locked = n >= policy.max_failures;
        if locked {
            let until = micros(now + Duration::minutes(policy.lock_minutes));
            on_tx!(&mut tx, c => sqlx::query("INSERT INTO login_locks (username, until) VALUES ($1, $2) ON CONFLICT (username) DO UPDATE SET until = excluded.until")
                .bind(name).bind(until).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        }
        let e = own_entry(
            now,
            (name, ""),
            source,
            action,
            if locked {
                Outcome::refused("locked_now")
            } else {
                Outcome::refused("failed")
            },
            json!({ "failures": n }),
        );
        audit::append(&mut tx, &e).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn audit_login(
        &self,
        name: &str,
        role: &str,
        source: &str,
        outcome: Outcome,
        now: DateTime<Utc>,
        action: &str,
    ) -> AuthResult<()> {
        let mut tx = self.db.begin().await?;
        let e = own_entry(now, (name, role), source, action, outcome, json!({}));
        audit::append(&mut tx, &e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The session behind a cookie value, if it is live: not idle longer than the idle limit,
    /// not older than the absolute limit, its account not disabled. An expired one is deleted.
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        let sql = format!(
            "SELECT s.csrf, s.created_at, s.last_seen, {} FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1",
            ACCOUNT_COLUMNS
                .split(", ")
                .map(|c| format!("a.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        /// The session's columns beside its account's (whose `disabled` ends it).
        #[derive(sqlx::FromRow)]
        struct Row {
            csrf: String,
            created_at: i64,
            last_seen: i64,
            #[sqlx(flatten)]
            account: AccountRow,
        }
        let hash = token_hash(token);
        let row: Option<Row> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(&hash).fetch_optional(p).await)?;
        let Some(Row {
            csrf,
            created_at: created,
            last_seen,
            account,
        }) = row
        else {
            return Ok(None);
        };
        let disabled = account.disabled;
        let sec = self.security().await?;
        let policy = &sec.session;
        let now_us = micros(now);
        let idle = now_us - last_seen > policy.idle_minutes * 60_000_000;
        let old = now_us - created > policy.absolute_hours * 3_600_000_000;
        if idle || old || disabled {
            on_db!(&self.db, p => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&hash).execute(p).await.map(|r| r.rows_affected()))?;
            return Ok(None);
        }
        if now_us - last_seen > 30_000_000 {
            // Touch at most every 30 s: keeps reads cheap, idle expiry exact to 30 s.
            on_db!(&self.db, p => sqlx::query("UPDATE sessions SET last_seen = $2 WHERE token_hash = $1").bind(&hash).bind(now_us).execute(p).await.map(|r| r.rows_affected()))?;
        }
        let account = account_of(account)?;
        let expired = sec.password.max_age_days > 0
            && now - account.password_set_at > Duration::days(sec.password.max_age_days);
        Ok(Some(Session {
            must_change_password: account.must_change || expired,
            principal: account.principal(),
            csrf,
            created_at: from_micros(created)?,
            idle_minutes: policy.idle_minutes,
        }))
    }

    /// Logout: the session is deleted.
    pub async fn logout(&self, token: &str, source: &str) -> Result<(), StoreError> {
        let now = self.now();
        let hash = token_hash(token);
        let mut tx = self.db.begin().await?;
        const WHO: &str = "SELECT a.username, a.role FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1";
        let who: Option<(String, String)> =
            on_tx!(&mut tx, c => sqlx::query_as(WHO).bind(&hash).fetch_optional(&mut *c).await)?;
        on_tx!(&mut tx, c => sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&hash).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if let Some((u, r)) = who {
            let e = own_entry(now, (&u, &r), source, "logout", Outcome::Ok, json!({}));
            audit::append(&mut tx, &e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of an account (administrator), audited.
    pub async fn end_sessions(
        &self,
        by: &Principal,
        username: &str,
        source: &str,
    ) -> AuthResult<u64> {
        let target = self.managed(by, username).await?;
        let mut tx = self.db.begin().await?;
        let n = on_tx!(&mut tx, c => sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(target.id).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        let detail = json!({ "sessions": n });
        admin(self.now(), by, source)
            .commit(tx, "account.end_sessions", username, detail)
            .await?;
        Ok(n)
    }

    /// Changes one's own password: the old one, the policy, not one of the last N.
    pub async fn change_password(
        &self,
        username: &str,
        old: &str,
        new: &str,
        source: &str,
        now: DateTime<Utc>,
    ) -> AuthResult<()> {
        const ROW: &str =
            "SELECT id, role, password_hash FROM accounts WHERE username = $1 AND disabled = FALSE";
        let row: Option<(i64, String, String)> =
            on_db!(&self.db, p => sqlx::query_as(ROW).bind(username).fetch_optional(p).await)?;
        let hash = row
            .as_ref()
            .map_or_else(|| dummy_hash().to_string(), |r| r.2.clone());
        if !verify_blocking(old.to_string(), hash).await || row.is_none() {
            return Err(AuthError::Failed);
        }
        let (id, role, _) = row.expect("checked");
        let policy = self.security().await?.password;
        policy.check(username, new).map_err(AuthError::Policy)?;
        const HISTORY: &str =
            "SELECT hash FROM password_history WHERE account_id = $1 ORDER BY id DESC LIMIT $2";
        let recent: Vec<String> = on_db!(&self.db, p => sqlx::query_scalar(HISTORY).bind(id).bind(policy.history as i64).fetch_all(p).await)?;
        for h in recent {
            if verify_blocking(new.to_string(), h).await {
                return Err(AuthError::Reused(policy.history));
            }
        }
        let hash = hash_blocking(new.to_string()).await;
        let mut tx = self.db.begin().await?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE accounts SET password_hash = $2, password_set_at = $3, must_change = FALSE WHERE id = $1")
            .bind(id).bind(&hash).bind(micros(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        push_history(&mut tx, id, &hash, now).await?;
        let e = own_entry(
            now,
            (username, &role),
            source,
            "account.password",
            Outcome::Ok,
            json!({}),
        );
        audit::append(&mut tx, &e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Resets an account's password to a new one-time password and ends its sessions.
    pub async fn reset_password(
        &self,
        by: &Principal,
        username: &str,
        source: &str,
    ) -> AuthResult<String> {
        let target = self.managed(by, username).await?;
        let otp = one_time_password();
        let hash = hash_blocking(otp.clone()).await;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        on_tx!(&mut tx, c => {
            sqlx::query("UPDATE accounts SET password_hash = $2, password_set_at = $3, must_change = TRUE WHERE id = $1")
                .bind(target.id).bind(&hash).bind(micros(now)).execute(&mut *c).await?;
            sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(target.id).execute(&mut *c).await?;
            sqlx::query("DELETE FROM login_locks WHERE username = $1").bind(username).execute(&mut *c).await?;
        });
        push_history(&mut tx, target.id, &hash, now).await?;
        admin(now, by, source)
            .commit(tx, "account.reset_password", username, json!({}))
            .await?;
        Ok(otp)
    }

    /// Disables or re-enables an account; disabling ends its sessions.
    pub async fn set_disabled(
        &self,
        by: &Principal,
        username: &str,
        disabled: bool,
        source: &str,
    ) -> AuthResult<()> {
        let target = self.managed(by, username).await?;
        if target.id == by.account_id {
            return Err(AuthError::Invalid("不能停用自己的账号".into()));
        }
        let mut tx = self.db.begin().await?;
        on_tx!(&mut tx, c => {
            sqlx::query("UPDATE accounts SET disabled = $2 WHERE id = $1").bind(target.id).bind(disabled).execute(&mut *c).await?;
            if disabled {
                sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(target.id).execute(&mut *c).await?;
            }
        });
        let action = if disabled {
            "account.disable"
        } else {
            "account.enable"
        };
        admin(self.now(), by, source)
            .commit(tx, action, username, json!({}))
            .await?;
        Ok(())
    }

    /// Gives an account a new TOTP secret (sealed); returns the `otpauth://` address, shown once.
    pub async fn enable_totp(
        &self,
        by: &Principal,
        username: &str,
        source: &str,
    ) -> AuthResult<(Vec<u8>, String)> {
        let target = if by.username == username {
            self.account(username).await?
        } else {
            self.managed(by, username).await?
        };
        let secret = random_bytes::<20>().to_vec();
        let sealed = self.vault().seal(column::TOTP_SECRET, &B64.encode(&secret));
        let mut tx = self.db.begin().await?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE accounts SET totp_secret = $2, totp_last_step = NULL WHERE id = $1")
            .bind(target.id).bind(&sealed).execute(&mut *c).await.map(|r| r.rows_affected()))?;
        admin(self.now(), by, source)
            .commit(tx, "account.totp_enable", username, json!({}))
            .await?;
        let uri = totp::provisioning_uri(username, &secret);
        Ok((secret, uri))
    }

    /// An account the administrator manages, or `NotFound` (also when it exists elsewhere).
    async fn managed(&self, by: &Principal, username: &str) -> AuthResult<Account> {
        require(by, Action::ManageAccounts)?;
        let a = self.account(username).await?;
        if manages(by, &a) {
            Ok(a)
        } else {
            Err(AuthError::NotFound)
        }
    }
}

/// Whether an administrator's region covers an account's anchor (reviewers and appraisers,
/// who work across towns, belong to whoever administers the county).
fn manages(by: &Principal, a: &Account) -> bool {
    if by.role == Role::System {
        return true;
    }
    match (&by.region, &a.region) {
        (Some(mine), Some(theirs)) => mine.contains(theirs),
        (Some(_), None) => matches!(a.role, Role::TechReviewer | Role::Appraiser),
        (None, _) => false,
    }
}

pub(crate) fn require(by: &Principal, action: Action) -> AuthResult<()> {
    if by.may(action) {
        Ok(())
    } else {
        Err(AuthError::Denied(denied_message(by.role, action)))
    }
}

async fn push_history(
    tx: &mut Tx,
    id: i64,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_tx!(tx, c => sqlx::query("INSERT INTO password_history (account_id, hash, set_at) VALUES ($1, $2, $3)")
        .bind(id).bind(hash).bind(codec::micros(now)).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_passwords_meet_the_default_policy() {
        let p = PasswordPolicy::default();
        for _ in 0..200 {
            let otp = one_time_password();
            assert_eq!(otp.len(), 14);
            p.check("admin", &otp).unwrap();
        }
    }

    #[test]
    fn argon2id_hashes_verify_and_differ() {
        let a = hash_password("Anju-2024");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, hash_password("Anju-2024"), "salted");
        assert!(verify_password("Anju-2024", &a));
        assert!(!verify_password("anju-2024", &a));
        assert!(!verify_password("Anju-2024", dummy_hash()));
    }
}

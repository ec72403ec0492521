//! Store errors: a refused step (rule), a missing or out-of-scope house, or a database failure.
//! The first two carry a Chinese message for people; the last is for the log only.

use anju_domain::RuleViolation;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The rules refused the step; nothing was written.
    #[error("{0}")]
    Rule(#[from] RuleViolation),
    /// Not there, or not in the caller's scope: the two look exactly alike.
    #[error("该房屋不存在或不在您的辖区内")]
    NotFound,
    /// A stored row could not be read back (corrupt or from an incompatible version).
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// Input that cannot be taken, with what is wrong (per row for batches); nothing written.
    #[error("{0}")]
    Invalid(String),
    /// The caller's role may not do this at all (checked before anything is looked up).
    #[error("{0}")]
    Denied(String),
    /// Sealed personal data could not be opened, or the key set does not fit the database.
    #[error(transparent)]
    Vault(#[from] crate::infra::vault::VaultError),
    #[error("database error: {0}")]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Db(e)
    }
}

impl StoreError {
    /// Whether the database is full or unreachable (a 507 or 503, not a 500).
    pub fn unavailable(&self) -> Option<crate::infra::health::Unavailable> {
        match self {
            StoreError::Db(e) => crate::infra::health::classify(e),
            _ => None,
        }
    }

    /// The rule violation, if this is a refusal.
    pub fn rule(&self) -> Option<&RuleViolation> {
        match self {
            StoreError::Rule(v) => Some(v),
            _ => None,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

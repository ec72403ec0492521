//! The public face of a house behind its QR plaque (一房一码). This is the one read of houses
//! without a scope, by design: it is reached by an unguessable 128-bit token printed on the
//! plaque, and answers only what the plaque's public page shows — code, town and village, the
//! current safety status — never a person, an address detail or a history.

use crate::infra::error::Result;
use crate::{Store, on_db};

/// What anyone who scans a plaque may see (read by column name).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PublicHouse {
    pub code: String,
    pub town_code: String,
    pub village_code: String,
    /// Lifecycle status code (`anju_domain::state::Status`).
    pub status: String,
    pub judgement: Option<String>,
    pub grade: Option<String>,
}

impl Store {
    /// The house behind a plaque token, if any.
    pub async fn plaque(&self, token: &str) -> Result<Option<PublicHouse>> {
        if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        const SQL: &str = "SELECT code, town_code, village_code, status, judgement, grade FROM houses WHERE qr_token = $1";
        Ok(
            on_db!(&self.db, p => sqlx::query_as(SQL).bind(token.to_ascii_lowercase()).fetch_optional(p).await)?,
        )
    }
}

/// A fresh unguessable plaque token (128 random bits as 32 lowercase hex digits).
pub fn new_plaque_token() -> String {
    hex::encode(crate::infra::vault::random_bytes::<16>())
}

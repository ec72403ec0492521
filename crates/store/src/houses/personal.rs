//! Personal data at rest: the key set must fit the database, rows left in plain text by an
//! older version are sealed, rotation re-seals every row under the current key, and exact
//! search by ID or phone number goes through the keyed hash.

use crate::infra::error::{Result, StoreError};
use crate::infra::vault::{VaultError, column, digest_kind};
use crate::{Store, on_db, on_tx};

/// How many rows one re-sealing transaction rewrites.
const BATCH: i64 = 2000;

/// What a re-sealing pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    pub events: u64,
    pub people: u64,
    pub secrets: u64,
}

impl Store {
    /// At open: a sealed row must open with this key set (else the key file is the wrong one),
    /// and plain-text rows (from before sealing existed) are sealed now.
    pub(crate) async fn check_keys(&self) -> Result<()> {
        const SAMPLE: &str =
            "SELECT data FROM house_people WHERE data LIKE 'v1.%' ORDER BY house_id DESC LIMIT 1";
        let sample: Option<String> =
            on_db!(&self.db, p => sqlx::query_scalar(SAMPLE).fetch_optional(p).await)?;
        if let Some(s) = sample {
            match self.vault.open(column::HOUSE_PEOPLE, &s) {
                Ok(_) => {}
                Err(VaultError::UnknownKey(id)) => {
                    return Err(StoreError::Vault(VaultError::Format(format!(
                        "数据库中的个人信息用密钥 {id} 加密，但密钥文件中没有它：请使用正确的密钥文件"
                    ))));
                }
                Err(_) => {
                    return Err(StoreError::Vault(VaultError::Format(
                        "密钥文件与数据库不符：个人信息无法解密".into(),
                    )));
                }
            }
        }
        const PLAIN: &str = "SELECT COUNT(*) FROM house_people WHERE data NOT LIKE 'v1.%'";
        let plain: i64 = on_db!(&self.db, p => sqlx::query_scalar(PLAIN).fetch_one(p).await)?;
        if plain > 0 {
            let n = self.reseal_personal().await?;
            tracing::info!(
                events = n.events,
                people = n.people,
                "sealed plain-text personal data"
            );
        }
        Ok(())
    }

    /// Re-seals every personal value not yet under the current key (plain text included), in
    /// batches, each its own transaction: an interrupted pass is resumed by running it again,
    /// and every row stays readable throughout because old keys are kept until retired.
    pub(crate) async fn reseal_personal(&self) -> Result<Resealed> {
        const PEOPLE: &str = "SELECT house_id, data FROM house_people WHERE data NOT LIKE $1 ORDER BY house_id LIMIT $2";
        const PEOPLE_UPDATE: &str = "UPDATE house_people SET data = $2, owner_id_digest = $3, owner_phone_digest = $4 WHERE house_id = $1";
        let people = self
            .reseal_in_batches(PEOPLE, PEOPLE_UPDATE, |id, data| {
                let plain = self.open_or_plain(column::HOUSE_PEOPLE, data)?;
                let people: anju_domain::house::People = serde_json::from_str(&plain)
                    .map_err(|e| StoreError::Corrupt(format!("house people {id}: {e}")))?;
                let row = crate::houses::write::PeopleRow::of(&people, &self.vault);
                Ok(vec![Some(row.sealed), row.id_digest, row.phone_digest])
            })
            .await?;
        const EVENTS: &str = "SELECT id, personal FROM events WHERE personal IS NOT NULL AND personal NOT LIKE $1 ORDER BY id LIMIT $2";
        const EVENTS_UPDATE: &str = "UPDATE events SET personal = $2 WHERE id = $1";
        let events = self
            .reseal_in_batches(EVENTS, EVENTS_UPDATE, |_, data| {
                let plain = self.open_or_plain(column::EVENT_PERSONAL, data)?;
                Ok(vec![Some(self.vault.seal(column::EVENT_PERSONAL, &plain))])
            })
            .await?;
        // TOTP secrets are few: one transaction.
        const SECRETS: &str = "SELECT id, totp_secret FROM accounts WHERE totp_secret IS NOT NULL AND totp_secret NOT LIKE $1";
        const SECRETS_UPDATE: &str = "UPDATE accounts SET totp_secret = $2 WHERE id = $1";
        let prefix = self.current_pattern();
        let rows: Vec<(i64, String)> =
            on_db!(&self.db, p => sqlx::query_as(SECRETS).bind(&prefix).fetch_all(p).await)?;
        if !rows.is_empty() {
            self.reseal_rows(&rows, SECRETS_UPDATE, |_, data| {
                let plain = self.vault.open(column::TOTP_SECRET, data)?;
                Ok(vec![Some(self.vault.seal(column::TOTP_SECRET, &plain))])
            })
            .await?;
        }
        Ok(Resealed {
            events,
            people,
            secrets: rows.len() as u64,
        })
    }

    /// `LIKE` pattern of every value sealed under the current key.
    fn current_pattern(&self) -> String {
        format!("{}%", self.vault.current_prefix())
    }

    /// Re-seals, a batch per transaction, the `(id, value)` rows `select` finds (`$1`: the
    /// current key's pattern, `$2`: a batch's size) until none is left; see
    /// [`Store::reseal_rows`]. Returns how many rows it rewrote.
    async fn reseal_in_batches(
        &self,
        select: &'static str,
        update: &'static str,
        reseal: impl Fn(i64, &str) -> Result<Vec<Option<String>>>,
    ) -> Result<u64> {
        let prefix = self.current_pattern();
        let mut done = 0;
        loop {
            let rows: Vec<(i64, String)> = on_db!(&self.db, p => sqlx::query_as(select)
                .bind(&prefix).bind(BATCH).fetch_all(p).await)?;
            if rows.is_empty() {
                return Ok(done);
            }
            self.reseal_rows(&rows, update, &reseal).await?;
            done += rows.len() as u64;
        }
    }

    /// Rewrites `(id, value)` rows in one transaction: `update` gets the id at `$1` and the
    /// values `reseal` gives for the row from `$2` on.
    async fn reseal_rows(
        &self,
        rows: &[(i64, String)],
        update: &'static str,
        reseal: impl Fn(i64, &str) -> Result<Vec<Option<String>>>,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        for (id, data) in rows {
            let values = reseal(*id, data)?;
            on_tx!(&mut tx, c => {
                let mut q = sqlx::query(update).bind(id);
                for v in &values {
                    q = q.bind(v);
                }
                q.execute(&mut *c).await.map(|r| r.rows_affected())
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many personal values are not under the current key (0 before retiring old keys).
    pub async fn count_unsealed_or_old(&self) -> Result<i64> {
        let prefix = self.current_pattern();
        const SQL: &str = "SELECT (SELECT COUNT(*) FROM house_people WHERE data NOT LIKE $1) \
            + (SELECT COUNT(*) FROM events WHERE personal IS NOT NULL AND personal NOT LIKE $1) \
            + (SELECT COUNT(*) FROM accounts WHERE totp_secret IS NOT NULL AND totp_secret NOT LIKE $1)";
        Ok(
            on_db!(&self.db, p => sqlx::query_scalar::<_, i64>(SQL).bind(&prefix).fetch_one(p).await)?,
        )
    }

    /// A personal value opened, or as it is when an older version left it in plain text.
    pub(crate) fn open_or_plain(&self, col: &str, data: &str) -> Result<String> {
        if data.starts_with("v1.") {
            Ok(self.vault.open(col, data)?)
        } else {
            Ok(data.to_string())
        }
    }

    /// The keyed hash an ID number is searched by (normalised as the domain parses it).
    pub fn id_digest(&self, id: &anju_domain::codes::OwnerId) -> String {
        self.vault.digest(digest_kind::ID, id.as_str())
    }

    pub fn phone_digest(&self, phone: &anju_domain::codes::PhoneNumber) -> String {
        self.vault.digest(digest_kind::PHONE, phone.as_str())
    }
}

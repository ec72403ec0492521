//! Supervision notices (督办): the county office tells a lagging town what to fix by when; the
//! town answers once, and both stay on record. Every write is in one transaction with its audit
//! row; an answer is never overwritten.

use crate::campaign::problems::entry;
use crate::infra::audit;
use crate::infra::audit::Outcome;
use crate::infra::codec::{from_micros, micros};
use crate::infra::error::{Result, StoreError};
use crate::ledgers::reports::covers;
use crate::{Store, on_db, on_tx};
use anju_domain::codes::{RegionCode, RegionLevel};
use anju_domain::event::{Actor, Evidence};
use anju_domain::{RuleCode, RuleViolation, Scope};
use chrono::{DateTime, NaiveDate, Utc};

/// A notice as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSupervision {
    pub town: RegionCode,
    pub subject: String,
    pub body: String,
    pub answer_due: NaiveDate,
}

/// A notice with its answer, if given.
#[derive(Debug, Clone, PartialEq)]
pub struct Supervision {
    pub id: i64,
    pub town_code: String,
    pub subject: String,
    pub body: String,
    pub answer_due: NaiveDate,
    pub issued_at: DateTime<Utc>,
    pub issued_by: String,
    pub issued_by_name: String,
    pub answer: Option<Answer>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    pub at: DateTime<Utc>,
    pub by: String,
    pub by_name: String,
    pub evidence: Vec<Evidence>,
}

fn refuse(code: RuleCode, message: impl Into<String>) -> StoreError {
    StoreError::Rule(RuleViolation {
        code,
        message: message.into(),
    })
}

/// A row of `supervisions` as [`COLUMNS`] reads it.
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    town_code: String,
    subject: String,
    body: String,
    answer_due: NaiveDate,
    issued_at: i64,
    issued_by: String,
    issued_by_name: String,
    answer: Option<String>,
    answered_at: Option<i64>,
    answered_by: Option<String>,
    answered_by_name: Option<String>,
    evidence: String,
}

const COLUMNS: &str = "id, town_code, subject, body, answer_due, issued_at, issued_by, issued_by_name, answer, answered_at, answered_by, answered_by_name, evidence";

fn from_row(r: Row) -> Result<Supervision> {
    let answer = match (r.answer, r.answered_at, r.answered_by, r.answered_by_name) {
        (Some(text), Some(at), Some(by), Some(by_name)) => Some(Answer {
            text,
            at: from_micros(at)?,
            by,
            by_name,
            evidence: serde_json::from_str(&r.evidence)
                .map_err(|e| StoreError::Corrupt(format!("supervision evidence: {e}")))?,
        }),
        _ => None,
    };
    Ok(Supervision {
        id: r.id,
        town_code: r.town_code,
        subject: r.subject,
        body: r.body,
        answer_due: r.answer_due,
        issued_at: from_micros(r.issued_at)?,
        issued_by: r.issued_by,
        issued_by_name: r.issued_by_name,
        answer,
    })
}

impl Store {
    /// Sends a notice to a town within `scope`.
    pub(crate) async fn supervise(
        &self,
        actor: &Actor,
        scope: &Scope,
        new: &NewSupervision,
        source: &str,
    ) -> Result<i64> {
        let subject = new.subject.trim();
        let body = new.body.trim();
        if new.town.level() != RegionLevel::Town {
            return Err(refuse(RuleCode::F1, "督办对象须为镇街"));
        }
        if !covers(scope, &new.town) {
            return Err(StoreError::NotFound);
        }
        for (label, text) in [("督办事项", subject), ("具体要求", body)] {
            anju_domain::text::check(label, text, anju_domain::text::MAX_TEXT)
                .map_err(|m| refuse(RuleCode::F1, m))?;
        }
        if subject.is_empty() || body.chars().count() < 4 {
            return Err(refuse(
                RuleCode::F1,
                "请填写督办事项和具体要求（不少于 4 个字）",
            ));
        }
        let today = self.today();
        if new.answer_due < today {
            return Err(refuse(RuleCode::D1, "答复期限不能早于今天"));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        const SQL: &str = "INSERT INTO supervisions (town_code, subject, body, answer_due, issued_at, issued_by, issued_by_name, evidence) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, '[]') RETURNING id";
        let id: i64 = on_tx!(&mut tx, c => sqlx::query_scalar(SQL)
            .bind(new.town.as_str()).bind(subject).bind(body).bind(new.answer_due)
            .bind(micros(now)).bind(&actor.id).bind(&actor.name)
            .fetch_one(&mut *c).await)?;
        let e = entry(
            now,
            actor,
            source,
            "supervision.issue",
            format!("supervision:{id}"),
            Outcome::Ok,
            serde_json::json!({ "town": new.town.as_str(), "answer_due": new.answer_due }),
        );
        audit::append(&mut tx, &e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The notices of the towns within `scope`, newest first.
    pub(crate) async fn supervisions(&self, scope: &Scope) -> Result<Vec<Supervision>> {
        if matches!(scope, Scope::Nothing | Scope::Assigned { .. }) {
            return Ok(vec![]);
        }
        // The scope's region as a code range (town codes share their region's prefix).
        let sp = crate::infra::scope::ScopeParams::of(scope);
        let sql = format!(
            "SELECT {COLUMNS} FROM supervisions WHERE town_code >= $1 AND town_code < $2 ORDER BY id DESC"
        );
        let rows: Vec<Row> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&sp.lo).bind(&sp.hi).fetch_all(p).await)?;
        rows.into_iter().map(from_row).collect()
    }

    pub(crate) async fn supervision(&self, scope: &Scope, id: i64) -> Result<Supervision> {
        let sql = format!("SELECT {COLUMNS} FROM supervisions WHERE id = $1");
        let row: Option<Row> = on_db!(&self.db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(p).await)?;
        let s = from_row(row.ok_or(StoreError::NotFound)?)?;
        let town = RegionCode::parse(&s.town_code)
            .map_err(|e| StoreError::Corrupt(format!("supervision town: {}", e.0)))?;
        if !covers(scope, &town) {
            return Err(StoreError::NotFound);
        }
        Ok(s)
    }

    /// The town's answer: once, by an account of that town.
    pub(crate) async fn answer_supervision(
        &self,
        actor: &Actor,
        scope: &Scope,
        id: i64,
        text: &str,
        evidence: &[Evidence],
        source: &str,
    ) -> Result<()> {
        let s = self.supervision(scope, id).await?;
        let text = text.trim();
        anju_domain::text::check("答复内容", text, anju_domain::text::MAX_TEXT)
            .map_err(|m| refuse(RuleCode::F1, m))?;
        if text.chars().count() < 4 {
            return Err(refuse(RuleCode::F1, "请填写答复内容（不少于 4 个字）"));
        }
        if s.answer.is_some() {
            return Err(refuse(
                RuleCode::R4,
                "该督办通知已答复，答复不能修改（规则R4）",
            ));
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        const SQL: &str = "UPDATE supervisions SET answer = $2, answered_at = $3, answered_by = $4, answered_by_name = $5, evidence = $6 \
            WHERE id = $1 AND answer IS NULL";
        let n = on_tx!(&mut tx, c => sqlx::query(SQL)
            .bind(id).bind(text).bind(micros(now)).bind(&actor.id).bind(&actor.name)
            .bind(serde_json::to_string(evidence).expect("serializes"))
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        if n != 1 {
            tx.rollback().await?;
            return Err(refuse(RuleCode::V1, "该督办通知已被他人答复，请刷新"));
        }
        let e = entry(
            now,
            actor,
            source,
            "supervision.answer",
            format!("supervision:{id}"),
            Outcome::Ok,
            serde_json::json!({ "evidence": evidence.len() }),
        );
        audit::append(&mut tx, &e).await?;
        tx.commit().await?;
        Ok(())
    }
}

//! The one authorisation check. Every entry point a logged-in account reaches goes through
//! [`Access`]: it asks `anju_domain::auth::allows` whether the role may do this at all
//! (refusals are audited and carry no data), then runs the store function with the scope the
//! account's grant yields — so an id outside the scope answers exactly like a missing one.
//! Personal identifiers come back masked; the full values only through [`Access::reveal_people`],
//! with a reason, audited.
//! The operator's own processes (CLI, importer, demo, benchmarks) use [`crate::System`] instead.

use crate::campaign::problems::Problem;
use crate::houses::HouseView;
use crate::houses::imported::HeldHouse;
use crate::houses::list::{HouseFilter, HousePage, Sort};
use crate::houses::lookback::{LookBackHouse, LookBackTown};
use crate::infra::audit::{self, AuditEntry};
use crate::infra::codec::role_code;
use crate::infra::error::{Result, StoreError};
use crate::ledgers::reports::{CellDiff, NewReport, Report};
use crate::ledgers::{LedgerHouse, TownTotals};
use crate::{Store, on_db};
use anju_domain::auth::{Action, Principal, assignee_key, denied_message};
use anju_domain::campaign::Ranked;
use anju_domain::codes::{OwnerId, PhoneNumber, RegionCode};
use anju_domain::event::{Change, Command, Event, Role};
use anju_domain::house::People;
use anju_domain::ledger::{AsOf, Form, LedgerTable};
use anju_domain::problem::{ProblemCounts, ProblemStatus};
use anju_domain::report::{ReportAction, ReportStatus};
use anju_domain::{HouseCode, HouseState, Scope};
use serde::Serialize;
use std::collections::BTreeMap;

/// People as shown by default: names in full, ID and phone numbers masked. The JSON API answers
/// with it as it is (as `PeopleMasked`); the field docs are its descriptions there, so in Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(
        as = PeopleMasked,
        description = "人员信息，默认脱敏：姓名完整，身份证号和电话号码部分隐藏。"
    )
)]
pub struct PeopleView {
    /// 产权人（户主）
    pub owner_name: String,
    pub owner_id: Option<String>,
    pub owner_phone: Option<String>,
    /// 产权人类型：产权人 / 实际拥有人
    pub owner_role: Option<String>,
    pub user_name: Option<String>,
    pub user_phone: Option<String>,
    /// 房屋安全责任人
    pub safety_person: Option<String>,
    pub safety_phone: Option<String>,
    /// 安全监管责任人（网格员/包保干部）
    pub supervisor: Option<String>,
    pub supervisor_phone: Option<String>,
}

impl PeopleView {
    /// The full values (only after a permitted, audited reveal).
    pub fn full(p: &People) -> PeopleView {
        PeopleView::shown(p, |i| i.as_str().to_string(), |n| n.as_str().to_string())
    }

    pub fn masked(p: &People) -> PeopleView {
        PeopleView::shown(p, OwnerId::masked, PhoneNumber::masked)
    }

    /// Names as they are, the ID number and every phone number as `id` and `phone` show them.
    fn shown(
        p: &People,
        id: impl Fn(&OwnerId) -> String,
        phone: impl Fn(&PhoneNumber) -> String,
    ) -> PeopleView {
        let phone = |x: &Option<PhoneNumber>| x.as_ref().map(&phone);
        PeopleView {
            owner_name: p.owner_name.clone(),
            owner_id: p.owner_id.as_ref().map(id),
            owner_phone: phone(&p.owner_phone),
            owner_role: p.owner_role.clone(),
            user_name: p.user_name.clone(),
            user_phone: phone(&p.user_phone),
            safety_person: p.safety_person.clone(),
            safety_phone: phone(&p.safety_phone),
            supervisor: p.supervisor.clone(),
            supervisor_phone: phone(&p.supervisor_phone),
        }
    }
}

/// A house as an account sees it by default.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseFor {
    pub state: HouseState,
    pub people: Option<PeopleView>,
    pub plaque_token: String,
}

/// An event with the identifiers taken out of any personal part it carries (names stay).
pub fn without_identifiers(mut e: Event) -> Event {
    let strip = |p: &mut People| {
        p.owner_id = None;
        p.owner_phone = None;
        p.user_phone = None;
        p.safety_phone = None;
        p.supervisor_phone = None;
    };
    match &mut e.change {
        Change::Registered { people, .. } => strip(people),
        Change::Corrected {
            people: Some(people),
            ..
        } => strip(people),
        _ => {}
    }
    e
}

/// The kinds of object other than houses whose out-of-scope attempts are audited.
#[derive(Clone, Copy)]
enum Object {
    Report,
    Problem,
    Supervision,
}

/// A logged-in account's view of the store. Cheap to make per request.
pub struct Access<'a> {
    pub(crate) store: &'a Store,
    who: &'a Principal,
    source: &'a str,
}

impl Store {
    pub fn access<'a>(&'a self, who: &'a Principal, source: &'a str) -> Access<'a> {
        Access {
            store: self,
            who,
            source,
        }
    }
}

/// Reads that check the role may do `action` at all, then hand the call to the store method of
/// the same name with the account's scope first: `fn name(args) -> T = Action "object";`
/// becomes `pub async fn name(&self, args) -> Result<T>`.
macro_rules! role_then_scope {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty
        = $action:ident $object:literal;)*) => {
        $(
            $(#[$doc])*
            pub async fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
                self.require(Action::$action, $object).await?;
                self.store.$name(&self.scope(), $($arg),*).await
            }
        )*
    };
}

impl Access<'_> {
    /// Now, by the store's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.store.now()
    }

    pub fn principal(&self) -> &Principal {
        self.who
    }

    /// The account's read scope.
    pub fn scope(&self) -> Scope {
        self.who.scope()
    }

    /// Refuses (and audits the refusal) unless the role may do `action` at all.
    pub(crate) async fn require(&self, action: Action, object: &str) -> Result<()> {
        if self.who.may(action) {
            return Ok(());
        }
        self.refuse(action, object, denied_message(self.who.role, action))
            .await
    }

    /// An audit row of this caller's, from its source, now.
    fn entry(
        &self,
        action: &str,
        object: &str,
        outcome: crate::infra::audit::Outcome,
    ) -> AuditEntry {
        AuditEntry::ok(
            self.now(),
            &self.who.username,
            &role_code(self.who.role),
            self.source,
            action,
            object,
        )
        .with_outcome(outcome)
    }

    /// Appends `entry` in a transaction of its own.
    async fn record(&self, entry: &AuditEntry) -> Result<()> {
        let mut tx = self.store.db.begin().await?;
        audit::append(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Audits a refusal of `action` on `object` and answers it as denied with `message`.
    pub(crate) async fn refuse(&self, action: Action, object: &str, message: String) -> Result<()> {
        let entry = self
            .entry(
                &format!("{action:?}"),
                object,
                crate::infra::audit::Outcome::refused("denied"),
            )
            .with_detail(serde_json::json!({ "message": message }));
        self.record(&entry).await?;
        Err(StoreError::Denied(message))
    }

    /// The scope narrowed to a ledger unit, or `NotFound` when the unit lies outside it.
    fn unit_scope(&self, unit: Option<&RegionCode>) -> Result<Scope> {
        let scope = self.scope();
        let Some(unit) = unit else {
            return match scope {
                Scope::Nothing | Scope::Assigned { .. } => Err(StoreError::NotFound),
                s => Ok(s),
            };
        };
        match scope.narrowed_to(unit) {
            Scope::Nothing => Err(StoreError::NotFound),
            s if s.region() == Some(unit) => Ok(s),
            // The caller's own region lies inside the unit asked for: not the whole unit.
            _ => Err(StoreError::NotFound),
        }
    }

    pub async fn house(&self, code: &HouseCode) -> Result<HouseFor> {
        self.require(Action::ReadHouses, code.as_str()).await?;
        let found = self.store.house(&self.scope(), code).await;
        let HouseView {
            state,
            people,
            plaque_token,
            ..
        } = self.outside_scope(found, "house.read", code).await?;
        Ok(HouseFor {
            state,
            people: people.as_ref().map(PeopleView::masked),
            plaque_token,
        })
    }

    pub async fn house_events(&self, code: &HouseCode) -> Result<Vec<Event>> {
        self.require(Action::ReadHouses, code.as_str()).await?;
        let found = self.store.house_events(&self.scope(), code).await;
        let events = self.outside_scope(found, "house.read", code).await?;
        Ok(events.into_iter().map(without_identifiers).collect())
    }

    /// A house and its history with personal data in full, for the national export
    /// (`anju_import::export::rows`), which checks `ExportPersonal` before it shows identifiers
    /// and audits the export as a whole.
    pub async fn house_for_export(&self, code: &HouseCode) -> Result<(HouseView, Vec<Event>)> {
        self.require(Action::ReadHouses, code.as_str()).await?;
        let scope = self.scope();
        let view = self.store.house(&scope, code).await?;
        Ok((view, self.store.house_events(&scope, code).await?))
    }

    /// An attempt on a house that exists but lies outside the caller's scope is audited
    /// (`refused:scope`) and then answered like a missing house, so the caller learns nothing
    /// and the county office sees the attempt. A code that names no house is just not found.
    async fn outside_scope<T>(
        &self,
        found: Result<T>,
        action: &str,
        code: &HouseCode,
    ) -> Result<T> {
        let Err(StoreError::NotFound) = found else {
            return found;
        };
        const EXISTS: &str = "SELECT COUNT(*) FROM houses WHERE code = $1";
        let n: i64 = crate::on_db!(&self.store.db, p => sqlx::query_scalar(EXISTS)
            .bind(code.as_str()).fetch_one(p).await)?;
        if n > 0 {
            self.record(&self.entry(
                action,
                code.as_str(),
                crate::infra::audit::Outcome::refused("scope"),
            ))
            .await?;
        }
        Err(StoreError::NotFound)
    }

    /// [`Access::outside_scope`] for a report, problem or supervision notice: an attempt on one
    /// that exists but lies outside the caller's scope is audited (`refused:scope`) and
    /// answered like a missing one.
    async fn unseen<T>(
        &self,
        found: Result<T>,
        action: &str,
        object: Object,
        id: i64,
    ) -> Result<T> {
        let Err(StoreError::NotFound) = found else {
            return found;
        };
        let (table, prefix) = match object {
            Object::Report => ("ledger_reports", "report"),
            Object::Problem => ("problems", "problem"),
            Object::Supervision => ("supervisions", "supervision"),
        };
        // The table is one of three constants: safe to inline.
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = $1");
        let n: i64 = crate::on_db!(&self.store.db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(id).fetch_one(p).await)?;
        if n > 0 {
            self.record(&self.entry(
                action,
                &format!("{prefix}:{id}"),
                crate::infra::audit::Outcome::refused("scope"),
            ))
            .await?;
        }
        Err(StoreError::NotFound)
    }

    /// Records a step as this account (the rules then check the step against the role).
    pub async fn execute(&self, cmd: &Command) -> Result<Event> {
        self.require(Action::Record, cmd.house.as_str()).await?;
        let done = self
            .store
            .execute(&self.scope(), &self.who.actor(), cmd, self.source)
            .await;
        let event = self.outside_scope(done, "house.step", &cmd.house).await?;
        Ok(without_identifiers(event))
    }

    /// A house's held-back steps (empty when none).
    pub async fn held_back_of(
        &self,
        code: &HouseCode,
    ) -> Result<Vec<crate::houses::imported::HeldStep>> {
        self.require(Action::ReadHouses, code.as_str()).await?;
        let found = self.store.held_back_of(&self.scope(), code).await;
        self.outside_scope(found, "house.read", code).await
    }

    /// Confirms the held-back steps of `codes` as their approver (town principal or county
    /// office).
    pub async fn confirm_imported(
        &self,
        codes: &[HouseCode],
    ) -> Result<crate::houses::imported::Decided> {
        self.require(Action::ConfirmImports, "imports.confirm")
            .await?;
        let selection = crate::houses::imported::Selection::Houses(codes.to_vec());
        self.store
            .confirm_held_back(&self.scope(), self.who, self.source, &selection)
            .await
    }

    /// Rejects the held-back steps of `codes`, with a reason.
    pub async fn reject_imported(
        &self,
        codes: &[HouseCode],
        reason: &str,
    ) -> Result<crate::houses::imported::Decided> {
        self.require(Action::ConfirmImports, "imports.reject")
            .await?;
        self.store
            .reject_held_back(&self.scope(), self.who, self.source, codes, reason)
            .await
    }

    /// The cut-over: every held-back step in scope dated on or before `day` is confirmed as
    /// history, this county-office account the approver. A day after today is refused.
    pub async fn cut_over_imports(
        &self,
        day: chrono::NaiveDate,
    ) -> Result<crate::houses::imported::Decided> {
        self.require(Action::CutOverImports, "imports.cutover")
            .await?;
        if day > self.store.today() {
            return Err(StoreError::Invalid(format!(
                "切换日期 {day} 不能晚于今天（{}）",
                self.store.today()
            )));
        }
        let selection = crate::houses::imported::Selection::DatedUpTo(day);
        self.store
            .confirm_held_back(&self.scope(), self.who, self.source, &selection)
            .await
    }

    /// Sends a supervision notice (督办) to a town within scope.
    pub async fn supervise(
        &self,
        new: &crate::campaign::supervision::NewSupervision,
    ) -> Result<i64> {
        self.require(Action::Supervise, new.town.as_str()).await?;
        self.store
            .supervise(&self.who.actor(), &self.scope(), new, self.source)
            .await
    }

    fn may_see_supervision(&self) -> Result<()> {
        if self.who.may(Action::Supervise) || self.who.may(Action::AnswerSupervision) {
            Ok(())
        } else {
            Err(StoreError::Denied(denied_message(
                self.who.role,
                Action::AnswerSupervision,
            )))
        }
    }

    pub async fn supervisions(&self) -> Result<Vec<crate::campaign::supervision::Supervision>> {
        self.may_see_supervision()?;
        self.store.supervisions(&self.scope()).await
    }

    pub async fn supervision(&self, id: i64) -> Result<crate::campaign::supervision::Supervision> {
        self.may_see_supervision()?;
        let found = self.store.supervision(&self.scope(), id).await;
        self.unseen(found, "supervision.read", Object::Supervision, id)
            .await
    }

    /// The town's answer to a notice (once).
    pub async fn answer_supervision(
        &self,
        id: i64,
        text: &str,
        evidence: &[anju_domain::event::Evidence],
    ) -> Result<()> {
        self.require(Action::AnswerSupervision, &format!("supervision:{id}"))
            .await?;
        let done = self
            .store
            .answer_supervision(
                &self.who.actor(),
                &self.scope(),
                id,
                text,
                evidence,
                self.source,
            )
            .await;
        self.unseen(done, "supervision.answer", Object::Supervision, id)
            .await
    }

    /// What this account must do next.
    pub async fn reminders(
        &self,
        today: chrono::NaiveDate,
    ) -> Result<Vec<crate::campaign::reminders::Reminder>> {
        self.store.reminders(self.who, today).await
    }

    /// The technical reviewers houses may be assigned to.
    pub async fn reviewer_accounts(&self) -> Result<Vec<(String, String)>> {
        self.require(Action::AssignHouses, "reviewers").await?;
        self.store.reviewer_accounts().await
    }

    /// Registers a new house as this account; the house code is given by the store.
    pub async fn register(&self, cmd: &Command) -> Result<Event> {
        self.require(Action::Record, "house.new").await?;
        let event = self
            .store
            .register(&self.scope(), &self.who.actor(), cmd, self.source)
            .await?;
        Ok(without_identifiers(event))
    }

    /// The full personal data of a house, for a stated reason; the reveal is audited.
    pub async fn reveal_people(&self, code: &HouseCode, reason: &str) -> Result<People> {
        self.require(Action::RevealPersonal, code.as_str()).await?;
        let reason = reason.trim();
        if let Err(why) = anju_domain::auth::reveal_reason(reason) {
            return Err(StoreError::Denied(why));
        }
        let found = self.store.house(&self.scope(), code).await;
        let view = self.outside_scope(found, "personal.reveal", code).await?;
        // A bound per account and Beijing day: reveals beyond it are refused and audited.
        let today = anju_domain::rules::beijing_date(self.now());
        let since = chrono::FixedOffset::east_opt(8 * 3600)
            .and_then(|b| {
                today
                    .and_hms_opt(0, 0, 0)
                    .and_then(|t| t.and_local_timezone(b).single())
            })
            .map_or(self.now(), |t| t.with_timezone(&chrono::Utc));
        const TODAY: &str = "SELECT COUNT(*) FROM audit_log WHERE actor_id = $1 AND at >= $2 \
            AND action = 'personal.reveal' AND outcome = 'ok'";
        let done: i64 = crate::on_db!(&self.store.db, p => sqlx::query_scalar(TODAY)
            .bind(&self.who.username).bind(crate::infra::codec::micros(since)).fetch_one(p).await)?;
        if done >= anju_domain::auth::REVEALS_PER_DAY {
            let message = format!(
                "今日已查看完整个人信息 {done} 次，达到每个账号每日 {} 次的上限；确需继续查看的，请联系县领导小组办公室",
                anju_domain::auth::REVEALS_PER_DAY
            );
            let mut entry = self
                .entry(
                    "personal.reveal",
                    code.as_str(),
                    crate::infra::audit::Outcome::refused("rate"),
                )
                .with_detail(serde_json::json!({ "today": done }));
            entry.reason = Some(reason.to_string());
            self.record(&entry).await?;
            return Err(StoreError::Denied(message));
        }
        let people = view.people.ok_or(StoreError::NotFound)?;
        let mut entry = self.entry(
            "personal.reveal",
            code.as_str(),
            crate::infra::audit::Outcome::Ok,
        );
        entry.reason = Some(reason.to_string());
        self.record(&entry).await?;
        Ok(people)
    }

    /// Houses whose owner has this ID number (exact, by keyed hash), within scope.
    pub async fn find_by_owner_id(&self, id: &OwnerId) -> Result<Vec<HouseCode>> {
        self.require(Action::ReadHouses, "search").await?;
        self.find_by_digest(true, &self.store.id_digest(id)).await
    }

    /// Houses whose owner has this phone number (exact, by keyed hash), within scope.
    pub async fn find_by_owner_phone(&self, phone: &PhoneNumber) -> Result<Vec<HouseCode>> {
        self.require(Action::ReadHouses, "search").await?;
        self.find_by_digest(false, &self.store.phone_digest(phone))
            .await
    }

    async fn find_by_digest(&self, id: bool, digest: &str) -> Result<Vec<HouseCode>> {
        const BY_ID: &str = concat!(
            "SELECT h.code FROM houses h JOIN house_people p ON p.house_id = h.id WHERE p.owner_id_digest = $4 AND ",
            crate::scope_sql!(),
            " ORDER BY h.code"
        );
        const BY_PHONE: &str = concat!(
            "SELECT h.code FROM houses h JOIN house_people p ON p.house_id = h.id WHERE p.owner_phone_digest = $4 AND ",
            crate::scope_sql!(),
            " ORDER BY h.code"
        );
        let sql = if id { BY_ID } else { BY_PHONE };
        let sp = crate::infra::scope::ScopeParams::of(&self.scope());
        let codes: Vec<String> = on_db!(&self.store.db, p => sqlx::query_scalar(sql)
            .bind(&sp.lo).bind(&sp.hi).bind(&sp.key).bind(digest).fetch_all(p).await)?;
        codes
            .iter()
            .map(|c| HouseCode::parse(c).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect()
    }

    /// A ledger for the caller's whole scope, or for one unit (town/county) inside it.
    pub async fn ledger(
        &self,
        form: Form,
        unit: Option<&RegionCode>,
        as_of: AsOf,
    ) -> Result<LedgerTable> {
        self.require(Action::ReadLedger, "ledger").await?;
        let scope = self.unit_scope(unit)?;
        self.store.ledger(form, &scope, as_of).await
    }

    /// The houses behind one figure of a ledger.
    pub async fn ledger_houses(
        &self,
        form: Form,
        unit: Option<&RegionCode>,
        as_of: AsOf,
        column: usize,
        group: Option<&RegionCode>,
    ) -> Result<Vec<LedgerHouse>> {
        self.require(Action::ReadLedger, "ledger").await?;
        let scope = self.unit_scope(unit)?;
        let all = self
            .store
            .ledger_houses_page(form, &scope, as_of, column, group, None);
        Ok(all.await?.1)
    }

    /// [`Access::ledger_houses`] a page at a time (`page`: its number from 1 and its size):
    /// (how many in all, the page's).
    pub async fn ledger_houses_page(
        &self,
        form: Form,
        unit: Option<&RegionCode>,
        as_of: AsOf,
        column: usize,
        group: Option<&RegionCode>,
        page: (u64, u64),
    ) -> Result<(u64, Vec<LedgerHouse>)> {
        self.require(Action::ReadLedger, "ledger").await?;
        let scope = self.unit_scope(unit)?;
        self.store
            .ledger_houses_page(form, &scope, as_of, column, group, Some(page))
            .await
    }

    pub async fn prepare_report(&self, new: &NewReport) -> Result<i64> {
        self.require(Action::PrepareReport, new.unit.as_str())
            .await?;
        self.unit_scope(Some(&new.unit))?;
        let done = self
            .store
            .prepare_report(&self.who.actor(), &self.scope(), new, self.source)
            .await;
        self.rule_refusal(done, "report.prepare", &format!("unit:{}", new.unit))
            .await
    }

    /// A step a rule refused is audited (`refused:RULE`, with the message) before it is
    /// answered; nothing else of it was written.
    async fn rule_refusal<T>(&self, done: Result<T>, action: &str, object: &str) -> Result<T> {
        if let Err(StoreError::Rule(v)) = &done {
            let entry = self
                .entry(
                    action,
                    object,
                    crate::infra::audit::Outcome::refused(v.code.as_str()),
                )
                .with_detail(serde_json::json!({ "rule": v.code.as_str(), "message": v.message }));
            self.record(&entry).await?;
        }
        done
    }

    pub async fn act_on_report(&self, id: i64, action: &ReportAction) -> Result<ReportStatus> {
        let needed = match action {
            ReportAction::Sign => Action::SignReport,
            ReportAction::Submit | ReportAction::AttachScan { .. } => Action::SubmitReport,
            ReportAction::Accept | ReportAction::Return { .. } => Action::ReviewReport,
        };
        self.require(needed, &format!("report:{id}")).await?;
        let done = self
            .store
            .act_on_report(&self.who.actor(), &self.scope(), id, action, self.source)
            .await;
        let done = self
            .rule_refusal(
                done,
                crate::ledgers::reports::audit_action(action),
                &format!("ledger_report:{id}"),
            )
            .await;
        self.unseen(done, "report.act", Object::Report, id).await
    }

    /// A report of a unit within scope.
    pub async fn report(&self, id: i64) -> Result<Report> {
        self.require(Action::ReadLedger, &format!("report:{id}"))
            .await?;
        let r = self.store.report(id).await?;
        // A report holds a whole unit's figures: region accounts only, not a sector's view.
        let seen = match self.unit_scope(Some(&r.unit)) {
            Ok(Scope::All | Scope::Region { .. }) => Ok(r),
            Ok(_) => Err(StoreError::NotFound),
            Err(e) => Err(e),
        };
        self.unseen(seen, "report.read", Object::Report, id).await
    }

    /// The reports of a unit within scope (region accounts only), newest first.
    pub async fn reports_of(&self, unit: &RegionCode) -> Result<Vec<Report>> {
        self.require(Action::ReadLedger, unit.as_str()).await?;
        match self.unit_scope(Some(unit))? {
            Scope::All | Scope::Region { .. } => self.store.reports_of(unit).await,
            _ => Err(StoreError::NotFound),
        }
    }

    /// The signed report `id` follows and what changed since (see [`Store::report_predecessor`]).
    pub async fn report_predecessor(&self, id: i64) -> Result<Option<(Report, Vec<CellDiff>)>> {
        // Scope through the report itself: the predecessor is of the same unit.
        self.report(id).await?;
        self.store.report_predecessor(id).await
    }

    pub async fn compare_report(&self, id: i64, as_of: AsOf) -> Result<Vec<CellDiff>> {
        self.report(id).await?;
        self.store.compare_report(id, as_of).await
    }

    /// Assigns a house within scope to a reviewer's or appraiser's account.
    pub async fn assign(&self, code: &HouseCode, assignee: &str) -> Result<()> {
        self.assign_many(std::slice::from_ref(code), assignee).await
    }

    /// Assigns several houses to one reviewer at once: all of them, each with its audit row,
    /// in one transaction, or none (a house out of scope refuses the whole batch).
    pub async fn assign_many(&self, codes: &[HouseCode], assignee: &str) -> Result<()> {
        const MAX: usize = 500;
        let first = codes.first().map_or("", |c| c.as_str());
        self.require(Action::AssignHouses, first).await?;
        if codes.is_empty() {
            return Err(StoreError::Invalid("请先勾选要分派的房屋".into()));
        }
        if codes.len() > MAX {
            return Err(StoreError::Invalid(format!("一次最多分派 {MAX} 栋")));
        }
        let mut houses = Vec::with_capacity(codes.len());
        for code in codes {
            houses.push((code, self.store.house(&self.scope(), code).await?.id));
        }
        let target = self
            .store
            .account(assignee)
            .await
            .map_err(|_| StoreError::Denied(format!("账号 {assignee} 不存在")))?;
        if !matches!(target.role, Role::TechReviewer | Role::Appraiser) {
            return Err(StoreError::Denied(
                "只能分派给专业技术人员或鉴定机构账号".into(),
            ));
        }
        let now = self.now();
        let mut tx = self.store.db.begin().await?;
        const SQL: &str = "INSERT INTO assignments (assignee, house_id, assigned_by, at) VALUES ($1, $2, $3, $4) ON CONFLICT (assignee, house_id) DO NOTHING";
        for (code, id) in houses {
            crate::on_tx!(&mut tx, c => sqlx::query(SQL).bind(assignee_key(assignee)).bind(id)
                .bind(&self.who.username).bind(crate::infra::codec::micros(now))
                .execute(&mut *c).await.map(|r| r.rows_affected()))?;
            let entry = AuditEntry {
                at: now,
                actor_id: self.who.username.clone(),
                actor_role: role_code(self.who.role),
                source: self.source.to_string(),
                action: "house.assign".into(),
                object: code.to_string(),
                outcome: crate::infra::audit::Outcome::Ok,
                reason: None,
                detail: serde_json::json!({ "assignee": assignee }).to_string(),
            };
            audit::append(&mut tx, &entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The latest audit rows (auditors and the county office).
    pub async fn audit_tail(&self, limit: i64) -> Result<Vec<audit::AuditRow>> {
        self.require(Action::ReadAudit, "audit").await?;
        audit::tail(&self.store.db, limit).await
    }

    /// Issues a batch of problems (county office, inspectors), all or nothing.
    pub async fn issue_problems(
        &self,
        batch: &crate::campaign::problems::NewBatch,
        problems: &[crate::campaign::problems::NewProblem],
    ) -> Result<i64> {
        self.require(Action::IssueProblems, "problems").await?;
        self.store
            .issue_problems(
                &self.who.actor(),
                &self.scope(),
                batch,
                problems,
                self.source,
            )
            .await
    }

    /// A step on a problem: the town's (confirm, dispute, fix) or the issuer's (decide a
    /// dispute, verify, send back).
    pub async fn act_on_problem(
        &self,
        id: i64,
        expected_version: i32,
        action: &anju_domain::problem::ProblemAction,
        evidence: &[anju_domain::event::Evidence],
    ) -> Result<anju_domain::problem::ProblemStatus> {
        let needed = if action.by_issuer() {
            Action::IssueProblems
        } else {
            Action::HandleProblems
        };
        self.require(needed, &format!("problem:{id}")).await?;
        let done = self
            .store
            .act_on_problem(
                &self.who.actor(),
                &self.scope(),
                id,
                expected_version,
                action,
                evidence,
                self.source,
            )
            .await;
        self.unseen(done, "problem.act", Object::Problem, id).await
    }

    /// One problem and its history, within scope.
    pub async fn problem(
        &self,
        id: i64,
    ) -> Result<(
        crate::campaign::problems::Problem,
        Vec<crate::campaign::problems::ProblemStep>,
    )> {
        self.require(Action::ReadHouses, &format!("problem:{id}"))
            .await?;
        let found = self.store.problem(&self.scope(), id).await;
        let p = self
            .unseen(found, "problem.read", Object::Problem, id)
            .await?;
        let steps = self.store.problem_steps(&self.scope(), id).await?;
        Ok((p, steps))
    }

    role_then_scope! {
        /// A page of the houses in scope whose imported closures or acceptances wait for
        /// confirmation.
        fn held_back_page(town: Option<&RegionCode>, page: (u64, u64)) -> (u64, Vec<HeldHouse>)
            = ReadHouses "imports.pending";
        /// How many houses in scope have held-back steps.
        fn held_back_count() -> i64 = ReadLedger "imports.pending";
        /// The towns in scope ranked by progress, the lagging first (通报).
        fn ranking() -> Vec<Ranked> = ReadLedger "ranking";
        fn lookback_towns() -> Vec<LookBackTown> = ReadHouses "lookback";
        fn lookback_pending(limit: i64) -> Vec<LookBackHouse> = ReadHouses "lookback";
        /// A page of the houses waiting for their look-back, optionally in one town: (how many in
        /// all, the page's).
        fn lookback_pending_page(town: Option<&RegionCode>, page: (u64, u64))
            -> (u64, Vec<LookBackHouse>) = ReadHouses "lookback";
        /// A page of the house list within scope.
        fn houses_page(filter: &HouseFilter, sort: Sort, page: i64, per_page: i64) -> HousePage
            = ReadHouses "houses";
        /// The states of the matching houses in scope (personal data is not part of a state).
        fn house_states(filter: &HouseFilter, limit: i64) -> Vec<HouseState> = ReadHouses "houses";
        /// Per-town counts of today's projection within scope (the dashboard's table).
        fn town_totals() -> Vec<TownTotals> = ReadHouses "dashboard";
        /// The problems within scope.
        fn problems(status: Option<ProblemStatus>) -> Vec<Problem> = ReadHouses "problems";
        /// One page of the problems within scope and how many there are.
        fn problems_page(status: Option<ProblemStatus>, page: (u64, u64)) -> (Vec<Problem>, u64)
            = ReadHouses "problems";
        /// Problem figures per town within scope.
        fn problem_counts() -> BTreeMap<String, ProblemCounts> = ReadHouses "problems";
    }
}

//! The store's second face, for the operator's own processes: the command line, the ledger
//! importer, the demo loader and the benchmarks. [`Access`](crate::access::Access) is the face
//! for people; [`System`] states once that its holder sees the whole county.

use crate::Store;
use crate::campaign::problems::{NewBatch, NewProblem, Problem, ProblemStep};
use crate::campaign::supervision::NewSupervision;
use crate::houses::HouseView;
use crate::houses::chain::ChainReport;
use crate::houses::imported::HeldHouse;
use crate::houses::list::{HouseFilter, HousePage, Sort};
use crate::houses::map::{Bbox, Cell, CellSource, MapData, Place};
use crate::infra::backup::Manifest;
use crate::infra::db::Db;
use crate::infra::error::Result;
use crate::ledgers::reports::{CellDiff, NewReport, Report};
use crate::ledgers::{LedgerHouse, TownTotals};
use anju_domain::codes::RegionCode;
use anju_domain::event::{Actor, Command, Event, Evidence};
use anju_domain::ledger::{AsOf, Form, LedgerTable};
use anju_domain::problem::{ProblemAction, ProblemCounts, ProblemStatus};
use anju_domain::report::{ReportAction, ReportStatus};
use anju_domain::{HouseCode, Scope};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// The whole county: all houses, no role check. Held only by processes the operator runs on
/// the server (`anju` subcommands, the importer, the demo loader, benchmarks) — never made for
/// a web request, whose caller goes through `Store::access`. Writes are audited with the
/// `source` label given to `Store::system` and the actor each call names.
pub struct System<'a> {
    store: &'a Store,
    scope: Scope,
    source: String,
}

impl Store {
    /// The operator's face of the store: every house, audit rows labelled `source`
    /// (e.g. `"cli"`, `"bench"`).
    pub fn system(&self, source: &str) -> System<'_> {
        System {
            store: self,
            scope: Scope::All,
            source: source.to_string(),
        }
    }
}

impl<'a> System<'a> {
    /// Bare SQL, for benchmark baselines and operator commands. Nothing read through it is
    /// scoped or audited.
    pub fn db(&self) -> &'a Db {
        &self.store.db
    }

    /// The same face narrowed to a region (e.g. `anju ledger --town`): never wider than the county.
    pub fn narrowed_to(mut self, region: &RegionCode) -> Self {
        self.scope = self.scope.narrowed_to(region);
        self
    }

    /// The same face within any scope, for tests that check a store-level scope rule without
    /// a logged-in account.
    #[cfg(feature = "testing")]
    pub fn within(mut self, scope: &Scope) -> Self {
        self.scope = scope.clone();
        self
    }

    /// `Store::write_batch`: houses whose events were already decided (the demo loader), with
    /// the refused attempts, in one transaction audited as `action`.
    pub async fn write_batch(
        &self,
        houses: &[crate::NewHouse],
        refusals: &[crate::RefusedAttempt],
        action: &str,
        actor: &Actor,
    ) -> Result<()> {
        self.store
            .write_batch(houses, refusals, action, actor, &self.source)
            .await
    }

    /// `Store::import_events`: an event log (`anju events import`), every event decided again.
    pub async fn import_events(
        &self,
        input: &mut dyn std::io::BufRead,
        actor: &Actor,
    ) -> std::result::Result<crate::houses::log::ImportSummary, crate::houses::log::ImportError>
    {
        self.store.import_events(input, actor).await
    }

    /// `Store::restore_tables`: a verified backup into this empty database.
    pub async fn restore_tables(&self, dir: &Path, manifest: &Manifest) -> Result<()> {
        self.store.restore_tables(dir, manifest).await
    }

    /// `Store::reseal_personal`: every house's personal data sealed again under the current key.
    pub async fn reseal_personal(&self) -> Result<crate::houses::personal::Resealed> {
        self.store.reseal_personal().await
    }

    /// `Store::house` over the whole county.
    pub async fn house(&self, code: &HouseCode) -> Result<HouseView> {
        self.store.house(&self.scope, code).await
    }

    /// `Store::house_events` over the whole county.
    pub async fn house_events(&self, code: &HouseCode) -> Result<Vec<Event>> {
        self.store.house_events(&self.scope, code).await
    }

    /// `Store::count_houses` over the whole county.
    pub async fn count_houses(&self) -> Result<i64> {
        self.store.count_houses(&self.scope).await
    }

    /// `Store::count_events` over the whole county.
    pub async fn count_events(&self) -> Result<i64> {
        self.store.count_events(&self.scope).await
    }

    /// `Store::verify_projection` over the whole county.
    pub async fn verify_projection(&self) -> Result<Vec<String>> {
        self.store.verify_projection(&self.scope).await
    }

    /// `Store::execute` over the whole county.
    pub async fn execute(&self, actor: &Actor, cmd: &Command) -> Result<Event> {
        self.store
            .execute(&self.scope, actor, cmd, &self.source)
            .await
    }

    /// `Store::register` over the whole county.
    pub async fn register(&self, actor: &Actor, cmd: &Command) -> Result<Event> {
        self.store
            .register(&self.scope, actor, cmd, &self.source)
            .await
    }

    /// `Store::houses_page` over the whole county.
    pub async fn houses_page(
        &self,
        filter: &HouseFilter,
        sort: Sort,
        page: i64,
        per_page: i64,
    ) -> Result<HousePage> {
        self.store
            .houses_page(&self.scope, filter, sort, page, per_page)
            .await
    }

    /// `Store::map_data` over the whole county.
    pub async fn map_data(
        &self,
        filter: &HouseFilter,
        zoom: u8,
        bbox: Option<Bbox>,
    ) -> Result<Arc<MapData>> {
        self.store.map_data(&self.scope, filter, zoom, bbox).await
    }

    /// `Store::map_cells_fresh` over the whole county.
    pub async fn map_cells_fresh(
        &self,
        filter: &HouseFilter,
        zoom: u8,
        source: CellSource,
    ) -> Result<Option<Vec<Cell>>> {
        self.store
            .map_cells_fresh(&self.scope, filter, zoom, source)
            .await
    }

    /// `Store::map_places` over the whole county.
    pub async fn map_places(&self) -> Result<Arc<Vec<Place>>> {
        self.store.map_places(&self.scope).await
    }

    /// `Store::held_back_page` over the whole county.
    pub async fn held_back_page(
        &self,
        town: Option<&RegionCode>,
        page: (u64, u64),
    ) -> Result<(u64, Vec<HeldHouse>)> {
        self.store.held_back_page(&self.scope, town, page).await
    }

    /// `Store::held_back_count` over the whole county.
    pub async fn held_back_count(&self) -> Result<i64> {
        self.store.held_back_count(&self.scope).await
    }

    /// `Store::export_events` over the whole county.
    pub async fn export_events(&self, out: &mut dyn Write) -> Result<u64> {
        self.store.export_events(&self.scope, out).await
    }

    /// `Store::ledger` over the whole county.
    pub async fn ledger(&self, form: Form, as_of: AsOf) -> Result<LedgerTable> {
        self.store.ledger(form, &self.scope, as_of).await
    }

    /// `Store::ledger_with_houses` over the whole county.
    pub async fn ledger_with_houses(
        &self,
        form: Form,
        as_of: AsOf,
    ) -> Result<(LedgerTable, Vec<Vec<Vec<String>>>)> {
        self.store
            .ledger_with_houses(form, &self.scope, as_of)
            .await
    }

    /// `Store::ledger_houses` over the whole county.
    pub async fn ledger_houses(
        &self,
        form: Form,
        as_of: AsOf,
        column: usize,
        group: Option<&RegionCode>,
    ) -> Result<Vec<LedgerHouse>> {
        self.store
            .ledger_houses(form, &self.scope, as_of, column, group)
            .await
    }

    /// `Store::town_totals` over the whole county.
    pub async fn town_totals(&self) -> Result<Vec<TownTotals>> {
        self.store.town_totals(&self.scope).await
    }

    /// `Store::prepare_report` over the whole county.
    pub async fn prepare_report(&self, actor: &Actor, new: &NewReport) -> Result<i64> {
        self.store
            .prepare_report(actor, &self.scope, new, &self.source)
            .await
    }

    /// `Store::act_on_report` over the whole county.
    pub async fn act_on_report(
        &self,
        actor: &Actor,
        id: i64,
        action: &ReportAction,
    ) -> Result<ReportStatus> {
        self.store
            .act_on_report(actor, &self.scope, id, action, &self.source)
            .await
    }

    /// `Store::issue_problems` over the whole county.
    pub async fn issue_problems(
        &self,
        actor: &Actor,
        batch: &NewBatch,
        problems: &[NewProblem],
    ) -> Result<i64> {
        self.store
            .issue_problems(actor, &self.scope, batch, problems, &self.source)
            .await
    }

    /// `Store::act_on_problem` over the whole county.
    pub async fn act_on_problem(
        &self,
        actor: &Actor,
        id: i64,
        expected_version: i32,
        action: &ProblemAction,
        evidence: &[Evidence],
    ) -> Result<ProblemStatus> {
        self.store
            .act_on_problem(
                actor,
                &self.scope,
                id,
                expected_version,
                action,
                evidence,
                &self.source,
            )
            .await
    }

    /// `Store::problem` over the whole county.
    pub async fn problem(&self, id: i64) -> Result<Problem> {
        self.store.problem(&self.scope, id).await
    }

    /// `Store::problem_steps` over the whole county.
    pub async fn problem_steps(&self, id: i64) -> Result<Vec<ProblemStep>> {
        self.store.problem_steps(&self.scope, id).await
    }

    /// `Store::problems` over the whole county.
    pub async fn problems(&self, status: Option<ProblemStatus>) -> Result<Vec<Problem>> {
        self.store.problems(&self.scope, status).await
    }

    /// `Store::problem_counts` over the whole county.
    pub async fn problem_counts(&self) -> Result<BTreeMap<String, ProblemCounts>> {
        self.store.problem_counts(&self.scope).await
    }

    /// `Store::supervise` over the whole county.
    pub async fn supervise(&self, actor: &Actor, new: &NewSupervision) -> Result<i64> {
        self.store
            .supervise(actor, &self.scope, new, &self.source)
            .await
    }

    /// `Store::report`: a ledger handed in, with its frozen figures and houses.
    pub async fn report(&self, id: i64) -> Result<Report> {
        self.store.report(id).await
    }

    /// `Store::report_predecessor`: the report this one follows, and what changed.
    pub async fn report_predecessor(&self, id: i64) -> Result<Option<(Report, Vec<CellDiff>)>> {
        self.store.report_predecessor(id).await
    }

    /// `Store::compare_report`: a signed report's frozen figures against the ledger `as_of`.
    pub async fn compare_report(&self, id: i64, as_of: AsOf) -> Result<Vec<CellDiff>> {
        self.store.compare_report(id, as_of).await
    }

    /// `Store::verify_all`: every house's events against the heads the audit trail vouches for.
    pub async fn verify_all(&self) -> Result<ChainReport> {
        self.store.verify_all().await
    }

    /// `Store::dump`: every table, personal data still sealed, into a backup folder.
    pub async fn dump(&self, dir: &Path) -> Result<Manifest> {
        self.store.dump(dir).await
    }
}

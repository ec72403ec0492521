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

/// Reads that only hand the call to the store method of the same name with this face's scope
/// first: `fn name(args) -> T;` becomes `pub async fn name(&self, args) -> Result<T>`.
macro_rules! over_scope {
    ($(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(
            #[doc = concat!("`Store::", stringify!($name), "` over the whole county.")]
            pub async fn $name(&self, $($arg: $ty),*) -> Result<$ret> {
                self.store.$name(&self.scope, $($arg),*).await
            }
        )*
    };
}

/// Writes that hand the call to the store method of the same name as `actor`, with this face's
/// scope and audited under its source: `fn name(args) -> T;` becomes
/// `pub async fn name(&self, actor: &Actor, args) -> Result<T>`.
macro_rules! as_actor {
    ($(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(
            #[doc = concat!("`Store::", stringify!($name), "` over the whole county.")]
            pub async fn $name(&self, actor: &Actor, $($arg: $ty),*) -> Result<$ret> {
                self.store.$name(actor, &self.scope, $($arg,)* &self.source).await
            }
        )*
    };
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

    over_scope! {
        fn house(code: &HouseCode) -> HouseView;
        fn house_events(code: &HouseCode) -> Vec<Event>;
        fn count_houses() -> i64;
        fn count_events() -> i64;
        fn verify_projection() -> Vec<String>;
        fn houses_page(filter: &HouseFilter, sort: Sort, page: i64, per_page: i64) -> HousePage;
        fn map_data(filter: &HouseFilter, zoom: u8, bbox: Option<Bbox>) -> Arc<MapData>;
        fn map_cells_fresh(filter: &HouseFilter, zoom: u8, source: CellSource)
            -> Option<Vec<Cell>>;
        fn map_places() -> Arc<Vec<Place>>;
        fn held_back_page(town: Option<&RegionCode>, page: (u64, u64)) -> (u64, Vec<HeldHouse>);
        fn held_back_count() -> i64;
        fn export_events(out: &mut dyn Write) -> u64;
        fn town_totals() -> Vec<TownTotals>;
        fn problem(id: i64) -> Problem;
        fn problem_steps(id: i64) -> Vec<ProblemStep>;
        fn problems(status: Option<ProblemStatus>) -> Vec<Problem>;
        fn problem_counts() -> BTreeMap<String, ProblemCounts>;
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
        let all = self
            .store
            .ledger_houses_page(form, &self.scope, as_of, column, group, None);
        Ok(all.await?.1)
    }

    as_actor! {
        fn prepare_report(new: &NewReport) -> i64;
        fn act_on_report(id: i64, action: &ReportAction) -> ReportStatus;
        fn issue_problems(batch: &NewBatch, problems: &[NewProblem]) -> i64;
        fn act_on_problem(
            id: i64,
            expected_version: i32,
            action: &ProblemAction,
            evidence: &[Evidence]
        ) -> ProblemStatus;
        fn supervise(new: &NewSupervision) -> i64;
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

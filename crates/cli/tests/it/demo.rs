//! The demo county as `anju demo` loads it: a campaign in progress on the store's today, and a
//! 附件2 and a problem ledger with nothing left at zero.

use anju_demo::{Demo, Path};
use anju_domain::Coded;
use anju_domain::ledger::{AsOf, Form};
use anju_domain::problem::{ProblemSource, ProblemStatus};
use anju_domain::state::Status;
use anju_store::{Store, testing};

const HOUSES: u64 = 2_000;
const SEED: u64 = 5;

async fn every_column_and_status(store: &Store) {
    let summary = anju::demo::load(store, HOUSES, SEED, |_| {}).await.unwrap();
    let today = store.today();
    // The tests' clock stands on a fixed day: the campaign is 85 days in, its deadlines 40 and
    // 4 days behind, 6 and 21 days ahead.
    let left: Vec<i64> = store
        .deadlines()
        .await
        .unwrap()
        .iter()
        .map(|d| anju_domain::campaign::days_left(d.due, today))
        .collect();
    assert_eq!(left, [-40, -4, 6, 21]);

    // What the generator made, worked out from its houses and its plan.
    let demo = Demo::in_progress(HOUSES, SEED, today);
    let houses: Vec<_> = (0..HOUSES).map(|i| demo.house(i)).collect();
    let count =
        |f: &dyn Fn(&anju_demo::DemoHouse) -> bool| houses.iter().filter(|h| f(h)).count() as i64;
    let surveyed = |h: &anju_demo::DemoHouse| h.path != Path::Unsurveyed;
    let hazard = |h: &anju_demo::DemoHouse| surveyed(h) && h.path != Path::NoHazard;
    let business = |h: &anju_demo::DemoHouse| h.state.is_business();
    let closed = |h: &anju_demo::DemoHouse| h.state.status() == Status::Closed;
    let plan = demo.problems();
    let problems: Vec<_> = plan.iter().flat_map(|b| &b.problems).collect();
    let online: Vec<_> = plan
        .iter()
        .filter(|b| b.source == ProblemSource::OnlineInspection)
        .flat_map(|b| &b.problems)
        .filter(|p| p.business)
        .collect();
    let online_confirmed = online.iter().filter(|p| p.status.has_verdict()).count() as i64;

    let table = store
        .system("test")
        .ledger(Form::Attachment2, AsOf::Now)
        .await
        .unwrap();
    let total = &table.total;
    assert_eq!(total.name, "合计");
    assert!(table.checks.is_empty(), "{:?}", table.checks);
    let c = &total.counts;
    assert_eq!(c[0], count(&surveyed), "已排查自建房总量");
    assert_eq!(c[1], count(&|h| surveyed(h) && business(h)), "经营性已排查");
    assert_eq!(c[2], count(&|h| hazard(h) && business(h)), "经营性初判隐患");
    assert_eq!(
        c[3],
        count(&|h| hazard(h) && business(h) && closed(h)),
        "经营性动态销号"
    );
    assert_eq!(
        c[4],
        count(&|h| surveyed(h) && !business(h)),
        "非经营性已排查"
    );
    assert_eq!(c[5], count(&|h| hazard(h) && !business(h)), "①");
    assert_eq!(
        c[11],
        count(&|h| hazard(h) && !business(h) && closed(h)),
        "⑦"
    );
    assert_eq!(
        (total.online_confirmed, total.online_total),
        (online_confirmed, online.len() as i64),
        "线上检查 问题确认/问题"
    );
    // No column of the county total is 0: every count, both online figures, every rate.
    for (i, n) in c.iter().enumerate() {
        assert!(*n > 0, "附件2 合计 column {i} is 0");
    }
    assert!(total.online_confirmed > 0 && total.online_confirmed < total.online_total);
    for r in total.attachment2_rates() {
        assert!(r.numerator > 0 && r.denominator > 0, "{r:?}");
    }

    // The problem ledger: every source, every status, as planned and as the rules left them.
    let stored = store.system("test").problems(None).await.unwrap();
    assert_eq!(stored.len(), problems.len());
    assert_eq!(
        summary.problems.iter().map(|(_, n)| n).sum::<u64>(),
        problems.len() as u64
    );
    for s in ProblemStatus::ALL {
        let planned = problems.iter().filter(|p| p.status == *s).count();
        let got = store.system("test").problems(Some(*s)).await.unwrap().len();
        assert!(planned > 0, "no problem planned {s:?}");
        assert_eq!(got, planned, "{s:?}");
    }
    for source in [
        ProblemSource::OnlineInspection,
        ProblemSource::ThirdParty,
        ProblemSource::WorkTeam,
    ] {
        assert!(stored.iter().any(|p| p.source == source), "no {source:?}");
    }
    let overdue = stored
        .iter()
        .filter(|p| p.status.is_open() && p.deadline.is_some_and(|d| d < today))
        .count();
    assert!(overdue > 0, "no problem overdue");
    assert_eq!(
        overdue,
        problems.iter().filter(|p| p.overdue(today)).count()
    );
    assert_eq!(summary.problems_overdue, overdue as u64);
    assert!(
        stored
            .iter()
            .any(|p| p.status.is_open() && p.deadline.is_some_and(|d| d >= today)),
        "no open problem still within its deadline"
    );
    // Steps happened in the campaign, in order, before today; no house was reopened by one.
    for p in stored.iter().filter(|p| p.status == ProblemStatus::Closed) {
        let steps = store.system("test").problem_steps(p.id).await.unwrap();
        assert!(steps.windows(2).all(|w| w[0].at < w[1].at));
        let first = anju_domain::rules::beijing_date(steps[0].at);
        let last = anju_domain::rules::beijing_date(steps.last().unwrap().at);
        assert!(first > p.issued_on && last < today, "{first} … {last}");
    }
    let faults = store.system("test").verify_projection().await.unwrap();
    assert!(faults.is_empty(), "house states differ from their events");
    let counts = store.system("test").problem_counts().await.unwrap();
    let county: anju_domain::problem::ProblemCounts =
        counts.values().fold(Default::default(), |mut a, c| {
            a.total += c.total;
            a.with_verdict += c.with_verdict;
            a.found_true += c.found_true;
            a.closed += c.closed;
            a
        });
    assert!(county.with_verdict > 0 && county.with_verdict < county.total);
    assert!(county.closed > 0 && county.closed < county.found_true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fills_every_column_of_attachment_2_and_every_problem_status_sqlite() {
    let db = testing::sqlite().await;
    every_column_and_status(&db.store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_fills_every_column_of_attachment_2_and_every_problem_status_postgres() {
    let db = testing::postgres().await;
    every_column_and_status(&db.store).await;
}

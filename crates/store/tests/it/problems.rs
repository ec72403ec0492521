//! The problem ledger on both backends: issuing a batch (all or nothing, bad rows named), every
//! state transition and its refusals (a town cannot verify its own fix; a dispute needs
//! evidence), the rates worked out by hand, and a confirmed problem reopening a closed house.

use anju_domain::Coded;
use anju_domain::Scope;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{ClosureBasis, Judgement, ReviewFinding, UsageCategory};
use anju_domain::event::{Change, EvidenceKind, Role};
use anju_domain::ledger::{AsOf, Form, LedgerTable};
use anju_domain::problem::{
    ProblemAction as A, ProblemCategory, ProblemSource, ProblemStatus as S,
};
use anju_domain::state::Status;
use anju_domain::{RuleCode, sample};
use anju_store::campaign::problems::{NewBatch, NewProblem};
use anju_store::testing::*;
use anju_store::{Store, StoreError};

fn town(code: &str) -> RegionCode {
    RegionCode::parse(code).unwrap()
}

fn county() -> anju_domain::event::Actor {
    actor("co", Role::CountyOffice)
}

fn town_scope() -> Scope {
    Scope::Region {
        code: town("370829101"),
    }
}

fn problem(row: u32, t: &str, house: Option<&str>, text: &str) -> NewProblem {
    NewProblem {
        row_no: row,
        town: town(t),
        house: house.map(str::to_string),
        category: ProblemCategory::FalseClosure,
        description: text.into(),
        deadline: None,
    }
}

fn batch() -> NewBatch {
    NewBatch {
        source: ProblemSource::OnlineInspection,
        name: "2024年第3批线上巡检".into(),
        issued_on: chrono::NaiveDate::from_ymd_opt(2024, 5, 10).unwrap(),
    }
}

/// The county's 附件2 as of `as_of`.
async fn county_attachment2(store: &Store, as_of: AsOf) -> LedgerTable {
    store
        .system("test")
        .ledger(Form::Attachment2, as_of)
        .await
        .unwrap()
}

fn may(day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2024, 5, day).unwrap()
}

/// (问题确认, 问题) of the test village in town 101's own 附件2 as of `as_of`.
async fn village_problems(store: &Store, as_of: AsOf) -> (i64, i64) {
    let t = store
        .system("test")
        .within(&town_scope())
        .ledger(Form::Attachment2, as_of)
        .await
        .unwrap();
    let v = t.rows.iter().find(|r| r.code == VILLAGE).unwrap();
    (v.online_confirmed, v.online_total)
}

/// The county issues `problems` in [`batch`]: the batch's id.
async fn issue(store: &Store, problems: &[NewProblem]) -> i64 {
    store
        .system("t")
        .issue_problems(&county(), &batch(), problems)
        .await
        .unwrap()
}

/// The rule a step was refused by.
fn refused_by<T: std::fmt::Debug>(step: Result<T, StoreError>) -> RuleCode {
    step.unwrap_err().rule().expect("refused by a rule").code
}

async fn rows(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    anju_store::on_db!(store.db_for_tests(), p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(p).await).unwrap()
}

async fn a_bad_batch_is_refused_whole_with_every_bad_row_named(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let other = House::register(store, 2, OTHER_VILLAGE, UsageCategory::Other).await;
    let code = h.code.to_string();
    let other_code = other.code.to_string();
    let audits = audit_count(store).await;
    let bad = vec![
        problem(2, "370829101000", Some(&code), "销号依据不足"),
        problem(3, "370829101000", Some("AJ37082999999999X"), "查无此房"),
        problem(4, "370829101000", Some(&other_code), "房屋不在该镇"),
        problem(5, "370829101000", Some(&code), "销号依据不足"),
        problem(6, "370829101000", None, "  "),
    ];
    let err = store
        .system("t")
        .issue_problems(&county(), &batch(), &bad)
        .await
        .unwrap_err();
    let StoreError::Invalid(msg) = err else {
        panic!("{err}")
    };
    for needle in ["第 3 行", "第 4 行", "第 5 行", "第 6 行", "4 行不能导入"] {
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    assert!(!msg.contains("第 2 行"), "{msg}");
    // A town's account cannot send problems to another town either.
    let err = store
        .system("t")
        .within(&town_scope())
        .issue_problems(
            &county(),
            &batch(),
            &[problem(7, "370829102000", None, "他镇问题")],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("不在您的辖区内"));
    for t in ["problem_batches", "problems", "problem_events"] {
        assert_eq!(rows(store, t).await, 0, "{t}");
    }
    assert_eq!(audit_count(store).await, audits);
}

anju_store::both!(a_bad_batch_is_refused_whole_with_every_bad_row_named);

async fn every_transition_and_its_refusals(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let code = h.code.to_string();
    let b = issue(
        store,
        &[
            problem(1, "370829101000", Some(&code), "以管代改"),
            problem(2, "370829101000", None, "漏排一户"),
        ],
    )
    .await;
    assert!(b > 0);
    let list = store
        .system("test")
        .within(&town_scope())
        .problems(None)
        .await
        .unwrap();
    assert_eq!(list.len(), 2);
    let (p1, p2) = (list[0].clone(), list[1].clone());
    assert_eq!(p1.house_code.as_deref(), Some(code.as_str()));
    assert_eq!(p1.status, S::Pending);
    // The other town sees none of them.
    let far = store.system("test").within(&Scope::Region {
        code: town("370829102"),
    });
    assert!(far.problems(None).await.unwrap().is_empty());
    assert!(matches!(
        far.problem(p1.id).await,
        Err(StoreError::NotFound)
    ));

    let photo = [sample::evidence(EvidenceKind::Photo, "整改后.jpg")];
    let scope = town_scope();
    let town_view = store.system("test").within(&scope);
    let step = |id: i64,
                v: i32,
                a: A,
                who: anju_domain::event::Actor,
                ev: &'static [anju_domain::event::Evidence]| {
        let scope = scope.clone();
        async move {
            store
                .system("t")
                .within(&scope)
                .act_on_problem(&who, id, v, &a, ev)
                .await
        }
    };
    let ev: &'static [anju_domain::event::Evidence] = Box::leak(Box::new(photo));
    assert_eq!(
        step(p1.id, 1, A::Confirm, clerk(), &[]).await.unwrap(),
        S::Confirmed
    );
    // Stale: someone confirmed first.
    assert_eq!(
        refused_by(step(p1.id, 1, A::StartRectify, clerk(), &[]).await),
        RuleCode::V1
    );
    assert_eq!(
        step(p1.id, 2, A::StartRectify, clerk(), &[]).await.unwrap(),
        S::Rectifying
    );
    // Fixed without evidence: E1, audited, nothing changed.
    let audits = audit_count(store).await;
    let fixed = || A::ReportFixed {
        note: "已拆除围挡并加固".into(),
    };
    assert_eq!(
        refused_by(step(p1.id, 3, fixed(), clerk(), &[]).await),
        RuleCode::E1
    );
    assert_eq!(audit_count(store).await, audits + 1);
    assert_eq!(
        town_view.problem(p1.id).await.unwrap().status,
        S::Rectifying
    );
    assert_eq!(
        step(p1.id, 3, fixed(), clerk(), ev).await.unwrap(),
        S::Rectified
    );
    // A town cannot verify its own fix (nor can its principal).
    for who in [clerk(), principal()] {
        let err = step(p1.id, 4, A::Verify, who, &[]).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Rule(ref v) if v.code == RuleCode::P1),
            "{err}"
        );
    }
    // The county office sends it back once, then verifies.
    let back = A::ReturnFix {
        reason: "整改后照片不清晰".into(),
    };
    assert_eq!(
        step(p1.id, 4, back, county(), &[]).await.unwrap(),
        S::Rectifying
    );
    assert_eq!(
        step(p1.id, 5, fixed(), clerk(), ev).await.unwrap(),
        S::Rectified
    );
    assert_eq!(
        step(p1.id, 6, A::Verify, county(), &[]).await.unwrap(),
        S::Closed
    );
    let (p, steps) = (
        town_view.problem(p1.id).await.unwrap(),
        town_view.problem_steps(p1.id).await.unwrap(),
    );
    assert_eq!((p.status, p.version), (S::Closed, 7));
    let path: Vec<_> = steps.iter().map(|s| s.to.code()).collect();
    assert_eq!(
        path,
        [
            "confirmed",
            "rectifying",
            "rectified",
            "rectifying",
            "rectified",
            "closed"
        ]
    );
    assert_eq!(steps[2].evidence.len(), 1);

    // A dispute: without evidence refused; with it, the county accepts → 不属实.
    let dispute = || A::Dispute {
        reason: "该户已于2023年拆除".into(),
    };
    assert_eq!(
        refused_by(step(p2.id, 1, dispute(), clerk(), &[]).await),
        RuleCode::E1
    );
    assert_eq!(
        step(p2.id, 1, dispute(), clerk(), ev).await.unwrap(),
        S::Disputed
    );
    assert_eq!(
        refused_by(step(p2.id, 2, A::AcceptDispute, clerk(), &[]).await),
        RuleCode::P1
    );
    assert_eq!(
        step(p2.id, 2, A::AcceptDispute, county(), &[])
            .await
            .unwrap(),
        S::Unfounded
    );
    assert_eq!(
        refused_by(step(p2.id, 3, A::Confirm, clerk(), &[]).await),
        RuleCode::L1
    );
}

anju_store::both!(every_transition_and_its_refusals);

/// Town 101: closed, unfounded, pending, confirmed, disputed → verdicts 3 of 5 (60.00%), found
/// true 2 (closed, confirmed), closed 1 → 50.00%. Town 102: one pending → 0.00% and `—`.
async fn rates_by_town_worked_out_by_hand(store: &Store) {
    with_villages(store).await;
    let t = "370829101000";
    issue(
        store,
        &[
            problem(1, t, None, "一"),
            problem(2, t, None, "二"),
            problem(3, t, None, "三"),
            problem(4, t, None, "四"),
            problem(5, t, None, "五"),
            problem(6, "370829102000", None, "六"),
        ],
    )
    .await;
    let ids: Vec<i64> = store
        .system("test")
        .problems(None)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let ev = [sample::evidence(EvidenceKind::Photo, "p.jpg")];
    let s = Scope::All;
    let act = |id, v, a: A, who, e: &[anju_domain::event::Evidence]| {
        let e = e.to_vec();
        let s = s.clone();
        async move {
            store
                .system("t")
                .within(&s)
                .act_on_problem(&who, id, v, &a, &e)
                .await
                .unwrap()
        }
    };
    // 1: closed.
    act(ids[0], 1, A::Confirm, clerk(), &[]).await;
    act(
        ids[0],
        2,
        A::ReportFixed { note: "改".into() },
        clerk(),
        &ev,
    )
    .await;
    act(ids[0], 3, A::Verify, county(), &[]).await;
    // 2: unfounded.
    act(
        ids[1],
        1,
        A::Dispute {
            reason: "不实".into(),
        },
        clerk(),
        &ev,
    )
    .await;
    act(ids[1], 2, A::AcceptDispute, county(), &[]).await;
    // 3: pending. 4: confirmed. 5: disputed.
    act(ids[3], 1, A::Confirm, clerk(), &[]).await;
    act(
        ids[4],
        1,
        A::Dispute {
            reason: "不实".into(),
        },
        clerk(),
        &ev,
    )
    .await;
    let counts = store.system("test").problem_counts().await.unwrap();
    let a = &counts["370829101000"];
    assert_eq!(
        (a.total, a.with_verdict, a.found_true, a.closed),
        (5, 3, 2, 1)
    );
    assert_eq!(a.confirmation_rate().display(), "60.00%");
    assert_eq!(a.rectification_rate().display(), "50.00%");
    let b = &counts["370829102000"];
    assert_eq!(b.confirmation_rate().display(), "0.00%");
    assert_eq!(b.rectification_rate().display(), "—");
}

anju_store::both!(rates_by_town_worked_out_by_hand);

async fn a_confirmed_problem_reopens_a_closed_house(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    h.ok(&reviewer(), review(ReviewFinding::NoHazard)).await;
    h.ok(&principal(), close(ClosureBasis::ReviewNoHazard))
        .await;
    let state = |store: &Store| {
        let code = h.code.clone();
        let store = store.clone();
        async move {
            store
                .system("test")
                .house(&code)
                .await
                .unwrap()
                .state
                .status()
        }
    };
    assert_eq!(state(store).await, Status::Closed);
    let code = h.code.to_string();
    issue(
        store,
        &[problem(
            1,
            "370829101000",
            Some(&code),
            "复核不到位，销号不实",
        )],
    )
    .await;
    let p = store.system("test").problems(None).await.unwrap().remove(0);
    store
        .system("t")
        .within(&town_scope())
        .act_on_problem(&clerk(), p.id, 1, &A::Confirm, &[])
        .await
        .unwrap();
    assert_ne!(
        state(store).await,
        Status::Closed,
        "the closure no longer stands"
    );
    let events = store.system("test").house_events(&h.code).await.unwrap();
    let last = events.last().unwrap();
    assert!(matches!(last.change, Change::Reopened));
    assert!(
        last.reason.as_deref().unwrap().contains("销号不实"),
        "{:?}",
        last.reason
    );
    assert_eq!(last.actor.id, format!("problem:{}", p.id));
    // The problem's audit row vouches for the reopened house's new head.
    let check = store.system("test").verify_all().await.unwrap();
    assert!(check.is_clean(), "{check:?}");
}

anju_store::both!(a_confirmed_problem_reopens_a_closed_house);

/// 附件2 线上检查: online-inspection problems about business-use houses only. Town 101 has two
/// (one confirmed, one pending) → 1/2, 50.00%; a problem about a non-business house and one from
/// another source do not count. Before the batch was issued: 0/0 and `—`.
async fn attachment_2_shows_online_inspection_problems(store: &Store) {
    with_villages(store).await;
    let a = House::register(store, 1, VILLAGE, UsageCategory::MixedBusiness).await;
    let b = House::register(store, 2, VILLAGE, UsageCategory::MixedBusiness).await;
    let c = House::register(store, 3, VILLAGE, UsageCategory::Other).await;
    let t = "370829101000";
    let (ac, bc, cc) = (a.code.to_string(), b.code.to_string(), c.code.to_string());
    issue(
        store,
        &[
            problem(1, t, Some(&ac), "经营性一"),
            problem(2, t, Some(&bc), "经营性二"),
            problem(3, t, Some(&cc), "非经营性"),
        ],
    )
    .await;
    let mut other = batch();
    other.source = ProblemSource::CountySupervision;
    store
        .system("t")
        .issue_problems(&county(), &other, &[problem(1, t, Some(&ac), "县督导")])
        .await
        .unwrap();
    for p in store.system("test").problems(None).await.unwrap() {
        if p.description != "经营性二" {
            store
                .system("t")
                .act_on_problem(&clerk(), p.id, 1, &A::Confirm, &[])
                .await
                .unwrap();
        }
    }
    let row = |table: &anju_domain::ledger::LedgerTable| {
        let r = table.rows.iter().find(|r| r.code == t).unwrap().clone();
        (r.online_confirmed, r.online_total)
    };
    let now = county_attachment2(store, AsOf::Now).await;
    assert_eq!(row(&now), (1, 2));
    assert_eq!((now.total.online_confirmed, now.total.online_total), (1, 2));
    let r = now.rows.iter().find(|r| r.code == t).unwrap();
    let shown: Vec<String> = r
        .cells(Form::Attachment2)
        .iter()
        .map(|(c, _)| c.display())
        .collect();
    assert!(
        shown.contains(&"1/2".to_string()) && shown.contains(&"50.00%".to_string()),
        "{shown:?}"
    );
    let before = county_attachment2(store, AsOf::Happened(may(9))).await;
    assert_eq!(row(&before), (0, 0));
    // Issued by then, but confirmed only today: 0 with a verdict of 2.
    let issued = county_attachment2(store, AsOf::Happened(may(10))).await;
    assert_eq!(row(&issued), (0, 2));
    // The town's own 附件2: the village row carries them.
    assert_eq!(village_problems(store, AsOf::Now).await, (1, 2));
}

anju_store::both!(attachment_2_shows_online_inspection_problems);

/// A problem counts in an as-of 附件2 under the village its house was in on that day (or at
/// that instant), not under the village the house has moved to since. House H (business use)
/// is registered in 纸坊镇's test village (town 101) on 2024-03-20 and surveyed on 03-21; an
/// online-inspection problem about it is issued on 05-10; on 06-01 the house's village is
/// corrected to 梁宝寺镇's (town 102). Worked out by hand, as (问题确认, 问题) for towns 101 and 102:
/// 05-31: (0, 1) and (0, 0) — issued, pending, the house still in 101; 06-01: (0, 0) and
/// (0, 1); today, after the problem is confirmed: (0, 0) and (1, 1); as recorded before the
/// correction: (0, 1) and (0, 0). The house's own 已排查 figure moves with it on the same days.
async fn an_as_of_problem_counts_under_its_house_village_on_that_day(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 1, VILLAGE, UsageCategory::MixedBusiness).await;
    h.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let code = h.code.to_string();
    issue(store, &[problem(1, "370829101000", Some(&code), "经营性")]).await;
    let before_move = store.now();
    h.day = chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
    let moved = corrected(1, OTHER_VILLAGE, UsageCategory::MixedBusiness);
    h.ok(&clerk(), moved).await;
    let figures = |as_of| async move {
        let t = county_attachment2(store, as_of).await;
        let row = |c: &str| {
            let r = t.rows.iter().find(|r| r.code.starts_with(c)).unwrap();
            (r.online_confirmed, r.online_total, r.counts[0])
        };
        (row("370829101"), row("370829102"))
    };
    let on = |m, d| AsOf::Happened(chrono::NaiveDate::from_ymd_opt(2024, m, d).unwrap());
    // (问题确认, 问题, 已排查总量) for towns 101 and 102.
    assert_eq!(figures(on(5, 31)).await, ((0, 1, 1), (0, 0, 0)));
    assert_eq!(figures(on(6, 1)).await, ((0, 0, 0), (0, 1, 1)));
    assert_eq!(
        figures(AsOf::Recorded(before_move)).await,
        ((0, 1, 1), (0, 0, 0))
    );
    let id = store.system("test").problems(None).await.unwrap()[0].id;
    store
        .system("t")
        .act_on_problem(&clerk(), id, 1, &A::Confirm, &[])
        .await
        .unwrap();
    assert_eq!(figures(AsOf::Now).await, ((0, 0, 0), (1, 1, 1)));
    assert_eq!(
        figures(AsOf::Recorded(store.now())).await,
        ((0, 0, 0), (1, 1, 1))
    );
    // Confirmed only today: on 06-01 it was still pending.
    assert_eq!(figures(on(6, 1)).await, ((0, 0, 0), (0, 1, 1)));
    // Town 101's own 附件2 as of 05-31 shows it in its village, although the house is now
    // outside the town's scope.
    assert_eq!(village_problems(store, on(5, 31)).await, (0, 1));
}

anju_store::both!(an_as_of_problem_counts_under_its_house_village_on_that_day);

/// A problem's business flag is the house's use when the problem was issued. At issue, house B
/// is business-use and house N is not; afterwards B is corrected to non-business and N to
/// business. Worked out by hand: 附件2 线上检查 still counts B's problem and not N's, today and
/// as of the issue date — 0/1 — while the houses' own 经营性 已排查 figures follow their use
/// (today: N, 1; on the issue date: B, 1).
async fn a_problem_keeps_the_business_flag_it_was_issued_with(store: &Store) {
    with_villages(store).await;
    let mut b = House::register(store, 1, VILLAGE, UsageCategory::MixedBusiness).await;
    let mut n = House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    for h in [&mut b, &mut n] {
        h.ok(&clerk(), survey(Judgement::NoHazard)).await; // 2024-03-21
    }
    let t = "370829101000";
    let (bc, nc) = (b.code.to_string(), n.code.to_string());
    issue(
        store,
        &[
            problem(1, t, Some(&bc), "经营性"),
            problem(2, t, Some(&nc), "非经营性"),
        ],
    )
    .await;
    for (h, serial, usage) in [
        (&mut b, 1, UsageCategory::Other),
        (&mut n, 2, UsageCategory::MixedBusiness),
    ] {
        h.day = chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
        h.ok(&clerk(), corrected(serial, VILLAGE, usage)).await;
    }
    let issued = AsOf::Happened(may(10));
    for (as_of, business_surveyed) in [(AsOf::Now, 1), (issued, 1)] {
        let table = county_attachment2(store, as_of).await;
        let r = table.rows.iter().find(|r| r.code == t).unwrap();
        assert_eq!((r.online_confirmed, r.online_total), (0, 1), "{as_of:?}");
        assert_eq!(r.counts[1], business_surveyed, "{as_of:?}");
    }
    let houses = store
        .system("test")
        .ledger_houses(Form::Attachment2, AsOf::Now, 1, None)
        .await
        .unwrap();
    assert_eq!(houses[0].code, nc, "today N is the business-use house");
    let houses = store
        .system("test")
        .ledger_houses(Form::Attachment2, issued, 1, None)
        .await
        .unwrap();
    assert_eq!(houses[0].code, bc, "on the issue date B was");
}

anju_store::both!(a_problem_keeps_the_business_flag_it_was_issued_with);

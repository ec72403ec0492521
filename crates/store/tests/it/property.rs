//! Property: any random sequence of steps, legal or not, stale or fresh, leaves every stored
//! projection equal to a fresh replay of the stored events, and stores exactly the accepted ones.

use anju_domain::Coded;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{
    ClosureBasis, EngMeasure, Grade, Judgement, MgmtMeasure, RegistrationSource, ReviewFinding,
    UsageCategory,
};
use anju_domain::event::{Actor, Change, Command, EvidenceKind, Role};
use anju_domain::{HouseCode, sample};
use anju_store::{Store, StoreError};
use chrono::{Duration, NaiveDate};
use proptest::prelude::*;

const VILLAGE: &str = "370829105201";

#[derive(Debug, Clone)]
struct Op {
    house: usize,
    step: u8,
    variant: u8,
    actor: u8,
    days: i64,
    stale: bool,
    with_reason: bool,
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly plausible steps (the role that may take them, dates moving forward), so that
    // long legal histories arise; sometimes anything at all.
    const NATURAL: [u8; 14] = [0, 2, 3, 0, 0, 0, 2, 1, 0, 2, 1, 3, 0, 0];
    (
        (
            0..3usize,
            0..14u8,
            0..4u8,
            0..6u8,
            prop::bool::weighted(0.8),
        ),
        (
            0..12i64,
            prop::bool::weighted(0.08),
            prop::bool::weighted(0.9),
        ),
    )
        .prop_map(
            |((house, step, variant, any_actor, natural), (d, stale, with_reason))| Op {
                house,
                step,
                variant,
                actor: if natural {
                    NATURAL[step as usize]
                } else {
                    any_actor
                },
                days: if d == 0 { -1 } else { d % 4 },
                stale,
                with_reason,
            },
        )
}

fn actor(i: u8) -> Actor {
    let (id, role) = match i {
        0 => ("clerk", Role::TownOperator),
        1 => ("principal", Role::TownPrincipal),
        2 => ("reviewer", Role::TechReviewer),
        3 => ("appraiser", Role::Appraiser),
        4 => ("county", Role::CountyOffice),
        _ => ("reviewer", Role::System),
    };
    Actor {
        id: id.into(),
        name: id.into(),
        role,
    }
}

fn change(op: &Op) -> Change {
    let v = op.variant;
    match op.step {
        0 => Change::Surveyed(Box::new(sample::survey(
            [
                Judgement::NoHazard,
                Judgement::Hazard,
                Judgement::Severe,
                Judgement::Hazard,
            ][v as usize],
        ))),
        1 => Change::Reviewed {
            reviewer_names: "孙工".into(),
            finding: if v.is_multiple_of(2) {
                ReviewFinding::NoHazard
            } else {
                ReviewFinding::Hazard
            },
            opinion: None,
        },
        2 => Change::Appraised(Box::new(sample::appraisal(
            [Grade::A, Grade::B, Grade::C, Grade::D][v as usize],
            op.days.rem_euclid(2) == 0,
        ))),
        3 => Change::OwnerNotified {
            method: "直接送达".into(),
            recipient: "张三".into(),
        },
        4 => Change::InterimControlApplied {
            measures: vec![MgmtMeasure::ALL[v as usize]],
        },
        5 => Change::EngineeringStarted {
            measure: EngMeasure::ALL[v as usize % 3],
            contractor: None,
            deadline: None,
        },
        6 => Change::EngineeringAccepted {
            measure: EngMeasure::ALL[v as usize % 3],
            reviewer_names: "孙工".into(),
            opinion: None,
        },
        7 => Change::Closed {
            basis: ClosureBasis::ALL[v as usize],
            platform_closed_on: None,
        },
        8 => Change::LegacyClosureRecorded {
            measures: vec![MgmtMeasure::WallPatching],
            closed_on: NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(),
        },
        9 => Change::LookBackReviewed {
            reviewer_names: "孙工".into(),
            hazard_remains: v % 2 == 1,
            opinion: None,
        },
        10 => Change::Reopened,
        11 => Change::Reclassified {
            judgement: None,
            risk_level: None,
            grade: Some(Grade::ALL[v as usize]),
        },
        12 => Change::Reclassified {
            judgement: Some(
                [
                    Judgement::NoHazard,
                    Judgement::Hazard,
                    Judgement::Severe,
                    Judgement::Severe,
                ][v as usize],
            ),
            risk_level: None,
            grade: None,
        },
        _ => {
            let mut r = sample::record(
                RegionCode::parse(VILLAGE).unwrap(),
                UsageCategory::ALL[v as usize % 3],
            );
            r.address = format!("更正后的地址{v}号");
            Change::Corrected {
                record: Box::new(r),
                people: None,
            }
        }
    }
}

async fn run(store: &Store, ops: &[Op]) {
    anju_store::testing::add_village(store, VILLAGE, "测试村", "370829105").await;
    let county = RegionCode::parse("370829").unwrap();
    let codes: Vec<HouseCode> = (1..=3).map(|i| HouseCode::new(&county, i)).collect();
    let mut day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
    let mut accepted = 0_i64;
    for (i, code) in codes.iter().enumerate() {
        let cmd = Command {
            house: code.clone(),
            expected_version: 0,
            change: Change::Registered {
                source: RegistrationSource::Census,
                plaque_token: format!("{:032x}", i + 1),
                record: Box::new(sample::record(
                    RegionCode::parse(VILLAGE).unwrap(),
                    UsageCategory::ALL[i],
                )),
                people: Box::new(sample::people()),
            },
            effective: day,
            reason: None,
            evidence: vec![],
        };
        store.system("prop").execute(&actor(0), &cmd).await.unwrap();
        accepted += 1;
    }
    for op in ops {
        day = (day + Duration::days(op.days)).max(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap());
        let code = &codes[op.house];
        let version = store
            .system("test")
            .house(code)
            .await
            .unwrap()
            .state
            .version;
        let cmd = Command {
            house: code.clone(),
            expected_version: if op.stale { version - 1 } else { version },
            change: change(op),
            effective: day,
            reason: op.with_reason.then(|| "核实更正".to_string()),
            evidence: if op.variant == 0 {
                vec![]
            } else {
                vec![
                    sample::evidence(EvidenceKind::PhotoBefore, "b"),
                    sample::evidence(EvidenceKind::PhotoAfter, "a"),
                    sample::evidence(EvidenceKind::SignedForm, "s"),
                ]
            },
        };
        match store.system("prop").execute(&actor(op.actor), &cmd).await {
            Ok(_) => accepted += 1,
            Err(StoreError::Rule(_)) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(
        store.system("test").verify_projection().await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(store.system("test").count_events().await.unwrap(), accepted);
}

fn check(backend: &'static str, cases: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in prop::collection::vec(op(), 1..60))| {
        rt.block_on(async {
            let db = if backend == "sqlite" { anju_store::testing::sqlite().await } else { anju_store::testing::postgres().await };
            run(&db.store, &ops).await;
        });
    });
}

#[test]
fn random_steps_leave_the_projection_equal_to_a_replay_sqlite() {
    check("sqlite", 24);
}

#[test]
fn random_steps_leave_the_projection_equal_to_a_replay_postgres() {
    check("postgres", 12);
}

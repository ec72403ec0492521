//! Each campaign rule, tried on a house: the illegal step is refused with its rule code and the
//! state stays exactly as it was; the legal path is accepted and counted as DOMAIN §5 says.

use anju_domain::Coded;
use anju_domain::dict::{
    ClosureBasis, Dictionaries, EngMeasure, Grade, Judgement, MgmtMeasure, RegistrationSource,
    ReviewFinding, UsageCategory,
};
use anju_domain::event::{Actor, Change, Command, EvidenceKind, Role};
use anju_domain::{
    Facts, HouseCode, HouseState, RegionCode, RuleCode, Status, apply, decide, sample,
};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

fn actor(id: &str, role: Role) -> Actor {
    Actor {
        id: id.into(),
        name: format!("{id}姓名"),
        role,
    }
}

fn clerk() -> Actor {
    actor("clerk", Role::TownOperator)
}
fn principal() -> Actor {
    actor("principal", Role::TownPrincipal)
}
fn reviewer() -> Actor {
    actor("reviewer", Role::TechReviewer)
}
fn appraiser() -> Actor {
    actor("appraiser", Role::Appraiser)
}

/// A house under test: its state, and a clock that moves one day per accepted step.
struct House {
    state: HouseState,
    day: NaiveDate,
    dict: Dictionaries,
}

impl House {
    fn registered(usage: UsageCategory) -> House {
        let code = HouseCode::new(&RegionCode::parse("370829").unwrap(), 1);
        let mut h = House {
            state: HouseState::new(code),
            day: NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
            dict: Dictionaries::default(),
        };
        let village = RegionCode::parse("370829101201").unwrap();
        h.ok(
            &clerk(),
            Change::Registered {
                source: RegistrationSource::Census,
                plaque_token: "0123456789abcdef0123456789abcdef".into(),
                record: Box::new(sample::record(village, usage)),
                people: Box::new(sample::people()),
            },
        );
        h
    }

    fn surveyed(j: Judgement) -> House {
        let mut h = House::registered(UsageCategory::Other);
        h.ok(&clerk(), Change::Surveyed(Box::new(sample::survey(j))));
        h
    }

    fn now(&self) -> DateTime<Utc> {
        Utc.from_utc_datetime(&self.day.and_hms_opt(2, 0, 0).unwrap())
    }

    fn command(&self, change: Change) -> Command {
        let reason = matches!(
            change,
            Change::Reopened | Change::Reclassified { .. } | Change::Corrected { .. }
        )
        .then(|| "现场核实发现原记录有误".to_string());
        let evidence = match &change {
            Change::EngineeringAccepted { .. } => vec![
                sample::evidence(EvidenceKind::PhotoBefore, "before.jpg"),
                sample::evidence(EvidenceKind::PhotoAfter, "after.jpg"),
            ],
            Change::LookBackReviewed { .. } => {
                vec![sample::evidence(EvidenceKind::SignedForm, "signed.jpg")]
            }
            _ => vec![],
        };
        Command {
            house: self.state.code.clone(),
            expected_version: self.state.version,
            change,
            effective: self.day,
            reason,
            evidence,
        }
    }

    fn attempt(&mut self, who: &Actor, cmd: Command) -> Result<(), anju_domain::RuleViolation> {
        let event = decide(&self.state, &cmd, who, self.now(), &self.dict)?;
        self.state = apply(self.state.clone(), &event);
        self.day += Duration::days(1);
        Ok(())
    }

    fn ok(&mut self, who: &Actor, change: Change) {
        let cmd = self.command(change);
        if let Err(e) = self.attempt(who, cmd) {
            panic!("refused: {e}");
        }
    }

    /// Tries a step that must be refused with `code`; checks the state did not move.
    fn refused(&mut self, who: &Actor, change: Change, code: RuleCode) -> String {
        let cmd = self.command(change);
        self.refused_cmd(who, cmd, code)
    }

    fn refused_cmd(&mut self, who: &Actor, cmd: Command, code: RuleCode) -> String {
        let before = self.state.clone();
        match self.attempt(who, cmd) {
            Ok(()) => panic!("accepted, expected {code:?}"),
            Err(e) => {
                assert_eq!(e.code, code, "{e}");
                assert_eq!(self.state, before, "a refused step changed the state");
                e.message
            }
        }
    }

    fn facts(&self) -> Facts {
        self.state.facts()
    }
}

fn close(basis: ClosureBasis) -> Change {
    Change::Closed {
        basis,
        platform_closed_on: None,
    }
}

fn review(finding: ReviewFinding) -> Change {
    Change::Reviewed {
        reviewer_names: "孙工".into(),
        finding,
        opinion: None,
    }
}

fn appraise(g: Grade) -> Change {
    Change::Appraised(Box::new(sample::appraisal(g, false)))
}

fn notify() -> Change {
    Change::OwnerNotified {
        method: "直接送达".into(),
        recipient: "张三".into(),
    }
}

fn start(m: EngMeasure) -> Change {
    Change::EngineeringStarted {
        measure: m,
        contractor: Some("嘉祥县某建筑公司".into()),
        deadline: None,
    }
}

fn accept(m: EngMeasure) -> Change {
    Change::EngineeringAccepted {
        measure: m,
        reviewer_names: "孙工".into(),
        opinion: None,
    }
}

fn legacy() -> Change {
    Change::LegacyClosureRecorded {
        measures: vec![MgmtMeasure::WallPatching, MgmtMeasure::Hoarding],
        closed_on: NaiveDate::from_ymd_opt(2023, 8, 1).unwrap(),
    }
}

#[test]
fn r1_a_c_grade_house_cannot_be_closed_on_management_measures() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&appraiser(), appraise(Grade::C));
    h.ok(&clerk(), notify());
    h.ok(
        &clerk(),
        Change::InterimControlApplied {
            measures: vec![MgmtMeasure::WallPatching, MgmtMeasure::TemporaryProps],
        },
    );
    let msg = h.refused(
        &principal(),
        close(ClosureBasis::ManagementMeasure),
        RuleCode::R1,
    );
    assert!(msg.contains("管理措施"), "{msg}");
    // Nor on an appraisal basis: C is not A/B.
    h.refused(&principal(), close(ClosureBasis::AppraisalAB), RuleCode::C1);
    assert!(!h.facts().contains(Facts::CLOSED));
    assert_eq!(h.state.status(), Status::AwaitingRectification);
}

#[test]
fn r2_a_legacy_closure_counts_as_not_closed_until_a_signed_look_back() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&clerk(), legacy());
    assert_eq!(h.state.status(), Status::AwaitingLookBack);
    let f = h.facts();
    assert!(f.contains(Facts::LEGACY) && !f.contains(Facts::CLOSED));
    h.refused(
        &principal(),
        close(ClosureBasis::ReviewNoHazard),
        RuleCode::R2,
    );
    h.refused(&reviewer(), review(ReviewFinding::NoHazard), RuleCode::R2);
    // A look-back without the signed form is refused.
    let mut cmd = h.command(Change::LookBackReviewed {
        reviewer_names: "孙工".into(),
        hazard_remains: false,
        opinion: None,
    });
    cmd.evidence.clear();
    h.refused_cmd(&reviewer(), cmd, RuleCode::E1);
    h.ok(
        &reviewer(),
        Change::LookBackReviewed {
            reviewer_names: "孙工".into(),
            hazard_remains: false,
            opinion: None,
        },
    );
    assert!(h.facts().contains(Facts::LOOK_BACK_DONE));
    h.ok(&principal(), close(ClosureBasis::ReviewNoHazard));
    assert!(h.facts().contains(Facts::CLOSED | Facts::REVIEW_NO_HAZARD));
}

#[test]
fn r2_a_look_back_that_finds_the_hazard_leads_to_engineering_and_counts_in_attachment_1() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&clerk(), legacy());
    h.ok(
        &reviewer(),
        Change::LookBackReviewed {
            reviewer_names: "孙工".into(),
            hazard_remains: true,
            opinion: None,
        },
    );
    assert_eq!(h.state.status(), Status::AwaitingRectification);
    h.refused(
        &principal(),
        close(ClosureBasis::ReviewNoHazard),
        RuleCode::C1,
    );
    h.ok(&clerk(), start(EngMeasure::Reinforce));
    h.ok(&reviewer(), accept(EngMeasure::Reinforce));
    let f = h.facts();
    assert!(f.contains(
        Facts::LEGACY
            | Facts::LOOK_BACK_DONE
            | Facts::LOOK_BACK_HAZARD
            | Facts::LOOK_BACK_ENGINEERED
    ));
    assert!(f.contains(Facts::DIRECT_ENGINEERING));
}

#[test]
fn r3_engineering_on_a_c_grade_house_waits_for_the_owner_notification() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&appraiser(), appraise(Grade::D));
    assert!(h.facts().contains(Facts::NEEDS_NOTICE));
    h.refused(&clerk(), start(EngMeasure::Demolish), RuleCode::R3);
    h.ok(&clerk(), notify());
    assert!(!h.facts().contains(Facts::NEEDS_NOTICE));
    h.ok(&clerk(), start(EngMeasure::Demolish));
}

#[test]
fn r3_an_obviously_unsafe_house_needs_notification_too() {
    let mut h = House::surveyed(Judgement::Severe);
    assert!(
        h.facts()
            .contains(Facts::NEEDS_NOTICE | Facts::NEEDS_ENGINEERING | Facts::SEVERE)
    );
    h.refused(&clerk(), start(EngMeasure::Reinforce), RuleCode::R3);
}

#[test]
fn r4_reopening_or_correcting_needs_a_reason() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&appraiser(), appraise(Grade::B));
    h.ok(&principal(), close(ClosureBasis::AppraisalAB));
    let mut cmd = h.command(Change::Reopened);
    cmd.reason = Some("  ".into());
    h.refused_cmd(&principal(), cmd, RuleCode::R4);
    let mut cmd = h.command(Change::Reclassified {
        judgement: None,
        risk_level: None,
        grade: Some(Grade::C),
    });
    cmd.reason = None;
    h.refused_cmd(&appraiser(), cmd, RuleCode::R4);
}

#[test]
fn c2_the_person_who_recorded_the_basis_cannot_approve_the_closure() {
    let mut h = House::surveyed(Judgement::Hazard);
    let both = actor("dual", Role::System);
    h.ok(&both, review(ReviewFinding::NoHazard));
    let msg = h.refused(&both, close(ClosureBasis::ReviewNoHazard), RuleCode::C2);
    assert!(msg.contains("dual"), "{msg}");
    h.ok(&principal(), close(ClosureBasis::ReviewNoHazard));
    h.refused(
        &principal(),
        close(ClosureBasis::ReviewNoHazard),
        RuleCode::C3,
    );
}

#[test]
fn c1_a_claimed_basis_must_stand() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.refused(&principal(), close(ClosureBasis::Engineering), RuleCode::C1);
    h.refused(&principal(), close(ClosureBasis::AppraisalAB), RuleCode::C1);
    h.ok(&appraiser(), appraise(Grade::C));
    h.ok(&clerk(), notify());
    h.ok(&clerk(), start(EngMeasure::Reinforce));
    h.refused(&principal(), close(ClosureBasis::Engineering), RuleCode::C1);
    h.ok(&reviewer(), accept(EngMeasure::Reinforce));
    h.ok(&principal(), close(ClosureBasis::Engineering));
}

#[test]
fn a_severe_house_cleared_only_by_engineering_or_a_review() {
    let mut h = House::surveyed(Judgement::Severe);
    h.ok(&appraiser(), appraise(Grade::B));
    // Appraised B: the appraisal is the basis; no engineering needed.
    assert!(!h.state.needs_engineering());
    h.ok(&principal(), close(ClosureBasis::AppraisalAB));
}

#[test]
fn l1_steps_out_of_order_are_refused() {
    let mut h = House::registered(UsageCategory::Other);
    h.refused(&reviewer(), review(ReviewFinding::NoHazard), RuleCode::L1);
    h.ok(
        &clerk(),
        Change::Surveyed(Box::new(sample::survey(Judgement::NoHazard))),
    );
    h.refused(&appraiser(), appraise(Grade::A), RuleCode::L1);
    h.refused(
        &principal(),
        close(ClosureBasis::ReviewNoHazard),
        RuleCode::L1,
    );
    h.refused(&reviewer(), accept(EngMeasure::Reinforce), RuleCode::L1);
    h.refused(&principal(), Change::Reopened, RuleCode::L1);
}

#[test]
fn l1_a_later_survey_cannot_quietly_lower_a_hazard() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.refused(
        &clerk(),
        Change::Surveyed(Box::new(sample::survey(Judgement::NoHazard))),
        RuleCode::L1,
    );
    h.ok(
        &clerk(),
        Change::Surveyed(Box::new(sample::survey(Judgement::Severe))),
    );
    assert!(h.facts().contains(Facts::SEVERE));
}

#[test]
fn l1_a_closed_house_takes_no_more_steps_until_reopened() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&reviewer(), review(ReviewFinding::NoHazard));
    h.ok(&principal(), close(ClosureBasis::ReviewNoHazard));
    h.refused(&appraiser(), appraise(Grade::C), RuleCode::L1);
    h.ok(&reviewer(), Change::Reopened);
    h.ok(&appraiser(), appraise(Grade::C));
}

#[test]
fn l2_registration_happens_once_and_first() {
    let mut h = House::registered(UsageCategory::Other);
    let record = sample::record(
        RegionCode::parse("370829101201").unwrap(),
        UsageCategory::Other,
    );
    h.refused(
        &clerk(),
        Change::Registered {
            source: RegistrationSource::Census,
            plaque_token: "0123456789abcdef0123456789abcdef".into(),
            record: Box::new(record),
            people: Box::new(sample::people()),
        },
        RuleCode::L2,
    );
    let mut fresh = House {
        state: HouseState::new(HouseCode::new(&RegionCode::parse("370829").unwrap(), 2)),
        day: h.day,
        dict: Dictionaries::default(),
    };
    fresh.refused(
        &clerk(),
        Change::Surveyed(Box::new(sample::survey(Judgement::Hazard))),
        RuleCode::L2,
    );
}

#[test]
fn d1_dates_cannot_run_backwards_or_into_the_future() {
    let mut h = House::registered(UsageCategory::Other);
    let mut cmd = h.command(Change::Surveyed(Box::new(sample::survey(
        Judgement::Hazard,
    ))));
    cmd.effective = h.day - Duration::days(5);
    h.refused_cmd(&clerk(), cmd, RuleCode::D1);
    let mut cmd = h.command(Change::Surveyed(Box::new(sample::survey(
        Judgement::Hazard,
    ))));
    cmd.effective = h.day + Duration::days(1);
    h.refused_cmd(&clerk(), cmd, RuleCode::D1);
}

#[test]
fn p1_a_town_clerk_cannot_close_or_appraise() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.refused(&clerk(), close(ClosureBasis::ReviewNoHazard), RuleCode::P1);
    h.refused(&clerk(), appraise(Grade::A), RuleCode::P1);
    h.refused(&actor("audit", Role::Auditor), notify(), RuleCode::P1);
}

#[test]
fn f1_a_hazard_judgement_names_its_hazard_category() {
    let mut h = House::registered(UsageCategory::Other);
    let mut s = sample::survey(Judgement::Hazard);
    s.hazard_categories.clear();
    h.refused(&clerk(), Change::Surveyed(Box::new(s)), RuleCode::F1);
    let mut s = sample::survey(Judgement::Hazard);
    s.hazard_parts = vec!["烟囱".into()];
    h.refused(&clerk(), Change::Surveyed(Box::new(s)), RuleCode::F1);
}

#[test]
fn e1_engineering_acceptance_needs_before_and_after_photos() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&reviewer(), review(ReviewFinding::Hazard));
    h.ok(&clerk(), start(EngMeasure::Reinforce));
    let mut cmd = h.command(accept(EngMeasure::Reinforce));
    cmd.evidence.retain(|e| e.kind == EvidenceKind::PhotoBefore);
    h.refused_cmd(&reviewer(), cmd, RuleCode::E1);
}

#[test]
fn v1_a_stale_change_names_who_changed_the_house() {
    let mut h = House::surveyed(Judgement::Hazard);
    let mut cmd = h.command(notify());
    cmd.expected_version -= 1;
    let msg = h.refused_cmd(&clerk(), cmd, RuleCode::V1);
    assert!(
        msg.contains("clerk姓名") && msg.contains("第 1 版"),
        "{msg}"
    );
}

#[test]
fn the_full_appraisal_path_counts_in_columns_four_to_seven() {
    let mut h = House::surveyed(Judgement::Hazard);
    assert!(h.facts().contains(Facts::SURVEYED | Facts::HAZARD));
    h.ok(&appraiser(), appraise(Grade::C));
    h.ok(&clerk(), notify());
    h.ok(&clerk(), start(EngMeasure::Reinforce));
    assert_eq!(h.state.status(), Status::Rectifying);
    h.ok(&reviewer(), accept(EngMeasure::Reinforce));
    assert_eq!(h.state.status(), Status::AwaitingClosure);
    h.ok(
        &appraiser(),
        Change::Appraised(Box::new(sample::appraisal(Grade::A, true))),
    );
    h.ok(&principal(), close(ClosureBasis::Engineering));
    let f = h.facts();
    for x in [
        Facts::APPRAISED,
        Facts::CD,
        Facts::CD_ENGINEERED,
        Facts::CLOSED,
    ] {
        assert!(f.contains(x), "{x:?} missing from {f:?}");
    }
    assert!(!f.contains(Facts::DIRECT_ENGINEERING) && !f.contains(Facts::REVIEW_NO_HAZARD));
    // A post-rectification A does not take the house out of ⑤.
    assert_eq!(h.state.appraisal.as_ref().unwrap().value, Grade::C);
}

#[test]
fn reopening_withdraws_the_closure_and_the_engineering_it_rested_on() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&reviewer(), review(ReviewFinding::Hazard));
    h.ok(&clerk(), start(EngMeasure::Reinforce));
    h.ok(&reviewer(), accept(EngMeasure::Reinforce));
    h.ok(&principal(), close(ClosureBasis::Engineering));
    assert!(
        h.facts()
            .contains(Facts::DIRECT_ENGINEERING | Facts::CLOSED)
    );
    h.ok(&reviewer(), Change::Reopened);
    let f = h.facts();
    assert!(!f.contains(Facts::CLOSED) && !f.contains(Facts::DIRECT_ENGINEERING));
    assert_eq!(h.state.status(), Status::Rectifying);
    h.refused(&principal(), close(ClosureBasis::Engineering), RuleCode::C1);
    h.ok(&reviewer(), accept(EngMeasure::Reinforce));
    h.ok(&principal(), close(ClosureBasis::Engineering));
}

#[test]
fn correcting_a_grade_from_c_to_b_takes_the_house_out_of_column_five() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&appraiser(), appraise(Grade::C));
    assert!(h.facts().contains(Facts::CD));
    let to_b = Change::Reclassified {
        judgement: None,
        risk_level: None,
        grade: Some(Grade::B),
    };
    // The appraiser who recorded C cannot lower it alone (B1); a second appraiser can.
    let msg = h.refused(&appraiser(), to_b.clone(), RuleCode::B1);
    assert!(msg.contains("另一名鉴定人员"), "{msg}");
    h.ok(&actor("second-appraiser", Role::Appraiser), to_b);
    assert!(!h.facts().contains(Facts::CD) && h.facts().contains(Facts::APPRAISED));
}

#[test]
fn b1_a_hazard_judgement_is_never_corrected_to_no_hazard_only_reviewed() {
    let mut h = House::surveyed(Judgement::Hazard);
    let down = Change::Reclassified {
        judgement: Some(Judgement::NoHazard),
        risk_level: None,
        grade: None,
    };
    for who in [clerk(), reviewer()] {
        let msg = h.refused(&who, down.clone(), RuleCode::B1);
        assert!(msg.contains("专业技术人员现场复核"), "{msg}");
    }
    assert!(h.facts().contains(Facts::HAZARD), "still in ①");
    // Up is always possible: a general hazard found to be severe.
    h.ok(
        &clerk(),
        Change::Reclassified {
            judgement: Some(Judgement::Severe),
            risk_level: None,
            grade: None,
        },
    );
    // The professional way to ②: a review finding no hazard, by a reviewer.
    h.ok(&reviewer(), review(ReviewFinding::NoHazard));
    assert!(h.facts().contains(Facts::HAZARD | Facts::REVIEW_NO_HAZARD));
}

#[test]
fn correcting_an_a_grade_to_c_undoes_a_closure_that_rested_on_it() {
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&appraiser(), appraise(Grade::A));
    h.ok(&principal(), close(ClosureBasis::AppraisalAB));
    h.ok(
        &appraiser(),
        Change::Reclassified {
            judgement: None,
            risk_level: None,
            grade: Some(Grade::C),
        },
    );
    assert!(h.state.closure.is_none());
    assert!(h.facts().contains(Facts::CD | Facts::NEEDS_NOTICE));
}

#[test]
fn a_business_house_carries_the_business_fact() {
    let h = House::registered(UsageCategory::MixedBusiness);
    assert!(h.facts().contains(Facts::BUSINESS));
    assert!(!h.facts().contains(Facts::SURVEYED));
}

/// The steps offered are the ones the rules would accept (lifecycle, role, basis), asked of
/// `decide` itself.
#[test]
fn offered_steps_follow_the_lifecycle_the_role_and_the_standing_basis() {
    use anju_domain::ChangeKind as K;
    use anju_domain::offer::offer;
    let h = House::registered(UsageCategory::Other);
    let o = offer(&h.state, &clerk(), h.now(), &h.dict);
    assert!(o.kinds.contains(&K::Surveyed), "{:?}", o.kinds);
    assert!(!o.kinds.contains(&K::Closed) && !o.kinds.contains(&K::OwnerNotified));
    let o = offer(&h.state, &principal(), h.now(), &h.dict);
    assert!(
        !o.kinds.contains(&K::Surveyed),
        "a principal does not survey"
    );

    // Appraised D: the clerk may notify and apply interim control, but engineering waits for
    // the notification (R3) and nothing may be closed — least of all on management measures.
    let mut h = House::surveyed(Judgement::Hazard);
    let o = offer(&h.state, &appraiser(), h.now(), &h.dict);
    assert!(o.kinds.contains(&K::Appraised));
    let o = offer(&h.state, &reviewer(), h.now(), &h.dict);
    assert!(o.kinds.contains(&K::Reviewed));
    h.ok(&appraiser(), appraise(Grade::D));
    let o = offer(&h.state, &clerk(), h.now(), &h.dict);
    assert!(o.kinds.contains(&K::OwnerNotified) && o.kinds.contains(&K::InterimControlApplied));
    assert!(
        !o.kinds.contains(&K::EngineeringStarted),
        "R3: notify first"
    );
    let p = offer(&h.state, &principal(), h.now(), &h.dict);
    assert!(
        p.kinds.contains(&K::Closed),
        "offered, so that a wrong basis is explained"
    );
    assert!(p.closure_bases.is_empty(), "but no basis stands");
    h.ok(&clerk(), notify());
    let o = offer(&h.state, &clerk(), h.now(), &h.dict);
    assert!(o.kinds.contains(&K::EngineeringStarted));
    h.ok(&clerk(), start(EngMeasure::ALL[0]));
    h.ok(&reviewer(), accept(EngMeasure::ALL[0]));
    let p = offer(&h.state, &principal(), h.now(), &h.dict);
    assert_eq!(p.closure_bases, vec![ClosureBasis::Engineering]);
    assert!(!p.closure_bases.contains(&ClosureBasis::ManagementMeasure));
    // C2: the reviewer who accepted the engineering may not approve the closure.
    let r = offer(
        &h.state,
        &actor("reviewer", Role::TownPrincipal),
        h.now(),
        &h.dict,
    );
    assert!(r.closure_bases.is_empty(), "{:?}", r.closure_bases);
    h.ok(&principal(), close(ClosureBasis::Engineering));
    let p = offer(&h.state, &principal(), h.now(), &h.dict);
    assert!(!p.kinds.contains(&K::Closed), "C3: not twice");
    assert!(p.kinds.contains(&K::Reopened));
}

/// Registers the sample house, changed by `set`, recorded at `at` (an instant in UTC; the
/// current year and today are Beijing's), dated `effective`.
fn register_at(
    at: DateTime<Utc>,
    effective: NaiveDate,
    set: impl FnOnce(&mut anju_domain::house::HouseRecord),
) -> Result<(), anju_domain::RuleViolation> {
    let code = HouseCode::new(&RegionCode::parse("370829").unwrap(), 9);
    let mut record = sample::record(
        RegionCode::parse("370829101201").unwrap(),
        UsageCategory::Other,
    );
    set(&mut record);
    let cmd = Command {
        house: code.clone(),
        expected_version: 0,
        change: Change::Registered {
            source: RegistrationSource::Census,
            plaque_token: "0123456789abcdef0123456789abcdef".into(),
            record: Box::new(record),
            people: Box::new(sample::people()),
        },
        effective,
        reason: None,
        evidence: vec![],
    };
    decide(
        &HouseState::new(code),
        &cmd,
        &clerk(),
        at,
        &Dictionaries::default(),
    )
    .map(|_| ())
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn f1_a_build_year_after_the_current_year_of_the_recording_day_in_beijing_is_refused() {
    let effective = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    // 23:59:59 on 31 December 2026 in Beijing: 2027 has not begun.
    let last = utc("2026-12-31T15:59:59Z");
    let err = register_at(last, effective, |r| r.build_year = Some(2027)).unwrap_err();
    assert_eq!(err.code, RuleCode::F1);
    assert_eq!(
        err.to_string(),
        "建成年份不能晚于当前年份（2026），填写的是 2027（规则 F1）"
    );
    register_at(last, effective, |r| r.build_year = Some(2026)).unwrap();
    // A second later it is 1 January 2027 in Beijing (still 31 December in UTC).
    let first = utc("2026-12-31T16:00:00Z");
    register_at(first, effective, |r| r.build_year = Some(2027)).unwrap();
    let err = register_at(first, effective, |r| r.build_year = Some(2028)).unwrap_err();
    assert!(err.message.contains("当前年份（2027）"), "{err}");
}

#[test]
fn f1_every_bound_holds_at_its_edge_through_decide() {
    type Set = fn(&mut anju_domain::house::HouseRecord);
    let at = utc("2026-11-30T04:00:00Z");
    let effective = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let cases: &[(Set, Set, &str)] = &[
        (
            |r| r.build_year = Some(1900),
            |r| r.build_year = Some(1899),
            "建成年份不能早于 1900 年，填写的是 1899",
        ),
        (
            |r| r.build_year = Some(2026),
            |r| r.build_year = Some(2027),
            "建成年份不能晚于当前年份（2026），填写的是 2027",
        ),
        (
            |r| r.floors_above = 1,
            |r| r.floors_above = 0,
            "地上层数不能少于 1 层，填写的是 0",
        ),
        (
            |r| r.floors_above = 30,
            |r| r.floors_above = 31,
            "地上层数不能多于 30 层，填写的是 31",
        ),
        (
            |r| r.floors_below = 5,
            |r| r.floors_below = 6,
            "地下层数不能多于 5 层，填写的是 6",
        ),
        (
            |r| r.floor_area_m2 = 0.01,
            |r| r.floor_area_m2 = 0.0,
            "建筑面积（㎡）须大于 0，填写的是 0",
        ),
        (
            |r| r.floor_area_m2 = 100_000.0,
            |r| r.floor_area_m2 = 100_000.01,
            "建筑面积（㎡）不能大于 100000，填写的是 100000.01",
        ),
        (
            |r| r.longitude = Some(73.0),
            |r| r.longitude = Some(72.99),
            "经度不能小于 73°，填写的是 72.99",
        ),
        (
            |r| r.longitude = Some(136.0),
            |r| r.longitude = Some(136.01),
            "经度不能大于 136°，填写的是 136.01",
        ),
        (
            |r| r.latitude = Some(3.0),
            |r| r.latitude = Some(2.99),
            "纬度不能小于 3°，填写的是 2.99",
        ),
        (
            |r| r.latitude = Some(54.0),
            |r| r.latitude = Some(54.01),
            "纬度不能大于 54°，填写的是 54.01",
        ),
        (
            |r| r.qr_plaque_installed_on = NaiveDate::from_ymd_opt(2026, 11, 30),
            |r| r.qr_plaque_installed_on = NaiveDate::from_ymd_opt(2026, 12, 1),
            "二维码标牌安装日期不能晚于今天（2026-11-30），填写的是 2026-12-01",
        ),
        (
            |r| r.qr_plaque_installed_on = NaiveDate::from_ymd_opt(1998, 1, 1),
            |r| r.qr_plaque_installed_on = NaiveDate::from_ymd_opt(1997, 12, 31),
            "二维码标牌安装日期不能早于建成年份（1998），填写的是 1997-12-31",
        ),
    ];
    for (ok, bad, message) in cases {
        register_at(at, effective, ok).unwrap_or_else(|e| panic!("{message}: {e}"));
        let err = register_at(at, effective, bad).unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (RuleCode::F1, *message));
    }
}

#[test]
fn f1_a_correction_names_every_implausible_field_and_changes_nothing() {
    let mut h = House::registered(UsageCategory::Other);
    let mut record = h.state.record.clone().unwrap();
    record.build_year = Some(2099);
    record.floors_above = 0;
    record.latitude = None;
    let msg = h.refused(
        &clerk(),
        Change::Corrected {
            record: Box::new(record),
            people: None,
        },
        RuleCode::F1,
    );
    assert_eq!(
        msg,
        "地上层数不能少于 1 层，填写的是 0；建成年份不能晚于当前年份（2024），填写的是 2099；纬度：经度和纬度须同时填写"
    );
}

#[test]
fn d1_dates_a_step_carries_are_in_the_past_and_after_what_they_follow() {
    // The closure's date on the national platform: not after today, not before the basis.
    let mut h = House::surveyed(Judgement::Hazard);
    h.ok(&reviewer(), review(ReviewFinding::NoHazard));
    let reviewed_on = h.day - Duration::days(1);
    let platform = |d: NaiveDate| Change::Closed {
        basis: ClosureBasis::ReviewNoHazard,
        platform_closed_on: Some(d),
    };
    let msg = h.refused(
        &principal(),
        platform(h.day + Duration::days(1)),
        RuleCode::D1,
    );
    assert_eq!(
        msg,
        format!(
            "归集平台销号日期 {} 不能晚于今天（{}）",
            h.day + Duration::days(1),
            h.day
        )
    );
    let msg = h.refused(
        &principal(),
        platform(reviewed_on - Duration::days(1)),
        RuleCode::D1,
    );
    assert!(
        msg.contains(&format!(
            "不能早于销号依据“专业技术人员复核无隐患”的日期 {reviewed_on}"
        )),
        "{msg}"
    );
    h.ok(&principal(), platform(reviewed_on));

    // The deadline of works: not before they start.
    let mut h = House::surveyed(Judgement::Hazard);
    let early = Change::EngineeringStarted {
        measure: EngMeasure::Reinforce,
        contractor: None,
        deadline: Some(h.day - Duration::days(1)),
    };
    let msg = h.refused(&clerk(), early, RuleCode::D1);
    assert!(msg.starts_with("整治时限（计划完成日期）"), "{msg}");
    let on_the_day = Change::EngineeringStarted {
        measure: EngMeasure::Reinforce,
        contractor: None,
        deadline: Some(h.day),
    };
    h.ok(&clerk(), on_the_day);

    // A closure before the system: not after the day it is recorded on.
    let mut h = House::surveyed(Judgement::Hazard);
    let later = Change::LegacyClosureRecorded {
        measures: vec![MgmtMeasure::WallPatching],
        closed_on: h.day + Duration::days(1),
    };
    let msg = h.refused(&clerk(), later, RuleCode::D1);
    assert!(msg.starts_with("前期销号日期"), "{msg}");
}

fn located(longitude: f64, latitude: f64, accuracy_m: Option<f64>) -> Change {
    let mut s = sample::survey(Judgement::NoHazard);
    s.location = Some(anju_domain::event::GeoFix {
        longitude,
        latitude,
        accuracy_m,
    });
    Change::Surveyed(Box::new(s))
}

#[test]
fn f1_a_survey_position_outside_china_or_too_vague_is_refused() {
    let mut h = House::registered(UsageCategory::Other);
    assert_eq!(
        h.refused(&clerk(), located(140.0, 35.4, Some(12.0)), RuleCode::F1),
        "排查定位经度不能大于 136°，填写的是 140"
    );
    assert_eq!(
        h.refused(&clerk(), located(116.3, 2.5, None), RuleCode::F1),
        "排查定位纬度不能小于 3°，填写的是 2.5"
    );
    // Swapped longitude and latitude: both named.
    assert_eq!(
        h.refused(&clerk(), located(35.4, 116.3, None), RuleCode::F1),
        "排查定位经度不能小于 73°，填写的是 35.4；排查定位纬度不能大于 54°，填写的是 116.3"
    );
    assert_eq!(
        h.refused(&clerk(), located(116.3, 35.4, Some(20_000.0)), RuleCode::F1),
        "定位精度不能大于 10000 米，填写的是 20000"
    );
    assert_eq!(
        h.refused(&clerk(), located(116.3, 35.4, Some(-1.0)), RuleCode::F1),
        "定位精度不能小于 0 米，填写的是 -1"
    );
    // The ends themselves are accepted.
    h.ok(&clerk(), located(136.0, 54.0, Some(10_000.0)));
    h.ok(&clerk(), located(73.0, 3.0, Some(0.0)));
}

#[test]
fn the_state_keeps_the_latest_survey_position() {
    let mut h = House::registered(UsageCategory::Other);
    assert_eq!(h.state.survey_location, None);
    h.ok(&clerk(), located(116.397128, 35.405421, Some(18.0)));
    let fix = h.state.survey_location.expect("kept");
    assert_eq!(
        (fix.longitude, fix.latitude, fix.accuracy_m),
        (116.397128, 35.405421, Some(18.0))
    );
    // The projection's stored state carries it, and reads back the same.
    let json = serde_json::to_string(&h.state).unwrap();
    assert!(
        json.contains(
            r#""survey_location":{"longitude":116.397128,"latitude":35.405421,"accuracy_m":18.0}"#
        ),
        "{json}"
    );
    let back: HouseState = serde_json::from_str(&json).unwrap();
    assert_eq!(back.survey_location, h.state.survey_location);
    // A later survey without a position leaves none: the page shows the latest survey's.
    h.ok(
        &clerk(),
        Change::Surveyed(Box::new(sample::survey(Judgement::NoHazard))),
    );
    assert_eq!(h.state.survey_location, None);
    let json = serde_json::to_string(&h.state).unwrap();
    assert!(!json.contains("survey_location"), "{json}");
}

//! Which steps to offer an account on a house right now. Asked of the rules themselves: each
//! kind is tried with a representative change through [`decide`], so the offer can never
//! disagree with what recording would say. A kind is offered when the only objections are
//! about the form's own content (fields, evidence, a reason) — what the person is about to fill
//! in — and not about the lifecycle, the role or the closure basis.

use crate::Coded;
use crate::dict::{
    ClosureBasis, Dictionaries, EngMeasure, Grade, Judgement, MgmtMeasure, ReviewFinding,
};
use crate::event::{Actor, Appraisal, Change, ChangeKind, Command, Survey};
use crate::rules::{RuleCode, beijing_date, decide};
use crate::state::HouseState;
use chrono::{DateTime, Utc};

/// The steps an account may take on a house now, in lifecycle order; for `Closed`, the bases
/// that stand now (the form lists all, marking these).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Offer {
    pub kinds: Vec<ChangeKind>,
    pub closure_bases: Vec<ClosureBasis>,
}

fn samples(state: &HouseState, kind: ChangeKind) -> Vec<Change> {
    match kind {
        ChangeKind::Surveyed => vec![Change::Surveyed(Box::new(Survey::new(
            String::new(),
            String::new(),
            Judgement::NoHazard,
        )))],
        ChangeKind::Reviewed => vec![Change::Reviewed {
            reviewer_names: String::new(),
            finding: ReviewFinding::NoHazard,
            opinion: None,
        }],
        ChangeKind::Appraised => vec![Change::Appraised(Box::new(Appraisal {
            agency_name: String::new(),
            agency_credit_code: None,
            reviewer_names: String::new(),
            standard: String::new(),
            report_no: String::new(),
            grade: Grade::A,
            advice: None,
            post_rectification: false,
        }))],
        ChangeKind::OwnerNotified => vec![Change::OwnerNotified {
            method: String::new(),
            recipient: String::new(),
        }],
        ChangeKind::InterimControlApplied => vec![Change::InterimControlApplied {
            measures: vec![MgmtMeasure::ALL[0]],
        }],
        ChangeKind::EngineeringStarted => vec![Change::EngineeringStarted {
            measure: EngMeasure::ALL[0],
            contractor: None,
            deadline: None,
        }],
        ChangeKind::EngineeringAccepted => EngMeasure::ALL
            .iter()
            .map(|m| Change::EngineeringAccepted {
                measure: *m,
                reviewer_names: String::new(),
                opinion: None,
            })
            .collect(),
        ChangeKind::Closed => ClosureBasis::ALL
            .iter()
            .map(|b| Change::Closed {
                basis: *b,
                platform_closed_on: None,
            })
            .collect(),
        ChangeKind::LookBackReviewed => vec![Change::LookBackReviewed {
            reviewer_names: String::new(),
            hazard_remains: false,
            opinion: None,
        }],
        ChangeKind::Reopened => vec![Change::Reopened],
        ChangeKind::Reclassified => vec![
            Change::Reclassified {
                judgement: Some(Judgement::Hazard),
                risk_level: None,
                grade: None,
            },
            Change::Reclassified {
                judgement: None,
                risk_level: None,
                grade: Some(Grade::C),
            },
        ],
        ChangeKind::LegacyClosureRecorded => vec![Change::LegacyClosureRecorded {
            measures: vec![MgmtMeasure::ALL[0]],
            closed_on: chrono::NaiveDate::MIN,
        }],
        // A correction with the record as it stands: refused as "unchanged" (F1, the form's
        // content) wherever a correction is allowed at all.
        ChangeKind::Corrected => state
            .record
            .iter()
            .map(|r| Change::Corrected {
                record: Box::new(r.clone()),
                people: None,
            })
            .collect(),
        // Registration makes a new house: it is not a step on this one.
        ChangeKind::Registered => vec![],
    }
}

/// Objections that the form itself will answer. For a closure, the basis is the form's
/// content too: a basis that does not stand (C1) or management measures (R1) are refused with
/// the rule in words when chosen, which is how people learn why.
fn about_the_form(state: &HouseState, kind: ChangeKind, code: RuleCode) -> bool {
    matches!(code, RuleCode::F1 | RuleCode::E1 | RuleCode::R4)
        || (kind == ChangeKind::Closed
            && state.closure.is_none()
            && state.surveyed_on.is_some()
            && matches!(code, RuleCode::C1 | RuleCode::R1))
}

/// What `actor` may do on the house now.
pub fn offer(state: &HouseState, actor: &Actor, now: DateTime<Utc>, dict: &Dictionaries) -> Offer {
    let today = beijing_date(now);
    let effective = state.last_effective.map_or(today, |d| d.max(today));
    let mut out = Offer::default();
    for kind in ChangeKind::ALL {
        let mut any = false;
        for change in samples(state, *kind) {
            let basis = match &change {
                Change::Closed { basis, .. } => Some(*basis),
                _ => None,
            };
            let cmd = Command {
                house: state.code.clone(),
                expected_version: state.version,
                change,
                effective,
                reason: None,
                evidence: vec![],
            };
            match decide(state, &cmd, actor, now, dict) {
                Ok(_) => {
                    any = true;
                    if let Some(b) = basis {
                        out.closure_bases.push(b);
                    }
                }
                Err(v) => any |= about_the_form(state, *kind, v.code),
            }
        }
        if any {
            out.kinds.push(*kind);
        }
    }
    out
}

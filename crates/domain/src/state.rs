//! A house's current state, folded from its events by [`apply`], and what follows from it:
//! its lifecycle status, the closure bases it has, and its ledger facts.

use crate::codes::HouseCode;
use crate::dict::{
    ClosureBasis, EngMeasure, Grade, Judgement, MgmtMeasure, ReviewFinding, RiskLevel,
};
use crate::event::{Actor, Change, Event, GeoFix};
use crate::house::HouseRecord;
use crate::ledger::Facts;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A recorded step that later steps refer to: which event, who recorded it, when, what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step<T> {
    pub seq: u32,
    pub by: String,
    pub on: NaiveDate,
    pub value: T,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engineering {
    pub measure: EngMeasure,
    pub started_on: NaiveDate,
    /// Completion accepted by a technical reviewer; revoked when a closure on it is reopened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Step<EngMeasure>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closure {
    pub basis: ClosureBasis,
    pub seq: u32,
    pub by: String,
    pub on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Legacy {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measures: Vec<MgmtMeasure>,
    pub closed_on: NaiveDate,
    /// The look-back re-review: `value` is whether the hazard remains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_back: Option<Step<bool>>,
}

/// Everything the rules need to know about a house, derived only from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HouseState {
    pub code: HouseCode,
    /// Number of events applied; the version a change must state.
    pub version: u32,
    /// Not stored with the projection's state: the store reads it from the house's latest
    /// registration or correction event, so the record is kept once per change, not twice.
    #[serde(skip)]
    pub record: Option<HouseRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_effective: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_recorded_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_actor: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judgement: Option<Judgement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<RiskLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surveyed_on: Option<NaiveDate>,
    /// Where the latest survey was made, when it recorded a position (排查定位). Absent from
    /// projections stored before it, which read as `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey_location: Option<GeoFix>,
    /// Column ①: judged hazardous at a survey, unless corrected by reclassification.
    pub hazard: bool,
    /// The latest professional review (or look-back) finding still standing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Step<ReviewFinding>>,
    /// The appraisal that decides on rectification (not a post-rectification one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appraisal: Option<Step<Grade>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_appraisal: Option<Step<Grade>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_on: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<MgmtMeasure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engineering: Option<Engineering>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closure: Option<Closure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy: Option<Legacy>,
    /// Bases recorded at or before this event no longer count (a reopen invalidated them).
    pub reopened_at_seq: u32,
    pub reopen_count: u32,
}

crate::coded! {
    /// 房屋状态, derived from the lifecycle.
    #[derive(Hash, PartialOrd, Ord)]
    pub enum Status {
        #[strum(message = "待排查")]
        AwaitingSurvey,
        #[strum(message = "未发现隐患")]
        NoHazard,
        #[strum(message = "待复核鉴定")]
        AwaitingAssessment,
        #[strum(message = "待整治")]
        AwaitingRectification,
        #[strum(message = "整治中")]
        Rectifying,
        #[strum(message = "待销号")]
        AwaitingClosure,
        #[strum(message = "已销号")]
        Closed,
        #[strum(message = "待回头看")]
        AwaitingLookBack,
    }
}

impl HouseState {
    /// The state of a house before its registration.
    pub fn new(code: HouseCode) -> HouseState {
        HouseState {
            code,
            version: 0,
            record: None,
            registered_on: None,
            last_effective: None,
            last_recorded_at: None,
            last_actor: None,
            judgement: None,
            risk_level: None,
            surveyed_on: None,
            survey_location: None,
            hazard: false,
            review: None,
            appraisal: None,
            post_appraisal: None,
            notified_on: None,
            controls: Vec::new(),
            engineering: None,
            closure: None,
            legacy: None,
            reopened_at_seq: 0,
            reopen_count: 0,
        }
    }

    /// Folds a house's events, in order, from nothing.
    pub fn replay<'a>(code: HouseCode, events: impl IntoIterator<Item = &'a Event>) -> HouseState {
        events.into_iter().fold(HouseState::new(code), apply)
    }

    pub fn is_business(&self) -> bool {
        self.record.as_ref().is_some_and(HouseRecord::is_business)
    }

    pub fn engineering_accepted(&self) -> Option<&Step<EngMeasure>> {
        self.engineering.as_ref().and_then(|e| e.accepted.as_ref())
    }

    fn current<'a, T>(&self, step: &'a Option<Step<T>>) -> Option<&'a Step<T>> {
        step.as_ref().filter(|s| s.seq > self.reopened_at_seq)
    }

    /// The danger that calls for engineering: an appraisal C/D decides; without an appraisal, a
    /// review or look-back finding a hazard, or a severe initial judgement not cleared by review.
    pub fn needs_engineering(&self) -> bool {
        if !self.hazard {
            return false;
        }
        if let Some(a) = &self.appraisal {
            return a.value.is_dangerous();
        }
        match &self.review {
            Some(r) => r.value == ReviewFinding::Hazard,
            None => self.judgement == Some(Judgement::Severe),
        }
    }

    /// C/D or obviously unsafe: the owner must be told at once (R3).
    pub fn must_notify(&self) -> bool {
        self.hazard
            && match &self.appraisal {
                Some(a) => a.value.is_dangerous(),
                None => self.judgement == Some(Judgement::Severe),
            }
    }

    /// The closure bases currently standing, each with the step that carries it.
    pub fn valid_bases(&self) -> Vec<(ClosureBasis, Step<()>)> {
        let mut out = Vec::new();
        if let Some(a) = self
            .engineering_accepted()
            .filter(|s| s.seq > self.reopened_at_seq)
        {
            out.push((ClosureBasis::Engineering, unit(a)));
        }
        let post_ab = self
            .current(&self.post_appraisal)
            .filter(|a| !a.value.is_dangerous() && self.engineering_accepted().is_some());
        let pre_ab = self
            .current(&self.appraisal)
            .filter(|a| !a.value.is_dangerous());
        if let Some(a) = post_ab.or(pre_ab) {
            out.push((ClosureBasis::AppraisalAB, unit(a)));
        }
        let appraisal_dangerous = self
            .appraisal
            .as_ref()
            .is_some_and(|a| a.value.is_dangerous());
        if let Some(r) = self.current(&self.review)
            && r.value == ReviewFinding::NoHazard
            && !appraisal_dangerous
        {
            out.push((ClosureBasis::ReviewNoHazard, unit(r)));
        }
        out
    }

    pub fn status(&self) -> Status {
        if self.judgement.is_none() {
            Status::AwaitingSurvey
        } else if self.closure.is_some() {
            Status::Closed
        } else if self.legacy.as_ref().is_some_and(|l| l.look_back.is_none()) {
            Status::AwaitingLookBack
        } else if !self.hazard {
            Status::NoHazard
        } else if !self.valid_bases().is_empty() {
            Status::AwaitingClosure
        } else if self.engineering.is_some() {
            Status::Rectifying
        } else if self.needs_engineering() {
            Status::AwaitingRectification
        } else {
            Status::AwaitingAssessment
        }
    }

    /// The ledger facts of this house (DOMAIN §5–6), defined once here.
    pub fn facts(&self) -> Facts {
        let mut f = Facts::empty();
        let eng = self.engineering_accepted().is_some();
        let appraised = self.hazard && self.appraisal.is_some();
        let cd = appraised
            && self
                .appraisal
                .as_ref()
                .is_some_and(|a| a.value.is_dangerous());
        f.set(Facts::SURVEYED, self.judgement.is_some());
        f.set(Facts::BUSINESS, self.is_business());
        f.set(Facts::HAZARD, self.hazard);
        f.set(Facts::SEVERE, self.judgement == Some(Judgement::Severe));
        f.set(Facts::APPRAISED, appraised);
        f.set(Facts::DIRECT_ENGINEERING, self.hazard && !appraised && eng);
        f.set(
            Facts::REVIEW_NO_HAZARD,
            self.hazard
                && !appraised
                && !eng
                && self
                    .review
                    .as_ref()
                    .is_some_and(|r| r.value == ReviewFinding::NoHazard),
        );
        f.set(Facts::CD, cd);
        f.set(Facts::CD_ENGINEERED, cd && eng);
        f.set(Facts::CLOSED, self.hazard && self.closure.is_some());
        if let Some(l) = &self.legacy {
            f.insert(Facts::LEGACY);
            if let Some(lb) = &l.look_back {
                f.insert(Facts::LOOK_BACK_DONE);
                if lb.value {
                    f.insert(Facts::LOOK_BACK_HAZARD);
                    f.set(Facts::LOOK_BACK_ENGINEERED, eng);
                }
            }
        }
        f.set(Facts::NOTIFIED, self.notified_on.is_some());
        let open = self.closure.is_none();
        f.set(
            Facts::NEEDS_NOTICE,
            open && self.must_notify() && self.notified_on.is_none(),
        );
        f.set(
            Facts::NEEDS_ENGINEERING,
            open && self.needs_engineering() && !eng,
        );
        f
    }
}

fn step_of<T>(e: &Event, value: T) -> Step<T> {
    Step {
        seq: e.seq,
        by: e.actor.id.clone(),
        on: e.effective,
        value,
    }
}

fn unit<T>(s: &Step<T>) -> Step<()> {
    Step {
        seq: s.seq,
        by: s.by.clone(),
        on: s.on,
        value: (),
    }
}

/// Folds one accepted event into the state. Total: it never fails, because `decide` already
/// accepted the event; replaying a stored log therefore always reproduces the projection.
pub fn apply(mut s: HouseState, e: &Event) -> HouseState {
    match &e.change {
        Change::Registered { record, .. } => {
            s.record = Some((**record).clone());
            s.registered_on = Some(e.effective);
        }
        Change::Surveyed(survey) => {
            s.judgement = Some(survey.judgement);
            s.risk_level = survey.risk_level;
            s.surveyed_on = Some(e.effective);
            s.survey_location = survey.location;
            if survey.judgement.is_hazard() {
                s.hazard = true;
            }
        }
        Change::Reviewed { finding, .. } => s.review = Some(step_of(e, *finding)),
        Change::Appraised(a) => {
            if a.post_rectification {
                s.post_appraisal = Some(step_of(e, a.grade));
            } else {
                s.appraisal = Some(step_of(e, a.grade));
            }
        }
        Change::OwnerNotified { .. } => s.notified_on = Some(e.effective),
        Change::InterimControlApplied { measures } => {
            for m in measures {
                if !s.controls.contains(m) {
                    s.controls.push(*m);
                }
            }
        }
        Change::EngineeringStarted { measure, .. } => {
            s.engineering = Some(Engineering {
                measure: *measure,
                started_on: e.effective,
                accepted: None,
            });
        }
        Change::EngineeringAccepted { measure, .. } => {
            if let Some(eng) = s.engineering.as_mut() {
                eng.measure = *measure;
                eng.accepted = Some(step_of(e, *measure));
            }
        }
        Change::Closed { basis, .. } => {
            s.closure = Some(Closure {
                basis: *basis,
                seq: e.seq,
                by: e.actor.id.clone(),
                on: e.effective,
            });
        }
        Change::LegacyClosureRecorded {
            measures,
            closed_on,
        } => {
            s.legacy = Some(Legacy {
                measures: measures.clone(),
                closed_on: *closed_on,
                look_back: None,
            });
        }
        Change::LookBackReviewed { hazard_remains, .. } => {
            let finding = if *hazard_remains {
                ReviewFinding::Hazard
            } else {
                ReviewFinding::NoHazard
            };
            if let Some(l) = s.legacy.as_mut() {
                l.look_back = Some(step_of(e, *hazard_remains));
            }
            s.review = Some(step_of(e, finding));
        }
        Change::Reopened => {
            // The basis the closure rested on no longer stands.
            if let Some(c) = s.closure.take() {
                match c.basis {
                    ClosureBasis::Engineering => {
                        if let Some(eng) = s.engineering.as_mut() {
                            eng.accepted = None;
                        }
                    }
                    ClosureBasis::ReviewNoHazard => s.review = None,
                    ClosureBasis::AppraisalAB | ClosureBasis::ManagementMeasure => {}
                }
            }
            s.reopened_at_seq = e.seq;
            s.reopen_count += 1;
        }
        Change::Reclassified {
            judgement,
            risk_level,
            grade,
        } => {
            if let Some(j) = judgement {
                s.judgement = Some(*j);
                s.hazard = j.is_hazard();
            }
            if risk_level.is_some() {
                s.risk_level = *risk_level;
            }
            if let (Some(g), Some(a)) = (grade, s.appraisal.as_mut()) {
                a.value = *g;
            }
            // A correction that removes the basis of a closure undoes the closure with it.
            if let Some(c) = &s.closure
                && !s.valid_bases().iter().any(|(b, _)| *b == c.basis)
            {
                s.closure = None;
            }
        }
        Change::Corrected { record, .. } => s.record = Some((**record).clone()),
    }
    s.version = e.seq;
    s.last_effective = Some(e.effective);
    s.last_recorded_at = Some(e.recorded_at);
    s.last_actor = Some(e.actor.clone());
    s
}

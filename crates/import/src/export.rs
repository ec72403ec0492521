//! The houses as the national platform's five blocks (房屋基本情况, 建设情况, 管理情况, 排查情况,
//! 整治情况): one row per house in the import template's columns, so that a file exported here
//! is a file the importer takes back. Personal data is masked unless the account may export it
//! and asks to (the export is audited either way); every text cell passes through the formula
//! neutraliser.

use anju_domain::Coded;
use anju_domain::auth::{Action, Principal};
use anju_domain::coded::joined_labels;
use anju_domain::codes::RegionLevel;
use anju_domain::columns::{self, COLUMNS};
use anju_domain::event::{Change, Event};
use anju_domain::house::People;
use anju_domain::import::{STATUS_COLUMNS, template};
use anju_domain::state::HouseState;
use anju_store::houses::list::HouseFilter;
use anju_store::{Store, StoreError};

/// Most houses exported per town at once.
pub const TOWN_LIMIT: i64 = 500_000;

/// The column headers, in order (as in the template, without the required marks).
pub fn headers() -> Vec<&'static str> {
    template().into_iter().map(|(_, h, _)| h).collect()
}

/// The blocks of the columns, in order.
pub fn blocks() -> Vec<&'static str> {
    template().into_iter().map(|(b, _, _)| b).collect()
}

fn date(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// The latest event at or before `seq` of a kind, for the details a state does not keep.
fn event_at(events: &[Event], seq: u32, pick: fn(&Change) -> bool) -> Option<&Event> {
    events
        .iter()
        .rev()
        .filter(|e| e.seq <= seq)
        .find(|e| pick(&e.change))
}

/// The status columns of a house, by key.
fn status(state: &HouseState, events: &[Event]) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = vec![];
    let last = u32::MAX;
    if let Some(on) = state.surveyed_on {
        v.push(("surveyed_on", on.to_string()));
        if let Some(Event {
            change: Change::Surveyed(s),
            ..
        }) = event_at(events, last, |c| matches!(c, Change::Surveyed(_)))
        {
            v.push(("survey_round", s.round.clone()));
            v.push(("surveyor", s.surveyor.clone()));
            v.push(("hazard_categories", s.hazard_categories.join("、")));
        }
        if let Some(j) = state.judgement {
            v.push(("judgement", j.label().into()));
        }
        if let Some(r) = state.risk_level {
            v.push(("risk_level", r.label().into()));
        }
    }
    if let Some(l) = &state.legacy {
        v.push(("legacy_closed_on", l.closed_on.to_string()));
        v.push(("legacy_measures", joined_labels(&l.measures)));
        if let Some(lb) = &l.look_back {
            v.push(("look_back_on", lb.on.to_string()));
            v.push((
                "look_back_finding",
                if lb.value {
                    "隐患仍存在"
                } else {
                    "隐患已消除"
                }
                .into(),
            ));
            if let Some(Event {
                change: Change::LookBackReviewed { reviewer_names, .. },
                ..
            }) = event_at(events, lb.seq, |c| {
                matches!(c, Change::LookBackReviewed { .. })
            }) {
                v.push(("look_back_reviewers", reviewer_names.clone()));
            }
        }
    }
    // A review the appraisal overtook does not decide anything any more; the appraisal does.
    // A finding that came from the look-back is in the look-back's columns.
    let from_look_back = |seq: u32| {
        events
            .iter()
            .any(|e| e.seq == seq && matches!(e.change, Change::LookBackReviewed { .. }))
    };
    if let Some(r) = state
        .review
        .as_ref()
        .filter(|r| state.appraisal.is_none() && !from_look_back(r.seq))
    {
        v.push(("reviewed_on", r.on.to_string()));
        v.push(("review_finding", r.value.label().into()));
        if let Some(Event {
            change: Change::Reviewed { reviewer_names, .. },
            ..
        }) = event_at(events, r.seq, |c| matches!(c, Change::Reviewed { .. }))
        {
            v.push(("reviewers", reviewer_names.clone()));
        }
    }
    if let Some(a) = &state.appraisal {
        v.push(("appraised_on", a.on.to_string()));
        v.push(("grade", a.value.label().into()));
        if let Some(Event {
            change: Change::Appraised(x),
            ..
        }) = event_at(
            events,
            a.seq,
            |c| matches!(c, Change::Appraised(x) if !x.post_rectification),
        ) {
            v.push(("agency", x.agency_name.clone()));
            v.push(("report_no", x.report_no.clone()));
            v.push(("standard", x.standard.clone()));
            if let Some(adv) = x.advice {
                v.push(("advice", adv.label().into()));
            }
        }
    }
    if let Some(on) = state.notified_on {
        v.push(("notified_on", on.to_string()));
        if let Some(Event {
            change: Change::OwnerNotified { method, .. },
            ..
        }) = event_at(events, last, |c| matches!(c, Change::OwnerNotified { .. }))
        {
            v.push(("notice_method", method.clone()));
        }
    }
    if !state.controls.is_empty() {
        v.push(("controls", joined_labels(&state.controls)));
        let first = events
            .iter()
            .find(|e| matches!(e.change, Change::InterimControlApplied { .. }));
        v.push(("controls_on", date(first.map(|e| e.effective))));
    }
    if let Some(e) = &state.engineering {
        v.push(("engineering", e.measure.label().into()));
        v.push(("engineering_started_on", e.started_on.to_string()));
        if let Some(a) = &e.accepted {
            v.push(("engineering_accepted_on", a.on.to_string()));
            if let Some(Event {
                change: Change::EngineeringAccepted { reviewer_names, .. },
                ..
            }) = event_at(events, a.seq, |c| {
                matches!(c, Change::EngineeringAccepted { .. })
            }) {
                v.push(("acceptors", reviewer_names.clone()));
            }
        }
    }
    if let Some(c) = &state.closure {
        v.push(("closed_on", c.on.to_string()));
        v.push(("closure_basis", c.basis.label().into()));
        if let Some(Event {
            change:
                Change::Closed {
                    platform_closed_on: Some(p),
                    ..
                },
            ..
        }) = event_at(events, c.seq, |c| matches!(c, Change::Closed { .. }))
        {
            v.push(("platform_closed_on", p.to_string()));
        }
    }
    v
}

/// One house as a row of the template's columns.
pub fn row(state: &HouseState, people: &People, events: &[Event], reveal: bool) -> Vec<String> {
    let Some(record) = &state.record else {
        return vec![];
    };
    let masked = anju_store::access::PeopleView::masked(people);
    let st = status(state, events);
    COLUMNS
        .iter()
        .map(|c| {
            let v = columns::get(c, record, people);
            if !c.personal() || reveal || v.is_empty() {
                return v;
            }
            match c.key {
                "owner_id" => masked.owner_id.clone().unwrap_or_default(),
                "owner_phone" => masked.owner_phone.clone().unwrap_or_default(),
                "user_phone" => masked.user_phone.clone().unwrap_or_default(),
                "safety_phone" => masked.safety_phone.clone().unwrap_or_default(),
                "supervisor_phone" => masked.supervisor_phone.clone().unwrap_or_default(),
                _ => String::new(),
            }
        })
        .chain(STATUS_COLUMNS.iter().map(|c| {
            st.iter()
                .find(|(k, _)| *k == c.key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        }))
        .collect()
}

/// The houses within the account's scope, town by town, as rows. `reveal` asks for personal
/// data in full: refused unless the account may export it. Audited.
pub async fn rows(
    store: &Store,
    who: &Principal,
    source: &str,
    reveal: bool,
) -> Result<Vec<Vec<String>>, StoreError> {
    if !who.may(Action::ReadHouses) {
        return Err(StoreError::Denied(anju_domain::auth::denied_message(
            who.role,
            Action::ReadHouses,
        )));
    }
    if reveal && !who.may(Action::ExportPersonal) {
        return Err(StoreError::Denied(anju_domain::auth::denied_message(
            who.role,
            Action::ExportPersonal,
        )));
    }
    let access = store.access(who, source);
    let reference = store.reference();
    let towns: Vec<_> = reference
        .regions
        .iter()
        .filter(|r| r.level == RegionLevel::Town)
        .map(|r| r.code)
        .collect();
    drop(reference);
    let mut out = vec![];
    for town in towns {
        let filter = HouseFilter {
            town: Some(town),
            ..HouseFilter::default()
        };
        for state in access.house_states(&filter, TOWN_LIMIT).await? {
            let (view, events) = access.house_for_export(&state.code).await?;
            let people = view.people.unwrap_or_default();
            out.push(row(&view.state, &people, &events, reveal));
        }
    }
    let entry = anju_store::infra::audit::AuditEntry {
        at: store.now(),
        actor_id: who.username.clone(),
        actor_role: anju_store::infra::codec::role_code(who.role),
        source: source.to_string(),
        action: if reveal {
            "houses.export_national_personal"
        } else {
            "houses.export_national"
        }
        .into(),
        object: "houses".into(),
        outcome: anju_store::infra::audit::Outcome::Ok,
        reason: None,
        detail: serde_json::json!({ "rows": out.len(), "reveal": reveal }).to_string(),
    };
    store.record_audit(&entry).await?;
    Ok(out)
}

/// Rows as xlsx: the block titles over the headers, then the rows (formula-neutralised).
pub fn xlsx(rows: &[Vec<String>]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory()?;
    ws.set_name("自建房信息")?;
    let title = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_border(FormatBorder::Thin);
    let blocks = blocks();
    let mut start = 0usize;
    while start < blocks.len() {
        let end = (start..blocks.len())
            .take_while(|i| blocks[*i] == blocks[start])
            .last()
            .unwrap_or(start);
        if end > start {
            ws.merge_range(0, start as u16, 0, end as u16, blocks[start], &title)?;
        } else {
            ws.write_string_with_format(0, start as u16, blocks[start], &title)?;
        }
        start = end + 1;
    }
    for (c, h) in headers().iter().enumerate() {
        ws.write_string_with_format(1, c as u16, *h, &title)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32 + 2, c as u16, anju_render::neutralise(v))?;
            }
        }
    }
    wb.save_to_buffer()
}

/// Rows as CSV (UTF-8 with BOM, one header row), formula-neutralised.
pub fn csv(rows: &[Vec<String>]) -> Vec<u8> {
    anju_render::list_csv(&headers(), rows)
}

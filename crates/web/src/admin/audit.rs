//! 审计日志: the audit trail for the county office and the auditor — filtered by account,
//! action, object (a house code …), outcome and date range (Beijing dates), paged in the
//! database, exported as CSV with the same filters (the export is itself audited).

use crate::error::{PageError, PageResult};
use crate::pages::{Frame, Pager, page_number, page_size, render_page};
use crate::session::Ctx;
use anju_domain::Coded;
use anju_store::infra::audit::AuditEntry;
use anju_store::infra::audit_view::{AuditFilter, OutcomeFilter};
use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use chrono::{FixedOffset, NaiveDate, TimeZone};
use serde::Deserialize;

/// Rows a CSV export holds at most (narrow the filter for more).
const EXPORT_LIMIT: u64 = 100_000;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    actor: String,
    action: String,
    object: String,
    outcome: String,
    from: String,
    until: String,
    page: String,
    size: String,
}

impl AuditQuery {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("actor", &self.actor),
            ("action", &self.action),
            ("object", &self.object),
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("until", &self.until),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }

    /// The typed filter, or what is wrong with the form (in Chinese).
    fn filter(&self) -> Result<AuditFilter, String> {
        let opt = |s: &str, what: &str| -> Result<Option<String>, String> {
            let s = s.trim();
            if s.is_empty() {
                return Ok(None);
            }
            anju_domain::text::check(what, s, 100)?;
            Ok(Some(s.to_string()))
        };
        let day = |s: &str, what: &str| -> Result<Option<NaiveDate>, String> {
            match s.trim() {
                "" => Ok(None),
                d => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| format!("{what}不是有效日期：{d}")),
            }
        };
        // Beijing midnight of a day, as an instant.
        let midnight = |d: NaiveDate| {
            FixedOffset::east_opt(8 * 3600)
                .expect("valid offset")
                .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
                .single()
                .map(|t| t.with_timezone(&chrono::Utc))
        };
        let from = day(&self.from, "起始日期")?;
        let until = day(&self.until, "截止日期")?;
        if let (Some(f), Some(u)) = (from, until)
            && u < f
        {
            return Err("截止日期不能早于起始日期".into());
        }
        let outcome = match self.outcome.trim() {
            "" => None,
            o => Some(OutcomeFilter::parse(o).ok_or_else(|| format!("结果筛选无效：{o}"))?),
        };
        Ok(AuditFilter {
            actor: opt(&self.actor, "账号")?,
            action: opt(&self.action, "操作")?,
            object: opt(&self.object, "对象")?,
            outcome,
            from: from.and_then(midnight),
            // Through the whole of the last day.
            until: until.and_then(|d| d.succ_opt()).and_then(midnight),
        })
    }
}

pub struct Line {
    pub at: String,
    pub actor: String,
    /// The trail of this account, and of this object.
    pub actor_href: String,
    pub object_href: String,
    pub role: String,
    pub source: String,
    pub action: String,
    pub object: String,
    pub outcome: String,
    pub refused: bool,
    pub reason: String,
    pub detail: String,
}

/// What an action code means, for the ones people look for most.
fn action_label(action: &str) -> &'static str {
    const LABELS: &[(&str, &str)] = &[
        ("login", "登录"),
        ("logout", "退出"),
        ("reauth", "身份确认"),
        ("password", "密码"),
        ("personal.reveal", "查看完整个人信息"),
        ("house.new", "登记房屋"),
        ("house.assign", "分派房屋"),
        ("house.", "房屋办理"),
        ("step", "房屋办理"),
        ("evidence.", "上传佐证"),
        ("report.prepare", "填报台账"),
        ("report.sign", "签字"),
        ("report.submit", "报送"),
        ("report.accept", "接收"),
        ("report.return", "退回"),
        ("report.", "签字报送"),
        ("ledger.export", "导出台账"),
        ("houses.export", "导出房屋清单"),
        ("houses.import", "导入台账"),
        ("events.import", "导入办理记录"),
        ("problem.", "问题台账"),
        ("supervision.", "督办"),
        ("setting.", "设置"),
        ("account", "账号管理"),
        ("region", "区划"),
        ("audit.", "审计"),
        ("keys.", "密钥"),
        ("plaques.", "打印标牌"),
    ];
    LABELS
        .iter()
        .find(|(p, _)| action.starts_with(p))
        .map_or("", |(_, l)| l)
}

fn outcome_label(outcome: &str) -> String {
    match outcome {
        "ok" => "成功".into(),
        "error" => "出错".into(),
        "broken" => "校验未通过".into(),
        o => match o.strip_prefix("refused:") {
            Some(why) => format!("拒绝（{why}）"),
            None => o.to_string(),
        },
    }
}

fn line(r: &anju_store::infra::audit::AuditRow) -> Line {
    let label = action_label(&r.action);
    let role = anju_store::infra::codec::parse_role(&r.actor_role)
        .map_or_else(|_| r.actor_role.clone(), |x| x.label().to_string());
    Line {
        at: r
            .at
            .with_timezone(&FixedOffset::east_opt(8 * 3600).expect("valid offset"))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        actor: r.actor_id.clone(),
        actor_href: format!(
            "/audit?{}",
            serde_urlencoded::to_string([("actor", &r.actor_id)]).unwrap_or_default()
        ),
        object_href: format!(
            "/audit?{}",
            serde_urlencoded::to_string([("object", &r.object)]).unwrap_or_default()
        ),
        role,
        source: r.source.clone(),
        action: if label.is_empty() {
            r.action.clone()
        } else {
            format!("{label}（{}）", r.action)
        },
        object: r.object.clone(),
        refused: r.outcome.starts_with("refused:") || r.outcome == "broken",
        outcome: outcome_label(&r.outcome),
        reason: r.reason.clone().unwrap_or_default(),
        detail: if r.detail == "{}" {
            String::new()
        } else {
            r.detail.clone()
        },
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    frame: Frame,
    q: AuditQuery,
    query: String,
    error: Option<String>,
    lines: Vec<Line>,
    pager: Pager,
}

pub async fn show(Ctx { state, caller }: Ctx, Query(q): Query<AuditQuery>) -> PageResult {
    let (page, size) = (page_number(&q.page), page_size(&q.size, 50));
    let (rows, total, error) = match q.filter() {
        Ok(f) => {
            let (rows, total) = caller
                .access(&state.store)
                .audit_page(&f, (page, size))
                .await?;
            (rows, total, None)
        }
        Err(e) => (vec![], 0, Some(e)),
    };
    let pager = Pager::new("/audit", &q.pairs(), total, page, size);
    let out = AuditPage {
        frame: Frame::of(&state, &caller.session).await,
        query: serde_urlencoded::to_string(q.pairs()).unwrap_or_default(),
        q,
        error,
        lines: rows.iter().map(line).collect(),
        pager,
    };
    Ok(render_page(&out))
}

/// The filtered trail as CSV (at most [`EXPORT_LIMIT`] rows), the export audited.
pub async fn export_csv(
    Ctx { state, caller }: Ctx,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let filter = q.filter().map_err(PageError::refused)?;
    let access = caller.access(&state.store);
    let (first, total) = access.audit_page(&filter, (1, 1)).await?;
    drop(first);
    if total > EXPORT_LIMIT {
        return Err(PageError::refused(format!(
            "符合条件的审计记录有 {total} 条，超过单次导出上限 {EXPORT_LIMIT} 条，请缩小日期范围"
        )));
    }
    let mut rows = vec![];
    let mut page = 1;
    while (rows.len() as u64) < total {
        let (part, _) = access.audit_page(&filter, (page, 500)).await?;
        if part.is_empty() {
            break;
        }
        rows.extend(part.iter().map(line).map(|l| {
            vec![
                l.at, l.actor, l.role, l.source, l.action, l.object, l.outcome, l.reason, l.detail,
            ]
        }));
        page += 1;
    }
    let p = caller.principal();
    state
        .store
        .record_audit(
            &AuditEntry::ok(
                state.store.now(),
                &p.username,
                &anju_store::infra::codec::role_code(p.role),
                &caller.source,
                "audit.export",
                "audit",
            )
            .with_detail(serde_json::json!({ "rows": rows.len(), "filter": q.pairs() })),
        )
        .await?;
    let bytes = anju_render::list_csv(
        &[
            "时间", "账号", "角色", "来源", "操作", "对象", "结果", "事由", "详情",
        ],
        &rows,
    );
    Ok(crate::ledgers::attachment(
        "text/csv; charset=utf-8",
        "audit.csv",
        "审计日志.csv",
        bytes,
    ))
}

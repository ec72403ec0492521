//! `anju report`: hand in a ledger — prepare, sign (freezes it), submit, accept or return —
//! and look at a frozen one: its figures, its digest, how today's figures differ.
//! The person acting is an account, named with `--actor`: its name and role are the account's.
//! Signing, accepting and returning are that person's own acts, as on the web: the account's
//! password (from `ANJU_PASSWORD`, else typed on standard input) and its dynamic code where it
//! has one (`ANJU_TOTP`) are checked first.

use crate::config::Config;
use anju_domain::Coded;
use anju_domain::RegionCode;
use anju_domain::event::{Actor, Role};
use anju_domain::ledger::{AsOf, Form};
use anju_domain::report::ReportAction;
use anju_store::ledgers::reports::NewReport;
use anyhow::Context;
use chrono::NaiveDate;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Who acts: an account's user name.
    #[arg(long, global = true, default_value = "")]
    pub actor: String,
    /// The acting account's role, as a check (town_operator, town_principal, county_office):
    /// refused when the account has another.
    #[arg(long, global = true)]
    pub role: Option<String>,
    #[command(subcommand)]
    pub command: ReportCommand,
}

#[derive(clap::Subcommand)]
pub enum ReportCommand {
    /// Prepare a town's ledger as of a date (town operator).
    Prepare {
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
        form: u8,
        /// The town's 9-digit code.
        #[arg(long)]
        town: String,
        #[arg(long)]
        as_of: NaiveDate,
        /// 联系方式.
        #[arg(long)]
        contact: String,
        /// The returned report this one corrects.
        #[arg(long)]
        supersedes: Option<i64>,
    },
    /// Sign: freezes the figures and the houses behind them (town principal).
    Sign { id: i64 },
    /// Submit to the county office.
    Submit { id: i64 },
    /// Accept (county office).
    Accept { id: i64 },
    /// Return with a reason (county office).
    Return {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Record the scanned signed-and-stamped copy.
    AttachScan { id: i64, file: PathBuf },
    /// Show a report: status, digest check, frozen figures (CSV).
    Show { id: i64 },
    /// Today's figures beside the frozen ones: every cell that differs.
    Compare { id: i64 },
}

/// The acting account: it must exist, and have the role `--role` names if given.
async fn actor(store: &anju_store::Store, args: &ReportArgs) -> anyhow::Result<Actor> {
    anyhow::ensure!(!args.actor.is_empty(), "请用 --actor 指明操作人账号");
    let account = store
        .account(&args.actor)
        .await
        .map_err(|_| anyhow::anyhow!("账号“{}”不存在", args.actor))?;
    if let Some(r) = &args.role {
        let role: Role = serde_json::from_value(serde_json::Value::String(r.clone()))
            .map_err(|_| anyhow::anyhow!("未知角色“{r}”"))?;
        anyhow::ensure!(
            role == account.role,
            "账号“{}”的角色是{}，不是{}",
            args.actor,
            account.role.label(),
            role.label()
        );
    }
    Ok(account.principal().actor())
}

/// Asks the acting account's holder to confirm: the password from `ANJU_PASSWORD` or standard
/// input, the dynamic code from `ANJU_TOTP`; every attempt audited as `reauth`.
async fn confirm(store: &anju_store::Store, username: &str) -> anyhow::Result<()> {
    let password = match std::env::var("ANJU_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            eprint!("请输入账号 {username} 的登录密码（签字、接收、退回须再次确认身份）：");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let totp = std::env::var("ANJU_TOTP")
        .ok()
        .filter(|t| !t.trim().is_empty());
    store
        .confirm_identity(username, &password, totp.as_deref(), "cli")
        .await
        .map_err(|e| anyhow::anyhow!("身份确认未通过：{e}"))
}

fn refused(e: anju_store::StoreError) -> anyhow::Error {
    match e.rule() {
        Some(v) => anyhow::anyhow!("操作被拒绝：{v}"),
        None => e.into(),
    }
}

pub async fn run(config: &Config, args: ReportArgs) -> anyhow::Result<()> {
    let store = config.open().await?;
    let step = |id: i64, action: ReportAction| {
        let (store, args) = (&store, &args);
        async move {
            let who = actor(store, args).await?;
            if matches!(
                action,
                ReportAction::Sign | ReportAction::Accept | ReportAction::Return { .. }
            ) && anju_domain::report::may_act_on_report(who.role, &action)
            {
                confirm(store, &who.id).await?;
            }
            let status = store
                .system("cli")
                .act_on_report(&who, id, &action)
                .await
                .map_err(refused)?;
            println!("台账 {id}：{}", status.label());
            anyhow::Ok(())
        }
    };
    match &args.command {
        ReportCommand::Prepare {
            form,
            town,
            as_of,
            contact,
            supersedes,
        } => {
            let who = actor(&store, &args).await?;
            let unit = RegionCode::parse(town).map_err(|e| anyhow::anyhow!("{e}"))?;
            let new = NewReport {
                form: Form::from_number(*form).context("表单只能是 1 或 2")?,
                unit,
                as_of: *as_of,
                contact: contact.clone(),
                supersedes: *supersedes,
            };
            let id = store
                .system("cli")
                .prepare_report(&who, &new)
                .await
                .map_err(refused)?;
            println!("已填报台账 {id}");
        }
        ReportCommand::Sign { id } => step(*id, ReportAction::Sign).await?,
        ReportCommand::Submit { id } => step(*id, ReportAction::Submit).await?,
        ReportCommand::Accept { id } => step(*id, ReportAction::Accept).await?,
        ReportCommand::Return { id, reason } => {
            step(
                *id,
                ReportAction::Return {
                    reason: reason.clone(),
                },
            )
            .await?
        }
        ReportCommand::AttachScan { id, file } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("无法读取 {}", file.display()))?;
            // Checked and stored like any evidence (the web page serves it from there).
            let prepared = anju_evidence::prepare(&bytes, &anju_evidence::Policy::default())
                .map_err(|e| anyhow::anyhow!("扫描件未能保存：{e}"))?;
            let dir = config.data_dir.join("evidence");
            let stored = anju_evidence::EvidenceStore::open(&dir)
                .and_then(|e| e.put(&prepared))
                .with_context(|| format!("无法写入证据材料目录 {}", dir.display()))?;
            let sha256 = stored.sha256;
            let name = file
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            step(*id, ReportAction::AttachScan { sha256, name }).await?
        }
        ReportCommand::Show { id } => {
            let r = store.system("cli").report(*id).await?;
            println!(
                "台账 {}：附件{} {} 截至 {}，{}",
                r.id,
                r.form.number(),
                r.unit,
                r.as_of,
                r.status.label()
            );
            println!("填报人：{}  联系方式：{}", r.preparer_name, r.contact);
            if let Some(s) = &r.signer_name {
                println!("签字：{s}");
            }
            if let Some(reason) = &r.return_reason {
                println!("退回原因：{reason}");
            }
            let integrity = store.verify_report(*id).await?;
            if let Some(d) = &r.digest {
                use anju_store::ledgers::reports::Integrity;
                let verdict = match &integrity {
                    Integrity::Intact => "校验一致：快照、摘要与签字时的审计记录相符".to_string(),
                    Integrity::DigestOnly => {
                        "快照与摘要一致（签字早于审计记录摘要，无法与审计记录核对）".to_string()
                    }
                    Integrity::Broken(m) => format!("校验不通过：{m}"),
                    Integrity::Unsigned => String::new(),
                };
                println!("SHA-256：{d}（{verdict}）");
            }
            if let Some(frozen) = r.frozen()? {
                print!(
                    "{}",
                    String::from_utf8_lossy(&anju_render::csv(&frozen.table))
                        .trim_start_matches('\u{feff}')
                );
            }
            if let anju_store::ledgers::reports::Integrity::Broken(m) = integrity {
                anyhow::bail!("{m}");
            }
        }
        ReportCommand::Compare { id } => {
            let r = store.system("cli").report(*id).await?;
            let diffs = store
                .system("cli")
                .compare_report(*id, AsOf::Now)
                .await
                .map_err(refused)?;
            let headings = r.form.headings();
            if diffs.is_empty() {
                println!("今日数字与签字时一致");
            }
            for d in diffs {
                let column = column_heading(r.form, d.column, headings);
                println!(
                    "{} / {}：签字时 {}，今日 {}",
                    d.row, column, d.frozen, d.now
                );
            }
        }
    }
    Ok(())
}

/// The heading of a counted column (附件2 interleaves rates between counts).
fn column_heading(form: Form, column: usize, headings: &[&str]) -> String {
    let printed = match form {
        Form::Attachment1 => column,
        Form::Attachment2 => [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 13, 15][column],
    };
    headings
        .get(printed)
        .map_or_else(|| column.to_string(), |h| h.to_string())
}

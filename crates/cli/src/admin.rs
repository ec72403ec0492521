//! Administration from the command line (the machine's operator, audited as `cli`):
//! `anju user …` accounts, `anju audit …` the audit trail, `anju keys …` personal-data keys.

use crate::config::Config;
use anju_domain::Coded;
use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::event::Role;
use anju_store::infra::audit::AuditEntry;
use anju_store::{NewAccount, Store};
use anyhow::Context;

fn operator() -> Principal {
    Principal {
        account_id: 0,
        username: "cli".into(),
        name: "命令行管理员".into(),
        role: Role::System,
        region: None,
        department: None,
    }
}

/// An audit row for something the operator did from the command line.
pub fn cli_audit(
    store: &anju_store::Store,
    action: &str,
    object: &str,
    detail: serde_json::Value,
) -> AuditEntry {
    AuditEntry::ok(store.now(), "cli", "system", "cli", action, object).with_detail(detail)
}

fn parse_role(s: &str) -> anyhow::Result<Role> {
    Role::ALL
        .iter()
        .copied()
        .filter(|r| *r != Role::System)
        .find(|r| anju_store::infra::codec::role_code(*r) == s || r.label() == s)
        .ok_or_else(|| {
            let all: Vec<String> = Role::ALL
                .iter()
                .filter(|r| **r != Role::System)
                .map(|r| {
                    format!(
                        "{}（{}）",
                        anju_store::infra::codec::role_code(*r),
                        r.label()
                    )
                })
                .collect();
            anyhow::anyhow!("未知角色 {s}；可选：{}", all.join("、"))
        })
}

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create an account; prints its one-time password (to be changed at first login).
    Add {
        #[arg(long)]
        username: String,
        /// The person's name as shown and recorded.
        #[arg(long)]
        name: String,
        /// county_office, town_operator, town_principal, department, tech_reviewer, appraiser,
        /// inspector, auditor.
        #[arg(long)]
        role: String,
        /// Region code (county, town or village) the account belongs to.
        #[arg(long)]
        region: Option<String>,
        /// Department code (department accounts).
        #[arg(long)]
        department: Option<String>,
    },
    /// List the accounts.
    List,
    /// Give an account a new one-time password and end its sessions.
    Reset { username: String },
    /// Disable an account (ends its sessions).
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
    /// End every session of an account.
    EndSessions { username: String },
    /// Give an account a TOTP second factor; prints the secret once.
    Totp { username: String },
}

pub async fn user(config: &Config, cmd: UserCommand) -> anyhow::Result<()> {
    let store = config.open().await?;
    let op = operator();
    match cmd {
        UserCommand::Add {
            username,
            name,
            role,
            region,
            department,
        } => {
            let region = region
                .map(|r| RegionCode::parse(&r).map_err(|e| anyhow::anyhow!("区划代码 {r}：{e}")))
                .transpose()?;
            let new = NewAccount {
                username,
                display_name: name,
                role: parse_role(&role)?,
                region,
                department,
            };
            let (account, otp) = store.create_account(&op, &new, "cli").await?;
            println!(
                "已创建账号 {}（{}），一次性密码：{otp}\n首次登录后须修改密码。",
                account.username,
                account.role.label()
            );
        }
        UserCommand::List => {
            for a in store.accounts(&op).await? {
                let mut flags = Vec::new();
                if a.disabled {
                    flags.push("已停用");
                }
                if a.must_change {
                    flags.push("待改密码");
                }
                if a.totp_enabled {
                    flags.push("动态口令");
                }
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    a.username,
                    a.display_name,
                    a.role.label(),
                    a.region
                        .map(|r| r.to_string())
                        .or(a.department.clone())
                        .unwrap_or_default(),
                    flags.join("、")
                );
            }
        }
        UserCommand::Reset { username } => {
            let otp = store.reset_password(&op, &username, "cli").await?;
            println!("账号 {username} 的一次性密码：{otp}（其会话已全部结束）");
        }
        UserCommand::Disable { username } => {
            store.set_disabled(&op, &username, true, "cli").await?;
            println!("账号 {username} 已停用");
        }
        UserCommand::Enable { username } => {
            store.set_disabled(&op, &username, false, "cli").await?;
            println!("账号 {username} 已启用");
        }
        UserCommand::EndSessions { username } => {
            let n = store.end_sessions(&op, &username, "cli").await?;
            println!("已结束账号 {username} 的 {n} 个会话");
        }
        UserCommand::Totp { username } => {
            let (secret, uri) = store.enable_totp(&op, &username, "cli").await?;
            println!(
                "账号 {username} 已启用动态口令。请用身份验证器扫描或输入：\n  密钥 {}\n  {uri}",
                anju_store::accounts::totp::base32(&secret)
            );
        }
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Check everything the audit trail vouches for: its own hash chain, every house's event
    /// chain against the head the trail recorded (events deleted, edited or inserted outside
    /// Anju; houses whose rows are gone), and the house rows, fact spans and people against a
    /// replay of the events. Exits non-zero naming each house that fails. (`anju check` only
    /// compares the projection with a replay, without the audit trail.)
    Verify,
    /// Print the latest audit rows.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        rows: i64,
    },
}

pub async fn audit(config: &Config, cmd: AuditCommand) -> anyhow::Result<()> {
    let store = config.open().await?;
    match cmd {
        AuditCommand::Verify => {
            let report = store.system("cli").verify_all().await?;
            let (rows, head): (i64, String) = anju_store::on_db!(store.system("cli").db(), p => sqlx::query_as(
                "SELECT last_id, last_hash FROM audit_head WHERE id = 1").fetch_one(p).await)?;
            let clean = report.is_clean();
            let named: Vec<&str> = report
                .faults
                .iter()
                .map(|f| f.code.as_str())
                .take(100)
                .collect();
            store
                .record_audit(&AuditEntry {
                    at: store.now(),
                    actor_id: "cli".into(),
                    actor_role: "system".into(),
                    source: "cli".into(),
                    action: "audit.verify".into(),
                    object: "audit_log".into(),
                    outcome: if clean {
                        anju_store::infra::audit::Outcome::Ok
                    } else {
                        anju_store::infra::audit::Outcome::Broken
                    },
                    reason: None,
                    detail: serde_json::json!({
                        "first_broken": report.audit_broken, "rows": rows,
                        "houses": report.houses, "events": report.events,
                        "faulty_houses": report.faults.len(), "named": named,
                        "batch_faults": report.batch_faults.len(),
                        "orphan_events": report.orphan_events,
                    })
                    .to_string(),
                })
                .await?;
            print_verification(&report, rows, &head);
            if clean {
                Ok(())
            } else {
                let houses: std::collections::BTreeSet<&str> =
                    report.faults.iter().map(|f| f.code.as_str()).collect();
                anyhow::bail!(
                    "校验不通过：{}{} 栋房屋有问题{}{}",
                    report
                        .audit_broken
                        .map(|id| format!("审计日志在第 {id} 条处断裂（被修改、删除或插入），自该条起的记录不可信；"))
                        .unwrap_or_default(),
                    houses.len(),
                    if report.batch_faults.is_empty() { String::new() } else { format!("，{} 个房屋批次记录被改动", report.batch_faults.len()) },
                    if report.orphan_events == 0 { String::new() } else { format!("，{} 条事件的房屋记录已被删除", report.orphan_events) },
                )
            }
        }
        AuditCommand::Tail { rows } => {
            for r in anju_store::infra::audit::tail(store.system("cli").db(), rows).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.at.format("%Y-%m-%d %H:%M:%S"),
                    r.actor_id,
                    r.source,
                    r.action,
                    r.object,
                    r.outcome,
                    r.reason.unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Rotate the personal-data key: add a new key, re-seal every row under it, retire the old.
    Rotate,
    /// Show the key ids in the key file (never the keys).
    Show,
}

pub async fn keys(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Show => {
            let vault = config
                .load_vault()?
                .context("没有密钥文件（首次启动时自动生成）")?;
            println!(
                "密钥文件 {}：当前密钥 {}，全部密钥 {:?}",
                config.key_path().display(),
                vault.current(),
                vault.key_ids()
            );
            Ok(())
        }
        KeysCommand::Rotate => rotate(config).await,
    }
}

/// The new key is written to the key file before any row is re-sealed, and the old keys are
/// dropped only after no row needs them: an interruption at any point loses nothing, and
/// running the command again finishes the job.
async fn rotate(config: &Config) -> anyhow::Result<()> {
    if std::env::var("ANJU_KEYS").is_ok() {
        anyhow::bail!(
            "密钥来自环境变量 ANJU_KEYS，无法写回：请改用密钥文件（--key-file）后再轮换，或在外部生成新密钥集"
        );
    }
    let store = config.open().await?;
    let mut vault = config.load_vault()?.context("没有密钥文件")?;
    let old = vault.key_ids();
    let new = vault.rotate();
    config.write_vault(&vault)?;
    let rotated: Store = store.with_vault(vault.clone()).await?;
    let done = rotated.system("cli").reseal_personal().await?;
    let left = rotated.count_unsealed_or_old().await?;
    if left > 0 {
        anyhow::bail!("仍有 {left} 条个人信息未用新密钥加密；旧密钥已保留，请重新运行本命令");
    }
    vault.retire_old();
    config.write_vault(&vault)?;
    rotated
        .record_audit(&AuditEntry {
            at: store.now(),
            actor_id: "cli".into(),
            actor_role: "system".into(),
            source: "cli".into(),
            action: "keys.rotate".into(),
            object: "personal_data".into(),
            outcome: anju_store::infra::audit::Outcome::Ok,
            reason: None,
            detail: serde_json::json!({ "old": old, "new": new, "people": done.people, "events": done.events }).to_string(),
        })
        .await?;
    println!(
        "密钥已轮换：新密钥 {new}，重新加密 {} 条房屋人员信息、{} 条事件；旧密钥 {old:?} 已退役。",
        done.people, done.events
    );
    Ok(())
}

/// What `anju audit verify` checked and found, in Chinese.
fn print_verification(r: &anju_store::houses::chain::ChainReport, rows: i64, head: &str) {
    println!(
        "校验范围：审计日志哈希链（{} 条）；每栋房屋的事件哈希链与审计日志记载的链头；房屋当前状态、台账时段、人员信息与事件重放结果（{} 栋房屋、{} 条事件）",
        r.audit_rows, r.houses, r.events
    );
    match r.audit_broken {
        None => println!("审计日志完整：共 {rows} 条，链尾哈希 {head}"),
        Some(id) => {
            println!("审计日志在第 {id} 条处断裂（被修改、删除或插入）：自该条起的记录不可信")
        }
    }
    for m in &r.batch_faults {
        println!("批次记录：{m}");
    }
    if r.orphan_events > 0 {
        println!(
            "另有 {} 条事件的房屋记录已被删除（无法指明房屋编码）",
            r.orphan_events
        );
    }
    const SHOWN: usize = 200;
    for f in r.faults.iter().take(SHOWN) {
        println!("房屋 {}：{}", f.code, f.message);
    }
    if r.faults.len() > SHOWN {
        println!("……另有 {} 处问题未列出", r.faults.len() - SHOWN);
    }
    if r.is_clean() {
        println!(
            "事件链完整：{} 栋房屋的事件与审计日志记载一致，当前状态与事件重放结果一致",
            r.houses
        );
    }
}

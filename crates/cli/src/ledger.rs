//! `anju ledger`: 附件1 or 附件2 for the county (one row per town) or a town (one row per
//! village), today or as of a date, written as xlsx, CSV or JSON.

use crate::config::Config;
use anju_domain::RegionCode;
use anju_domain::ledger::{AsOf, Form};
use anju_domain::rules::beijing_date;
use anju_render::Header;
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct LedgerArgs {
    /// 1 = 附件1 (look-back of closures on management measures), 2 = 附件2 (campaign ledger).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub form: u8,
    /// What had happened by the end of this field date (YYYY-MM-DD). Default: today.
    #[arg(long, conflicts_with = "recorded_at")]
    pub as_of: Option<NaiveDate>,
    /// What had been recorded by this instant (RFC 3339): reproduces what was reported then.
    #[arg(long)]
    pub recorded_at: Option<DateTime<Utc>>,
    /// A town's 9-digit code: one row per village instead of one per town.
    #[arg(long)]
    pub town: Option<String>,
    /// xlsx, pdf, csv or json.
    #[arg(long, default_value = "xlsx")]
    pub format: String,
    /// Output file; `-` for stdout (csv, json).
    #[arg(long)]
    pub out: PathBuf,
    /// 填报人 printed in the header block.
    #[arg(long, default_value = "")]
    pub preparer: String,
    /// 联系方式 printed in the header block.
    #[arg(long, default_value = "")]
    pub contact: String,
}

pub async fn run(config: &Config, args: LedgerArgs) -> anyhow::Result<()> {
    let store = config.open().await?;
    let form = Form::from_number(args.form).context("表单只能是 1 或 2")?;
    let system = match &args.town {
        Some(t) => store
            .system("cli")
            .narrowed_to(&RegionCode::parse(t).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => store.system("cli"),
    };
    let as_of = match (args.as_of, args.recorded_at) {
        (Some(d), _) => AsOf::Happened(d),
        (None, Some(t)) => AsOf::Recorded(t),
        (None, None) => AsOf::Now,
    };
    let table = system.ledger(form, as_of).await?;
    let filled_on = match as_of {
        AsOf::Happened(d) => d,
        AsOf::Recorded(t) => beijing_date(t),
        AsOf::Now => store.today(),
    };
    let header = Header {
        preparer: args.preparer,
        contact: args.contact,
        filled_on: filled_on.to_string(),
    };
    let bytes = match args.format.as_str() {
        "xlsx" => anju_render::xlsx(&table, &header)?,
        "csv" => anju_render::csv(&table),
        "json" => serde_json::to_vec_pretty(&anju_render::json(&table, &header))?,
        "pdf" => {
            let fonts = anju_pdf::Fonts::load(&config.font_dirs())?;
            anju_pdf::ledger(&fonts, &table, &header)?
        }
        other => anyhow::bail!("不支持的格式“{other}”：可选 xlsx、pdf、csv、json"),
    };
    if args.out.as_os_str() == "-" {
        use std::io::Write;
        std::io::stdout().write_all(&bytes)?;
    } else {
        std::fs::write(&args.out, bytes)
            .with_context(|| format!("无法写入 {}", args.out.display()))?;
        eprintln!(
            "已生成 {}：{}",
            anju_render::title(&table),
            args.out.display()
        );
    }
    for c in &table.checks {
        eprintln!("校验未通过：{} {}", c.row, c.check);
    }
    store
        .record_audit(&crate::admin::cli_audit(
&store,
            "ledger.export",
            &args.town.clone().unwrap_or_else(|| "county".into()),
            serde_json::json!({ "form": args.form, "format": args.format, "as_of": format!("{as_of:?}") }),
        ))
        .await?;
    Ok(())
}

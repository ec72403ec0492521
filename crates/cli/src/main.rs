//! `anju`: the one binary. This file only parses the command line and dispatches.
#![forbid(unsafe_code)]

use anju::{
    admin, backup, bench, config::Config, demo, events, import, ledger, regions, report, serve,
};
use clap::{Parser, Subcommand};

// Bulk loads allocate and free many short strings across threads; glibc's allocator spent a
// quarter of the demo load in malloc/free (perf), mimalloc far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "anju",
    version,
    about = "安居 Anju：自建房安全专项整治工作系统 (self-built house safety campaign system)"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations (also done by every other command).
    Migrate,
    /// Set up the database for a county: its towns and villages from the national division
    /// table shipped with Anju (no network needed). Run once before `serve`; again changes nothing.
    Init(regions::InitArgs),
    /// The county's towns and villages: list them, or import a list of those the table lacks.
    #[command(subcommand)]
    Regions(regions::RegionsCommand),
    /// Load a deterministic demo county into the database.
    Demo(demo::DemoArgs),
    /// A consistent backup of the whole system (every table and the evidence files) while it
    /// runs; `anju backup verify DIR` checks one.
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty database of either backend (also the move SQLite → PostgreSQL).
    Restore(backup::RestoreArgs),
    /// Export or import the full event log as JSON Lines.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Check that every house's stored state equals a fresh replay of its events.
    Check,
    /// Existing ledgers: the import template, and importing an xlsx or CSV file.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Compute 附件1 or 附件2, today or as of a date, as xlsx, CSV or JSON.
    Ledger(ledger::LedgerArgs),
    /// Hand in a ledger: prepare, sign (freezes it), submit, accept or return; show, compare.
    Report(report::ReportArgs),
    /// Serve Anju over HTTP (first start with an empty database prints the admin's one-time password).
    Serve(serve::ServeArgs),
    /// Accounts: add, list, reset, disable, enable, end sessions, TOTP.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// The audit trail: verify the hash chain, show the latest rows.
    #[command(subcommand)]
    Audit(admin::AuditCommand),
    /// Personal-data keys: rotate, show ids.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Benchmarks: demo load and event recording against bare SQL, side by side.
    Bench(bench::BenchArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The message chain, in Chinese where it comes from Anju; no backtrace for users.
            eprintln!("错误：{e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ANJU_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Migrate => {
                let store = cli.config.open().await?;
                println!("数据库已是最新版本（{}）", store.backend());
                Ok(())
            }
            Command::Backup(args) => backup::run(&cli.config, args).await,
            Command::Restore(args) => backup::restore(&cli.config, args).await,
            Command::Init(args) => regions::init(&cli.config, args).await,
            Command::Regions(cmd) => regions::run(&cli.config, cmd).await,
            Command::Demo(args) => demo::run(&cli.config, args).await,
            Command::Events(cmd) => events::run(&cli.config, cmd).await,
            Command::Check => events::check(&cli.config).await,
            Command::Import(cmd) => import::run(&cli.config, cmd).await,
            Command::Ledger(args) => ledger::run(&cli.config, args).await,
            Command::Report(args) => report::run(&cli.config, args).await,
            Command::Serve(args) => serve::run(&cli.config, args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::User(cmd) => admin::user(&cli.config, cmd).await,
            Command::Audit(cmd) => admin::audit(&cli.config, cmd).await,
            Command::Keys(cmd) => admin::keys(&cli.config, cmd).await,
        }
    })
}

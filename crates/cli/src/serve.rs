//! `anju serve`: until the web application lands, a read-only status page in Chinese with each
//! town's counts, so a new install can be seen working.

use crate::config::Config;
use anju_domain::Scope;
use anju_domain::region::JIAXIANG_TOWNS;
use anju_store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;

#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

pub async fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    let store = config.open().await?;
    serve(store, &args).await
}

pub fn router(store: Store) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(store)
}

pub async fn serve(store: Store, args: &ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("安居已启动：http://{}/", listener.local_addr()?);
    axum::serve(listener, router(store)).await?;
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn status_page(State(store): State<Store>) -> Response {
    match store.town_totals(&Scope::All).await {
        Ok(rows) => {
            let mut body = String::from(
                "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>安居 · 自建房安全专项整治</title>\
                 <style>body{font-family:sans-serif;margin:1rem}table{border-collapse:collapse}\
                 td,th{border:1px solid #999;padding:.3rem .5rem;text-align:right}th{background:#eee}\
                 td:first-child{text-align:left}</style></head><body>\
                 <h1>安居 · 自建房安全专项整治</h1><p>各镇街当前情况（单位：栋）。完整的网页功能将在后续版本提供。</p>\
                 <table><tr><th>镇街</th><th>房屋总数</th><th>已排查</th><th>经营性</th><th>初判隐患</th>\
                 <th>已鉴定</th><th>C、D级</th><th>已销号</th><th>待回头看</th><th>未告知</th></tr>",
            );
            for r in rows {
                let name = JIAXIANG_TOWNS
                    .iter()
                    .find(|(c, _)| r.town_code.starts_with(c))
                    .map_or(r.town_code.as_str(), |(_, n)| n);
                body.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(name), r.houses, r.surveyed, r.business, r.hazard, r.appraised, r.cd, r.closed, r.legacy_pending, r.needs_notice
                ));
            }
            body.push_str("</table></body></html>");
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "status page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "服务器内部错误，请稍后重试",
            )
                .into_response()
        }
    }
}

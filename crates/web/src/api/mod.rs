//! The JSON API under `/api/v1`: the same `Access` gate as the pages, the same session cookie,
//! and the CSRF token as the `X-CSRF-Token` header on every POST. Errors are
//! `{"error": {"code": …, "message": …}}` with the rule code for refusals.
//!
//! The OpenAPI document at `/api/v1/openapi.json` is generated from the `#[utoipa::path]`
//! annotations on the handlers below and the schema types in [`schema`] (which mirror the
//! domain's serde shapes); tests/it/api.rs checks it against the routes and the domain enums.

use crate::error::{ApiError, ApiResult, PageError};
use crate::houses::FilterForm;
use crate::session::Ctx;
use anju_domain::Coded;
use anju_domain::event::{Change, Command, Event, Evidence};
use anju_domain::house::HouseRecord;
use anju_domain::ledger::{AsOf, Form};
use anju_domain::{HouseCode, RegionCode};
use anju_store::StoreError;
use anju_store::access::PeopleView;
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::LazyLock;
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The OpenAPI document, generated once from the annotations in this module.
static OPENAPI: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
});

/// The OpenAPI document of the JSON API (OpenAPI 3.1, JSON), as served at
/// `/api/v1/openapi.json`.
pub fn openapi_json() -> &'static str {
    &OPENAPI
}

/// Serves the OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    summary = "本文档（OpenAPI 3.1）",
    description = "无需登录。",
    security(()),
    responses(
        (status = 200, description = "OpenAPI 3.1 文档", content_type = "application/json", body = Object),
        schema::ServerErrors,
    )
)]
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json()).into_response()
}

#[utoipa::path(
    get,
    path = "/api/v1/houses",
    tag = "houses",
    summary = "房屋清单（筛选、搜索、分页）",
    description = "本账号辖区内的房屋，每页 50 条。",
    params(schema::HouseListParams),
    responses(
        (status = 200, description = "一页房屋", body = anju_store::houses::list::HousePage),
        (status = 403, description = "本角色无权查看房屋（`denied`）", body = schema::ErrorBody),
        (status = 422, description = "筛选条件无效（`invalid`），说明哪一项", body = schema::ErrorBody),
        schema::SessionRefusals,
        schema::ServerErrors,
    )
)]
pub async fn houses(
    Ctx { state, caller }: Ctx,
    form: Result<Query<FilterForm>, QueryRejection>,
) -> ApiResult {
    let Query(form) = form.map_err(|e| PageError::refused(format!("查询参数有误：{e}")))?;
    let (filter, sort, page) = form.parse().map_err(PageError::refused)?;
    let p = caller
        .access(&state.store)
        .houses_page(&filter, sort, page, 50)
        .await?;
    Ok(Json(p).into_response())
}

/// One house as the API answers it.
#[derive(Serialize, ToSchema)]
#[schema(description = "一栋房屋：当前状态、房屋信息、脱敏的人员信息和全部办理记录。")]
pub struct HouseDetail {
    /// 房屋编码
    #[schema(value_type = String, example = "AJ370829000001231")]
    code: HouseCode,
    /// 版本号：已办理的步骤数；办理下一步时作为 `expected_version`
    version: u32,
    #[schema(value_type = schema::HouseStatus)]
    status: &'static str,
    /// 状态的中文名称
    status_label: &'static str,
    /// 房屋信息（最近一次登记或更正的内容）
    #[schema(value_type = Option<Object>)]
    record: Option<HouseRecord>,
    people: Option<PeopleView>,
    #[schema(value_type = Option<schema::Judgement>)]
    judgement: Option<&'static str>,
    #[schema(value_type = Option<schema::Grade>)]
    grade: Option<&'static str>,
    /// 办理记录，按顺序
    #[schema(value_type = Vec<schema::Event>)]
    events: Vec<Event>,
}

#[utoipa::path(
    get,
    path = "/api/v1/houses/{code}",
    tag = "houses",
    summary = "一栋房屋：记录、脱敏的人员信息、办理记录",
    params(schema::HouseCodeParam),
    responses(
        (status = 200, description = "房屋", body = HouseDetail),
        (status = 403, description = "本角色无权查看房屋（`denied`）", body = schema::ErrorBody),
        (status = 404, description = "房屋不存在、编码无效或不在本账号辖区（三者答复相同，`not_found`）", body = schema::ErrorBody),
        schema::SessionRefusals,
        schema::ServerErrors,
    )
)]
#[tracing::instrument(skip_all, fields(house = %code.as_ref().map_or("", |p| p.0.as_str())))]
pub async fn house(
    Ctx { state, caller }: Ctx,
    code: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let code = house_code(code)?;
    let access = caller.access(&state.store);
    let house = access.house(&code).await?;
    let events = access.house_events(&code).await?;
    let st = house.state;
    let status = st.status();
    Ok(Json(HouseDetail {
        code: st.code,
        version: st.version,
        status: status.code(),
        status_label: status.label(),
        record: st.record,
        people: house.people,
        judgement: st.judgement.map(|j| j.code()),
        grade: st.appraisal.as_ref().map(|a| a.value.code()),
        events,
    })
    .into_response())
}

/// A house code from the path: one that is malformed (or not even UTF-8) is as missing as one
/// that does not exist.
fn house_code(code: Result<Path<String>, PathRejection>) -> Result<HouseCode, ApiError> {
    code.ok()
        .and_then(|Path(c)| HouseCode::parse(&c).ok())
        .ok_or_else(|| StoreError::NotFound.into())
}

/// The body of `POST /api/v1/houses/{code}/events`.
#[derive(Deserialize, ToSchema)]
#[schema(description = "办理一个步骤：基于的版本号、现场日期、理由、证据材料和步骤内容。")]
pub struct StepBody {
    /// 办理所基于的房屋版本号（`GET /api/v1/houses/{code}` 的 `version`）；已被他人改动时答 409（V1）
    pub expected_version: u32,
    /// 现场发生的日期（排查日期、鉴定日期、竣工日期……），不得早于上一步、不得晚于今天（D1）
    pub effective: NaiveDate,
    /// 理由：重新纳入整治、更正判定/等级时必填（R4）
    #[serde(default)]
    pub reason: Option<String>,
    /// 证据材料：须先通过 `POST /api/v1/evidence` 上传（否则 E1）
    #[serde(default)]
    #[schema(value_type = Vec<schema::EvidenceRef>)]
    pub evidence: Vec<Evidence>,
    #[schema(value_type = schema::StepChange)]
    pub change: Change,
}

/// Records one lifecycle step; 201 with the event, or the rule that refused it.
#[utoipa::path(
    post,
    path = "/api/v1/houses/{code}/events",
    tag = "houses",
    summary = "办理一个步骤（由规则判定）",
    description = "登记（`registered`）和更正房屋信息（`corrected`）不经此接口，答 422。",
    security(("session" = [], "csrf" = [])),
    params(schema::HouseCodeParam),
    request_body(content = StepBody, content_type = "application/json"),
    responses(
        (status = 201, description = "已办理：记录下的事件", body = schema::Event),
        (status = 303, response = schema::MustChangePassword),
        (status = 403, description = "未登录或 CSRF 校验未通过（缺少或不符的 `X-CSRF-Token`、跨站 `Origin`；纯文本），或本角色不能办理步骤（`denied`，JSON）。未登录的 POST 答此 403 而非 401：没有会话就没有可核对的 CSRF 令牌", content((schema::ErrorBody = "application/json"), (String = "text/plain"))),
        (status = 404, description = "房屋不存在、编码无效或不在本账号辖区（`not_found`）", body = schema::ErrorBody),
        (status = 409, description = "房屋在 `expected_version` 之后已被改动（V1），说明是谁、何时", body = schema::ErrorBody),
        (status = 413, description = "请求体超过 2 MB", content_type = "text/plain", body = String),
        (status = 422, description = "请求格式有误（`invalid`），或被规则拒绝（`code` 为规则代码：R1–R5、C1–C3、L1、L2、D1、P1、F1、E1、B1）", body = schema::ErrorBody),
        schema::ServerErrors,
    )
)]
#[tracing::instrument(skip_all, fields(house = %code.as_ref().map_or("", |p| p.0.as_str())))]
pub async fn record(
    Ctx { state, caller }: Ctx,
    code: Result<Path<String>, PathRejection>,
    body: axum::body::Bytes,
) -> ApiResult {
    let code = house_code(code)?;
    let step: StepBody = serde_json::from_slice(&body)
        .map_err(|e| PageError::refused(format!("请求格式有误：{e}")))?;
    if matches!(
        step.change,
        Change::Registered { .. } | Change::Corrected { .. }
    ) {
        return Err(PageError::refused("登记和更正房屋信息请使用导入或房屋信息表单").into());
    }
    // Evidence must name files that were uploaded (`POST /api/v1/evidence`): a closure cannot
    // rest on photos that do not exist.
    if let Some(e) = step
        .evidence
        .iter()
        .find(|e| state.evidence.find(&e.sha256).is_none())
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "E1",
            format!(
                "证据材料“{}”（{}）未上传，请先通过 /api/v1/evidence 上传文件",
                e.name,
                e.kind.label()
            ),
        ));
    }
    let cmd = Command {
        house: code,
        expected_version: step.expected_version,
        change: step.change,
        effective: step.effective,
        reason: step.reason,
        evidence: step.evidence,
    };
    let event = caller.access(&state.store).execute(&cmd).await?;
    Ok((StatusCode::CREATED, Json(event)).into_response())
}

/// The query of `GET /api/v1/ledgers/{form}`.
#[derive(Deserialize, Default, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct LedgerParams {
    /// 台账单位：县或镇街的区划代码；缺省为本账号辖区。辖区外答 404
    #[param(example = "370829101")]
    unit: String,
    /// 截至日期（按现场日期）；缺省为当前
    #[param(format = Date, example = "2024-06-30")]
    as_of: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/ledgers/{form}",
    tag = "ledgers",
    summary = "台账：附件1 / 附件2",
    params(
        ("form" = u8, Path, description = "1：附件1；2：附件2", minimum = 1, maximum = 2),
        LedgerParams,
    ),
    responses(
        (status = 200, description = "台账：各行数值、合计、比率（分母为 0 时为 null）和校验结果", body = schema::Ledger),
        (status = 403, description = "本角色无权查看台账（`denied`）", body = schema::ErrorBody),
        (status = 404, description = "没有这个台账（只有附件1、附件2），或台账单位不在本账号辖区（`not_found`）", body = schema::ErrorBody),
        (status = 422, description = "区划代码或日期无效（`invalid`）", body = schema::ErrorBody),
        schema::SessionRefusals,
        schema::ServerErrors,
    )
)]
#[tracing::instrument(skip_all, fields(ledger = %n.as_ref().map_or("", |p| p.0.as_str())))]
pub async fn ledger(
    Ctx { state, caller }: Ctx,
    n: Result<Path<String>, PathRejection>,
    q: Result<Query<LedgerParams>, QueryRejection>,
) -> ApiResult {
    let form = n
        .ok()
        .and_then(|Path(n)| n.parse::<u8>().ok())
        .and_then(Form::from_number)
        .ok_or_else(|| PageError::not_found("台账只有附件1和附件2"))?;
    let Query(q) = q.map_err(|e| PageError::refused(format!("查询参数有误：{e}")))?;
    let unit = Some(q.unit.trim())
        .filter(|u| !u.is_empty())
        .map(|u| RegionCode::parse(u).map_err(|_| PageError::refused("区划代码无效")))
        .transpose()?;
    let as_of = match Some(q.as_of.trim()).filter(|d| !d.is_empty()) {
        None => AsOf::Now,
        Some(d) => AsOf::Happened(
            NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| PageError::refused("日期无效"))?,
        ),
    };
    let t = caller
        .access(&state.store)
        .ledger(form, unit.as_ref(), as_of)
        .await?;
    let header = anju_render::Header {
        preparer: caller.principal().name.clone(),
        contact: String::new(),
        filled_on: String::new(),
    };
    Ok(Json(anju_render::json(&t, &header)).into_response())
}

/// What an upload answers: the digest to name in a step's `evidence`.
#[derive(Serialize, ToSchema)]
#[schema(description = "已保存的证据材料（图片已去除元数据并重新编码）。")]
pub struct Uploaded {
    /// 文件内容的 SHA-256（小写十六进制），办理步骤时在 `evidence` 中引用
    #[schema(pattern = "^[0-9a-f]{64}$")]
    sha256: String,
    /// 按内容判定的类型
    #[schema(example = "image/jpeg")]
    media: &'static str,
    /// 保存后的字节数
    bytes: u64,
}

/// Uploads one evidence file (the request body is the file). Answers its digest, to be named
/// in a step's `evidence`.
#[utoipa::path(
    post,
    path = "/api/v1/evidence",
    tag = "evidence",
    summary = "上传一个证据材料（照片或 PDF），返回其 SHA-256，供办理步骤时引用",
    description = "请求体即文件本身，类型按内容判定（不看 Content-Type）。",
    security(("session" = [], "csrf" = [])),
    request_body(content = schema::EvidenceFile, content_type = "application/octet-stream", description = "文件内容：JPEG、PNG、WebP 图片或 PDF，至多 15 MB"),
    responses(
        (status = 201, description = "已保存", body = Uploaded),
        (status = 303, response = schema::MustChangePassword),
        (status = 403, description = "未登录或 CSRF 校验未通过（纯文本），或本角色不能办理步骤、不能上传证据材料（`denied`，JSON）", content((schema::ErrorBody = "application/json"), (String = "text/plain"))),
        (status = 413, description = "请求体超过 15 MB（另加 1 KB 余量）", content_type = "text/plain", body = String),
        (status = 422, description = "文件被拒绝（`invalid`）：类型（按内容判定）、尺寸、结构或大小不符，或保存失败，说明原因", body = schema::ErrorBody),
        schema::ServerErrors,
    )
)]
pub async fn upload(Ctx { state, caller }: Ctx, body: axum::body::Bytes) -> ApiResult {
    let p = caller.principal();
    if !p.may(anju_domain::auth::Action::Record) {
        return Err(PageError::Denied("您的角色不能办理步骤，也不能上传证据材料".into()).into());
    }
    let stored = state
        .store_evidence(body.to_vec())
        .await
        .map_err(PageError::refused)?;
    let entry = anju_store::infra::audit::AuditEntry {
        at: state.store.now(),
        actor_id: p.username.clone(),
        actor_role: anju_store::infra::codec::role_code(p.role),
        source: caller.source.clone(),
        action: "evidence.upload".into(),
        object: stored.sha256.clone(),
        outcome: anju_store::infra::audit::Outcome::Ok,
        reason: None,
        detail: json!({ "media": stored.media.mime(), "bytes": stored.bytes }).to_string(),
    };
    state.store.record_audit(&entry).await?;
    Ok((
        StatusCode::CREATED,
        Json(Uploaded {
            sha256: stored.sha256,
            media: stored.media.mime(),
            bytes: stored.bytes,
        }),
    )
        .into_response())
}

/// The JSON API under `/api/v1`.
pub(crate) fn routes() -> crate::Routes {
    use axum::routing::{get, post};
    crate::Routes::default()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/houses", get(houses))
        .route("/api/v1/houses/{code}", get(house))
        .route("/api/v1/houses/{code}/events", post(record))
        .route("/api/v1/ledgers/{form}", get(ledger))
        .route(
            "/api/v1/evidence",
            post(upload).layer(axum::extract::DefaultBodyLimit::max(
                anju_evidence::Policy::default().max_bytes + 1024,
            )),
        )
}

use schema::SecuritySchemes;

/// The OpenAPI document of `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "安居 Anju API",
        version = "1",
        description = "农村自建房安全专项整治系统的 JSON 接口。\n\n\
            认证：登录（`POST /login`）后的会话 Cookie `anju_session`；每个 POST 另带本会话的 CSRF 令牌，放在 `X-CSRF-Token` 请求头中。\
            辖区外的房屋与不存在的房屋答复完全相同（404）。\n\n\
            错误：`{\"error\": {\"code\": …, \"message\": …}}`，`code` 为规则代码（如 `R1`、`V1`）或 `unauthenticated`、`not_found`、`denied`、`invalid`、`internal`；\
            少数在到达接口之前的拒绝（CSRF、请求体过大、会话读取时数据库不可用）为纯文本。",
    ),
    paths(openapi, houses, house, record, ledger, upload),
    components(responses(
        schema::MustChangePassword,
        schema::Unauthenticated,
        schema::Internal,
        schema::Unavailable,
        schema::DiskFull,
    )),
    modifiers(&SecuritySchemes),
    security(("session" = [])),
    tags(
        (name = "houses", description = "房屋和办理步骤"),
        (name = "ledgers", description = "台账（附件1、附件2）"),
        (name = "evidence", description = "证据材料"),
        (name = "meta", description = "本文档"),
    )
)]
struct ApiDoc;

/// The schemas of the document that are not the handlers' own types: the domain's serde shapes
/// written out (the domain crate knows nothing of OpenAPI), the query parameters, and the
/// shared error answers. Nothing here is constructed; tests/it/api.rs checks the enums against
/// the domain's and the steps against serialised ones.
#[allow(dead_code)]
pub mod schema {
    use chrono::{DateTime, NaiveDate, Utc};
    use serde::Serialize;
    use std::collections::BTreeMap;
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Ref, SchemaFormat, Type};
    use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
    use utoipa::openapi::{ContentBuilder, HeaderBuilder, RefOr, Response, ResponseBuilder};
    use utoipa::{IntoParams, IntoResponses, PartialSchema, ToSchema};

    /// 错误答复。
    #[derive(Serialize, ToSchema)]
    pub struct ErrorBody {
        pub error: ErrorDetail,
    }

    #[derive(Serialize, ToSchema)]
    pub struct ErrorDetail {
        /// 规则代码（R1–R5、C1–C3、L1、L2、D1、P1、F1、E1、V1、B1），或 `unauthenticated`（未登录）、
        /// `not_found`、`denied`（角色无权）、`invalid`（输入无效）、`too_large`、`internal`（服务器错误，含数据库不可用）
        #[schema(example = "R1")]
        pub code: String,
        /// 给人看的中文说明（规则拒绝时不含“[R1] ”前缀）
        pub message: String,
    }

    fn json_error() -> ContentBuilder {
        ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody")))
    }

    fn plain_text() -> ContentBuilder {
        ContentBuilder::new().schema(Some(String::schema()))
    }

    fn retry_after() -> utoipa::openapi::Header {
        HeaderBuilder::new()
            .schema(u32::schema())
            .description(Some("建议多少秒后重试（30）"))
            .build()
    }

    /// A shared answer: a name and how to build it.
    macro_rules! shared_response {
        ($name:ident, $build:expr) => {
            pub struct $name;
            impl<'r> utoipa::ToResponse<'r> for $name {
                fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                    (stringify!($name), RefOr::T($build))
                }
            }
        };
    }

    shared_response!(
        MustChangePassword,
        ResponseBuilder::new()
            .description(
                "本账号须先修改密码（首次登录、密码被重置或已过期）：重定向到 `/password`，无响应体"
            )
            .header(
                "Location",
                HeaderBuilder::new()
                    .schema(String::schema())
                    .description(Some("`/password`"))
                    .build(),
            )
            .build()
    );
    shared_response!(
        Unauthenticated,
        ResponseBuilder::new()
            .description("未登录或会话已过期（`unauthenticated`）")
            .content("application/json", json_error().build())
            .build()
    );
    shared_response!(
        Internal,
        ResponseBuilder::new()
            .description("服务器内部错误（`internal`）；原因只记在日志里")
            .content("application/json", json_error().build())
            .content("text/plain", plain_text().build())
            .build()
    );
    shared_response!(
        Unavailable,
        ResponseBuilder::new()
            .description("数据库暂时无法连接：什么都没有保存，稍后重试即可（接口内为 JSON，读取会话时为纯文本）")
            .content("application/json", json_error().build())
            .content("text/plain", plain_text().build())
            .header("Retry-After", retry_after())
            .build()
    );
    shared_response!(
        DiskFull,
        ResponseBuilder::new()
            .description(
                "服务器磁盘已满：什么都没有保存，请通知管理员（接口内为 JSON，读取会话时为纯文本）"
            )
            .content("application/json", json_error().build())
            .content("text/plain", plain_text().build())
            .header("Retry-After", retry_after())
            .build()
    );

    /// A shared answer as an operation lists it: a reference to the component.
    fn shared<'r, R: utoipa::ToResponse<'r>>(status: u16) -> (String, RefOr<Response>) {
        (
            status.to_string(),
            RefOr::Ref(Ref::from_response_name(R::response().0)),
        )
    }

    /// What every operation may answer when the server, its database or its disk fails.
    pub struct ServerErrors;

    impl IntoResponses for ServerErrors {
        fn responses() -> BTreeMap<String, RefOr<Response>> {
            BTreeMap::from([
                shared::<Internal>(500),
                shared::<Unavailable>(503),
                shared::<DiskFull>(507),
            ])
        }
    }

    /// What a GET answers a caller without a usable session: the password to change first, or
    /// no login at all. (A POST without a session is refused by the CSRF check instead.)
    pub struct SessionRefusals;

    impl IntoResponses for SessionRefusals {
        fn responses() -> BTreeMap<String, RefOr<Response>> {
            BTreeMap::from([
                shared::<MustChangePassword>(303),
                shared::<Unauthenticated>(401),
            ])
        }
    }

    /// The session cookie and the CSRF header as security schemes.
    pub struct SecuritySchemes;

    impl utoipa::Modify for SecuritySchemes {
        fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
            let components = doc.components.get_or_insert_with(Default::default);
            components.add_security_scheme(
                "session",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    crate::session::SESSION_COOKIE,
                    "登录（`POST /login`）后设置的会话 Cookie（HttpOnly）。空闲或总时长超限即失效",
                ))),
            );
            components.add_security_scheme(
                "csrf",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "X-CSRF-Token",
                    "本会话的 CSRF 令牌（登录后页面表单中 `csrf` 隐藏字段的值），每个 POST 必带；缺少或不符答 403",
                ))),
            );
        }
    }

    /// The content of one evidence file: binary, not empty (an empty body is refused).
    pub struct EvidenceFile;

    impl PartialSchema for EvidenceFile {
        fn schema() -> RefOr<utoipa::openapi::Schema> {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
                .min_length(Some(1))
                .description(Some("证据材料文件的内容"))
                .into()
        }
    }

    impl ToSchema for EvidenceFile {}

    /// 房屋编码。
    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct HouseCodeParam {
        /// 房屋编码：AJ 加 14 位数字和 1 位校验码（大小写均可）。格式不符的与不存在的一样答 404
        #[param(example = "AJ370829000001231", pattern = "^[Aa][Jj][0-9]{14}[0-9Xx]$")]
        pub code: String,
    }

    /// The query of `GET /api/v1/houses` (`houses::FilterForm`); every field optional.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Query)]
    pub struct HouseListParams {
        /// 搜索：房屋编码、地址片段或产权人姓名开头，至多 100 字
        #[param(max_length = 100)]
        pub q: Option<String>,
        /// 镇街区划代码（9 位或 12 位）
        #[param(example = "370829101")]
        pub town: Option<String>,
        /// 村（社区）区划代码（12 位）
        #[param(example = "370829101001")]
        pub village: Option<String>,
        /// 是否经营性自建房
        pub business: Option<bool>,
        /// 行业部门
        pub department: Option<String>,
        #[param(inline)]
        pub status: Option<HouseStatus>,
        /// 初判：代码或中文名称（如 `hazard` 或 `存在一定安全隐患`）
        #[param(inline)]
        pub judgement: Option<Judgement>,
        /// 鉴定等级：代码或中文名称（如 `c` 或 `C级`）
        #[param(inline)]
        pub grade: Option<Grade>,
        #[param(inline)]
        pub overdue: Option<Overdue>,
        #[param(inline)]
        pub sort: Option<Sort>,
        /// 页码，从 1 起
        #[param(minimum = 1, maximum = 1_000_000)]
        pub page: Option<i64>,
    }

    /// 房屋办理状态。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum HouseStatus {
        AwaitingSurvey,
        NoHazard,
        AwaitingAssessment,
        AwaitingRectification,
        Rectifying,
        AwaitingClosure,
        Closed,
        AwaitingLookBack,
    }

    /// 逾期筛选：C/D级未告知产权人、C/D级未采取工程措施、历史销号待回头看。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Overdue {
        NeedsNotice,
        NeedsEngineering,
        LookBack,
    }

    /// 排序：按编码（缺省）、最近办理、地址。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Sort {
        Code,
        Updated,
        Address,
    }

    /// 一条办理记录（事件）。
    #[derive(Serialize, ToSchema)]
    pub struct Event {
        pub house: String,
        /// 办理后的房屋版本号（登记为 1）
        pub seq: u32,
        /// 现场日期
        pub effective: NaiveDate,
        /// 录入时间
        pub recorded_at: DateTime<Utc>,
        pub actor: Actor,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub evidence: Vec<EvidenceRef>,
        pub change: EventChange,
    }

    /// 办理人：账号、姓名和当时的角色。
    #[derive(Serialize, ToSchema)]
    pub struct Actor {
        pub id: String,
        pub name: String,
        pub role: Role,
    }

    /// 角色。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Role {
        CountyOffice,
        TownOperator,
        TownPrincipal,
        Department,
        TechReviewer,
        Appraiser,
        Inspector,
        Auditor,
        System,
    }

    /// 引用一个已上传的证据材料。
    #[derive(Serialize, ToSchema)]
    pub struct EvidenceRef {
        /// `POST /api/v1/evidence` 返回的 SHA-256（小写十六进制）
        pub sha256: String,
        pub kind: EvidenceKind,
        /// 文件名，给人看
        pub name: String,
    }

    /// 证据材料类别：照片、整治前照片、整治后照片、报告、签字表、其他材料、台账记载（导入时使用）。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum EvidenceKind {
        Photo,
        PhotoBefore,
        PhotoAfter,
        Report,
        SignedForm,
        Other,
        LedgerRecord,
    }

    /// The two step enums from one list of the steps one may record: `StepChange` is that
    /// list, `EventChange` (what a house's record shows) adds registering and correcting.
    macro_rules! step_changes {
        ($($step:ident($content:ident)),+ $(,)?) => {
            /// 步骤内容：`type` 决定是哪一步，其余字段随之而定。
            #[derive(Serialize, ToSchema)]
            #[serde(tag = "type", rename_all = "snake_case")]
            pub enum StepChange {
                $($step($content)),+
            }

            /// 办理记录中的步骤内容：可办理的各步，以及登记和更正房屋信息。
            #[derive(Serialize, ToSchema)]
            #[serde(tag = "type", rename_all = "snake_case")]
            pub enum EventChange {
                Registered(RegisteredChange),
                $($step($content),)+
                Corrected(CorrectedChange),
            }
        };
    }

    step_changes!(
        Surveyed(SurveyedStep),
        Reviewed(ReviewedStep),
        Appraised(AppraisedStep),
        OwnerNotified(OwnerNotifiedStep),
        InterimControlApplied(InterimControlAppliedStep),
        EngineeringStarted(EngineeringStartedStep),
        EngineeringAccepted(EngineeringAcceptedStep),
        Closed(ClosedStep),
        LegacyClosureRecorded(LegacyClosureRecordedStep),
        LookBackReviewed(LookBackReviewedStep),
        Reopened(ReopenedStep),
        Reclassified(ReclassifiedStep),
    );

    /// 排查（`surveyed`），含初判。
    #[derive(Serialize, ToSchema)]
    pub struct SurveyedStep {
        /// 排查批次（字典 `survey_round`）
        pub round: String,
        /// 排查人
        pub surveyor: String,
        pub judgement: Judgement,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub risk_level: Option<RiskLevel>,
        /// 隐患类别（字典）
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub hazard_categories: Vec<String>,
        /// 隐患部位（字典）
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub hazard_parts: Vec<String>,
        /// 地质灾害隐患（字典）
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub geohazards: Vec<String>,
        /// 消防隐患（字典）
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub fire_hazards: Vec<String>,
        /// 是否违规加层、增加荷载
        #[serde(default)]
        pub added_load: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub remarks: Option<String>,
        /// 排查定位（可选）
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub location: Option<GeoFix>,
    }

    /// 排查定位：WGS-84 经纬度（度），通常来自手机定位。经度 73–136、纬度 3–54（中国境内），
    /// 超出时按规则 F1 拒绝。
    #[derive(Serialize, ToSchema)]
    pub struct GeoFix {
        /// 经度（度）
        #[schema(example = 116.397128)]
        pub longitude: f64,
        /// 纬度（度）
        #[schema(example = 35.405421)]
        pub latitude: f64,
        /// 定位精度（米，0–10000），手机定位时给出；手工填写时省略
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub accuracy_m: Option<f64>,
    }

    /// 专业技术人员现场复核（`reviewed`）。
    #[derive(Serialize, ToSchema)]
    pub struct ReviewedStep {
        /// 复核人员姓名
        pub reviewer_names: String,
        pub finding: ReviewFinding,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub opinion: Option<String>,
    }

    /// 安全鉴定（`appraised`）。
    #[derive(Serialize, ToSchema)]
    pub struct AppraisedStep {
        /// 鉴定机构名称
        pub agency_name: String,
        /// 鉴定机构统一社会信用代码
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agency_credit_code: Option<String>,
        /// 鉴定人员姓名
        pub reviewer_names: String,
        /// 鉴定标准
        pub standard: String,
        /// 鉴定报告编号
        pub report_no: String,
        pub grade: Grade,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub advice: Option<HandlingAdvice>,
        /// 整治后复核鉴定（作为销号依据，不改变第⑤栏）
        #[serde(default)]
        pub post_rectification: bool,
    }

    /// 告知所有权人/使用人（`owner_notified`）。
    #[derive(Serialize, ToSchema)]
    pub struct OwnerNotifiedStep {
        /// 告知方式
        pub method: String,
        /// 接收人
        pub recipient: String,
    }

    /// 采取管理措施（`interim_control_applied`）；管理措施不能作为销号依据（R1）。
    #[derive(Serialize, ToSchema)]
    pub struct InterimControlAppliedStep {
        pub measures: Vec<MgmtMeasure>,
    }

    /// 工程措施开工（`engineering_started`）。
    #[derive(Serialize, ToSchema)]
    pub struct EngineeringStartedStep {
        pub measure: EngMeasure,
        /// 施工单位
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub contractor: Option<String>,
        /// 计划完成日期
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub deadline: Option<NaiveDate>,
    }

    /// 工程措施竣工并经专业技术人员验收（`engineering_accepted`），须有整治前后照片（E1）。
    #[derive(Serialize, ToSchema)]
    pub struct EngineeringAcceptedStep {
        pub measure: EngMeasure,
        /// 验收人员姓名
        pub reviewer_names: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub opinion: Option<String>,
    }

    /// 销号（`closed`），依据由规则核对（R1、C1–C3）。
    #[derive(Serialize, ToSchema)]
    pub struct ClosedStep {
        pub basis: ClosureBasis,
        /// 在全国平台销号的日期
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub platform_closed_on: Option<NaiveDate>,
    }

    /// 登记系统上线前以管理措施销号的历史记录（`legacy_closure_recorded`）：列入回头看，不计为已销号（R2）。
    #[derive(Serialize, ToSchema)]
    pub struct LegacyClosureRecordedStep {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub measures: Vec<MgmtMeasure>,
        /// 原销号日期
        pub closed_on: NaiveDate,
    }

    /// 回头看现场复核（`look_back_reviewed`）。
    #[derive(Serialize, ToSchema)]
    pub struct LookBackReviewedStep {
        /// 复核人员姓名
        pub reviewer_names: String,
        /// 隐患是否仍在
        pub hazard_remains: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub opinion: Option<String>,
    }

    /// 重新纳入整治（`reopened`）：只有 `type`，须填 `reason`（R4）。
    #[derive(Serialize, ToSchema)]
    pub struct ReopenedStep {}

    /// 更正初判、风险分级或鉴定等级（`reclassified`），须填 `reason`（R4）。
    #[derive(Serialize, ToSchema)]
    pub struct ReclassifiedStep {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub judgement: Option<Judgement>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub risk_level: Option<RiskLevel>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub grade: Option<Grade>,
    }

    /// 登记（`registered`，只出现在办理记录中：登记经导入或表单办理）。
    #[derive(Serialize, ToSchema)]
    pub struct RegisteredChange {
        pub source: RegistrationSource,
        /// 房屋标牌二维码背后的令牌（32 位小写十六进制）
        pub plaque_token: String,
        /// 房屋信息
        #[schema(value_type = Object)]
        pub record: serde_json::Value,
        /// 人员信息（去除了身份证号和电话号码）
        #[schema(value_type = Object)]
        pub people: serde_json::Value,
    }

    /// 更正房屋信息（`corrected`，只出现在办理记录中：更正经表单或导入办理）。
    #[derive(Serialize, ToSchema)]
    pub struct CorrectedChange {
        /// 房屋信息
        #[schema(value_type = Object)]
        pub record: serde_json::Value,
        /// 人员信息（去除了身份证号和电话号码）
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        pub people: Option<serde_json::Value>,
    }

    /// 隐患初判：未发现安全隐患、存在一定安全隐患、存在严重安全隐患。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Judgement {
        NoHazard,
        Hazard,
        Severe,
    }

    /// 风险分级：有结构倒塌风险、暂无结构倒塌风险、一般安全隐患。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum RiskLevel {
        CollapseRisk,
        NoCollapseRisk,
        General,
    }

    /// 鉴定等级（JGJ 125-2016）。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Grade {
        A,
        B,
        C,
        D,
    }

    /// 处理建议：观察使用、处理使用、停止使用、整体拆除。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum HandlingAdvice {
        Observe,
        TreatAndUse,
        StopUse,
        Demolish,
    }

    /// 管理措施：停止使用、停止经营、封控警示、人员撤离、增加围挡、临时支顶、刷墙勾缝、其他。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum MgmtMeasure {
        StopUse,
        StopBusiness,
        Cordon,
        Evacuate,
        Hoarding,
        TemporaryProps,
        WallPatching,
        Other,
    }

    /// 工程措施：维修加固、拆除、拆除重建。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum EngMeasure {
        Reinforce,
        Demolish,
        Rebuild,
    }

    /// 复核结论：经复核无安全隐患、经复核存在安全隐患。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum ReviewFinding {
        NoHazard,
        Hazard,
    }

    /// 销号依据：专业技术人员复核无隐患、鉴定为A/B级、工程措施整治完成并验收；`management_measure` 只为被拒绝（R1）。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum ClosureBasis {
        ReviewNoHazard,
        AppraisalAB,
        Engineering,
        ManagementMeasure,
    }

    /// 登记来源：普查导入、动态摸排新增、核查发现漏排、台账导入。
    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum RegistrationSource {
        Census,
        DynamicSurvey,
        MissedFound,
        LedgerImport,
    }

    /// 台账（附件1 或 附件2）。
    #[derive(Serialize, ToSchema)]
    pub struct Ledger {
        /// 1：附件1；2：附件2
        #[schema(minimum = 1, maximum = 2)]
        pub form: u8,
        pub title: String,
        /// 台账单位（县或镇街名称）
        pub unit: String,
        pub as_of: LedgerAsOf,
        pub header: LedgerHeader,
        /// 列标题：首列为区划，其后为台账各栏
        pub columns: Vec<String>,
        /// 各行，最后一行为合计
        pub rows: Vec<LedgerRow>,
        /// 未通过的校验
        pub checks: Vec<LedgerCheck>,
    }

    /// 截至：当前（`now`）、按现场日期（`happened`）或按录入时间（`recorded`）。
    #[derive(Serialize, ToSchema)]
    #[serde(tag = "kind", content = "at", rename_all = "snake_case")]
    pub enum LedgerAsOf {
        Now,
        Happened(NaiveDate),
        Recorded(DateTime<Utc>),
    }

    /// 表头：填报人、联系电话、填报日期。
    #[derive(Serialize, ToSchema)]
    pub struct LedgerHeader {
        pub preparer: String,
        pub contact: String,
        pub filled_on: String,
    }

    /// 一行：区划代码、名称和各栏数值（数量为整数，比率为两位小数的百分数，分母为 0 时为 null）。
    #[derive(Serialize, ToSchema)]
    pub struct LedgerRow {
        pub code: String,
        pub name: String,
        #[schema(value_type = Vec<Value>)]
        pub values: Vec<serde_json::Value>,
    }

    /// 未通过的一项校验。
    #[derive(Serialize, ToSchema)]
    pub struct LedgerCheck {
        pub row: String,
        pub check: String,
    }
}

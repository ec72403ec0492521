//! Lifecycle steps through the web forms, on SQLite and PostgreSQL: offered steps, a recorded
//! survey, a refused closure that names the rule and changes nothing, a stale form.

use anju_domain::auth::Principal;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::testing::*;
use anju_store::{NewAccount, Store};
use anju_web::{AppState, WebOptions};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn send(store: &Store, req: Request<Body>) -> (StatusCode, String) {
    let app = anju_web::router(AppState::new(store.clone(), WebOptions::default()).unwrap());
    let res = app.oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn session(store: &Store, username: &str, role: Role) -> (String, String) {
    let system = Principal::system();
    let new = NewAccount {
        username: username.into(),
        display_name: format!("{username}姓名"),
        role,
        region: Some(RegionCode::parse("370829101").unwrap()),
        department: None,
    };
    store
        .create_demo_account(&system, &new, "Anju-2024q")
        .await
        .unwrap();
    let ok = store
        .login(username, "Anju-2024q", None, "test", chrono::Utc::now())
        .await
        .unwrap();
    (format!("anju_session={}", ok.token), ok.session.csrf)
}

fn get(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

fn post(path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Request<Body> {
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(serde_urlencoded::to_string(pairs).unwrap()))
        .unwrap()
}

async fn a_clerk_records_a_survey_and_a_management_closure_is_refused(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let code = h.code.to_string();
    let (clerk, csrf) = session(store, "web-clerk", Role::TownOperator).await;
    let (_, html) = send(store, get(&format!("/houses/{code}"), &clerk)).await;
    assert!(
        html.contains(&format!("/houses/{code}/steps/surveyed")),
        "survey offered"
    );
    assert!(
        !html.contains("/steps/closed"),
        "closing is not offered to a clerk"
    );
    let (status, html) = send(
        store,
        get(&format!("/houses/{code}/steps/surveyed"), &clerk),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("隐患初判") && html.contains("name=\"version\" value=\"1\""),
        "{html}"
    );
    // A missing field is named, nothing recorded.
    let path = format!("/houses/{code}/steps/surveyed");
    let (status, html) = send(
        store,
        post(
            &path,
            &clerk,
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("effective", "2024-04-01"),
                ("round", "攻坚行动首轮"),
                ("judgement", "Hazard"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("请填写“排查人员”"), "{html}");
    let round = store
        .reference()
        .dictionaries
        .values(anju_domain::dict::kind::SURVEY_ROUND)[0]
        .clone();
    let (status, _) = send(
        store,
        post(
            &path,
            &clerk,
            &[
                ("csrf", &csrf),
                ("version", "1"),
                ("effective", "2024-04-01"),
                ("round", &round),
                ("surveyor", "王排查"),
                ("judgement", "Hazard"),
                ("risk_level", "General"),
                ("hazard_categories", "地基基础"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = send(store, get(&format!("/houses/{code}"), &clerk)).await;
    assert!(
        html.contains("存在一定安全隐患") && html.contains("排查初判"),
        "{html}"
    );

    // Appraised C; the principal tries to close on management measures: R1, nothing changes.
    let mut h = h;
    h.version = 2;
    h.day = chrono::NaiveDate::from_ymd_opt(2024, 4, 2).unwrap();
    h.ok(&appraiser(), appraise(Grade::C)).await;
    let (principal, pcsrf) = session(store, "web-principal", Role::TownPrincipal).await;
    let before = snapshot(store).await;
    let (status, html) = send(
        store,
        post(
            &format!("/houses/{code}/steps/closed"),
            &principal,
            &[
                ("csrf", &pcsrf),
                ("version", "3"),
                ("effective", "2024-04-03"),
                ("basis", "ManagementMeasure"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("[R1]") && html.contains("管理措施"), "{html}");
    assert_eq!(
        snapshot(store).await,
        before,
        "a refused closure changed data"
    );

    // Stale: the clerk's form was opened at version 3; someone notifies the owner first.
    h.ok(&anju_store::testing::clerk(), notify()).await;
    let (status, html) = send(
        store,
        post(
            &format!("/houses/{code}/steps/interim_control_applied"),
            &clerk,
            &[
                ("csrf", &csrf),
                ("version", "3"),
                ("effective", "2024-04-05"),
                ("measures", "StopUse"),
            ],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{html}");
    assert!(
        html.contains("clerk姓名") && html.contains("请重新载入"),
        "{html}"
    );
    assert!(
        html.contains("name=\"version\" value=\"4\""),
        "the form now carries the current version"
    );
    let _ = Judgement::Hazard;
}

anju_store::both!(a_clerk_records_a_survey_and_a_management_closure_is_refused);

/// A JPEG as a phone sends it: EXIF, a stand-in for GPS data, bytes after the image.
fn phone_photo(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 ^ seed, y as u8, seed]));
    let mut plain = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut plain),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let secret = b"Exif\0\0GPS 36.65N 117.12E";
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((secret.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(secret);
    out.extend_from_slice(&plain[2..]);
    out.extend_from_slice(b"HIDDEN-TAIL");
    out
}

enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, Vec<u8>),
}

const BOUNDARY: &str = "----anju-test-boundary-7d3f";

fn multipart(path: &str, cookie: &str, parts: Vec<Part<'_>>) -> Request<Body> {
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match p {
            Part::Text(k, v) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(k, name, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{k}\"; filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(&bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .unwrap()
}

async fn send_bytes(app: &axum::Router, req: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, ct, body)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The `/houses/{code}/evidence/{sha}` links a page shows.
fn evidence_links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|l| l.contains("/evidence/"))
        .map(str::to_string)
        .collect()
}

async fn evidence_is_uploaded_checked_kept_and_served_only_in_scope(store: &Store) {
    with_villages(store).await;
    let dir = tempfile::tempdir().unwrap();
    let app = anju_web::router(
        AppState::new(
            store.clone(),
            WebOptions {
                evidence_dir: Some(dir.path().to_path_buf()),
                ..WebOptions::default()
            },
        )
        .unwrap(),
    );
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let other = House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    let code = h.code.to_string();
    let (clerk, csrf) = session(store, "ev-clerk", Role::TownOperator).await;
    let round = store
        .reference()
        .dictionaries
        .values(anju_domain::dict::kind::SURVEY_ROUND)[0]
        .clone();
    let survey = |photo: Vec<u8>, name: &'static str| {
        vec![
            Part::Text("version", "1"),
            Part::Text("effective", "2024-04-01"),
            Part::Text("round", &round),
            Part::Text("surveyor", "王排查"),
            Part::Text("judgement", "Hazard"),
            Part::Text("risk_level", "General"),
            Part::Text("hazard_categories", "地基基础"),
            Part::File("ev_photo", name, photo),
        ]
    };
    let path = format!("/houses/{code}/steps/surveyed");

    // Without the token an upload is refused like any other POST.
    let before = snapshot(store).await;
    let (status, _, _) = send_bytes(
        &app,
        multipart(&path, &clerk, survey(phone_photo(1), "a.jpg")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A HEIC photo is refused by its content, with what to do about it; nothing recorded.
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    let with_token = format!("{path}?csrf={csrf}");
    let (status, _, body) = send_bytes(
        &app,
        multipart(&with_token, &clerk, survey(heic, "IMG_0001.jpg")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains("IMG_0001.jpg") && html.contains("HEIC") && html.contains("兼容性最佳"),
        "{html}"
    );
    assert_eq!(
        snapshot(store).await,
        before,
        "a refused upload changed data"
    );

    // The survey with a phone photo: recorded, the photo in the timeline.
    let (status, _, body) = send_bytes(
        &app,
        multipart(&with_token, &clerk, survey(phone_photo(1), "现场.jpg")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (_, _, page) = send_bytes(&app, get(&format!("/houses/{code}"), &clerk)).await;
    let page = String::from_utf8(page).unwrap();
    let links = evidence_links(&page);
    assert_eq!(links.len(), 1, "{page}");
    assert!(
        page.contains("现场.jpg") && page.contains("/thumb\""),
        "{page}"
    );
    let (status, ct, photo) = send_bytes(&app, get(&links[0], &clerk)).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "image/jpeg"));
    assert!(
        !contains(&photo, b"GPS") && !contains(&photo, b"HIDDEN-TAIL"),
        "metadata survived"
    );
    let (status, ct, _) = send_bytes(&app, get(&format!("{}/thumb", links[0]), &clerk)).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "image/jpeg"));
    let sha = links[0].rsplit('/').next().unwrap().to_string();
    // The stored event names exactly the stored file.
    let events = store
        .house_events(&anju_domain::region::Scope::All, &h.code)
        .await
        .unwrap();
    assert_eq!(events[1].evidence[0].sha256, sha);
    assert_eq!(
        anju_evidence::sha256_hex(
            &std::fs::read(dir.path().join(&sha[..2]).join(format!("{sha}.jpg"))).unwrap()
        ),
        sha
    );

    // Not under another house that does not reference it, not for another town's clerk.
    let (status, _, _) = send_bytes(
        &app,
        get(&format!("/houses/{}/evidence/{sha}", other.code), &clerk),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let system = Principal::system();
    store
        .create_demo_account(
            &system,
            &NewAccount {
                username: "ev-far".into(),
                display_name: "外镇".into(),
                role: Role::TownOperator,
                region: Some(RegionCode::parse("370829102").unwrap()),
                department: None,
            },
            "Anju-2024q",
        )
        .await
        .unwrap();
    let far = store
        .login("ev-far", "Anju-2024q", None, "test", chrono::Utc::now())
        .await
        .unwrap();
    let far = format!("anju_session={}", far.token);
    for url in [links[0].clone(), format!("{}/thumb", links[0])] {
        let (status, _, body) = send_bytes(&app, get(&url, &far)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        assert!(!contains(&body, b"\xFF\xD8"), "image bytes leaked");
    }

    // Engineering acceptance by the assigned reviewer: the after photo alone is refused (E1)
    // and kept; the form resubmitted with the before photo is recorded with both.
    let mut h = h;
    h.version = 2;
    h.day = chrono::NaiveDate::from_ymd_opt(2024, 4, 2).unwrap();
    h.ok(&appraiser(), appraise(Grade::C)).await;
    h.ok(&anju_store::testing::clerk(), notify()).await;
    h.ok(&anju_store::testing::clerk(), start()).await;
    let (reviewer, rcsrf) = session(store, "ev-reviewer", Role::TechReviewer).await;
    let county = Principal {
        account_id: 0,
        username: "county".into(),
        name: "县专班".into(),
        role: Role::CountyOffice,
        region: Some(RegionCode::parse("370829").unwrap()),
        department: None,
    };
    store
        .access(&county, "test")
        .assign(&h.code, "ev-reviewer")
        .await
        .unwrap();
    let accept_path = format!("/houses/{code}/steps/engineering_accepted?csrf={rcsrf}");
    let version = h.version.to_string();
    fn with<'a>(version: &'a str, extra: Vec<Part<'a>>) -> Vec<Part<'a>> {
        let mut p = vec![
            Part::Text("version", version),
            Part::Text("effective", "2024-06-01"),
            Part::Text("measure", "Reinforce"),
            Part::Text("reviewer_names", "李验收"),
        ];
        p.extend(extra);
        p
    }
    let before = snapshot(store).await;
    let (status, _, body) = send_bytes(
        &app,
        multipart(
            &accept_path,
            &reviewer,
            with(
                &version,
                vec![Part::File("ev_photo_after", "after.jpg", phone_photo(2))],
            ),
        ),
    )
    .await;
    let html = String::from_utf8(body).unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains("[E1]") && html.contains("整治前"), "{html}");
    assert_eq!(snapshot(store).await, before);
    let kept: Vec<String> = html
        .split("name=\"kept\" value=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().replace("&#124;", "|"))
        .collect();
    assert_eq!(kept.len(), 1, "{html}");
    assert!(kept[0].starts_with("photo_after|"), "{kept:?}");
    // The kept photo's preview is this session's only.
    let pending = html
        .split("src=\"/evidence/pending/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(|s| format!("/evidence/pending/{s}"))
        .expect("preview of the kept photo");
    assert_eq!(
        send_bytes(&app, get(&pending, &reviewer)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send_bytes(&app, get(&pending, &far)).await.0,
        StatusCode::NOT_FOUND
    );
    // A forged kept entry (another session's tag) is not taken: still E1.
    let forged = {
        let mut v: Vec<&str> = kept[0].splitn(4, '|').collect();
        v[0] = "photo_before";
        v.join("|")
    };
    let (status, _, _) = send_bytes(
        &app,
        multipart(
            &accept_path,
            &reviewer,
            with(
                &version,
                vec![Part::Text("kept", &kept[0]), Part::Text("kept", &forged)],
            ),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, body) = send_bytes(
        &app,
        multipart(
            &accept_path,
            &reviewer,
            with(
                &version,
                vec![
                    Part::Text("kept", &kept[0]),
                    Part::File("ev_photo_before", "before.jpg", phone_photo(3)),
                ],
            ),
        ),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let events = store
        .house_events(&anju_domain::region::Scope::All, &h.code)
        .await
        .unwrap();
    let last = events.last().unwrap();
    let kinds: Vec<_> = last.evidence.iter().map(|e| e.kind.code()).collect();
    assert_eq!(kinds, ["photo_after", "photo_before"]);
    let (_, _, page) = send_bytes(&app, get(&format!("/houses/{code}"), &reviewer)).await;
    assert_eq!(evidence_links(&String::from_utf8(page).unwrap()).len(), 3);
}

anju_store::both!(evidence_is_uploaded_checked_kept_and_served_only_in_scope);

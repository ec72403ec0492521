//! Lifecycle steps through the web forms, on SQLite and PostgreSQL: offered steps, a recorded
//! survey, a refused closure that names the rule and changes nothing, a stale form.

use crate::common::{TestApp, User};
use anju_domain::Coded;

use anju_domain::dict::{Grade, Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_store::Store;
use anju_store::testing::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};

const TOWN: &str = "370829101";

async fn a_clerk_records_a_survey_and_a_management_closure_is_refused(store: &Store) {
    with_villages(store).await;
    let app = TestApp::new(store);
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let code = h.code.to_string();
    let clerk = app.user("web-clerk", Role::TownOperator, TOWN).await;
    let html = app.get(&format!("/houses/{code}"), &clerk).await.text();
    assert!(
        html.contains(&format!("/houses/{code}/steps/surveyed")),
        "survey offered"
    );
    assert!(
        !html.contains("/steps/closed"),
        "closing is not offered to a clerk"
    );
    let html = app
        .page(&format!("/houses/{code}/steps/surveyed"), &clerk)
        .await;
    assert!(
        html.contains("隐患初判") && html.contains("name=\"version\" value=\"1\""),
        "{html}"
    );
    // The survey form as opened (version 1), effective 2024-04-01, with `fields`.
    let send_survey = async |fields: &[(&str, &str)]| {
        let mut pairs = vec![("version", "1"), ("effective", "2024-04-01")];
        pairs.extend_from_slice(fields);
        app.post_step(&code, "surveyed", &clerk, &pairs).await
    };
    // A missing field is named, nothing recorded.
    send_survey(&[("round", "攻坚行动首轮"), ("judgement", "hazard")])
        .await
        .refusal("请填写“排查人员”");
    let round = first_round(store);
    let res = send_survey(&[
        ("round", &round),
        ("surveyor", "王排查"),
        ("judgement", "hazard"),
        ("risk_level", "general"),
        ("hazard_categories", "地基基础"),
    ])
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let html = app.get(&format!("/houses/{code}"), &clerk).await.text();
    assert!(
        html.contains("存在一定安全隐患") && html.contains("排查初判"),
        "{html}"
    );

    // Appraised C; the principal tries to close on management measures: R1, nothing changes.
    let mut h = h;
    h.version = 2;
    h.day = chrono::NaiveDate::from_ymd_opt(2024, 4, 2).unwrap();
    h.ok(&appraiser(), appraise(Grade::C)).await;
    let principal = app.user("web-principal", Role::TownPrincipal, TOWN).await;
    let before = snapshot(store).await;
    let res = app
        .post_step(
            &code,
            "closed",
            &principal,
            &[
                ("version", "3"),
                ("effective", "2024-04-03"),
                ("basis", "management_measure"),
            ],
        )
        .await;
    let html = res.refusal("（规则 R1）");
    assert!(html.contains("管理措施"), "{html}");
    assert_eq!(
        snapshot(store).await,
        before,
        "a refused closure changed data"
    );

    // Stale: the clerk's form was opened at version 3; someone notifies the owner first.
    h.ok(&anju_store::testing::clerk(), notify()).await;
    let res = app
        .post_step(
            &code,
            "interim_control_applied",
            &clerk,
            &[
                ("version", "3"),
                ("effective", "2024-04-05"),
                ("measures", "stop_use"),
            ],
        )
        .await;
    let html = res.text();
    assert_eq!(res.status, StatusCode::CONFLICT, "{html}");
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

/// The house's latest event.
async fn last_event(store: &Store, code: &anju_domain::HouseCode) -> anju_domain::Event {
    let events = store
        .system("test")
        .within(&anju_domain::region::Scope::All)
        .house_events(code)
        .await
        .unwrap();
    events.last().unwrap().clone()
}

/// A house to survey, a clerk of its town and the survey form as served to them.
async fn a_survey_form(store: &Store) -> (TestApp, House<'_>, User, String) {
    with_villages(store).await;
    let app = TestApp::new(store);
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let clerk = app.user("web-clerk", Role::TownOperator, TOWN).await;
    let path = format!("/houses/{}/steps/surveyed", h.code);
    let html = app.get(&path, &clerk).await.text();
    (app, h, clerk, html)
}

/// 排查定位 through the survey form: 经度/纬度 typed or filled by 「获取当前位置」 with its accuracy
/// in a hidden field; recorded with the survey and shown on the house page. Out of bounds or
/// half given, refused by name with nothing recorded and what was typed kept.
async fn a_survey_records_where_it_was_made(store: &Store) {
    let (app, h, clerk, html) = a_survey_form(store).await;
    let code = h.code.to_string();
    for part in [
        r#"id="f-longitude" name="longitude""#,
        r#"id="f-latitude" name="latitude""#,
        r#"<input type="hidden" id="f-accuracy_m" name="accuracy_m" value="">"#,
        r#"data-locate="f-longitude f-latitude""#,
        "获取当前位置",
    ] {
        assert!(html.contains(part), "{part}: {html}");
    }
    let round = first_round(store);
    let post = |lon: &'static str, lat: &'static str, acc: &'static str| {
        let round = round.clone();
        let app = &app;
        let clerk = &clerk;
        let code = &code;
        async move {
            app.post_step(
                code,
                "surveyed",
                clerk,
                &[
                    ("version", "1"),
                    ("effective", "2024-04-01"),
                    ("round", &round),
                    ("surveyor", "王排查"),
                    ("judgement", "no_hazard"),
                    ("longitude", lon),
                    ("latitude", lat),
                    ("accuracy_m", acc),
                ],
            )
            .await
        }
    };
    let before = snapshot(store).await;
    for (lon, lat, acc, why) in [
        (
            "140.5",
            "35.405421",
            "18",
            "排查定位经度不能大于 136°，填写的是 140.5（规则 F1）",
        ),
        (
            "116.397128",
            "35.405421",
            "20000",
            "定位精度不能大于 10000 米，填写的是 20000（规则 F1）",
        ),
        ("116.397128", "", "", "经度和纬度须同时填写"),
        ("东经116", "35.405421", "", "“经度”须为数字"),
    ] {
        let res = post(lon, lat, acc).await;
        let html = res.text();
        assert_eq!(
            res.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{lon} {lat} {acc}"
        );
        assert!(html.contains(why), "{why}: {html}");
        assert!(
            html.contains(&format!(r#"name="longitude" value="{lon}""#)),
            "what was typed is kept: {html}"
        );
    }
    assert_eq!(
        snapshot(store).await,
        before,
        "a refused survey changed data"
    );

    let res = post("116.397128", "35.405421", "18").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let html = app.get(&format!("/houses/{code}"), &clerk).await.text();
    assert!(
        html.contains("排查定位</dt><dd>东经 116.397128°，北纬 35.405421°（精度约 18 米）</dd>"),
        "{html}"
    );
    // Stored with the survey event, in the projection, and the log still verifies.
    let house = store.system("test").house(&h.code).await.unwrap();
    let fix = house.state.survey_location.expect("kept in the state");
    assert_eq!(fix.accuracy_m, Some(18.0));
    let faults = store.system("test").verify_projection().await.unwrap();
    assert!(faults.is_empty());
    assert!(
        store
            .system("test")
            .verify_all()
            .await
            .unwrap()
            .faults
            .is_empty()
    );
}

anju_store::both!(a_survey_records_where_it_was_made);

/// The survey form as served carries every field of the domain's table, and posted back with
/// a value in each, records exactly what the table says each field is for.
async fn the_survey_form_is_its_table_and_posts_back_into_the_recorded_survey(store: &Store) {
    use anju_domain::steps::{Entry, Target};
    let (app, h, clerk, html) = a_survey_form(store).await;
    let code = h.code.to_string();
    // The first value offered after a field's name (a select's option or a checkbox).
    let first_offered = |name: &str| {
        let after = html.split(&format!("name=\"{name}\"")).nth(1).unwrap();
        let at = after.find("value=\"").unwrap() + 7;
        let rest = &after[at..];
        let rest = if rest.starts_with('"') {
            &rest[rest.find("value=\"").unwrap() + 7..]
        } else {
            rest
        };
        rest[..rest.find('"').unwrap()].to_string()
    };
    let mut pairs = vec![("version".to_string(), "1".to_string())];
    for f in anju_domain::steps::fields(anju_domain::ChangeKind::Surveyed) {
        assert!(
            html.contains(&format!("name=\"{}\"", f.name)),
            "{}: {html}",
            f.name
        );
        let v = match (f.entry, f.target) {
            (Entry::Files(_), _) => continue,
            (_, Target::Location(c)) => ["116.397128", "35.405421", "18"][c as usize].into(),
            (Entry::Date, _) => "2024-04-01".into(),
            (_, _) if f.name == "judgement" => "hazard".into(),
            (Entry::Text | Entry::LongText, _) => format!("样例{}", f.name),
            _ => first_offered(f.name),
        };
        pairs.push((f.name.to_string(), v));
    }
    let sent: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = app.post_step(&code, "surveyed", &clerk, &sent).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let last = last_event(store, &h.code).await;
    assert_eq!(last.effective.to_string(), "2024-04-01");
    let change = serde_json::to_value(&last.change).unwrap();
    assert_eq!(change["type"], "surveyed");
    for f in anju_domain::steps::fields(anju_domain::ChangeKind::Surveyed) {
        let Some((_, v)) = pairs.iter().find(|(k, _)| k == f.name) else {
            continue;
        };
        let got = match f.target {
            Target::Change => change[f.name].clone(),
            Target::Location(c) => change["location"][c.key()].clone(),
            _ => continue,
        };
        let want = match f.entry {
            Entry::DictMany(_) | Entry::CodedMany(_) => serde_json::json!([v]),
            Entry::Decimal | Entry::Hidden => serde_json::json!(v.parse::<f64>().unwrap()),
            _ => serde_json::json!(v),
        };
        assert_eq!(got, want, "{}", f.name);
    }
}

anju_store::both!(the_survey_form_is_its_table_and_posts_back_into_the_recorded_survey);

/// The first survey round of the reference dictionaries.
fn first_round(store: &Store) -> String {
    store
        .reference()
        .dictionaries
        .values(anju_domain::dict::kind::SURVEY_ROUND)[0]
        .clone()
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

/// An upload as the step form sends it: the CSRF token as the first field, never in the
/// address.
fn upload(path: &str, user: &User, parts: Vec<Part<'_>>) -> Request<Body> {
    let mut all = vec![Part::Text("csrf", &user.csrf)];
    all.extend(parts);
    multipart(path, user, all)
}

fn multipart(path: &str, user: &User, parts: Vec<Part<'_>>) -> Request<Body> {
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
    crate::common::multipart_post(path, &user.cookie, BOUNDARY, body)
}

/// The survey form at version 1 as a phone sends it: a hazard of general risk in 地基基础 found
/// by `surveyor` in `round`, with `photo` named `name`.
fn survey_parts<'a>(
    round: &'a str,
    surveyor: &'a str,
    name: &'a str,
    photo: Vec<u8>,
) -> Vec<Part<'a>> {
    vec![
        Part::Text("version", "1"),
        Part::Text("effective", "2024-04-01"),
        Part::Text("round", round),
        Part::Text("surveyor", surveyor),
        Part::Text("judgement", "hazard"),
        Part::Text("risk_level", "general"),
        Part::Text("hazard_categories", "地基基础"),
        Part::File("ev_photo", name, photo),
    ]
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
    let app = TestApp::with_evidence(store, dir.path());
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let other = House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    let code = h.code.to_string();
    let clerk = app.user("ev-clerk", Role::TownOperator, TOWN).await;
    let round = first_round(store);
    let survey = |photo: Vec<u8>, name: &'static str| survey_parts(&round, "王排查", name, photo);
    let path = format!("/houses/{code}/steps/surveyed");

    // Without the token an upload is refused like any other POST.
    let before = snapshot(store).await;
    let res = app
        .send(multipart(&path, &clerk, survey(phone_photo(1), "a.jpg")))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // A HEIC photo is refused by its content, with what to do about it; nothing recorded.
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    // The token in the address is not taken: only in the body.
    let res = app
        .send(multipart(
            &format!("{path}?csrf={}", clerk.csrf),
            &clerk,
            survey(phone_photo(1), "a.jpg"),
        ))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .send(upload(&path, &clerk, survey(heic, "IMG_0001.jpg")))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = String::from_utf8(res.body).unwrap();
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
    let res = app
        .send(upload(&path, &clerk, survey(phone_photo(1), "现场.jpg")))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let page = String::from_utf8(app.get(&format!("/houses/{code}"), &clerk).await.body).unwrap();
    let links = evidence_links(&page);
    assert_eq!(links.len(), 1, "{page}");
    assert!(
        page.contains("现场.jpg") && page.contains("/thumb\""),
        "{page}"
    );
    let res = app.get(&links[0], &clerk).await;
    assert_eq!(
        (res.status, res.header("content-type")),
        (StatusCode::OK, "image/jpeg")
    );
    assert!(
        !contains(&res.body, b"GPS") && !contains(&res.body, b"HIDDEN-TAIL"),
        "metadata survived"
    );
    let res = app.get(&format!("{}/thumb", links[0]), &clerk).await;
    assert_eq!(
        (res.status, res.header("content-type")),
        (StatusCode::OK, "image/jpeg")
    );
    let sha = links[0].rsplit('/').next().unwrap().to_string();
    // The stored event names exactly the stored file.
    let events = store
        .system("test")
        .within(&anju_domain::region::Scope::All)
        .house_events(&h.code)
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
    let res = app
        .get(&format!("/houses/{}/evidence/{sha}", other.code), &clerk)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let far = app.user("ev-far", Role::TownOperator, "370829102").await;
    for url in [links[0].clone(), format!("{}/thumb", links[0])] {
        let res = app.get(&url, &far).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{url}");
        assert!(!contains(&res.body, b"\xFF\xD8"), "image bytes leaked");
    }

    // Engineering acceptance by the assigned reviewer: the after photo alone is refused (E1)
    // and kept; the form resubmitted with the before photo is recorded with both.
    let mut h = h;
    h.version = 2;
    h.day = chrono::NaiveDate::from_ymd_opt(2024, 4, 2).unwrap();
    h.ok(&appraiser(), appraise(Grade::C)).await;
    h.ok(&anju_store::testing::clerk(), notify()).await;
    h.ok(&anju_store::testing::clerk(), start()).await;
    let reviewer = app.user("ev-reviewer", Role::TechReviewer, TOWN).await;
    crate::common::assign_reviewer(store, &h.code, "ev-reviewer").await;
    let accept_path = format!("/houses/{code}/steps/engineering_accepted");
    let version = h.version.to_string();
    fn with<'a>(version: &'a str, extra: Vec<Part<'a>>) -> Vec<Part<'a>> {
        let mut p = vec![
            Part::Text("version", version),
            Part::Text("effective", "2024-06-01"),
            Part::Text("measure", "reinforce"),
            Part::Text("reviewer_names", "李验收"),
        ];
        p.extend(extra);
        p
    }
    // The acceptance form with `extra` parts, sent by the reviewer.
    let accept = async |extra: Vec<Part<'_>>| {
        app.send(upload(&accept_path, &reviewer, with(&version, extra)))
            .await
    };
    let before = snapshot(store).await;
    let res = accept(vec![Part::File(
        "ev_photo_after",
        "after.jpg",
        phone_photo(2),
    )])
    .await;
    let html = String::from_utf8(res.body).unwrap();
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(
        html.contains("（规则 E1）") && html.contains("整治前"),
        "{html}"
    );
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
    assert_eq!(app.get(&pending, &reviewer).await.status, StatusCode::OK);
    assert_eq!(app.get(&pending, &far).await.status, StatusCode::NOT_FOUND);
    // A forged kept entry (another session's tag) is not taken: still E1.
    let forged = {
        let mut v: Vec<&str> = kept[0].splitn(4, '|').collect();
        v[0] = "photo_before";
        v.join("|")
    };
    let res = accept(vec![
        Part::Text("kept", &kept[0]),
        Part::Text("kept", &forged),
    ])
    .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = accept(vec![
        Part::Text("kept", &kept[0]),
        Part::File("ev_photo_before", "before.jpg", phone_photo(3)),
    ])
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    let last = last_event(store, &h.code).await;
    let kinds: Vec<_> = last.evidence.iter().map(|e| e.kind.code()).collect();
    assert_eq!(kinds, ["photo_after", "photo_before"]);
    let page = app.get(&format!("/houses/{code}"), &reviewer).await;
    assert_eq!(
        evidence_links(&String::from_utf8(page.body).unwrap()).len(),
        3
    );
}

anju_store::both!(evidence_is_uploaded_checked_kept_and_served_only_in_scope);

/// The `name=value` pair a response sets for cookie `name`, if it sets one.
fn set_pair(res: &crate::common::Answer, name: &str) -> Option<String> {
    res.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_string())
}

async fn a_form_sent_after_the_session_expired_comes_back_after_logging_in(store: &Store) {
    with_villages(store).await;
    let clock = anju_store::TestClock::at(test_start());
    let store = &store.clone().with_clock(std::sync::Arc::new(clock.clone()));
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_evidence(store, dir.path());
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let code = h.code.to_string();
    let clerk = app.user("exp-clerk", Role::TownOperator, TOWN).await;
    let path = format!("/houses/{code}/steps/surveyed");
    let round = first_round(store);
    // The clerk fills the survey in a cellar for two hours: the session expires meanwhile.
    clock.advance(chrono::Duration::hours(2));
    let before = snapshot(store).await;
    let res = app
        .send(upload(
            &path,
            &clerk,
            survey_parts(&round, "王地窖", "地窖裂缝.jpg", phone_photo(7)),
        ))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.text());
    assert_eq!(res.location(), "/login");
    let draft = set_pair(&res, "anju_draft").expect("the form is kept");
    let back = set_pair(&res, "anju_return").expect("and where it was");
    assert!(back.ends_with("/steps/surveyed"), "{back}");
    // Nothing was recorded, and what is kept on disk is sealed (no posted text in it).
    assert_eq!(snapshot(store).await, before);
    let kept_dir = dir.path().join("drafts");
    let bodies: Vec<_> = std::fs::read_dir(&kept_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "body"))
        .collect();
    assert_eq!(bodies.len(), 1);
    let on_disk = std::fs::read(bodies[0].path()).unwrap();
    assert!(
        !on_disk
            .windows("王地窖".len())
            .any(|w| w == "王地窖".as_bytes()),
        "the kept form is sealed"
    );
    // The login page says the form is kept; logging in goes back to the form.
    let res = app.send(crate::common::get("/login", &draft)).await;
    let html = res.text();
    assert!(
        html.contains("您刚才填写的内容（含已选的照片）已保存"),
        "{html}"
    );
    let login_csrf = set_pair(&res, "anju_login_csrf").unwrap();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = html[at..].split('"').next().unwrap();
    let form = serde_urlencoded::to_string([
        ("csrf", token),
        ("username", "exp-clerk"),
        ("password", crate::common::TEST_PASSWORD),
    ])
    .unwrap();
    let res = app
        .send(
            Request::post("/login")
                .header(header::COOKIE, format!("{login_csrf}; {draft}; {back}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), path);
    let session = set_pair(&res, "anju_session").unwrap();
    // The form comes back filled in, the photo already uploaded, saying so; still nothing saved.
    let res = app
        .send(crate::common::get(&path, &format!("{session}; {draft}")))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let html = res.text();
    assert!(html.contains("已恢复，尚未保存"), "{html}");
    assert!(
        html.contains("王地窖") && html.contains("地窖裂缝.jpg"),
        "{html}"
    );
    assert_eq!(set_pair(&res, "anju_draft").as_deref(), Some("anju_draft="));
    assert_eq!(snapshot(store).await, before);
    // Taken once: the next visit shows the empty form.
    let res = app
        .send(crate::common::get(&path, &format!("{session}; {draft}")))
        .await;
    assert!(!res.text().contains("王地窖"));
    // A registration is kept and given back the same way.
    clock.advance(chrono::Duration::hours(2));
    let stale = session.clone();
    let res = app
        .send(crate::common::post(
            "/houses/new",
            &stale,
            &[("csrf", "expired"), ("address", "纸坊镇测试村地窖巷 3 号")],
        ))
        .await;
    assert_eq!(res.location(), "/login");
    let draft = set_pair(&res, "anju_draft").expect("the registration is kept");
    let (fresh, _) = crate::common::login(store, "exp-clerk", crate::common::TEST_PASSWORD).await;
    let res = app
        .send(crate::common::get(
            "/houses/new",
            &format!("{fresh}; {draft}"),
        ))
        .await;
    let html = res.text();
    assert!(
        html.contains("地窖巷 3 号") && html.contains("已恢复，尚未保存"),
        "{html}"
    );
    // A form of another kind is not kept: it is refused as before.
    let res = app
        .send(upload(
            "/reports/1/act",
            &clerk,
            vec![Part::Text("action", "sign")],
        ))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

anju_store::both!(a_form_sent_after_the_session_expired_comes_back_after_logging_in);

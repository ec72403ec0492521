//! Accounts, sessions, authorisation and personal data, each case on SQLite and PostgreSQL.

use anju_domain::Coded;
use anju_domain::auth::{Action, Principal, SessionPolicy, allows};
use anju_domain::codes::RegionCode;
use anju_domain::dict::{Judgement, UsageCategory};
use anju_domain::event::Role;
use anju_domain::ledger::{AsOf, Form};
use anju_domain::problem::{ProblemAction, ProblemCategory, ProblemSource};
use anju_domain::report::ReportAction;
use anju_domain::{HouseCode, sample};
use anju_store::Access;
use anju_store::accounts::Security;
use anju_store::campaign::problems::{NewBatch, NewProblem};
use anju_store::infra::vault::Vault;
use anju_store::ledgers::reports::NewReport;
use anju_store::testing::*;
use anju_store::{AuthError, NewAccount, Store, StoreError, on_db};
use chrono::{Duration, NaiveDate};

const TOWN: &str = "370829101";
const OTHER_TOWN: &str = "370829102";
const COUNTY: &str = "370829";

fn code(s: &str) -> RegionCode {
    RegionCode::parse(s).unwrap()
}

async fn audit_count(store: &Store) -> i64 {
    on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(p).await)
        .unwrap()
}

async fn raw_personal(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT data FROM house_people").fetch_all(p).await).unwrap();
    let e: Vec<Option<String>> = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT personal FROM events").fetch_all(p).await).unwrap();
    v.extend(e.into_iter().flatten());
    v
}

async fn personal_data_is_sealed_masked_and_revealed_only_with_a_reason(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let people = sample::people();
    let id = people.owner_id.clone().unwrap();
    let phone = people.owner_phone.clone().unwrap();
    let raw = raw_personal(store).await;
    assert_eq!(raw.len(), 2, "one people row and one registration event");
    for r in &raw {
        assert!(r.starts_with("v1.1."), "not sealed: {r}");
        assert!(!r.contains(id.as_str()) && !r.contains(phone.as_str()));
        assert!(!r.contains("张三"), "the sealed blob hides names too");
    }
    let clerk = principal_of("clerk", Role::TownOperator, Some(TOWN), None);
    let access = store.access(&clerk, "127.0.0.1");
    let view = access.house(&h.code).await.unwrap();
    let shown = view.people.unwrap();
    assert_eq!(
        shown.owner_id.unwrap(),
        format!("370829********{}", &id.as_str()[14..])
    );
    assert_eq!(shown.owner_phone.as_deref(), Some("138****1234"));
    let events = access.house_events(&h.code).await.unwrap();
    let p = events[0].change.people().unwrap();
    assert_eq!((p.owner_id.as_ref(), p.owner_phone.as_ref()), (None, None));
    assert_eq!(p.owner_name, "张三");

    // Reveal: refused without a reason (nothing audited beyond the refusal itself), then
    // granted with one, and the reason is in the audit row.
    let before = audit_count(store).await;
    assert!(matches!(
        access.reveal_people(&h.code, " ").await,
        Err(StoreError::Denied(_))
    ));
    assert_eq!(audit_count(store).await, before);
    let full = access
        .reveal_people(&h.code, "核实产权人身份，联系整改")
        .await
        .unwrap();
    assert_eq!(full, people);
    let tail = access_tail(store).await;
    assert_eq!(tail.action, "personal.reveal");
    assert_eq!(tail.reason.as_deref(), Some("核实产权人身份，联系整改"));
    assert_eq!(tail.actor_id, "clerk");
    assert_eq!(audit_count(store).await, before + 1);

    // Exact search by keyed hash, within scope only.
    assert_eq!(
        access.find_by_owner_id(&id).await.unwrap(),
        vec![h.code.clone()]
    );
    assert_eq!(
        access.find_by_owner_phone(&phone).await.unwrap(),
        vec![h.code.clone()]
    );
    let other = principal_of("other", Role::TownOperator, Some(OTHER_TOWN), None);
    assert!(
        store
            .access(&other, "x")
            .find_by_owner_id(&id)
            .await
            .unwrap()
            .is_empty()
    );
    // A department or an inspector may not reveal.
    let inspector = principal_of("insp", Role::Inspector, Some(COUNTY), None);
    assert!(matches!(
        store
            .access(&inspector, "x")
            .reveal_people(&h.code, "例行检查核对")
            .await,
        Err(StoreError::Denied(_))
    ));
}

async fn access_tail(store: &Store) -> anju_store::infra::audit::AuditRow {
    anju_store::infra::audit::tail(store.db_for_tests(), 1)
        .await
        .unwrap()
        .remove(0)
}

async fn key_rotation_reseals_everything_and_old_keys_can_retire(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 2, VILLAGE, UsageCategory::Other).await;
    h.ok(&clerk(), survey(Judgement::NoHazard)).await;
    let _h2 = House::register(store, 3, OTHER_VILLAGE, UsageCategory::Other).await;

    let mut keys = Vault::from_json(&store.vault().to_json()).unwrap();
    assert_eq!(keys.rotate(), 2);
    let rotated = store.with_vault(keys.clone()).await.unwrap();
    assert_eq!(
        rotated.count_unsealed_or_old().await.unwrap(),
        4,
        "two registrations + two people rows still under key 1"
    );
    let n = rotated.system("test").reseal_personal().await.unwrap();
    assert_eq!((n.people, n.events), (2, 2));
    assert_eq!(rotated.count_unsealed_or_old().await.unwrap(), 0);
    assert!(
        raw_personal(&rotated)
            .await
            .iter()
            .all(|r| r.starts_with("v1.2."))
    );
    // A row left in plain text by an older version is sealed when the store opens.
    let plain = serde_json::to_string(&sample::people()).unwrap();
    on_db!(store.db_for_tests(), p => sqlx::query("UPDATE house_people SET data = $1 WHERE house_id = 2").bind(&plain).execute(p).await.map(|_| ())).unwrap();

    // Old keys retired: everything still reads; the old key set alone no longer does.
    let mut retired = keys.clone();
    retired.retire_old();
    assert_eq!(retired.key_ids(), vec![2]);
    let after = store.with_vault(retired).await.unwrap();
    assert!(
        raw_personal(&after)
            .await
            .iter()
            .all(|r| r.starts_with("v1.2.")),
        "plain row sealed at open"
    );
    let view = after.system("test").house(&h.code).await.unwrap();
    assert_eq!(view.people, Some(sample::people()));
    let events = after.system("test").house_events(&h.code).await.unwrap();
    assert_eq!(events[0].change.people(), Some(&sample::people()));
    let old_only = Vault::from_json(&store.vault().to_json()).unwrap();
    let err = store
        .with_vault(old_only)
        .await
        .err()
        .expect("old keys alone must not open");
    assert!(err.to_string().contains("密钥 2"), "{err}");
    // Digests survive rotation: search still finds the owner.
    let clerk = principal_of("clerk", Role::TownOperator, Some(TOWN), None);
    let id = sample::people().owner_id.unwrap();
    assert_eq!(
        after
            .access(&clerk, "x")
            .find_by_owner_id(&id)
            .await
            .unwrap(),
        vec![h.code.clone()]
    );
}

async fn new_account(store: &Store, username: &str, role: Role, region: Option<&str>) -> String {
    let (_, otp) = store
        .create_account(
            &Principal::system(),
            &NewAccount {
                username: username.into(),
                display_name: format!("{username}姓名"),
                role,
                region: region.map(code),
                department: None,
            },
            "test",
        )
        .await
        .unwrap();
    otp
}

async fn one_time_passwords_policy_history_and_expiry(store: &Store) {
    let otp = new_account(store, "wang", Role::TownOperator, Some(TOWN)).await;
    let now = store.now();
    let ok = store
        .login("wang", &otp, None, "10.0.0.1", now)
        .await
        .unwrap();
    assert!(
        ok.session.must_change_password,
        "a one-time password must be changed"
    );
    for (bad, why) in [
        ("Ab1!", "至少 8 位"),
        ("abcdefgh", "至少 3 类"),
        ("Wang-2024x", "不能包含用户名"),
    ] {
        let e = store
            .change_password("wang", &otp, bad, "x", now)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    assert!(matches!(
        store
            .change_password("wang", "wrong", "Anju-2024a", "x", now)
            .await,
        Err(AuthError::Failed)
    ));
    // Five changes, then each of the last five is refused, the sixth-last accepted again.
    let pw: Vec<String> = (0..6).map(|i| format!("Anju-2024{i}")).collect();
    let mut cur = otp.clone();
    for p in &pw {
        store
            .change_password("wang", &cur, p, "x", now)
            .await
            .unwrap();
        cur = p.clone();
    }
    for p in &pw[1..] {
        let e = store
            .change_password("wang", &cur, p, "x", now)
            .await
            .unwrap_err();
        assert!(matches!(e, AuthError::Reused(5)), "{p}: {e}");
    }
    store
        .change_password("wang", &cur, &pw[0], "x", now)
        .await
        .unwrap();
    let s = store.login("wang", &pw[0], None, "x", now).await.unwrap();
    assert!(!s.session.must_change_password);
    // 91 days later the password has expired: the session says so.
    let later = now + Duration::days(91);
    let s = store.login("wang", &pw[0], None, "x", later).await.unwrap();
    assert!(s.session.must_change_password);
}

async fn five_failures_lock_known_and_unknown_names_alike(store: &Store) {
    let otp = new_account(store, "li", Role::TownOperator, Some(TOWN)).await;
    let t0 = store.now();
    let before = audit_count(store).await;
    for i in 0..5 {
        let t = t0 + Duration::minutes(i);
        let a = store
            .login("li", "wrong-password", None, "x", t)
            .await
            .unwrap_err();
        let b = store
            .login("nobody", "wrong-password", None, "x", t)
            .await
            .unwrap_err();
        assert_eq!(
            a.to_string(),
            b.to_string(),
            "unknown and known answer alike"
        );
        assert_eq!(a.to_string(), "用户名或密码错误");
    }
    assert_eq!(
        audit_count(store).await,
        before + 10,
        "one audit row per failure"
    );
    let t = t0 + Duration::minutes(5);
    // Locked now, even with the right password; the unknown name is locked alike.
    let a = store.login("li", &otp, None, "x", t).await.unwrap_err();
    let b = store
        .login("nobody", "whatever", None, "x", t)
        .await
        .unwrap_err();
    assert!(matches!(a, AuthError::Locked { .. }), "{a}");
    assert_eq!(a.to_string(), b.to_string());
    // 30 minutes after the fifth failure the lock is over.
    let t = t0 + Duration::minutes(4 + 31);
    store.login("li", &otp, None, "x", t).await.unwrap();
    // Failures spread wider than 15 minutes do not lock.
    for i in 0..6 {
        let t = t0 + Duration::minutes(40 + i * 4);
        let e = store.login("li", "nope", None, "x", t).await.unwrap_err();
        assert!(matches!(e, AuthError::Failed), "{i}: {e}");
    }
}

/// Whether the session of `token` is alive at `t`; asking touches it, as a request does.
async fn alive(store: &Store, token: &str, t: chrono::DateTime<chrono::Utc>) -> bool {
    store.session(token, t).await.unwrap().is_some()
}

async fn sessions_expire_idle_and_absolute_and_end_on_logout(store: &Store) {
    let otp = new_account(store, "zhao", Role::TownPrincipal, Some(TOWN)).await;
    let t0 = store.now();
    let s = store.login("zhao", &otp, None, "x", t0).await.unwrap();
    assert_eq!(s.session.principal.role, Role::TownPrincipal);
    assert!(alive(store, &s.token, t0 + Duration::minutes(29)).await);
    // Touched at 29 min: still alive at 29 + 29, dead after 30 idle minutes.
    assert!(alive(store, &s.token, t0 + Duration::minutes(58)).await);
    assert!(!alive(store, &s.token, t0 + Duration::minutes(89)).await);
    assert!(
        !alive(store, &s.token, t0 + Duration::minutes(59)).await,
        "deleted once expired"
    );
    // Absolute: active every 20 minutes, still ends after 12 hours.
    let s = store.login("zhao", &otp, None, "x", t0).await.unwrap();
    let mut t = t0;
    while t < t0 + Duration::hours(12) - Duration::minutes(20) {
        t += Duration::minutes(20);
        assert!(alive(store, &s.token, t).await, "{t}");
    }
    assert!(
        !alive(
            store,
            &s.token,
            t0 + Duration::hours(12) + Duration::minutes(1)
        )
        .await
    );
    // Logout deletes; an administrator ends all; disabling ends all.
    let s = store.login("zhao", &otp, None, "x", t0).await.unwrap();
    store.logout(&s.token, "x").await.unwrap();
    assert!(!alive(store, &s.token, t0).await);
    let admin = principal_of("admin", Role::CountyOffice, Some(COUNTY), None);
    let a = store.login("zhao", &otp, None, "x", t0).await.unwrap();
    let b = store.login("zhao", &otp, None, "x", t0).await.unwrap();
    assert_ne!(a.token, b.token, "a new token per login");
    assert_eq!(store.end_sessions(&admin, "zhao", "x").await.unwrap(), 2);
    assert!(!alive(store, &a.token, t0).await);
    let c = store.login("zhao", &otp, None, "x", t0).await.unwrap();
    store.set_disabled(&admin, "zhao", true, "x").await.unwrap();
    assert!(!alive(store, &c.token, t0).await);
    assert!(matches!(
        store.login("zhao", &otp, None, "x", t0).await,
        Err(AuthError::Failed)
    ));
    // A town administrator cannot manage accounts at all; another county's account is unseen.
    let town_clerk = principal_of("c", Role::TownOperator, Some(TOWN), None);
    assert!(matches!(
        store.end_sessions(&town_clerk, "zhao", "x").await,
        Err(AuthError::Denied(_))
    ));
    let stored: i64 = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE token_hash = $1").bind(&c.token).fetch_one(p).await).unwrap();
    assert_eq!(stored, 0, "the token itself is never stored");
}

async fn totp_second_factor(store: &Store) {
    let otp = new_account(store, "county", Role::CountyOffice, Some(COUNTY)).await;
    let t0 = store.now();
    // Required for signers once the policy says so.
    let admin = Principal::system();
    let sec = Security {
        session: SessionPolicy {
            totp_required_for_signers: true,
            ..SessionPolicy::default()
        },
        ..Security::default()
    };
    store.set_security(&admin, &sec, "x").await.unwrap();
    assert!(matches!(
        store.login("county", &otp, None, "x", t0).await,
        Err(AuthError::SecondFactorRequired)
    ));
    let (secret, uri) = store.enable_totp(&admin, "county", "x").await.unwrap();
    assert!(uri.starts_with("otpauth://totp/Anju:county?secret="));
    assert!(matches!(
        store.login("county", &otp, None, "x", t0).await,
        Err(AuthError::SecondFactorNeeded)
    ));
    assert!(matches!(
        store
            .login("county", &otp, Some("000000"), "x", t0)
            .await
            .and(store.login("county", &otp, Some("000001"), "x", t0).await),
        Err(AuthError::SecondFactorWrong)
    ));
    let step = t0.timestamp() / 30;
    let code = anju_store::accounts::totp::code_at_step(&secret, step, 6);
    store
        .login("county", &otp, Some(&code), "x", t0)
        .await
        .unwrap();
    // The same code again is a replay.
    assert!(matches!(
        store.login("county", &otp, Some(&code), "x", t0).await,
        Err(AuthError::SecondFactorWrong)
    ));
    let sealed: String = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT totp_secret FROM accounts WHERE username = 'county'").fetch_one(p).await).unwrap();
    assert!(sealed.starts_with("v1."), "TOTP secret sealed");
}

/// Every entry point × every role, each asked about an object outside the caller's scope:
/// the answer is a refusal (denied, or not found) and carries no data.
async fn every_entry_point_refuses_every_role_outside_its_scope(store: &Store) {
    with_villages(store).await;
    // The object: a business house in OTHER_TOWN, a prepared report of OTHER_TOWN.
    let mut h = House::register(store, 7, OTHER_VILLAGE, UsageCategory::MixedBusiness).await;
    h.ok(&clerk(), survey(Judgement::Hazard)).await;
    let county = principal_of("sys", Role::System, None, None);
    let report = store
        .access(&county, "x")
        .prepare_report(&other_town_report("0537-1234567"))
        .await
        .unwrap();
    new_account(store, "js99", Role::TechReviewer, None).await;
    // A problem of OTHER_TOWN about the house.
    issue_problem_about(&store.access(&county, "x"), &h.code, 1, "销号不实").await;
    let problem_id = store.system("test").problems(None).await.unwrap()[0].id;
    let out_of_scope = |e: StoreError| match e {
        StoreError::Invalid(m) if m.contains("不在您的辖区内") => StoreError::NotFound,
        e => e,
    };
    let id = sample::people().owner_id.unwrap();
    let phone = sample::people().owner_phone.unwrap();
    let other_town = code(OTHER_TOWN);
    let other_village = code(OTHER_VILLAGE);

    // Callers: each role, anchored where it cannot see the object (town TOWN; a department
    // whose sector is not the house's; a reviewer without assignment; an unanchored account).
    let callers: Vec<Principal> = vec![
        principal_of("co", Role::CountyOffice, Some("370830"), None),
        principal_of("op", Role::TownOperator, Some(TOWN), None),
        principal_of("pr", Role::TownPrincipal, Some(TOWN), None),
        principal_of("dp", Role::Department, Some(COUNTY), Some("no-such-dept")),
        principal_of("rv", Role::TechReviewer, None, None),
        principal_of("ap", Role::Appraiser, None, None),
        principal_of("in", Role::Inspector, Some(TOWN), None),
        principal_of("au", Role::Auditor, Some(TOWN), None),
        principal_of("unanchored", Role::TownOperator, None, None),
    ];
    assert_eq!(
        callers
            .iter()
            .map(|c| c.role)
            .collect::<std::collections::HashSet<_>>()
            .len(),
        Role::ALL.len() - 1,
        "every role but System is a caller"
    );
    let before = anju_store::testing::snapshot(store).await;
    let mut checked = 0;
    for who in &callers {
        let a = store.access(who, "test");
        let cmd = h.cmd(notify());
        // Each answer is a refusal that carries no data: not found only where the role may do
        // the action at all, denied elsewhere.
        let mut check = |name: &str, action: Action, r: Result<String, StoreError>| {
            checked += 1;
            match r {
                Ok(data) => panic!("{:?} {name}: answered {data}", who.role),
                Err(StoreError::NotFound) => assert!(
                    allows(who.role, action),
                    "{:?} {name}: not-found but should be denied",
                    who.role
                ),
                Err(StoreError::Denied(m)) => {
                    assert!(!m.contains(h.code.as_str()) && !m.contains("张三"), "{m}");
                }
                Err(e) => panic!("{:?} {name}: {e}", who.role),
            }
        };
        check("house", Action::ReadHouses, shown(a.house(&h.code).await));
        check(
            "house_events",
            Action::ReadHouses,
            shown(a.house_events(&h.code).await),
        );
        check("execute", Action::Record, shown(a.execute(&cmd).await));
        check(
            "reveal_people",
            Action::RevealPersonal,
            shown(a.reveal_people(&h.code, "核实身份信息").await),
        );
        check(
            "find_by_owner_id",
            Action::ReadHouses,
            a.find_by_owner_id(&id).await.and_then(nonempty),
        );
        check(
            "find_by_owner_phone",
            Action::ReadHouses,
            a.find_by_owner_phone(&phone).await.and_then(nonempty),
        );
        // A department reads its own sector's ledger of any town of its county: allowed,
        // and it must count nothing of the house outside its sector.
        check(
            "ledger",
            Action::ReadLedger,
            a.ledger(Form::Attachment2, Some(&other_town), AsOf::Now)
                .await
                .and_then(|v| {
                    if v.total.counts.iter().any(|n| *n > 0) {
                        Ok(format!("{v:?}"))
                    } else {
                        Err(StoreError::NotFound)
                    }
                }),
        );
        check(
            "ledger_houses",
            Action::ReadLedger,
            a.ledger_houses(
                Form::Attachment2,
                Some(&other_town),
                AsOf::Now,
                0,
                Some(&other_village),
            )
            .await
            .and_then(nonempty),
        );
        check(
            "prepare_report",
            Action::PrepareReport,
            shown(a.prepare_report(&other_town_report("0537-1234567")).await),
        );
        for (name, action, step) in [
            (
                "act_on_report(sign)",
                Action::SignReport,
                ReportAction::Sign,
            ),
            (
                "act_on_report(submit)",
                Action::SubmitReport,
                ReportAction::Submit,
            ),
            (
                "act_on_report(accept)",
                Action::ReviewReport,
                ReportAction::Accept,
            ),
        ] {
            check(name, action, shown(a.act_on_report(report, &step).await));
        }
        check("report", Action::ReadLedger, shown(a.report(report).await));
        check(
            "compare_report",
            Action::ReadLedger,
            shown(a.compare_report(report, AsOf::Now).await),
        );
        check(
            "assign",
            Action::AssignHouses,
            shown(a.assign(&h.code, "js99").await),
        );
        check(
            "issue_problems",
            Action::IssueProblems,
            shown(
                a.issue_problems(
                    &NewBatch {
                        source: ProblemSource::CountySupervision,
                        name: "越权".into(),
                        issued_on: NaiveDate::from_ymd_opt(2024, 5, 2).unwrap(),
                    },
                    &[NewProblem {
                        row_no: 1,
                        town: code(OTHER_TOWN),
                        house: None,
                        category: ProblemCategory::Other,
                        description: "x".into(),
                        deadline: None,
                    }],
                )
                .await,
            )
            .map_err(out_of_scope),
        );
        check(
            "problem",
            Action::ReadHouses,
            shown(a.problem(problem_id).await),
        );
        check(
            "problems",
            Action::ReadHouses,
            a.problems(None).await.and_then(nonempty),
        );
        check(
            "problem_counts",
            Action::ReadHouses,
            a.problem_counts().await.and_then(nonempty),
        );
        for (name, action, step) in [
            (
                "act_on_problem(confirm)",
                Action::HandleProblems,
                ProblemAction::Confirm,
            ),
            (
                "act_on_problem(accept_dispute)",
                Action::IssueProblems,
                ProblemAction::AcceptDispute,
            ),
        ] {
            let answer = a.act_on_problem(problem_id, 1, &step, &[]).await;
            check(name, action, shown(answer));
        }
        // The audit trail is for auditors and the county office only (own scope is irrelevant).
        let audit = a.audit_tail(10).await;
        assert_eq!(
            audit.is_ok(),
            allows(who.role, Action::ReadAudit),
            "{:?}",
            who.role
        );
    }
    assert_eq!(checked, 21 * callers.len());
    let steps: i64 = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM problem_events").fetch_one(p).await).unwrap();
    let problems: i64 = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM problems").fetch_one(p).await).unwrap();
    assert_eq!(
        (steps, problems),
        (0, 1),
        "no problem issued or moved by a refused caller"
    );
    let reports: i64 = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT COUNT(*) FROM ledger_reports").fetch_one(p).await).unwrap();
    assert_eq!(reports, 1, "no report prepared by a refused caller");
    assert_eq!(
        anju_store::testing::snapshot(store).await,
        before,
        "nothing changed"
    );
    // The same entry points do answer inside the scope (the matrix is not vacuous).
    let own = principal_of("own", Role::TownOperator, Some(OTHER_TOWN), None);
    let a = store.access(&own, "x");
    assert!(a.house(&h.code).await.is_ok());
    assert!(a.problem(problem_id).await.is_ok());
    assert_eq!(a.find_by_owner_id(&id).await.unwrap(), vec![h.code.clone()]);
    assert!(
        a.ledger(Form::Attachment2, Some(&other_town), AsOf::Now)
            .await
            .is_ok()
    );
    a.assign(&h.code, "js99").await.unwrap();
    let reviewer = principal_of("js99", Role::TechReviewer, None, None);
    assert!(
        store.access(&reviewer, "x").house(&h.code).await.is_ok(),
        "assigned: visible"
    );
    let _ = HouseCode::parse(h.code.as_str()).unwrap();
}

/// OTHER_TOWN's attachment 2 as of 2024-06-01.
fn other_town_report(contact: &str) -> NewReport {
    NewReport {
        form: Form::Attachment2,
        unit: code(OTHER_TOWN),
        as_of: NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(),
        contact: contact.into(),
        supersedes: None,
    }
}

/// Issues, through `a`, a batch of one problem of OTHER_TOWN about `house` (row `row_no`).
async fn issue_problem_about(a: &Access<'_>, house: &HouseCode, row_no: u32, description: &str) {
    a.issue_problems(
        &NewBatch {
            source: ProblemSource::OnlineInspection,
            name: "第1批".into(),
            issued_on: NaiveDate::from_ymd_opt(2024, 5, 1).unwrap(),
        },
        &[NewProblem {
            row_no,
            town: code(OTHER_TOWN),
            house: Some(house.to_string()),
            category: ProblemCategory::FalseClosure,
            description: description.into(),
            deadline: None,
        }],
    )
    .await
    .unwrap();
}

/// A debug print of what came back: the data a refused caller must not see.
fn shown<T: std::fmt::Debug>(r: Result<T, StoreError>) -> Result<String, StoreError> {
    r.map(|v| format!("{v:?}"))
}

/// An empty list answers like a refusal (not found); any entry is data.
fn nonempty<C: std::fmt::Debug + IntoIterator>(v: C) -> Result<String, StoreError> {
    let shown = format!("{v:?}");
    if v.into_iter().next().is_none() {
        Err(StoreError::NotFound)
    } else {
        Ok(shown)
    }
}

/// A town operator's account of `town` to create.
fn town_operator(username: &str, town: &str) -> NewAccount {
    NewAccount {
        username: username.into(),
        display_name: "经办人".into(),
        role: Role::TownOperator,
        region: Some(code(town)),
        department: None,
    }
}

async fn creating_accounts_has_no_default_password_and_stays_in_region(store: &Store) {
    let (admin, otp) = store.bootstrap_admin(code(COUNTY)).await.unwrap().unwrap();
    assert_eq!(admin.role, Role::CountyOffice);
    assert!(admin.must_change);
    assert!(
        store.bootstrap_admin(code(COUNTY)).await.unwrap().is_none(),
        "only into an empty table"
    );
    let (_, otp2) = store
        .create_account(&admin.principal(), &town_operator("t101", TOWN), "x")
        .await
        .unwrap();
    assert_ne!(otp, otp2, "one-time passwords are random");
    let town = store.account("t101").await.unwrap().principal();
    let e = store
        .create_account(&town, &town_operator("t102", OTHER_TOWN), "x")
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::Denied(_)), "{e}");
    let e = store
        .create_account(
            &admin.principal(),
            &NewAccount {
                username: "dup".into(),
                display_name: "x".into(),
                role: Role::Department,
                region: Some(code(COUNTY)),
                department: Some("nope".into()),
            },
            "x",
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("部门代码"), "{e}");
    let listed = store.accounts(&admin.principal()).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|a| a.username.as_str())
            .collect::<Vec<_>>(),
        vec!["admin", "t101"]
    );
    let hashes: Vec<String> = on_db!(store.db_for_tests(), p => sqlx::query_scalar("SELECT password_hash FROM accounts").fetch_all(p).await).unwrap();
    assert!(
        hashes
            .iter()
            .all(|h| h.starts_with("$argon2id$") && !h.contains(&otp))
    );
}

/// Each account operation that changes something writes exactly one audit row, naming it.
async fn one_audit_row_per_write(store: &Store) {
    with_villages(store).await;
    let mut h = House::register(store, 9, VILLAGE, UsageCategory::Other).await;
    let admin = Principal::system();
    let t0 = store.now();
    /// Runs `f`, checking that it wrote exactly one audit row, named `action`: its result.
    async fn step<T>(store: &Store, action: &str, f: impl Future<Output = T>) -> T {
        let before = audit_count(store).await;
        let out = f.await;
        assert_eq!(
            audit_count(store).await,
            before + 1,
            "{action}: not exactly one audit row"
        );
        assert_eq!(access_tail(store).await.action, action);
        out
    }
    let new = NewAccount {
        username: "wu".into(),
        display_name: "吴".into(),
        role: Role::TownOperator,
        region: Some(code(TOWN)),
        department: None,
    };
    let created = step(
        store,
        "account.create",
        store.create_account(&admin, &new, "x"),
    )
    .await;
    let (_, otp) = created.unwrap();
    let login = step(store, "login", store.login("wu", &otp, None, "x", t0)).await;
    let token = login.unwrap().token;
    let changed = store.change_password("wu", &otp, "Anju-2024z", "x", t0);
    step(store, "account.password", changed).await.unwrap();
    step(store, "logout", store.logout(&token, "x"))
        .await
        .unwrap();
    let reset = store.reset_password(&admin, "wu", "x");
    step(store, "account.reset_password", reset).await.unwrap();
    let totp = store.enable_totp(&admin, "wu", "x");
    step(store, "account.totp_enable", totp).await.unwrap();
    let ended = store.end_sessions(&admin, "wu", "x");
    step(store, "account.end_sessions", ended).await.unwrap();
    let disabled = store.set_disabled(&admin, "wu", true, "x");
    step(store, "account.disable", disabled).await.unwrap();
    let defaults = Security::default();
    let security = store.set_security(&admin, &defaults, "x");
    step(store, "setting.security", security).await.unwrap();
    let clerk = principal_of("clerk", Role::TownOperator, Some(TOWN), None);
    let clerk = store.access(&clerk, "x");
    let surveyed = h.cmd(survey(Judgement::NoHazard));
    step(store, "house.surveyed", clerk.execute(&surveyed))
        .await
        .unwrap();
    h.version += 1;
    new_account(store, "js07", Role::TechReviewer, None).await;
    step(store, "house.assign", clerk.assign(&h.code, "js07"))
        .await
        .unwrap();
    // A permission refusal is one row too.
    let auditor = principal_of("au", Role::Auditor, Some(TOWN), None);
    let notified = h.cmd(notify());
    let auditor = store.access(&auditor, "x");
    let r = step(store, "Record", auditor.execute(&notified)).await;
    assert!(matches!(r, Err(StoreError::Denied(_))));
}

/// Rows of the audit trail with this action and outcome, by this account.
async fn audited(store: &Store, actor: &str, action: &str, outcome: &str) -> i64 {
    on_db!(store.db_for_tests(), p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE actor_id = $1 AND action = $2 AND outcome = $3")
        .bind(actor).bind(action).bind(outcome).fetch_one(p).await)
    .unwrap()
}

/// Reading, recording on and revealing a house outside the caller's scope answers like a
/// missing house — and each attempt is in the audit trail, named `refused:scope`; a code that
/// names no house is not audited (nothing was there to reach).
async fn attempts_outside_the_scope_are_audited_and_answered_as_missing(store: &Store) {
    with_villages(store).await;
    let h = House::register(store, 1, OTHER_VILLAGE, UsageCategory::Other).await;
    let far = principal_of("far", Role::TownOperator, Some(TOWN), None);
    let a = store.access(&far, "web:10.0.0.7");
    assert!(is_not_found(&a.house(&h.code).await));
    assert!(is_not_found(&a.house_events(&h.code).await));
    assert!(is_not_found(
        &a.execute(&h.cmd(survey(Judgement::NoHazard))).await
    ));
    assert!(is_not_found(
        &a.reveal_people(&h.code, "联系产权人落实整治").await
    ));
    // By hand: two reads (house, events), one step, one reveal.
    assert_eq!(
        audited(store, "far", "house.read", "refused:scope").await,
        2
    );
    assert_eq!(
        audited(store, "far", "house.step", "refused:scope").await,
        1
    );
    assert_eq!(
        audited(store, "far", "personal.reveal", "refused:scope").await,
        1
    );
    let row = access_tail(store).await;
    assert_eq!(
        (row.object.as_str(), row.source.as_str()),
        (h.code.as_str(), "web:10.0.0.7")
    );
    // Nothing of the house was changed by the attempt.
    let seen = store
        .access(&Principal::system(), "test")
        .house(&h.code)
        .await
        .unwrap();
    assert_eq!(seen.state.version, 1);

    // The other town's report, problem and supervision notice: the same.
    let sys = Principal::system();
    let report = store
        .access(&sys, "t")
        .prepare_report(&other_town_report("0537-1"))
        .await
        .unwrap();
    issue_problem_about(&store.access(&sys, "t"), &h.code, 2, "远镇问题").await;
    let problem = store.system("test").problems(None).await.unwrap()[0].id;
    let notice = store
        .system("t")
        .supervise(
            &sys.actor(),
            &anju_store::campaign::supervision::NewSupervision {
                town: code(OTHER_TOWN),
                subject: "远镇督办".into(),
                body: "远镇督办要求".into(),
                answer_due: NaiveDate::from_ymd_opt(2099, 1, 1).unwrap(),
            },
        )
        .await
        .unwrap();
    assert!(is_not_found(&a.report(report).await));
    assert!(is_not_found(
        &a.act_on_report(report, &ReportAction::Submit).await
    ));
    assert!(is_not_found(&a.problem(problem).await));
    assert!(is_not_found(
        &a.act_on_problem(problem, 1, &ProblemAction::Confirm, &[])
            .await
    ));
    assert!(is_not_found(&a.supervision(notice).await));
    assert!(is_not_found(
        &a.answer_supervision(notice, "越权答复内容", &[]).await
    ));
    // By hand: one of each.
    for action in [
        "report.read",
        "report.act",
        "problem.read",
        "problem.act",
        "supervision.read",
        "supervision.answer",
    ] {
        assert_eq!(
            audited(store, "far", action, "refused:scope").await,
            1,
            "{action}"
        );
    }
    // An id that names nothing: not found, not audited.
    let before = audit_count(store).await;
    assert!(is_not_found(&a.report(report + 1000).await));
    assert!(is_not_found(&a.problem(problem + 1000).await));
    assert_eq!(audit_count(store).await, before);

    // A code that names no house: not found, not audited.
    let before = audit_count(store).await;
    let nothing = HouseCode::new(&code(COUNTY), 999_999);
    assert!(is_not_found(&a.house(&nothing).await));
    assert_eq!(audit_count(store).await, before);
}

/// Revealing is bounded: a reason of substance, and at most `REVEALS_PER_DAY` reveals per
/// account and Beijing day; the next is refused and audited (`refused:rate`), another account
/// is not affected, and the next day the count starts again.
async fn revealing_personal_data_is_bounded_per_account_and_day(store: &Store) {
    with_villages(store).await;
    let clock = anju_store::TestClock::at(test_start());
    let store = &store.clone().with_clock(std::sync::Arc::new(clock.clone()));
    let h = House::register(store, 1, VILLAGE, UsageCategory::Other).await;
    let clerk = principal_of("busy", Role::TownOperator, Some(TOWN), None);
    let a = store.access(&clerk, "web:10.0.0.8");
    // Stock phrases say nothing and are refused before anything is read.
    for empty in ["工作需要", "查看详情", "啊啊啊啊"] {
        assert!(
            matches!(
                a.reveal_people(&h.code, empty).await,
                Err(StoreError::Denied(_))
            ),
            "{empty}"
        );
    }
    let limit = anju_domain::auth::REVEALS_PER_DAY;
    for _ in 0..limit {
        a.reveal_people(&h.code, "联系产权人落实整治")
            .await
            .unwrap();
    }
    let Err(StoreError::Denied(m)) = a.reveal_people(&h.code, "联系产权人落实整治").await
    else {
        panic!("the reveal after the day's limit must be refused");
    };
    assert!(m.contains("上限"), "{m}");
    assert_eq!(audited(store, "busy", "personal.reveal", "ok").await, limit);
    assert_eq!(
        audited(store, "busy", "personal.reveal", "refused:rate").await,
        1
    );
    // Another account still may.
    let other = principal_of("calm", Role::TownOperator, Some(TOWN), None);
    store
        .access(&other, "web:10.0.0.9")
        .reveal_people(&h.code, "电话通知户主整改")
        .await
        .unwrap();
    // The next Beijing day the count starts again (test_start is noon in Beijing: +12 h is
    // midnight, +13 h the next morning).
    clock.advance(Duration::hours(13));
    a.reveal_people(&h.code, "联系产权人落实整治")
        .await
        .unwrap();
}

anju_store::both!(
    attempts_outside_the_scope_are_audited_and_answered_as_missing,
    revealing_personal_data_is_bounded_per_account_and_day,
    one_audit_row_per_write,
    personal_data_is_sealed_masked_and_revealed_only_with_a_reason,
    key_rotation_reseals_everything_and_old_keys_can_retire,
    one_time_passwords_policy_history_and_expiry,
    five_failures_lock_known_and_unknown_names_alike,
    sessions_expire_idle_and_absolute_and_end_on_logout,
    totp_second_factor,
    every_entry_point_refuses_every_role_outside_its_scope,
    creating_accounts_has_no_default_password_and_stays_in_region,
);

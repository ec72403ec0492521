//! Demo data: a deterministic, realistic county on Jiaxiang's real villages (from the national
//! division table); houses of both kinds
//! in realistic shares; every lifecycle path, each step accepted by the real rules; legacy
//! closures on management measures; illegal attempts, refused by the rules and reported; and
//! problem batches from every source in every state (`problems`). The campaign runs on the
//! notice's 2024 dates ([`Demo::new`]) or moved so that it is in progress on a given day
//! ([`Demo::in_progress`], what `anju demo` loads).
//! Fictional people with well-formed ID-card and mobile numbers. Pure: no I/O.
#![forbid(unsafe_code)]

pub mod problems;
pub use problems::{Outcome, PlannedBatch, PlannedProblem, PlannedStep};

use anju_domain::campaign::{Deadline, default_deadlines};
use anju_domain::codes::{IdCardNumber, OwnerId, PhoneNumber, RegionCode};
use anju_domain::dict::{
    ClosureBasis, Dictionaries, EngMeasure, Grade, HandlingAdvice, Judgement, MgmtMeasure,
    RegistrationSource, ReviewFinding, UsageCategory,
};
use anju_domain::event::{Actor, Appraisal, Change, Command, Event, EvidenceKind, Role};
use anju_domain::house::{Construction, HouseRecord, People};
use anju_domain::region::Region;
pub use anju_domain::sample::{JIAXIANG, JIAXIANG_TOWNS};
use anju_domain::{HouseCode, HouseState, RegionLevel, RuleViolation, apply, decide, sample};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};

/// SplitMix64: small, fast, and stable across library upgrades, so a seed always gives the
/// same county.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        (((self.next_u64() >> 11) as u128 * n as u128) >> 53) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Picks by weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (item, w) in items {
            if x < u64::from(*w) {
                return item;
            }
            x -= u64::from(*w);
        }
        &items[items.len() - 1].0
    }
}

const SURNAMES: &[&str] = &[
    "王", "张", "李", "刘", "孙", "陈", "杨", "赵", "马", "郭", "高", "朱", "曹", "田", "周", "吴",
    "徐", "胡", "许", "宋", "孟", "石", "贾", "崔", "袁", "冯", "丁", "韩", "魏", "梁",
];
const GIVEN: &[&str] = &[
    "建国", "秀英", "桂兰", "玉兰", "志强", "海燕", "国华", "淑珍", "文华", "明", "伟", "芳", "静",
    "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "超", "霞", "刚", "平", "红梅", "宏伟", "金凤",
    "立新", "凤英", "守信", "庆华", "广田", "传胜", "德宝", "春生",
];
const BUSINESS_TYPES: &[(&str, u32)] = &[
    ("餐饮饭店", 25),
    ("批发零售", 25),
    ("出租居住", 15),
    ("生产加工", 10),
    ("住宿宾馆/民宿宾馆", 6),
    ("仓储物流", 5),
    ("休闲娱乐（文化娱乐）", 4),
    ("教育培训（教育设施）", 3),
    ("养老服务", 2),
    ("医疗卫生", 2),
    ("其他", 3),
];

const STRUCTURES: &[(&str, u32)] = &[
    ("砌体结构(砖混)", 62),
    ("砖木结构", 14),
    ("钢筋混凝土结构(框架)", 9),
    ("底部框架-抗震墙上部砌体结构", 5),
    ("土木/石木结构", 4),
    ("混杂结构", 3),
    ("钢结构", 2),
    ("其他", 1),
];

/// The lifecycle path a demo house walks. Shares are of all houses, in per mille.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Path {
    /// Registered in the dynamic survey, not yet surveyed.
    Unsurveyed,
    NoHazard,
    /// Hazard judged, no review or appraisal yet.
    AwaitingAssessment,
    ReviewNoHazardClosed,
    /// Review found a hazard; engineering without appraisal; closed.
    ReviewDirectEngineeringClosed,
    AppraisedABClosed,
    /// Appraised C/D, notified, controlled, engineered, accepted, closed.
    AppraisedCDEngineeredClosed,
    /// Appraised C/D, notified, engineering under way.
    AppraisedCDRectifying,
    /// Appraised C/D, owner not yet notified (shows on the R3 dashboard).
    AppraisedCDNotNotified,
    /// Obviously unsafe: notified, demolished without appraisal, closed.
    SevereDemolishedClosed,
    /// Legacy closure on management measures, look-back not done.
    LegacyPending,
    /// Legacy closure; look-back found no hazard; closed.
    LegacyLookBackClosed,
    /// Legacy closure; look-back found the hazard; engineered; closed.
    LegacyLookBackEngineered,
    /// Closed on a review, reopened by a look-back, appraised C, engineering under way.
    ReopenedRectifying,
    /// Appraised C, corrected to D with a reason, notified, engineering under way.
    ReclassifiedRectifying,
}

const PATHS: &[(Path, u32)] = &[
    (Path::Unsurveyed, 25),
    (Path::NoHazard, 815),
    (Path::AwaitingAssessment, 8),
    (Path::ReviewNoHazardClosed, 30),
    (Path::ReviewDirectEngineeringClosed, 12),
    (Path::AppraisedABClosed, 20),
    (Path::AppraisedCDEngineeredClosed, 24),
    (Path::AppraisedCDRectifying, 10),
    (Path::AppraisedCDNotNotified, 3),
    (Path::SevereDemolishedClosed, 8),
    (Path::LegacyPending, 15),
    (Path::LegacyLookBackClosed, 12),
    (Path::LegacyLookBackEngineered, 8),
    (Path::ReopenedRectifying, 5),
    (Path::ReclassifiedRectifying, 5),
];

/// A refused attempt the demo makes on purpose, to show the rules at work.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub house: HouseCode,
    pub actor: Actor,
    pub change: &'static str,
    pub violation: RuleViolation,
    pub at: DateTime<Utc>,
}

/// One generated house: its accepted events and the refused attempts made on it.
#[derive(Debug, Clone)]
pub struct DemoHouse {
    pub path: Path,
    pub events: Vec<Event>,
    pub state: HouseState,
    pub refusals: Vec<Refusal>,
}

/// The demo county: its generated villages and the parameters houses are drawn with.
pub struct Demo {
    pub seed: u64,
    pub houses: u64,
    pub villages: Vec<Region>,
    /// The campaign's first day (the day after the notice).
    pub start: NaiveDate,
    /// The last day the demo's history reaches.
    pub last_day: NaiveDate,
    county: RegionCode,
    dict: Dictionaries,
}

/// The notice's campaign: its first day (the notice is of 15 March 2024) and the last day of
/// its history in the demo (two days before the acceptance deadline).
fn notice_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 16).expect("valid")
}

fn notice_last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 28).expect("valid")
}

/// How far into the campaign a demo installed today is, in days. With the notice's
/// timeline moved by the same amount, day 85 has the look-back (day 45) and the town reports
/// (day 81) behind, engineering (day 91) and acceptance (day 106) ahead.
pub const DAYS_IN: i64 = 85;

/// The demo's accounts by role within a town (ids are stable; names fictional).
pub fn town_actor(town: &RegionCode, role: Role) -> Actor {
    let t = &town.as_str()[6..9];
    let (suffix, name) = match role {
        Role::TownOperator => ("jb", "经办人"),
        Role::TownPrincipal => ("fz", "主要负责同志"),
        _ => ("xx", "人员"),
    };
    let town_name = JIAXIANG_TOWNS
        .iter()
        .find(|(c, _)| *c == &town.as_str()[..9])
        .map_or("", |(_, n)| n);
    Actor {
        id: format!("t{t}-{suffix}"),
        name: format!("{town_name}{name}"),
        role,
    }
}

pub fn reviewer(i: u64) -> Actor {
    Actor {
        id: format!("js{:02}", i % 12 + 1),
        name: format!("技术人员{:02}", i % 12 + 1),
        role: Role::TechReviewer,
    }
}

pub fn appraiser(i: u64) -> Actor {
    Actor {
        id: format!("jd{:02}", i % 5 + 1),
        name: format!("鉴定机构{:02}", i % 5 + 1),
        role: Role::Appraiser,
    }
}

impl Demo {
    /// The demo county on the notice's own timeline (the campaign of March–June 2024).
    pub fn new(houses: u64, seed: u64) -> Demo {
        let county = RegionCode::parse(JIAXIANG).expect("valid");
        Demo {
            seed,
            houses,
            villages: villages(),
            start: notice_start(),
            last_day: notice_last_day(),
            county,
            dict: Dictionaries::default(),
        }
    }

    /// The same county with the whole timeline moved so that `today` is [`DAYS_IN`] days into
    /// the campaign: its history ends yesterday, some deadlines are behind and some ahead.
    /// The houses, people and paths are those of [`Demo::new`] with the same seed; only the
    /// dates differ.
    pub fn in_progress(houses: u64, seed: u64, today: NaiveDate) -> Demo {
        let mut demo = Demo::new(houses, seed);
        demo.start = today - Duration::days(DAYS_IN);
        let shifted_end = notice_last_day() + (demo.start - notice_start());
        demo.last_day = shifted_end.min(today - Duration::days(1));
        demo
    }

    /// A date of the notice's timeline, moved as this demo's timeline is.
    fn day(&self, y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid") + (self.start - notice_start())
    }

    /// The notice's phase deadlines, moved as this demo's timeline is (the notice's own dates
    /// for [`Demo::new`]).
    pub fn deadlines(&self) -> Vec<Deadline> {
        let shift = self.start - notice_start();
        default_deadlines()
            .into_iter()
            .map(|d| Deadline {
                due: d.due + shift,
                ..d
            })
            .collect()
    }

    /// Generates house `i` (0-based). Independent of every other house, so ranges can be
    /// generated in parallel and the result is the same.
    pub fn house(&self, i: u64) -> DemoHouse {
        let mut rng = Rng::new(self.seed ^ (i.wrapping_add(1)).wrapping_mul(0xA076_1D64_78BD_642F));
        let village = &self.villages[rng.below(self.villages.len() as u64) as usize];
        let code = HouseCode::new(&self.county, (i + 1) as u32);
        let path = *rng.weighted(PATHS);
        let mut w = Walker {
            state: HouseState::new(code.clone()),
            events: Vec::new(),
            refusals: Vec::new(),
            day: self.day(2023, 6, 1) + Duration::days(rng.below(200) as i64),
            end: self.last_day,
            dict: &self.dict,
            i,
        };
        let town = village.code.town();
        let clerk = town_actor(&town, Role::TownOperator);
        let principal = town_actor(&town, Role::TownPrincipal);
        let rev = reviewer(rng.below(1000));
        let app = appraiser(rng.below(1000));
        let business = rng.chance(0.09);
        let record = self.record(&mut rng, village, i, business);
        let people = person(&mut rng, village);
        let mut token = String::with_capacity(32);
        for _ in 0..2 {
            token.push_str(&format!("{:016x}", rng.next_u64()));
        }
        let source = if path == Path::Unsurveyed {
            RegistrationSource::DynamicSurvey
        } else {
            RegistrationSource::Census
        };
        w.step(
            &clerk,
            Change::Registered {
                source,
                plaque_token: token,
                record: Box::new(record),
                people: Box::new(people),
            },
        );
        if path == Path::Unsurveyed {
            return w.finish(path);
        }
        // Surveys fall in the campaign's first phase.
        w.day = self.start + Duration::days(rng.below(40) as i64);
        let judgement = match path {
            Path::NoHazard => Judgement::NoHazard,
            Path::SevereDemolishedClosed => Judgement::Severe,
            _ if rng.chance(0.15) => Judgement::Severe,
            _ => Judgement::Hazard,
        };
        let mut survey = sample::survey(judgement);
        survey.surveyor = clerk.name.clone();
        if judgement.is_hazard() {
            survey.hazard_categories = vec![rng.pick(HAZARD_CATEGORIES).to_string()];
            survey.hazard_parts = vec![rng.pick(HAZARD_PARTS).to_string()];
            survey.added_load = rng.chance(0.1);
        }
        w.step(&clerk, Change::Surveyed(Box::new(survey)));
        let severe = judgement == Judgement::Severe;
        w.wait(&mut rng, 3, 20);
        match path {
            Path::Unsurveyed | Path::NoHazard | Path::AwaitingAssessment => {}
            Path::ReviewNoHazardClosed => {
                w.step(&rev, review(ReviewFinding::NoHazard));
                w.wait(&mut rng, 1, 10);
                w.step(&principal, close(ClosureBasis::ReviewNoHazard));
            }
            Path::ReviewDirectEngineeringClosed => {
                w.step(&rev, review(ReviewFinding::Hazard));
                if severe {
                    w.step(&clerk, notify());
                }
                w.wait(&mut rng, 3, 15);
                w.engineer(&mut rng, &clerk, &rev, EngMeasure::Reinforce);
                w.wait(&mut rng, 1, 10);
                w.step(&principal, close(ClosureBasis::Engineering));
            }
            Path::AppraisedABClosed => {
                let g = if rng.chance(0.4) { Grade::A } else { Grade::B };
                w.step(&app, appraise(&mut rng, g, w.day.year()));
                w.wait(&mut rng, 1, 10);
                w.step(&principal, close(ClosureBasis::AppraisalAB));
            }
            Path::AppraisedCDEngineeredClosed | Path::AppraisedCDRectifying => {
                let g = if rng.chance(0.75) { Grade::C } else { Grade::D };
                w.step(&app, appraise(&mut rng, g, w.day.year()));
                // Some clerks try to close on the fence they put up: R1 refuses it.
                w.control(&mut rng, &clerk);
                if rng.chance(0.3) {
                    w.attempt(&principal, close(ClosureBasis::ManagementMeasure), "closed");
                }
                // …and some try to start work before telling the owner: R3 refuses it.
                if rng.chance(0.2) {
                    w.attempt(&clerk, start(EngMeasure::Reinforce), "engineering_started");
                }
                w.step(&clerk, notify());
                w.wait(&mut rng, 5, 25);
                let m = if g == Grade::D {
                    EngMeasure::Demolish
                } else {
                    EngMeasure::Reinforce
                };
                if path == Path::AppraisedCDRectifying {
                    w.step(&clerk, start(m));
                } else {
                    w.engineer(&mut rng, &clerk, &rev, m);
                    if m == EngMeasure::Reinforce && rng.chance(0.3) {
                        w.step(
                            &app,
                            Change::Appraised(Box::new(appraisal(
                                &mut rng,
                                Grade::B,
                                true,
                                w.day.year(),
                            ))),
                        );
                    }
                    w.wait(&mut rng, 1, 10);
                    w.step(&principal, close(ClosureBasis::Engineering));
                }
            }
            Path::AppraisedCDNotNotified => {
                w.step(&app, appraise(&mut rng, Grade::C, w.day.year()));
                w.control(&mut rng, &clerk);
            }
            Path::SevereDemolishedClosed => {
                w.step(&clerk, notify());
                w.control(&mut rng, &clerk);
                w.wait(&mut rng, 5, 25);
                w.engineer(&mut rng, &clerk, &rev, EngMeasure::Demolish);
                w.wait(&mut rng, 1, 10);
                w.step(&principal, close(ClosureBasis::Engineering));
            }
            Path::LegacyPending | Path::LegacyLookBackClosed | Path::LegacyLookBackEngineered => {
                let closed_on = self.day(2023, 9, 1) + Duration::days(rng.below(150) as i64);
                let measures = vec![
                    *rng.pick(&[
                        MgmtMeasure::WallPatching,
                        MgmtMeasure::Hoarding,
                        MgmtMeasure::StopUse,
                    ]),
                    *rng.pick(&[MgmtMeasure::TemporaryProps, MgmtMeasure::Cordon]),
                ];
                w.step(
                    &clerk,
                    Change::LegacyClosureRecorded {
                        measures,
                        closed_on,
                    },
                );
                if path == Path::LegacyPending {
                    // Closing it again without a look-back: R2 refuses it.
                    if rng.chance(0.3) {
                        w.attempt(&principal, close(ClosureBasis::ReviewNoHazard), "closed");
                    }
                    return w.finish(path);
                }
                w.wait(&mut rng, 10, 30);
                let remains = path == Path::LegacyLookBackEngineered;
                w.step_with(
                    &rev,
                    Change::LookBackReviewed {
                        reviewer_names: rev.name.clone(),
                        hazard_remains: remains,
                        opinion: Some(
                            if remains {
                                "隐患未消除，需采取工程措施"
                            } else {
                                "经现场复核，未发现安全隐患"
                            }
                            .into(),
                        ),
                    },
                    vec![sample::evidence(
                        EvidenceKind::SignedForm,
                        &format!("{}-回头看复核表.jpg", w.state.code),
                    )],
                    None,
                );
                if remains {
                    if w.state.must_notify() {
                        w.step(&clerk, notify());
                    }
                    w.wait(&mut rng, 5, 20);
                    w.engineer(&mut rng, &clerk, &rev, EngMeasure::Reinforce);
                    w.wait(&mut rng, 1, 10);
                    w.step(&principal, close(ClosureBasis::Engineering));
                } else {
                    w.wait(&mut rng, 1, 10);
                    w.step(&principal, close(ClosureBasis::ReviewNoHazard));
                }
            }
            Path::ReopenedRectifying => {
                w.step(&rev, review(ReviewFinding::NoHazard));
                w.wait(&mut rng, 1, 5);
                w.step(&principal, close(ClosureBasis::ReviewNoHazard));
                w.wait(&mut rng, 10, 30);
                w.step_with(
                    &rev,
                    Change::Reopened,
                    vec![],
                    Some("回头看发现墙体裂缝扩展，隐患仍存在".into()),
                );
                w.wait(&mut rng, 3, 10);
                w.step(&app, appraise(&mut rng, Grade::C, w.day.year()));
                w.step(&clerk, notify());
                w.wait(&mut rng, 3, 10);
                w.step(&clerk, start(EngMeasure::Reinforce));
            }
            Path::ReclassifiedRectifying => {
                w.step(&app, appraise(&mut rng, Grade::C, w.day.year()));
                w.wait(&mut rng, 2, 8);
                w.step_with(
                    &app,
                    Change::Reclassified {
                        judgement: None,
                        risk_level: None,
                        grade: Some(Grade::D),
                    },
                    vec![],
                    Some("复核鉴定报告发现承重墙整体开裂，等级更正为D级".into()),
                );
                w.step(&clerk, notify());
                w.wait(&mut rng, 3, 10);
                w.step(&clerk, start(EngMeasure::Demolish));
            }
        }
        w.finish(path)
    }

    fn record(&self, rng: &mut Rng, village: &Region, i: u64, business: bool) -> HouseRecord {
        let usage = if !business {
            UsageCategory::Other
        } else if rng.chance(0.6) {
            UsageCategory::MixedBusiness
        } else {
            UsageCategory::Business
        };
        let mut business_types = Vec::new();
        if business {
            business_types.push(rng.weighted(BUSINESS_TYPES).to_string());
            if rng.chance(0.08) {
                let second = rng.weighted(BUSINESS_TYPES).to_string();
                if !business_types.contains(&second) {
                    business_types.push(second);
                }
            }
        }
        let floors = *rng.weighted(&[(1u8, 35), (2, 40), (3, 18), (4, 5), (5, 2)]);
        let build_year = 1965 + rng.below(58) as u16;
        let altered = rng.chance(0.12);
        let group = 1 + rng.below(8);
        let door = 1 + rng.below(120);
        let town_name = JIAXIANG_TOWNS
            .iter()
            .find(|(c, _)| *c == village.code.town().prefix())
            .map_or("", |(_, n)| n);
        let (lon0, lat0) = village_origin(&village.code);
        HouseRecord {
            platform_code: Some(format!("YH370829{:09}", i + 1)),
            census_id: Some(format!("{}{:07}", &village.code.as_str()[..9], i + 1)),
            unified_code: None,
            town: village.code.town(),
            village: village.code,
            group_name: Some(format!("{group}组")),
            road: None,
            door_no: Some(format!("{door}号")),
            address: format!("嘉祥县{town_name}{}{group}组{door}号", village.name),
            longitude: Some(round6(lon0 + rng.below(8_000) as f64 / 1e6)),
            latitude: Some(round6(lat0 + rng.below(8_000) as f64 / 1e6)),
            usage,
            business_types,
            occupants_over_10: business && rng.chance(0.2),
            zone_type: Some(
                if village.code.town().prefix().ends_with("00")
                    || village.code.as_str()[6..9].starts_with('0')
                {
                    "城市建成区"
                } else {
                    *rng.pick(&["建制镇", "集镇", "其他"])
                }
                .into(),
            ),
            land_type: Some("集体土地".into()),
            land_use_subtype: Some(
                if business {
                    "集体建设用地"
                } else {
                    "宅基地"
                }
                .into(),
            ),
            floors_above: floors,
            floors_below: 0,
            floor_area_m2: (f64::from(floors) * (60.0 + rng.below(9000) as f64 / 100.0) * 100.0)
                .round()
                / 100.0,
            build_year: Some(build_year),
            structure_type: rng.weighted(STRUCTURES).to_string(),
            wall_material: Some(rng.pick(&["红砖", "水泥砌块", "石块"]).to_string()),
            floor_slab: Some(rng.pick(&["预制板", "现浇板", "木楼板"]).to_string()),
            roof_type: Some(rng.pick(&["预制板", "现浇板", "木屋盖"]).to_string()),
            qr_plaque_installed_on: None,
            construction: Construction {
                design_mode: Some(
                    rng.pick(&["无专业设计、未采用标准图集", "采用标准化图集", "有专业设计"])
                        .to_string(),
                ),
                builder_mode: Some(
                    rng.pick(&["建筑工匠建造", "自行建造", "有资质的施工队伍建造"])
                        .to_string(),
                ),
                seismic_measures: if build_year > 2000 {
                    vec!["圈梁".into(), "构造柱".into()]
                } else {
                    vec![]
                },
                is_altered: altered,
                alteration_types: if altered {
                    vec![
                        rng.pick(&["楼顶加层", "周边扩建", "室内加隔墙"])
                            .to_string(),
                    ]
                } else {
                    vec![]
                },
                main_structure_changed: altered && rng.chance(0.3),
                is_decorated: rng.chance(0.5),
                permits_held: if business {
                    vec!["营业执照".into()]
                } else {
                    vec!["宅基地批准书".into()]
                },
                illegal_flags: vec![],
            },
        }
    }
}

const HAZARD_CATEGORIES: &[&str] = &[
    "地基基础",
    "上部承重结构",
    "改扩建",
    "使用安全（增加堆载、改变用途等）",
];
const HAZARD_PARTS: &[&str] = &["墙体", "梁柱", "地基", "屋面", "楼板"];

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A rough position per town around Jiaxiang (116.3°E, 35.4°N).
/// The south-west corner of a village's houses (about 800 m a side): its town on a 4 × 4 grid
/// of 0.09° over the county around 嘉祥 (116.34° E, 35.41° N), the village on a 6 × 6 grid of
/// 0.013° inside its town, so the demo map shows towns and villages as clusters.
fn village_origin(code: &RegionCode) -> (f64, f64) {
    let town = JIAXIANG_TOWNS
        .iter()
        .position(|(c, _)| *c == code.town().prefix())
        .unwrap_or(0) as u32;
    let v: u32 = code.as_str()[9..].parse().unwrap_or(0);
    (
        116.17 + f64::from(town % 4) * 0.09 + f64::from(v % 6) * 0.013,
        35.24 + f64::from(town / 4) * 0.09 + f64::from((v / 6) % 6) * 0.013,
    )
}

fn person(rng: &mut Rng, village: &Region) -> People {
    let name = format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN));
    let birth = NaiveDate::from_ymd_opt(1940, 1, 1).expect("valid")
        + Duration::days(rng.below(55 * 365) as i64);
    let first17 = format!("370829{}{:03}", birth.format("%Y%m%d"), rng.below(1000));
    let id = IdCardNumber::with_check(&first17).expect("generated digits are valid");
    let mobile = |rng: &mut Rng| {
        let prefix = rng.pick(&[
            "134", "135", "138", "139", "150", "151", "158", "187", "133", "153", "189", "130",
            "131", "156", "186",
        ]);
        PhoneNumber::parse(&format!("{prefix}{:08}", rng.below(100_000_000))).expect("valid mobile")
    };
    let phone = mobile(rng);
    let user = rng
        .chance(0.2)
        .then(|| format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN)));
    let user_phone = user.as_ref().map(|_| mobile(rng));
    People {
        owner_name: name.clone(),
        owner_id: Some(OwnerId::Person(id)),
        owner_phone: Some(phone.clone()),
        owner_role: Some("产权人".into()),
        user_name: user,
        user_phone,
        safety_person: Some(name),
        safety_phone: Some(phone),
        supervisor: Some(format!("{}网格员", village.name.trim_end_matches('村'))),
        supervisor_phone: Some(mobile(rng)),
    }
}

/// The demo county as the national table has it (Jiaxiang: province, city, county, 16 towns
/// and their 453 villages), valid from 2020 so that the demo's history (from 2023) has them.
pub fn county_regions() -> Vec<Region> {
    anju_divisions::county(JIAXIANG)
        .expect("the demo county is in the shipped table")
        .regions(anju_domain::sample::seed_valid_from(), true)
}

/// The demo county's villages, real ones from the national table.
pub fn villages() -> Vec<Region> {
    county_regions()
        .into_iter()
        .filter(|r| r.level == RegionLevel::Village)
        .collect()
}

struct Walker<'a> {
    state: HouseState,
    events: Vec<Event>,
    refusals: Vec<Refusal>,
    day: NaiveDate,
    /// The last day the demo's history reaches.
    end: NaiveDate,
    dict: &'a Dictionaries,
    i: u64,
}

impl Walker<'_> {
    /// Office hours in Beijing on the current day, a little later for each step.
    fn at(&self) -> DateTime<Utc> {
        let minutes = (self.i % 420) as i64 + self.events.len() as i64 * 3;
        Utc.from_utc_datetime(&self.day.and_hms_opt(1, 0, 0).expect("valid"))
            + Duration::minutes(minutes)
    }

    fn wait(&mut self, rng: &mut Rng, lo: u64, hi: u64) {
        self.day += Duration::days((lo + rng.below(hi - lo + 1)) as i64);
        // The demo's history ends before the campaign's acceptance deadline (and before today).
        if self.day > self.end {
            self.day = self.end;
        }
    }

    fn command(
        &self,
        change: Change,
        evidence: Vec<anju_domain::event::Evidence>,
        reason: Option<String>,
    ) -> Command {
        Command {
            house: self.state.code.clone(),
            expected_version: self.state.version,
            change,
            effective: self.day,
            reason,
            evidence,
        }
    }

    fn step(&mut self, actor: &Actor, change: Change) {
        self.step_with(actor, change, vec![], None);
    }

    fn step_with(
        &mut self,
        actor: &Actor,
        change: Change,
        evidence: Vec<anju_domain::event::Evidence>,
        reason: Option<String>,
    ) {
        let cmd = self.command(change, evidence, reason);
        let at = self.at();
        match decide(&self.state, &cmd, actor, at, self.dict) {
            Ok(e) => {
                self.state = apply(
                    std::mem::replace(&mut self.state, HouseState::new(e.house.clone())),
                    &e,
                );
                self.events.push(e);
            }
            Err(v) => panic!("demo step refused on {}: {v}", self.state.code),
        }
    }

    /// An illegal step made on purpose: it must be refused.
    fn attempt(&mut self, actor: &Actor, change: Change, what: &'static str) {
        let cmd = self.command(change, vec![], None);
        let at = self.at();
        match decide(&self.state, &cmd, actor, at, self.dict) {
            Ok(_) => panic!("demo's illegal {what} was accepted on {}", self.state.code),
            Err(violation) => self.refusals.push(Refusal {
                house: self.state.code.clone(),
                actor: actor.clone(),
                change: what,
                violation,
                at,
            }),
        }
    }

    fn control(&mut self, rng: &mut Rng, clerk: &Actor) {
        let m = *rng.pick(&[
            MgmtMeasure::StopUse,
            MgmtMeasure::Hoarding,
            MgmtMeasure::Cordon,
            MgmtMeasure::Evacuate,
        ]);
        self.step(clerk, Change::InterimControlApplied { measures: vec![m] });
    }

    fn engineer(&mut self, rng: &mut Rng, clerk: &Actor, rev: &Actor, m: EngMeasure) {
        self.step(clerk, start(m));
        self.wait(rng, 10, 40);
        let code = self.state.code.to_string();
        let mut evidence = vec![sample::evidence(
            EvidenceKind::PhotoBefore,
            &format!("{code}-整治前.jpg"),
        )];
        evidence.push(sample::evidence(
            if m == EngMeasure::Demolish {
                EvidenceKind::Photo
            } else {
                EvidenceKind::PhotoAfter
            },
            &format!("{code}-整治后.jpg"),
        ));
        self.step_with(
            rev,
            Change::EngineeringAccepted {
                measure: m,
                reviewer_names: rev.name.clone(),
                opinion: Some("工程措施已完成，经现场验收合格".into()),
            },
            evidence,
            None,
        );
    }

    fn finish(self, path: Path) -> DemoHouse {
        DemoHouse {
            path,
            events: self.events,
            state: self.state,
            refusals: self.refusals,
        }
    }
}

fn review(finding: ReviewFinding) -> Change {
    Change::Reviewed {
        reviewer_names: "专业技术人员".into(),
        finding,
        opinion: None,
    }
}

fn close(basis: ClosureBasis) -> Change {
    Change::Closed {
        basis,
        platform_closed_on: None,
    }
}

fn notify() -> Change {
    Change::OwnerNotified {
        method: "直接送达".into(),
        recipient: "产权人".into(),
    }
}

fn start(m: EngMeasure) -> Change {
    Change::EngineeringStarted {
        measure: m,
        contractor: Some("嘉祥县建筑工程有限公司".into()),
        deadline: None,
    }
}

fn appraisal(rng: &mut Rng, grade: Grade, post: bool, year: i32) -> Appraisal {
    Appraisal {
        agency_name: "济宁市房屋安全鉴定中心".into(),
        agency_credit_code: None,
        reviewer_names: "鉴定人员".into(),
        standard: "JGJ 125-2016".into(),
        report_no: format!("JNJD-{year}-{:05}", rng.below(100_000)),
        grade,
        advice: Some(match grade {
            Grade::A => HandlingAdvice::Observe,
            Grade::B => HandlingAdvice::TreatAndUse,
            Grade::C => HandlingAdvice::StopUse,
            Grade::D => HandlingAdvice::Demolish,
        }),
        post_rectification: post,
    }
}

fn appraise(rng: &mut Rng, grade: Grade, year: i32) -> Change {
    Change::Appraised(Box::new(appraisal(rng, grade, false, year)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_county() {
        let a = Demo::new(100, 7);
        let b = Demo::new(100, 7);
        for i in 0..100 {
            assert_eq!(a.house(i).events, b.house(i).events);
        }
        assert_ne!(Demo::new(100, 8).house(3).events, a.house(3).events);
    }

    #[test]
    fn every_path_is_walked_and_every_illegal_attempt_refused() {
        let demo = Demo::new(20_000, 1);
        let mut seen = std::collections::BTreeSet::new();
        let mut refused = std::collections::BTreeSet::new();
        for i in 0..20_000 {
            let h = demo.house(i);
            seen.insert(h.path);
            for r in &h.refusals {
                refused.insert(r.violation.code);
            }
            assert_eq!(h.state, HouseState::replay(h.state.code.clone(), &h.events));
        }
        assert_eq!(seen.len(), PATHS.len(), "{seen:?}");
        for code in [
            anju_domain::RuleCode::R1,
            anju_domain::RuleCode::R2,
            anju_domain::RuleCode::R3,
        ] {
            assert!(refused.contains(&code), "{code:?} never refused");
        }
    }

    #[test]
    fn in_progress_the_same_county_moves_so_that_today_falls_inside_the_campaign() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let moved = Demo::in_progress(300, 9, today);
        let notice = Demo::new(300, 9);
        // Day 85: 2026-09-06 is the first day; the deadlines fall on days 45, 81, 91 and 106.
        assert_eq!(moved.start, NaiveDate::from_ymd_opt(2026, 9, 6).unwrap());
        assert_eq!(
            moved.last_day,
            NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
        );
        let left: Vec<i64> = moved
            .deadlines()
            .iter()
            .map(|d| anju_domain::campaign::days_left(d.due, today))
            .collect();
        assert_eq!(left, [-40, -4, 6, 21]);
        assert_eq!(
            notice.deadlines(),
            anju_domain::campaign::default_deadlines()
        );
        let mut latest = NaiveDate::MIN;
        for i in 0..300 {
            let (a, b) = (moved.house(i), notice.house(i));
            assert_eq!((a.path, a.state.version), (b.path, b.state.version));
            assert_eq!(a.state.record, b.state.record);
            // The same history, every step moved by the same number of days.
            for (x, y) in a.events.iter().zip(&b.events) {
                assert_eq!(x.change.kind(), y.change.kind());
                latest = latest.max(x.effective);
            }
            assert_eq!(a.state, HouseState::replay(a.state.code.clone(), &a.events));
        }
        assert!(
            latest < today && latest >= today - Duration::days(30),
            "{latest}"
        );
    }

    #[test]
    fn the_demo_spreads_houses_over_the_real_villages_of_every_town() {
        let demo = Demo::new(3000, 7);
        assert_eq!(demo.villages.len(), 453);
        assert!(demo.villages.iter().any(|v| v.name == "东纸坊村"));
        for (t, _) in JIAXIANG_TOWNS {
            let used = (0..3000)
                .map(|i| demo.house(i).state.record.map(|r| r.village))
                .filter(|v| v.is_some_and(|v| v.as_str().starts_with(t)))
                .count();
            assert!(used > 0, "no demo house in town {t}");
        }
    }
}

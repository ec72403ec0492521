//! Ledger facts: the yes/no properties of one house that the two official ledgers count.
//! Stored as one integer per house (projection) and per event (for "as of" dates).

use serde::{Deserialize, Serialize};

/// A set of ledger facts. Bit positions are stored in the database: never renumber them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Facts(u32);

impl Facts {
    /// Surveyed (已排查).
    pub const SURVEYED: Facts = Facts(1);
    /// Business use (经营性) at that time.
    pub const BUSINESS: Facts = Facts(1 << 1);
    /// ① 初判隐患.
    pub const HAZARD: Facts = Facts(1 << 2);
    /// ② of ①, professional review found no hazard, not appraised, no engineering.
    pub const REVIEW_NO_HAZARD: Facts = Facts(1 << 3);
    /// ③ of ①, engineering completed and accepted without appraisal.
    pub const DIRECT_ENGINEERING: Facts = Facts(1 << 4);
    /// ④ of ①, appraised (before rectification).
    pub const APPRAISED: Facts = Facts(1 << 5);
    /// ⑤ of ④, graded C or D.
    pub const CD: Facts = Facts(1 << 6);
    /// ⑥ of ⑤, engineering completed and accepted.
    pub const CD_ENGINEERED: Facts = Facts(1 << 7);
    /// ⑦ of ①, closed on a valid basis and not reopened since.
    pub const CLOSED: Facts = Facts(1 << 8);
    /// Initial judgement 存在严重安全隐患.
    pub const SEVERE: Facts = Facts(1 << 9);
    /// 附件1 数量: closed earlier on management measures.
    pub const LEGACY: Facts = Facts(1 << 10);
    /// 附件1 经专业技术人员现场复核.
    pub const LOOK_BACK_DONE: Facts = Facts(1 << 11);
    /// 附件1 存在安全隐患.
    pub const LOOK_BACK_HAZARD: Facts = Facts(1 << 12);
    /// 附件1 工程措施整治.
    pub const LOOK_BACK_ENGINEERED: Facts = Facts(1 << 13);
    /// Owner notification recorded.
    pub const NOTIFIED: Facts = Facts(1 << 14);
    /// C/D or obviously unsafe, not closed, owner not yet notified (R3 dashboard).
    pub const NEEDS_NOTICE: Facts = Facts(1 << 15);
    /// Needs engineering, not closed, engineering not yet accepted.
    pub const NEEDS_ENGINEERING: Facts = Facts(1 << 16);

    pub const fn empty() -> Facts {
        Facts(0)
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn from_bits(bits: u32) -> Facts {
        Facts(bits)
    }

    pub const fn contains(self, other: Facts) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: Facts) {
        self.0 |= other.0;
    }

    pub fn set(&mut self, other: Facts, on: bool) {
        if on {
            self.0 |= other.0;
        } else {
            self.0 &= !other.0;
        }
    }
}

impl std::ops::BitOr for Facts {
    type Output = Facts;
    fn bitor(self, rhs: Facts) -> Facts {
        self.union(rhs)
    }
}

/// A counted column: houses whose facts include all of `all` and none of `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub all: Facts,
    pub none: Facts,
}

impl Count {
    pub const fn new(all: Facts, none: Facts) -> Count {
        Count { all, none }
    }

    pub fn matches(self, f: Facts) -> bool {
        f.contains(self.all) && f.0 & self.none.0 == 0
    }
}

const NONE: Facts = Facts::empty();
const B: Facts = Facts::BUSINESS;

/// The two official ledgers of the notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Form {
    /// 附件1 前期采取管理措施销号的自建房复核台账.
    Attachment1,
    /// 附件2 自建房安全专项整治攻坚行动工作台账.
    Attachment2,
}

/// 附件2's counted columns, in order. Rates and the online-inspection figures come on top.
pub const ATTACHMENT2_COUNTS: &[Count] = &[
    // 已排查自建房总量
    Count::new(Facts::SURVEYED, NONE),
    // 经营性: 已排查, 初判隐患, 动态销号
    Count::new(Facts::SURVEYED.union(B), NONE),
    Count::new(Facts::HAZARD.union(B), NONE),
    Count::new(Facts::CLOSED.union(Facts::HAZARD).union(B), NONE),
    // 非经营性: 已排查, ① … ⑦
    Count::new(Facts::SURVEYED, B),
    Count::new(Facts::HAZARD, B),
    Count::new(Facts::REVIEW_NO_HAZARD.union(Facts::HAZARD), B),
    Count::new(Facts::DIRECT_ENGINEERING.union(Facts::HAZARD), B),
    Count::new(Facts::APPRAISED.union(Facts::HAZARD), B),
    Count::new(Facts::CD.union(Facts::HAZARD), B),
    Count::new(Facts::CD_ENGINEERED.union(Facts::HAZARD), B),
    Count::new(Facts::CLOSED.union(Facts::HAZARD), B),
];

/// 附件1's counted columns, in order: 总量, then 经营性 and 非经营性 each 数量, 经专业技术人员现场复核,
/// 存在安全隐患, 工程措施整治.
pub const ATTACHMENT1_COUNTS: &[Count] = &[
    Count::new(Facts::LEGACY, NONE),
    Count::new(Facts::LEGACY.union(B), NONE),
    Count::new(Facts::LOOK_BACK_DONE.union(Facts::LEGACY).union(B), NONE),
    Count::new(Facts::LOOK_BACK_HAZARD.union(Facts::LEGACY).union(B), NONE),
    Count::new(
        Facts::LOOK_BACK_ENGINEERED.union(Facts::LEGACY).union(B),
        NONE,
    ),
    Count::new(Facts::LEGACY, B),
    Count::new(Facts::LOOK_BACK_DONE.union(Facts::LEGACY), B),
    Count::new(Facts::LOOK_BACK_HAZARD.union(Facts::LEGACY), B),
    Count::new(Facts::LOOK_BACK_ENGINEERED.union(Facts::LEGACY), B),
];

impl Form {
    pub fn counts(self) -> &'static [Count] {
        match self {
            Form::Attachment1 => ATTACHMENT1_COUNTS,
            Form::Attachment2 => ATTACHMENT2_COUNTS,
        }
    }
}

impl Facts {
    pub const fn union(self, other: Facts) -> Facts {
        Facts(self.0 | other.0)
    }
}

/// A rate shown as a percentage with two decimals; `None` (shown `—`, JSON null) when its
/// denominator is 0 — never 0% or 100%.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub numerator: i64,
    pub denominator: i64,
}

impl Rate {
    pub fn new(numerator: i64, denominator: i64) -> Rate {
        Rate {
            numerator,
            denominator,
        }
    }

    /// Hundredths of a percent, rounded half up: 2/3 → 6667 (66.67%).
    pub fn basis_points(self) -> Option<i64> {
        (self.denominator != 0).then(|| {
            let scaled = i128::from(self.numerator) * 10_000;
            let d = i128::from(self.denominator);
            ((scaled * 2 + d) / (d * 2)) as i64
        })
    }

    /// `66.67%`, or `—`.
    pub fn display(self) -> String {
        match self.basis_points() {
            Some(bp) => format!("{}.{:02}%", bp / 100, bp % 100),
            None => "—".into(),
        }
    }

    /// The percentage as a number with two decimals (66.67), or `None`.
    pub fn percent(self) -> Option<f64> {
        self.basis_points().map(|bp| bp as f64 / 100.0)
    }
}

/// One row of a ledger: a town (or village) or the 合计 row, with its counts in the order of
/// [`Form::counts`], plus the online-inspection problem figures of 附件2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub code: String,
    pub name: String,
    pub counts: Vec<i64>,
    /// 附件2 线上检查: problems with a verdict, and all problems (business-use houses).
    pub online_confirmed: i64,
    pub online_total: i64,
}

/// A consistency check that does not hold, shown beside the table (never "fixed").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckFailure {
    pub row: String,
    pub check: String,
}

impl LedgerRow {
    pub fn empty(code: &str, name: &str, form: Form) -> LedgerRow {
        LedgerRow {
            code: code.into(),
            name: name.into(),
            counts: vec![0; form.counts().len()],
            online_confirmed: 0,
            online_total: 0,
        }
    }

    pub fn add(&mut self, other: &LedgerRow) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.online_confirmed += other.online_confirmed;
        self.online_total += other.online_total;
    }

    /// 附件2: 问题确认率, 鉴定率 ④/(①−②−③), 整治率 (⑥+③)/(⑤+③), 销号率 ⑦/①.
    pub fn attachment2_rates(&self) -> [Rate; 4] {
        let c = &self.counts;
        [
            Rate::new(self.online_confirmed, self.online_total),
            Rate::new(c[8], c[5] - c[6] - c[7]),
            Rate::new(c[10] + c[7], c[9] + c[7]),
            Rate::new(c[11], c[5]),
        ]
    }

    /// The consistency checks of DOMAIN §5 (附件2) or their 附件1 counterparts.
    pub fn checks(&self, form: Form) -> Vec<CheckFailure> {
        let c = &self.counts;
        let rules: Vec<(bool, &str)> = match form {
            Form::Attachment2 => vec![
                (c[6] + c[7] + c[8] <= c[5], "②+③+④ ≤ ①"),
                (c[9] <= c[8], "⑤ ≤ ④"),
                (c[10] <= c[9], "⑥ ≤ ⑤"),
                (c[11] <= c[5], "⑦ ≤ ①"),
                (
                    self.online_confirmed <= self.online_total,
                    "问题确认数 ≤ 问题数",
                ),
                (c[1] + c[4] == c[0], "经营性 + 非经营性 = 已排查总量"),
                (
                    c[3] <= c[2] && c[2] <= c[1],
                    "经营性：动态销号 ≤ 初判隐患 ≤ 已排查",
                ),
            ],
            Form::Attachment1 => vec![
                (c[1] + c[5] == c[0], "经营性 + 非经营性 = 总量"),
                (c[2] <= c[1] && c[6] <= c[5], "现场复核数 ≤ 数量"),
                (c[3] <= c[2] && c[7] <= c[6], "存在安全隐患数 ≤ 现场复核数"),
                (
                    c[4] <= c[3] && c[8] <= c[7],
                    "工程措施整治数 ≤ 存在安全隐患数",
                ),
            ],
        };
        rules
            .into_iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, check)| CheckFailure {
                row: self.name.clone(),
                check: check.into(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_half_up_and_show_a_dash_for_zero_denominators() {
        assert_eq!(Rate::new(2, 3).display(), "66.67%");
        assert_eq!(Rate::new(1, 3).display(), "33.33%");
        assert_eq!(Rate::new(1, 8).display(), "12.50%");
        assert_eq!(Rate::new(1, 16).display(), "6.25%");
        assert_eq!(Rate::new(1, 20_000).display(), "0.01%");
        assert_eq!(Rate::new(1, 200_000).display(), "0.00%");
        assert_eq!(Rate::new(0, 0).display(), "—");
        assert_eq!(Rate::new(0, 0).percent(), None);
        assert_eq!(Rate::new(5, 5).percent(), Some(100.0));
    }

    #[test]
    fn a_count_needs_all_of_its_facts_and_none_of_the_excluded() {
        let f = Facts::SURVEYED | Facts::HAZARD;
        assert!(ATTACHMENT2_COUNTS[5].matches(f));
        assert!(!ATTACHMENT2_COUNTS[5].matches(f | Facts::BUSINESS));
        assert!(ATTACHMENT2_COUNTS[2].matches(f | Facts::BUSINESS));
    }
}

/// Which reading of "as of" a ledger uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "at", rename_all = "snake_case")]
pub enum AsOf {
    /// Today's projection.
    Now,
    /// What had happened by the end of this field date (effective dates).
    Happened(chrono::NaiveDate),
    /// What had been recorded by this instant (reproduces what was reported then).
    Recorded(chrono::DateTime<chrono::Utc>),
}

/// A computed ledger: one row per town (or village), the 合计 row, and the failed checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerTable {
    pub form: Form,
    /// 嘉祥县 or the town's name: the unit the ledger is for.
    pub unit: String,
    pub as_of: AsOf,
    pub rows: Vec<LedgerRow>,
    pub total: LedgerRow,
    pub checks: Vec<CheckFailure>,
}

impl LedgerTable {
    /// Adds the 合计 row and runs the consistency checks on every row.
    pub fn build(form: Form, unit: &str, as_of: AsOf, rows: Vec<LedgerRow>) -> LedgerTable {
        let mut total = LedgerRow::empty("", "合计", form);
        for r in &rows {
            total.add(r);
        }
        let checks = rows
            .iter()
            .chain(std::iter::once(&total))
            .flat_map(|r| r.checks(form))
            .collect();
        LedgerTable {
            form,
            unit: unit.into(),
            as_of,
            rows,
            total,
            checks,
        }
    }

    /// Data rows followed by the 合计 row.
    pub fn all_rows(&self) -> impl Iterator<Item = &LedgerRow> {
        self.rows.iter().chain(std::iter::once(&self.total))
    }
}

impl Form {
    pub fn title(self) -> &'static str {
        match self {
            Form::Attachment1 => "前期采取管理措施销号的自建房复核台账",
            Form::Attachment2 => "自建房安全专项整治攻坚行动工作台账",
        }
    }

    pub fn number(self) -> u8 {
        match self {
            Form::Attachment1 => 1,
            Form::Attachment2 => 2,
        }
    }

    pub fn from_number(n: u8) -> Option<Form> {
        match n {
            1 => Some(Form::Attachment1),
            2 => Some(Form::Attachment2),
            _ => None,
        }
    }

    /// Flat column headings (group-prefixed), after the 镇街 column: what CSV and JSON carry.
    pub fn headings(self) -> &'static [&'static str] {
        match self {
            Form::Attachment1 => &[
                "总量",
                "经营性自建房-数量",
                "经营性自建房-经专业技术人员现场复核数量",
                "经营性自建房-存在安全隐患数量",
                "经营性自建房-工程措施整治数量",
                "非经营性自建房-数量",
                "非经营性自建房-经专业技术人员现场复核数量",
                "非经营性自建房-存在安全隐患数量",
                "非经营性自建房-工程措施整治数量",
            ],
            Form::Attachment2 => &[
                "已排查自建房总量",
                "经营性-已排查经营性自建房数量",
                "经营性-整治销号-初判隐患数量",
                "经营性-整治销号-动态销号数量",
                "经营性-线上检查-问题确认/问题",
                "经营性-线上检查-问题确认率",
                "非经营性-已排查非经营性自建房数量",
                "①初判隐患数量",
                "②经技术人员鉴定复核无隐患数量",
                "③未鉴定直接工程措施数量",
                "④已鉴定数量",
                "⑤C、D级房屋数量",
                "鉴定率（④/①-②-③）",
                "⑥鉴定为C、D级房屋采取工程措施整治数量",
                "整治率（⑥+③/⑤+③）",
                "⑦已销号数量（含经技术人员复核无隐患、鉴定为A、B级、工程措施销号）",
                "销号率（⑦/①）",
            ],
        }
    }
}

/// One printed cell: a count, a rate, or the `a/b` problem figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Count(i64),
    Rate(Rate),
    Text(String),
}

impl Cell {
    /// As printed: `12`, `41.67%` or `—`, `3/4`.
    pub fn display(&self) -> String {
        match self {
            Cell::Count(n) => n.to_string(),
            Cell::Rate(r) => r.display(),
            Cell::Text(t) => t.clone(),
        }
    }
}

/// Where a cell's figure comes from, for drill-down: a counted column, or none (rates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellSource {
    Count(usize),
    Derived,
}

impl LedgerRow {
    /// The printed cells of this row in the order of [`Form::headings`].
    pub fn cells(&self, form: Form) -> Vec<(Cell, CellSource)> {
        let c = &self.counts;
        let n = |i: usize| (Cell::Count(c[i]), CellSource::Count(i));
        let rate = |r: Rate| (Cell::Rate(r), CellSource::Derived);
        match form {
            Form::Attachment1 => (0..c.len()).map(n).collect(),
            Form::Attachment2 => {
                let [confirm, appraisal, rectification, closure] = self.attachment2_rates();
                vec![
                    n(0),
                    n(1),
                    n(2),
                    n(3),
                    (
                        Cell::Text(format!("{}/{}", self.online_confirmed, self.online_total)),
                        CellSource::Derived,
                    ),
                    rate(confirm),
                    n(4),
                    n(5),
                    n(6),
                    n(7),
                    n(8),
                    n(9),
                    rate(appraisal),
                    n(10),
                    rate(rectification),
                    n(11),
                    rate(closure),
                ]
            }
        }
    }
}

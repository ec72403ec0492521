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
        Facts(self.0 | rhs.0)
    }
}

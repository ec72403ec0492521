//! The campaign's phases and deadlines (DOMAIN §8). Configurable; the notice's dates are the
//! defaults.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub phase: String,
    pub due: NaiveDate,
    /// What is overdue after the date (shown with the phase).
    pub overdue: String,
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
}

/// The notice's timeline.
pub fn default_deadlines() -> Vec<Deadline> {
    vec![
        Deadline {
            phase: "全面复查复核（含附件1回头看）".into(),
            due: d(2024, 4, 30),
            overdue: "历史销号未回头看".into(),
        },
        Deadline {
            phase: "攻坚行动报告报送（附件1、附件2签字）".into(),
            due: d(2024, 6, 5),
            overdue: "台账未签字报送".into(),
        },
        Deadline {
            phase: "集中整治攻坚（C、D级及明显危险房屋完成工程措施）".into(),
            due: d(2024, 6, 15),
            overdue: "C、D级未采取工程措施".into(),
        },
        Deadline {
            phase: "验收评估".into(),
            due: d(2024, 6, 30),
            overdue: "未完成验收评估".into(),
        },
    ]
}

/// Days from `today` to `due`: positive ahead, negative overdue.
pub fn days_left(due: NaiveDate, today: NaiveDate) -> i64 {
    (due - today).num_days()
}

//! Coded values: one code per value — the same string in the database, in forms, in JSON and
//! in event payloads — with the Chinese label users see beside it. Each value set is a plain
//! enum written inside [`coded!`](crate::coded), which derives strum's `IntoStaticStr` (the
//! code, snake case like serde's), `VariantArray` (every value, in order) and `EnumMessage`
//! (the label, as `#[strum(message = "…")]`), and implements [`Coded`]. A test below holds
//! every set's code equal to its serde form.

use strum::{EnumMessage, VariantArray};

/// A coded value set: the enum (its docs, any further derives, and each value's
/// `#[strum(message = "中文")]`), given the derives and snake-case codes every set shares, and
/// `impl Coded`.
#[macro_export]
macro_rules! coded {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            ::serde::Serialize,
            ::serde::Deserialize,
            ::strum::IntoStaticStr,
            ::strum::VariantArray,
            ::strum::EnumMessage,
        )]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        $vis enum $name { $($body)* }

        impl $crate::Coded for $name {}
    };
}

/// A value with one stable code and a Chinese label.
pub trait Coded: Copy + Eq + VariantArray + EnumMessage + Into<&'static str> + 'static {
    /// Every value, in display order.
    const ALL: &'static [Self] = Self::VARIANTS;

    /// The stable code used in the database, forms, JSON and events.
    fn code(self) -> &'static str {
        self.into()
    }

    /// The Chinese label shown to users and written in exported forms.
    fn label(self) -> &'static str {
        // Every coded value carries a message; the test below holds that.
        self.get_message().unwrap_or_else(|| self.code())
    }

    /// The value with this code.
    fn from_code(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.code() == s)
    }

    /// The value with this code or Chinese label (imported ledgers carry labels).
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.code() == s || v.label() == s)
    }
}

/// The labels of `values`, in order, joined by 、 as forms and ledgers list them.
pub fn joined_labels<T: Coded>(values: &[T]) -> String {
    values
        .iter()
        .map(|v| v.label())
        .collect::<Vec<_>>()
        .join("、")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Serialize, de::DeserializeOwned};
    use std::fmt::Debug;

    /// The code is the serde form, both ways; every value has its own label and code.
    fn one_code<T: Coded + Serialize + DeserializeOwned + Debug>() -> usize {
        let mut codes = std::collections::BTreeSet::new();
        let mut labels = std::collections::BTreeSet::new();
        for &v in T::ALL {
            let json = serde_json::to_value(v).unwrap();
            assert_eq!(json, serde_json::json!(v.code()), "{v:?}");
            assert_eq!(serde_json::from_value::<T>(json).unwrap(), v);
            assert!(v.get_message().is_some(), "{v:?} has no label");
            assert!(
                v.code()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
            assert_eq!(T::parse(v.label()), Some(v));
            assert_eq!(T::parse(&format!(" {} ", v.code())), Some(v));
            assert_eq!(T::from_code(v.code()), Some(v));
            assert!(codes.insert(v.code()) && labels.insert(v.label()), "{v:?}");
        }
        assert_eq!(T::from_code("NoSuchValue"), None);
        T::ALL.len()
    }

    #[test]
    fn every_coded_value_has_one_code_equal_to_its_serde_form_and_a_label() {
        use crate::campaign::Measure;
        use crate::dict::*;
        use crate::event::{ChangeKind, EvidenceKind, Role};
        use crate::problem::{ProblemCategory, ProblemSource, ProblemStatus};
        use crate::region::RegionChangeKind;
        use crate::report::ReportStatus;
        use crate::state::Status;
        let n = one_code::<Judgement>()
            + one_code::<RiskLevel>()
            + one_code::<Grade>()
            + one_code::<HandlingAdvice>()
            + one_code::<MgmtMeasure>()
            + one_code::<EngMeasure>()
            + one_code::<UsageCategory>()
            + one_code::<ReviewFinding>()
            + one_code::<ClosureBasis>()
            + one_code::<RegistrationSource>()
            + one_code::<ProblemSource>()
            + one_code::<ProblemCategory>()
            + one_code::<ProblemStatus>()
            + one_code::<Status>()
            + one_code::<Measure>()
            + one_code::<EvidenceKind>()
            + one_code::<ChangeKind>()
            + one_code::<ReportStatus>()
            + one_code::<RegionChangeKind>()
            + one_code::<Role>();
        // Counted by hand from the enums: 3+3+4+4+8+3+3+2+4+4, 7+6+7, 8+4+7+14+5+4+9.
        assert_eq!(n, 38 + 20 + 51);
    }

    #[test]
    fn codes_are_snake_case_even_for_initials() {
        use crate::dict::{ClosureBasis, Grade, Judgement};
        assert_eq!(Judgement::NoHazard.code(), "no_hazard");
        assert_eq!(Grade::C.code(), "c");
        assert_eq!(ClosureBasis::AppraisalAB.code(), "appraisal_a_b");
        assert_eq!(Grade::parse("C级"), Some(Grade::C));
    }
}

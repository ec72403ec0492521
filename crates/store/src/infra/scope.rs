//! Scope as SQL parameters. Every query that returns houses binds these three values, in this
//! order, through [`ScopeParams`]: there is no house query without them. The third value is
//! either a department code (its sector's houses) or an assignee key `assignee:<username>`
//! (the houses assigned to a reviewer); the two never look alike.

use anju_domain::Scope;

/// A scope lowered to bind values: a half-open range of village codes, and optionally a
/// department whose sector the house must belong to.
#[derive(Debug, Clone)]
pub struct ScopeParams {
    pub lo: String,
    pub hi: String,
    /// A department code or an assignee key (see the module doc).
    pub key: Option<String>,
}

/// The SQL condition matching [`ScopeParams`] bound at `$1`, `$2`, `$3` against alias `h`.
/// Kept as a literal fragment so each statement stays one static string.
#[macro_export]
macro_rules! scope_sql {
    () => {
        $crate::scope_sql!(@house_id "h.id")
    };
    // The condition with the house's id read from `$id` (a house row or a span row).
    (@house_id $id:literal) => {
        concat!(
            "h.village_code >= $1 AND h.village_code < $2 AND (CAST($3 AS TEXT) IS NULL OR EXISTS \
             (SELECT 1 FROM house_sectors s WHERE s.house_id = ",
            $id,
            " AND s.department_code = $3) OR EXISTS \
             (SELECT 1 FROM assignments a WHERE a.assignee = $3 AND a.house_id = ",
            $id,
            "))"
        )
    };
}

/// [`scope_sql!`] for alias `h` being a `fact_spans` row (its village as of the span).
#[macro_export]
macro_rules! scope_sql_spans {
    () => {
        $crate::scope_sql!(@house_id "h.house_id")
    };
}

impl ScopeParams {
    pub fn of(scope: &Scope) -> ScopeParams {
        // Bounds are digits only (or a letter, above every digit): any collation, PostgreSQL's
        // locale-aware ones included, orders them as plain bytes do.
        let range = |prefix: &str| (prefix.to_string(), successor(prefix));
        match scope {
            Scope::All => {
                let (lo, hi) = range("");
                ScopeParams { lo, hi, key: None }
            }
            Scope::Region { code } => {
                let (lo, hi) = range(code.prefix());
                ScopeParams { lo, hi, key: None }
            }
            Scope::Department { department, within } => {
                let (lo, hi) = range(within.prefix());
                ScopeParams {
                    lo,
                    hi,
                    key: Some(department.clone()),
                }
            }
            Scope::Assigned { assignee } => {
                let (lo, hi) = range("");
                ScopeParams {
                    lo,
                    hi,
                    key: Some(assignee.clone()),
                }
            }
            // An empty range: matches no code.
            Scope::Nothing => ScopeParams {
                lo: "1".into(),
                hi: "0".into(),
                key: None,
            },
        }
    }
}

/// The smallest digit string above every code starting with `prefix`: the prefix plus one,
/// as a decimal number of the same width ("370829109" -> "370829110"); "a" when there is none.
fn successor(prefix: &str) -> String {
    let mut digits = prefix.as_bytes().to_vec();
    while let Some(last) = digits.pop() {
        if last < b'9' {
            digits.push(last + 1);
            return String::from_utf8(digits).expect("ASCII digits");
        }
    }
    "a".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anju_domain::RegionCode;

    #[test]
    fn a_town_scope_is_the_range_of_its_village_codes() {
        let p = ScopeParams::of(&Scope::Region {
            code: RegionCode::parse("370829109").unwrap(),
        });
        assert_eq!((p.lo.as_str(), p.hi.as_str()), ("370829109", "37082911"));
        assert!("370829109203" >= p.lo.as_str() && "370829109203" < p.hi.as_str());
        assert!("370829110001" >= p.hi.as_str());
        assert_eq!(successor("370829199"), "3708292");
        assert_eq!(successor(""), "a");
    }
}

//! Limits on free text wherever it enters (forms, the JSON API, imports, an events import): no
//! control characters — a NUL that one database stores and the other refuses, invisible
//! characters that make two names look alike — and bounded lengths and list sizes, so that a
//! 500,000-character remark or 10,000 repeated items are refused with the field named.

/// Longest free text of a step: a reason, an opinion, a remark, an address.
pub const MAX_TEXT: usize = 2_000;
/// Most values a multi-value field (hazard items, business types, measures) may hold.
pub const MAX_LIST: usize = 50;

/// Whether `c` may appear in text people type: anything printable, and line breaks and tabs.
fn allowed(c: char) -> bool {
    !c.is_control() || matches!(c, '\n' | '\r' | '\t')
}

/// `value` as a field named `label` may hold it: no control characters, at most `max`
/// characters. The message names the field in Chinese.
pub fn check(label: &str, value: &str, max: usize) -> Result<(), String> {
    if let Some(c) = value.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "“{label}”含有不可见的控制字符（U+{:04X}），请删除后重新填写",
            c as u32
        ));
    }
    let n = value.chars().count();
    if n > max {
        return Err(format!("“{label}”不能超过 {max} 个字（现有 {n} 个）"));
    }
    Ok(())
}

/// Every string and list inside a value (a command as JSON): strings checked with [`check`]
/// against [`MAX_TEXT`], lists held to [`MAX_LIST`]. `label` names a field from its key.
pub fn check_json(
    v: &serde_json::Value,
    key: &str,
    label: &dyn Fn(&str) -> String,
) -> Result<(), String> {
    match v {
        serde_json::Value::String(s) => check(&label(key), s, MAX_TEXT),
        serde_json::Value::Array(items) => {
            if items.len() > MAX_LIST {
                return Err(format!(
                    "“{}”最多 {MAX_LIST} 项（现有 {} 项）",
                    label(key),
                    items.len()
                ));
            }
            items.iter().try_for_each(|i| check_json(i, key, label))
        }
        serde_json::Value::Object(map) => map.iter().try_for_each(|(k, v)| check_json(v, k, label)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_overlong_text_are_refused_by_name() {
        assert_eq!(check("事由", "整改完成\n已复核\t签字", 100), Ok(()));
        let e = check("事由", "a\u{0}b", 100).unwrap_err();
        assert!(e.contains("“事由”") && e.contains("U+0000"), "{e}");
        assert!(check("事由", "\u{1b}[31m", 100).is_err());
        let e = check("备注", &"字".repeat(101), 100).unwrap_err();
        assert!(e.contains("不能超过 100 个字（现有 101 个）"), "{e}");
        assert_eq!(check("备注", &"字".repeat(100), 100), Ok(()));
    }

    #[test]
    fn nested_values_are_walked_and_long_lists_refused() {
        let label = |k: &str| format!("字段{k}");
        let ok = serde_json::json!({"a": ["x", "y"], "b": {"c": "z"}, "n": 3});
        assert_eq!(check_json(&ok, "", &label), Ok(()));
        let nul = serde_json::json!({"b": {"c": "z\u{0}"}});
        assert!(check_json(&nul, "", &label).unwrap_err().contains("字段c"));
        let many = serde_json::json!({"items": vec!["x"; 51]});
        let e = check_json(&many, "", &label).unwrap_err();
        assert!(e.contains("字段items") && e.contains("51"), "{e}");
    }
}

//! The schema's migrations, one file per migration for both backends
//! (`crates/store/migrations/NNNN_name.sql`). A line that starts `--sqlite ` belongs to SQLite
//! only, one that starts `--postgres ` to PostgreSQL only (the marker alone stands for an empty
//! line); every other line belongs to both. Each backend's text is rendered from the file once
//! per process, and sqlx's migrator records its SHA-384: the rendered text of an applied
//! migration must never change (a test pins every checksum databases already hold).

use std::sync::LazyLock;

/// (version, name, template), in order.
const SOURCES: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "accounts",
        include_str!("../../migrations/0002_accounts.sql"),
    ),
    (3, "list", include_str!("../../migrations/0003_list.sql")),
    (
        4,
        "problems",
        include_str!("../../migrations/0004_problems.sql"),
    ),
    (
        5,
        "supervision",
        include_str!("../../migrations/0005_supervision.sql"),
    ),
    (
        6,
        "event_chain",
        include_str!("../../migrations/0006_event_chain.sql"),
    ),
    (
        7,
        "audit_view",
        include_str!("../../migrations/0007_audit_view.sql"),
    ),
    (
        8,
        "import_pending",
        include_str!("../../migrations/0008_import_pending.sql"),
    ),
    (
        9,
        "one_code",
        include_str!("../../migrations/0009_one_code.sql"),
    ),
    (10, "map", include_str!("../../migrations/0010_map.sql")),
    (
        11,
        "map_cells",
        include_str!("../../migrations/0011_map_cells.sql"),
    ),
];

/// One of the two SQL dialects a migration is written for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn marker(self) -> &'static str {
        match self {
            Dialect::Sqlite => "--sqlite",
            Dialect::Postgres => "--postgres",
        }
    }
}

/// The text of a migration file as `dialect` runs it: the other dialect's lines dropped, this
/// dialect's markers taken off, shared lines kept byte for byte.
pub fn render(template: &str, dialect: Dialect) -> String {
    let mine = dialect.marker();
    let mut lines = Vec::new();
    for line in template.split('\n') {
        if let Some(rest) = line.strip_prefix(mine) {
            if rest.is_empty() {
                lines.push("");
            } else if let Some(text) = rest.strip_prefix(' ') {
                lines.push(text);
            } else {
                // `--sqlitefoo`: not a marker, a shared line.
                lines.push(line);
            }
        } else if is_marked(line) {
            continue;
        } else {
            lines.push(line);
        }
    }
    lines.join("\n")
}

fn is_marked(line: &str) -> bool {
    [Dialect::Sqlite, Dialect::Postgres].iter().any(|d| {
        line.strip_prefix(d.marker())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    })
}

fn rendered(dialect: Dialect) -> Vec<(i64, &'static str, &'static str)> {
    SOURCES
        .iter()
        .map(|&(version, name, template)| {
            // Rendered once per process and kept for its life, like the embedded files.
            let sql: &'static str = Box::leak(render(template, dialect).into_boxed_str());
            (version, name, sql)
        })
        .collect()
}

static SQLITE: LazyLock<Vec<(i64, &'static str, &'static str)>> =
    LazyLock::new(|| rendered(Dialect::Sqlite));
static POSTGRES: LazyLock<Vec<(i64, &'static str, &'static str)>> =
    LazyLock::new(|| rendered(Dialect::Postgres));

/// This build's migrations for `dialect`: (version, name, SQL).
pub fn migrations(dialect: Dialect) -> &'static [(i64, &'static str, &'static str)] {
    match dialect {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha384};

    /// The SHA-384 that sqlx recorded for each migration on databases made before the two
    /// dialects shared one file: `sha384sum sqlite/*.sql postgres/*.sql` over the separate files
    /// as they were at f14aeed. Rendering must give the same text, or every existing database
    /// would refuse to start.
    const RECORDED: &str = include_str!("../../migrations/recorded-sha384.txt");

    #[test]
    fn every_rendered_migration_keeps_the_checksum_databases_hold() {
        let recorded: Vec<(Dialect, i64, &str)> = RECORDED
            .lines()
            .map(|line| {
                let (digest, path) = line.split_once("  ").expect("digest  path");
                let (dir, file) = path.split_once('/').expect("dialect/file");
                let dialect = match dir {
                    "sqlite" => Dialect::Sqlite,
                    "postgres" => Dialect::Postgres,
                    other => panic!("unknown dialect {other}"),
                };
                let version = file[..4].parse().expect("NNNN_name.sql");
                (dialect, version, digest)
            })
            .collect();
        let rendered: Vec<String> = [Dialect::Sqlite, Dialect::Postgres]
            .iter()
            .flat_map(|&d| {
                migrations(d).iter().map(move |(version, name, sql)| {
                    let dir = format!("{d:?}").to_lowercase();
                    format!("{}  {dir}/{version:04}_{name}.sql", hex(sql))
                })
            })
            .collect();
        assert_eq!(
            recorded.len(),
            rendered.len(),
            "every migration's checksums belong in recorded-sha384.txt:\n{}",
            rendered.join("\n")
        );
        for (dialect, version, recorded) in recorded {
            let (_, name, sql) = migrations(dialect)
                .iter()
                .find(|m| m.0 == version)
                .unwrap_or_else(|| panic!("migration {version} missing"));
            assert_eq!(
                hex(sql),
                recorded,
                "{dialect:?} migration {version} ({name})"
            );
        }
    }

    fn hex(sql: &str) -> String {
        hex::encode(Sha384::digest(sql.as_bytes()))
    }

    #[test]
    fn lines_are_split_by_their_marker() {
        let t = "A\n--sqlite B\n--postgres C\n--sqlite\n  D\n--sqliteX\n";
        assert_eq!(render(t, Dialect::Sqlite), "A\nB\n\n  D\n--sqliteX\n");
        assert_eq!(render(t, Dialect::Postgres), "A\nC\n  D\n--sqliteX\n");
    }
}

//! Reference data: regions and their history, departments, the business-type → department
//! table and the editable dictionaries. Seeded on first start; editable later.

use crate::infra::db::{Db, Tx};
use crate::infra::error::{Result, StoreError};
use crate::{on_db, on_tx};
use anju_domain::Coded;
use anju_domain::codes::RegionCode;
use anju_domain::dict::{DEFAULT_DEPARTMENTS, DEFAULT_SECTORS, Dictionaries};
use anju_domain::region::{Region, RegionChange, RegionChangeKind};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Everything reference-shaped, as one value: what the event log carries besides events.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reference {
    pub regions: Vec<Region>,
    pub region_changes: Vec<RegionChange>,
    pub departments: Vec<(String, String)>,
    pub sectors: Vec<(String, String)>,
    pub dictionaries: Dictionaries,
}

impl Reference {
    /// The defaults every county starts with: the notice's departments, sector table and
    /// dictionaries. No regions: those come from the national table for one county (`anju init`).
    pub fn defaults() -> Reference {
        Reference {
            regions: vec![],
            region_changes: vec![],
            departments: pairs(DEFAULT_DEPARTMENTS),
            sectors: pairs(DEFAULT_SECTORS),
            dictionaries: Dictionaries::default(),
        }
    }

    /// business type → department code.
    pub fn sector_map(&self) -> BTreeMap<String, String> {
        self.sectors.iter().cloned().collect()
    }

    /// A region's name, or its code when the reference data has no region of that code.
    pub fn region_name(&self, code: &str) -> String {
        self.regions
            .iter()
            .find(|r| r.code.as_str() == code)
            .map_or_else(|| code.to_string(), |r| r.name.clone())
    }
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Inserts what is missing; existing rows are left alone (seeding is idempotent).
pub async fn insert_missing(tx: &mut Tx, r: &Reference) -> Result<()> {
    const DEPT: &str =
        "INSERT INTO departments (code, name) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING";
    const SECTOR: &str = "INSERT INTO sector_departments (business_type, department_code) VALUES ($1, $2) ON CONFLICT (business_type) DO NOTHING";
    const DICT: &str = "INSERT INTO dictionary_entries (kind, label, position, active) VALUES ($1, $2, $3, TRUE) ON CONFLICT (kind, label) DO NOTHING";
    // Parents first, so the foreign key holds.
    let mut regions = r.regions.clone();
    regions.sort_by_key(|x| (x.level, x.code));
    for x in &regions {
        crate::campaign::regions::insert(tx, x).await?;
    }
    on_tx!(tx, c => {
        for (code, name) in &r.departments {
            sqlx::query(DEPT).bind(code).bind(name).execute(&mut *c).await?;
        }
        for (bt, dept) in &r.sectors {
            sqlx::query(SECTOR).bind(bt).bind(dept).execute(&mut *c).await?;
        }
        for (kind, labels) in &r.dictionaries.kinds {
            for (i, label) in labels.iter().enumerate() {
                sqlx::query(DICT).bind(kind).bind(label).bind(i as i32).execute(&mut *c).await?;
            }
        }
    });
    for ch in &r.region_changes {
        crate::campaign::regions::record_change(tx, ch, 0, "system", true).await?;
    }
    Ok(())
}

/// A row of `regions` as [`REGIONS`] reads it.
#[derive(sqlx::FromRow)]
struct RegionRow {
    code: String,
    name: String,
    parent_code: Option<String>,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    is_demo: bool,
    reports_separately: bool,
}

fn region_rows(rows: Vec<RegionRow>) -> Result<Vec<Region>> {
    let mut regions = Vec::with_capacity(rows.len());
    for RegionRow {
        code,
        name,
        parent_code: parent,
        valid_from,
        valid_to,
        is_demo,
        reports_separately,
    } in rows
    {
        let code = RegionCode::parse(&code).map_err(corrupt)?;
        regions.push(Region {
            level: code.level(),
            code,
            name,
            parent: parent
                .map(|p| RegionCode::parse(&p))
                .transpose()
                .map_err(corrupt)?,
            valid_from,
            valid_to,
            is_demo,
            reports_separately,
        });
    }
    Ok(regions)
}

const REGIONS: &str = "SELECT code, name, parent_code, valid_from, valid_to, is_demo, reports_separately FROM regions ORDER BY code";

/// The regions as a write transaction sees them (for checks that must not race a writer).
pub async fn load_regions(tx: &mut Tx) -> Result<Vec<Region>> {
    let rows: Vec<RegionRow> = on_tx!(tx, c => sqlx::query_as(REGIONS).fetch_all(&mut *c).await)?;
    region_rows(rows)
}

/// Loads all reference data, in a stable order.
pub async fn load(db: &Db) -> Result<Reference> {
    const CHANGES: &str = "SELECT old_code, new_code, old_name, effective, kind, note FROM region_changes ORDER BY effective, id";
    const DEPTS: &str = "SELECT code, name FROM departments ORDER BY code";
    const SECTORS: &str =
        "SELECT business_type, department_code FROM sector_departments ORDER BY business_type";
    const DICT: &str =
        "SELECT kind, label FROM dictionary_entries WHERE active ORDER BY kind, position, label";
    let rows: Vec<RegionRow> = on_db!(db, p => sqlx::query_as(REGIONS).fetch_all(p).await)?;
    let regions = region_rows(rows)?;
    let rows: Vec<(String, String, String, NaiveDate, String, String)> =
        on_db!(db, p => sqlx::query_as(CHANGES).fetch_all(p).await)?;
    let mut region_changes = Vec::with_capacity(rows.len());
    for (old, new, old_name, effective, kind, note) in rows {
        region_changes.push(RegionChange {
            old: RegionCode::parse(&old).map_err(corrupt)?,
            new: RegionCode::parse(&new).map_err(corrupt)?,
            old_name,
            effective,
            kind: RegionChangeKind::from_code(&kind)
                .ok_or_else(|| corrupt(format!("region change kind {kind}")))?,
            note,
        });
    }
    let departments = on_db!(db, p => sqlx::query_as(DEPTS).fetch_all(p).await)?;
    let sectors = on_db!(db, p => sqlx::query_as(SECTORS).fetch_all(p).await)?;
    let entries: Vec<(String, String)> = on_db!(db, p => sqlx::query_as(DICT).fetch_all(p).await)?;
    let mut kinds: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, l) in entries {
        kinds.entry(k).or_default().push(l);
    }
    Ok(Reference {
        regions,
        region_changes,
        departments,
        sectors,
        dictionaries: Dictionaries { kinds },
    })
}

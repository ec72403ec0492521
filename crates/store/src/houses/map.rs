//! The map: where houses are, aggregated on the server.
//!
//! Each house's position lives in the projection (`lon`, `lat`) with its cell on a fine grid
//! of [`GRID`] cells per degree (`gx`, `gy`, migration 0010). Up to zoom 14 the map asks for
//! cells of `2^k` fine cells a side, summed from the counted cells in `map_cells` (migration
//! 0011): triggers on `houses` append +1/−1 rows of [`COUNTED_SIDE`] fine cells a side by town,
//! village, status, judgement, grade, facts and business in each write's own transaction, and
//! [`Store::compact_map_cells`] sums rows of one key now and then, so the county's map reads
//! tens of thousands of rows, not a million houses. Filters the counts cannot answer (search,
//! department, a department's or assignee's scope) fall back to one `GROUP BY gx / d, gy / d`
//! over the houses. Either is kept (like the list's totals) while the audit chain's head is
//! unchanged, and one reader per answer reads it afresh after a write. From zoom 15 the map
//! asks for the houses themselves within the view (found by the index `houses_tile`) — codes,
//! positions, status and grade, never personal data. Every read takes a scope (through
//! [`crate::access::Access`]).

use crate::houses::list::{Bind, HouseFilter, bind_all, where_of};
use crate::infra::error::Result;
use crate::{Store, on_db, on_tx};
use anju_domain::auth::Action;
use anju_domain::ledger::Facts;
use anju_domain::{HouseState, Scope};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Fine grid cells per degree (about 27 m of latitude).
pub const GRID: f64 = 4096.0;

/// The zoom (web-map levels, 0 = the world in one 256-px tile) from which the map shows
/// houses rather than cells.
pub const POINTS_ZOOM: u8 = 15;

/// At most this many houses in one answer of points; beyond it the view is answered in cells.
pub const MAX_POINTS: i64 = 3000;

/// A house's position on the map: the survey's fix when there is one, else the registration
/// record's 经度/纬度; none when neither is known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub lon: f64,
    pub lat: f64,
    pub gx: i64,
    pub gy: i64,
}

impl Position {
    pub fn of(s: &HouseState) -> Option<Position> {
        let (lon, lat) = match (&s.survey_location, &s.record) {
            (Some(fix), _) => (fix.longitude, fix.latitude),
            (None, Some(r)) => (r.longitude?, r.latitude?),
            (None, None) => return None,
        };
        Position::at(lon, lat)
    }

    /// The position of a point in China (the bounds records are checked against), else none.
    pub fn at(lon: f64, lat: f64) -> Option<Position> {
        let ok = lon.is_finite() && lat.is_finite() && (0.0..=180.0).contains(&lon);
        (ok && (0.0..=90.0).contains(&lat)).then(|| Position {
            lon,
            lat,
            gx: (lon * GRID).floor() as i64,
            gy: (lat * GRID).floor() as i64,
        })
    }
}

/// The side of a map cell at `zoom`, in fine cells: about 90 px on screen at any zoom.
pub fn cell_side(zoom: u8) -> i64 {
    1 << (19_i32 - i32::from(zoom)).clamp(0, 16)
}

/// The view's extent in degrees (west, south, east, north).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
}

/// One cell: where its houses are on average, how many, and how many of each status, grade
/// (`none` for not appraised) and overdue C/D (not notified or no engineering begun).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cell {
    pub lon: f64,
    pub lat: f64,
    pub n: i64,
    pub status: BTreeMap<String, i64>,
    pub grade: BTreeMap<String, i64>,
    pub overdue: i64,
}

/// One house on the map (no personal data).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Point {
    pub code: String,
    pub lon: f64,
    pub lat: f64,
    pub status: String,
    pub grade: Option<String>,
    pub overdue: bool,
}

/// What the map shows for a view: cells, or (zoomed in, few enough) the houses themselves.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MapData {
    Cells {
        /// The cell side in degrees.
        side: f64,
        cells: Vec<Cell>,
    },
    Points {
        points: Vec<Point>,
    },
}

/// Answers by statement and parameters, with the audit head they were read at.
#[derive(Default)]
pub(crate) struct MapCache {
    map: std::collections::HashMap<String, (i64, Arc<dyn std::any::Any + Send + Sync>)>,
    /// One reader per key reads afresh after a write; the others wait for its answer.
    flights: std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    /// A compaction of `map_cells` is running in this process.
    compacting: bool,
    /// The rows `map_cells` held after this process last compacted it.
    compacted_rows: i64,
}

/// The side of a counted cell in `map_cells`, in fine cells (the map's cell at zoom 14). Written
/// as the literal 32 in migration 0011 and in [`push_bbox`] (the index `houses_tile`).
pub const COUNTED_SIDE: i64 = 32;

/// `map_cells` is compacted when it spans this many more rows than after the last compaction
/// (and twice as many).
const COMPACT_AFTER: i64 = 20_000;

/// Where the cells of a whole scope are counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellSource {
    /// The counted cells the triggers keep (`map_cells`).
    Counted,
    /// Every located house in scope (`houses_map`).
    Houses,
}

const MAP_CACHE_MAX: usize = 256;

/// A town's or village's place on the fallback base layer: the centre of its located houses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    pub code: String,
    pub lon: f64,
    pub lat: f64,
    pub n: i64,
}

/// The facts that make a house an overdue C/D (as the dashboard's 逾期事项 count them).
fn overdue_sql(w: &mut crate::houses::list::Where) -> String {
    let a = i64::from(Facts::NEEDS_NOTICE.bits());
    let b = i64::from(Facts::NEEDS_ENGINEERING.bits());
    let pa = w.p(Bind::Int(a));
    let pb = w.p(Bind::Int(b));
    format!("((h.facts & {pa}) = {pa} OR (h.facts & {pb}) = {pb})")
}

impl Store {
    /// What the map shows of the houses within `scope` that match `filter`, at `zoom`: cells of
    /// the whole scope up to zoom 12 (the county or a town in one answer); cells meeting the
    /// view `bbox` at 13 and 14; from [`POINTS_ZOOM`] the houses in the view when at most
    /// [`MAX_POINTS`] are there, else the counted cells of the view. Every answer is cached
    /// until the audit chain's head moves.
    pub(crate) async fn map_data(
        &self,
        scope: &Scope,
        filter: &HouseFilter,
        zoom: u8,
        bbox: Option<Bbox>,
    ) -> Result<Arc<MapData>> {
        if let Some(q) = &filter.q {
            anju_domain::text::check("搜索", q, 100).map_err(crate::StoreError::Invalid)?;
        }
        let zoom = zoom.min(20);
        let bbox = if zoom >= 13 { bbox } else { None };
        if zoom >= POINTS_ZOOM
            && let Some(b) = bbox
            && let Some(points) = self.map_points(scope, filter, b).await?.as_ref()
        {
            return Ok(Arc::new(MapData::Points {
                points: points.clone(),
            }));
        }
        // Cells from the counted cells, at their own size when the view is closer than they
        // go (too many houses to show one by one); else from the houses.
        let (sql, binds, zoom, counted) = match counted_statement(scope, filter, zoom.min(14), bbox)
        {
            Some((sql, binds)) => (sql, binds, zoom.min(14), true),
            None => {
                let (sql, binds) = cells_statement(scope, filter, zoom, bbox);
                (sql, binds, zoom, false)
            }
        };
        let side = cell_side(zoom) as f64 / GRID;
        self.cached_map(format!("{sql}\u{1f}{binds:?}"), async {
            if counted {
                self.compact_map_cells_if_due().await;
            }
            Ok(MapData::Cells {
                side,
                cells: self.cells(&sql, &binds).await?,
            })
        })
        .await
    }

    /// The cells of the whole of `scope` at `zoom` (at most 12) read afresh from `source`,
    /// without the cache: for tests that hold the two sources equal, and `anju bench`. `None`
    /// when the counted cells cannot answer `filter` or `scope`.
    pub(crate) async fn map_cells_fresh(
        &self,
        scope: &Scope,
        filter: &HouseFilter,
        zoom: u8,
        source: CellSource,
    ) -> Result<Option<Vec<Cell>>> {
        let zoom = zoom.min(12);
        let statement = match source {
            CellSource::Counted => counted_statement(scope, filter, zoom, None),
            CellSource::Houses => Some(cells_statement(scope, filter, zoom, None)),
        };
        match statement {
            Some((sql, binds)) => Ok(Some(self.cells(&sql, &binds).await?)),
            None => Ok(None),
        }
    }

    /// Sums the rows of each key in `map_cells` into one, dropping keys that sum to nothing,
    /// in one transaction; answers are the same before and after. Returns the rows left.
    /// Writers are not held up on PostgreSQL (they only insert, and the statement deletes only
    /// rows it sees); on SQLite it takes the write lock for as long as it runs.
    pub async fn compact_map_cells(&self) -> Result<i64> {
        const KEY: &str =
            "town_code, village_code, cx, cy, status, judgement, grade, facts, is_business";
        let mut tx = self.db.begin().await?;
        match &mut tx {
            crate::infra::db::Tx::Sqlite(c) => {
                let max: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM map_cells")
                    .fetch_one(&mut **c)
                    .await?;
                let sum = format!(
                    "INSERT INTO map_cells ({KEY}, n, sx, sy) SELECT {KEY}, SUM(n), SUM(sx), SUM(sy) \
                     FROM map_cells WHERE id <= $1 GROUP BY {KEY} HAVING SUM(n) <> 0"
                );
                sqlx::query(sqlx::AssertSqlSafe(sum))
                    .bind(max)
                    .execute(&mut **c)
                    .await?;
                sqlx::query("DELETE FROM map_cells WHERE id <= $1")
                    .bind(max)
                    .execute(&mut **c)
                    .await?;
            }
            crate::infra::db::Tx::Postgres(c) => {
                // One compaction at a time; one statement, so it sums exactly what it deletes.
                sqlx::query("SELECT pg_advisory_xact_lock(7302)")
                    .execute(&mut **c)
                    .await?;
                let sum = format!(
                    "WITH gone AS (DELETE FROM map_cells RETURNING {KEY}, n, sx, sy) \
                     INSERT INTO map_cells ({KEY}, n, sx, sy) SELECT {KEY}, SUM(n), SUM(sx), SUM(sy) \
                     FROM gone GROUP BY {KEY} HAVING SUM(n) <> 0"
                );
                sqlx::query(sqlx::AssertSqlSafe(sum))
                    .execute(&mut **c)
                    .await?;
            }
        }
        let rows: i64 = on_tx!(&mut tx, c => sqlx::query_scalar("SELECT COUNT(*) FROM map_cells").fetch_one(&mut *c).await)?;
        tx.commit().await?;
        self.maps.lock().expect("map cache").compacted_rows = rows;
        Ok(rows)
    }

    /// Compacts `map_cells` when it has grown by [`COMPACT_AFTER`] rows and doubled since this
    /// process last did (one compaction at a time; a failure is logged and the read goes on,
    /// as the uncompacted rows give the same answer). Also called after bulk writes (import,
    /// demo), so the next map read does not pay for them.
    pub async fn compact_map_cells_if_due(&self) {
        const SPAN: &str = "SELECT COALESCE(MAX(id), 0) - COALESCE(MIN(id), 0) + 1 FROM map_cells";
        let span: i64 = match on_db!(&self.db, p => sqlx::query_scalar(SPAN).fetch_one(p).await) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "map cells: could not measure");
                return;
            }
        };
        {
            let mut cache = self.maps.lock().expect("map cache");
            let base = cache.compacted_rows;
            if cache.compacting || span < base + COMPACT_AFTER || span < 2 * base {
                return;
            }
            cache.compacting = true;
        }
        let done = self.compact_map_cells().await;
        self.maps.lock().expect("map cache").compacting = false;
        match done {
            Ok(rows) => tracing::info!(span, rows, "map cells compacted"),
            Err(e) => tracing::warn!(error = %e, "map cells: compaction failed"),
        }
    }

    /// `T` under `key` (a statement and its parameters) from the cache while the audit chain's
    /// head has not moved (every write appends an audit row), else `read`, then kept.
    async fn cached_map<T: Send + Sync + 'static>(
        &self,
        key: String,
        read: impl std::future::Future<Output = Result<T>>,
    ) -> Result<Arc<T>> {
        let head = self.audit_head_id().await?;
        let hit = || match self.maps.lock().expect("map cache").map.get(&key) {
            Some((at, v)) if *at == head => v.clone().downcast::<T>().ok(),
            _ => None,
        };
        if let Some(v) = hit() {
            return Ok(v);
        }
        // Concurrent readers of one key after a write: the first reads, the rest wait and
        // take its answer.
        let flight = self
            .maps
            .lock()
            .expect("map cache")
            .flights
            .entry(key.clone())
            .or_default()
            .clone();
        let _flying = flight.lock().await;
        if let Some(v) = hit() {
            return Ok(v);
        }
        let v = Arc::new(read.await?);
        let mut cache = self.maps.lock().expect("map cache");
        if cache.map.len() >= MAP_CACHE_MAX {
            cache.map.retain(|_, (at, _)| *at == head);
            if cache.map.len() >= MAP_CACHE_MAX {
                cache.map.clear();
            }
        }
        if cache.flights.len() >= MAP_CACHE_MAX {
            // Waiters hold their own handle; a later reader of a dropped key starts a new one.
            cache.flights.clear();
        }
        let any: Arc<dyn std::any::Any + Send + Sync> = v.clone();
        cache.map.insert(key, (head, any));
        Ok(v)
    }

    /// The cell statement run afresh (also `anju bench`'s store figure, without the cache).
    async fn cells(&self, sql: &str, binds: &[Bind]) -> Result<Vec<Cell>> {
        type Row = (i64, i64, String, Option<String>, i64, i64, i64, i64);
        let rows: Vec<Row> = on_db!(&self.db, p => {
            let query = bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string())), binds);
            query.fetch_all(p).await
        })?;
        let mut cells: BTreeMap<(i64, i64), (Cell, i64, i64)> = BTreeMap::new();
        for (cx, cy, status, grade, n, sx, sy, late) in rows {
            let (c, gx, gy) = cells.entry((cx, cy)).or_insert_with(|| {
                (
                    Cell {
                        lon: 0.0,
                        lat: 0.0,
                        n: 0,
                        status: BTreeMap::new(),
                        grade: BTreeMap::new(),
                        overdue: 0,
                    },
                    0,
                    0,
                )
            });
            c.n += n;
            *c.status.entry(status).or_default() += n;
            *c.grade
                .entry(grade.unwrap_or_else(|| "none".into()))
                .or_default() += n;
            c.overdue += late;
            *gx += sx;
            *gy += sy;
        }
        Ok(cells
            .into_values()
            .map(|(mut c, gx, gy)| {
                // The mean fine cell's centre.
                c.lon = (gx as f64 / c.n as f64 + 0.5) / GRID;
                c.lat = (gy as f64 / c.n as f64 + 0.5) / GRID;
                c
            })
            .collect())
    }

    /// The houses in the view, by code, or none when there are more than [`MAX_POINTS`]
    /// (cached like the cells).
    async fn map_points(
        &self,
        scope: &Scope,
        filter: &HouseFilter,
        b: Bbox,
    ) -> Result<Arc<Option<Vec<Point>>>> {
        let mut w = where_of(scope, filter);
        w.conds.push("h.gx IS NOT NULL".into());
        push_bbox(&mut w, b);
        let overdue = overdue_sql(&mut w);
        let pl = w.p(Bind::Int(MAX_POINTS + 1));
        let sql = format!(
            "SELECT h.code, h.lon, h.lat, h.status, h.grade, \
             CASE WHEN {overdue} THEN TRUE ELSE FALSE END AS overdue \
             FROM houses h WHERE {} LIMIT {pl}",
            w.conds.join(" AND ")
        );
        let key = format!("{sql}\u{1f}{:?}", w.binds);
        self.cached_map(key, async {
            let mut points: Vec<Point> = on_db!(&self.db, p => {
                let query = bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &w.binds);
                query.fetch_all(p).await
            })?;
            // Sorted here: in SQL, ORDER BY code could tempt a planner to walk the code index.
            points.sort_by(|a, b| a.code.cmp(&b.code));
            Ok((points.len() as i64 <= MAX_POINTS).then_some(points))
        })
        .await
    }

    /// Each town and village within `scope` that has located houses, at their centre (the base
    /// layer when no tile server is configured), towns first.
    pub(crate) async fn map_places(&self, scope: &Scope) -> Result<Arc<Vec<Place>>> {
        let mut w = where_of(scope, &HouseFilter::default());
        w.conds.push("h.gx IS NOT NULL".into());
        let sql = format!(
            "SELECT h.town_code, h.village_code, COUNT(*), SUM(h.gx), SUM(h.gy) FROM houses h \
             WHERE {} GROUP BY h.town_code, h.village_code ORDER BY h.town_code, h.village_code",
            w.conds.join(" AND ")
        );
        let key = format!("{sql}\u{1f}{:?}", w.binds);
        self.cached_map(key, async {
            let rows: Vec<(String, String, i64, i64, i64)> = on_db!(&self.db, p => {
                let query = bind_all!(sqlx::query_as(sqlx::AssertSqlSafe(sql)), &w.binds);
                query.fetch_all(p).await
            })?;
            let mut towns: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
            for (town, _, n, sx, sy) in &rows {
                let t = towns.entry(town.clone()).or_default();
                *t = (t.0 + n, t.1 + sx, t.2 + sy);
            }
            let place = |code: String, n: i64, sx: i64, sy: i64| Place {
                code,
                lon: (sx as f64 / n as f64 + 0.5) / GRID,
                lat: (sy as f64 / n as f64 + 0.5) / GRID,
                n,
            };
            Ok(towns
                .into_iter()
                .map(|(code, (n, sx, sy))| place(code, n, sx, sy))
                .chain(
                    rows.into_iter()
                        .map(|(_, v, n, sx, sy)| place(v, n, sx, sy)),
                )
                .collect())
        })
        .await
    }

    /// Positions for houses stored before migration 0010, once (the marker row goes with the
    /// last batch). Reads each house's state and record as the house page does.
    pub(crate) async fn backfill_map_positions(&self) -> Result<()> {
        const PENDING: &str = "SELECT COUNT(*) FROM map_backfill_pending";
        let pending: i64 = on_db!(&self.db, p => sqlx::query_scalar(PENDING).fetch_one(p).await)?;
        if pending == 0 {
            return Ok(());
        }
        let sql = format!(
            "SELECT h.id, h.state, {} FROM houses h WHERE h.id > $1 ORDER BY h.id LIMIT 1000",
            crate::record_payload_sql!()
        );
        const SET: &str = "UPDATE houses SET lon = $2, lat = $3, gx = $4, gy = $5 WHERE id = $1";
        let mut after = 0_i64;
        loop {
            let rows: Vec<(i64, String, Option<String>)> = on_db!(&self.db, p => {
                sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(after).fetch_all(p).await
            })?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            let mut tx = self.db.begin().await?;
            for (id, state, record) in &rows {
                let s = crate::houses::parse_state(state, record.as_deref())?;
                if let Some(at) = Position::of(&s) {
                    on_tx!(&mut tx, c => sqlx::query(SET).bind(id).bind(at.lon).bind(at.lat)
                        .bind(at.gx as i32).bind(at.gy as i32).execute(&mut *c).await.map(|r| r.rows_affected()))?;
                }
            }
            tx.commit().await?;
        }
        let mut tx = self.db.begin().await?;
        on_tx!(&mut tx, c => sqlx::query("DELETE FROM map_backfill_pending")
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(())
    }
}

impl crate::access::Access<'_> {
    /// [`Store::map_data`] within the account's scope.
    pub async fn map_data(
        &self,
        filter: &HouseFilter,
        zoom: u8,
        bbox: Option<Bbox>,
    ) -> Result<Arc<MapData>> {
        self.require(Action::ReadHouses, "houses").await?;
        self.store.map_data(&self.scope(), filter, zoom, bbox).await
    }

    /// [`Store::map_places`] within the account's scope.
    pub async fn map_places(&self) -> Result<Arc<Vec<Place>>> {
        self.require(Action::ReadHouses, "houses").await?;
        self.store.map_places(&self.scope()).await
    }
}

/// The cell statement of a view: `GROUP BY` the cell, status and grade over the covering index.
pub(crate) fn cells_statement(
    scope: &Scope,
    filter: &HouseFilter,
    zoom: u8,
    bbox: Option<Bbox>,
) -> (String, Vec<Bind>) {
    let mut w = where_of(scope, filter);
    w.conds.push("h.gx IS NOT NULL".into());
    if let Some(b) = bbox {
        push_bbox(&mut w, b);
    }
    let overdue = overdue_sql(&mut w);
    let pd = w.p(Bind::Int(cell_side(zoom)));
    let sql = format!(
        "SELECT h.gx / {pd} AS cx, h.gy / {pd} AS cy, h.status, h.grade, COUNT(*) AS n, \
         SUM(h.gx) AS sx, SUM(h.gy) AS sy, SUM(CASE WHEN {overdue} THEN 1 ELSE 0 END) AS late \
         FROM houses h WHERE {} GROUP BY h.gx / {pd}, h.gy / {pd}, h.status, h.grade",
        w.conds.join(" AND ")
    );
    (sql, w.binds)
}

/// The cell statement of a scope over the counted cells, or none when `scope` or `filter` asks
/// what they do not hold (a department's or assignee's scope, a department, a search) or
/// `zoom` is finer than they are. With a view box, the counted cells that meet it (so a cell at
/// the edge counts whole).
pub(crate) fn counted_statement(
    scope: &Scope,
    filter: &HouseFilter,
    zoom: u8,
    bbox: Option<Bbox>,
) -> Option<(String, Vec<Bind>)> {
    let searched = filter.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    let keyed = crate::infra::scope::ScopeParams::of(scope).key.is_some();
    if keyed || searched || filter.department.is_some() || cell_side(zoom) < COUNTED_SIDE {
        return None;
    }
    // Only columns map_cells shares with houses: village and town codes, status, judgement,
    // grade, facts, business.
    let mut w = where_of(scope, filter);
    if let Some(b) = bbox {
        w.conds.push(view_cells(b).condition("h.cx", "h.cy")?);
    }
    let overdue = overdue_sql(&mut w);
    let pd = w.p(Bind::Int(cell_side(zoom) / COUNTED_SIDE));
    let sql = format!(
        "SELECT h.cx / {pd} AS cx, h.cy / {pd} AS cy, h.status, h.grade, CAST(SUM(h.n) AS BIGINT) AS n, \
         CAST(SUM(h.sx) AS BIGINT) AS sx, CAST(SUM(h.sy) AS BIGINT) AS sy, \
         CAST(SUM(CASE WHEN {overdue} THEN h.n ELSE 0 END) AS BIGINT) AS late \
         FROM map_cells h WHERE {} GROUP BY h.cx / {pd}, h.cy / {pd}, h.status, h.grade \
         HAVING SUM(h.n) <> 0",
        w.conds.join(" AND ")
    );
    Some((sql, w.binds))
}

/// The view as a range of fine cells, and as the counted cells it meets, which the index
/// `houses_tile` on `(gx / 32, gy / 32)` finds without reading the rest of the scope.
fn push_bbox(w: &mut crate::houses::list::Where, b: Bbox) {
    if let Some(tiles) = view_cells(b).condition("(h.gx / 32)", "(h.gy / 32)") {
        w.conds.push(tiles);
    }
    let at = |v: f64| (v.clamp(0.0, 180.0) * GRID).floor() as i64;
    let (x0, x1, y0, y1) = (at(b.west), at(b.east), at(b.south), at(b.north));
    let px0 = w.p(Bind::Int(x0));
    let px1 = w.p(Bind::Int(x1));
    let py0 = w.p(Bind::Int(y0));
    let py1 = w.p(Bind::Int(y1));
    w.conds.push(format!(
        "h.gx >= {px0} AND h.gx <= {px1} AND h.gy >= {py0} AND h.gy <= {py1}"
    ));
}

/// The counted cells (of [`COUNTED_SIDE`] fine cells) a view meets: its columns and rows.
struct ViewCells {
    x0: i64,
    x1: i64,
    y0: i64,
    y1: i64,
}

fn view_cells(b: Bbox) -> ViewCells {
    let at = |v: f64| (v.clamp(0.0, 180.0) * GRID).floor() as i64 / COUNTED_SIDE;
    ViewCells {
        x0: at(b.west.min(b.east)),
        x1: at(b.east.max(b.west)),
        y0: at(b.south.min(b.north)),
        y1: at(b.north.max(b.south)),
    }
}

/// At most this many columns are listed (a wider view reads the scope's index instead).
const MAX_TILE_COLUMNS: i64 = 256;

impl ViewCells {
    /// `x IN (columns…) AND y BETWEEN rows`: one index range per column, on both backends
    /// (neither skips through a leading range). Integers computed here, written as literals.
    fn condition(&self, x: &str, y: &str) -> Option<String> {
        if self.x1 - self.x0 >= MAX_TILE_COLUMNS {
            return None;
        }
        let columns: Vec<String> = (self.x0..=self.x1).map(|c| c.to_string()).collect();
        Some(format!(
            "{x} IN ({}) AND {y} >= {} AND {y} <= {}",
            columns.join(", "),
            self.y0,
            self.y1
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_keep_about_the_same_size_on_screen() {
        assert_eq!(cell_side(10), 512);
        assert_eq!(cell_side(13), 64);
        assert_eq!(cell_side(19), 1);
        assert_eq!(cell_side(20), 1);
        assert_eq!(cell_side(0), 65536);
    }

    #[test]
    fn a_position_is_its_fine_cell() {
        let p = Position::at(116.0, 36.5).unwrap();
        assert_eq!((p.gx, p.gy), (116 * 4096, 36 * 4096 + 2048));
        assert!(Position::at(f64::NAN, 36.0).is_none());
        assert!(Position::at(200.0, 36.0).is_none());
    }
}

/// The settings key of the base map's tile server.
pub const TILES_KEY: &str = "map_tiles";

/// A tile server: an `http(s)` URL template with `{z}`, `{x}` and `{y}` (and optionally `{s}`
/// for a subdomain), and the attribution its terms ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Tiles {
    pub url: String,
    #[serde(default)]
    pub attribution: String,
}

impl Tiles {
    /// The checked setting, or none for an empty URL (no base map: the towns' and villages'
    /// places instead), or why it is refused.
    pub fn parse(url: &str, attribution: &str) -> std::result::Result<Option<Tiles>, String> {
        let url = url.trim();
        let attribution = attribution.trim();
        if url.is_empty() {
            return Ok(None);
        }
        anju_domain::text::check("底图署名", attribution, 200)?;
        if url.len() > 500 {
            return Err("底图地址不能超过 500 个字符".into());
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or("底图地址须以 http:// 或 https:// 开头")?;
        if let Some(c) = url
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "\"'<>\\`^|;,".contains(*c))
        {
            return Err(format!("底图地址不能含有“{c}”"));
        }
        for p in ["{z}", "{x}", "{y}"] {
            if !url.contains(p) {
                return Err(format!(
                    "底图地址须含有 {p}（如 https://…/{{z}}/{{x}}/{{y}}.png）"
                ));
            }
        }
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let name = host.strip_prefix("{s}.").unwrap_or(host);
        let (name, port) = match name.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (name, None),
        };
        let name_ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
        if !name_ok || !port_ok {
            return Err(format!("底图地址的主机名无效：{host}"));
        }
        Ok(Some(Tiles {
            url: url.to_string(),
            attribution: attribution.to_string(),
        }))
    }

    /// Where the tiles come from, as a CSP source (`https://*.example.cn` for `{s}.`).
    pub fn origin(&self) -> String {
        let (scheme, rest) = self.url.split_once("://").unwrap_or(("https", &self.url));
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        match host.strip_prefix("{s}.") {
            Some(h) => format!("{scheme}://*.{h}"),
            None => format!("{scheme}://{host}"),
        }
    }
}

impl Store {
    /// The base map's tile server, if the county office configured one.
    pub async fn map_tiles(&self) -> Result<Option<Tiles>> {
        Ok(match self.setting(TILES_KEY).await? {
            Some(v) if !v.is_empty() => Some(
                serde_json::from_str(&v)
                    .map_err(|e| crate::StoreError::Corrupt(format!("map tiles: {e}")))?,
            ),
            _ => None,
        })
    }

    /// Sets (or, with an empty URL, clears) the tile server, checked, with its audit row.
    pub async fn set_map_tiles(
        &self,
        by: &anju_domain::auth::Principal,
        url: &str,
        attribution: &str,
        source: &str,
    ) -> crate::accounts::AuthResult<()> {
        crate::campaign::settings::require_county_wide(by)?;
        let new = Tiles::parse(url, attribution).map_err(crate::AuthError::Invalid)?;
        let old = self.map_tiles().await?;
        let value = new
            .as_ref()
            .map(|t| serde_json::to_string(t).expect("serializes"))
            .unwrap_or_default();
        let detail = serde_json::json!({ "old": old, "new": new });
        let e = crate::accounts::admin(self.now(), by, source).entry(
            "setting.map_tiles",
            TILES_KEY,
            detail,
        );
        self.put_setting(TILES_KEY, &value, &e).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tile_tests {
    use super::Tiles;

    #[test]
    fn a_tile_url_is_an_http_template_with_z_x_y() {
        let t = Tiles::parse(
            " https://t{s}.example.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=abc ",
            "天地图",
        );
        // {s} must start the host to be a subdomain; here it is part of the name.
        assert_eq!(t, Err("底图地址的主机名无效：t{s}.example.cn".to_string()));
        let t = Tiles::parse("https://{s}.tile.example.cn/{z}/{x}/{y}.png", " 某县 ")
            .unwrap()
            .unwrap();
        assert_eq!(t.attribution, "某县");
        assert_eq!(t.origin(), "https://*.tile.example.cn");
        let t = Tiles::parse("http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png", "")
            .unwrap()
            .unwrap();
        assert_eq!(t.origin(), "http://10.1.2.3:8080");
        assert_eq!(Tiles::parse("  ", "x"), Ok(None));
        assert!(Tiles::parse("ftp://a.cn/{z}/{x}/{y}", "").is_err());
        assert!(Tiles::parse("javascript:alert(1)//{z}{x}{y}", "").is_err());
        assert!(Tiles::parse("https://a.cn/{z}/{x}.png", "").is_err());
        assert!(Tiles::parse("https://a.cn/{z}/{x}/{y}.png; script-src *", "").is_err());
        assert!(Tiles::parse("https://a.cn:99999/{z}/{x}/{y}.png", "").is_err());
        assert!(Tiles::parse("https:///{z}/{x}/{y}.png", "").is_err());
    }
}

-- The map's county-scale counts without reading every house: one row per change to a located
-- house, +1 for the cell and classification it enters and -1 for the one it leaves, written by
-- triggers in the same transaction as the house. Cells are 32 fine cells a side (1/128 degree,
-- the map's cell at zoom 14); coarser cells are sums of them. Rows of the same key are summed
-- into one now and then (store/src/houses/map.rs, compact_map_cells). Nothing but these triggers and
-- that compaction writes here; it is derived data and left out of backups (the restore's
-- houses rebuild it through the triggers).
CREATE TABLE map_cells (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    town_code    TEXT NOT NULL,
    village_code TEXT NOT NULL,
    cx           INTEGER NOT NULL,
    cy           INTEGER NOT NULL,
    status       TEXT NOT NULL,
    judgement    TEXT,
    grade        TEXT,
    facts        INTEGER NOT NULL,
    is_business  BOOLEAN NOT NULL,
    n            INTEGER NOT NULL,
    sx           BIGINT NOT NULL,
    sy           BIGINT NOT NULL
);
CREATE INDEX map_cells_village ON map_cells(village_code);
-- A zoomed-in view: the counted cells it meets, one index range per column.
CREATE INDEX map_cells_at ON map_cells(cx, cy);
-- Houses in a view (points from zoom 15) by the same cells, rather than through the whole
-- scope's houses_map.
CREATE INDEX houses_tile ON houses((gx / 32), (gy / 32)) WHERE gx IS NOT NULL;

CREATE TRIGGER map_cells_insert AFTER INSERT ON houses WHEN NEW.gx IS NOT NULL BEGIN
    INSERT INTO map_cells (town_code, village_code, cx, cy, status, judgement, grade, facts, is_business, n, sx, sy)
    VALUES (NEW.town_code, NEW.village_code, NEW.gx / 32, NEW.gy / 32, NEW.status, NEW.judgement, NEW.grade, NEW.facts, NEW.is_business, 1, NEW.gx, NEW.gy);
END;

CREATE TRIGGER map_cells_delete AFTER DELETE ON houses WHEN OLD.gx IS NOT NULL BEGIN
    INSERT INTO map_cells (town_code, village_code, cx, cy, status, judgement, grade, facts, is_business, n, sx, sy)
    VALUES (OLD.town_code, OLD.village_code, OLD.gx / 32, OLD.gy / 32, OLD.status, OLD.judgement, OLD.grade, OLD.facts, OLD.is_business, -1, -OLD.gx, -OLD.gy);
END;

CREATE TRIGGER map_cells_update AFTER UPDATE ON houses
WHEN OLD.town_code IS NOT NEW.town_code OR OLD.village_code IS NOT NEW.village_code
  OR OLD.gx IS NOT NEW.gx OR OLD.gy IS NOT NEW.gy OR OLD.status IS NOT NEW.status
  OR OLD.judgement IS NOT NEW.judgement OR OLD.grade IS NOT NEW.grade
  OR OLD.facts IS NOT NEW.facts OR OLD.is_business IS NOT NEW.is_business
BEGIN
    INSERT INTO map_cells (town_code, village_code, cx, cy, status, judgement, grade, facts, is_business, n, sx, sy)
    SELECT OLD.town_code, OLD.village_code, OLD.gx / 32, OLD.gy / 32, OLD.status, OLD.judgement, OLD.grade, OLD.facts, OLD.is_business, -1, -OLD.gx, -OLD.gy
    WHERE OLD.gx IS NOT NULL;
    INSERT INTO map_cells (town_code, village_code, cx, cy, status, judgement, grade, facts, is_business, n, sx, sy)
    SELECT NEW.town_code, NEW.village_code, NEW.gx / 32, NEW.gy / 32, NEW.status, NEW.judgement, NEW.grade, NEW.facts, NEW.is_business, 1, NEW.gx, NEW.gy
    WHERE NEW.gx IS NOT NULL;
END;

-- The houses already located, as one row per key.
INSERT INTO map_cells (town_code, village_code, cx, cy, status, judgement, grade, facts, is_business, n, sx, sy)
SELECT town_code, village_code, gx / 32, gy / 32, status, judgement, grade, facts, is_business, COUNT(*), SUM(gx), SUM(gy)
FROM houses WHERE gx IS NOT NULL
GROUP BY town_code, village_code, gx / 32, gy / 32, status, judgement, grade, facts, is_business;

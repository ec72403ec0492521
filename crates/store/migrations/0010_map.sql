-- The map: each house's position (the survey's fix, else the registration record's 经度/纬度)
-- and its cell on a fine grid (1/4096 degree, about 27 m), so the map aggregates by integer
-- division of two indexed columns rather than by arithmetic on every row's coordinates.
--sqlite ALTER TABLE houses ADD COLUMN lon REAL;
--sqlite ALTER TABLE houses ADD COLUMN lat REAL;
--postgres ALTER TABLE houses ADD COLUMN lon DOUBLE PRECISION;
--postgres ALTER TABLE houses ADD COLUMN lat DOUBLE PRECISION;
ALTER TABLE houses ADD COLUMN gx INTEGER;
ALTER TABLE houses ADD COLUMN gy INTEGER;
-- Covering for a scope's cells by status, grade and overdue facts (a county reads only this index).
CREATE INDEX houses_map ON houses(village_code, gx, gy, status, grade, facts) WHERE gx IS NOT NULL;
-- Houses stored before this migration get their positions once, on open (store/src/map.rs).
CREATE TABLE map_backfill_pending (id INTEGER PRIMARY KEY);
INSERT INTO map_backfill_pending (id) VALUES (1);

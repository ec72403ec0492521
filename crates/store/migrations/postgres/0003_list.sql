-- The house list by town in code order (list.rs states a single town as an equality).
CREATE INDEX houses_town_code ON houses(town_code, code);

-- The house list by town in code order (list.rs states a single town as an equality), and the
-- same narrowed by the two filters the list is used with most (initial judgement, status), so a
-- page is an index range rather than a scan of the town.
CREATE INDEX houses_town_code ON houses(town_code, code);
CREATE INDEX houses_town_judgement ON houses(town_code, judgement, code);
CREATE INDEX houses_town_status ON houses(town_code, status, code);

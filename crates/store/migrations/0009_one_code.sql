-- One code per value. The house projection's judgement and grade columns held the Rust variant's
-- name ('NoHazard', 'C') while JSON, event payloads and now forms use the snake-case code
-- ('no_hazard', 'c'). Rewrite the stored codes; the events (and their hash chain) are untouched,
-- as they always carried the snake-case form.
UPDATE houses SET judgement = CASE judgement
        WHEN 'NoHazard' THEN 'no_hazard'
        WHEN 'Hazard' THEN 'hazard'
        WHEN 'Severe' THEN 'severe'
    END
WHERE judgement IN ('NoHazard', 'Hazard', 'Severe');

UPDATE houses SET grade = lower(grade) WHERE grade IN ('A', 'B', 'C', 'D');

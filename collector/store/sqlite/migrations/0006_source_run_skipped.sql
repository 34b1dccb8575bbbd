-- 0006_source_run_skipped: what an importer run skipped, by reason, as a
-- JSON object ({"too_large": 2}); '' when nothing was.
ALTER TABLE source_runs ADD COLUMN skipped TEXT NOT NULL DEFAULT '';

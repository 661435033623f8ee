-- Who withdrew a dataset: `publisher` (its own agency) or `admin` (the platform's operator).
-- Readers of a withdrawn dataset are told, with the reason.
ALTER TABLE datasets ADD COLUMN withdrawn_by TEXT;

-- The disk a version's downloads take (every format written beside its Parquet file when it is
-- published), in bytes.
ALTER TABLE versions ADD COLUMN exports_bytes INTEGER NOT NULL DEFAULT 0;

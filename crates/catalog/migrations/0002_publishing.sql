-- Publishing: API keys, upload jobs and the audit log.

-- A key belongs to one publisher. Only the sha256 of the secret is kept.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    publisher_id TEXT NOT NULL REFERENCES publishers (id),
    label        TEXT NOT NULL DEFAULT '',
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX api_keys_publisher ON api_keys (publisher_id);

-- One upload being turned into a version: queued, running, succeeded or failed.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    dataset_id    TEXT NOT NULL REFERENCES datasets (id),
    state         TEXT NOT NULL,
    actor         TEXT NOT NULL,
    key_id        TEXT,
    source_name   TEXT,
    source_bytes  INTEGER NOT NULL,
    source_sha256 TEXT NOT NULL,
    -- JSON: the ingest options (sheet, header_row, encoding).
    options       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT,
    rows          INTEGER,
    version       INTEGER,
    unchanged     INTEGER NOT NULL DEFAULT 0,
    -- JSON: the ingest Report on success; {code, message, details} on failure.
    report        TEXT,
    error         TEXT
);
CREATE INDEX jobs_dataset ON jobs (dataset_id, created_at);
CREATE INDEX jobs_state ON jobs (state);

-- Every write: who, with which key, what, on what, from where, and how it ended.
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    actor        TEXT NOT NULL,
    key_id       TEXT,
    publisher_id TEXT,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    address      TEXT,
    status       INTEGER NOT NULL,
    detail       TEXT
);
CREATE INDEX audit_publisher ON audit (publisher_id, id);

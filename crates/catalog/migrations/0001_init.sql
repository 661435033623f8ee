-- Publishers (agencies), datasets and their immutable versions.
CREATE TABLE publishers (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    homepage    TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE datasets (
    id               TEXT PRIMARY KEY,
    publisher_id     TEXT NOT NULL REFERENCES publishers (id),
    title            TEXT NOT NULL,
    -- The full metadata document (DatasetMetadata) as JSON.
    metadata         TEXT NOT NULL,
    -- Lower-case, diacritic-free title, description, keywords, themes and publisher, for `q`.
    search_text      TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    modified_at      TEXT NOT NULL,
    withdrawn_at     TEXT,
    withdrawn_reason TEXT
);
CREATE INDEX datasets_publisher ON datasets (publisher_id);

CREATE TABLE versions (
    dataset_id    TEXT NOT NULL REFERENCES datasets (id),
    number        INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    rows          INTEGER NOT NULL,
    bytes         INTEGER NOT NULL,
    -- sha256 of the Parquet file, hex.
    sha256        TEXT NOT NULL,
    -- Path of the Parquet file relative to the blob folder.
    blob          TEXT NOT NULL,
    source_name   TEXT,
    source_sha256 TEXT NOT NULL,
    -- JSON: [Field], the ingest Report, and the Changes against the previous version.
    schema        TEXT NOT NULL,
    report        TEXT NOT NULL,
    changes       TEXT NOT NULL,
    PRIMARY KEY (dataset_id, number)
);

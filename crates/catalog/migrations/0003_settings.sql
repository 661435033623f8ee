-- Server-wide settings shared by every replica (e.g. the secret that signs page cursors), and
-- the publisher of the key behind each audited write (which may differ from the publisher
-- acted on, when a key is refused on another publisher's dataset).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

ALTER TABLE audit ADD COLUMN key_publisher_id TEXT;
CREATE INDEX audit_key_publisher ON audit (key_publisher_id, id);

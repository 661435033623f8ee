//! Integration tests of ingest on the shared agency corpus and on generated tables.

mod bad;
mod cases;
mod fixtures;
mod helpers;
mod roundtrip;

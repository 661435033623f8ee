//! `/api/v1/publishers`: the agencies, and (for the administrator) their keys.

pub mod create;
pub mod keys;
pub mod list;

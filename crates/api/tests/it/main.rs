//! Integration tests of the API crate: the router through `tower::ServiceExt::oneshot`, no port.

mod contract;
mod helpers;
mod openapi;
mod operations;
mod publishing;
mod records;

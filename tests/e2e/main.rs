//! End-to-end: the real `opendata` binary over real HTTP on a free port, with the bundled
//! datasets published into a temporary data folder.

mod backup;
mod cli;
mod http;
mod publishing;

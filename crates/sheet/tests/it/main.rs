//! The integration tests of `sheet`, one binary: a module per area (linking each
//! file as its own binary cost a link of the whole dependency tree per file).

mod big_file;
mod bombs;
mod common;
mod csv;
mod fuzz;
mod xlsx;

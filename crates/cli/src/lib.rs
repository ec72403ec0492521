//! The `anju` command's parts, as a library so integration tests drive the same code.
#![forbid(unsafe_code)]

pub mod admin;
pub mod backup;
pub mod bench;
pub mod bench_import;
pub mod bench_map;
pub mod bench_web;
pub mod config;
pub mod demo;
pub mod events;
pub mod import;
pub mod ledger;
pub mod regions;
pub mod report;
pub mod serve;

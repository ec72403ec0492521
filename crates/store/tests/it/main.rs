//! The integration tests of `store`, one binary: a module per area (linking each
//! file as its own binary cost a link of the whole dependency tree per file).

mod chain;
mod import;
mod ledger;
mod lifecycle;
mod list;
mod map;
mod problems;
mod property;
mod regions;
mod register;
mod security;
mod supervision;

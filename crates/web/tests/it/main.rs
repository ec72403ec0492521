//! The integration tests of `web`, one binary: a module per area (linking each
//! file as its own binary cost a link of the whole dependency tree per file).

mod admin;
mod api;
mod audit;
mod auth;
mod browser;
mod campaign;
mod common;
mod faults;
mod golive;
mod houses;
mod import;
mod ledgers;
mod matrix;
mod offline;
mod plaque;
mod plausible;
mod problems;
mod record;
mod reports;
mod steps;

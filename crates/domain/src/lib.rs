//! Anju's domain: the self-built house campaign's regions, house record, lifecycle events, the
//! rules that accept or refuse each step, and the ledger facts. Pure: no I/O, no async.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bounds;
pub mod campaign;
pub mod coded;
pub mod codes;
pub mod columns;
pub mod dict;
pub mod event;
pub mod house;
pub mod import;
pub mod ledger;
pub mod offer;
pub mod problem;
pub mod region;
pub mod report;
pub mod rules;
pub mod sample;
pub mod state;
pub mod steps;
pub mod text;

pub use coded::Coded;
pub use codes::{HouseCode, RegionCode, RegionLevel};
pub use event::{Actor, Change, ChangeKind, Command, Event, Role};
pub use ledger::Facts;
pub use region::Scope;
pub use rules::{RuleCode, RuleViolation, decide};
pub use state::{HouseState, Status, apply};

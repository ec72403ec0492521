//! The plumbing under every room: the two backends (`db`), rows to events (`codec`), the clock,
//! errors and what they mean (`error`, `health`), the schema (`migrations`), scope as SQL (`scope`), the audit trail
//! (`audit`, `audit_view`), reference data, keys (`vault`) and whole-system backup (`backup`).

pub mod audit;
pub mod audit_view;
pub mod backup;
pub mod clock;
pub mod codec;
pub mod db;
pub mod error;
pub mod health;
pub mod migrations;
pub mod reference;
pub mod scope;
pub mod vault;

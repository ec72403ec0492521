//! The campaign the county runs over the houses: the problem ledger (`problems`), supervision
//! notices (`supervision`), what each account must do next (`reminders`), the county's regions
//! (`regions`) and the settings the county office edits (`settings`).

pub mod problems;
pub mod regions;
pub mod reminders;
pub mod settings;
pub mod supervision;

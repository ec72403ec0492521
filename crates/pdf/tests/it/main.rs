//! The integration tests of `pdf`, one binary: a module per area (linking each
//! file as its own binary cost a link of the whole dependency tree per file).

mod circular_pdf;
mod common;
mod ledger_pdf;
mod plaques_notice;

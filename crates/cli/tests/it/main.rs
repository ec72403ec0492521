//! The integration tests of `cli`, one binary: a module per area (linking each
//! file as its own binary cost a link of the whole dependency tree per file).

mod backup;
mod cli;
mod common;
mod demo;
mod roundtrip;
mod security;
mod server;
mod tls;
mod tls_browser;

//! The integration tests of `evidence`, one binary: a module per area (linking each
//! file as its own binary cost a link of the whole dependency tree per file).

mod evidence;

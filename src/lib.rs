//! voiceportal: voicemail and a voice portal for Asterisk, driven over ARI, with all
//! mutable state in Redis. See DESIGN.md for the layers; dependencies point down:
//! flows -> call -> ari, flows -> domain, flows -> store.

pub mod access;
pub mod admin;
pub mod app;
pub mod ari;
pub mod call;
pub mod config;
pub mod domain;
pub mod flows;
pub mod ha;
pub mod logs;
pub mod metrics;
pub mod notify;
pub mod store;
pub mod web;

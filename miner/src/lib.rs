//! gas-miner: a generative miner for Bittensor subnet 34 (GAS). Validators' signed challenges
//! come in over HTTP, media is made by paid providers, checked, and delivered by signed webhook;
//! every step is recorded in sled so nothing is lost across restarts.
//!
//! The library's public face is small: what the `gas-miner` binary runs (`cli`, `config`'s
//! settings, `demo`'s options), the protocol pieces other programs and the fakes in the tests
//! speak (`identity`, `epistula`, `chain`, `clock`), judging media as validators do
//! (`preflight`, `task`'s records), and `testing`, the door the test crate goes through.
//! Everything else is the daemon's inside. ARCHITECTURE.md at the root maps it all.

#![warn(unreachable_pub)]

pub mod chain;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod epistula;
pub mod identity;
pub mod preflight;
pub mod task;
pub mod testing;

pub(crate) mod admin;
pub(crate) mod admission;
pub(crate) mod api;
pub(crate) mod budget;
pub(crate) mod daemon;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod netguard;
pub(crate) mod pipeline;
pub(crate) mod providers;
pub(crate) mod rejections;
pub(crate) mod secret;
pub(crate) mod standing;
pub(crate) mod stats;
pub(crate) mod store;
pub(crate) mod text;
pub(crate) mod tls;
pub(crate) mod webhook;

//! gas-miner: a generative miner for Bittensor subnet 34 (GAS). Validators' signed challenges
//! come in over HTTP, media is made by paid providers, checked, and delivered by signed webhook;
//! every step is recorded in sled so nothing is lost across restarts.

pub mod admin;
pub mod api;
pub mod chain;
pub mod clock;
pub mod cli;
pub mod client;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod epistula;
pub mod identity;
pub mod logs;
pub mod metrics;
pub mod netguard;
pub mod pipeline;
pub mod preflight;
pub mod providers;
pub mod secret;
pub mod stats;
pub mod task;
pub mod store;
pub mod text;
pub mod tls;
pub mod webhook;

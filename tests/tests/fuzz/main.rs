//! Fuzzing (issue 8): everything the miner reads from outside — Epistula headers, the challenge
//! JSON, the admin protocol, wallet files, and the media pre-flight — fed hostile input: no
//! panic, no hang, bounded memory, and the right answer (refused with a reason, or accepted
//! exactly when it should be).
//!
//! Each target first replays every file of its corpus (`tests/fuzz/corpus/<target>/`: hand-made
//! malformed cases and regressions), then runs proptest mutations of valid seeds and of the
//! corpus. Every input runs on its own thread under a watchdog ([`harness::WATCHDOG`]) with a
//! counting global allocator measuring its peak. `GAS_FUZZ_CASES` sets the generated cases per
//! target, `GAS_FUZZ_SEED` replays a run; `bench/fuzz.sh` runs long. See `tests/fuzz/README.md`.
//!
//! One file per target; `harness` runs them (memory, watchdog, corpus, runner), `strategies`
//! makes their inputs (byte mutations, JSON), `setup` holds what several targets start from.
//! The counting allocator is this binary's global allocator, so it measures every target.

mod harness;
mod setup;
mod strategies;

mod addresses;
mod admin;
mod challenge;
mod epistula;
mod media;
mod wallet;

#[global_allocator]
static ALLOCATOR: harness::memory::Counting = harness::memory::Counting;

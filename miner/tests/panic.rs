//! A panic whose message carries a secret (a key formatted into an error by mistake, say) is
//! logged with the secret replaced, through the hook the miner installs at start.

use gas_miner::testing::{LogRing, install_panic_hook, keep_secret};
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn a_panic_message_never_shows_a_secret() {
    let ring = LogRing::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(ring.clone())
            .with_ansi(false),
    );
    tracing::subscriber::set_global_default(subscriber).expect("subscriber");
    keep_secret("sk-or-v1-panic-test-0123456789");
    install_panic_hook(false);
    let outcome = std::thread::spawn(|| {
        let key = String::from("sk-or-v1-panic-test-0123456789");
        panic!("request to openrouter with key {key} failed");
    })
    .join();
    assert!(outcome.is_err(), "the thread panicked");
    let logged = ring.tail(10).join("\n");
    assert!(
        logged.contains("panic: ") && logged.contains("request to openrouter with key *** failed"),
        "{logged}"
    );
    assert!(!logged.contains("panic-test-0123456789"), "{logged}");
}

//! What must never be shown: the secrets this process holds (API keys, the hotkey's phrase
//! and seed, its password), kept in one registry that every log writer and panic message is
//! scrubbed against, and [`Secret`], the wrapper that keeps a key out of Debug output.

/// Secrets this process holds (API keys, the hotkey's phrase and seed, its password). Every
/// log writer replaces them with `***` before a byte leaves the process, so that no message,
/// however it was built (a provider echoing a key, a panic, a Debug print), can leak one.
static SECRETS: std::sync::RwLock<Vec<String>> = std::sync::RwLock::new(Vec::new());

/// Shorter values are not treated as secrets: scrubbing them would mangle ordinary text.
const SHORTEST_SECRET: usize = 8;

/// Adds `secret` to what log lines never show.
pub fn keep_secret(secret: &str) {
    let secret = secret.trim();
    if secret.len() < SHORTEST_SECRET {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_string());
        // Longest first, so a secret containing another is replaced whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every kept secret replaced by `***`.
pub(crate) fn scrub(text: &str) -> std::borrow::Cow<'_, str> {
    let all = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    let mut out = std::borrow::Cow::Borrowed(text);
    for secret in all.iter() {
        if out.contains(secret.as_str()) {
            out = std::borrow::Cow::Owned(out.replace(secret.as_str(), "***"));
        }
    }
    out
}

/// `scrub` for bytes a writer was handed (formatted log lines are UTF-8).
pub(crate) fn scrub_bytes(buf: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match std::str::from_utf8(buf) {
        Ok(text) => match scrub(text) {
            std::borrow::Cow::Borrowed(_) => std::borrow::Cow::Borrowed(buf),
            std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.into_bytes()),
        },
        Err(_) => {
            let text = String::from_utf8_lossy(buf);
            std::borrow::Cow::Owned(scrub(&text).into_owned().into_bytes())
        }
    }
}

/// An API key. Debug prints only that it is set.
#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`, which from now on no log line of this process shows.
    pub fn new(value: &str) -> Secret {
        keep_secret(value);
        Secret(value.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

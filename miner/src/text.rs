//! Small text helpers every part of the miner uses on what it shows or stores: shortening,
//! taking secrets and signed-link credentials out, and one line for an error with its causes.
//! Nothing here knows about the domain; it imports nothing of the crate.

/// `text` cut to `max_chars` characters, with `…` when something was cut.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Removes every occurrence of `secret` from `text` (secrets shorter than 4 characters are
/// left alone: replacing them would garble ordinary words).
pub(crate) fn redact(text: &str, secret: &str) -> String {
    if secret.len() < 4 {
        return text.to_string();
    }
    text.replace(secret, "***")
}

/// Drops the query of every URL in `text`: signed storage links carry their credential
/// there, and error texts reach logs, records and validators.
pub(crate) fn without_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_url = false;
    let mut skipping = false;
    for (i, c) in text.char_indices() {
        if text[i..].starts_with("http://") || text[i..].starts_with("https://") {
            in_url = true;
        }
        if in_url && (c.is_whitespace() || c == ')' || c == '"' || c == '\'') {
            in_url = false;
            skipping = false;
        }
        if in_url && c == '?' && !skipping {
            skipping = true;
            out.push_str("?…");
        }
        if !skipping {
            out.push(c);
        }
    }
    out
}

/// An error and its causes on one line ("connection refused", "invalid peer certificate"):
/// an HTTP client's own message alone does not say what went wrong. A cause whose text is
/// already in the line is not repeated; a TLS handshake with a plain-HTTP port gets a hint.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = e.source();
    }
    if text.contains("InvalidContentType") {
        text.push_str(" (the receiver does not speak TLS: an https:// URL for a plain-HTTP port?)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(truncate("héllo wörld", 5), "héllo…");
        assert_eq!(truncate("short", 5), "short");
    }

    #[test]
    fn keys_are_redacted() {
        assert_eq!(
            redact("bad key sk-or-v1-abc", "sk-or-v1-abc"),
            "bad key ***"
        );
        assert_eq!(redact("a b c", "b"), "a b c", "too short to be a secret");
    }

    #[test]
    fn signed_link_queries_are_dropped_from_error_texts() {
        assert_eq!(
            without_queries(
                "error sending request for url (https://cdn.x/v.mp4?_jwt=secret): reset"
            ),
            "error sending request for url (https://cdn.x/v.mp4?…): reset"
        );
        assert_eq!(without_queries("no url here?"), "no url here?");
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn an_error_chain_names_each_cause_once() {
        let e = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "connection refused",
                Some(Box::new(Layer("connection refused", None))),
            ))),
        );
        assert_eq!(error_chain(&e), "error sending request: connection refused");
        let tls = Layer("handshake: InvalidContentType", None);
        assert!(error_chain(&tls).contains("does not speak TLS"));
    }
}

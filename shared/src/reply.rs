//! What a validator's reply to a webhook means (PROTOCOL.md §2). Two validator generations
//! answer at once: v4.9.x judges inside the request (200 "Binary content received" passed
//! Stage A, 400 with the reason rejected it); v5 stages the upload and judges it later (202
//! "Callback accepted": taken, the verdict never comes back). A 202 is never a pass.
//!
//! The class is read from the status and the body every time, never stored, so replies
//! recorded by an older build are read in these terms too.

use serde::{Deserialize, Serialize};

/// One reply, read for what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyClass {
    /// v4.9.x 200 "Binary content received": the media passed Stage A.
    Passed,
    /// v5 202 "Callback accepted" / "Callback already accepted" (or any other 2xx that
    /// says nothing more): taken, the verdict unknown.
    Taken,
    /// 400 (or another final 4xx) with the validator's reason: rejected.
    Rejected,
    /// 200 "Task not found in current session" / "Task already processed": the upload was
    /// ignored (the validator had forgotten the task or already judged it).
    Ignored,
    /// A failure report the validator recorded (200 "Failure recorded"): a failed outcome.
    Recorded,
    /// 503 "Validator could not accept callback", other 5xx, 408/425/429, or no answer:
    /// sent again later.
    Retry,
    /// A redirect, or a target the webhook guard refused: never delivered.
    Undelivered,
}

impl ReplyClass {
    /// Reads a reply to a success webhook (`failure_report` false) or to a failure report.
    /// `status` is None when nothing answered.
    pub fn of(failure_report: bool, status: Option<u16>, body: &str) -> ReplyClass {
        let Some(status) = status else {
            return ReplyClass::Retry;
        };
        let says = |text: &str| body.to_ascii_lowercase().contains(text);
        match status {
            200..=299 if says("task not found") || says("already processed") => ReplyClass::Ignored,
            200..=299 if failure_report => ReplyClass::Recorded,
            200 if says("binary content received") => ReplyClass::Passed,
            200..=299 => ReplyClass::Taken,
            300..=399 => ReplyClass::Undelivered,
            408 | 425 | 429 => ReplyClass::Retry,
            400..=499 => ReplyClass::Rejected,
            _ => ReplyClass::Retry,
        }
    }

    /// The reply ends the webhook series (the task is done with this validator).
    pub fn is_final(self) -> bool {
        !matches!(self, ReplyClass::Retry)
    }

    /// In words, for screens and logs.
    pub fn label(self) -> &'static str {
        match self {
            ReplyClass::Passed => "passed Stage A",
            ReplyClass::Taken => "taken, verdict unknown",
            ReplyClass::Rejected => "rejected",
            ReplyClass::Ignored => "ignored",
            ReplyClass::Recorded => "failure recorded",
            ReplyClass::Retry => "retry",
            ReplyClass::Undelivered => "not delivered",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReplyClass::Passed => "passed",
            ReplyClass::Taken => "taken",
            ReplyClass::Rejected => "rejected",
            ReplyClass::Ignored => "ignored",
            ReplyClass::Recorded => "recorded",
            ReplyClass::Retry => "retry",
            ReplyClass::Undelivered => "undelivered",
        }
    }
}

/// Replies to webhooks over some span, by class. `passed` and `rejected` are the only
/// verdicts; `taken` is a v5 upload whose verdict the miner cannot see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyCounts {
    #[serde(default)]
    pub passed: u64,
    #[serde(default)]
    pub taken: u64,
    #[serde(default)]
    pub rejected: u64,
    #[serde(default)]
    pub ignored: u64,
    /// Failure reports the validators recorded.
    #[serde(default)]
    pub failures: u64,
}

impl ReplyCounts {
    pub fn add(&mut self, class: ReplyClass) {
        match class {
            ReplyClass::Passed => self.passed += 1,
            ReplyClass::Taken => self.taken += 1,
            ReplyClass::Rejected => self.rejected += 1,
            ReplyClass::Ignored => self.ignored += 1,
            ReplyClass::Recorded => self.failures += 1,
            ReplyClass::Retry | ReplyClass::Undelivered => {}
        }
    }

    pub fn merge(&mut self, other: &ReplyCounts) {
        self.passed += other.passed;
        self.taken += other.taken;
        self.rejected += other.rejected;
        self.ignored += other.ignored;
        self.failures += other.failures;
    }

    /// Stage A verdicts the validators sent back (v4.9.x only): passed of judged.
    pub fn verdicts(&self) -> crate::admin::Rate {
        crate::admin::Rate {
            passed: self.passed,
            total: self.passed + self.rejected,
        }
    }

    /// Every final reply.
    pub fn total(&self) -> u64 {
        self.passed + self.taken + self.rejected + self.ignored + self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::ReplyClass::{self, *};

    #[test]
    fn replies_read_as_the_protocol_says() {
        let cases: &[(bool, Option<u16>, &str, ReplyClass)] = &[
            (false, Some(200), "Binary content received", Passed),
            (false, Some(202), "Callback accepted", Taken),
            (false, Some(202), "Callback already accepted", Taken),
            (
                false,
                Some(200),
                "Task not found in current session",
                Ignored,
            ),
            (false, Some(200), "Task already processed", Ignored),
            (false, Some(200), "{\"status\": \"ok\"}", Taken),
            (false, Some(400), "C2PA: untrusted signer", Rejected),
            (
                false,
                Some(503),
                "Validator could not accept callback",
                Retry,
            ),
            (false, Some(429), "", Retry),
            (false, Some(302), "", Undelivered),
            (false, None, "connection refused", Retry),
            (true, Some(200), "Failure recorded", Recorded),
            (
                true,
                Some(200),
                "Task not found in current session",
                Ignored,
            ),
        ];
        for (failure, status, body, want) in cases {
            assert_eq!(
                ReplyClass::of(*failure, *status, body),
                *want,
                "{status:?} {body:?}"
            );
        }
    }

    #[test]
    fn a_202_is_never_counted_as_a_verdict() {
        let mut c = super::ReplyCounts::default();
        c.add(Taken);
        c.add(Taken);
        c.add(Passed);
        c.add(Rejected);
        assert_eq!(c.verdicts().passed, 1);
        assert_eq!(c.verdicts().total, 2);
        assert_eq!(c.total(), 4);
    }
}

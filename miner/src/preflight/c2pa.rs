//! C2PA verdicts the way subnet validators reach them: c2pa-rs reads the file trusting only the
//! subnet's anchors, then the validators' acceptance rules are applied to its report, in their
//! order: a manifest; no fatal failure code; a verified hard binding; a signer that is not
//! self-signed, whose organisation (O=) is a known authority, and that is a trusted AI
//! generator by O= or claim generator. Everything an operator needs to understand the outcome
//! is kept: every status code with its explanation, the signer, its chain, the claim
//! generator, the signing time and its source, ai_generated and the model name.
//!
//! (Over 600 lines only with its unit tests: one per validator rule, beside the rule.)

use c2pa::{Context, Reader};
use gas_shared::verdict::{C2paReport, StatusCode};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// Failure codes that make validators refuse a file (substring match, as theirs).
const FATAL_CODES: [&str; 10] = [
    "assertion.hashedURI.mismatch",
    "assertion.dataHash.mismatch",
    "assertion.bmffHash.mismatch",
    "claim.signature.mismatch",
    "signingCredential.invalid",
    "signingCredential.expired",
    "signingCredential.revoked",
    "signingCredential.untrusted",
    "manifest.inaccessible",
    "assertion.inaccessible",
];

/// Success codes proving the manifest is bound to these very bytes.
const HARD_BINDINGS: [&str; 4] = [
    "assertion.dataHash.match",
    "assertion.bmffHash.match",
    "assertion.boxesHash.match",
    "assertion.collectionHash.match",
];

/// AI generators validators pay for, matched case-insensitively as substrings.
pub const TRUSTED_GENERATORS: [&str; 21] = [
    "OpenAI",
    "Google",
    "Adobe",
    "Microsoft",
    "Meta",
    "Runway",
    "Stability AI",
    "Black Forest Labs",
    "Midjourney",
    "Pika",
    "Luma",
    "Ideogram",
    "Leonardo",
    "Kuaishou",
    "Kling",
    "MiniMax",
    "Haiper",
    "Lightricks",
    "Shutterstock",
    "ByteDance",
    "Byteplus",
];

/// Certificate authorities validators accept as a signer's organisation, besides the
/// generators themselves.
const TRUSTED_AUTHORITIES: [&str; 17] = [
    "DigiCert",
    "GlobalSign",
    "Entrust",
    "Sectigo",
    "Let's Encrypt",
    "Amazon",
    "Apple",
    "Cloudflare",
    "Comodo",
    "GeoTrust",
    "Thawte",
    "VeriSign",
    "GoDaddy",
    "IdenTrust",
    "Symantec",
    "QuoVadis",
    "SwissSign",
];

const AI_SOURCE_TYPES: [&str; 4] = [
    "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia",
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
    "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia",
];

fn contains_any<'a>(text: &str, names: impl IntoIterator<Item = &'a str>) -> bool {
    let low = text.to_lowercase();
    !low.is_empty() && names.into_iter().any(|n| low.contains(&n.to_lowercase()))
}

fn is_authority(org: &str) -> bool {
    contains_any(org, TRUSTED_AUTHORITIES) || contains_any(org, TRUSTED_GENERATORS)
}

/// Why c2pa-rs gave no report on a file (no manifest, unreadable): the finding a verdict
/// shows.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NoReport(pub String);

/// Reads files with c2pa-rs, trusting exactly the given anchors.
#[derive(Clone)]
pub struct C2paReader {
    context: Arc<Context>,
}

impl C2paReader {
    /// `anchors_pem`: every trusted root, concatenated.
    pub fn new(anchors_pem: &str) -> Result<C2paReader, super::PreflightError> {
        let settings = serde_json::json!({
            "trust": {"user_anchors": anchors_pem},
            "verify": {"ocsp_fetch": false, "remote_manifest_fetch": false},
            "builder": {"thumbnail": {"enabled": false}},
        });
        let context = Context::new()
            .with_settings(settings.to_string())
            .map_err(|e| super::PreflightError::C2paSettings(e.to_string()))?;
        Ok(C2paReader {
            context: context.into_shared(),
        })
    }

    /// c2pa-rs's report on the file and the signer's certificate chain (PEM), or why there is
    /// no manifest to report on.
    pub fn read(&self, path: &Path, mime: &str) -> Result<(Value, String), NoReport> {
        let file =
            std::fs::File::open(path).map_err(|e| NoReport(format!("{}: {e}", path.display())))?;
        let stream = std::io::BufReader::with_capacity(256 * 1024, file);
        let reader = Reader::from_shared_context(&self.context)
            .with_stream(mime, stream)
            .map_err(|e| NoReport(e.to_string()))?;
        let report: Value =
            serde_json::from_str(&reader.json()).map_err(|e| NoReport(e.to_string()))?;
        let chain = reader
            .active_manifest()
            .and_then(|m| m.signature_info())
            .map(|s| s.cert_chain().to_string())
            .unwrap_or_default();
        Ok((report, chain))
    }

    /// The verdict on one file.
    pub fn judge_file(&self, path: &Path, mime: &str) -> C2paReport {
        match self.read(path, mime) {
            Ok((report, chain)) => judge(&report, &chain),
            Err(e) => C2paReport {
                error: Some(format!("No C2PA manifest found: {e}")),
                ..C2paReport::default()
            },
        }
    }
}

/// The active manifest of a c2pa-rs report (else the first one).
fn active(report: &Value) -> Option<&Value> {
    let manifests = report.get("manifests")?.as_object()?;
    report
        .get("active_manifest")
        .and_then(Value::as_str)
        .and_then(|label| manifests.get(label))
        .or_else(|| manifests.values().next())
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Every action of every `c2pa.actions*` assertion of a manifest.
fn actions<'a>(manifest: &'a Value, label_prefix: bool) -> impl Iterator<Item = &'a Value> + 'a {
    manifest
        .get("assertions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |a| {
            let label = a.get("label").and_then(Value::as_str).unwrap_or("");
            if label_prefix {
                label.starts_with("c2pa.actions")
            } else {
                label.contains("c2pa.actions")
            }
        })
        .flat_map(|a| {
            a.pointer("/data/actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
}

/// A manifest time → ms since the epoch, read as the validators read it (Python 3.11's
/// `datetime.fromisoformat` after replacing `Z` with `+00:00`; no zone means UTC): a date,
/// optionally `T` or a space and `HH[:MM[:SS[.fff…]]]`, optionally `±HH[:MM]` or `±HHMM`.
/// (Python also reads the compact `20261125T100000` and week dates; C2PA writes RFC 3339.)
pub fn parse_time_ms(text: &str) -> Option<i64> {
    let t = text.trim().replace('Z', "+00:00");
    let b = t.as_bytes();
    let num = |at: usize, len: usize| -> Option<i64> {
        let s = t.get(at..at + len)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = time::Date::from_calendar_date(
        num(0, 4)? as i32,
        time::Month::try_from(num(5, 2)? as u8).ok()?,
        num(8, 2)? as u8,
    )
    .ok()?;
    let (mut h, mut m, mut sec, mut nanos) = (0i64, 0i64, 0i64, 0i64);
    let mut i = 10;
    if i < b.len() && (b[i] == b'T' || b[i] == b' ') {
        i += 1;
        h = num(i, 2)?;
        i += 2;
        if b.get(i) == Some(&b':') {
            m = num(i + 1, 2)?;
            i += 3;
            if b.get(i) == Some(&b':') {
                sec = num(i + 1, 2)?;
                i += 3;
                if matches!(b.get(i), Some(b'.' | b',')) {
                    let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                    if digits == 0 {
                        return None;
                    }
                    let kept = digits.min(9);
                    let frac: i64 = t.get(i + 1..i + 1 + kept)?.parse().ok()?;
                    nanos = frac * 10i64.pow(9 - kept as u32);
                    i += 1 + digits;
                }
            }
        }
    }
    let mut offset_s = 0i64;
    if i < b.len() {
        let sign = match b[i] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let rest = &t[i + 1..];
        let (oh, om) = match rest.len() {
            2 => (num(i + 1, 2)?, 0),
            4 => (num(i + 1, 2)?, num(i + 3, 2)?),
            5 if rest.as_bytes()[2] == b':' => (num(i + 1, 2)?, num(i + 4, 2)?),
            _ => return None,
        };
        if oh > 23 || om > 59 {
            return None;
        }
        offset_s = sign * (oh * 3600 + om * 60);
    }
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let day_s = date.midnight().assume_utc().unix_timestamp();
    Some((day_s + h * 3600 + m * 60 + sec - offset_s) * 1000 + nanos / 1_000_000)
}

/// The first product token of a user-agent-like string, skipping C2PA library names
/// (`"DALL-E 3/1.0 c2pa-rs/0.36.1"` → `DALL-E`).
fn product_name(ua: &str) -> Option<String> {
    ua.split_whitespace()
        .map(|t| t.split('/').next().unwrap_or("").trim())
        .find(|p| {
            let low = p.to_lowercase();
            !p.is_empty()
                && !["c2pa", "libc2pa", "contentauth", "trustedpublisher"]
                    .iter()
                    .any(|infra| low.starts_with(infra))
        })
        .map(str::to_string)
}

fn model_name(manifest: &Value) -> Option<String> {
    for action in actions(manifest, false) {
        if let Some(agent) = action.get("softwareAgent").and_then(Value::as_str)
            && let Some(name) = product_name(agent)
        {
            return Some(name);
        }
        if let Some(model) = action
            .pointer("/parameters/model_name")
            .filter(|m| !m.is_null())
        {
            return Some(match model {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        }
    }
    manifest
        .get("claim_generator")
        .and_then(Value::as_str)
        .and_then(product_name)
}

fn ai_generated(report: &Value) -> bool {
    let is_ai = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .is_some_and(|s| AI_SOURCE_TYPES.contains(&s))
    };
    let manifests = report.get("manifests").and_then(Value::as_object);
    manifests.into_iter().flat_map(|m| m.values()).any(|m| {
        m.get("assertions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|a| {
                let label = a.get("label").and_then(Value::as_str).unwrap_or("");
                label.contains("c2pa.ai")
                    || is_ai(a.pointer("/data/digitalSourceType"))
                    || a.pointer("/data/actions")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .any(|act| is_ai(act.get("digitalSourceType")))
            })
    })
}

/// Subjects of the PEM certificates in `chain`, leaf first.
fn chain_subjects(chain: &str) -> Vec<String> {
    x509_parser::pem::Pem::iter_from_buffer(chain.as_bytes())
        .filter_map(Result::ok)
        .filter_map(|pem| pem.parse_x509().ok().map(|cert| cert.subject().to_string()))
        .collect()
}

fn statuses(report: &Value) -> Vec<StatusCode> {
    let mut out = Vec::new();
    let entry = |s: &Value, kind: &str| {
        let code = s
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let fatal = kind == "failure"
            && (FATAL_CODES.iter().any(|f| code.contains(f))
                || code.to_lowercase().contains("mismatch")
                || code.to_lowercase().contains("error"));
        StatusCode {
            explanation: text(s.get("explanation")),
            kind: kind.to_string(),
            fatal,
            code,
        }
    };
    if let Some(results) = report.pointer("/validation_results/activeManifest") {
        for kind in ["success", "informational", "failure"] {
            for s in results
                .get(kind)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push(entry(s, kind));
            }
        }
    }
    // `validation_status` holds every failure, ingredients' included: those decide.
    for s in report
        .get("validation_status")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let e = entry(s, "failure");
        if !out
            .iter()
            .any(|o| o.kind == "failure" && o.code == e.code && o.explanation == e.explanation)
        {
            out.push(e);
        }
    }
    out
}

/// Applies the validators' rules to a c2pa-rs report (`Reader::json`), in their order.
pub fn judge(report: &Value, chain_pem: &str) -> C2paReport {
    let manifest = active(report);
    let info = manifest.and_then(|m| m.get("signature_info"));
    let field = |name: &str| text(info.and_then(|i| i.get(name)));
    let claim_generator = manifest.and_then(|m| {
        text(m.get("claim_generator")).or_else(|| text(m.pointer("/claim_generator_info/0/name")))
    });
    let (signing_time, source) = match field("time").filter(|t| parse_time_ms(t).is_some()) {
        Some(t) => (Some(t), Some("signature".to_string())),
        None => {
            let newest = manifest
                .into_iter()
                .flat_map(|m| actions(m, true))
                .filter_map(|a| a.get("when").and_then(Value::as_str))
                .filter_map(|w| parse_time_ms(w).map(|ms| (ms, w.to_string())))
                .max_by_key(|(ms, _)| *ms);
            match newest {
                Some((_, w)) => (Some(w), Some("actions".to_string())),
                None => (None, None),
            }
        }
    };
    let all = statuses(report);
    let validation_errors: Vec<String> = report
        .get("validation_status")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let code = s.get("code").and_then(Value::as_str).unwrap_or("");
            let low = code.to_lowercase();
            let fatal = FATAL_CODES.iter().any(|f| code.contains(f))
                || low.contains("mismatch")
                || (!code.is_empty() && low.contains("error"));
            fatal.then(|| {
                format!(
                    "{code}: {}",
                    s.get("explanation").and_then(Value::as_str).unwrap_or("")
                )
            })
        })
        .collect();
    let hard_binding = all
        .iter()
        .find(|s| s.kind == "success" && HARD_BINDINGS.contains(&s.code.as_str()))
        .map(|s| s.code.clone());
    let mut out = C2paReport {
        manifest_present: manifest.is_some(),
        validation_state: text(report.get("validation_state")),
        statuses: all,
        validation_errors: validation_errors.clone(),
        hard_binding: hard_binding.clone(),
        issuer: claim_generator.clone(),
        cert_issuer: field("issuer"),
        common_name: field("common_name"),
        cert_serial_number: field("cert_serial_number"),
        cert_chain: chain_subjects(chain_pem),
        alg: field("alg"),
        signing_time,
        signing_time_source: source,
        ai_generated: ai_generated(report),
        model_name: manifest.and_then(model_name),
        ..C2paReport::default()
    };
    if manifest.is_none() {
        out.error = Some("Empty C2PA manifest".into());
        return out;
    }
    if !validation_errors.is_empty() {
        out.error = Some(format!(
            "Signature validation failed: {}",
            validation_errors.join("; ")
        ));
        return out;
    }
    out.signature_valid = true;
    if hard_binding.is_none() {
        out.error = Some("No verified hard-binding content hash assertion in C2PA manifest".into());
        return out;
    }
    let org = out.cert_issuer.clone();
    let subject =
        field("subject").or_else(|| field("cert_serial_number").map(|s| format!("serial:{s}")));
    out.is_self_signed = match (&org, &subject) {
        (Some(o), _) if is_authority(o) => false,
        (Some(o), Some(s)) => o.eq_ignore_ascii_case(s),
        _ => true,
    };
    if out.is_self_signed {
        out.error = Some("Self-signed certificates are not accepted".into());
        return out;
    }
    let org = org.unwrap_or_default();
    if !is_authority(&org) {
        out.error = Some(format!("Certificate issuer not from trusted CA: {org}"));
        return out;
    }
    let subject_trusted = subject.as_deref().is_some_and(|s| {
        let low = s.to_lowercase();
        TRUSTED_GENERATORS
            .iter()
            .any(|t| low.contains(&t.to_lowercase()) || t.to_lowercase().contains(&low))
    });
    let trusted = subject_trusted
        || contains_any(&org, TRUSTED_GENERATORS)
        || claim_generator
            .as_deref()
            .is_some_and(|c| contains_any(c, TRUSTED_GENERATORS));
    if !trusted {
        out.error = Some(format!(
            "Not from a trusted AI generator: {}",
            subject.or(claim_generator).unwrap_or_default()
        ));
        return out;
    }
    out.is_trusted_issuer = true;
    out.verified = true;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(org: &str, generator: &str, failures: Value, success: Value) -> Value {
        json!({
            "active_manifest": "urn:m1",
            "manifests": {"urn:m1": {
                "claim_generator_info": [{"name": generator}],
                "signature_info": {"issuer": org, "common_name": "signer", "cert_serial_number": "42", "time": "2026-11-25T10:00:00+00:00"},
                "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
                    {"action": "c2pa.created", "when": "2026-11-25T09:00:00Z",
                     "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
                     "softwareAgent": "Imagen/4 c2pa-rs/0.1"}]}}],
            }},
            "validation_status": failures,
            "validation_results": {"activeManifest": {"success": success, "informational": [], "failure": failures}},
            "validation_state": "Trusted",
        })
    }

    fn bound() -> Value {
        json!([{"code": "claimSignature.validated"}, {"code": "assertion.dataHash.match"}])
    }

    #[test]
    fn a_trusted_generator_with_a_bound_hash_passes_with_everything_recorded() {
        let r = judge(&report("Google LLC", "Gemini", json!([]), bound()), "");
        assert!(
            r.verified && r.is_trusted_issuer && r.signature_valid,
            "{r:?}"
        );
        assert_eq!(r.cert_issuer.as_deref(), Some("Google LLC"));
        assert_eq!(r.signing_time.as_deref(), Some("2026-11-25T10:00:00+00:00"));
        assert_eq!(r.signing_time_source.as_deref(), Some("signature"));
        assert!(r.ai_generated);
        assert_eq!(r.model_name.as_deref(), Some("Imagen"));
        assert_eq!(r.hard_binding.as_deref(), Some("assertion.dataHash.match"));
    }

    #[test]
    fn each_rule_fails_with_its_reason() {
        let untrusted =
            json!([{"code": "signingCredential.untrusted", "explanation": "no anchor"}]);
        let r = judge(&report("Google LLC", "Gemini", untrusted, bound()), "");
        assert!(!r.verified && !r.signature_valid);
        assert_eq!(
            r.validation_errors,
            vec!["signingCredential.untrusted: no anchor"]
        );
        let tolerated = json!([{"code": "timeStamp.untrusted"}]);
        assert!(judge(&report("Google LLC", "Gemini", tolerated, bound()), "").verified);
        let unbound = judge(
            &report(
                "Google LLC",
                "Gemini",
                json!([]),
                json!([{"code": "claimSignature.validated"}]),
            ),
            "",
        );
        assert!(unbound.signature_valid && !unbound.verified);
        assert!(
            unbound
                .error
                .as_deref()
                .is_some_and(|e| e.contains("hard-binding"))
        );
        let acme = judge(&report("Acme Pictures", "Acme", json!([]), bound()), "");
        assert!(!acme.verified);
        assert!(
            acme.error
                .as_deref()
                .is_some_and(|e| e.contains("not from trusted CA")),
            "{acme:?}"
        );
        // A known authority as O= is not enough: the generator must be trusted too.
        let ca_only = judge(
            &report("DigiCert Inc", "Acme Studio", json!([]), bound()),
            "",
        );
        assert!(!ca_only.is_trusted_issuer);
        assert!(
            ca_only
                .error
                .as_deref()
                .is_some_and(|e| e.contains("trusted AI generator"))
        );
        // …and the claim generator can make it so.
        assert!(
            judge(
                &report("GlobalSign nv-sa", "Stability AI API", json!([]), bound()),
                ""
            )
            .verified
        );
    }

    #[test]
    fn signing_time_falls_back_to_the_newest_action() {
        let mut r = report("Google LLC", "Gemini", json!([]), bound());
        r["manifests"]["urn:m1"]["signature_info"]["time"] = Value::Null;
        let v = judge(&r, "");
        assert_eq!(v.signing_time.as_deref(), Some("2026-11-25T09:00:00Z"));
        assert_eq!(v.signing_time_source.as_deref(), Some("actions"));
        assert_eq!(
            parse_time_ms("2026-11-25T09:00:00Z"),
            parse_time_ms("2026-11-25T09:00:00")
        );
        let unparseable = {
            let mut r = report("Google LLC", "Gemini", json!([]), bound());
            r["manifests"]["urn:m1"]["signature_info"]["time"] = json!("yesterday");
            judge(&r, "")
        };
        assert_eq!(unparseable.signing_time_source.as_deref(), Some("actions"));
    }

    #[test]
    fn times_are_read_as_python_reads_them() {
        let base = parse_time_ms("2026-11-25T10:00:00+00:00").expect("rfc 3339");
        for (text, want) in [
            ("2026-11-25T10:00Z", Some(base)),
            ("2026-11-25T10:00:00.250Z", Some(base + 250)),
            ("2026-11-25T10:00:00.250000+00:00", Some(base + 250)),
            ("2026-11-25T11:00:00+0100", Some(base)),
            ("2026-11-25T11:00:00+01", Some(base)),
            ("2026-11-25 10:00:00", Some(base)),
            ("2026-11-25", Some(base - 10 * 3_600_000)),
            ("2026-11-25T10:00:00z", None),
            ("2026-11-25T10:00:00.25Z", Some(base + 250)),
            ("2026-11-25T10:00:00,5Z", Some(base + 500)),
            ("2026-11-25T10:00:00.1234567Z", Some(base + 123)),
            ("2026-11-25T10", Some(base)),
            ("2026-13-25T10:00:00Z", None),
            ("25/11/2026", None),
        ] {
            assert_eq!(parse_time_ms(text), want, "{text}");
        }
    }

    #[test]
    fn product_names_skip_c2pa_libraries() {
        assert_eq!(
            product_name("DALL-E 3/1.0 c2pa-rs/0.36.1").as_deref(),
            Some("DALL-E")
        );
        assert_eq!(product_name("c2pa-rs/0.36.1"), None);
    }
}

//! `gas-miner verify-c2pa FILE...`: files judged as validators judge them (C2PA with the
//! subnet's trust anchors), printed with the reference CLI's fields.

use super::CliError;
use crate::preflight::{self, Trusted};
use gas_shared::verdict::C2paReport;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The reference CLI's result object for one file.
fn reference_fields(r: &C2paReport) -> Value {
    json!({
        "verified": r.verified,
        "signature_valid": r.signature_valid,
        "is_self_signed": r.is_self_signed,
        "is_trusted_issuer": r.is_trusted_issuer,
        "issuer": r.issuer,
        "cert_issuer": r.cert_issuer,
        "ai_generated": r.ai_generated,
        "model_name": r.model_name,
        "signing_time": r.signing_time,
        "error": r.error,
        "validation_errors": r.validation_errors,
    })
}

fn print_human(file: &str, r: &C2paReport, verbose: bool, full: Option<&Value>) {
    let passed = r.verified && r.is_trusted_issuer;
    let rule = "=".repeat(60);
    println!("\n{rule}");
    println!("File: {file}");
    println!("Status: {}", if passed { "PASSED" } else { "FAILED" });
    println!("{rule}");
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "None".into());
    println!("  verified:          {}", r.verified);
    println!("  signature_valid:   {}", r.signature_valid);
    println!("  is_self_signed:    {}", r.is_self_signed);
    println!("  is_trusted_issuer: {}", r.is_trusted_issuer);
    println!("  issuer:            {}", opt(&r.issuer));
    println!("  cert_issuer:       {}", opt(&r.cert_issuer));
    println!("  ai_generated:      {}", r.ai_generated);
    if let Some(e) = &r.error {
        println!("  error:             {e}");
    }
    if !r.validation_errors.is_empty() {
        println!("  validation_errors: {:?}", r.validation_errors);
    }
    if verbose {
        println!("  common_name:       {}", opt(&r.common_name));
        println!("  model_name:        {}", opt(&r.model_name));
        println!(
            "  signing_time:      {} ({})",
            opt(&r.signing_time),
            opt(&r.signing_time_source)
        );
        println!("  validation_state:  {}", opt(&r.validation_state));
        for (i, subject) in r.cert_chain.iter().enumerate() {
            println!("  cert_chain[{i}]:     {subject}");
        }
        for s in &r.statuses {
            println!(
                "  {:<13} {}{}{}",
                s.kind,
                s.code,
                s.explanation
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default(),
                if s.fatal { "  [fatal]" } else { "" }
            );
        }
        if let Some(report) = full {
            println!("\n  Full manifest report:");
            println!(
                "{}",
                serde_json::to_string_pretty(report).unwrap_or_default()
            );
        }
    }
}

/// `gas-miner verify-c2pa FILE...`: fails when any file would be refused (exit 1), or when
/// the trust anchors cannot be loaded (exit 2).
pub fn verify_c2pa(
    files: &[PathBuf],
    anchors: &Path,
    verbose: bool,
    as_json: bool,
) -> Result<(), CliError> {
    let trusted = Trusted::load(anchors).map_err(|e| CliError::Config(vec![e.to_string()]))?;
    let mut all_pass = true;
    let mut out = Vec::new();
    for file in files {
        let name = file.display().to_string();
        let mut head = [0u8; 32];
        let read =
            std::fs::File::open(file).and_then(|mut f| std::io::Read::read(&mut f, &mut head));
        let n = match read {
            Ok(n) => n,
            Err(e) => {
                eprintln!("Error: File not found: {name} ({e})");
                all_pass = false;
                continue;
            }
        };
        let mime = preflight::content_type(&head[..n]).unwrap_or("application/octet-stream");
        let (report, full) = match trusted.reader.read(file, mime) {
            Ok((report, chain)) => (preflight::c2pa::judge(&report, &chain), Some(report)),
            Err(e) => (
                C2paReport {
                    error: Some(format!("No C2PA manifest found: {e}")),
                    ..C2paReport::default()
                },
                None,
            ),
        };
        all_pass &= report.verified && report.is_trusted_issuer;
        if as_json {
            let mut result = reference_fields(&report);
            if verbose {
                result["report"] = serde_json::to_value(&report).unwrap_or_default();
                result["manifest"] = full.unwrap_or(Value::Null);
            }
            out.push(json!({"file": name, "result": result}));
        } else {
            print_human(&name, &report, verbose, full.as_ref());
        }
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    if all_pass {
        Ok(())
    } else {
        Err(CliError::ChecksFailed)
    }
}

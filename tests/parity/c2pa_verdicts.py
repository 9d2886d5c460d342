#!/usr/bin/env python3
"""Independent C2PA verdicts for the parity test: the validators' own library (c2pa-python)
reads each file with the given trust anchors, and the subnet validator's acceptance rules
(../shared/spec/VALIDATION.md, stage A step 3) are applied to its JSON report.

Usage: c2pa_verdicts.py ANCHORS_PEM FILE... ; prints a JSON list of
{"file", "verified", "is_trusted_issuer", "error"} in the order given.
"""
import json
import sys
import tempfile
from pathlib import Path

import c2pa

FATAL = (
    "assertion.hashedURI.mismatch", "assertion.dataHash.mismatch", "assertion.bmffHash.mismatch",
    "claim.signature.mismatch", "signingCredential.invalid", "signingCredential.expired",
    "signingCredential.revoked", "signingCredential.untrusted", "manifest.inaccessible",
    "assertion.inaccessible",
)
HARD_BINDINGS = {
    "assertion.dataHash.match", "assertion.bmffHash.match",
    "assertion.boxesHash.match", "assertion.collectionHash.match",
}
GENERATORS = [
    "OpenAI", "Google", "Adobe", "Microsoft", "Meta", "Runway", "Stability AI",
    "Black Forest Labs", "Midjourney", "Pika", "Luma", "Ideogram", "Leonardo", "Kuaishou",
    "Kling", "MiniMax", "Haiper", "Lightricks", "Shutterstock", "ByteDance", "Byteplus",
]
AUTHORITIES = GENERATORS + [
    "DigiCert", "GlobalSign", "Entrust", "Sectigo", "Let's Encrypt", "Amazon", "Apple",
    "Cloudflare", "Comodo", "GeoTrust", "Thawte", "VeriSign", "GoDaddy", "IdenTrust",
    "Symantec", "QuoVadis", "SwissSign",
]


def suffix(head: bytes) -> str:
    if head.startswith(b"\x89PNG"):
        return ".png"
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".webm"
    return ".bin"


def contains_any(text, names):
    low = (text or "").lower()
    return bool(low) and any(n.lower() in low for n in names)


def verdict(path: Path, anchors: str) -> dict:
    data = path.read_bytes()
    with tempfile.NamedTemporaryFile(suffix=suffix(data[:16])) as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            settings = c2pa.Settings.from_dict({
                "verify": {"verify_cert_anchors": True},
                "trust": {"user_anchors": anchors},
            })
            with c2pa.Reader(tmp.name, context=c2pa.Context(settings)) as reader:
                report = json.loads(reader.json())
        except Exception as e:  # no manifest, unreadable
            return {"verified": False, "is_trusted_issuer": False, "error": f"No C2PA manifest found: {e}"}
    problems = []
    for status in report.get("validation_status", []) or []:
        code = status.get("code", "") or ""
        if any(f in code for f in FATAL) or "mismatch" in code.lower() or "error" in code.lower():
            problems.append(code)
    if problems:
        return {"verified": False, "is_trusted_issuer": False, "error": "validation failed: " + ", ".join(problems)}
    success = ((report.get("validation_results") or {}).get("activeManifest") or {}).get("success", [])
    if not any(s.get("code") in HARD_BINDINGS for s in success):
        return {"verified": False, "is_trusted_issuer": False, "error": "no hard binding"}
    manifests = report.get("manifests", {})
    active = manifests.get(report.get("active_manifest")) or next(iter(manifests.values()), {})
    info = active.get("signature_info") or {}
    org = info.get("issuer")
    serial = info.get("cert_serial_number")
    subject = info.get("subject") or (f"serial:{serial}" if serial else None)
    if contains_any(org, AUTHORITIES):
        self_signed = False
    elif org and subject:
        self_signed = org.lower() == subject.lower()
    else:
        self_signed = True
    if self_signed:
        return {"verified": False, "is_trusted_issuer": False, "error": "self-signed"}
    if not contains_any(org, AUTHORITIES):
        return {"verified": False, "is_trusted_issuer": False, "error": f"untrusted CA {org}"}
    generator = active.get("claim_generator") or ((active.get("claim_generator_info") or [{}])[0].get("name"))
    trusted = contains_any(org, GENERATORS) or contains_any(generator, GENERATORS)
    if not trusted:
        return {"verified": False, "is_trusted_issuer": False, "error": f"untrusted generator {generator}"}
    return {"verified": True, "is_trusted_issuer": True, "error": None}


def main():
    anchors = Path(sys.argv[1]).read_text()
    out = []
    for name in sys.argv[2:]:
        v = verdict(Path(name), anchors)
        v["file"] = name
        out.append(v)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

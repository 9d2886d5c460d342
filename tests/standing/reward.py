#!/usr/bin/env python3
"""An independent implementation of the validators' reward formula, for the parity test
of the miner's standing estimate (tests/tests/standing_estimate.rs).

Written from ../shared/spec/VALIDATION.md ("Rewards") and the pricing rules of the reference
validator (BitMind-AI/bitmind-subnet gas/evaluation/rewards.py), not from the Rust code.
Standard library only.

stdin: a JSON list of cases, each
  {"outcomes": [{"modality": "image"|"video", "verified": bool, "requested": "2K",
                 "measured": "1K"|null, "model_name": str|null, ...}, ...],
   "gates": {"image": true|false|null, "video": true|false|null}}
stdout: a JSON list of results, one per case, each
  {"image": {"p", "n", "volume", "multiplier", "base"}, "video": {...},
   "r": float|null, "r_ungated": float}
"""
import json
import math
import sys

TIERS = {"image": ["1K", "2K", "4K"], "video": ["480p", "720p", "1080p"]}
WEIGHTS = {"image": 0.30, "video": 0.70}

IMAGE_PRICE = {"1K": 1.0, "2K": 2.0, "4K": 4.0}

BASELINE = 0.03  # USD/s, google/veo-3.1-lite
SHORTFALL_FACTOR = 0.6
# C2PA without a model name (Veo).
VEO = {"480p": 0.07, "720p": 0.152, "1080p": 0.40}
# Named by C2PA; looked up lowercased, equal first, then contained; order matters.
NAMED = [
    ("dreamina-seedance-2-0-fast", {"480p": 0.07, "720p": 0.152}),
    ("dreamina-seedance-2-0", {"480p": 0.10, "720p": 0.40, "1080p": 0.48}),
]
FLAT = [
    ("google/veo-3.1-lite", 0.03),
    ("google/veo-3.1-fast", 0.08),
    ("google/veo-3.1", 0.20),
    ("dreamina-seedance-2-0-fast", 0.152),
    ("dreamina-seedance-2-0", 0.40),
]
FLAT_SCALE = {"480p": 0.44, "720p": 1.0, "1080p": 2.25}


def find(table, name):
    low = name.lower()
    for key, value in table:
        if key == low:
            return value
    for key, value in table:
        if key in low:
            return value
    return None


def tier_index(modality, tier):
    order = TIERS[modality]
    return order.index(tier) if tier in order else None


def effective(modality, requested, measured):
    """(priced tier or None, shortfall)."""
    got = tier_index(modality, measured)
    if got is None:
        return None, 0
    asked = tier_index(modality, requested)
    if asked is None:
        return measured, 0
    return TIERS[modality][min(got, asked)], max(0, asked - got)


def video_usd_per_s(tier, name):
    if tier is None:
        return BASELINE
    if not name:
        return max(VEO[tier], BASELINE)
    table = find(NAMED, name)
    if table is not None:
        price = table[tier] if tier in table else max(table.values())
    else:
        flat = find(FLAT, name)
        price = (BASELINE if flat is None else flat) * FLAT_SCALE[tier]
    return max(price, BASELINE)


def term(o):
    modality = o["modality"]
    tier, short = effective(modality, o.get("requested"), o.get("measured"))
    if modality == "image":
        return math.sqrt(IMAGE_PRICE[tier] if tier else 1.0)
    price = video_usd_per_s(tier, o.get("model_name"))
    return math.sqrt(price / BASELINE) * SHORTFALL_FACTOR ** short


def one_modality(outcomes, modality):
    mine = [o for o in outcomes if o["modality"] == modality]
    good = [o for o in mine if o["verified"]]
    n = len(good)
    p = n / len(mine) if mine else None
    volume = min(n, 10) + max(0.0, math.log2(max(1, n - 9)))
    multiplier = sum(term(o) for o in good) / n if good else 1.0
    base = p * volume * multiplier if p is not None else 0.0
    return {"p": p, "n": n, "volume": volume, "multiplier": multiplier, "base": base}


def case(c):
    out = {m: one_modality(c["outcomes"], m) for m in ("image", "video")}
    gates = c.get("gates") or {}
    r_ungated = sum(WEIGHTS[m] * out[m]["base"] for m in out)
    if any(out[m]["base"] > 0 and gates.get(m) is None for m in out):
        r = None
    else:
        r = sum(WEIGHTS[m] * out[m]["base"] for m in out if gates.get(m) is True)
    out["r"] = r
    out["r_ungated"] = r_ungated
    return out


def main():
    cases = json.load(sys.stdin)
    json.dump([case(c) for c in cases], sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

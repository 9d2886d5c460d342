//! The price table: what one generation costs, per provider, model, tier and option, in US
//! dollars per image or per second of video. Every plan's estimated cost, every call record's
//! cost and so every spend budget come from here. The built-in rows are list prices (late
//! 2026); providers change prices, so an operator overrides or adds rows with a file in the
//! same format (`MINER_PRICES_FILE`), and `gas-miner info` prints the table in force.
//!
//! One row per line, columns separated by spaces, `#` starts a comment:
//!
//! ```text
//! # provider   model                     tier   option  per     usd
//! openrouter   google/veo-3.1-lite       720p   audio   second  0.05
//! stabilityai  sd3.5-large               *      *       image   0.065
//! ```
//!
//! `model` may end in `*` (a prefix) or be `*`; `tier` and `option` may be `*`. The most
//! specific row wins (exact model, then the longest prefix, then an exact tier, then an exact
//! option); a file's row replaces a built-in row with the same key. Options are what a
//! provider's request adds to the price: `audio` for sound, OpenAI image `low`/`medium`/`high`
//! quality with `-wide` for a non-square size.

use gas_shared::Tier;
use std::fmt::Write as _;

/// What a row's price is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Image,
    Second,
}

impl Per {
    fn as_str(self) -> &'static str {
        match self {
            Per::Image => "image",
            Per::Second => "second",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceRow {
    pub provider: String,
    /// Exact id, `prefix*` or `*`.
    pub model: String,
    /// `None`: any tier.
    pub tier: Option<Tier>,
    /// `None`: any option (the plain request).
    pub option: Option<String>,
    pub per: Per,
    pub usd: f64,
    /// Where the row comes from: `built-in` or `<file>:<line>`.
    pub source: String,
}

impl PriceRow {
    /// How well this row fits, higher is closer; `None` when it does not apply.
    fn fit(&self, item: &Priced<'_>) -> Option<(u8, usize, u8, u8)> {
        if self.provider != item.provider || self.per != item.per {
            return None;
        }
        let model = if self.model == item.model {
            (2, self.model.len())
        } else if let Some(prefix) = self.model.strip_suffix('*')
            && item.model.starts_with(prefix)
        {
            (1, prefix.len())
        } else {
            return None;
        };
        let tier = match self.tier {
            None => 0,
            Some(t) if t == item.tier => 1,
            Some(_) => return None,
        };
        let option = match (&self.option, item.option) {
            (None, _) => 0,
            (Some(o), Some(i)) if o == i => 1,
            _ => return None,
        };
        Some((model.0, model.1, tier, option))
    }

    fn same_key(&self, other: &PriceRow) -> bool {
        self.provider == other.provider
            && self.model == other.model
            && self.tier == other.tier
            && self.option == other.option
            && self.per == other.per
    }
}

/// What a plan buys, for pricing.
#[derive(Debug, Clone, Copy)]
pub struct Priced<'a> {
    pub provider: &'a str,
    pub model: &'a str,
    pub tier: Tier,
    /// `audio`, an OpenAI quality, …; `None` for the plain request.
    pub option: Option<&'a str>,
    pub per: Per,
    /// Seconds of video (ignored for images).
    pub seconds: u32,
}

/// The prices in force.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    rows: Vec<PriceRow>,
}

impl Default for PriceTable {
    fn default() -> PriceTable {
        PriceTable::builtin()
    }
}

/// The list prices the miner ships with, in the file format.
const BUILTIN: &str = "\
# provider   model                              tier   option       per     usd
openai       gpt-image-1.5                      *      low          image   0.009
openai       gpt-image-1.5                      *      medium       image   0.034
openai       gpt-image-1.5                      *      high         image   0.133
openai       gpt-image-1.5                      *      low-wide     image   0.0135
openai       gpt-image-1.5                      *      medium-wide  image   0.051
openai       gpt-image-1.5                      *      high-wide    image   0.1995
openai       gpt-image-1                        *      low          image   0.011
openai       gpt-image-1                        *      medium       image   0.042
openai       gpt-image-1                        *      high         image   0.167
openai       gpt-image-1                        *      low-wide     image   0.0165
openai       gpt-image-1                        *      medium-wide  image   0.063
openai       gpt-image-1                        *      high-wide    image   0.2505
openai       gpt-image-1-mini                   *      low          image   0.005
openai       gpt-image-1-mini                   *      medium       image   0.011
openai       gpt-image-1-mini                   *      high         image   0.036
openai       gpt-image-1-mini                   *      low-wide     image   0.0075
openai       gpt-image-1-mini                   *      medium-wide  image   0.0165
openai       gpt-image-1-mini                   *      high-wide    image   0.054
openai       gpt-image*                         *      *            image   0.20
openai       sora-2                             *      *            second  0.10
openai       sora-2-pro                         1080p  *            second  0.50
openai       sora-2-pro                         *      *            second  0.30
openrouter   google/gemini-3*                   4K     *            image   0.24
openrouter   google/gemini-3*                   *      *            image   0.134
openrouter   *                                  *      *            image   0.04
openrouter   google/veo-3.1-lite                720p   *            second  0.03
openrouter   google/veo-3.1-lite                720p   audio        second  0.05
openrouter   google/veo-3.1-lite                1080p  *            second  0.05
openrouter   google/veo-3.1-lite                1080p  audio        second  0.08
openrouter   google/veo-3.1-fast                720p   *            second  0.08
openrouter   google/veo-3.1-fast                720p   audio        second  0.10
openrouter   google/veo-3.1-fast                1080p  *            second  0.10
openrouter   google/veo-3.1-fast                1080p  audio        second  0.12
openrouter   google/veo-3.1                     *      *            second  0.20
openrouter   google/veo-3.1                     *      audio        second  0.40
openrouter   bytedance/seedance-2.0             480p   *            second  0.10
openrouter   bytedance/seedance-2.0             720p   *            second  0.40
openrouter   bytedance/seedance-2.0             1080p  *            second  0.48
openrouter   bytedance/seedance-2.0-fast        480p   *            second  0.07
openrouter   bytedance/seedance-2.0-fast        *      *            second  0.152
openrouter   *                                  *      *            second  0.48
stabilityai  sd3.5-large                        *      *            image   0.065
stabilityai  sd3.5-large-turbo                  *      *            image   0.04
stabilityai  sd3.5-medium                       *      *            image   0.035
stabilityai  sd3.5-flash                        *      *            image   0.025
stabilityai  ultra                              *      *            image   0.08
stabilityai  core                               *      *            image   0.03
stabilityai  sd3                                *      *            image   0.065
runway       veo3.1_fast                        *      *            second  0.10
runway       veo3.1_fast                        *      audio        second  0.15
runway       veo3.1                             *      *            second  0.20
runway       veo3.1                             *      audio        second  0.40
runway       veo3                               *      *            second  0.40
runway       seedance2                          *      *            second  0.36
runway       seedance2_fast                     *      *            second  0.18
google       gemini-3-pro-image                 4K     *            image   0.24
google       gemini-3-pro-image                 *      *            image   0.134
google       gemini-3.1-flash-image             4K     *            image   0.151
google       gemini-3.1-flash-image             2K     *            image   0.101
google       gemini-3.1-flash-image             *      *            image   0.067
google       *                                  *      *            image   0.24
vertex       veo-3.1-lite-generate-001          720p   *            second  0.03
vertex       veo-3.1-lite-generate-001          720p   audio        second  0.05
vertex       veo-3.1-lite-generate-001          *      *            second  0.05
vertex       veo-3.1-lite-generate-001          *      audio        second  0.08
vertex       veo-3.1-fast-generate-001          4K     *            second  0.30
vertex       veo-3.1-fast-generate-001          *      audio        second  0.15
vertex       veo-3.1-fast-generate-001          *      *            second  0.10
vertex       veo-3.1-generate-001               4K     *            second  0.60
vertex       veo-3.1-generate-001               *      *            second  0.40
vertex       *                                  *      *            second  0.60
";

impl PriceTable {
    /// The list prices the miner ships with.
    pub fn builtin() -> PriceTable {
        let mut table = PriceTable::parse(BUILTIN, "built-in").unwrap_or_else(|problems| {
            // The built-in text is checked by a unit test; this cannot happen in a release.
            panic!("built-in price table: {}", problems.join("; "))
        });
        for row in &mut table.rows {
            row.source = "built-in".into();
        }
        table
    }

    /// Reads rows in the table format; `Err` holds one line per bad row, naming
    /// `<source>:<line>`, the cause and the fix.
    pub fn parse(text: &str, source: &str) -> Result<PriceTable, Vec<String>> {
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let at = format!("{source}:{}", i + 1);
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            match parse_row(line, &at) {
                Ok(row) => rows.push(row),
                Err(why) => problems.push(format!("{at}: {why}")),
            }
        }
        if problems.is_empty() {
            Ok(PriceTable { rows })
        } else {
            Err(problems)
        }
    }

    /// This table with `file`'s rows in force: each replaces the row with the same key, or
    /// is added.
    pub fn overridden_by(mut self, file: PriceTable) -> PriceTable {
        for row in file.rows {
            match self.rows.iter_mut().find(|r| r.same_key(&row)) {
                Some(r) => *r = row,
                None => self.rows.push(row),
            }
        }
        self
    }

    /// The rows in force, in order.
    pub fn rows(&self) -> &[PriceRow] {
        &self.rows
    }

    /// The estimated cost of `item` in US$: the closest row's price (per image, or per
    /// second times the seconds). With no row for it, the provider's dearest row of that
    /// kind, so that an unknown model never counts as free against a budget.
    pub fn cost(&self, item: &Priced<'_>) -> f64 {
        let row = self
            .rows
            .iter()
            .filter_map(|r| r.fit(item).map(|f| (f, r)))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, r)| r)
            .or_else(|| {
                self.rows
                    .iter()
                    .filter(|r| r.provider == item.provider && r.per == item.per)
                    .max_by(|a, b| a.usd.total_cmp(&b.usd))
            });
        let usd = row.map_or(0.0, |r| r.usd);
        match item.per {
            Per::Image => usd,
            Per::Second => usd * f64::from(item.seconds),
        }
    }

    /// The table as a file would write it (what `gas-miner info` prints).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<12} {:<34} {:<6} {:<12} {:<7} {:>8}  source",
            "provider", "model", "tier", "option", "per", "usd"
        );
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:<12} {:<34} {:<6} {:<12} {:<7} {:>8}  {}",
                r.provider,
                r.model,
                r.tier.map_or("*", Tier::as_str),
                r.option.as_deref().unwrap_or("*"),
                r.per.as_str(),
                format!("{}", r.usd),
                r.source
            );
        }
        out
    }
}

fn parse_row(line: &str, at: &str) -> Result<PriceRow, String> {
    const FORMAT: &str = "write `provider model tier option per usd`, e.g. `openrouter google/veo-3.1-lite 720p audio second 0.05` (`*` for any tier or option)";
    let cols: Vec<&str> = line.split_whitespace().collect();
    let [provider, model, tier, option, per, usd] = cols[..] else {
        return Err(format!("{} columns, not 6; {FORMAT}", cols.len()));
    };
    const PROVIDERS: [&str; 6] = [
        "openai",
        "openrouter",
        "stabilityai",
        "runway",
        "google",
        "vertex",
    ];
    if !PROVIDERS.contains(&provider) {
        return Err(format!(
            "unknown provider `{provider}`; use one of {}",
            PROVIDERS.join(", ")
        ));
    }
    if model.contains('*') && !model.ends_with('*') || model.matches('*').count() > 1 {
        return Err(format!(
            "model `{model}`: `*` may only end a model id (a prefix) or stand alone"
        ));
    }
    let tier = match tier {
        "*" => None,
        t => Some(Tier::parse(t).ok_or_else(|| {
            format!("unknown tier `{t}`; use 1K, 2K, 4K, 480p, 720p, 1080p or *")
        })?),
    };
    let per = match per {
        "image" => Per::Image,
        "second" => Per::Second,
        other => return Err(format!("`{other}` is not a unit; use image or second")),
    };
    let usd = match usd.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => n,
        _ => {
            return Err(format!(
                "price `{usd}` is not a number of US dollars (0 or more, e.g. 0.04)"
            ));
        }
    };
    Ok(PriceRow {
        provider: provider.to_string(),
        model: model.to_string(),
        tier,
        option: (option != "*").then(|| option.to_string()),
        per,
        usd,
        source: at.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<'a>(
        provider: &'a str,
        model: &'a str,
        tier: Tier,
        option: Option<&'a str>,
        per: Per,
    ) -> Priced<'a> {
        Priced {
            provider,
            model,
            tier,
            option,
            per,
            seconds: 8,
        }
    }

    #[test]
    fn the_closest_row_prices_the_plan() {
        let t = PriceTable::builtin();
        let gemini = item(
            "openrouter",
            "google/gemini-3-pro-image-preview",
            Tier::K4,
            None,
            Per::Image,
        );
        assert_eq!(t.cost(&gemini), 0.24);
        let other = item("openrouter", "black/flux", Tier::K4, None, Per::Image);
        assert_eq!(t.cost(&other), 0.04);
        let veo = item(
            "openrouter",
            "google/veo-3.1-lite",
            Tier::P720,
            Some("audio"),
            Per::Second,
        );
        assert!((t.cost(&veo) - 0.40).abs() < 1e-9, "8 s at 0.05");
        let quiet = Priced {
            option: None,
            ..veo
        };
        assert!((t.cost(&quiet) - 0.24).abs() < 1e-9, "8 s at 0.03");
    }

    #[test]
    fn a_file_row_replaces_the_built_in_one_and_adds_new_ones() {
        let file = PriceTable::parse(
            "# cheaper this month\nstabilityai sd3.5-large * * image 0.05\nopenrouter acme/new-image 2K * image 0.02\n",
            "prices.txt",
        )
        .expect("valid");
        let t = PriceTable::builtin().overridden_by(file);
        let large = item("stabilityai", "sd3.5-large", Tier::K1, None, Per::Image);
        assert_eq!(t.cost(&large), 0.05);
        let row = t
            .rows()
            .iter()
            .find(|r| r.model == "sd3.5-large")
            .expect("row");
        assert_eq!(row.source, "prices.txt:2");
        let new = item("openrouter", "acme/new-image", Tier::K2, None, Per::Image);
        assert_eq!(t.cost(&new), 0.02);
        assert_eq!(
            t.rows().len(),
            PriceTable::builtin().rows().len() + 1,
            "one replaced, one added"
        );
        assert!(t.render().contains("prices.txt:3"));
    }

    #[test]
    fn a_bad_row_is_named_by_its_line_with_the_fix() {
        let problems = PriceTable::parse(
            "openai gpt-image-1 * high image 0.1\nopenai gpt-image-1 * high image cheap\nrunway veo3 9K * second 0.4\nacme x * * image 1\nopenai gpt-image-1 * high\n",
            "/etc/prices",
        )
        .expect_err("bad rows");
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].starts_with("/etc/prices:2: price `cheap`"));
        assert!(problems[1].starts_with("/etc/prices:3: unknown tier `9K`"));
        assert!(problems[2].starts_with("/etc/prices:4: unknown provider `acme`"));
        assert!(problems[3].starts_with("/etc/prices:5: 4 columns, not 6"));
    }

    #[test]
    fn an_unknown_model_is_priced_at_the_providers_dearest() {
        let t = PriceTable::parse(
            "runway veo3 * * second 0.4\nrunway veo3.1 * * second 0.2\n",
            "f",
        )
        .expect("valid");
        let unknown = item("runway", "gen9", Tier::P720, None, Per::Second);
        assert!((t.cost(&unknown) - 3.2).abs() < 1e-9);
    }
}

//! Usage meter: an observer of the host's model calls. It totals tokens
//! and cost per model and keeps one summary per day in the `usage` folder
//! of its data root (`usage/2026-11-30.json`), through an `fs` grant.
//!
//! Calls whose provider reports no cost are priced from the `prices`
//! setting. Observations the host dropped because the meter fell behind
//! are counted in the summary, so a total is never silently short.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use yoi_pdk::observer::{Batch, Event, Observer};
use yoi_pdk::{Error, fs};

#[derive(Deserialize, Default, Clone, Copy)]
struct Price {
    /// US dollars per million input tokens.
    #[serde(default)]
    input: f64,
    /// US dollars per million output tokens.
    #[serde(default)]
    output: f64,
}

#[derive(Serialize, Deserialize, Default)]
struct Totals {
    calls: u64,
    input_tokens: u64,
    output_tokens: u64,
    cost_usd: f64,
}

/// One day's summary file.
#[derive(Serialize, Deserialize, Default)]
struct Day {
    date: String,
    models: BTreeMap<String, Totals>,
    /// Observations the host dropped before they reached the meter.
    dropped: u64,
}

struct Meter;

impl Observer for Meter {
    fn observe(batch: Batch) -> Result<(), Error> {
        let prices: BTreeMap<String, Price> = yoi_pdk::config::get("prices")?.unwrap_or_default();
        let mut days: BTreeMap<String, Day> = BTreeMap::new();
        for observation in &batch.observations {
            let Event::ModelCall(call) = &observation.event else {
                continue;
            };
            let date = date_of(observation.at_ms);
            let day = match days.get_mut(&date) {
                Some(day) => day,
                None => days.entry(date.clone()).or_insert(load(&date)?),
            };
            let cost = if call.cost_usd > 0.0 {
                call.cost_usd
            } else {
                let p = prices.get(&call.model).copied().unwrap_or_default();
                (call.input_tokens as f64 * p.input + call.output_tokens as f64 * p.output) / 1e6
            };
            let totals = day.models.entry(call.model.clone()).or_default();
            totals.calls += 1;
            totals.input_tokens += call.input_tokens;
            totals.output_tokens += call.output_tokens;
            totals.cost_usd += cost;
        }
        if batch.dropped > 0 {
            let date = batch
                .observations
                .first()
                .map_or_else(|| "unknown".to_owned(), |o| date_of(o.at_ms));
            let day = match days.get_mut(&date) {
                Some(day) => day,
                None => days.entry(date.clone()).or_insert(load(&date)?),
            };
            day.dropped += batch.dropped;
        }
        for (date, day) in &days {
            let text = serde_json::to_vec_pretty(day)?;
            fs::write(&path(date), &text)?;
        }
        Ok(())
    }
}

yoi_pdk::register!(observer: Meter);

fn path(date: &str) -> String {
    format!("usage/{date}.json")
}

/// The day's summary so far, or a new one.
fn load(date: &str) -> Result<Day, Error> {
    match fs::read(&path(date)) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::new(format!("{} is not a usage summary: {e}", path(date)))),
        Err(Error::NotFound(_)) => Ok(Day {
            date: date.to_owned(),
            ..Day::default()
        }),
        Err(e) => Err(e),
    }
}

/// `YYYY-MM-DD` (UTC) of a time in milliseconds since the Unix epoch.
fn date_of(at_ms: u64) -> String {
    // Days to a civil date, after Howard Hinnant's `civil_from_days`.
    let z = (at_ms / 86_400_000) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::date_of;

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(951_782_400_000), "2000-02-29");
        assert_eq!(date_of(1_796_083_199_999), "2026-11-30");
        assert_eq!(date_of(1_796_083_200_000), "2026-12-01");
    }
}

//! Weather: a `forecast` tool that calls a weather service through the
//! host's `https` API. The host reaches only the hosts the operator granted;
//! the API key comes from the host's secrets, never from the plugin.

use serde::{Deserialize, Serialize};
use yoi_pdk::prelude::*;

/// The service, unless the `WEATHER_API_URL` secret names another address.
const DEFAULT_URL: &str = "https://api.weather.example";

#[derive(Deserialize)]
struct Input {
    city: String,
}

/// What the service answers.
#[derive(Deserialize)]
struct Report {
    conditions: String,
    temperature_c: f64,
    wind_kmh: f64,
}

/// What the model gets.
#[derive(Serialize)]
struct Forecast {
    city: String,
    summary: String,
}

fn forecast(input: Input) -> Result<Json<Forecast>, Error> {
    let base = match secrets::get("WEATHER_API_URL") {
        Ok(url) => url,
        Err(Error::NotFound(_)) => DEFAULT_URL.to_owned(),
        Err(e) => return Err(e),
    };
    let mut request = http::Request::get(format!(
        "{}/v1/today?city={}",
        base.trim_end_matches('/'),
        encode(&input.city)
    ));
    if let Ok(key) = secrets::get("WEATHER_API_KEY") {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = request.send()?;
    if !response.is_success() {
        return Err(Error::new(format!(
            "the weather service answered {} for {}",
            response.status, input.city
        )));
    }
    let report: Report = response.json()?;
    log::info(&format!("forecast for {}", input.city));
    Ok(Json(Forecast {
        summary: format!(
            "{}, {:.0} °C, wind {:.0} km/h",
            report.conditions, report.temperature_c, report.wind_kmh
        ),
        city: input.city,
    }))
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

yoi_pdk::register!(tools: forecast);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode("São Paulo"), "S%C3%A3o%20Paulo");
        assert_eq!(encode("a&b=c"), "a%26b%3Dc");
        assert_eq!(encode("Oslo"), "Oslo");
    }
}

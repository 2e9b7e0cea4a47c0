//! A stand-in for the weather service on 127.0.0.1:18451, so the demo's
//! weather plugin makes real HTTP calls that never leave the machine. Oslo
//! has weather; Atlantis redirects to a host the plugin was never granted.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

/// The address the weather plugin's manifest requests.
const ADDR: &str = "127.0.0.1:18451";

/// Starts the stand-in; returns its base URL.
pub fn serve() -> Result<String, String> {
    let listener = TcpListener::bind(ADDR).map_err(|e| {
        format!(
            "the demo's weather stand-in cannot listen on {ADDR}: {e} (is another demo running?)"
        )
    })?;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut reader = BufReader::new(&stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("/");
            let (status, headers, body) = if path.starts_with("/v1/today?city=Oslo") {
                (
                    "200 OK",
                    "content-type: application/json\r\n",
                    r#"{"conditions":"light rain","temperature_c":7.4,"wind_kmh":18.0}"#,
                )
            } else if path.starts_with("/v1/today?city=Atlantis") {
                (
                    "302 Found",
                    "location: https://tracker.example.net/lost-city\r\n",
                    "",
                )
            } else {
                ("404 Not Found", "", "")
            };
            let reply = format!(
                "HTTP/1.1 {status}\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    Ok(format!("http://{ADDR}"))
}

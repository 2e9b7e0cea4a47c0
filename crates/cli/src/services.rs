//! `yoi service list|show`: what hosts last recorded about each plugin
//! service (their `service_status` runtime events in the registry). Hosts
//! record a service's status on every state change and every few seconds
//! while it is busy, so the figures are as of the time printed.
//! docs/services.md.

use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::Value;
use yoi_host::ServiceStatus;

use crate::ctx::{Ctx, print_json, time};
use crate::usage::UsageError;

/// A recorded status and when it was recorded.
struct Recorded {
    at: i64,
    status: ServiceStatus,
}

/// The status fields as JSON, with when they were recorded.
fn as_json(r: &Recorded) -> Value {
    let mut v = serde_json::to_value(&r.status).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("recorded_at".into(), r.at.into());
    }
    v
}

impl Ctx {
    fn recorded(&self, plugin: Option<&str>) -> Result<Vec<Recorded>> {
        let registry = self.open()?;
        let events = registry.latest_events("service_status", plugin, "service")?;
        Ok(events
            .into_iter()
            .filter_map(|e| {
                serde_json::from_value::<ServiceStatus>(e.detail)
                    .ok()
                    .map(|status| Recorded { at: e.at, status })
            })
            .collect())
    }

    pub(crate) fn service_list(&self, plugin: Option<&str>, json: bool) -> Result<ExitCode> {
        let all = self.recorded(plugin)?;
        if json {
            return print_json(&all.iter().map(as_json).collect::<Vec<_>>());
        }
        if all.is_empty() {
            outln!(
                "no service has been recorded{}; hosts record their services' status as they run them",
                plugin.map_or(String::new(), |p| format!(" for {p}"))
            );
            return Ok(ExitCode::SUCCESS);
        }
        outln!(
            "{:<28} {:<16} {:<9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>8}  recorded",
            "service",
            "version",
            "state",
            "queue",
            "processed",
            "dropped",
            "refused",
            "errors",
            "restarts"
        );
        for r in &all {
            let s = &r.status;
            outln!(
                "{:<28} {:<16} {:<9} {:>9} {:>9} {:>7} {:>7} {:>7} {:>8}  {}",
                format!("{}/{}", s.plugin, s.service),
                s.version.to_string(),
                s.state.as_str(),
                format!("{}/{}", s.queued, s.capacity),
                s.processed,
                s.dropped,
                s.refused + s.refused_commands,
                s.errors,
                s.restarts,
                time(r.at)
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    pub(crate) fn service_show(&self, target: &str, json: bool) -> Result<ExitCode> {
        let Some((plugin, service)) = target.split_once('/') else {
            return Err(UsageError(format!(
                "`{target}` is not PLUGIN/SERVICE, e.g. example.chat-bridge/gateway"
            ))
            .into());
        };
        let all = self.recorded(Some(plugin))?;
        let Some(r) = all.iter().find(|r| r.status.service == service) else {
            let known: Vec<&str> = all.iter().map(|r| r.status.service.as_str()).collect();
            bail!(
                "no status of {plugin}/{service} has been recorded{}",
                if known.is_empty() {
                    "; hosts record it as they run the service".to_owned()
                } else {
                    format!("; {plugin}'s recorded services: {}", known.join(", "))
                }
            );
        };
        if json {
            return print_json(&as_json(r));
        }
        let s = &r.status;
        outln!(
            "{}/{} {} (recorded {})",
            s.plugin,
            s.service,
            s.version,
            time(r.at)
        );
        outln!("  state:            {}", s.state.as_str());
        if let Some(ws) = &s.websocket {
            let up = if s.connected {
                "connected"
            } else {
                "not connected"
            };
            outln!("  websocket:        {ws} ({up})");
        }
        if let Some(route) = &s.route {
            outln!("  route:            {route}");
        }
        outln!(
            "  queue:            {} of {} waiting ({})",
            s.queued,
            s.capacity,
            s.backpressure.as_str()
        );
        outln!("  processed:        {}", s.processed);
        outln!(
            "  dropped:          {} (queue full, oldest first)",
            s.dropped
        );
        outln!("  refused:          {} events (queue full)", s.refused);
        outln!("  refused commands: {}", s.refused_commands);
        outln!("  bad signatures:   {}", s.bad_signatures);
        outln!("  errors:           {}", s.errors);
        outln!("  restarts:         {}", s.restarts);
        if let Some(e) = &s.last_error {
            outln!("  last error:       {e}");
        }
        Ok(ExitCode::SUCCESS)
    }
}

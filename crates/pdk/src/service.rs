//! Services: a long-running part of a plugin that the host feeds with what
//! the outside world sends (WebSocket frames, inbound HTTP requests, timers,
//! messages from the embedding application) and that answers with
//! [`Command`]s the host carries out under the plugin's grants.
//!
//! Declare it in plugin.toml (`[[services]]` with its `websocket` endpoint
//! or `http` route, both requested under `[capabilities]`), implement
//! [`Service`] and register it:
//!
//! ```no_run
//! use yoi_pdk::service::{Command, Event, Payload, Service, StartInfo};
//!
//! struct Echo;
//!
//! impl Service for Echo {
//!     fn start(info: StartInfo) -> Result<Vec<Command>, yoi_pdk::Error> {
//!         Ok(vec![Command::every("heartbeat", 30_000)])
//!     }
//!
//!     fn handle(_service: &str, event: Event) -> Result<Vec<Command>, yoi_pdk::Error> {
//!         Ok(match event {
//!             Event::Frame(f) => match f.payload {
//!                 Payload::Text(text) => vec![Command::text(f.connection, format!("echo: {text}"))],
//!                 Payload::Binary(_) => vec![],
//!             },
//!             Event::Request(r) => vec![Command::respond(r.id, 200, "ok")],
//!             _ => vec![],
//!         })
//!     }
//! }
//!
//! yoi_pdk::register!(service: Echo);
//! ```
//!
//! The host runs one instance per service from `start` to `stop` and hands
//! it one event at a time, in arrival order, so a service may keep state
//! in statics between events. A trap or a time-out ends that instance: the
//! host starts a fresh one after its backoff, and `start` runs again
//! (`StartInfo::restarts` counts). A command the grants do not allow comes
//! back as [`Event::Refused`] with the `yoi grant` fix. docs/services.md.

use serde::Serialize;

use crate::__private::service::exports::yoi::plugin::service as wit;
use crate::Error;

pub use wit::{
    Answer, CloseConnection, Closed, Command, Emission, Event, FetchRequest, Fetched,
    InboundRequest, LogEntry, Message, Opened, Payload, Refused, SendFrame, StartInfo, Tick, Timer,
};

/// A plugin's services.
pub trait Service {
    /// Starts the service `info.name`. The commands run before any event
    /// is handled (schedule timers here). An `Err` is a failed start: the
    /// host tries again after its backoff.
    fn start(info: StartInfo) -> Result<Vec<Command>, Error> {
        let _ = info;
        Ok(Vec::new())
    }

    /// Handles one event of the service `service`. An `Err` becomes the
    /// service's last error; it keeps running.
    fn handle(service: &str, event: Event) -> Result<Vec<Command>, Error>;

    /// Stops the service: the last commands before its connections close.
    fn stop(service: &str) -> Vec<Command> {
        let _ = service;
        Vec::new()
    }
}

impl<S: Service> wit::Guest for S {
    fn start(info: StartInfo) -> Result<Vec<Command>, String> {
        S::start(info).map_err(|e| e.to_string())
    }

    fn handle(name: String, event: Event) -> Result<Vec<Command>, String> {
        S::handle(&name, event).map_err(|e| e.to_string())
    }

    fn stop(name: String) -> Vec<Command> {
        S::stop(&name)
    }
}

impl Command {
    /// Sends a text message on a connection.
    pub fn text(connection: u64, text: impl Into<String>) -> Command {
        Command::Send(SendFrame {
            connection,
            payload: Payload::Text(text.into()),
        })
    }

    /// Sends `value` as a JSON text message on a connection.
    pub fn json<T: Serialize + ?Sized>(connection: u64, value: &T) -> Result<Command, Error> {
        let text = serde_json::to_string(value)
            .map_err(|e| Error::new(format!("cannot write the message as JSON: {e}")))?;
        Ok(Command::text(connection, text))
    }

    /// Sends a binary message on a connection.
    pub fn binary(connection: u64, bytes: impl Into<Vec<u8>>) -> Command {
        Command::Send(SendFrame {
            connection,
            payload: Payload::Binary(bytes.into()),
        })
    }

    /// Closes a connection (the host connects again after its backoff).
    pub fn close(connection: u64, code: u16, reason: impl Into<String>) -> Command {
        Command::Close(CloseConnection {
            connection,
            code,
            reason: reason.into(),
        })
    }

    /// Answers an inbound request with a status and a body.
    pub fn respond(request: u64, status: u16, body: impl Into<Vec<u8>>) -> Command {
        Command::Respond(Answer {
            request,
            status,
            headers: Vec::new(),
            body: body.into(),
        })
    }

    /// Answers an inbound request with `value` as JSON.
    pub fn respond_json<T: Serialize + ?Sized>(
        request: u64,
        status: u16,
        value: &T,
    ) -> Result<Command, Error> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::new(format!("cannot write the answer as JSON: {e}")))?;
        Ok(Command::Respond(Answer {
            request,
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }))
    }

    /// Makes an HTTPS request under the plugin's `https` grants; the answer
    /// comes back as [`Event::Fetched`] carrying `tag`.
    pub fn fetch(tag: impl Into<String>, request: crate::http::Request) -> Command {
        Command::Fetch(FetchRequest {
            tag: tag.into(),
            request: request.into_wit(),
        })
    }

    /// Fires [`Event::Tick`] named `name` once, after `ms` milliseconds.
    pub fn after(name: impl Into<String>, ms: u32) -> Command {
        Command::Schedule(Timer {
            name: name.into(),
            after_ms: ms,
            repeat: false,
        })
    }

    /// Fires [`Event::Tick`] named `name` every `ms` milliseconds.
    pub fn every(name: impl Into<String>, ms: u32) -> Command {
        Command::Schedule(Timer {
            name: name.into(),
            after_ms: ms,
            repeat: true,
        })
    }

    /// Hands an observation to the embedding application (and to the
    /// observers of `custom` observations).
    pub fn emit<T: Serialize + ?Sized>(
        kind: impl Into<String>,
        data: &T,
    ) -> Result<Command, Error> {
        let data = serde_json::to_string(data)
            .map_err(|e| Error::new(format!("cannot write the observation as JSON: {e}")))?;
        Ok(Command::Emit(Emission {
            kind: kind.into(),
            data,
        }))
    }
}

impl Fetched {
    /// The response, or the host's error as the PDK's [`Error`].
    pub fn response(self) -> Result<crate::http::Response, Error> {
        match self.outcome {
            Ok(r) => Ok(crate::http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
                url: r.url,
            }),
            Err(e) => Err(e.into()),
        }
    }
}

impl Refused {
    /// Why, as the PDK's [`Error`] (a denial carries the fix).
    pub fn error(&self) -> Error {
        self.error.clone().into()
    }
}

impl InboundRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::header(&self.headers, name)
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::new(format!("the request body is not the expected JSON: {e}")))
    }
}

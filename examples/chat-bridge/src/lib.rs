//! A two-way chat bridge, as a Yoi service plugin.
//!
//! - `gateway`: the host connects the chat gateway's WebSocket. Each
//!   `message` frame becomes a `work_item` observation for the agent host
//!   (which creates the item, running `work_item.pre_create` as usual) and
//!   is acknowledged with an `ack` frame. The agent's delivered answers
//!   come back as `deliver` messages from the host and go out as `reply`
//!   frames; answers that arrive while the gateway is away wait (up to 100)
//!   and go out when it is back.
//! - `webhook`: signed POSTs to `/hooks/chat` (the host checks the
//!   signature first) become work items too, answered `202`.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::json;
use yoi_pdk::Error;
use yoi_pdk::service::{Command, Event, Payload, Service};

struct Bridge;

/// A message from the gateway or a webhook.
#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    id: String,
    channel: String,
    #[serde(default)]
    user: String,
    text: String,
}

/// An answer the agent delivered, to send back.
#[derive(Deserialize, Serialize, Clone)]
struct Reply {
    channel: String,
    text: String,
    #[serde(default)]
    reply_to: String,
}

/// The gateway connection, and answers waiting for it.
struct Gateway {
    connection: Option<u64>,
    waiting: VecDeque<Reply>,
}

static GATEWAY: Mutex<Gateway> = Mutex::new(Gateway {
    connection: None,
    waiting: VecDeque::new(),
});

const MAX_WAITING: usize = 100;

/// The work item the agent host creates for a chat message.
fn work_item(m: &Incoming, source: &str) -> Result<Command, Error> {
    let title: String = m.text.chars().take(80).collect();
    Command::emit(
        "work_item",
        &json!({
            "title": title,
            "payload": { "channel": m.channel, "user": m.user, "text": m.text, "id": m.id },
            "session_key": format!("chat:{}", m.channel),
            "source": source,
        }),
    )
}

fn reply_frame(connection: u64, r: &Reply) -> Result<Command, Error> {
    Command::json(
        connection,
        &json!({ "type": "reply", "channel": r.channel, "text": r.text, "reply_to": r.reply_to }),
    )
}

fn gateway(event: Event) -> Result<Vec<Command>, Error> {
    let mut g = GATEWAY
        .lock()
        .map_err(|_| Error::new("the bridge's state is poisoned"))?;
    match event {
        Event::Opened(o) => {
            g.connection = Some(o.connection);
            let waiting: Vec<Reply> = g.waiting.drain(..).collect();
            waiting
                .iter()
                .map(|r| reply_frame(o.connection, r))
                .collect()
        }
        Event::Closed(c) => {
            if g.connection == Some(c.connection) {
                g.connection = None;
            }
            Ok(vec![])
        }
        Event::Frame(f) => {
            let Payload::Text(text) = f.payload else {
                return Ok(vec![Command::json(
                    f.connection,
                    &json!({ "type": "error", "reason": "binary frames are not understood" }),
                )?]);
            };
            match yoi_pdk::json::from_str::<Incoming>(&text) {
                Ok(m) if m.kind == "message" => Ok(vec![
                    work_item(&m, "chat-gateway")?,
                    Command::json(f.connection, &json!({ "type": "ack", "id": m.id }))?,
                ]),
                Ok(m) => Ok(vec![Command::json(
                    f.connection,
                    &json!({ "type": "error", "reason": format!("unknown type `{}`", m.kind) }),
                )?]),
                Err(e) => Ok(vec![Command::json(
                    f.connection,
                    &json!({ "type": "error", "reason": format!("not a chat message: {e}") }),
                )?]),
            }
        }
        Event::Message(m) if m.kind == "deliver" => {
            let reply: Reply = yoi_pdk::json::from_str(&m.data)?;
            match g.connection {
                Some(c) => Ok(vec![reply_frame(c, &reply)?]),
                None => {
                    if g.waiting.len() == MAX_WAITING {
                        g.waiting.pop_front();
                    }
                    g.waiting.push_back(reply);
                    Ok(vec![])
                }
            }
        }
        Event::Refused(r) => Err(r.error()),
        _ => Ok(vec![]),
    }
}

fn webhook(event: Event) -> Result<Vec<Command>, Error> {
    let Event::Request(request) = event else {
        return Ok(vec![]);
    };
    if request.method != "POST" {
        return Ok(vec![Command::respond(
            request.id,
            405,
            "POST a chat message",
        )]);
    }
    match request.json::<Incoming>() {
        Ok(m) => Ok(vec![
            work_item(&m, "chat-webhook")?,
            Command::respond_json(request.id, 202, &json!({ "accepted": true }))?,
        ]),
        Err(e) => Ok(vec![Command::respond(request.id, 400, e.to_string())]),
    }
}

impl Service for Bridge {
    fn handle(service: &str, event: Event) -> Result<Vec<Command>, Error> {
        match service {
            "gateway" => gateway(event),
            "webhook" => webhook(event),
            other => Err(Error::new(format!("no service `{other}` here"))),
        }
    }
}

yoi_pdk::register!(service: Bridge);

//! A chat gateway stand-in on 127.0.0.1 for the services tests and
//! benchmarks: it accepts WebSocket connections, keeps what it receives and
//! says what it is told.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

/// What the gateway stand-in tells its current connection.
pub enum Say {
    Text(String),
    /// Drop the TCP connection without a close frame.
    Vanish,
    /// Keep the connection open but stop reading and answering (a peer
    /// that hung): only the host's heartbeat notices.
    Hang,
}

/// A chat gateway on 127.0.0.1: accepts WebSocket connections, keeps what
/// it receives, and says what the test tells it.
pub struct Gateway {
    pub port: u16,
    pub received: Arc<Mutex<Vec<String>>>,
    /// Close frames received, by code.
    pub closes: Arc<Mutex<Vec<u16>>>,
    pub accepted: Arc<AtomicUsize>,
    current: Arc<Mutex<Option<tokio::sync::mpsc::UnboundedSender<Say>>>>,
    /// Every text frame received, as it arrives.
    frames: Mutex<Option<std::sync::mpsc::Receiver<String>>>,
}

impl Gateway {
    pub fn start() -> Gateway {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let closes = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let current = Arc::new(Mutex::new(None));
        let (frames_tx, frames) = std::sync::mpsc::channel();
        let (r, c, a, cur) = (
            Arc::clone(&received),
            Arc::clone(&closes),
            Arc::clone(&accepted),
            Arc::clone(&current),
        );
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                        continue;
                    };
                    a.fetch_add(1, Ordering::SeqCst);
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                    *cur.lock().unwrap() = Some(tx);
                    let (r, c, f) = (Arc::clone(&r), Arc::clone(&c), frames_tx.clone());
                    tokio::spawn(async move {
                        let (mut sink, mut stream) = ws.split();
                        loop {
                            tokio::select! {
                                m = stream.next() => match m {
                                    Some(Ok(Message::Text(t))) => {
                                        let _ = f.send(t.to_string());
                                        r.lock().unwrap().push(t.to_string());
                                    }
                                    Some(Ok(Message::Close(f))) => {
                                        c.lock().unwrap().push(f.map_or(1005, |f| u16::from(f.code)));
                                        return;
                                    }
                                    Some(Ok(_)) => {}
                                    _ => return,
                                },
                                say = rx.recv() => match say {
                                    Some(Say::Text(t)) => {
                                        if sink.send(Message::text(t)).await.is_err() {
                                            return;
                                        }
                                    }
                                    Some(Say::Hang) => break,
                                    Some(Say::Vanish) | None => return,
                                },
                            }
                        }
                        // Hung: the connection stays open, nothing is read.
                        let _held = (sink, stream);
                        std::future::pending::<()>().await;
                    });
                }
            });
        });
        Gateway {
            port,
            received,
            closes,
            accepted,
            current,
            frames: Mutex::new(Some(frames)),
        }
    }

    /// Every text frame from now on, as it arrives (once).
    pub fn frames(&self) -> std::sync::mpsc::Receiver<String> {
        self.frames
            .lock()
            .unwrap()
            .take()
            .expect("frames are taken once")
    }

    pub fn say(&self, say: Say) {
        let tx = self.current.lock().unwrap().clone().expect("a connection");
        assert!(tx.send(say).is_ok(), "the connection is open");
    }

    /// Waits until `n` connections were accepted in all.
    pub fn wait_accepted(&self, n: usize) {
        wait(&format!("connection {n}"), || {
            (self.accepted.load(Ordering::SeqCst) == n).then_some(())
        });
    }

    pub fn send(&self, text: &str) {
        self.say(Say::Text(text.to_owned()));
    }

    /// Waits for a received frame that satisfies `want`.
    pub fn wait_for(&self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        wait(what, || {
            self.received
                .lock()
                .unwrap()
                .iter()
                .filter_map(|t| serde_json::from_str::<Value>(t).ok())
                .find(|v| want(v))
        })
    }
}

/// Polls `f` every 5 ms until it gives something, for at most 10 s.
pub fn wait<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

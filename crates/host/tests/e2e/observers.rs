//! Observers: `examples/usage-meter` totals model calls into a daily file,
//! and `examples/hostile/surfaces` plays a slow and a failing observer.
//! Batches arrive off the dispatch path; a slow observer's queue drops its
//! oldest observations and counts them; an observer's failures are its own.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use yoi_host::{
    Completion, CompletionRequest, FinishReason, Message, NativeProvider, ObservationKind, Role,
    Usage,
};

use crate::{builder, call, example};

/// Waits until `done` holds, or fails after 10 s.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_usage_meter_totals_model_calls_per_model_in_a_daily_file() {
    let data = tempfile::tempdir().expect("temp dir");
    let host = builder().data_dir(data.path()).build().expect("host");
    host.load_with_grants(example("usage-meter"), &["fs:usage:rw"])
        .expect("usage-meter loads");
    let prices = json!({ "prices": { "small-1": { "input": 1.0, "output": 2.0 } } });
    host.configure(
        "example.usage-meter",
        prices.as_object().cloned().unwrap_or_default(),
    )
    .expect("prices");
    assert_eq!(host.plugins()[0].observes, [ObservationKind::ModelCall]);
    let native = NativeProvider::new("house", &["small-1"], |req, _| async move {
        Ok(Completion {
            model: req.model,
            content: "ok".into(),
            tool_calls: Vec::new(),
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input_tokens: 1000,
                output_tokens: 500,
                cost_usd: 0.0,
            },
        })
    })
    .expect("provider");
    host.register_provider(native).expect("registered");
    for _ in 0..3 {
        let outcome = host
            .complete(CompletionRequest {
                model: "small-1".into(),
                messages: vec![Message::new(Role::User, "hi")],
                tools: Vec::new(),
                temperature: None,
                max_tokens: None,
                stop: Vec::new(),
                turn: 0,
            })
            .await;
        assert!(outcome.result.is_ok());
    }
    // A model.post_call the embedder dispatches itself counts too.
    host.dispatch(yoi_host::ModelResponse {
        response: json!({}),
        model: "large-2".into(),
        turn: 0,
        duration_ms: 10,
        input_tokens: 10,
        output_tokens: 20,
        cost_usd: 0.25,
    })
    .await;

    let folder = data.path().join("example.usage-meter/usage");
    let summary = || -> Option<Value> {
        let file = std::fs::read_dir(&folder).ok()?.next()?.ok()?.path();
        serde_json::from_slice(&std::fs::read(file).ok()?).ok()
    };
    until("the summary", || {
        summary().is_some_and(|s| {
            s["models"]["small-1"]["calls"] == 3 && s["models"]["large-2"]["calls"] == 1
        })
    })
    .await;
    let s = summary().expect("summary");
    assert_eq!(s["models"]["small-1"]["input_tokens"], 3000);
    assert_eq!(s["models"]["small-1"]["output_tokens"], 1500);
    // Priced from the setting: 3 × (1000 × $1 + 500 × $2) per million.
    let cost = s["models"]["small-1"]["cost_usd"].as_f64().expect("cost");
    assert!((cost - 0.006).abs() < 1e-9, "{cost}");
    assert_eq!(s["models"]["large-2"]["cost_usd"], 0.25);
    assert_eq!(s["dropped"], 0);
    let status = &host.observers()[0];
    assert_eq!((status.delivered, status.dropped), (4, 0));
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_slow_observer_drops_its_oldest_observations_and_says_how_many() {
    let data = tempfile::tempdir().expect("temp dir");
    let host = builder().data_dir(data.path()).build().expect("host");
    host.load_with_grants(example("hostile/surfaces"), &["fs:obs:rw"])
        .expect("surfaces loads");
    let slow = json!({ "spin": 40_000_000 });
    host.configure(
        "example.surfaces",
        slow.as_object().cloned().unwrap_or_default(),
    )
    .expect("spin");
    // Its queue holds 8: most of 300 observations cannot wait for it.
    let started = Instant::now();
    for i in 0..300 {
        host.observe("tick", json!({ "i": i }));
    }
    let emitting = started.elapsed();
    assert!(
        emitting < Duration::from_millis(50),
        "observe never waits: {emitting:?}"
    );

    let file = data.path().join("example.surfaces/obs/observed.jsonl");
    until("the queue to drain", || host.observers()[0].idle()).await;
    let status = host.observers()[0].clone();
    assert_eq!(status.received, 300);
    assert!(status.dropped > 200, "{status:?}");
    assert_eq!(status.failed_batches, 0);
    let batches = lines(&file);
    let received: u64 = batches.iter().map(|b| b["n"].as_u64().unwrap_or(0)).sum();
    let told: u64 = batches
        .iter()
        .map(|b| b["dropped"].as_u64().unwrap_or(0))
        .sum();
    // Every observation either arrived or was counted as dropped.
    assert_eq!(received, status.delivered);
    assert_eq!(received + told, 300, "{batches:?}");
    // In order, newest kept: the last one always arrives.
    let seqs: Vec<u64> = batches
        .iter()
        .flat_map(|b| b["seqs"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s.as_u64())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(
        batches.iter().all(|b| b["n"].as_u64() <= Some(4)),
        "batch limit"
    );
    assert!(
        batches
            .iter()
            .flat_map(|b| b["kinds"].as_array().cloned().unwrap_or_default())
            .all(|k| k == "custom")
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn an_observer_sees_receipts_and_tool_calls_and_its_failures_are_its_own() {
    let data = tempfile::tempdir().expect("temp dir");
    let host = builder()
        .data_dir(data.path())
        .crash_guard(3, Duration::from_secs(60))
        .build()
        .expect("host");
    host.load(example("guard")).expect("guard");
    host.load_with_grants(example("hostile/surfaces"), &["fs:obs:rw"])
        .expect("surfaces");
    let out = host.dispatch(call("shell", json!({"cmd": "ls"}))).await;
    assert!(out.blocked.is_some());
    let file = data.path().join("example.surfaces/obs/observed.jsonl");
    until("the receipt", || {
        lines(&file).iter().any(|b| {
            b["kinds"]
                .as_array()
                .is_some_and(|k| k.contains(&json!("receipt")))
        })
    })
    .await;

    // Now it fails every batch: the guard unloads it, dispatch goes on.
    let failing = json!({ "fail": true });
    host.configure(
        "example.surfaces",
        failing.as_object().cloned().unwrap_or_default(),
    )
    .expect("fail");
    for i in 0..20 {
        host.observe("tick", json!({ "i": i }));
        let out = host.dispatch(call("shell", json!({"cmd": "ls"}))).await;
        assert!(out.blocked.is_some(), "the guard's work is untouched");
        tokio::time::sleep(Duration::from_millis(30)).await;
        if host.plugins().len() == 1 {
            break;
        }
    }
    until("the crash guard", || host.plugins().len() == 1).await;
    assert_eq!(host.plugins()[0].id.as_str(), "example.guard");
    assert!(host.observers().is_empty(), "its queue went with it");
}

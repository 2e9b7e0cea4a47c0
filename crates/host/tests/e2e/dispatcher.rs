//! The dispatcher's rules (docs/hooks.md) with real components: order, time
//! limits, the chain budget, fail modes, blocking.

use std::time::{Duration, Instant};

use serde_json::json;
use yoi_host::{HookPoint, Status};

use super::{Probe, altered_copy, call, example, host_with, probe, receipt_of, result, statuses};

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn handlers_run_by_priority_then_plugin_id() {
    let a = probe(Probe {
        id: "b.probe",
        priority: 10,
        ..Probe::default()
    });
    let b = probe(Probe {
        id: "a.probe",
        priority: 10,
        ..Probe::default()
    });
    let low_guard = altered_copy("guard", |t| t.replace("priority = 100", "priority = -5"));
    let top = probe(Probe {
        id: "z.probe",
        priority: 50,
        ..Probe::default()
    });
    // Loaded in an order that matches none of the rules.
    let host = host_with(&[a.path(), low_guard.path(), top.path(), b.path()]);
    let order: Vec<_> = host
        .handlers(HookPoint::ToolPreExec)
        .into_iter()
        .map(|h| (h.plugin.to_string(), h.priority))
        .collect();
    let expected = vec![
        ("z.probe".to_owned(), 50),
        ("a.probe".to_owned(), 10),
        ("b.probe".to_owned(), 10),
        ("example.guard".to_owned(), -5),
    ];
    assert_eq!(order, expected);
    let out = host.dispatch(call("fetch", json!({}))).await;
    let ran: Vec<_> = out.receipts.iter().map(|r| r.plugin.to_string()).collect();
    assert_eq!(ran, ["z.probe", "a.probe", "b.probe", "example.guard"]);
}

/// The probe's loop was stopped as a timeout, no sooner than its 200 ms.
fn probe_timed_out_at_its_limit(out: &yoi_host::Dispatch<yoi_host::ToolCall>) {
    let spin = receipt_of(out, "hostile.probe");
    assert_eq!(spin.status, Status::Timeout);
    assert!(
        spin.duration >= Duration::from_millis(200),
        "{:?}",
        spin.duration
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_looping_handler_is_stopped_at_its_time_limit_and_the_chain_goes_on() {
    let pkg = probe(Probe::default()); // 200 ms, fail open
    let host = host_with(&[pkg.path(), &example("guard")]);
    let started = Instant::now();
    let out = host
        .dispatch(call("fetch #probe:loop", json!({"url": "http://a"})))
        .await;
    let elapsed = started.elapsed();
    probe_timed_out_at_its_limit(&out);
    assert!(
        elapsed < Duration::from_millis(1500),
        "stopped, not waited for: {elapsed:?}"
    );
    assert!(out.blocked.is_none(), "fail-open lets the event through");
    assert_eq!(receipt_of(&out, "example.guard").changed, ["input"]);
    assert_eq!(out.data.input, json!({"url": "https://a"}));
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_chain_budget_bounds_the_whole_dispatch() {
    let first = probe(Probe {
        id: "first.probe",
        priority: 20,
        ..Probe::default()
    });
    let second = probe(Probe {
        id: "second.probe",
        priority: 10,
        ..Probe::default()
    });
    let last_guard = altered_copy("guard", |t| t.replace("priority = 100", "priority = -5"));
    let host = super::builder()
        .chain_budget(Duration::from_millis(300))
        .build()
        .expect("host");
    super::load_all(&host, &[first.path(), second.path(), last_guard.path()]);
    let started = Instant::now();
    let out = host.dispatch(call("fetch #probe:loop", json!({}))).await;
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        statuses(&out),
        [
            ("first.probe".to_owned(), Status::Timeout),
            ("second.probe".to_owned(), Status::Timeout),
            ("example.guard".to_owned(), Status::Busy),
        ]
    );
    // The second got what was left (about 100 ms), the third nothing.
    let second = &out.receipts[1];
    assert!(
        second.duration < Duration::from_millis(200),
        "{:?}",
        second.duration
    );
    let third = out.receipts[2].detail.as_deref().unwrap_or_default();
    assert!(third.contains("chain budget of 300 ms"), "{third}");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn fail_closed_stops_the_chain_and_blocks_where_the_point_can_block() {
    let closed = probe(Probe {
        fail: "closed",
        ..Probe::default()
    });
    let host = host_with(&[closed.path(), &example("guard"), &example("redact")]);

    let out = host.dispatch(call("fetch #probe:err", json!({}))).await;
    assert_eq!(
        statuses(&out),
        [("hostile.probe".to_owned(), Status::Error)]
    );
    let blocked = out.blocked.expect("fail-closed blocks tool.pre_exec");
    assert!(blocked.reason.contains("fail-closed"), "{}", blocked.reason);
    assert!(
        blocked
            .reason
            .contains("probe failed at tool.pre_exec on purpose")
    );

    // tool.post_exec cannot block: the chain stops, the event goes on as it was.
    let out = host.dispatch(result("#probe:err password=x")).await;
    assert_eq!(
        statuses(&out),
        [("hostile.probe".to_owned(), Status::Error)]
    );
    assert!(out.blocked.is_none());
    assert_eq!(
        out.data.output, "#probe:err password=x",
        "redact did not run"
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_block_stops_the_chain_with_the_reason() {
    let pkg = probe(Probe::default());
    let host = host_with(&[pkg.path(), &example("guard")]);
    let out = host.dispatch(call("fetch #probe:block", json!({}))).await;
    assert_eq!(
        statuses(&out),
        [("hostile.probe".to_owned(), Status::Blocked)]
    );
    assert_eq!(
        out.blocked.expect("blocked").message(),
        "blocked by plugin hostile.probe: probe blocked tool.pre_exec"
    );
}

/// Per-event isolation, the default: what one event left in a plugin's
/// memory is gone for the next, though the next instance reuses the same
/// pooled memory (its pages are reset, not unmapped). With reuse on, the
/// same plugin remembers, which shows the probe really kept it.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn one_events_memory_never_reaches_the_next_by_default() {
    let pkg = probe(Probe::default());
    let recalled = |out: &yoi_host::Dispatch<yoi_host::ToolCall>| {
        let r = receipt_of(out, "hostile.probe");
        assert_eq!(r.status, Status::Ok, "{r:#?}");
        r.logs
            .iter()
            .map(|l| l.message.clone())
            .find(|m| m.contains("remembered"))
            .expect("the probe says what it remembers")
    };
    let isolated = super::builder().build().expect("host");
    let warm = super::builder()
        .reuse_instances(true)
        .build()
        .expect("host");
    for host in [&isolated, &warm] {
        super::load_all(host, &[pkg.path()]);
        host.dispatch_for("alice", call("x #probe:remember:alice-token", json!({})))
            .await;
    }
    for _ in 0..3 {
        let out = isolated
            .dispatch_for("bob", call("x #probe:recall", json!({})))
            .await;
        assert_eq!(recalled(&out), "nothing remembered");
    }
    let out = warm
        .dispatch_for("bob", call("x #probe:recall", json!({})))
        .await;
    assert_eq!(recalled(&out), "remembered alice-token");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn fresh_instances_from_the_pooling_allocator_behave_the_same() {
    let pkg = probe(Probe::default());
    let host = super::builder()
        .reuse_instances(false)
        .pooling_allocator(8)
        .memory_limit(16 * 1024 * 1024)
        .build()
        .expect("host");
    super::load_all(&host, &[pkg.path(), &example("guard")]);
    for _ in 0..20 {
        let out = host.dispatch(call("shell", json!({}))).await;
        assert!(out.is_blocked());
    }
    // A trap (memory bomb) returns its slot: later events still run.
    let out = host.dispatch(call("x #probe:grow", json!({}))).await;
    assert_eq!(receipt_of(&out, "hostile.probe").status, Status::Error);
    let out = host.dispatch(call("x", json!({}))).await;
    assert_eq!(statuses(&out).len(), 2);
    assert!(
        out.receipts.iter().all(|r| r.status == Status::Ok),
        "{:#?}",
        out.receipts
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_looping_handler_gives_its_thread_back_at_every_epoch_tick() {
    use yoi_host::embedding::{Started, start_here};
    let pkg = probe(Probe::default()); // 200 ms, fail open
    let host = host_with(&[pkg.path(), &example("guard")]);
    // A quick dispatch (a fresh instance of each plugin, the default)
    // finishes at its first poll, on the thread that polled it.
    let Started::Done(quick) = start_here(host.dispatch(call("fetch", json!({"url": "http://a"}))))
    else {
        panic!("a dispatch that neither waits nor loops did not finish at its first poll");
    };
    assert_eq!(quick.data.input, json!({"url": "https://a"}));
    // A looping guest yields at the next epoch tick (5 ms): the thread
    // that started it (an event loop's) is not held for its 200 ms.
    let started = Instant::now();
    let first = start_here(host.dispatch(call("fetch #probe:loop", json!({"url": "http://a"}))));
    let held = started.elapsed();
    let Started::Running(rest) = first else {
        panic!("a 200 ms loop finished at its first poll");
    };
    assert!(held < Duration::from_millis(60), "held the thread {held:?}");
    // Finished elsewhere, it keeps its time limit and the chain goes on.
    let out = rest.await;
    probe_timed_out_at_its_limit(&out);
    assert_eq!(out.data.input, json!({"url": "https://a"}));
}

//! Hostile plugins: each misbehaviour gets its documented receipt; other
//! plugins on the hook still run (fail open) or the chain stops (fail
//! closed); the host keeps working afterwards.

use serde_json::json;
use yoi_host::{Host, Status};

use super::{Probe, call, example, load_all, probe, receipt_of, result, statuses};

/// (command, expected status, words the receipt's detail must contain)
const FAILURES: &[(&str, Status, &str)] = &[
    ("loop", Status::Timeout, "time limit of 200 ms"),
    ("recurse", Status::Error, "trapped"),
    ("grow", Status::Error, "trapped"),
    ("panic", Status::Error, "trapped"),
    (
        "err",
        Status::Error,
        "probe failed at tool.pre_exec on purpose",
    ),
];

fn host(fail: &str) -> (Host, tempfile::TempDir) {
    let pkg = probe(Probe {
        fail,
        ..Probe::default()
    });
    // A small memory cap, so the `grow` bomb hits it quickly.
    let host = super::builder()
        .memory_limit(16 * 1024 * 1024)
        .build()
        .expect("host");
    load_all(&host, &[pkg.path(), &example("guard")]);
    (host, pkg)
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn failing_handlers_fail_open_and_the_rest_of_the_chain_runs() {
    let (host, _pkg) = host("open");
    for (command, status, words) in FAILURES {
        let out = host
            .dispatch(call(
                &format!("fetch #probe:{command}"),
                json!({"url": "http://a"}),
            ))
            .await;
        let r = receipt_of(&out, "hostile.probe");
        assert_eq!(r.status, *status, "{command}: {r:#?}");
        let detail = r.detail.as_deref().unwrap_or_default();
        assert!(detail.contains(words), "{command}: {detail}");
        assert!(out.blocked.is_none(), "{command}");
        assert_eq!(
            receipt_of(&out, "example.guard").status,
            Status::Ok,
            "{command}"
        );
        assert_eq!(out.data.input, json!({"url": "https://a"}), "{command}");

        // The failed instance is gone; the next event gets a working one.
        let next = host.dispatch(call("fetch", json!({}))).await;
        assert_eq!(
            receipt_of(&next, "hostile.probe").status,
            Status::Ok,
            "after {command}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn failing_handlers_fail_closed_and_stop_the_chain() {
    let (host, _pkg) = host("closed");
    for (command, status, _) in FAILURES {
        let out = host
            .dispatch(call(&format!("fetch #probe:{command}"), json!({})))
            .await;
        assert_eq!(
            statuses(&out),
            [("hostile.probe".to_owned(), *status)],
            "{command}"
        );
        let blocked = out.blocked.expect("blocked");
        assert_eq!(blocked.plugin.as_str(), "hostile.probe");
    }
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn an_oversized_return_is_refused_and_ignored() {
    let (host, _pkg) = host("open");
    let out = host.dispatch(result("#probe:big:output")).await;
    let r = receipt_of(&out, "hostile.probe");
    assert_eq!(r.status, Status::RejectedChange);
    let detail = r.detail.as_deref().unwrap_or_default();
    assert!(
        detail.contains("changed `output` is 5242880 bytes; the limit is 4194304"),
        "{detail}"
    );
    assert_eq!(out.data.output, "#probe:big:output");
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn forbidden_changes_and_blocks_are_refused_and_the_chain_goes_on() {
    let (host, _pkg) = host("closed");
    // Renaming the tool at tool.pre_exec: only `input` may change. Even a
    // fail-closed hook does not block on it: the change is just ignored.
    let out = host
        .dispatch(call(
            "fetch #probe:set:tool_name=shell",
            json!({"url": "https://a"}),
        ))
        .await;
    let r = receipt_of(&out, "hostile.probe");
    assert_eq!(r.status, Status::RejectedChange);
    assert!(
        r.detail
            .as_deref()
            .unwrap_or_default()
            .contains("only `input`")
    );
    assert_eq!(out.data.tool_name, "fetch #probe:set:tool_name=shell");
    assert!(
        out.blocked.is_none(),
        "guard saw the original tool, not `shell`"
    );
    assert_eq!(receipt_of(&out, "example.guard").status, Status::Ok);

    // Blocking at tool.post_exec, which cannot block.
    let out = host.dispatch(result("#probe:block")).await;
    let r = receipt_of(&out, "hostile.probe");
    assert_eq!(r.status, Status::RejectedChange);
    assert!(out.blocked.is_none());
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn stdout_is_captured_as_log_lines_not_passed_through() {
    let (host, _pkg) = host("open");
    let out = host.dispatch(call("fetch #probe:stdout", json!({}))).await;
    let r = receipt_of(&out, "hostile.probe");
    assert_eq!(r.status, Status::Ok);
    let line = r
        .logs
        .iter()
        .find(|l| {
            l.fields
                .contains(&("stream".to_owned(), "stdout".to_owned()))
        })
        .expect("stdout became a log line");
    assert!(
        line.message
            .contains("probe wrote to stdout at tool.pre_exec")
    );
}

/// WASI is linked with nothing behind it (docs/hooks.md): the standard
/// library's files, sockets and environment load but reach nothing.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_standard_librarys_wasi_reaches_nothing() {
    let (host, _pkg) = host("open");
    let out = host.dispatch(call("fetch #probe:wasi", json!({}))).await;
    let r = receipt_of(&out, "hostile.probe");
    assert_eq!(r.status, Status::Ok, "{:?}", r.detail);
    let said: Vec<&str> = r
        .logs
        .iter()
        .filter_map(|l| l.message.strip_prefix("wasi "))
        .collect();
    assert_eq!(said.len(), 5, "{said:?}");
    for (what, answer) in [
        ("read /etc/passwd", "refused"),
        ("list .", "refused"),
        ("connect 127.0.0.1:1", "refused"),
        ("environment", "0 variables"),
        ("clock", "ticks"),
    ] {
        let line = said
            .iter()
            .find(|l| l.starts_with(what))
            .unwrap_or_else(|| panic!("no `{what}` in {said:?}"));
        assert!(line.contains(answer), "{line}");
    }
}

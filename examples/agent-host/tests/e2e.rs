//! The demo (`cargo xtask demo`) end to end: the agent host runs the example
//! plugins, and what each did shows in its output. Run with `cargo xtask
//! e2e`, which builds the components first.

use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
fn the_demo_runs_every_example_through_the_agent_loop() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO_BIN_EXE_agent-host"))
        .args(
            [
                "guard",
                "redact",
                "policy",
                "weather",
                "notes",
                "openai-compat",
                "usage-meter",
                "chat-bridge",
            ]
            .map(|e| examples.join(e)),
        )
        .output()
        .expect("agent-host runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        // tools the model is offered, namespaced
        "tools the model sees: fetch, shell, example.weather.forecast, example.notes.add_note",
        // hooks around a native tool
        "example.guard@0.1.0 tool.pre_exec: changed input",
        "config: api_key=sk-**** password=****",
        "blocked by plugin example.guard: tool `shell` is on the deny list",
        // the weather tool against the local stand-in, through its grant
        r#"the model sees: "{\"city\":\"Oslo\",\"summary\":\"light rain, 7 °C, wind 18 km/h\"}""#,
        // the notes tool in its data root
        "saved `Oslo trip` as notes/oslo-trip.md",
        "the model sees: \"oslo-trip (33 bytes)\"",
        // input checked against the schema before the plugin runs
        "[InvalidInput]: \"the input does not match the tool's schema",
        // a redirect to a host that is not granted
        "PERMISSION DENIED (https): host `tracker.example.net` on port 443 over https is not granted",
        "run `yoi grant example.weather https:tracker.example.net`",
        // one model served by a provider plugin, streamed from the stand-in
        "route: example.openai-compat.chat",
        ">> Release 2.4: plugins can now serve models and observe the host.",
        "example.policy@0.1.0 model.pre_call: changed max_tokens",
        "chunks streamed by example.openai-compat.chat",
        // the observer totals every model call
        "example.usage-meter: ",
        "local-chat: 1 calls",
        "large-2: ",
        // the chat bridge: a frame in, a work item through the hooks, the
        // delivered answer out as a frame at the stand-in gateway
        "gateway -> bridge: ana in #ops asks \"Is billing healthy?\"",
        r#"bridge -> gateway: {"id":"c-1","type":"ack"}"#,
        "created a work item from example.chat-bridge/gateway: \"Is billing healthy?\"",
        r#"bridge -> gateway: {"channel":"ops","reply_to":"c-1","text":"Billing is up: 200 from status.internal.","type":"reply"}"#,
        // a forged webhook never reaches the plugin; a signed one does
        "-> HTTP/1.1 401 Unauthorized signature refused",
        "-> HTTP/1.1 202 Accepted {\"accepted\":true}",
        "created a work item from example.chat-bridge/webhook: \"Deploy 2.4 failed at step 3\"",
        "example.chat-bridge/webhook: running, 1 processed, 0 dropped, 0 refused, 1 bad signatures",
        // hook points beyond tools still run
        "-> not created: blocked by plugin example.policy",
        "[host.stop]",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

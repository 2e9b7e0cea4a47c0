//! A host built without the `https` or `fs` feature (`cargo test -p
//! yoi-host --no-default-features`, run by `cargo xtask ci`) still loads
//! plugins that import those APIs; their calls fail with what the embedder
//! has to enable, and are not recorded as the plugin's denials.

#[cfg(not(all(feature = "https", feature = "fs")))]
use serde_json::json;

#[cfg(not(all(feature = "https", feature = "fs")))]
use crate::grants::reach;

#[cfg(not(feature = "https"))]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn without_https_a_granted_request_fails_naming_the_feature() {
    let r = reach(&[], &["https:api.example.com"], |b| b);
    let (seen, outcome) = r
        .call("fetch", json!({"url": "https://api.example.com/v1"}))
        .await;
    assert_eq!(seen["error"], "failed", "{seen:#}");
    let message = seen["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("built without yoi-host's `https` feature"),
        "{message}"
    );
    let run = outcome.run.expect("the tool ran");
    assert!(run.denials.is_empty(), "{:#?}", run.denials);
}

#[cfg(not(feature = "fs"))]
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn without_fs_a_granted_read_fails_naming_the_feature() {
    let r = reach(&[], &["fs:notes:rw"], |b| b);
    let (seen, outcome) = r
        .call("file", json!({"op": "read", "path": "notes/a.md"}))
        .await;
    assert_eq!(seen["error"], "failed", "{seen:#}");
    let message = seen["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("built without yoi-host's `fs` feature"),
        "{message}"
    );
    assert!(outcome.run.expect("the tool ran").denials.is_empty());
}

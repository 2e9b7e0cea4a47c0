//! A host configured by yoi.toml over plugin folders: `session-memory`
//! and `boot-script` get exactly what the file grants, within its
//! capability list, and reloading the folders follows their changes.

use std::path::Path;

use serde_json::json;
use yoi_host::{Compacted, HookContext, Host, Prompt, Status};

use crate::example;

fn prompt() -> Prompt {
    Prompt {
        system_prompt: "You are the ops assistant.".into(),
        user_message: "hi".into(),
        agent_id: "ops".into(),
        work_item_id: "wi-1".into(),
    }
}

fn session(id: &str) -> HookContext {
    HookContext {
        session_id: Some(id.into()),
        ..HookContext::default()
    }
}

fn configured(root: &Path, capabilities: &str) -> Host {
    let text = format!(
        "[host]\ndata = \"data\"\nhot_reload = false\n\n\
         [plugins]\nfolders = [{:?}, {:?}]\n\n\
         [capabilities]\n{capabilities}\n\n\
         [grants]\n\"example.session-memory\" = \"requested\"\n\"example.boot-script\" = [\"fs:boot:ro\"]\n",
        example("session-memory").display().to_string(),
        example("boot-script").display().to_string(),
    );
    std::fs::write(root.join("yoi.toml"), text).expect("yoi.toml");
    Host::builder()
        .config(root.join("yoi.toml"))
        .expect("valid yoi.toml")
        .build()
        .expect("host")
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn session_memory_and_boot_script_run_from_folders_with_the_files_grants() {
    let root = tempfile::tempdir().expect("temp dir");
    let host = configured(root.path(), "allow = [\"fs:.:rw\"]");
    let report = host.boot_report().expect("the folders' report");
    assert_eq!(report.loaded.len(), 2, "{report:?}");
    let boot = root.path().join("data/example.boot-script/boot");
    std::fs::create_dir_all(&boot).expect("boot folder");
    std::fs::write(boot.join("instructions.md"), "Answer in English.\n").expect("instructions");

    let out = host.dispatch_in(&session("s-1"), prompt()).await;
    assert_eq!(
        out.data.system_prompt,
        "You are the ops assistant.\n\nAnswer in English."
    );
    let compacted = host
        .dispatch_in(
            &session("s-1"),
            Compacted {
                messages: json!([]),
                summary: "We planned the Oslo trip; the user prefers trains.".into(),
            },
        )
        .await;
    assert!(
        compacted.receipts.iter().all(|r| r.status == Status::Ok),
        "{:?}",
        compacted.receipts
    );
    let next = host.dispatch_in(&session("s-1"), prompt()).await;
    assert!(
        next.data.system_prompt.contains(
            "Earlier in this session: We planned the Oslo trip; the user prefers trains."
        ) && next.data.system_prompt.ends_with("Answer in English."),
        "memory first, the operator's words last: {}",
        next.data.system_prompt
    );
    let other = host.dispatch_in(&session("s-2"), prompt()).await;
    assert!(
        !other.data.system_prompt.contains("Earlier"),
        "{}",
        other.data.system_prompt
    );
    // Hostile session ids stay inside the granted folder.
    let evil = host
        .dispatch_in(
            &session("../../boot/instructions.md"),
            Compacted {
                messages: json!([]),
                summary: "overwritten?".into(),
            },
        )
        .await;
    assert!(evil.receipts.iter().all(|r| r.status == Status::Ok));
    assert_eq!(
        std::fs::read_to_string(boot.join("instructions.md")).expect("still there"),
        "Answer in English.\n"
    );
}

#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn the_capability_list_caps_what_the_file_grants() {
    let root = tempfile::tempdir().expect("temp dir");
    // session-memory asks for everything it requests, but only its own
    // folder is allowed; boot-script's explicit grant is not allowed at all.
    let host = configured(root.path(), "allow = [\"fs:sessions:rw\"]");
    let report = host.boot_report().expect("report");
    assert_eq!(report.loaded.len(), 1, "{report:?}");
    assert_eq!(report.loaded[0].id.as_str(), "example.session-memory");
    let refusal = &report.refused[0];
    assert_eq!(refusal.plugin, "example.boot-script");
    assert!(
        refusal.reason.contains("grant `fs:boot:ro`") && refusal.reason.contains("does not allow"),
        "{refusal:?}"
    );
    // An empty list (the default of a file without one) allows nothing:
    // "requested" then grants nothing, and the plugin's calls are denied.
    let bare = tempfile::tempdir().expect("temp dir");
    let host = configured(bare.path(), "");
    let report = host.boot_report().expect("report");
    let memory = report
        .loaded
        .iter()
        .find(|p| p.id.as_str() == "example.session-memory")
        .expect("loaded, with no grants");
    assert!(memory.grants.is_empty());
    let out = host
        .dispatch_in(
            &session("s-1"),
            Compacted {
                messages: json!([]),
                summary: "x".into(),
            },
        )
        .await;
    let receipt = &out.receipts[0];
    assert_eq!(receipt.status, Status::Error);
    assert_eq!(receipt.denials.len(), 1, "{receipt:?}");
}

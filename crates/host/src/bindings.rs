//! Host-side bindings of the `yoi:plugin@0.1.0` contract.

wasmtime::component::bindgen!({
    path: "../../wit/0.1.0",
    world: "yoi:plugin/plugin",
    imports: {
        // Host calls that wait: on the network, and on the filesystem
        // (which runs on a blocking thread the deadline can abandon).
        "yoi:plugin/https.send": async,
        "yoi:plugin/fs": async,
        // The embedder's secret source may be remote (a vault).
        "yoi:plugin/secrets": async,
    },
    exports: { default: async },
});

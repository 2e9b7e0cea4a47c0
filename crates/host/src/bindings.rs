//! Host-side bindings of the `yoi:plugin@0.1.0` contract.

wasmtime::component::bindgen!({
    path: "../../wit/0.1.0",
    world: "yoi:plugin/plugin",
    imports: {
        // The only host call that waits: on the network.
        "yoi:plugin/https.send": async,
    },
    exports: { default: async },
});

//! Host-side bindings of the `yoi:plugin@0.1.0` contract.

wasmtime::component::bindgen!({
    path: "../../wit/0.1.0",
    world: "yoi:plugin/hook-plugin",
    exports: { default: async },
});

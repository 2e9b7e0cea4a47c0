//! The floor Yoi's dispatch is measured against: the same guard component
//! run by wasmtime alone, the way wasmtime's own component examples do it
//! (`bindgen!`, a linker, instantiate, call), with nothing of Yoi's around
//! the call: no ordering, limits, deadline, receipt or change check.
//!
//! Guard imports WASI (its standard library does) and reads its settings
//! once per instance through `config.all`; the host functions here answer
//! with the manifest's defaults, as Yoi does for a plugin nobody
//! configured.

use wasmtime::component::{Component, HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bindings of the newest contract's WIT folder, the one the PDK builds the
/// guard against, picked from the contract table (`yoi_manifest`); the
/// braces hold further `bindgen!` settings.
macro_rules! newest_contract {
    (@ newest $path:literal { $($config:tt)* }) => {
        wasmtime::component::bindgen!({
            path: $path,
            world: "yoi:plugin/hook-plugin",
            $($config)*
        });
    };
    (@ $other:ident $path:literal $config:tt) => {};
    ($config:tt; $(
        $variant:ident $module:ident ($major:literal, $minor:literal, $patch:literal) $path:literal
        host_apis($apis:ident) exports($($surface:ident),*) $doc:literal;
    )*) => {
        $( newest_contract!(@ $apis $path $config); )*
    };
}

yoi_manifest::foreach_contract!(newest_contract, {});

use exports::yoi::plugin::tool_pre_exec;
use tool_pre_exec::{Outcome, ToolCall};
use yoi::plugin::{config, context, log};

/// A store's data: WASI (with nothing behind it) and a resource table.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl State {
    fn new() -> Self {
        Self {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl yoi::plugin::types::Host for State {}

impl log::Host for State {
    fn write(&mut self, _: log::Level, _: String, _: Vec<(String, String)>) {}
}

impl context::Host for State {
    fn current(&mut self) -> context::HookContext {
        context::HookContext {
            point: None,
            plugin_id: "example.guard".into(),
            work_item_id: None,
            run_id: None,
            agent_id: None,
            session_id: None,
            subject: None,
        }
    }
}

impl config::Host for State {
    fn get(&mut self, _: String) -> Result<Option<String>, config::ConfigError> {
        Ok(None)
    }
    fn all(&mut self) -> String {
        r#"{"deny":["shell","delete_file"]}"#.into()
    }
}

/// Links the three Yoi host APIs guard imports.
fn link_yoi(linker: &mut Linker<State>) {
    log::add_to_linker::<_, HasSelf<State>>(linker, |s| s).expect("log");
    context::add_to_linker::<_, HasSelf<State>>(linker, |s| s).expect("context");
    config::add_to_linker::<_, HasSelf<State>>(linker, |s| s).expect("config");
}

/// Guard, compiled and linked once; instances made from it.
pub struct Bare {
    engine: Engine,
    pre: InstancePre<State>,
    indices: tool_pre_exec::GuestIndices,
}

/// What boot costs wasmtime alone: compiling the component once, and
/// loading `n` copies of it precompiled (no digest check, no manifest, no
/// registry).
pub fn compile(wasm: &[u8]) -> Component {
    Component::new(&boot_engine(), wasm).expect("guard compiles")
}

/// Deserializes `n` precompiled copies of a component.
pub fn deserialize(precompiled: &[u8], n: usize) -> Vec<Component> {
    let engine = boot_engine();
    (0..n)
        // SAFETY: the bytes were made by `Component::serialize` with an
        // engine of the same configuration, in this process.
        .map(|_| unsafe { Component::deserialize(&engine, precompiled) }.expect("deserialize"))
        .collect()
}

/// The precompiled form of a component, for [`deserialize`].
pub fn precompile(wasm: &[u8]) -> Vec<u8> {
    compile(wasm).serialize().expect("serialize")
}

fn boot_engine() -> Engine {
    let mut config = Config::new();
    config.wasm_component_model(true);
    Engine::new(&config).expect("engine")
}

/// A warm instance: its store and its loaded export.
pub struct Warm {
    store: Store<State>,
    guest: tool_pre_exec::Guest,
}

impl Bare {
    /// Guard from its bytes; `pooling` sizes the pooling allocator for
    /// that many instances at once (the fresh-instance variant), else
    /// wasmtime's default on-demand allocator.
    pub fn new(wasm: &[u8], pooling: Option<u32>) -> Self {
        Self::with_epochs(wasm, pooling, false)
    }

    /// [`Bare::new`], with the epoch checks compiled in that Yoi needs to
    /// stop a guest at its deadline (a check at every function entry and
    /// loop back-edge), and a deadline far away.
    pub fn with_epochs(wasm: &[u8], pooling: Option<u32>, epochs: bool) -> Self {
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(epochs);
        if let Some(n) = pooling {
            let mut pool = PoolingAllocationConfig::new();
            pool.total_component_instances(n)
                .total_core_instances(n * 4)
                .total_memories(n * 2)
                .total_tables(n * 4)
                .total_stacks(n)
                .max_memory_size(64 << 20);
            // Tuned as Yoi tunes its pool (crates/host/src/builder.rs):
            // the pages an instance touched stay mapped for the next.
            pool.linear_memory_keep_resident(1 << 20)
                .table_keep_resident(1 << 20)
                .pagemap_scan(wasmtime::Enabled::Auto);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).expect("engine");
        let component = Component::new(&engine, wasm).expect("guard compiles");
        let mut linker = Linker::<State>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("wasi");
        link_yoi(&mut linker);
        let pre = linker.instantiate_pre(&component).expect("guard links");
        let indices = tool_pre_exec::GuestIndices::new(&pre).expect("guard exports the hook");
        Self {
            engine,
            pre,
            indices,
        }
    }

    /// A new instance in a new store.
    pub fn instance(&self) -> Warm {
        let mut store = Store::new(&self.engine, State::new());
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = self.pre.instantiate(&mut store).expect("instantiate");
        let guest = self.indices.load(&mut store, &instance).expect("export");
        Warm { store, guest }
    }

    /// Calls the hook in a warm instance.
    pub fn call(warm: &mut Warm, event: &ToolCall) -> Outcome {
        warm.guest
            .call_handle(&mut warm.store, event)
            .expect("no trap")
            .expect("guard answers")
    }

    /// A fresh instance per event: what per-event isolation costs without
    /// a plugin host around it.
    pub fn call_fresh(&self, event: &ToolCall) -> Outcome {
        Self::call(&mut self.instance(), event)
    }
}

/// The benchmark event in WIT form, with its input already as text (a bare
/// host that keeps JSON as text pays nothing to convert it).
pub fn wit_event(call: &yoi_host::ToolCall) -> ToolCall {
    ToolCall {
        tool_name: call.tool_name.clone(),
        input: serde_json::to_string(&call.input).expect("JSON"),
        call_id: call.call_id.clone(),
        turn: call.turn,
    }
}

/// The same floor with the call made the way an async host makes it: on a
/// fiber (`call_async`), polled by the caller's runtime.
pub mod asynchronous {
    use super::{Engine, InstancePre, Linker, State, Store};
    use wasmtime::component::Component;

    yoi_manifest::foreach_contract!(newest_contract, {
        exports: { default: async },
        with: {
            "yoi:plugin/types": super::yoi::plugin::types,
            "yoi:plugin/log": super::yoi::plugin::log,
            "yoi:plugin/context": super::yoi::plugin::context,
            "yoi:plugin/config": super::yoi::plugin::config,
        },
    });
    use exports::yoi::plugin::tool_pre_exec;

    /// Guard compiled and linked for async calls.
    pub struct BareAsync {
        engine: Engine,
        pre: InstancePre<State>,
        indices: tool_pre_exec::GuestIndices,
    }

    /// A warm instance for async calls.
    pub struct Warm {
        store: Store<State>,
        guest: tool_pre_exec::Guest,
    }

    impl BareAsync {
        /// Guard from its bytes, on wasmtime's default allocator.
        pub fn new(wasm: &[u8]) -> Self {
            let engine = Engine::default();
            let component = Component::new(&engine, wasm).expect("guard compiles");
            let mut linker = Linker::<State>::new(&engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
            super::link_yoi(&mut linker);
            let pre = linker.instantiate_pre(&component).expect("guard links");
            let indices = tool_pre_exec::GuestIndices::new(&pre).expect("hook export");
            Self {
                engine,
                pre,
                indices,
            }
        }

        /// A new instance in a new store.
        pub async fn instance(&self) -> Warm {
            let mut store = Store::new(&self.engine, State::new());
            let instance = self
                .pre
                .instantiate_async(&mut store)
                .await
                .expect("instantiate");
            let guest = self.indices.load(&mut store, &instance).expect("export");
            Warm { store, guest }
        }

        /// Calls the hook in a warm instance, on a fiber.
        pub async fn call(warm: &mut Warm, event: &super::ToolCall) -> tool_pre_exec::Outcome {
            warm.guest
                .call_handle(&mut warm.store, event)
                .await
                .expect("no trap")
                .expect("guard answers")
        }
    }
}

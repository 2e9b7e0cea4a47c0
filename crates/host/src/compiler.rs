//! Compiling a component in a child process: the compile a host gives up
//! on must really stop and give its memory back, and the compiler cannot be
//! cancelled from inside the process. With a worker set
//! ([`crate::HostBuilder::compile_worker`]), each compile runs in a child
//! that limits its own memory and CPU time before reading the component,
//! and the host kills it at the deadline; the compiled code comes back as
//! bytes and is loaded like a compile cache entry. `yoi` runs itself as
//! the worker. docs/hooks.md, "Compiling".
//!
//! The protocol: the host writes one JSON line ([`Request`]) and then the
//! component's bytes to the worker's standard input; the worker writes the
//! compiled code to standard output and exits 0, or writes why not to
//! standard error and exits 1.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Largest compiled code read back from a worker.
const MAX_OUTPUT: u64 = 1 << 30;
/// Largest error text read back from a worker.
const MAX_ERROR: u64 = 64 * 1024;
/// Largest component a worker reads.
const MAX_INPUT: u64 = yoi_manifest::MAX_ARTIFACT_BYTES;

/// The program that compiles for a host, and its arguments.
#[derive(Debug, Clone)]
pub(crate) struct Worker {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<std::ffi::OsString>,
}

/// What the host tells its worker before the component's bytes.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    /// The engine settings that shape compiled code: the worker's engine
    /// must match the host's, or the host refuses the result.
    memory_limit: usize,
    /// Most bytes of memory the worker may map.
    memory_bytes: u64,
    /// Most seconds of CPU time the worker may use.
    cpu_seconds: u64,
}

/// Compiles `artifact` in a child process; the compiled code, or why not.
/// The child is killed at `timeout`, and its memory with it.
pub(crate) fn compile_in_child(
    worker: &Worker,
    engine: &Engine,
    (memory_limit, memory_bytes): (usize, u64),
    artifact: &[u8],
    timeout: Duration,
) -> Result<Component, String> {
    let started = Instant::now();
    let mut child = Command::new(&worker.program)
        .args(&worker.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot start the compile worker {}: {e} (the host's setup, see HostBuilder::compile_worker)",
                worker.program.display()
            )
        })?;
    let request = Request {
        memory_limit,
        memory_bytes,
        // The compiler uses every core: CPU time runs that many times as
        // fast as the clock.
        cpu_seconds: (timeout.as_secs() + 1)
            .saturating_mul(std::thread::available_parallelism().map_or(1, |n| n.get() as u64)),
    };
    let mut header = serde_json::to_vec(&request).unwrap_or_default();
    header.push(b'\n');
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("the compile worker has no pipes".into());
    };
    let bytes = artifact.to_vec();
    // Each pipe on its own thread: a worker that stops reading or writes a
    // lot cannot block the host past the deadline.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&header);
        let _ = stdin.write_all(&bytes);
    });
    let output = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.take(MAX_OUTPUT + 1).read_to_end(&mut out);
        out
    });
    let errors = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stderr.take(MAX_ERROR).read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "compiling took longer than {} s; the compile was stopped and its memory \
                     freed. The component is too large to load on this host \
                     (HostBuilder::compile_limits)",
                    timeout.as_secs_f64()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the compile worker could not be waited for: {e}"));
            }
        }
    };
    let _ = writer.join();
    let code = output.join().unwrap_or_default();
    let why = errors.join().unwrap_or_default();
    if !status.success() {
        let why = why.trim();
        return Err(if why.is_empty() {
            format!(
                "the compile stopped ({status}): it ran out of the {} MiB of memory or the CPU \
                 time a compile may use (HostBuilder::compile_limits)",
                memory_bytes >> 20
            )
        } else {
            why.to_owned()
        });
    }
    if code.len() as u64 > MAX_OUTPUT {
        return Err("the compile worker wrote more than 1 GiB".into());
    }
    // SAFETY: the bytes are `Engine::precompile_component`'s output for an
    // engine configured as this one (the worker is this library, run by
    // the host's own program); wasmtime checks the header, version and
    // configuration before it maps the code.
    unsafe { Component::deserialize(engine, &code) }
        .map_err(|e| format!("the compile worker's code was refused by the engine: {e:#}"))
}

/// The worker's side: reads one [`Request`] and a component from standard
/// input, limits its own memory and CPU time, compiles, and writes the
/// compiled code to standard output. A program that hosts plugins calls it
/// when started as the worker (`yoi` does for `yoi __compile`).
pub fn compile_worker_main() -> ExitCode {
    match serve_request() {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            let _ = writeln!(std::io::stderr(), "{why}");
            ExitCode::from(1)
        }
    }
}

fn serve_request() -> Result<(), String> {
    let mut input = std::io::stdin().lock();
    let mut header = Vec::new();
    let mut byte = [0u8; 1];
    while header.len() < 4096 {
        match input.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => break,
            Ok(1) => header.push(byte[0]),
            _ => return Err("the compile request ended early".into()),
        }
    }
    let request: Request =
        serde_json::from_slice(&header).map_err(|e| format!("bad compile request: {e}"))?;
    limit_self(&request)?;
    let mut artifact = Vec::new();
    input
        .take(MAX_INPUT + 1)
        .read_to_end(&mut artifact)
        .map_err(|e| format!("reading the component: {e}"))?;
    if artifact.len() as u64 > MAX_INPUT {
        return Err("the component is larger than the artifact limit".into());
    }
    let engine = Engine::new(&engine_config(None, request.memory_limit))
        .map_err(|e| format!("the compile worker's engine: {e:#}"))?;
    let code = engine
        .precompile_component(&artifact)
        .map_err(|e| format!("{e:#}"))?;
    std::io::stdout()
        .lock()
        .write_all(&code)
        .map_err(|e| format!("writing the compiled code: {e}"))
}

/// The engine's configuration, the host's and its compile worker's alike
/// (compiled code must match the engine that runs it): the component model, epoch deadlines, the
/// stack cap, and the pooling allocator with room for `pool` instances
/// (`None`: on-demand) of memories up to `memory_limit`.
pub(crate) fn engine_config(pool: Option<u32>, memory_limit: usize) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(512 * 1024);
    if let Some(n) = pool {
        let mut pool = PoolingAllocationConfig::new();
        // Per component, the same bounds as the store's limits
        // (sandbox.rs); in total, room for Python and JavaScript
        // components, which hold a dozen core instances and several
        // tables each (Rust ones one or two).
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(8))
            .total_stacks(n)
            .max_core_instances_per_component(64)
            .max_memories_per_component(16)
            .max_tables_per_component(64)
            .max_memory_size(memory_limit)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT)
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Bytes of a pooled memory or table kept mapped when its instance ends:
/// with the kernel's dirty-page scan (`PAGEMAP_SCAN`, Linux 6.7), only the
/// pages the instance wrote are reset, by copying, instead of being
/// unmapped and faulted in again by the next instance (docs/BENCHMARKS.md,
/// "Per-event isolation").
const KEEP_RESIDENT: usize = 1 << 20;

/// The worker bounds itself before it reads a byte of the component: the
/// kernel stops it past its memory or CPU time, whatever the compiler does.
#[cfg(all(unix, feature = "fs"))]
fn limit_self(request: &Request) -> Result<(), String> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let limit = |resource, value: u64| {
        setrlimit(
            resource,
            Rlimit {
                current: Some(value),
                maximum: Some(value),
            },
        )
        .map_err(|e| format!("the compile worker cannot limit itself ({resource:?}): {e}"))
    };
    limit(Resource::As, request.memory_bytes)?;
    limit(Resource::Cpu, request.cpu_seconds)
}

/// Without `rustix` (a host built without `fs`) the worker is bounded by
/// the host's deadline alone.
#[cfg(not(all(unix, feature = "fs")))]
fn limit_self(_: &Request) -> Result<(), String> {
    Ok(())
}

//! Many calls at once: the host runs at most its limits of calls, per
//! plugin and in all, makes the rest wait their turn for a bounded time and
//! answers `busy` when the wait runs out. `busy` is the host's limit, not
//! the plugin's failure: the crash guard never counts it, so neither the
//! flooded plugin nor a fail-closed guard beside it is unloaded.

use std::time::Duration;

use serde_json::json;
use yoi_host::{Host, Status};

use super::{Probe, builder, call, example, load_all, probe, receipt_of};

/// 30 MiB held across host round trips (each lets other calls start), as a
/// plugin waiting on the network or the disk would.
const HEAVY: &str = "fetch #probe:alloc:30 #probe:yield:40 #probe:spin:1000000";

/// Peak resident memory of this test process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Sends `n` heavy dispatches at once and returns (probe ok, probe busy),
/// asserting that every one was answered and the guard always ran.
async fn flood(host: &Host, n: usize) -> (usize, usize) {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(
                async move { host.dispatch(call(HEAVY, json!({"url": "http://a"}))).await },
            )
        })
        .collect();
    let (mut ok, mut busy) = (0, 0);
    let all = async {
        for t in tasks {
            let out = t.await.expect("dispatch task");
            match receipt_of(&out, "flood.probe").status {
                Status::Ok => ok += 1,
                Status::Busy => busy += 1,
                other => panic!("the flooded plugin ended {other:?}: {:#?}", out.receipts),
            }
            let guard = receipt_of(&out, "example.guard");
            assert_eq!(guard.status, Status::Ok, "{guard:#?}");
        }
    };
    tokio::time::timeout(Duration::from_secs(300), all)
        .await
        .expect("every call is answered: no deadlock");
    (ok, busy)
}

type Flooded = (Host, tempfile::TempDir, tempfile::TempDir);

fn flooded(configure: impl FnOnce(yoi_host::HostBuilder) -> yoi_host::HostBuilder) -> Flooded {
    let pkg = probe(Probe {
        id: "flood.probe",
        timeout_ms: 10_000,
        ..Probe::default()
    });
    // The probe may stat its data root: its `yield` calls wait on the host.
    let manifest = pkg.path().join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        format!("{text}\n[capabilities]\nfs = [{{ path = \".\", mode = \"ro\" }}]\n"),
    )
    .expect("manifest");
    let data = tempfile::tempdir().expect("data dir");
    let host = configure(
        builder()
            .crash_guard(3, Duration::from_secs(300))
            .data_dir(data.path()),
    )
    .build()
    .expect("host");
    host.load_with_grants(pkg.path(), &["fs:.:ro"])
        .expect("probe loads");
    load_all(&host, &[&example("guard")]);
    (host, pkg, data)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_thousand_concurrent_calls_are_bounded_answered_and_spare_bystanders() {
    let (host, _pkg, _data) =
        flooded(|b| b.concurrency(16, 8).queue_wait(Duration::from_millis(20)));
    // `cargo xtask soak` repeats the flood for YOI_SOAK_SECS seconds.
    let soak = std::env::var("YOI_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let started = std::time::Instant::now();
    let (mut ok, mut busy, mut floods) = (0, 0, 0);
    loop {
        let (o, b) = flood(&host, 1000).await;
        assert_eq!(o + b, 1000);
        ok += o;
        busy += b;
        floods += 1;
        if soak.is_none_or(|d| started.elapsed() >= d) {
            break;
        }
    }
    let pressure = host.pressure();
    println!(
        "concurrency: {floods} floods of 1000 concurrent calls in {:.0} s: {ok} ran, {busy} busy, \
         peak {} running at once (limit {}), peak RSS {} MiB, every call answered, both plugins \
         still loaded",
        started.elapsed().as_secs_f64(),
        pressure.peak_running,
        pressure.limit,
        peak_rss() >> 20
    );
    assert!(ok > 0, "{pressure:?}");
    assert!(
        busy >= 3,
        "the flood should outrun a 20 ms wait ({busy} busy, {pressure:?})"
    );
    assert!(pressure.peak_running <= 16, "{pressure:?}");
    assert_eq!(pressure.busy as usize, busy);
    assert_eq!((pressure.running, pressure.waiting), (0, 0));
    // Busy is the host's limit: nobody was unloaded by the crash guard.
    let loaded: Vec<String> = host.plugins().iter().map(|p| p.id.to_string()).collect();
    assert_eq!(loaded, ["flood.probe", "example.guard"]);
    // 16 calls × 30 MiB at most, not 1000 × 30 MiB.
    let peak = peak_rss();
    assert!(peak < 3 << 30, "peak RSS {} MiB", peak >> 20);
    // The guard is fail-closed and still guards.
    let out = host.dispatch(call("shell", json!({"cmd": "ls"}))).await;
    assert!(out.is_blocked(), "{:#?}", out.receipts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_full_instance_pool_evicts_idle_instances_and_never_counts_against_plugins() {
    // 10 slots: calls are clamped to 10, and warm instances of both plugins
    // compete for the rest.
    let (host, _pkg, _data) = flooded(|b| {
        b.pooling_allocator(10)
            .concurrency(64, 8)
            .queue_wait(Duration::from_millis(20))
    });
    let (ok, busy) = flood(&host, 300).await;
    let pressure = host.pressure();
    assert_eq!(ok + busy, 300);
    assert!(ok > 0);
    assert!(pressure.peak_running <= 10, "{pressure:?}");
    assert_eq!(host.plugins().len(), 2, "nobody unloaded: {pressure:?}");
}

/// Time a call waits for a slot is the host's: once it starts it gets its
/// whole limit. A handler that needs half its limit, behind others doing
/// the same on one slot, ends `ok` (or `busy` when the wait runs out),
/// never `timeout`, and the crash guard never counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn waiting_for_a_slot_never_eats_into_a_calls_own_time_limit() {
    let pkg = probe(Probe {
        id: "patient.probe",
        timeout_ms: 600,
        ..Probe::default()
    });
    let host = builder()
        .crash_guard(2, Duration::from_secs(300))
        .concurrency(1, 1)
        .queue_wait(Duration::from_secs(2))
        .build()
        .expect("host");
    host.load(pkg.path()).expect("probe loads");
    // Spin long enough to take about half the limit on this machine.
    // Aim at 300 ms; a run outside 200..450 ms (a busy machine) is scaled
    // toward it and tried again.
    let mut spin = 2_000_000u64;
    let mut took = Duration::ZERO;
    for _ in 0..10 {
        let out = host
            .dispatch(call(&format!("#probe:spin:{spin}"), json!({})))
            .await;
        let r = receipt_of(&out, "patient.probe");
        assert_eq!(r.status, Status::Ok, "{r:#?}");
        took = r.duration;
        if (Duration::from_millis(200)..Duration::from_millis(450)).contains(&took) {
            break;
        }
        let scale = 0.3 / took.as_secs_f64().max(0.001);
        spin = ((spin as f64) * scale.clamp(0.2, 50.0)) as u64;
    }
    assert!(
        (Duration::from_millis(200)..Duration::from_millis(550)).contains(&took),
        "calibration: {spin} spins took {took:?}"
    );
    // Four at once on one slot: the last waits about three calls' time,
    // more than its own limit minus its run.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let host = host.clone();
            let command = format!("#probe:spin:{spin}");
            tokio::spawn(async move { host.dispatch(call(&command, json!({}))).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let out = t.await.expect("dispatch");
        let r = receipt_of(&out, "patient.probe");
        match r.status {
            Status::Ok => ok += 1,
            Status::Busy => {}
            other => panic!("waiting made the call end {other:?}: {r:#?}"),
        }
    }
    assert!(ok >= 3, "{ok} of 4 ran");
    let loaded: Vec<String> = host.plugins().iter().map(|p| p.id.to_string()).collect();
    assert_eq!(
        loaded,
        ["patient.probe"],
        "the crash guard never counted the wait"
    );
}

/// A probe package that asks for `memory_mb` in `[limits]`.
fn probe_asking(memory_mb: u32) -> tempfile::TempDir {
    let pkg = probe(Probe {
        id: "capped.probe",
        ..Probe::default()
    });
    let manifest = pkg.path().join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    std::fs::write(
        &manifest,
        format!("{text}\n[limits]\nmemory_mb = {memory_mb}\n"),
    )
    .expect("manifest");
    pkg
}

/// Whether holding `mib` MiB in the capped probe traps.
async fn traps_holding(host: &Host, mib: u32) -> bool {
    let out = host
        .dispatch(call(&format!("#probe:alloc:{mib}"), json!({})))
        .await;
    match receipt_of(&out, "capped.probe").status {
        Status::Ok => false,
        Status::Error => true,
        other => panic!("{other:?}: {:#?}", out.receipts),
    }
}

/// The memory a plugin gets is the smaller of what its `[limits]
/// memory_mb` asks and what the host allows (`memory_limit`, or
/// `yoi.toml`'s `limits.memory_mb`): each side's cap holds.
#[tokio::test]
#[ignore = "needs the example components: run `cargo xtask e2e`"]
async fn a_plugins_memory_is_the_smaller_of_its_request_and_the_hosts_limit() {
    // The plugin asks for 8 MiB on a roomy host: 16 MiB traps, 2 fits.
    let pkg = probe_asking(8);
    let host = builder().build().expect("host");
    host.load(pkg.path()).expect("loads");
    assert!(!traps_holding(&host, 2).await);
    assert!(traps_holding(&host, 16).await, "the plugin's own cap");

    // It asks for 64 MiB; the host allows 8: 16 MiB traps.
    let pkg = probe_asking(64);
    let host = builder().memory_limit(8 << 20).build().expect("host");
    host.load(pkg.path()).expect("loads");
    assert!(!traps_holding(&host, 2).await);
    assert!(traps_holding(&host, 16).await, "the host's cap");

    // The same cap from yoi.toml's [limits].
    let dir = tempfile::tempdir().expect("config dir");
    let file = dir.path().join("yoi.toml");
    std::fs::write(&file, "[limits]\nmemory_mb = 8\n").expect("yoi.toml");
    let config = yoi_host::HostConfig::load(&file).expect("yoi.toml parses");
    let host = builder().apply(&config).build().expect("host");
    host.load(pkg.path()).expect("loads");
    assert!(!traps_holding(&host, 2).await);
    assert!(traps_holding(&host, 16).await, "yoi.toml's cap");
    // And without any cap, 16 MiB fits: the traps above are the caps'.
    let host = builder().build().expect("host");
    host.load(pkg.path()).expect("loads");
    assert!(!traps_holding(&host, 16).await);
}

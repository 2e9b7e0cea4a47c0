//! Runs a hook point's chain: ordering, time limits, fail modes, change and
//! block rights, receipts.

use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};
use yoi_manifest::FailMode;

use crate::events::{GuestOutcome, Point};
use crate::host::Host;
use crate::plugin::LoadedPlugin;
use crate::receipt::{Blocked, Dispatch, LogLine, Receipt, Status, clean};
use crate::sandbox::PluginState;

/// Longest error text kept in a receipt.
const MAX_DETAIL: usize = 2048;

/// How one handler's run ended, before the point's rights are applied.
enum Run<W> {
    Answer(GuestOutcome<W>),
    Failed(Status, String),
}

pub(crate) async fn run_chain<P: Point>(host: &Host, event: P) -> Dispatch<P> {
    let started = Instant::now();
    let mut data = event;
    let mut blocked = None;
    let mut receipts = Vec::new();

    for (plugin, hook) in host.chain(P::POINT) {
        let left = host.chain_budget().saturating_sub(started.elapsed());
        let limit = Duration::from_millis(u64::from(hook.timeout_ms)).min(left);
        let t0 = Instant::now();
        let (run, logs) = if limit.is_zero() {
            let why = format!(
                "not run: the chain budget of {} ms was used up",
                host.chain_budget().as_millis()
            );
            (Run::Failed(Status::Timeout, why), Vec::new())
        } else {
            invoke::<P>(host, plugin, limit, data.to_wit()).await
        };

        let mut receipt = Receipt {
            plugin: plugin.info.id.clone(),
            version: plugin.info.version.clone(),
            point: P::POINT,
            status: Status::Ok,
            changed: Vec::new(),
            detail: None,
            duration: Duration::ZERO,
            logs,
        };
        let mut stop = false;
        match run {
            Run::Answer(GuestOutcome::Continue) => {}
            Run::Answer(GuestOutcome::Change(changed)) => match data.accept_change(changed) {
                Ok((next, fields)) => {
                    data = next;
                    receipt.changed = fields;
                }
                Err(why) => {
                    receipt.status = Status::RejectedChange;
                    receipt.detail = Some(format!("{why}; the change was ignored"));
                }
            },
            Run::Answer(GuestOutcome::Block(reason)) if P::CAN_BLOCK => {
                let reason = clean(&reason, MAX_DETAIL);
                receipt.status = Status::Blocked;
                receipt.detail = Some(reason.clone());
                blocked = Some(Blocked {
                    plugin: plugin.info.id.clone(),
                    reason,
                });
                stop = true;
            }
            Run::Answer(GuestOutcome::Block(_)) => {
                receipt.status = Status::RejectedChange;
                receipt.detail = Some(format!("{} may not block; the block was ignored", P::POINT));
            }
            Run::Failed(status, why) => {
                receipt.status = status;
                receipt.detail = Some(why.clone());
                if hook.fail == FailMode::Closed {
                    stop = true;
                    if P::CAN_BLOCK {
                        blocked = Some(Blocked {
                            plugin: plugin.info.id.clone(),
                            reason: format!("the plugin failed and its hook is fail-closed: {why}"),
                        });
                    }
                }
            }
        }
        receipt.duration = t0.elapsed();
        tracing::debug!(
            plugin = %receipt.plugin, point = %P::POINT, status = ?receipt.status,
            duration_ms = receipt.duration.as_secs_f64() * 1000.0, "hook handler finished"
        );
        receipts.push(receipt);
        if stop {
            break;
        }
    }

    Dispatch {
        data,
        blocked,
        receipts,
    }
}

/// Runs one handler in a fresh instance with its memory cap and time limit.
async fn invoke<P: Point>(
    host: &Host,
    plugin: &LoadedPlugin,
    limit: Duration,
    event: P::Wit,
) -> (Run<P::Wit>, Vec<LogLine>) {
    let mut store = Store::new(
        host.engine(),
        PluginState::new(plugin.name.clone(), plugin.memory_limit),
    );
    store.limiter(|s| &mut s.limits);
    let tick = Host::epoch_tick();
    let ticks = limit.as_nanos().div_ceil(tick.as_nanos()) + 1;
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    store.epoch_deadline_trap();

    // The epoch deadline covers instantiation too (a start function may loop).
    // Every import linked today returns at once, so the deadline inside wasm
    // is the whole time limit; async host APIs will need a timer as well.
    let answer = async {
        let instance = plugin.pre.instantiate_async(&mut store).await?;
        P::call(&mut store, &instance, &plugin.exports, event).await
    }
    .await;
    let run = match answer {
        Err(e) if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) => Run::Failed(
            Status::Timeout,
            format!("stopped after its time limit of {} ms", limit.as_millis()),
        ),
        Err(e) => Run::Failed(Status::Error, clean(&format!("trapped: {e:#}"), MAX_DETAIL)),
        Ok(Err(message)) => Run::Failed(
            Status::Error,
            clean(&format!("handler returned an error: {message}"), MAX_DETAIL),
        ),
        Ok(Ok(outcome)) => Run::Answer(outcome),
    };
    // The store is dropped here: a trapped or timed-out instance is never reused.
    (run, store.data_mut().take_logs())
}

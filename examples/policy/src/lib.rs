//! Policy: a team's house rules for an agent, one hook point at a time.
//!
//! - `work_item.pre_create`: trims titles; refuses work items without one.
//! - `run.pre_prompt`: appends the house rules to the system prompt.
//! - `model.pre_call`: keeps to approved models and caps `max_tokens`.
//! - `model.post_call`: warns when one call costs more than the budget.
//! - `context.post_compact`: marks summaries so readers know they are one.
//! - `host.start` / `host.stop`: logs the host it runs in.

use yoi_pdk::prelude::*;

/// Appended to every system prompt.
const HOUSE_RULES: &str = "House rules: cite sources; never print credentials.";
/// Models a run may call.
const APPROVED_MODELS: &[&str] = &["small-1", "large-2", "local-chat"];
/// Largest `max_tokens` a run may ask for.
const MAX_TOKENS: u32 = 1024;
/// Cost of one model call above which a warning is logged, in US dollars.
const CALL_BUDGET_USD: f64 = 0.05;

struct Policy;

impl Plugin for Policy {
    fn work_item_pre_create(mut item: NewWorkItem) -> HookResult<NewWorkItem> {
        let title = item.title.trim();
        if title.is_empty() {
            return Ok(Outcome::block("a work item needs a title"));
        }
        if title.len() == item.title.len() {
            return Ok(Outcome::Continue);
        }
        item.title = title.to_owned();
        Ok(Outcome::change(item))
    }

    fn run_pre_prompt(mut prompt: Prompt) -> HookResult<Prompt> {
        if prompt.system_prompt.contains(HOUSE_RULES) {
            return Ok(Outcome::Continue);
        }
        prompt.system_prompt = format!("{}\n\n{HOUSE_RULES}", prompt.system_prompt.trim_end());
        Ok(Outcome::change(prompt))
    }

    fn model_pre_call(mut call: ModelCall) -> HookResult<ModelCall> {
        if !APPROVED_MODELS.contains(&call.model.as_str()) {
            return Ok(Outcome::block(format!(
                "model `{}` is not approved; use one of: {}",
                call.model,
                APPROVED_MODELS.join(", ")
            )));
        }
        match call.max_tokens {
            Some(n) if n <= MAX_TOKENS => Ok(Outcome::Continue),
            _ => {
                call.max_tokens = Some(MAX_TOKENS);
                Ok(Outcome::change(call))
            }
        }
    }

    fn model_post_call(response: ModelResponse) -> HookResult<ModelResponse> {
        if response.cost_usd > CALL_BUDGET_USD {
            log::write(
                log::Level::Warn,
                "model call over budget",
                &[
                    ("cost_usd", &format!("{:.4}", response.cost_usd)),
                    ("model", &response.model),
                ],
            );
        }
        Ok(Outcome::Continue)
    }

    fn context_post_compact(mut compacted: Compacted) -> HookResult<Compacted> {
        if compacted.summary.starts_with("[summary] ") {
            return Ok(Outcome::Continue);
        }
        compacted.summary = format!("[summary] {}", compacted.summary);
        Ok(Outcome::change(compacted))
    }

    fn host_start(host: HostInfo) -> HookResult<HostInfo> {
        log::info(&format!("policy active in {} {}", host.name, host.version));
        Ok(Outcome::Continue)
    }

    fn host_stop(host: HostInfo) -> HookResult<HostInfo> {
        log::info(&format!("policy stopping with {}", host.name));
        Ok(Outcome::Continue)
    }
}

yoi_pdk::register!(
    Policy => work_item_pre_create, run_pre_prompt, model_pre_call, model_post_call,
    context_post_compact, host_start, host_stop
);

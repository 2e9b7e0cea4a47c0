//! The table of hook points: one row per point, and every list the host
//! keeps of them is derived from it (the event types and their rights in
//! `hookevents`, the export lookups per contract version in `exports`, JSON
//! dispatch in `dispatch`). A test checks the table against the manifest's
//! `HookPoint`, the WIT, the JSON schema, the PDK and docs/hooks.md.
//!
//! Per row: the event struct the embedder passes, its `HookPoint` variant,
//! its WIT record, the WIT interface (as a Rust module name), whether a
//! plugin may block it, and per field `change` (a plugin may change it) or
//! `fixed`. `foreach_hook_point!(m)` calls `m!` with every row;
//! `foreach_hook_point!(m, [tokens])` puts `[tokens];` before them (the
//! contract table, for the export lookups of every version).

macro_rules! foreach_hook_point {
    ($m:ident $(, $extra:tt)?) => {
        $m! {
            $($extra;)?
            /// `work_item.pre_create`: a work item about to be created. Plugins may
            /// change `title`, `payload` and `session_key`, or block (the item is not
            /// created).
            NewWorkItem = WorkItemPreCreate, NewWorkItem, work_item_pre_create, block: true {
                /// Title.
                change title: String,
                /// The item's payload.
                change payload: Value,
                /// The session the item belongs to.
                change session_key: String,
                /// Where the item came from (a channel, a schedule, an API client).
                fixed source: String,
                /// The host instance creating it.
                fixed instance: String,
            }

            /// `work_item.post_create`: a work item that was created. Read-only.
            CreatedWorkItem = WorkItemPostCreate, CreatedWorkItem, work_item_post_create, block: false {
                /// The new item's id.
                fixed id: String,
                /// Title.
                fixed title: String,
                /// Payload.
                fixed payload: Value,
                /// Session key.
                fixed session_key: String,
                /// Where the item came from.
                fixed source: String,
            }

            /// `run.pre_prompt`: an agent run's prompt before the first model call.
            /// Plugins may change `system_prompt` and `user_message`; may not block.
            Prompt = RunPrePrompt, Prompt, run_pre_prompt, block: false {
                /// The system prompt.
                change system_prompt: String,
                /// The user's message.
                change user_message: String,
                /// The agent running.
                fixed agent_id: String,
                /// The work item the run is for.
                fixed work_item_id: String,
            }

            /// `model.pre_call`: a model call about to be made. Plugins may change
            /// `model`, `temperature` and `max_tokens`, or block (the call is skipped
            /// and the agent loop ends).
            ModelCall = ModelPreCall, ModelCall, model_pre_call, block: true {
                /// Model name.
                change model: String,
                /// Sampling temperature, if set.
                change temperature: Option<f64>,
                /// Most tokens to generate, if set.
                change max_tokens: Option<u32>,
                /// The conversation so far (a JSON array of messages).
                fixed messages: Value,
                /// The tools offered to the model (a JSON array).
                fixed tools: Value,
                /// The model turn, counting from 0.
                fixed turn: u32,
            }

            /// `model.post_call`: what a model call returned. Read-only.
            ModelResponse = ModelPostCall, ModelResponse, model_post_call, block: false {
                /// The provider's response message.
                fixed response: Value,
                /// Model name.
                fixed model: String,
                /// The model turn, counting from 0.
                fixed turn: u32,
                /// How long the call took, in milliseconds.
                fixed duration_ms: u64,
                /// Prompt tokens used.
                fixed input_tokens: u64,
                /// Completion tokens used.
                fixed output_tokens: u64,
                /// Cost in US dollars.
                fixed cost_usd: f64,
            }

            /// `tool.pre_exec`: a tool call the model asked for, before it runs.
            /// Plugins may change `input`, or block (do not run the tool; give the
            /// model [`Blocked::message`](crate::Blocked::message) instead).
            ToolCall = ToolPreExec, ToolCall, tool_pre_exec, block: true {
                /// Name of the tool as the model sees it.
                fixed tool_name: String,
                /// The tool's input.
                change input: Value,
                /// Identifier of this call, unique within the run.
                fixed call_id: String,
                /// The model turn (from 0) that asked for the call.
                fixed turn: u32,
            }

            /// `tool.post_exec`: a tool call that has run, with its result. Plugins
            /// may change `output`; may not block.
            ToolResult = ToolPostExec, ToolResult, tool_post_exec, block: false {
                /// Name of the tool as the model sees it.
                fixed tool_name: String,
                /// The input the tool ran with.
                fixed input: Value,
                /// What the tool returned, as the model will see it.
                change output: String,
                /// How long the tool took, in milliseconds.
                fixed duration_ms: u64,
                /// The model turn (from 0) that asked for the call.
                fixed turn: u32,
            }

            /// `tool.result_persist`: a tool result about to be stored in the
            /// history. Plugins may change `result`; may not block.
            PersistResult = ToolResultPersist, PersistResult, tool_result_persist, block: false {
                /// Name of the tool.
                fixed tool_name: String,
                /// Identifier of the call.
                fixed call_id: String,
                /// The result as it will be stored.
                change result: String,
            }

            /// `response.pre_deliver`: a response about to be delivered. Plugins may
            /// change `content`, or block (delivery is suppressed).
            Delivery = ResponsePreDeliver, Delivery, response_pre_deliver, block: true {
                /// The content.
                change content: String,
                /// Where it goes.
                fixed channel: String,
                /// The work item it answers.
                fixed work_item_id: String,
                /// Streaming chunk or final response.
                fixed mode: DeliveryMode,
            }

            /// `response.post_deliver`: a response that was delivered, or failed to
            /// be. Read-only.
            Delivered = ResponsePostDeliver, Delivered, response_post_deliver, block: false {
                /// The content that was sent.
                fixed content: String,
                /// Where it went.
                fixed channel: String,
                /// Whether delivery succeeded.
                fixed ok: bool,
                /// The channel's answer or error, in words.
                fixed detail: String,
            }

            /// `context.pre_compact`: the conversation is about to be compacted.
            /// Read-only.
            Compaction = ContextPreCompact, Compaction, context_pre_compact, block: false {
                /// The messages to be compacted (a JSON array).
                fixed messages: Value,
            }

            /// `context.post_compact`: the conversation was compacted. Plugins may
            /// change `summary`; may not block.
            Compacted = ContextPostCompact, Compacted, context_post_compact, block: false {
                /// The messages that were compacted (a JSON array).
                fixed messages: Value,
                /// The summary that replaces them.
                change summary: String,
            }

            /// `host.start`: the host started. Read-only.
            HostStart = HostStart, HostInfo, host_start, block: false {
                /// The embedding application's name.
                fixed name: String,
                /// Its version.
                fixed version: String,
                /// This running instance (a hostname, a pod name).
                fixed instance: String,
            }

            /// `host.stop`: the host is stopping. Read-only.
            HostStop = HostStop, HostInfo, host_stop, block: false {
                /// The embedding application's name.
                fixed name: String,
                /// Its version.
                fixed version: String,
                /// This running instance.
                fixed instance: String,
            }
        }
    };
}

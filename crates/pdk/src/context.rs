//! The hook context: which point runs, which plugin is called, and the ids
//! the embedder knows for the event. The host keeps it for every call;
//! [`context`] asks for it, so a plugin that never looks pays nothing.

/// Who and what the running call is about: the hook point (`None` while a
/// tool runs), this plugin's id, and the embedder's ids (work item, run,
/// agent, session, rollout subject), each `None` when the host does not
/// know it.
///
/// ```no_run
/// use yoi_pdk::prelude::*;
///
/// struct PerAgent;
///
/// impl Plugin for PerAgent {
///     fn tool_pre_exec(call: ToolCall) -> HookResult<ToolCall> {
///         if context().agent_id.as_deref() == Some("intern") && call.tool_name == "deploy" {
///             return Ok(Outcome::block("interns may not deploy"));
///         }
///         Ok(Outcome::Continue)
///     }
/// }
/// yoi_pdk::register!(PerAgent => tool_pre_exec);
/// ```
pub use crate::__private::base::yoi::plugin::context::HookContext;

/// The context of the call running now (a hook handler or a tool). One host
/// call; the answer does not change during the call.
pub fn context() -> HookContext {
    crate::__private::base::yoi::plugin::context::current()
}

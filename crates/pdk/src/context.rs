//! The hook context: which point runs, which plugin is called, and the ids
//! the embedder knows for the event. The host passes it with every event;
//! [`context`] hands it to the handler that is running.

use std::cell::RefCell;

/// Who and what the running event is about: the hook point, this plugin's
/// id, and the embedder's ids (work item, run, agent, session, rollout
/// subject), each `None` when the host does not know it.
///
/// ```no_run
/// use yoi_pdk::prelude::*;
///
/// struct PerAgent;
///
/// impl Plugin for PerAgent {
///     fn tool_pre_exec(call: ToolCall) -> HookResult<ToolCall> {
///         let agent = context().and_then(|c| c.agent_id);
///         if agent.as_deref() == Some("intern") && call.tool_name == "deploy" {
///             return Ok(Outcome::block("interns may not deploy"));
///         }
///         Ok(Outcome::Continue)
///     }
/// }
/// yoi_pdk::register!(PerAgent => tool_pre_exec);
/// ```
pub use crate::__private::base::yoi::plugin::types::HookContext;

thread_local! {
    static CURRENT: RefCell<Option<HookContext>> = const { RefCell::new(None) };
}

/// The context of the hook handler running now; `None` outside a hook
/// handler (in a tool, for example).
pub fn context() -> Option<HookContext> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Holds the context for the length of one handler call.
pub(crate) struct Scope;

impl Scope {
    pub(crate) fn enter(context: HookContext) -> Scope {
        CURRENT.with(|c| *c.borrow_mut() = Some(context));
        Scope
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

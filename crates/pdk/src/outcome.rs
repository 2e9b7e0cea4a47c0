/// What a hook handler decided about an event.
///
/// `E` is the point's event type ([`crate::ToolCall`], [`crate::ToolResult`], ...).
///
/// ```
/// use yoi_pdk::prelude::*;
///
/// fn decide(mut call: ToolCall) -> HookResult<ToolCall> {
///     match call.tool_name.as_str() {
///         "shell" => Ok(Outcome::block("no shell")),
///         "fetch" => {
///             call.set_input(&json::json!({"url": "https://example.com"}))?;
///             Ok(Outcome::change(call))
///         }
///         _ => Ok(Outcome::Continue),
///     }
/// }
/// # let call = ToolCall { tool_name: "shell".into(), input: "{}".into(), call_id: "c".into(), turn: 0 };
/// # assert_eq!(decide(call).unwrap(), Outcome::block("no shell"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<E> {
    /// Let the event through unchanged.
    Continue,
    /// Let the event through as changed here. The host keeps only the fields
    /// the hook point allows a plugin to change and rejects the rest.
    Change(E),
    /// Stop the event, with a reason shown to the user or the model.
    /// Only some hook points may block; see each [`crate::Plugin`] method.
    Block(String),
}

impl<E> Outcome<E> {
    /// Blocks the event with this reason.
    pub fn block(reason: impl Into<String>) -> Self {
        Outcome::Block(reason.into())
    }

    /// Lets the event through as changed.
    pub fn change(event: E) -> Self {
        Outcome::Change(event)
    }

    pub(crate) fn into_wit<W>(
        self,
        cont: W,
        change: impl FnOnce(E) -> W,
        block: impl FnOnce(String) -> W,
    ) -> W {
        match self {
            Outcome::Continue => cont,
            Outcome::Change(event) => change(event),
            Outcome::Block(reason) => block(reason),
        }
    }
}

/// What a hook handler returns: an [`Outcome`] or an [`Error`](crate::Error).
pub type HookResult<E> = Result<Outcome<E>, crate::Error>;

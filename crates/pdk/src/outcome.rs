/// What a hook handler decided about an event.
///
/// `E` is the point's event type ([`crate::ToolCall`], [`crate::ToolResult`], ...).
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

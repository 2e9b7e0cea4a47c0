//! Session memory: when a session's conversation is compacted
//! (`context.post_compact`), keeps its summary in `sessions/` of the
//! plugin's data root; when the session's next run starts
//! (`run.pre_prompt`), adds it to the system prompt. The session is the
//! hook context's `session_id`; without one, nothing is kept.

use yoi_pdk::prelude::*;

struct SessionMemory;

/// The file of the running call's session, if it has one. The id comes
/// from the embedder: only letters, digits, `-` and `_` of it reach the
/// file name, and a hash of the whole keeps distinct ids apart.
fn file() -> Option<String> {
    let id = context().session_id?;
    let readable: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(48)
        .collect();
    // FNV-1a: stable, and enough to tell sessions apart.
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Some(format!("sessions/{readable}-{hash:016x}.txt"))
}

impl Plugin for SessionMemory {
    fn context_post_compact(compacted: Compacted) -> HookResult<Compacted> {
        let Some(path) = file() else {
            return Ok(Outcome::Continue);
        };
        let max: usize = config::get("max_chars")?.unwrap_or(2000);
        let summary: String = compacted.summary.trim().chars().take(max).collect();
        fs::create_dir("sessions")?;
        fs::write(&path, summary)?;
        Ok(Outcome::Continue)
    }

    fn run_pre_prompt(mut prompt: Prompt) -> HookResult<Prompt> {
        let Some(path) = file() else {
            return Ok(Outcome::Continue);
        };
        let summary = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(Error::NotFound(_)) => return Ok(Outcome::Continue),
            Err(e) => return Err(e),
        };
        if summary.trim().is_empty() {
            return Ok(Outcome::Continue);
        }
        prompt.system_prompt = format!(
            "{}\n\nEarlier in this session: {}",
            prompt.system_prompt.trim_end(),
            summary.trim()
        );
        Ok(Outcome::change(prompt))
    }
}

yoi_pdk::register!(SessionMemory => run_pre_prompt, context_post_compact);

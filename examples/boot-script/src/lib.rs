//! Boot script: appends the operator's standing instructions to every
//! run's system prompt. The operator writes them in
//! `boot/instructions.md` of the plugin's data root; the plugin may only
//! read that folder (`fs:boot:ro`). No file, no change.

use yoi_pdk::prelude::*;

struct BootScript;

impl Plugin for BootScript {
    fn run_pre_prompt(mut prompt: Prompt) -> HookResult<Prompt> {
        let file: String = config::get("file")?.unwrap_or_else(|| "boot/instructions.md".into());
        let max: usize = config::get("max_chars")?.unwrap_or(8000);
        let text = match fs::read_to_string(&file) {
            Ok(text) => text,
            Err(Error::NotFound(_)) => return Ok(Outcome::Continue),
            Err(e) => return Err(e),
        };
        let text: String = text.trim().chars().take(max).collect();
        if text.is_empty() || prompt.system_prompt.contains(&text) {
            return Ok(Outcome::Continue);
        }
        prompt.system_prompt = format!("{}\n\n{text}", prompt.system_prompt.trim_end());
        Ok(Outcome::change(prompt))
    }
}

yoi_pdk::register!(BootScript => run_pre_prompt);

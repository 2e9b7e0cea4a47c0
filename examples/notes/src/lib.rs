//! Notes: tools that keep Markdown notes in the plugin's data root, through
//! the host's `fs` API. The plugin is granted `notes` read-write and
//! nothing else.

use serde::Deserialize;
use yoi_pdk::prelude::*;

const FOLDER: &str = "notes";

#[derive(Deserialize)]
struct NewNote {
    title: String,
    text: String,
}

#[derive(Deserialize)]
struct Title {
    title: String,
}

#[derive(Deserialize)]
struct Nothing {}

/// The file a title is stored in. The title is the model's text: it is
/// turned into a plain file name here, and whatever it contains, the host
/// still keeps every path inside the grant.
fn file_of(title: &str) -> String {
    let slug: String = title
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    format!(
        "{FOLDER}/{}.md",
        if slug.is_empty() { "untitled" } else { slug }
    )
}

fn add_note(note: NewNote) -> Result<String, Error> {
    let path = file_of(&note.title);
    fs::write(&path, format!("# {}\n\n{}\n", note.title.trim(), note.text))?;
    Ok(format!("saved `{}` as {path}", note.title.trim()))
}

fn read_note(input: Title) -> Result<String, Error> {
    match fs::read_to_string(&file_of(&input.title)) {
        Ok(text) => Ok(text),
        Err(Error::NotFound(_)) => Ok(format!("there is no note titled `{}`", input.title)),
        Err(e) => Err(e),
    }
}

fn list_notes(_: Nothing) -> Result<String, Error> {
    let entries = match fs::list_dir(FOLDER) {
        Ok(entries) => entries,
        Err(Error::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let lines: Vec<String> = entries
        .iter()
        .filter(|e| e.kind == fs::EntryKind::File)
        .map(|e| format!("{} ({} bytes)", e.name.trim_end_matches(".md"), e.size))
        .collect();
    Ok(if lines.is_empty() {
        "no notes yet".to_owned()
    } else {
        lines.join("\n")
    })
}

yoi_pdk::register!(tools: add_note, read_note, list_notes);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_become_plain_file_names() {
        assert_eq!(file_of("Shopping list"), "notes/shopping-list.md");
        assert_eq!(file_of("../../etc/passwd"), "notes/etc-passwd.md");
        assert_eq!(file_of("  ?? "), "notes/untitled.md");
    }
}

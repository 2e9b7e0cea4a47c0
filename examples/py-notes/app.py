"""Notes, in Python: tools that keep Markdown notes in the plugin's data
root, through the host's `fs` API. The plugin is granted `notes`
read-write and nothing else."""

import yoi

FOLDER = "notes"


def file_of(title):
    """The file a title is stored in. The title is the model's text: it is
    turned into a plain file name here, and whatever it contains, the host
    still keeps every path inside the grant."""
    slug = "".join(c.lower() if c.isalnum() else "-" for c in title.strip()).strip("-")
    return f"{FOLDER}/{slug or 'untitled'}.md"


def add_note(title, text):
    path = file_of(title)
    yoi.fs.write(path, f"# {title.strip()}\n\n{text}\n")
    return f"saved `{title.strip()}` as {path}"


def read_note(title):
    try:
        return yoi.fs.read_text(file_of(title))
    except yoi.NotFound:
        return f"there is no note titled `{title}`"


def list_notes():
    try:
        entries = yoi.fs.list_dir(FOLDER)
    except yoi.NotFound:
        entries = []
    lines = [
        f"{e.name.removesuffix('.md')} ({e.size} bytes)"
        for e in entries
        if e.kind == yoi.fs.EntryKind.FILE
    ]
    return "\n".join(lines) if lines else "no notes yet"

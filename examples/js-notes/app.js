// Notes, in JavaScript: tools that keep Markdown notes in the plugin's data
// root, through the host's `fs` API. The plugin is granted `notes`
// read-write and nothing else.

import { ApiError, fs } from './yoi.js';

const FOLDER = 'notes';

// A letter (of any script: it has a case) or a digit.
const isAlnum = (c) => /[0-9]/.test(c) || c.toLowerCase() !== c.toUpperCase();

// The file a title is stored in. The title is the model's text: it is
// turned into a plain file name here, and whatever it contains, the host
// still keeps every path inside the grant.
function fileOf(title) {
  const slug = [...title.trim()]
    .map((c) => (isAlnum(c) ? c.toLowerCase() : '-'))
    .join('')
    .replace(/^-+|-+$/g, '');
  return `${FOLDER}/${slug || 'untitled'}.md`;
}

const notFound = (e) => e instanceof ApiError && e.kind === 'not-found';

export function add_note({ title, text }) {
  const path = fileOf(title);
  fs.write(path, `# ${title.trim()}\n\n${text}\n`);
  return `saved \`${title.trim()}\` as ${path}`;
}

export function read_note({ title }) {
  try {
    return fs.readText(fileOf(title));
  } catch (e) {
    if (notFound(e)) return `there is no note titled \`${title}\``;
    throw e;
  }
}

export function list_notes() {
  let entries = [];
  try {
    entries = fs.listDir(FOLDER);
  } catch (e) {
    if (!notFound(e)) throw e;
  }
  const lines = entries
    .filter((e) => e.kind === 'file')
    .map((e) => `${e.name.replace(/\.md$/, '')} (${e.size} bytes)`);
  return lines.length ? lines.join('\n') : 'no notes yet';
}

// Redact, in JavaScript: masks secrets (API keys such as `sk-...` and
// `password=...` values) in tool output, stored results and responses.
// The rules are the `patterns` setting in plugin.toml's [config], written as
// for the Rust example: a leading `(?i)` means case-insensitive and `${1}`
// keeps the first group.

import { CONTINUE, change, config, log } from './yoi.js';

// The settings are fixed for an instance's life: compile them once.
let rules;

function compiled() {
  if (!rules) {
    rules = config.get('patterns', []).map(({ pattern, replace }, i) => {
      const caseless = pattern.startsWith('(?i)');
      try {
        return {
          re: new RegExp(caseless ? pattern.slice(4) : pattern, caseless ? 'gi' : 'g'),
          replace: replace.replace(/\$\{(\d+)\}/g, '$$$1'),
        };
      } catch (e) {
        throw new Error(`patterns[${i}] \`${pattern}\` is not a regular expression: ${e.message}`);
      }
    });
  }
  return rules;
}

// The text with every rule applied, and how many matches were masked.
export function mask(text) {
  let masked = text;
  let count = 0;
  for (const { re, replace } of compiled()) {
    count += (masked.match(re) || []).length;
    masked = masked.replace(re, replace);
  }
  // Already-masked text matches the patterns too; it is not a new secret.
  return masked === text ? [masked, 0] : [masked, count];
}

function masked(event, what, field) {
  const [text, count] = mask(event[field]);
  if (count === 0) return CONTINUE;
  log.info(`masked secrets in ${what}`, { count });
  return change({ ...event, [field]: text });
}

export const toolPostExec = (result) => masked(result, 'tool output', 'output');
export const toolResultPersist = (persist) => masked(persist, 'stored result', 'result');
export const responsePreDeliver = (delivery) => masked(delivery, 'response', 'content');

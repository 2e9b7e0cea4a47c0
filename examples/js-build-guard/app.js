// Build guard in JavaScript: handles `build.pre_compile`, a point the host
// declares itself (contract 0.6.0). The event is an object with the host's
// field names; a change is the whole event, of which the host lets only
// `flags` and `build_id` differ.
import { block, change, CONTINUE, log } from './yoi.js';

const FORBIDDEN = ['--insecure', '-fno-stack-protector'];

export function hostHook(point, event) {
  if (point !== 'build.pre_compile') return CONTINUE;
  const flag = event.flags.find((f) => FORBIDDEN.includes(f));
  if (flag) return block(`${flag} is not allowed in builds of ${event.target} (JavaScript)`);
  if (event.build_id !== undefined) return CONTINUE;
  log.info('stamping the build', { target: event.target });
  return change({ ...event, build_id: `js-${event.target}` });
}

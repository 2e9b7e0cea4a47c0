import { block, CONTINUE } from './yoi.js';

export function toolPreExec(call) {
  if (call.toolName === 'shell') return block('shell access is disabled');
  return CONTINUE;
}

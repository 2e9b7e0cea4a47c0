// The yoi-host package as an ES module: the same classes as index.js.
import yoi from './index.js';

export const { Host, HostBuilder, CompletionStream, YoiError, hookDeclarations } = yoi;
export default yoi;

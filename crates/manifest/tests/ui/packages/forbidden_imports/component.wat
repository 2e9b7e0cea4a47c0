(component
  (import "wasi:filesystem/types@0.2.6" (instance))
  (import "wasi:sockets/tcp@0.2.6" (instance))
  (import "wasi:cli/stdout@0.3.0" (instance))
  (instance $hook)
  (export "yoi:plugin/tool-pre-exec@0.1.0" (instance $hook))
)

(component
  (import "yoi:plugin/log@0.1.0" (instance))
  (import "wasi:cli/stdout@0.2.6" (instance))
  (instance $hook)
  (export "yoi:plugin/tool-pre-exec@0.1.0" (instance $hook))
)

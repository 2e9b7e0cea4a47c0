(component
  (instance $hook)
  (export "yoi:plugin/tool-pre-exec@0.1.0" (instance $hook))
  (export "yoi:plugin/tools@0.1.0" (instance $hook))
)

(module (func (export "handle")))

;; Traps at once (WASM_TRAP).
(module
  (memory (export "memory") 1)
  (func (export "_start") (unreachable)))

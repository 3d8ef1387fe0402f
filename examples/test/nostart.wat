;; Not a WASI command: no _start export (WASM_INVALID).
(module
  (memory (export "memory") 1)
  (func (export "main")))

;; Asks for 1 GiB at start: refused before it runs (WASM_MEMORY).
(module
  (memory (export "memory") 16384)
  (func (export "_start")))

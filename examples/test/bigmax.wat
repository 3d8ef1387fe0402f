;; Small start, but declares a 4 GiB maximum: refused before it runs (WASM_MEMORY).
(module
  (memory (export "memory") 1 65536)
  (func (export "_start")))
